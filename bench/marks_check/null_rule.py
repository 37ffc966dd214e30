"""Decision rules read from the look-alike stress's rows (``located.py`` output), even and odd photos apart.

Every row of ``located.py`` holds what ``search.inspect`` measured at a place (the parts' shape scores,
the colour agreements, the found box, the mark's complexity and, since 2026-12-06 #4, the local chance
model ``null_shape`` / ``null_colour``: the same mark's correlations at places around the find). This
scores them with a rule and counts: oracle targets passed (stamped mark at its stamped places; targets =
at least 4 % of the width and 40 % opaque), negatives and positives with a wrong mark at or over the
threshold, and the best of each, for photos of even and of odd index apart (choose on even, report odd).

    python bench/marks_check/null_rule.py LOC.pkl [LOC2.pkl ...]                 # the rule of search.decide
    python bench/marks_check/null_rule.py LOC.pkl --grid [--margin 0.72]         # the local-chance rules' grid
"""
import argparse
import itertools
import math
import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
import ncii_shield.signals.marks.search as S  # noqa: E402

THRESHOLD = S.THRESHOLD


def base(f: dict) -> tuple[float, float] | None:
    """(shape, colour) as the check decides on them, or None where the check did not look closely."""
    if "shape_parts" not in f or not f["shape_parts"]:
        return None
    return float(np.mean(f["shape_parts"])), S._colour(f["colour_whole"], f["colour_channels"])


def evidence(f: dict) -> float:
    b = f["box"]
    return max(1.0, math.sqrt(b[2] * b[3])) * (max(f["complexity"], 1e-3) / S.COMPLEXITY_REF) ** S.COMPLEXITY_POWER


def rule_now(f: dict) -> float:
    m = base(f)
    if m is None:
        return f.get("wide", 0.0)
    return S.decide(m[0], m[1], f["box"], f["complexity"])


def count(rows, rule) -> dict:
    out = {}
    for half in (0, 1):
        best_oracle, neg, wrong = {}, {}, {}
        for kind, key, source, mark, f in rows:
            if key["n"] % 2 != half:
                continue
            s = rule(f)
            u = (key["n"], key["u"])
            if kind == "oracle":
                if key["rel_width"] >= 0.04 and key["opacity"] >= 0.4:
                    best_oracle[u] = max(best_oracle.get(u, -1.0), s)
            elif kind == "neg":
                neg[u] = max(neg.get(u, -1.0), s)
            else:
                wrong[u] = max(wrong.get(u, -1.0), s)
        out[half] = dict(oracle=sum(v >= THRESHOLD for v in best_oracle.values()), targets=len(best_oracle),
                         neg=sum(v >= THRESHOLD for v in neg.values()), best_neg=max(neg.values(), default=-1),
                         wrong=sum(v >= THRESHOLD for v in wrong.values()), best_wrong=max(wrong.values(), default=-1))
    return out


def show(name, c) -> None:
    e, o = c[0], c[1]
    print(f"{name}: even {e['oracle']}/{e['targets']} neg {e['neg']} ({e['best_neg']:.3f}) wrong {e['wrong']} "
          f"({e['best_wrong']:.3f}) | odd {o['oracle']}/{o['targets']} neg {o['neg']} ({o['best_neg']:.3f}) "
          f"wrong {o['wrong']} ({o['best_wrong']:.3f})")


