"""Where an upload's CPU goes in the marks check, by function (issue 19, 2026-12-07 #7, HA).

Every cached upload of ``bench/marks_cached.py cache`` (every ``--step``-th photo, positives and negatives) goes
through ``UploadFrame.from_rgb`` and ``MarkIndex._checked`` on one thread (``OVERLAP`` off, ``CHECK_THREADS`` 1,
faiss on one thread); the named functions are wrapped and their thread CPU (``time.thread_time``, inclusive: a
function called inside another counts in both) summed per upload. Prints per function the median and mean ms an
upload and the calls an upload, then the upload's total::

    python bench/marks_check/ha_stages.py DIR --values V.json [--step 8] [--limit N] [--set NAME=VALUE ...]
"""

from __future__ import annotations

import argparse
import glob
import json
import pickle
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

import marks_bench as MB  # noqa: E402
from ncii_shield.index import marks as IM  # noqa: E402
from ncii_shield.signals.marks import describe as D  # noqa: E402
from ncii_shield.signals.marks import features as F  # noqa: E402
from ncii_shield.signals.marks import locate as L  # noqa: E402
from ncii_shield.signals.marks import search as S  # noqa: E402

T: dict[str, float] = {}
N: dict[str, int] = {}
WRAPPED = [  # (owner, attribute, label)
    (S.UploadFrame, "from_rgb", "frame"),
    (S, "upload_keypoints", "keypoints (ORB)"),
    (IM.MarkIndex, "_candidates", "candidate stage"),
    (IM.MarkIndex, "_votes", "  votes (faiss search + grouping)"),
    (IM.MarkIndex, "_extents", "  extents (blobs, layers, views, their naming)"),
    (L, "proposals", "    edge blobs (locate.proposals)"),
    (L, "layer_boxes", "    colour layers (locate.layer_boxes)"),
    (L, "view_boxes", "    views' own blobs (locate.view_boxes)"),
    (D, "projected", "    views' projection (describe.projected)"),
    (D.FieldPyramid, "__init__", "    pyramids' levels (FieldPyramid.__init__)"),
    (D.FieldPyramid, "_made", "    pyramids' integrals (FieldPyramid._made)"),
    (IM.MarkIndex, "_named", "    all naming (_named)"),
    (IM, "_windows", "      windows (_windows)"),
    (D.Descriptors, "best_two", "      best_two (describe + faiss IP)"),
    (D, "refine", "      refine"),
    (D.FieldPyramid, "describe", "      describe (all callers)"),
    (IM.MarkIndex, "_located", "  located (incl. vote boxes' naming)"),
    (D.Descriptors, "scores", "  own-mark scores (vote windows)"),
    (L, "_boxes", "findContours + boxes (locate._boxes)"),
    (L, "join_parts", "join_parts"),
    (IM, "verify", "checks (search.verify)"),
]


def _wrap(owner, name: str, label: str) -> None:
    f = owner.__dict__[name]
    static = isinstance(f, staticmethod)
    cls = isinstance(f, classmethod)
    raw = f.__func__ if (static or cls) else f

    def timed(*a, **k):
        t = time.thread_time()
        try:
            return raw(*a, **k)
        finally:
            T[label] = T.get(label, 0.0) + time.thread_time() - t
            N[label] = N.get(label, 0) + 1

    setattr(owner, name, classmethod(timed) if cls else staticmethod(timed) if static else timed)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dir")
    p.add_argument("--values", required=True)
    p.add_argument("--step", type=int, default=8)
    p.add_argument("--limit", type=int, default=0, help="at most N photos (after --step)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE")
    a = p.parse_args()
    import faiss

    faiss.omp_set_num_threads(1)
    MB.apply_settings(a.set)
    IM.OVERLAP, IM.CHECK_THREADS = False, 1
    index = MB.built_index([tuple(v) for v in json.loads(Path(a.values).read_text())])
    for owner, name, label in WRAPPED:
        _wrap(owner, name, label)
    paths = sorted(glob.glob(str(Path(a.dir) / "*.pkl")))[::a.step]
    if a.limit:
        paths = paths[:a.limit]
    per: dict[str, list[float]] = {label: [] for *_, label in WRAPPED}
    calls: dict[str, list[int]] = {label: [] for *_, label in WRAPPED}
    total: list[float] = []
    first = True
    for path in paths:
        data = pickle.load(open(path, "rb"))
        for r in data["pos"] + data["neg"]:
            T.clear()
            N.clear()
            t = time.thread_time()
            frame = S.UploadFrame.from_rgb(r["rgb"])
            index._checked(frame, None, IM.CANDIDATES)
            if first:  # numba's kernels loaded on the first upload
                first = False
                continue
            total.append(1000 * (time.thread_time() - t))
            for label in per:
                per[label].append(1000 * T.get(label, 0.0))
                calls[label].append(N.get(label, 0))
    print(f"{len(total)} uploads ({len(paths)} photos), ms of thread CPU an upload (inclusive), one thread")
    print(f"{'':55s} {'median':>7s} {'mean':>7s} {'calls':>6s}")
    for label in per:
        print(f"{label:55s} {statistics.median(per[label]):7.1f} {statistics.mean(per[label]):7.1f} "
              f"{statistics.mean(calls[label]):6.1f}")
    print(f"{'upload (frame + keypoints + candidates + checks)':55s} {statistics.median(total):7.1f} "
          f"{statistics.mean(total):7.1f}")


if __name__ == "__main__":
    main()
