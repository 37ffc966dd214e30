"""A band along one side of real photos replaced, against verify.BEYOND_OWN (issue 20; the review of 2026-12-07 #6, R's
N1; helper HC, 2026-12-07 #7).

Each of the first N benchmark photos (1,024 pixels on the longer side, as the bench works) gets a band along each side
(15 or 30 % of the picture) filled with one flat colour, or recoloured in place (bilateral smoothing, hue turned by 60,
saturation up: the photo's structure kept), JPEG 85, verified directly against its own registration with
verify.BEYOND_OWN off (the band taken for a collage's next picture and left out, as before) and on. Every upload is a
real edit: a derivative verdict is right. One line per upload, then per fill, side and share: uploads, derivatives
off, derivatives on.

Usage (from a snapshot's root)::

    PYTHONPATH=src:. python bench/hc_side_band.py --photos 24

docs/benchmarks-history.md, "Derivatives: graduated filters told from regenerated regions, 2026-12-07 #7 (HC)".
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import derivative_bench as B  # noqa: E402

from ncii_shield.signals.derivative import features as F  # noqa: E402
from ncii_shield.signals.derivative import verify as V  # noqa: E402

SIDES = ("right", "bottom", "left", "top")


def banded(img: np.ndarray, side: str, share: float, fill: str) -> np.ndarray:
    h, w = img.shape[:2]
    part = {"right": np.s_[:, int(w * (1 - share)):], "left": np.s_[:, : int(w * share)],
            "bottom": np.s_[int(h * (1 - share)):], "top": np.s_[: int(h * share)]}[side]
    out = img.copy()
    if fill == "flat":
        out[part] = (180, 120, 140)
    else:
        hsv = cv2.cvtColor(cv2.bilateralFilter(img, 9, 50, 7), cv2.COLOR_RGB2HSV).astype(np.int16)
        hsv[..., 0] = (hsv[..., 0] + 60) % 180
        hsv[..., 1] = np.clip(hsv[..., 1] * 1.3 + 30, 0, 255)
        out[part] = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[part]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=12)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--photos-dir", default="/work/shared/data/photos")
    args = ap.parse_args()
    paths = sorted(p for p in Path(args.photos_dir).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    counts: Counter = Counter()
    for i in range(args.first, min(len(paths), args.first + args.photos)):
        base = B.shrink(B.load_rgb(paths[i]))
        reg = F.decode(F.encode(F.photo_features(base)))
        for fill in ("flat", "recolour"):
            for share in (0.3, 0.15):
                for side in SIDES:
                    upload = V.Upload.from_rgb(B.reencode(banded(base, side, share, fill), 85))
                    out = []
                    for own in (False, True):
                        V.BEYOND_OWN = own
                        out.append(V.verify(reg, upload))
                    key = (fill, share, side)
                    counts[key, "n"] += 1
                    counts[key, "off"] += out[0].outcome is V.Outcome.DERIVATIVE
                    counts[key, "on"] += out[1].outcome is V.Outcome.DERIVATIVE
                    print(f"{i:3d} {fill:8s} {share:.2f} {side:6s} off: {out[0].outcome.value[:5]} {out[0].reason[:40]:40s}"
                          f" | on: {out[1].outcome.value[:5]} {out[1].reason[:50]}", flush=True)
    print("\nfill, share, side: uploads, derivatives with BEYOND_OWN off, on")
    total = Counter()
    for fill in ("flat", "recolour"):
        for share in (0.3, 0.15):
            for side in SIDES:
                row = [counts[(fill, share, side), c] for c in ("n", "off", "on")]
                total.update({(fill, c): v for c, v in zip(("n", "off", "on"), row)})
                print(f"  {fill:8s} {share:.2f} {side:6s} {row[0]:4d} {row[1]:4d} {row[2]:4d}")
    for fill in ("flat", "recolour"):
        print(f"  {fill:8s} all         {total[fill, 'n']:4d} {total[fill, 'off']:4d} {total[fill, 'on']:4d}")


if __name__ == "__main__":
    main()