class Table:
    """The rows as arrays, for rules over many settings (numpy instead of a loop per row)."""

    def __init__(self, rows) -> None:
        keep = [r for r in rows if r[0] != "oracle" or (r[1]["rel_width"] >= 0.04 and r[1]["opacity"] >= 0.4)]
        self.kind = np.array([{"oracle": 0, "neg": 1, "wrong": 2}[r[0]] for r in keep])
        self.half = np.array([r[1]["n"] % 2 for r in keep])
        keys = [(r[1]["n"], r[1]["u"]) for r in keep]
        index = {k: i for i, k in enumerate(sorted(set(keys)))}
        self.group = np.array([index[k] for k in keys])
        self.groups = len(index)
        b = [base(r[4]) for r in keep]
        self.looked = np.array([v is not None for v in b])
        self.wide = np.array([r[4].get("wide", 0.0) for r in keep])
        self.shape = np.array([v[0] if v else 0.0 for v in b])
        self.colour = np.array([v[1] if v else 0.0 for v in b])
        self.e = np.array([evidence(r[4]) if v else 1.0 for r, v in zip(keep, b)])
        nul = [(r[4].get("null_shape"), r[4].get("null_colour")) for r in keep]
        self.has = np.array([a is not None and c is not None for a, c in nul])
        self.ns = [np.array([a[k] if a is not None else np.nan for a, _ in nul]) for k in range(5)]
        self.nc = [np.array([c[k] if c is not None else np.nan for _, c in nul]) for k in range(5)]

    def scores(self, bar_s, bar_c, size, zs, zc, kappa=0.02, own=False) -> np.ndarray:
        ms = self.shape - bar_s - size * S.SHAPE_PER_PIXEL / self.e
        mc = self.colour - bar_c - size * S.COLOUR_PER_PIXEL / self.e
        m = np.minimum(ms, mc)
        vs, vc = (self.ns[0], self.nc[0]) if own else (self.shape, self.colour)
        if zs > -90:
            m = np.minimum(m, np.where(self.has, kappa * ((vs - self.ns[1]) / np.maximum(self.ns[2], 1e-3) - zs), np.inf))
        if zc > -90:
            m = np.minimum(m, np.where(self.has, kappa * ((vc - self.nc[1]) / np.maximum(self.nc[2], 1e-3) - zc), np.inf))
        now = np.minimum(self.shape - S.JOINT_SHAPE - S.SHAPE_PER_PIXEL / self.e,
                         self.colour - S.JOINT_COLOUR - S.COLOUR_PER_PIXEL / self.e)
        m = np.where(self.has, m, now)  # no surround: the rule of now
        return np.where(self.looked, THRESHOLD + m, self.wide)

    def count(self, score) -> dict:
        out = {}
        for half in (0, 1):
            c = {}
            for k, name in ((0, "oracle"), (1, "neg"), (2, "wrong")):
                sel = (self.kind == k) & (self.half == half)
                best = np.full(self.groups, -np.inf)
                np.maximum.at(best, self.group[sel], score[sel])
                best = best[np.isfinite(best)]
                c[name] = int((best >= THRESHOLD).sum())
                c["best_" + name] = float(best.max()) if len(best) else -1.0
                if k == 0:
                    c["targets"] = len(best)
            out[half] = c
        return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("rows", nargs="+")
    ap.add_argument("--grid", action="store_true")
    ap.add_argument("--margin", type=float, default=0.72, help="every negative and wrong mark at most this (even photos)")
    args = ap.parse_args()
    rows = [r for p in args.rows for r in pickle.load(open(p, "rb"))]
    show("now (search.decide)", count(rows, rule_now))
    if args.grid:
        table = Table(rows)
        show("now (table)", table.count(table.scores(S.JOINT_SHAPE, S.JOINT_COLOUR, 1.0, -99, -99)))
        show("local chance model (search.py's LOCAL_*)", table.count(table.scores(
            S.LOCAL_SHAPE, S.LOCAL_COLOUR, S.LOCAL_SIZE, S.LOCAL_Z_SHAPE, S.LOCAL_Z_COLOUR, kappa=S.LOCAL_KAPPA)))
        results = []
        for bar_s, bar_c, size, zs, zc, own, kappa in itertools.product(
                (0.72, 0.73, 0.74, 0.75), (0.26, 0.30, 0.34), (0.0, 0.25, 0.5, 0.6, 0.75, 0.9, 1.0),
                (-99, 2, 3, 4), (-99, 2, 2.5, 3, 3.5, 4, 5), (False, True), (0.02, 0.05, 0.1)):
            c = table.count(table.scores(bar_s, bar_c, size, zs, zc, kappa=kappa, own=own))
            results.append(((bar_s, bar_c, size, zs, zc, own, kappa), c))
        ok = [r for r in results if max(r[1][0]["best_neg"], r[1][0]["best_wrong"]) <= args.margin]
        ok.sort(key=lambda r: -r[1][0]["oracle"])
        print("(shape bar, colour bar, size term x, z shape, z colour (-99: none), own value, score per z) with every"
              f" even negative and wrong mark <= {args.margin}, best first:")
        for p, c in ok[:15]:
            show(str(p), c)
