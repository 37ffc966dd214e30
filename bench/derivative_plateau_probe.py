"""Graduated filters of other profiles than bench/derivative_large.py's one ``_tint`` (issue 20; the review of
2026-12-07 #5): a plateau at full strength down to a line and a feather, top, bottom or side, orange, blue or dark,
strengths 0.05-0.18, on the tests' four synthetic scenes (harmless: tests/derivative_scenes.py), JPEG 85, each
verified directly against its own registered scene. Every one is a filtered re-share: a "derivative" line is a
wrong verdict. One line per upload: scene, profile, outcome, reason.

Usage (from the repository root)::

    python bench/derivative_plateau_probe.py > out.txt    # ~1 min
    grep -c derivative out.txt

docs/benchmarks-history.md, "Derivatives: regen, the review's fix, 2026-12-07 #5 (lead)": 49 derivatives of 220 at
0b1f87f, 72 at 3e691ba, 47 with RECOLOUR_WIDE_ACROSS (a119cb5).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import numpy as np
from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative.verify import Upload, verify
from tests.derivative_scenes import scene
from tests.unit.signals.test_derivative_weak_kinds import jpeg_rgb, repeating

def lift(img, f):
    return np.clip(f(img.astype(np.float32) / 255.0) * 255.0, 0, 255).astype(np.uint8)

def profile(n, full, zero):
    """1 up to `full` (share of the side), falling linearly to 0 at `zero`."""
    t = np.linspace(0, 1, n)
    return np.clip((zero - t) / max(zero - full, 1e-6), 0, 1)

def tint(img, full, zero, colour, strength, side="top"):
    h, w = img.shape[:2]
    if side in ("top", "bottom"):
        p = profile(h, full, zero)
        p = p if side == "top" else p[::-1]
        ramp = p[:, None, None]
    else:
        p = profile(w, full, zero)
        p = p if side == "left" else p[::-1]
        ramp = p[None, :, None]
    c = np.array(colour)
    return lift(img, lambda x: x * (1 - strength * ramp) + strength * ramp * c)

ORANGE, BLUE, DARK = (1.0, 0.55, 0.1), (0.25, 0.45, 1.0), (0.0, 0.0, 0.0)
CASES0 = [("bench tint (0->0.5)", 0.0, 0.5, ORANGE, 0.35, "top"),
         ("plateau 0.3, fade to 0.5", 0.3, 0.5, ORANGE, 0.35, "top"),
         ("plateau 0.4, fade to 0.5", 0.4, 0.5, ORANGE, 0.35, "top"),
         ("plateau 0.5, fade to 0.6", 0.5, 0.6, ORANGE, 0.35, "top"),
         ("plateau 0.6, fade to 0.75", 0.6, 0.75, ORANGE, 0.35, "top"),
         ("blue sky plateau 0.35 fade 0.5", 0.35, 0.5, BLUE, 0.3, "top"),
         ("darken top plateau 0.3 fade 0.45", 0.3, 0.45, DARK, 0.35, "top"),
         ("bottom plateau 0.3 fade 0.5", 0.3, 0.5, ORANGE, 0.35, "bottom"),
         ("left plateau 0.3 fade 0.5", 0.3, 0.5, ORANGE, 0.35, "left"),
         ("weak 0.2 plateau 0.3 fade 0.5", 0.3, 0.5, ORANGE, 0.2, "top"),
         ("linear 0->0.7", 0.0, 0.7, ORANGE, 0.35, "top"),
         ]
CASES = [(f"{n} s={st}", fu, ze, c, st, sd) for st in (0.05, 0.08, 0.11, 0.14, 0.18) for (n, fu, ze, c, _, sd) in CASES0]
photos = [("repeating", repeating())] + [(f"scene{s}", scene(s)) for s in (1, 2, 3)]
for pname, img in photos:
    reg = F.decode(F.encode(F.photo_features(img)))
    for name, full, zero, colour, strength, side in CASES:
        v = verify(reg, Upload.from_rgb(jpeg_rgb(tint(img, full, zero, colour, strength, side), 85)))
        print(f"{pname:10s} {name:34s} {v.outcome.value:11s} {v.reason[:70]}", flush=True)
