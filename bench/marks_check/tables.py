"""Recall tables of one ``cands.py check --json`` run (issue 19): the issue's targets (marks at least 4 % of the
upload's width, opacity at least 40 %) by scale, opacity, transform, kind and tiling, caught out of all, with the
in-scope share (scale 0.3-3x) beside each row, as markdown for docs/benchmarks.md::

    python bench/marks_check/tables.py F.json              # one run
    python bench/marks_check/tables.py A.json B.json       # two: "A -> B" in every cell
    python bench/marks_check/tables.py F.json [G.json] --negatives   # the negatives by kind instead (flagged, best)

Reads only the JSON (no index, no images).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import marks_bench as MB  # noqa: E402

SCALES = [(0.0, 0.15, "< 0.15x"), (0.15, 0.3, "0.15-0.3x"), (0.3, 0.6, "0.3-0.6x"), (0.6, 1.0, "0.6-1x"),
          (1.0, 3.0, "1-3x"), (3.0, 1e9, "> 3x")]
OPACITIES = [(0.4, 0.6, "40-60 %"), (0.6, 0.8, "60-80 %"), (0.8, 1.01, "80-100 %")]


def targets(path: str) -> list[dict]:
    """The run's positives that are targets (as cands.py counts them)."""
    positives = json.loads(Path(path).read_text())["positives"]
    return [r for r in positives if r["rel"] >= 0.04 and r["opacity"] >= 0.4]


def _groups(rows: list[dict]) -> list[tuple[str, str, list[dict]]]:
    out = []
    for lo, hi, name in SCALES:
        out.append(("scale", name, [r for r in rows if lo <= r["scale"] < hi]))
    for lo, hi, name in OPACITIES:
        out.append(("opacity", name, [r for r in rows if lo <= r["opacity"] < hi]))
    for name in sorted({r["transform"] for r in rows}):
        out.append(("transform", name, [r for r in rows if r["transform"] == name]))
    for name in sorted({r["kind"] for r in rows}):
        out.append(("kind", name, [r for r in rows if r["kind"] == name]))
    for tiled in (False, True):
        out.append(("tiling", "tiled" if tiled else "single", [r for r in rows if r["tiled"] == tiled]))
    out.append(("all", "all targets", rows))
    return out


def _cell(rows: list[dict], other: list[dict] | None) -> str:
    def one(rs: list[dict]) -> str:
        if not rs:
            return "-"
        caught = sum(r["caught"] for r in rs)
        return f"{caught} / {len(rs)} ({100 * caught / len(rs):.1f} %)"
    if other is None:
        return one(rows)
    return f"{one(other)} -> {one(rows)}"


def table(path: str, before: str | None = None) -> str:
    rows = targets(path)
    base = targets(before) if before else None
    base_groups = _groups(base) if base is not None else None
    lines = ["| by | group | targets caught | of them in scope (0.3-3x) |", "|---|---|---:|---:|"]
    for n, (by, name, rs) in enumerate(_groups(rows)):
        old = base_groups[n][2] if base_groups is not None else None
        scoped = [r for r in rs if MB.in_scope(r["scale"])]
        old_scoped = [r for r in old if MB.in_scope(r["scale"])] if old is not None else None
        lines.append(f"| {by} | {name} | {_cell(rs, old)} | {_cell(scoped, old_scoped)} |")
    return "\n".join(lines)


def negatives_table(path: str, before: str | None = None) -> str:
    """The run's negatives by kind (marks_bench.NEGATIVE_KINDS, those present): flagged of all, and the best
    score; with ``before``, "before -> path" in every cell."""
    def cells(p: str) -> dict[str, tuple[str, str]]:
        rows = json.loads(Path(p).read_text())["negatives"]
        out = {}
        for kind in MB.NEGATIVE_KINDS:
            rs = [r for r in rows if r["kind"] == kind]
            if rs:
                out[kind] = (f"{sum(bool(r['flags']) for r in rs)} / {len(rs)}", f"{max(r['best'] for r in rs):.3f}")
        return out
    now, old = cells(path), cells(before) if before else {}
    lines = ["| negative kind | flagged | best score |", "|---|---:|---:|"]
    for kind, (flagged, best) in now.items():
        if kind in old:
            flagged, best = f"{old[kind][0]} -> {flagged}", f"{old[kind][1]} -> {best}"
        lines.append(f"| {kind} | {flagged} | {best} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("first", help="cands.py check --json output")
    parser.add_argument("second", nargs="?", help="a later run's JSON: cells read 'first -> second'")
    parser.add_argument("--negatives", action="store_true", help="the negatives by kind instead of the targets")
    args = parser.parse_args()
    show = negatives_table if args.negatives else table
    print(show(args.second, args.first) if args.second else show(args.first))


if __name__ == "__main__":
    main()
