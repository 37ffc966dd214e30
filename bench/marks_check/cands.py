"""The check alone on the candidates of ``marks_cached.py run``, cached (issue 19, 2026-12-07).

``collect`` runs the candidate stage of ``ncii_shield/index/marks.py`` (``MarkIndex._candidates``) once on
every cached upload of ``bench/marks_cached.py cache`` and keeps its (mark, box) candidates; ``check`` then
checks them again with ``signals/marks/search.py`` as it stands (``--set search.NAME=VALUE``), with
``_checked``'s own post-processing (one check per mark and place, ``ONE_PER_PLACE``), and counts caught,
lands, false flags, wrong marks and the best negative as ``marks_cached.py run`` does, in a few minutes
instead of 10-15 (no candidate stage). ``--oracle`` also checks the stamped mark at its stamped places (and a
look-alike negative's registered mark at the look-alike's place: ``look_alike_oracle_passes``).
The candidate stage does not depend on the check (``COLOUR_GATE`` is off), so the figures are those of a
full run with the same settings; the full run stays the reference for anything reported::

    python bench/marks_check/cands.py collect DIR --values V.json --out C.pkl [--limit N] [--set NAME=VALUE] [--negatives-only]
        [--negative-kind look-alike]
    python bench/marks_check/cands.py check C.pkl DIR --values V.json [--set search.NAME=VALUE] [--oracle] [--json F]
    python bench/marks_check/cands.py diff A.json B.json      # targets gained / lost, negatives' best
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

import marks_bench as MB  # noqa: E402
from ncii_shield.signals.marks import search as S  # noqa: E402
from ncii_shield.signals.marks.search import UploadFrame  # noqa: E402


def _frames(dirname: str, limit: int, negatives_only: bool = False, negative_kinds: list[str] | None = None):
    files = sorted(glob.glob(str(Path(dirname) / "*.pkl")))
    for n, path in enumerate(files[: limit or None]):
        with open(path, "rb") as f:
            data = pickle.load(f)
        for kind in ("neg",) if negatives_only else ("pos", "neg"):
            for k, r in enumerate(data[kind]):
                if kind == "neg" and negative_kinds and r["kind"] not in negative_kinds:
                    continue
                frame = UploadFrame.from_rgb(r["rgb"])
                frame.to_upload = r["to_upload"]
                yield (n, kind, k), r, frame


def collect(args) -> None:
    import faiss

    from ncii_shield.index import marks as index_module

    faiss.omp_set_num_threads(1)
    MB.apply_settings(args.set)
    index = MB.built_index([tuple(v) for v in json.loads(Path(args.values).read_text())])
    out = {}
    t0 = time.time()
    for key, r, frame in _frames(args.dir, args.limit, args.negatives_only, args.negative_kind):
        places, located = index._candidates(frame, None, index_module.CANDIDATES)
        out[key] = [(id, tuple(box), k >= len(places)) for k, (id, box) in enumerate(places + located)]
        print(key, len(out[key]), round(time.time() - t0), file=sys.stderr, end="\r")
    with open(args.out, "wb") as f:
        pickle.dump({"set": args.set or [], "cands": out}, f)


def check(args) -> None:
    from ncii_shield.index import marks as index_module

    MB.apply_settings(args.set)
    assert index_module.COLOUR_GATE <= -1.0, "the located colour gate depends on the check: use marks_cached.py"
    index = MB.built_index([tuple(v) for v in json.loads(Path(args.values).read_text())])
    cands = pickle.load(open(args.cands, "rb"))["cands"]
    visible = [MB.visible_width(rgba) for _, _, rgba in MB.registered_marks()]
    positives, negatives, cpu, calls = [], [], [], []
    for key, r, frame in _frames(args.dir, args.limit, not any(k[1] == "pos" for k in cands)):
        if key not in cands:
            continue
        jobs = [(id, box) for id, box, _ in cands[key] if index._entries.get(id) is not None]
        c0 = time.process_time()
        results = [S.verify(index._entries[id].prepared, frame, box) for id, box in jobs]
        cpu.append(time.process_time() - c0)
        calls.append(len(jobs))
        found = index._merged([(id, checked) for (id, _), checked in zip(jobs, results)], S.THRESHOLD,
                              {id: index._entries.get(id) for id, _ in jobs})  # as MarkIndex._checked
        if key[1] == "pos":
            mi, boxes = r["mark"], r["upload_boxes"]
            at = [(s, i) for s, i, b in found if any(MB.iou(frame.to_upload_box(b), t) > 0.3 for t in boxes)]
            oracle = None
            if args.oracle:
                at_place = [S.verify(index._entries[mi].prepared, frame, tuple(v / frame.to_upload for v in t))
                            for t in boxes[:4]]
                oracle = round(max([c[0] for c in at_place if c], default=-1.0), 3)
            own = [(round(s, 3), list(b)) for s, i, b in found if i == mi]
            positives.append(dict(key=list(key), photo=r["photo"], mark=mi, rel=r["rel"], opacity=r["opacity"],
                                  transform=r["transform"], kind=r["kind"], tiled=r["tiled"], oracle=oracle,
                                  scale=round(max(b[2] for b in boxes) / visible[mi], 3),
                                  caught=any(i == mi and s >= S.THRESHOLD for s, i in at),
                                  lands=any(i == mi for s, i in at), own=own,
                                  best_at=round(max([s for s, i in at if i == mi], default=-1.0), 3),
                                  wrong=[(i, round(s, 3)) for s, i, b in found if i != mi and s >= S.THRESHOLD],
                                  best_wrong=round(max([s for s, i, b in found if i != mi], default=-1.0), 3)))
        else:
            negatives.append(dict(key=list(key), photo=r["photo"], kind=r["kind"],
                                  flags=[(i, round(s, 3)) for s, i, _ in found if s >= S.THRESHOLD],
                                  best=round(max([s for s, _, _ in found], default=-1.0), 3),
                                  top=[(i, round(s, 3)) for s, i, _ in found[:3]]))
            if args.oracle and "mark" in r:  # a look-alike: its registered mark checked at the stamped place
                at_place = [S.verify(index._entries[r["mark"]].prepared, frame,
                                     tuple(v / frame.to_upload for v in t)) for t in r["upload_boxes"]]
                negatives[-1].update(mark=r["mark"], word=r["word"],
                                     oracle=round(max([c[0] for c in at_place if c], default=-1.0), 3))
    target = [r for r in positives if r["rel"] >= 0.04 and r["opacity"] >= 0.4]
    scoped = [r for r in target if MB.in_scope(r["scale"])]
    report = {"set": args.set or [],
              "recall_target": f"{sum(r['caught'] for r in target)}/{len(target)}",
              "lands_target": f"{sum(r['lands'] for r in target)}/{len(target)}",
              "recall_all": f"{sum(r['caught'] for r in positives)}/{len(positives)}",
              "recall_target_in_scope": f"{sum(r['caught'] for r in scoped)}/{len(scoped)}",
              "lands_in_scope": f"{sum(r['lands'] for r in scoped)}/{len(scoped)}",
              "false_flags": f"{sum(bool(r['flags']) for r in negatives)}/{len(negatives)}",
              "wrong_mark_on_positives": sum(bool(r["wrong"]) for r in positives),
              "negatives_by_kind": _by_kind(negatives),
              "best_negative_score": max((r["best"] for r in negatives), default=None),
              "best_wrong_score": max((r["best_wrong"] for r in positives), default=None),
              "check_cpu_ms_per_upload_p50": round(1000 * statistics.median(cpu), 1) if cpu else None,
              "check_cpu_ms_per_call_mean": round(1000 * sum(cpu) / max(1, sum(calls)), 2),
              "calls_per_upload_mean": round(statistics.mean(calls), 2) if calls else None}
    if args.oracle and any("oracle" in r for r in negatives):  # the look-alikes passing as their registered mark
        alike = [r for r in negatives if "oracle" in r]
        report["look_alike_oracle_passes"] = f"{sum(r['oracle'] >= S.THRESHOLD for r in alike)}/{len(alike)}"
    if args.oracle:
        report["oracle_in_scope"] = f"{sum(r['oracle'] >= S.THRESHOLD for r in scoped)}/{len(scoped)}"
        report["oracle_target"] = f"{sum(r['oracle'] >= S.THRESHOLD for r in target)}/{len(target)}"
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps({"report": report, "positives": positives, "negatives": negatives}))


def _by_kind(negatives: list[dict]) -> dict:
    """False flags per negative kind present (marks_bench.NEGATIVE_KINDS), "flagged/of"."""
    return {k: f"{sum(bool(r['flags']) for r in rows)}/{len(rows)}" for k in MB.NEGATIVE_KINDS
            for rows in [[r for r in negatives if r["kind"] == k]] if rows}


def diff(args) -> None:
    a, b = (json.loads(Path(p).read_text()) for p in (args.a, args.b))
    pa = {tuple(r["key"]): r for r in a["positives"]}
    for r in b["positives"]:
        o = pa.get(tuple(r["key"]))
        if o is None or not (r["rel"] >= 0.04 and r["opacity"] >= 0.4):
            continue
        if o["caught"] != r["caught"] or (args.oracle and o.get("oracle") != r.get("oracle")
                                          and (o["oracle"] >= S.THRESHOLD) != (r["oracle"] >= S.THRESHOLD)):
            print(("gained" if r["caught"] else "lost") if o["caught"] != r["caught"] else "oracle", r["photo"], "mark", r["mark"],
                  r["kind"], r["transform"], f"op {r['opacity']:.2f} scale {r['scale']}",
                  f"best_at {o['best_at']} -> {r['best_at']}", f"oracle {o.get('oracle')} -> {r.get('oracle')}")
    na = {tuple(r["key"]): r for r in a["negatives"]}
    rows = sorted(b["negatives"], key=lambda r: -r["best"])[:8]
    for r in rows:
        print("negative", r["photo"], r["kind"], na[tuple(r["key"])]["best"], "->", r["best"], r["top"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("dir")
    c.add_argument("--values", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--limit", type=int, default=0)
    c.add_argument("--set", action="append", metavar="NAME=VALUE")
    c.add_argument("--negatives-only", action="store_true", help="the negatives' candidates only (a stress)")
    c.add_argument("--negative-kind", action="append", metavar="KIND",
                   help="only the negatives of this kind (marks_bench.NEGATIVE_KINDS, e.g. look-alike; repeatable)")
    k = sub.add_parser("check")
    k.add_argument("cands")
    k.add_argument("dir")
    k.add_argument("--values", required=True)
    k.add_argument("--limit", type=int, default=0)
    k.add_argument("--set", action="append", metavar="NAME=VALUE")
    k.add_argument("--oracle", action="store_true")
    k.add_argument("--json")
    d = sub.add_parser("diff")
    d.add_argument("a")
    d.add_argument("b")
    d.add_argument("--oracle", action="store_true")
    args = parser.parse_args()
    {"collect": collect, "check": check, "diff": diff}[args.command](args)


if __name__ == "__main__":
    main()
