"""The candidate stage's CPU with the exact speed-ups of 2026-12-07 #7 (HA) against the code before them, alternated
upload by upload in one process, and their candidate lists compared (issue 19).

Each speed-up's old path is in tests/unit/signals/_marks_reference.py (or a one-line swap here); ``old`` swaps
every one of them back, ``new`` is the code as it stands. Every cached upload (every ``--step``-th photo of
``bench/marks_cached.py cache``, positives and negatives) goes through ``MarkIndex._candidates`` (the whole candidate
stage: keypoints, their search, the edge blobs, colour layers, chroma views and their naming; ``OVERLAP`` as set, so
on two threads) once per variant in a rotated order, from a fresh frame each time; CPU: the process's
(``time.process_time``). The candidate lists (places and located, mark ids and boxes) of the variants must be equal,
upload by upload::

    python bench/marks_check/ha_alt.py DIR --values V.json [--step 8] [--offset 0] [--rounds 2] [--whole]
        [--old VOTES_MEANWHILE=False] [--variant sets --variant new]
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
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/unit/signals/_marks_reference.py

import marks_bench as MB  # noqa: E402
from ncii_shield.index import marks as IM  # noqa: E402
from ncii_shield.signals.marks import describe as D  # noqa: E402
from ncii_shield.signals.marks import locate as L  # noqa: E402
from ncii_shield.signals.marks.search import UploadFrame  # noqa: E402
from tests.unit.signals import _marks_reference as R  # noqa: E402  (the code before the speed-ups)

NEW = {}  # (module, name) -> the code's own value


def _old_patches() -> list[tuple[object, str, object]]:
    """(module, name, value) putting back the code of HEAD 6afead8 where this session's speed-ups changed it."""
    out = [(L, "colour_labels", R.colour_labels_numpy), (L, "join_parts", R.join_parts_numpy),
           (D, "_chosen", R.chosen_loops), (L, "proposals", R.proposals_loops)]
    if "in place" in (D.projected.__doc__ or ""):  # the view's 128 added to a new array, as before
        out.append((D, "projected", lambda rgb, axis: D.S.projected(rgb, axis.reshape(1, 3)) + 128.0))
    out.append((L, "_rects", R.rects_numpy))
    if hasattr(L, "edge_strengths"):
        out.append((L, "edge_strengths", lambda rgb: None))  # blobs and layers make their own
    for name in getattr(IM, "_OLD_PATHS", ()):  # switches the index module keeps for this comparison
        out.append((IM, name, False))
    for name in getattr(D, "_OLD_PATHS", ()):
        out.append((D, name, False))
    for name in getattr(L, "_OLD_PATHS", ()):
        out.append((L, name, False))
    return out


SETS: list[tuple[object, str, object]] = []  # --old NAME=VALUE: constants the "old" and "sets" variants set too


def _sets(items: list[str]) -> list[tuple[object, str, object]]:
    import ast
    import importlib

    out = []
    for item in items:
        name, value = item.split("=", 1)
        module = IM
        if "." in name:
            prefix, name = name.split(".", 1)
            module = importlib.import_module(f"ncii_shield.signals.marks.{prefix}")
        out.append((module, name, type(getattr(module, name))(ast.literal_eval(value))))
    return out


VARIANTS = {"new": lambda: [], "old": lambda: _old_patches() + SETS, "sets": lambda: list(SETS)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dir")
    p.add_argument("--values", required=True)
    p.add_argument("--step", type=int, default=8)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--variant", action="append", choices=sorted(VARIANTS),
                   help="old: every old path (and --old); sets: only the --old constants; new: the code as it stands")
    p.add_argument("--old", action="append", default=[], metavar="NAME=VALUE",
                   help="a constant of index/marks.py (or describe. / locate. ...) as the old code had it, e.g. "
                   "VOTES_MEANWHILE=False")
    p.add_argument("--whole", action="store_true", help="the whole check (MarkIndex._checked: candidates and their "
                   "checks, as marks_bench.py times an upload, frame included) instead of the candidate stage; its "
                   "results compared")
    a = p.parse_args()
    import faiss

    faiss.omp_set_num_threads(1)
    names = a.variant or ["old", "new"]
    SETS.extend(_sets(a.old))
    index = MB.built_index([tuple(v) for v in json.loads(Path(a.values).read_text())])
    patches = {v: VARIANTS[v]() for v in names}
    for ps in patches.values():
        for module, name, _ in ps:
            NEW.setdefault((module, name), getattr(module, name))
    uploads = []
    for path in sorted(glob.glob(str(Path(a.dir) / "*.pkl")))[a.offset::a.step]:
        data = pickle.load(open(path, "rb"))
        uploads += [r["rgb"] for r in data["pos"] + data["neg"]]
    cpu: dict[str, list[float]] = {v: [] for v in names}
    wall: dict[str, list[float]] = {v: [] for v in names}
    differ = 0
    for rnd in range(a.rounds):
        for u, rgb in enumerate(uploads):
            got = {}
            for j in [(u + rnd + i) % len(names) for i in range(len(names))]:
                v = names[j]
                for (module, name), value in NEW.items():
                    setattr(module, name, value)
                for module, name, value in patches[v]:
                    setattr(module, name, value)
                c0, w0 = time.process_time(), time.perf_counter()
                frame = UploadFrame.from_rgb(rgb)
                if a.whole:
                    got[v] = index._checked(frame, None, IM.CANDIDATES)
                else:
                    got[v] = index._candidates(frame, None, IM.CANDIDATES)
                cpu[v].append(1000 * (time.process_time() - c0))
                wall[v].append(1000 * (time.perf_counter() - w0))
            if any(g != got[names[0]] for g in got.values()):
                differ += 1
        print(f"round {rnd + 1} done", file=sys.stderr)
    what = "results (score, mark, box)" if a.whole else "candidate lists"
    print(f"\n{len(uploads)} uploads x {a.rounds} rounds; {what} differing between variants: {differ}")
    base = cpu[names[0]]
    for v in names:
        c = cpu[v]
        diff = [x - y for x, y in zip(c, base)]
        print(f"{v:6s} median {statistics.median(c):7.1f} ms  mean {statistics.mean(c):7.1f}  paired median diff "
              f"{statistics.median(diff):+6.1f}  mean diff {statistics.mean(diff):+6.1f}  (vs {names[0]});  wall median "
              f"{statistics.median(wall[v]):7.1f} (loaded machine: not a latency)")


if __name__ == "__main__":
    main()
