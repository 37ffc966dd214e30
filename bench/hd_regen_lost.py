"""Regen singles of a bench/derivative_large.py cache verified directly with verify.GRADED off and on (helper HD,
2026-12-07 #6): the uploads whose verdict differs, or those named (photo:transform ...).

Usage (from a snapshot's root)::

    PYTHONPATH=src python bench/hd_regen_lost.py CACHE [--photos N] [90:none 12:crop ...]
"""
import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import derivative_bench as B  # noqa: E402
from ncii_shield.signals.derivative import features as F  # noqa: E402
from ncii_shield.signals.derivative import verify as V  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cache")
    ap.add_argument("only", nargs="*")
    ap.add_argument("--photos", type=int, default=129)
    ap.add_argument("--photos-dir", default="/work/shared/data/photos")
    ap.add_argument("--kind", default="regen")
    args = ap.parse_args()
    paths = sorted(p for p in Path(args.photos_dir).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    only = {(int(s.split(":")[0]), s.split(":")[1]) for s in args.only}
    photos = sorted({p for p, _ in only}) if only else range(args.photos)
    changed = 0
    for i in photos:
        reg = None
        for r in json.loads((Path(args.cache) / f"{i:03d}.json").read_text()):
            if r["format"] != "single" or r["edit"] != args.kind or (only and (i, r["transform"]) not in only):
                continue
            reg = reg or B.register(paths[i])[0]
            upload = V.Upload.from_rgb(np.asarray(Image.open(io.BytesIO(bytes.fromhex(r["jpeg"]))).convert("RGB")))
            out = []
            for graded in (False, True):
                V.GRADED = graded
                v = V.verify(reg, upload)
                out.append((v.outcome.value, v.reason))
            changed += out[0][0] != out[1][0]
            if only or out[0][0] != out[1][0]:
                print(i, r["transform"], r.get("edit_box"), out, flush=True)
    print("changed:", changed)


if __name__ == "__main__":
    main()
