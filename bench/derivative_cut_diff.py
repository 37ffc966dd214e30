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
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

os.environ.setdefault("OMP_NUM_THREADS", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import derivative_bench as B  # noqa: E402

from ncii_shield.index.derivative import DerivativeIndex  # noqa: E402
from ncii_shield.signals.derivative import features as F  # noqa: E402
from ncii_shield.signals.derivative import panels as P  # noqa: E402
from ncii_shield.signals.derivative.features import to_frame  # noqa: E402
from ncii_shield.signals.derivative.instances import find_instances  # noqa: E402
from ncii_shield.signals.derivative.verify import Outcome, Upload  # noqa: E402

STATE: dict = {}


def _settings(items: list[str]) -> dict:
    out = {}
    for item in items:
        name, value = item.split("=", 1)
        old = getattr(P, name)
        out[name] = value.lower() in ("1", "true") if isinstance(old, bool) else type(old)(float(value))
    return out


def _apply(values: dict) -> None:
    for name, value in values.items():
        setattr(P, name, value)


def _rgb(u: dict) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(bytes.fromhex(u["jpeg"]))).convert("RGB"))


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
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cache")
    parser.add_argument("--photos-dir", default=str(HERE.parent.parent / "shared" / "data" / "photos"))
    parser.add_argument("--before", action="append", default=[], help="NAME=VALUE: a constant of panels.py, the cut before")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args()
    after = {name: getattr(P, name) for name in _settings(args.before)}
    before = _settings(args.before)
    uploads = [r for f in sorted(Path(args.cache).glob("*.json")) for r in json.loads(f.read_text())
               if r["format"] != "single"]
    changed = []
    for u in uploads:
        frame = to_frame(_rgb(u))
        cuts = []
        for values in (before, after):
            _apply(values)
            cuts.append(P.picture_cut(frame.grey, frame.cb, frame.cr))
        if cuts[0] != cuts[1]:
            changed.append(u)
    print(f"{len(changed)} of {len(uploads)} composites cut differently", file=sys.stderr, flush=True)
    paths = sorted(p for p in Path(args.photos_dir).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    B.STATE.update(paths=paths, seed=7)
    ctx = mp.get_context("fork")
    with ctx.Pool(args.workers) as pool:
        feats = [f for f, _ in pool.map(B.register, paths)]
    plain = {k for k, f in enumerate(feats) if F.plain_reason(f)}
    ids = list(range(1, len(paths) + 1))
    index = DerivativeIndex()
    index.add_features_many([(f, ids[k]) for k, f in enumerate(feats) if k not in plain])
    STATE.update(uploads=changed, ids=ids, index=index, before=before, after=after)
    with ctx.Pool(args.workers) as pool:
        rows = pool.map(_check, range(len(changed)))
    summary = {"composites": len(uploads), "cut differently": len(changed), "settings before": args.before}
    for side in ("before", "after"):
        summary[side] = {key: sum(r[side][key] for r in rows) for key in ("caught", "flags_unrelated", "on_original")}
        summary[side]["fakes"] = sum(r["fakes"] for r in rows)
    summary["gained"] = [(r["photo"], r["format"], r["edit"]) for r in rows if r["after"]["caught"] > r["before"]["caught"]]
    summary["lost"] = [(r["photo"], r["format"], r["edit"]) for r in rows if r["after"]["caught"] < r["before"]["caught"]]
    print(json.dumps(summary, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
