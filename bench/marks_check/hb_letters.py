"""The letters' test of the check (issue 19, 2026-12-07 #6, HB): every target of a cached benchmark
(marks_cached.py cache) checked at its stamped places, and every look-alike negative's registered mark at the
look-alike's place, as ``search.verify`` does (colour view, then the chroma view where that fails), keeping the
letter windows (``search._letter_windows``) of the view whose score counts; ``rule`` then reads the rows.

    python bench/marks_check/hb_letters.py collect DIR --out R.pkl [--skip N] [--limit N] [--set search.NAME=VALUE]
    python bench/marks_check/hb_letters.py rule R.pkl [R2.pkl ...]
"""

from __future__ import annotations

import argparse
import glob
import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

import marks_bench as MB  # noqa: E402
from ncii_shield.signals.marks import search as S  # noqa: E402
from ncii_shield.signals.marks import template as T  # noqa: E402


def _decided(prepared, frame, box, view):
    found_letters: list = []
    m = S._measured(prepared, frame, box, view, letters=found_letters)
    letters = found_letters[0] if found_letters else None
    if m is None:
        return None
    shape, colour, found, context = m
    null = None
    if S.LOCAL_CHANCE and S.JOINT and context is not None and \
            S.decide(shape, colour, found, prepared.complexity, S._LATER) >= S.LOCAL_FROM:
        null = S._surround(prepared, frame, found, *context, view=view)
    windows = S._letter_windows(*letters) if letters else None  # (shape, colour, share, texture) a window
    return S.decide(shape, colour, found, prepared.complexity, null), found, shape, colour, windows, view is not None


def _verified(prepared, frame, box):
    best = _decided(prepared, frame, box, None)
    if S.CHROMA_VIEW and prepared.chroma is not None and (best is None or best[0] < S.THRESHOLD):
        other = _decided(prepared, frame, box, prepared.chroma)
        if other is not None and (best is None or other[0] > best[0]):
            best = other
    return best


def collect(args) -> None:
    MB.apply_settings(args.set)
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
            found = [v for t in r["upload_boxes"][:4]
                     if (v := _verified(prepared[mi], frame, tuple(x / frame.to_upload for x in t))) is not None]
            best = max(found, key=lambda v: v[0], default=None)
            rows.append(dict(file=Path(path).name, kind=kind, case=k, mark=mi, name=marks[mi][0], word=r.get("word"),
                             opacity=r["opacity"] if kind == "pos" else None,
                             scale=round(max(b[2] for b in r["upload_boxes"]) / visible[mi], 3),
                             score=best[0] if best else -1.0, box=best[1] if best else None,
                             shape=best[2] if best else None, colour=best[3] if best else None,
                             windows=best[4] if best else None, chroma=best[5] if best else None))
        print(Path(path).name, len(rows), file=sys.stderr, end="\r")
    pickle.dump(rows, open(args.out, "wb"))


def drop(windows, share: float = S.LETTER_SHARE, cost: float = S.LETTER_TEXTURE) -> float:
    """search._letter_drop from the rows' windows."""
    w = [(a, b, d) for a, b, c, d in windows or [] if c >= share]
    if len(w) < 3:
        return 0.0
    ms, mc = float(np.median([a for a, _, _ in w])), float(np.median([b for _, b, _ in w]))
    return max(min(ms - a, mc - b) - cost * d for a, b, d in w)


def rule(args) -> None:
    rows = [r for p in args.rows for r in pickle.load(open(p, "rb"))]
    passed = [r for r in rows if r["score"] >= S.THRESHOLD]
    pos = [r for r in passed if r["kind"] == "pos"]
    alike = [r for r in passed if r["kind"] == "alike"]
    print(f"rows {len(rows)}; passing: targets {len(pos)} (in scope {sum(MB.in_scope(r['scale']) for r in pos)}), "
          f"look-alikes {len(alike)} of {sum(r['kind'] == 'alike' for r in rows)}")
    for cost in (0.0, 0.1, 0.2, 0.3):
        for bar in (0.15, 0.2, 0.22, 0.25, 0.3):
            # a pass stays a pass where score stays >= THRESHOLD: min(score, THRESHOLD + bar - drop)
            lost = [r for r in pos if drop(r["windows"], cost=cost) > bar]
            kept = [r for r in alike if drop(r["windows"], cost=cost) <= bar]
            print(f"texture cost {cost} bar {bar}: targets lost {len(lost)} (in scope "
                  f"{sum(MB.in_scope(r['scale']) for r in lost)}), look-alikes still passing {len(kept)}",
                  sorted({r['name'] for r in lost}))
    for r in sorted(alike, key=lambda r: drop(r["windows"])):
        w = r["windows"] or []
        print("alike", r["name"], "->", r["word"], round(r["score"], 3), "drop", round(drop(r["windows"]), 3), "chroma" if r["chroma"] else "colour",
              [tuple(round(float(v), 2) for v in x) for x in w])
    print()
    for r in sorted(pos, key=lambda r: -drop(r["windows"]))[:25]:
        w = r["windows"] or []
        print("pos", r["file"], r["case"], r["name"], round(r["score"], 3), "drop", round(drop(r["windows"]), 3), r["opacity"], r["scale"],
              "chroma" if r["chroma"] else "colour", [tuple(round(float(v), 2) for v in x) for x in w])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("dir")
    c.add_argument("--out", required=True)
    c.add_argument("--limit", type=int, default=0, help="only the photos before the N-th")
    c.add_argument("--skip", type=int, default=0, help="only the photos from the N-th")
    c.add_argument("--set", action="append", metavar="NAME=VALUE")
    r = sub.add_parser("rule")
    r.add_argument("rows", nargs="+")
    args = parser.parse_args()
    {"collect": collect, "rule": rule}[args.command](args)


if __name__ == "__main__":
    main()
