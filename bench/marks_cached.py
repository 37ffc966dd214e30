"""marks_bench.py's accuracy figures from cached frames: the same uploads made once, then the candidate
stage and the checks run on them as often as an experiment needs (minutes instead of an hour).

Usage::

    python bench/marks_cached.py cache DIR [PHOTOS] [--limit N] [--cases 8]     # one pickle per photo (~13 MB)
    python bench/marks_cached.py run DIR --values V.json [--set NAME=VALUE ...] [--negatives-only] [--oracle] [--json out.json]

``cache`` makes every upload of :mod:`marks_bench` (seed 7: the positives of ``positive_cases`` and the
negatives of ``negative_cases``, drawn with the same random generators in the same order; the look-alike's
registered mark and stamped box kept with it) and keeps
each as its frame (:class:`UploadFrame`, at most 1,024 pixels) with its scale and stamped boxes. ``run``
builds the index from ``--values`` (marks_bench's signature cache: ``marks_bench.py --values V.json``
writes it) and calls the index exactly as ``marks_bench.timed_find`` does; caught, lands, false flags and
wrong marks are counted as there. CPU is the process's time per upload (checks on 2 threads).
"""

from __future__ import annotations

import argparse
import glob
import json
import pickle
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import marks_bench as MB  # noqa: E402
from ncii_shield.signals.marks.search import THRESHOLD, UploadFrame, verify  # noqa: E402


