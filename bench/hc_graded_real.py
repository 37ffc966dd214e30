"""Regions regenerated at a corner or along a side of real photos, against verify.GRADED (issue 20; the review's
probe of 2026-12-07 #6, R's /tmp/r/probes/hd_real.py, rebuilt from its description by helper HC, 2026-12-07 #7).

A graduated filter (grading.py) is a colour blended in from a side or a corner; a region regenerated at a corner or
along a side of the photo (smoothed, darkened, warmed and re-noised: its change is close to a blend towards a dark
warm colour) is shaped like such a filter's plateau. Every upload here is a real edit: a derivative verdict is
right, a re-share verdict with GRADED on where GRADED off gave a derivative is a fake *cleared* by the model.

Each of the first N benchmark photos (1,024 pixels on the longer side, as the bench works) gets each region of
REGIONS, regenerated (bilateral smoothing x 3, brightness x DARKEN, warmed, Gaussian noise of 6 levels), laid in
with a soft edge (the mask blurred: EDGES, pixels at 1,024), JPEG 85, verified directly against its own
registration with GRADED off and on in the same process. One line per upload, then per region and edge: uploads,
derivatives with GRADED off, and of those the ones GRADED on clears (re-share).

Usage (from a snapshot's root)::

    PYTHONPATH=src:. python bench/hc_graded_real.py --photos 12 [--edges 4,16] [--darken 0.7]

docs/benchmarks-history.md, "Derivatives: graduated filters told from regenerated regions, 2026-12-07 #7 (HC)".
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import derivative_bench as B  # noqa: E402

from ncii_shield.signals.derivative import features as F  # noqa: E402
from ncii_shield.signals.derivative import verify as V  # noqa: E402

CORNERS = ((0, 0), (1, 0), (1, 1), (0, 1))  # (x, y) in shares: top-left, top-right, bottom-right, bottom-left


def _corner(i: int, k: int) -> tuple[int, int]:
    return CORNERS[(i + k) % 4]


def _mask(kind: str, i: int, h: int, w: int) -> np.ndarray:
    """The region's mask (float 0-1, hard edged) for photo ``i``: the corner cycles with the photo."""
    m = np.zeros((h, w), np.float32)
    if kind == "corner rectangle":
        cx, cy = _corner(i, 0)
        rw, rh = int(w * 0.42), int(h * 0.42)
        x0 = 0 if cx == 0 else w - rw
        y0 = 0 if cy == 0 else h - rh
        m[y0:y0 + rh, x0:x0 + rw] = 1
    elif kind == "small corner rectangle":
        cx, cy = _corner(i, 1)
        rw, rh = int(w * 0.3), int(h * 0.3)
        x0 = 0 if cx == 0 else w - rw
        y0 = 0 if cy == 0 else h - rh
        m[y0:y0 + rh, x0:x0 + rw] = 1
    elif kind == "corner disc":
        cx, cy = _corner(i, 2)
        cv2.circle(m, (int(cx * (w - 1)), int(cy * (h - 1))), int(0.5 * min(h, w)), 1.0, -1)
    elif kind == "bottom band":
        m[int(h * 0.72):] = 1
    elif kind == "top band":
        m[: int(h * 0.28)] = 1
    elif kind == "side band":  # left or right with the photo
        bw = int(w * 0.28)
        if i % 2:
            m[:, w - bw:] = 1
        else:
            m[:, :bw] = 1
    elif kind == "lower half":  # a body replaced below a line across the picture
        m[int(h * 0.5):] = 1
    else:
        raise ValueError(kind)
    return m


REGIONS = ("corner rectangle", "small corner rectangle", "corner disc", "bottom band", "top band", "side band",
           "lower half")


def regenerated(img: np.ndarray, rng: np.random.Generator, darken: float) -> np.ndarray:
    """The whole picture as a region regenerated from itself: smoothed, darkened, warmed, re-noised."""
    smooth = img
    for _ in range(3):
        smooth = cv2.bilateralFilter(smooth, 9, 50, 7)
    f = smooth.astype(np.float32) * darken * np.array([1.08, 1.0, 0.86], np.float32)
    noise = cv2.GaussianBlur(rng.normal(0, 6, img.shape[:2]).astype(np.float32), (0, 0), 1.0)[..., None]
    return np.clip(f + noise, 0, 255)


def edited(img: np.ndarray, kind: str, i: int, edge: float, darken: float, seed: int) -> np.ndarray:
    h, w = img.shape[:2]
    mask = _mask(kind, i, h, w)
    if edge > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), edge)[..., None]
    else:
        mask = mask[..., None]
    regen = regenerated(img, np.random.default_rng(seed), darken)
    return np.clip(img * (1 - mask) + regen * mask, 0, 255).astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=12)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--photos-dir", default="/work/shared/data/photos")
    ap.add_argument("--edges", default="4,16", help="the soft edge's Gaussian sigma, pixels at 1,024 (comma-separated)")
    ap.add_argument("--darken", type=float, default=0.7)
    ap.add_argument("--regions", default=",".join(REGIONS))
    args = ap.parse_args()
    paths = sorted(p for p in Path(args.photos_dir).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    edges = [float(e) for e in args.edges.split(",")]
    regions = args.regions.split(",")
    counts: Counter = Counter()
    took = Counter()
    for i in range(args.first, min(len(paths), args.first + args.photos)):
        base = B.shrink(B.load_rgb(paths[i]))
        reg = F.decode(F.encode(F.photo_features(base)))
        for kind in regions:
            for edge in edges:
                upload = V.Upload.from_rgb(B.reencode(edited(base, kind, i, edge, args.darken, 1000 * i + 7), 85))
                out = []
                for graded in (False, True):
                    V.GRADED = graded
                    t0 = time.perf_counter()
                    v = V.verify(reg, upload)
                    took[graded] += time.perf_counter() - t0
                    out.append(v)
                off, on = out
                key = (kind, edge)
                counts[key, "n"] += 1
                counts[key, "off"] += off.outcome is V.Outcome.DERIVATIVE
                counts[key, "on"] += on.outcome is V.Outcome.DERIVATIVE
                cleared = off.outcome is V.Outcome.DERIVATIVE and on.outcome is V.Outcome.RESHARE
                counts[key, "cleared"] += cleared
                print(f"{i:3d} {kind:22s} edge {edge:4.1f} off: {off.outcome.value[:5]} {off.reason[:46]:46s} | "
                      f"on: {on.outcome.value[:5]} {on.reason[:60]}{'  CLEARED' if cleared else ''}", flush=True)
    print("\nregion, edge: uploads, derivatives with GRADED off, with GRADED on, cleared (off derivative -> on re-share)")
    total = Counter()
    for kind in regions:
        for edge in edges:
            key = (kind, edge)
            row = [counts[key, c] for c in ("n", "off", "on", "cleared")]
            total.update(dict(zip(("n", "off", "on", "cleared"), row)))
            print(f"  {kind:22s} {edge:4.1f}  {row[0]:4d} {row[1]:4d} {row[2]:4d} {row[3]:4d}")
    print(f"  {'all':27s}  {total['n']:4d} {total['off']:4d} {total['on']:4d} {total['cleared']:4d}")
    print(f"verify seconds, off / on (not a speed figure): {took[False]:.1f} / {took[True]:.1f}")


if __name__ == "__main__":
    main()
