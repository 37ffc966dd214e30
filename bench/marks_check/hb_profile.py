"""Where the marks check's time goes, on cached candidate lists (issue 19, 2026-12-07 #5, HB).

Every ``--step``-th cached upload's candidates (``cands.py collect``) are checked with :func:`search.verify` as
``cands.py check`` does; the script counts per upload how many checks there are, how many end after the wide
search (under ``WIDE_MIN``), how many reach the chroma view, the local chance model, the colour alignment, and
with ``--profile`` prints cProfile's top functions (cumulative and own time)::

    python bench/marks_check/hb_profile.py C.pkl DIR --values V.json [--step 8] [--profile] [--top 30]
"""

from __future__ import annotations

import argparse
import cProfile
import collections
import glob
import json
import pickle
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from ncii_shield.signals.marks import search as S  # noqa: E402
from ncii_shield.signals.marks import template as T  # noqa: E402


def jobs_of(cands_path: str, dirname: str, values_path: str, step: int):
    """[(upload key, [(prepared, frame, box), ...]), ...] for every ``step``-th cached upload file."""
    values = {int(v[1]): v[0] for v in json.loads(Path(values_path).read_text())}
    cands = pickle.load(open(cands_path, "rb"))["cands"]
    prepared: dict[int, S.Prepared] = {}
    out = []
    for n, path in enumerate(sorted(glob.glob(str(Path(dirname) / "*.pkl")))):
        if n % step:
            continue
        data = pickle.load(open(path, "rb"))
        for kind in ("pos", "neg"):
            for k, r in enumerate(data[kind]):
                if (n, kind, k) not in cands:
                    continue
                frame = S.UploadFrame.from_rgb(r["rgb"])
                jobs = []
                for i, box, _ in cands[(n, kind, k)]:
                    if i not in values:
                        continue
                    if i not in prepared:
                        prepared[i] = S.Prepared.of(T.decode(values[i]))
                        _ = prepared[i].complexity, prepared[i].chroma
                    jobs.append((prepared[i], frame, tuple(box)))
                out.append(((n, kind, k), jobs))
    return out


def counted(names: list[str]) -> collections.Counter:
    """Wrap search.py's functions ``names`` to count their calls (bench only)."""
    calls: collections.Counter = collections.Counter()
    for name in names:
        fn = getattr(S, name)

        def wrapper(*a, _fn=fn, _name=name, **k):
            calls[_name] += 1
            if _name == "_search":
                calls[f"_search side {a[3]}"] += 1
                calls[f"_search scales {len(a[4])}"] += 1
            if _name == "_decided":
                calls["_decided chroma" if a[3] is not None else "_decided colour"] += 1
            out = _fn(*a, **k)
            if _name == "_measured" and out is not None and out[3] is None:
                calls["_measured ended early (wide < WIDE_MIN or no evidence)"] += 1
            return out
        setattr(S, name, wrapper)
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cands")
    parser.add_argument("dir")
    parser.add_argument("--values", required=True)
    parser.add_argument("--step", type=int, default=8)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=35)
    args = parser.parse_args()
    uploads = jobs_of(args.cands, args.dir, args.values, args.step)
    checks = sum(len(j) for _, j in uploads)
    print(f"{len(uploads)} uploads, {checks} checks ({checks / max(1, len(uploads)):.2f} an upload)")
    for p, frame, box in uploads[0][1][:3]:  # warm-up
        S.verify(p, frame, box)
    t0 = time.thread_time()
    for _, jobs in uploads:
        for p, frame, box in jobs:
            S.verify(p, frame, box)
    t = time.thread_time() - t0
    print(f"plain: {1000 * t / checks:.3f} ms a check, {1000 * t / len(uploads):.1f} ms an upload (thread CPU)")
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        for _, jobs in uploads:
            for p, frame, box in jobs:
                S.verify(p, frame, box)
        prof.disable()
        st = pstats.Stats(prof)
        st.sort_stats("tottime").print_stats(args.top)
        st.sort_stats("cumulative").print_stats(args.top)
    calls = counted(["_decided", "_measured", "_search", "_close", "_evidence", "_aligned", "_surround",
                     "_field_crop", "orientation_field", "edge_support"])
    results = collections.Counter()
    for _, jobs in uploads:
        for p, frame, box in jobs:
            r = S.verify(p, frame, box)
            results["none" if r is None else ("pass" if r[0] >= S.THRESHOLD else "fail")] += 1
    for k, v in sorted(calls.items()):
        print(f"{k:60s} {v:7d}  {v / checks:6.2f} a check")
    print(dict(results))


if __name__ == "__main__":
    main()
