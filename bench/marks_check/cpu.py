"""The check's CPU with settings alternated in one process (issue 19, 2026-12-07 #4, H3).

Every ``--step``-th cached upload's candidate lists (``cands.py collect``) are checked with :func:`search.verify`
once per setting in turn, ``--rounds`` times, each pass timed with ``time.thread_time`` (the process's own
thread, so other processes' load counts less than in wall time; still not a speed figure on a loaded machine)::

    python bench/marks_check/cpu.py C.pkl DIR --values V.json --setting "" --setting "CHROMA_COLOUR=6" [--step 8] [--rounds 3]

A setting is a space-separated list of ``NAME=VALUE`` constants of ``signals/marks/search.py`` ("" = as committed).
"""

from __future__ import annotations

import argparse
import ast
import glob
import json
import pickle
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from ncii_shield.signals.marks import search as S  # noqa: E402
from ncii_shield.signals.marks import template as T  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cands")
    parser.add_argument("dir")
    parser.add_argument("--values", required=True)
    parser.add_argument("--setting", action="append", required=True)
    parser.add_argument("--step", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    values = {int(v[1]): v[0] for v in json.loads(Path(args.values).read_text())}
    cands = pickle.load(open(args.cands, "rb"))["cands"]
    prepared: dict[int, S.Prepared] = {}
    jobs = []
    for n, path in enumerate(sorted(glob.glob(str(Path(args.dir) / "*.pkl")))):
        if n % args.step:
            continue
        data = pickle.load(open(path, "rb"))
        for kind in ("pos", "neg"):
            for k, r in enumerate(data[kind]):
                frame = S.UploadFrame.from_rgb(r["rgb"])
                for i, box, _ in cands.get((n, kind, k), []):
                    if i not in prepared:
                        prepared[i] = S.Prepared.of(T.decode(values[i]))
                        _ = prepared[i].complexity, prepared[i].chroma
                    jobs.append((prepared[i], frame, tuple(box)))
    defaults = {name: getattr(S, name) for s in args.setting for name in (kv.split("=")[0] for kv in s.split())}
    times: dict[str, list[float]] = {s: [] for s in args.setting}
    for _ in range(args.rounds):
        for s in args.setting:
            for name, value in defaults.items():
                setattr(S, name, value)
            for kv in s.split():
                name, value = kv.split("=", 1)
                setattr(S, name, type(defaults[name])(ast.literal_eval(value)))
            t0 = time.thread_time()
            for p, frame, box in jobs:
                S.verify(p, frame, box)
            times[s].append(time.thread_time() - t0)
    print(f"{len(jobs)} checks, {args.rounds} rounds, settings alternated")
    for s, t in times.items():
        print(f"{s or '(committed)':40s} ms a check: median {1000 * statistics.median(t) / len(jobs):.3f}"
              f"  passes {', '.join(f'{1000 * x / len(jobs):.3f}' for x in t)}")


if __name__ == "__main__":
    main()
