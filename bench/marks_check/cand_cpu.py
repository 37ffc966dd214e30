"""The candidate stage's CPU, settings alternated upload by upload in one process (issue 19, 2026-12-07 #5, HA).

On the cached uploads of ``bench/marks_cached.py cache`` (every ``--step``-th photo, its positives and negatives),
each upload goes through ``MarkIndex._candidates`` (keypoints, their search, the edge blobs, colour layers, chroma
views and their naming: the whole candidate stage, no checks) once per setting, in a rotated order, each time from
a fresh frame (so the keypoints are made each time). CPU: the process's (``time.process_time``: the stage runs on
the calling thread and the pool thread), so nothing else may run in the process. Settings: ``NAME=VALUE ...`` of
``index/marks.py`` or ``describe.`` / ``locate.`` / ``search.`` / ``features.`` constants, as ``marks_bench.py --set``::

    python bench/marks_check/cand_cpu.py DIR --values V.json --setting "" --setting "VIEW_LAYERS=False" [--step 8] [--rounds 2]

Prints per setting the median and mean ms an upload and the median of the paired differences against the first.
"""

from __future__ import annotations

import argparse
import glob
import importlib
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
from ncii_shield.signals.marks.search import UploadFrame  # noqa: E402


def _targets(setting: str) -> list[tuple[object, str, object]]:
    import ast

    out = []
    for item in setting.split():
        name, value = item.split("=", 1)
        module = IM
        if "." in name:
            prefix, name = name.split(".", 1)
            module = importlib.import_module(f"ncii_shield.signals.marks.{prefix}")
        out.append((module, name, type(getattr(module, name))(ast.literal_eval(value))))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dir")
    p.add_argument("--values", required=True)
    p.add_argument("--setting", action="append", required=True)
    p.add_argument("--step", type=int, default=8)
    p.add_argument("--rounds", type=int, default=2)
    a = p.parse_args()
    import faiss

    faiss.omp_set_num_threads(1)
    index = MB.built_index([tuple(v) for v in json.loads(Path(a.values).read_text())])
    base = {}
    settings = [_targets(s) for s in a.setting]
    for s in settings:
        for module, name, _ in s:
            base[(module, name)] = getattr(module, name)
    uploads = []
    for path in sorted(glob.glob(str(Path(a.dir) / "*.pkl")))[::a.step]:
        data = pickle.load(open(path, "rb"))
        uploads += [r["rgb"] for r in data["pos"] + data["neg"]]
    cpu: list[list[float]] = [[] for _ in settings]
    for rnd in range(a.rounds):
        for u, rgb in enumerate(uploads):
            n = len(settings)
            for j in [(u + rnd + i) % n for i in range(n)]:
                for (module, name), value in base.items():
                    setattr(module, name, value)
                for module, name, value in settings[j]:
                    setattr(module, name, value)
                frame = UploadFrame.from_rgb(rgb)
                c0 = time.process_time()
                index._candidates(frame, None, IM.CANDIDATES)
                cpu[j].append(1000 * (time.process_time() - c0))
        print(f"round {rnd + 1} done", file=sys.stderr)
    print(f"\n{len(uploads)} uploads x {a.rounds} rounds")
    for s, c in zip(a.setting, cpu):
        diff = [x - y for x, y in zip(c, cpu[0])]
        print(f"{s or '(committed)':50s} median {statistics.median(c):7.1f} ms  mean {statistics.mean(c):7.1f}  "
              f"paired median diff {statistics.median(diff):+6.1f}  mean diff {statistics.mean(diff):+6.1f}")


if __name__ == "__main__":
    main()
