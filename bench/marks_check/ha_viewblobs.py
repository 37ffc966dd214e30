"""The chroma views' own blobs (locate.view_boxes) at the targets no candidate reaches (issue 19, 2026-12-07 #6, HA).

For each row of ``why_missed.py run`` (W.pkl) of a coloured mark: the view boxes of the mark's chroma view, named
in that view by its marks (``MarkIndex._named``, not refined), and whether a window fitting the stamped box names the
stamped mark clearly (``why_missed._naming``, the layers' bar); per negative of every ``--neg-step``-th photo, the
windows named clearly there (what would reach the check)::

    python bench/marks_check/ha_viewblobs.py W.pkl /tmp/mk/all --values V.json [--set locate.NAME=VALUE ...] [--neg-step 8]
"""

from __future__ import annotations

import argparse
import glob
import json
import pickle
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

import marks_bench as MB  # noqa: E402
import why_missed as W  # noqa: E402
from ncii_shield.index import marks as IM  # noqa: E402
from ncii_shield.signals.marks import describe as D  # noqa: E402
from ncii_shield.signals.marks import locate as L  # noqa: E402
from ncii_shield.signals.marks.search import UploadFrame  # noqa: E402


def main() -> None:
    import faiss

    p = argparse.ArgumentParser()
    p.add_argument("rows")
    p.add_argument("dir")
    p.add_argument("--values", required=True)
    p.add_argument("--set", action="append")
    p.add_argument("--neg-step", type=int, default=8)
    a = p.parse_args()
    faiss.omp_set_num_threads(1)
    MB.apply_settings(a.set)
    index = MB.built_index([tuple(v) for v in json.loads(Path(a.values).read_text())])
    chroma = dict(index._chroma_names())
    rows = pickle.load(open(a.rows, "rb"))["rows"]
    files = sorted(glob.glob(str(Path(a.dir) / "*.pkl")))
    counts, res, nbox = Counter(), [], []
    for r in rows:
        if r["axis"] is None:
            counts["no chroma view"] += 1
            continue
        n, _, k = r["key"]
        rgb = pickle.load(open(files[n], "rb"))["pos"][k]["rgb"]
        frame = UploadFrame.from_rgb(rgb)
        stamped = [tuple(r["stamped"])]
        proj = D.projected(frame.rgb, index._axes[r["axis"]])
        boxes = L.view_boxes(proj)
        nbox.append(len(boxes))
        seen = D.FieldPyramid(proj, IM.VIEW_SKIP)
        named = index._named(boxes, seen, chroma[r["axis"]], 0)
        got = W._naming(named, chroma[r["axis"]], seen, r["mark"], stamped, IM.LAYERS_MIN_VALUE)
        near = W._nearest(boxes[np.maximum(boxes[:, 2], boxes[:, 3]) >= IM.LOCATE_MIN_SIDE], stamped)
        state = ("no fitting" if not got or not got.get("fitting") else "clear" if got["clear"] else
                 "best" if got["best"] else "other best")
        counts[state] += 1
        res.append((r["photo"], r["mark"], r["reason"][:20], state, near and (near["iou"], near["size"]),
                    got and (got.get("value"), got.get("lead"))))
    for x in res:
        print(*x)
    print(dict(counts), "view boxes median", np.median(nbox) if nbox else None)
    # negatives: the windows named clearly in each view (look-alikes that would reach the check)
    clear, t0, ups = [], time.process_time(), 0
    for path in files[:: a.neg_step]:
        for r in pickle.load(open(path, "rb"))["neg"]:
            frame = UploadFrame.from_rgb(r["rgb"])
            ups += 1
            for ax, names in chroma.items():
                proj = D.projected(frame.rgb, index._axes[ax])
                seen = D.FieldPyramid(proj, IM.VIEW_SKIP)
                for kk, (top, rws, win) in index._named(L.view_boxes(proj), seen, names, 0).items():
                    ok = (top[:, 0] >= IM.LAYERS_MIN_VALUE) & (~np.isfinite(top[:, 1]) | (top[:, 0] - top[:, 1] >= IM.LOCATE_MIN_LEAD))
                    clear += [(r["photo"], int(names.ids[kk][rws[i, 0]]), round(float(top[i, 0]), 3)) for i in np.flatnonzero(ok)]
    print("negatives", ups, "clear windows", len(clear), "on", len({c[0] for c in clear}), "photos", sorted(clear, key=lambda c: -c[2])[:10])


if __name__ == "__main__":
    main()
