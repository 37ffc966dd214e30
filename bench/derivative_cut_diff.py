"""Issue 20: what a change to the composite cut (``signals/derivative/panels.py``) changes, upload by upload.

The composites of a ``derivative_large.py gen`` cache (the bench's uploads, byte for byte) are cut with
``panels.py`` as it is and with the constants given by ``--before`` (the change's switches turned off); only
the uploads whose pictures or units differ are then checked end to end (``find_instances`` over an index of
every protectable photo, as ``derivative_large.py run --e2e``) under both settings: fakes caught, flags
against unrelated photos, flags on the unedited instance. Cheaper than two full ``run``s when a change
touches few uploads.

Usage::

    python bench/derivative_large.py gen CACHE --kinds none --formats grid-9            # or other formats
    python bench/derivative_cut_diff.py CACHE --before AGAIN=0 --before ALIGNED_RING=0 [--json out.json]
    # --time: the cut's thread CPU per frame, both settings alternated (3 rounds over every composite)
    # --cells: where the code as it is loses fakes: every composite checked end to end, and for each fake
    #   lost, whether a cut picture matches its box (IoU >= 0.8) and whether its cell, cropped at its
    #   true box, is flagged when verified alone against its photo (the cut's share of the losses)
    # --singles: the cache's single uploads too (a change to the cut reaches them: a screenshot's bars, a
    #   line across one photo); per upload also own_flags (derivatives of its own photo: wrong flags for a
    #   re-share) and own_found (instances of its own photo, any verdict: a re-share must stay one)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import derivative_bench as B  # noqa: E402
import derivative_large as L  # noqa: E402

from ncii_shield.index.derivative import DerivativeIndex  # noqa: E402
from ncii_shield.signals.derivative import features as F  # noqa: E402
from ncii_shield.signals.derivative import panels as P  # noqa: E402
from ncii_shield.signals.derivative.features import to_frame  # noqa: E402
from ncii_shield.signals.derivative.instances import find_instances  # noqa: E402
from ncii_shield.signals.derivative.verify import Outcome, Upload, verify  # noqa: E402

STATE: dict = {}


def _values(items: list[str]) -> dict:
    """The panels.py constants ``items`` (NAME=VALUE) name, with those values (parsed as
    derivative_large.py's --set-panels parses them); panels.py is left as it was."""
    names = [item.split("=", 1)[0] for item in items]
    kept = {name: getattr(P, name) for name in names}
    L._set_constants(P, items)
    values = {name: getattr(P, name) for name in names}
    _apply(kept)
    return values


def _apply(values: dict) -> None:
    for name, value in values.items():
        setattr(P, name, value)


def _rgb(u: dict) -> np.ndarray:
    return L._decode(bytes.fromhex(u["jpeg"]))


def _iou(a: list[int], b: list[int]) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy / max(1, a[2] * a[3] + b[2] * b[3] - ix * iy)


def _cells(k: int) -> list[dict]:
    """The code as it is, one composite: per fake, caught end to end?, the best cut picture's IoU with its
    box, and its cell (cropped at the true box) verified alone against its photo."""
    u = STATE["uploads"][k]
    ids, index, feats = STATE["ids"], STATE["index"], STATE["features"]
    rgb = _rgb(u)
    upload = Upload.from_rgb(rgb)
    found = find_instances(rgb, upload, lambda p: [(None, h) for h in index.check(p)])
    own = [f for f in found if f.id == ids[u["photo"]] and f.verdict.outcome is Outcome.DERIVATIVE]
    pictures = [upload.to_pixels(b) for b in upload.panels]
    rows = []
    for box in u["fake_boxes"]:
        x, y, w, h = box
        alone = verify(feats[u["photo"]], Upload.from_rgb(np.ascontiguousarray(rgb[y:y + h, x:x + w]), panels=False))
        rows.append({"photo": u["photo"], "format": u["format"], "edit": u["edit"],
                     "caught": any(B._centre_in(f.verdict.instance_box, [tuple(box)]) is not None for f in own),
                     "cut_iou": round(max((_iou(b, box) for b in pictures), default=0.0), 3),
                     "alone": alone.outcome.value, "reason": alone.reason})
    return rows


def _check(k: int) -> dict:
    u = STATE["uploads"][k]
    ids, index = STATE["ids"], STATE["index"]
    out = {"photo": u["photo"], "format": u["format"], "edit": u["edit"], "fakes": len(u["fake_boxes"])}
    for side, values in (("before", STATE["before"]), ("after", STATE["after"])):
        _apply(values)
        rgb = _rgb(u)
        found = find_instances(rgb, Upload.from_rgb(rgb), lambda p: [(None, h) for h in index.check(p)])
        own = [f for f in found if f.id == ids[u["photo"]] and f.verdict.outcome is Outcome.DERIVATIVE]
        related = {ids[u["photo"]]} | {ids[j] for j in u["related"]}
        out[side] = {
            "caught": len({B._centre_in(f.verdict.instance_box, [tuple(b) for b in u["fake_boxes"]]) for f in own} - {None}),
            "flags_unrelated": sum(1 for f in found if f.id not in related and f.verdict.outcome is Outcome.DERIVATIVE),
            "on_original": sum(B._centre_in(f.verdict.instance_box, [tuple(b) for b in u["base_boxes"]]) is not None
                               for f in own),
            "own_flags": len(own),
            "own_found": sum(1 for f in found if f.id == ids[u["photo"]]),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cache")
    parser.add_argument("--photos-dir", default=str(HERE.parent.parent / "shared" / "data" / "photos"))
    parser.add_argument("--before", action="append", default=[], help="NAME=VALUE: a constant of panels.py, the cut before")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--json")
    parser.add_argument("--time", action="store_true", help="the cut's thread CPU per frame, both settings")
    parser.add_argument("--cells", action="store_true", help="where the code as it is loses fakes (every composite)")
    parser.add_argument("--singles", action="store_true",
                        help="the single uploads too (composites only by default)")
    args = parser.parse_args()
    after = {item.split("=", 1)[0]: getattr(P, item.split("=", 1)[0]) for item in args.before}
    before = _values(args.before)
    uploads = [r for f in sorted(Path(args.cache).glob("*.json")) for r in json.loads(f.read_text())
               if args.singles or r["format"] != "single"]
    changed = []
    frames = []
    for u in uploads:
        frame = to_frame(_rgb(u))
        cuts = []
        for values in (before, after):
            _apply(values)
            cuts.append(P.picture_cut(frame.grey, frame.cb, frame.cr))
        if cuts[0] != cuts[1]:
            changed.append(u)
        if args.time:
            frames.append(frame)
    print(f"{len(changed)} of {len(uploads)} {'uploads' if args.singles else 'composites'} cut differently",
          file=sys.stderr, flush=True)
    cpu: dict = {"before": [], "after": []}
    for rep in range(3 if args.time else 0):  # alternated, the order swapped each round
        for frame in frames:
            for side in (("before", "after") if rep % 2 == 0 else ("after", "before")):
                _apply(before if side == "before" else after)
                started = time.thread_time()
                P.picture_cut(frame.grey, frame.cb, frame.cr)
                cpu[side].append(1000 * (time.thread_time() - started))
    _apply(after)
    paths = sorted(p for p in Path(args.photos_dir).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    B.STATE.update(paths=paths, seed=7)
    ctx = mp.get_context("fork")
    with ctx.Pool(args.workers) as pool:
        feats = [f for f, _ in pool.map(B.register, paths)]
    plain = {k for k, f in enumerate(feats) if F.plain_reason(f)}
    ids = list(range(1, len(paths) + 1))
    index = DerivativeIndex()
    index.add_features_many([(f, ids[k]) for k, f in enumerate(feats) if k not in plain])
    STATE.update(uploads=changed, ids=ids, index=index, before=before, after=after, features=feats)
    with ctx.Pool(args.workers) as pool:
        rows = pool.map(_check, range(len(changed)))
    cells = []
    if args.cells:
        STATE["uploads"] = [u for u in uploads if u["format"] != "single"]
        with ctx.Pool(args.workers) as pool:
            cells = [c for cs in pool.map(_cells, range(len(STATE["uploads"])), chunksize=2) for c in cs]
    summary = {"uploads" if args.singles else "composites": len(uploads), "cut differently": len(changed),
               "settings before": args.before}
    for side in ("before", "after"):
        summary[side] = {key: sum(r[side][key] for r in rows) for key in ("caught", "flags_unrelated", "on_original")}
        summary[side]["fakes"] = sum(r["fakes"] for r in rows)
        # per kind of upload (format, edit): own-photo derivatives and own-photo instances of any verdict
        summary[side]["own_flags_found_by_kind"] = {
            f"{fmt} {edit}": [sum(r[side][k] for r in rows if (r["format"], r["edit"]) == (fmt, edit))
                              for k in ("own_flags", "own_found")]
            for fmt, edit in sorted({(r["format"], r["edit"]) for r in rows})}
    summary["gained"] = [(r["photo"], r["format"], r["edit"]) for r in rows if r["after"]["caught"] > r["before"]["caught"]]
    summary["lost"] = [(r["photo"], r["format"], r["edit"]) for r in rows if r["after"]["caught"] < r["before"]["caught"]]
    if args.time:
        summary["cut_cpu_ms_p50_mean"] = {side: [round(float(np.median(v)), 2), round(float(np.mean(v)), 2)]
                                          for side, v in cpu.items()}
    if args.cells:
        lost = [c for c in cells if not c["caught"]]
        summary["cells"] = {"fakes": len(cells), "caught": len(cells) - len(lost),
                            "lost by (cut, cell alone)": {f"{a}, {b}": n for (a, b), n in Counter(
                                ("cut ok" if c["cut_iou"] >= 0.8 else "cut wrong", c["alone"]) for c in lost).most_common()},
                            "lost, cut wrong, cell alone flagged": sorted(
                                (c["photo"], c["edit"], c["cut_iou"]) for c in lost
                                if c["cut_iou"] < 0.8 and c["alone"] == Outcome.DERIVATIVE.value),
                            "lost, cut ok, cell alone flagged": sorted(  # the candidate stage's
                                (c["photo"], c["edit"], c["cut_iou"]) for c in lost
                                if c["cut_iou"] >= 0.8 and c["alone"] == Outcome.DERIVATIVE.value)}
    print(json.dumps(summary, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "rows": rows, "cells": cells}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
