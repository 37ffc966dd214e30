"""The check's results of two code trees compared bit for bit on cached candidates (issue 19, 2026-12-07 #5, HB).

``dump`` checks every ``--step``-th cached upload's candidates (``cands.py collect``) with :func:`search.verify` of
the tree it runs from (and, with ``--inspect``, :func:`search.inspect`) and writes every result; ``compare`` says
how many differ and shows the first ones::

    python bench/marks_check/hb_same.py dump C.pkl DIR --values V.json --out A.pkl [--step 8]   # from tree A
    python bench/marks_check/hb_same.py dump C.pkl DIR --values V.json --out B.pkl [--step 8]   # from tree B
    python bench/marks_check/hb_same.py compare A.pkl B.pkl
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

import hb_profile  # noqa: E402

from ncii_shield.signals.marks import search as S  # noqa: E402


def dump(args) -> None:
    uploads = hb_profile.jobs_of(args.cands, args.dir, args.values, args.step)
    out = []
    t0 = time.thread_time()
    for key, jobs in uploads:
        for p, frame, box in jobs:
            out.append((key, box, S.verify(p, frame, box)))
    cpu = time.thread_time() - t0
    if args.inspect:
        for key, jobs in uploads:
            for p, frame, box in jobs:
                out.append((key, box, repr(S.inspect(p, frame, box))))
    with open(args.out, "wb") as f:
        pickle.dump(out, f)
    print(f"{len(out)} results, {1000 * cpu / max(1, len(out)):.3f} ms a check (thread CPU, verify only)")


def compare(args) -> None:
    a, b = (pickle.load(open(p, "rb")) for p in (args.a, args.b))
    assert len(a) == len(b), (len(a), len(b))
    differ = [(x, y) for x, y in zip(a, b) if x != y]
    print(f"{len(a)} results, {len(differ)} differ")
    for x, y in differ[:20]:
        print(x, "\n  ->", y)
    if differ:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump")
    d.add_argument("cands")
    d.add_argument("dir")
    d.add_argument("--values", required=True)
    d.add_argument("--out", required=True)
    d.add_argument("--step", type=int, default=8)
    d.add_argument("--inspect", action="store_true", help="inspect()'s measurements too")
    c = sub.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    args = parser.parse_args()
    {"dump": dump, "compare": compare}[args.command](args)


if __name__ == "__main__":
    main()