def cache(args) -> None:
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(str(p) for p in Path(args.photos).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if args.limit:
        files = files[: args.limit]
    marks = MB.registered_marks()
    for n, path in enumerate(files):
        rng = np.random.default_rng(args.seed * 1000 + n)
        photo = np.asarray(Image.open(path).convert("RGB"))
        pos, neg = [], []
        for c in MB.positive_cases(photo, n, args.cases, marks, rng):
            fr = UploadFrame.from_rgb(c["upload"])
            pos.append(dict(photo=Path(path).name, mark=c["mark"], kind=c["kind"], rel=c["rel_width"],
                            opacity=c["opacity"], transform=c["transform"], tiled=c["tiled"], rgb=fr.rgb,
                            to_upload=fr.to_upload, upload_boxes=c["boxes"]))
        # the negatives exactly as marks_bench._photo_cases draws them (after the positives)
        uploads = MB.negative_cases(photo, n, rng, args.seed)
        alike = MB.look_alike(photo, n, args.seed)  # its registered mark and stamped box, for probes of the check
        for label, up in uploads:
            fr = UploadFrame.from_rgb(up)
            neg.append(dict(photo=Path(path).name, kind=label, rgb=fr.rgb, to_upload=fr.to_upload))
            if label == "look-alike":
                neg[-1].update(mark=alike["mark"], word=alike["word"], upload_boxes=[alike["box"]])
        with open(out / f"{n:03d}.pkl", "wb") as f:
            pickle.dump({"pos": pos, "neg": neg}, f, protocol=4)
        print(f"{n + 1}/{len(files)}", file=sys.stderr, end="\r")


def negatives_by_kind(negatives: list[dict]) -> dict:
    """False flags per negative kind (:data:`marks_bench.NEGATIVE_KINDS`, those present), "flagged/of"."""
    return {k: f"{sum(bool(r['flags']) for r in rows)}/{len(rows)}" for k in MB.NEGATIVE_KINDS
            for rows in [[r for r in negatives if r["kind"] == k]] if rows}


def run(args) -> None:
    import faiss

    from ncii_shield.index import marks as index_module

    faiss.omp_set_num_threads(1)
    MB.apply_settings(args.set)
    values = [tuple(v) for v in json.loads(Path(args.values).read_text())]
    index = MB.built_index(values)
    files = sorted(glob.glob(str(Path(args.dir) / "*.pkl")))
    if args.limit:
        files = files[: args.limit]
    positives, negatives, cpu, checks = [], [], [], []
    visible = [MB.visible_width(rgba) for _, _, rgba in MB.registered_marks()]

    def checked(r):
        frame = UploadFrame.from_rgb(r["rgb"])
        frame.to_upload = r["to_upload"]
        c = time.process_time()
        found = index._checked(frame, None, index_module.CANDIDATES)
        cpu.append(time.process_time() - c)
        checks.append(len(found))
        return frame, found

    for path in files:
        with open(path, "rb") as f:
            data = pickle.load(f)
        for r in ([] if args.negatives_only else data["pos"])[: args.cases or None]:
            frame, found = checked(r)
            mi, boxes = r["mark"], r["upload_boxes"]
            at = [(s, i) for s, i, b in found if any(MB.iou(frame.to_upload_box(b), t) > 0.3 for t in boxes)]
            oracle = None
            if args.oracle:  # the check alone: the stamped mark at its stamped places (up to 4), as marks_bench --oracle
                at_place = [verify(index._entries[mi].prepared, frame, tuple(v / frame.to_upload for v in t))
                            for t in boxes[:4]]
                oracle = round(max([c[0] for c in at_place if c], default=-1.0), 3)
            positives.append(dict(photo=r["photo"], mark=mi, rel=r["rel"], opacity=r["opacity"], transform=r["transform"],
                                  kind=r["kind"], tiled=r["tiled"], oracle=oracle,
                                  scale=round(max(b[2] for b in boxes) / visible[mi], 3),
                                  caught=any(i == mi and s >= THRESHOLD for s, i in at),
                                  lands=any(i == mi for s, i in at),
                                  wrong=[(i, round(s, 3)) for s, i, b in found if i != mi and s >= THRESHOLD]))
        for r in data["neg"]:
            frame, found = checked(r)
            negatives.append(dict(photo=r["photo"], kind=r["kind"], flags=[(i, round(s, 3)) for s, i, _ in found if s >= THRESHOLD],
                                  best=round(max([s for s, _, _ in found], default=-1.0), 3)))
    target = [r for r in positives if r["rel"] >= 0.04 and r["opacity"] >= 0.4]
    scoped = [r for r in target if MB.in_scope(r["scale"])]
    report = {"photos": len(files), "marks_indexed": len(values), "set": args.set or [],
              "recall_target": f"{sum(r['caught'] for r in target)}/{len(target)}",
              "lands_target": f"{sum(r['lands'] for r in target)}/{len(target)}",
              "recall_all": f"{sum(r['caught'] for r in positives)}/{len(positives)}",
              "recall_target_in_scope (scale 0.3-3x)": f"{sum(r['caught'] for r in scoped)}/{len(scoped)}",
              "recall_target_by_scale": {
                  name: f"{sum(r['caught'] for r in rows)}/{len(rows)}"
                  for name, lo, hi in MB.SCALE_BUCKETS
                  for rows in [[r for r in target if lo <= r["scale"] < hi]]},
              "false_flags": f"{sum(bool(r['flags']) for r in negatives)}/{len(negatives)}",
              "negatives_by_kind": negatives_by_kind(negatives),
              "wrong_mark_on_positives": sum(bool(r["wrong"]) for r in positives),
              "best_negative_score": max((r["best"] for r in negatives), default=None),
              "cpu_ms_p50": round(1000 * statistics.median(cpu), 1) if cpu else None,
              # the checks an upload's index call returns (one mark at one place once): what the candidates cost
              "checks_per_upload_mean": round(statistics.mean(checks), 2) if checks else None}
    if args.oracle:  # where the targets within the scope are lost: the check at the stamped place, a landing, caught
        stages: dict = defaultdict(lambda: [0, 0, 0, 0])
        for r in scoped:
            for key in ("all", "kind " + r["kind"], "transform " + r["transform"],
                        "opacity " + MB.bucket(r["opacity"], [0.4, 0.6, 0.9])):
                stage = stages[key]
                stage[0] += 1
                stage[1] += r["oracle"] >= THRESHOLD
                stage[2] += r["lands"]
                stage[3] += r["caught"]
        report["in_scope: targets / oracle passes / a candidate lands / caught"] = {
            k: "/".join(map(str, v)) for k, v in sorted(stages.items())}
        report["in_scope: (oracle passes, lands, caught) -> targets"] = {
            str(k): v for k, v in sorted(Counter((r["oracle"] >= THRESHOLD, r["lands"], r["caught"]) for r in scoped).items())}
        # the targets the check passes at their stamped place but no candidate reaches: by scale, transform, kind
        unreached = [r for r in scoped if r["oracle"] >= THRESHOLD and not r["lands"]]
        report["in_scope: check passes at the place, no candidate lands -> targets by"] = {
            "scale": dict(Counter(name for r in unreached for name, lo, hi in MB.SCALE_BUCKETS if lo <= r["scale"] < hi)),
            "transform": dict(Counter(r["transform"] for r in unreached)),
            "kind": dict(Counter(r["kind"] for r in unreached))}
        report["oracle_target (all target rows)"] = f"{sum(r['oracle'] >= THRESHOLD for r in target)}/{len(target)}"
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps({"report": report, "positives": positives, "negatives": negatives}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("cache")
    c.add_argument("dir")
    c.add_argument("photos", nargs="?", default=str(Path(__file__).resolve().parents[1] / "../shared/data/photos"))
    c.add_argument("--limit", type=int, default=0)
    c.add_argument("--cases", type=int, default=8)
    c.add_argument("--seed", type=int, default=7)
    r = sub.add_parser("run")
    r.add_argument("dir")
    r.add_argument("--values", required=True)
    r.add_argument("--limit", type=int, default=0, help="only the first N photos")
    r.add_argument("--cases", type=int, default=0, help="only the first N positives of each photo")
    r.add_argument("--set", action="append", metavar="NAME=VALUE", help="a constant of ncii_shield/index/marks.py, or search.NAME of the check's (signals/marks/search.py)")
    r.add_argument("--negatives-only", action="store_true")
    r.add_argument("--oracle", action="store_true", help="also check each positive's stamped mark at its stamped places "
                   "(up to 4, as marks_bench.py --oracle) and report where the targets within the scope are lost")
    r.add_argument("--json")
    args = parser.parse_args()
    cache(args) if args.command == "cache" else run(args)


if __name__ == "__main__":
    main()
