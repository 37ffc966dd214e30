"""The letters' test at a finer scale (issue 19, 2026-12-08, HB; search.LETTER_FINE): every target of a cached
benchmark (marks_cached.py cache; width >= 4 %, opacity >= 40 %) at its stamped places and every look-alike
negative's registered mark at the look-alike's place, each view (colour, and chroma for a coloured mark), with the
check's score, its letters' drop and the finer letters' drop (``search._fine_drop``) of every pass; ``rule`` then
counts, for bars of the finer drop, the targets refused and the look-alikes still passing (a case passes where any
of its places and views passes, as ``search.verify`` tries the chroma view wherever the colour view does not pass).

    python bench/marks_check/hb2_fine.py collect DIR --out R.pkl [--skip N] [--limit N] [--set search.NAME=VALUE]
    python bench/marks_check/hb2_fine.py rule R.pkl [--bar 0.22 ...]
"""

from __future__ import annotations

import argparse
import glob
import pickle
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

import marks_bench as MB  # noqa: E402
from ncii_shield.signals.marks import search as S  # noqa: E402
from ncii_shield.signals.marks import template as T  # noqa: E402


def _row(prepared, frame, box, view) -> dict | None:
    found_letters: list = []
    m = S._measured(prepared, frame, box, view, letters=found_letters)
    if m is None:
        return None
    shape, colour, found, context = m
    null = None
    if S.LOCAL_CHANCE and S.JOINT and context is not None and \
            S.decide(shape, colour, found, prepared.complexity, S._LATER) >= S.LOCAL_FROM:
        null = S._surround(prepared, frame, found, *context, view=view)
    score = S.decide(shape, colour, found, prepared.complexity, null)
    letters = found_letters[0] if found_letters else None
    out = dict(score=score, drop=None, fine=None, view=view is not None)
    if letters is not None and score >= S.THRESHOLD:
        out["drop"] = S._letter_drop(*letters)
        out["fine"] = S._fine_drop(prepared, frame, letters[5], view)
    return out


def _whole_windows() -> None:
    """--whole: the finer letters' windows take their shape over the whole window, not only the mark's edges (an
    experiment: strokes the mark lacks then count against it)."""
    import numpy as np

    plain_drop, plain_support = S._letter_drop, S.edge_support

    def drop(*a, **k):
        S.edge_support = lambda t: np.ones(t.shape[:2], np.float32)
        try:
            return plain_drop(*a, **k)
        finally:
            S.edge_support = plain_support

    plain_fine = S._fine_drop

    def fine(*a, **k):
        S._letter_drop = drop
        try:
            return plain_fine(*a, **k)
        finally:
            S._letter_drop = plain_drop

    S._fine_drop = fine


def collect(args) -> None:
    MB.apply_settings(args.set)
    if args.whole:
        _whole_windows()
    marks = MB.registered_marks()
    prepared = [S.Prepared.of(T.template_from_rgba(rgba, name)) for name, _, rgba in marks]
    visible = [MB.visible_width(rgba) for _, _, rgba in marks]
    rows = []
    for path in sorted(glob.glob(str(Path(args.dir) / "*.pkl")))[args.skip: args.limit or None]:
        data = pickle.load(open(path, "rb"))
        cases = [("pos", k, r) for k, r in enumerate(data["pos"]) if r["rel"] >= 0.04 and r["opacity"] >= 0.4]
        cases += [("alike", k, r) for k, r in enumerate(data["neg"]) if "mark" in r]
        for kind, k, r in cases:
            frame = S.UploadFrame.from_rgb(r["rgb"])
            frame.to_upload = r["to_upload"]
            mi = r["mark"]
            views = [None] + ([prepared[mi].chroma] if S.CHROMA_VIEW and prepared[mi].chroma is not None else [])
            done = set()
            for j, t in enumerate(r["upload_boxes"][:4]):
                box = tuple(v / frame.to_upload for v in t)
                if box in done:
                    continue
                done.add(box)
                for view in views:
                    d = _row(prepared[mi], frame, box, view)
                    if d is not None:
                        d.update(file=Path(path).name, kind=kind, case=k, place=j, mark=mi, name=marks[mi][0],
                                 word=r.get("word"), opacity=r["opacity"] if kind == "pos" else None,
                                 transform=r.get("transform"),
                                 scale=round(max(b[2] for b in r["upload_boxes"]) / visible[mi], 3))
                        rows.append(d)
        print(Path(path).name, len(rows), file=sys.stderr, end="\r")
    pickle.dump(rows, open(args.out, "wb"))


def rule(args) -> None:
    rows = [r for p in args.rows for r in pickle.load(open(p, "rb"))]
    cases = defaultdict(list)
    for r in rows:
        cases[(r["file"], r["kind"], r["case"])].append(r)

    def passes(r, bar):
        return r["score"] >= S.THRESHOLD and r["drop"] <= S.LETTER_DROP and (bar is None or r["fine"] <= bar)

    pos = {k: v for k, v in cases.items() if k[1] == "pos"}
    alike = {k: v for k, v in cases.items() if k[1] == "alike"}
    for bar in [None] + args.bar:
        lost = [(k, v[0]["name"], round(min(r["fine"] for r in v if passes(r, None)), 3))
                for k, v in pos.items() if any(passes(r, None) for r in v) and not any(passes(r, bar) for r in v)]
        passing = [v[0]["word"] for v in alike.values() if any(passes(r, bar) for r in v)]
        now = sum(any(passes(r, bar) for r in v) for v in pos.values())
        scoped = sum(any(passes(r, bar) for r in v) and MB.in_scope(v[0]["scale"]) for v in pos.values())
        print(f"fine bar {bar}: targets passing {now} (in scope {scoped}) of {len(pos)}; refused by it {len(lost)} "
              f"(in scope {sum(MB.in_scope(pos[k][0]['scale']) for k, _, _ in lost)}) {lost}; "
              f"look-alikes passing {len(passing)} of {len(alike)} {sorted(passing)}")
    tops = sorted(((min(r["fine"] for r in v if passes(r, None)), v[0]["name"], k) for k, v in pos.items()
                   if any(passes(r, None) for r in v)), reverse=True)[:8]
    print("targets' highest finer drops (the least over a case's passing places and views):",
          [(round(a, 3), b, c) for a, b, c in tops])
    print("look-alikes passing without it, their finer drops:",
          sorted((round(min(r["fine"] for r in v if passes(r, None)), 3), v[0]["word"]) for v in alike.values()
                 if any(passes(r, None) for r in v)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("dir")
    c.add_argument("--out", required=True)
    c.add_argument("--limit", type=int, default=0)
    c.add_argument("--skip", type=int, default=0)
    c.add_argument("--set", action="append", metavar="NAME=VALUE")
    c.add_argument("--whole", action="store_true", help="the finer windows' shape over the whole window (experiment)")
    r = sub.add_parser("rule")
    r.add_argument("rows", nargs="+")
    r.add_argument("--bar", type=float, action="append", default=[])
    args = parser.parse_args()
    {"collect": collect, "rule": rule}[args.command](args)


if __name__ == "__main__":
    main()
