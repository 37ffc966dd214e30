"""What the check measured, per candidate, for decision rules read offline (issue 19, 2026-12-07 #4, H3).

On the cached candidate lists of ``cands.py collect`` (normal and stress), every check of a negative upload
and every check of a wrong mark on a positive, and the stamped mark at its stamped places (the oracle, first 4
boxes), measured per view (colour; chroma for a coloured mark) as :func:`search.verify` measures them, with the
local chance model measured whatever the score (``search._surround``), so that a rule relaxing a bar can be
read from the rows without checking again::

    python bench/marks_check/rows.py collect C.pkl [C2.pkl ...] DIR --values V.json --out R.pkl [--set search.NAME=VALUE]
    python bench/marks_check/rows.py rule R.pkl [--set search.NAME=VALUE]   # decide() as it stands, on the rows

Rows: ``dict(kind='neg'|'wrong'|'target'|'off', key, mark, view, shape, colour, found, complexity, null, score)``;
``target``: an in-scope target (>= 4 % wide, >= 40 % opaque, 0.3-3x); ``off``: the other stamped positives.
"""

from __future__ import annotations

import argparse
import glob
import json
import pickle
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

import marks_bench as MB  # noqa: E402
from ncii_shield.signals.marks import search as S  # noqa: E402
from ncii_shield.signals.marks import template as T  # noqa: E402


def measured(prepared, frame, box, view):
    m = S._measured(prepared, frame, box, view)
    if m is None:
        return None
    shape, colour, found, context = m
    null = S._surround(prepared, frame, found, *context, view=view) if context is not None else None
    return dict(shape=shape, colour=colour, found=tuple(found), null=null, wide_only=context is None,
                complexity=prepared.complexity)


def collect(args) -> None:
    MB.apply_settings(args.set)
    values = {int(v[1]): v[0] for v in json.loads(Path(args.values).read_text())}
    cache: dict[int, S.Prepared] = {}

    def prepared(i: int) -> S.Prepared:
        if i not in cache:
            cache[i] = S.Prepared.of(T.decode(values[i]))
        return cache[i]

    cands: dict = {}
    for c in args.cands:
        for key, lst in pickle.load(open(c, "rb"))["cands"].items():
            cands.setdefault(key, [])
            cands[key] += [x for x in lst if (x[0], x[1]) not in {(y[0], y[1]) for y in cands[key]}]
    visible = [MB.visible_width(rgba) for _, _, rgba in MB.registered_marks()]
    rows = []
    files = sorted(glob.glob(str(Path(args.dir) / "*.pkl")))
    for n, path in enumerate(files[: args.limit or None]):
        data = pickle.load(open(path, "rb"))
        for kind in ("pos", "neg"):
            for k, r in enumerate(data[kind]):
                key = (n, kind, k)
                frame = S.UploadFrame.from_rgb(r["rgb"])
                frame.to_upload = r["to_upload"]
                jobs = [(i, tuple(b), "neg" if kind == "neg" else "wrong") for i, b, _ in cands.get(key, [])
                        if kind == "neg" or i != r["mark"]]
                if kind == "pos":
                    boxes = r["upload_boxes"]
                    scale = max(b[2] for b in boxes) / visible[r["mark"]]
                    target = r["rel"] >= 0.04 and r["opacity"] >= 0.4 and MB.in_scope(scale)
                    jobs += [(r["mark"], tuple(v / frame.to_upload for v in t), "target" if target else "off")
                             for t in boxes[:4]]
                for i, box, what in jobs:
                    p = prepared(i)
                    views = [None] + ([p.chroma] if p.chroma is not None else [])
                    for v, view in zip(("colour", "chroma"), views):
                        d = measured(p, frame, box, view)
                        if d is None:
                            continue
                        d.update(kind=what, key=key, mark=i, view=v, box=box)
                        rows.append(d)
        print(n, len(rows), file=sys.stderr, end="\r")
    pickle.dump(rows, open(args.out, "wb"))


def rule(args) -> None:
    MB.apply_settings(args.set)
    rows = pickle.load(open(args.rows, "rb"))
    best: dict = {}
    for r in rows:
        if r["wide_only"]:
            s = r["shape"]
        else:
            local = S.LOCAL_CHANCE and r["null"] is not None and \
                S.decide(r["shape"], r["colour"], r["found"], r["complexity"], S._LATER) >= S.LOCAL_FROM
            s = S.decide(r["shape"], r["colour"], r["found"], r["complexity"], r["null"] if local else None)
        k = (r["kind"], r["key"], r["mark"]) if r["kind"] in ("target", "off") else (r["kind"], r["key"], r["mark"], r["box"])
        best[k] = max(best.get(k, -9), s)
    for kind in ("target", "off", "neg", "wrong"):
        v = [s for k, s in best.items() if k[0] == kind]
        per_upload: dict = {}
        for k, s in best.items():
            if k[0] == kind:
                pk = k[1] if kind in ("neg", "wrong") else (k[1], k[2])
                per_upload[pk] = max(per_upload.get(pk, -9), s)
        print(kind, f"checks {len(v)}", f"uploads {len(per_upload)}", f"passing {sum(s >= S.THRESHOLD for s in per_upload.values())}",
              f"best {max(v, default=-1):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("cands", nargs="+")
    c.add_argument("dir")
    c.add_argument("--values", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--limit", type=int, default=0)
    c.add_argument("--set", action="append", metavar="NAME=VALUE")
    r = sub.add_parser("rule")
    r.add_argument("rows")
    r.add_argument("--set", action="append", metavar="NAME=VALUE")
    args = parser.parse_args()
    {"collect": collect, "rule": rule}[args.command](args)


if __name__ == "__main__":
    main()
