"""Graduated filters against local edits, photo by photo (issue 20; helper HD, 2026-12-07 #6): each of the first
N benchmark photos through bench/derivative_large.py's graduated FILTERS (filtered re-shares: a derivative verdict
is wrong), and through a local edit under the same tint (a flat or recoloured block: a derivative verdict is right),
JPEG 85, verified directly against itself with verify.GRADED on and off.

Usage (from a snapshot's root)::

    PYTHONPATH=src python bench/hd_graded_probe.py --photos 20 [--edits]
"""
import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/: the edit the unit tests make

import derivative_bench as B
import derivative_large as L
from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative import verify as V
from tests.unit.signals.test_derivative_graded import _edited as block_edit

GRADED_FILTERS = ("graduated tint", "plateau tint", "blue sky plateau", "dark foot plateau", "angled tint 30",
                  "angled tint 60", "corner tint")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=10)
    ap.add_argument("--photos-dir", default="/work/shared/data/photos")
    ap.add_argument("--edits", action="store_true", help="also a flat and a recoloured block under each tint")
    args = ap.parse_args()
    paths = sorted(p for p in Path(args.photos_dir).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    counts: Counter = Counter()
    took = Counter()
    for i, path in enumerate(paths[: args.photos]):
        base = B.shrink(B.load_rgb(path))
        reg = F.decode(F.encode(F.photo_features(base)))
        cases = [(name, L.FILTERS[name](base), "re-share") for name in GRADED_FILTERS]
        if args.edits:
            for kind in ("flat", "recolour"):
                cases += [(f"{kind} under {name}", L.FILTERS[name](block_edit(base, kind)), "derivative")
                          for name in GRADED_FILTERS]
        for name, img, truth in cases:
            upload = V.Upload.from_rgb(B.reencode(img, 85))
            line = []
            for graded in (False, True):
                V.GRADED = graded
                t0 = time.perf_counter()
                v = V.verify(reg, upload)
                took[graded] += time.perf_counter() - t0
                wrong = (v.outcome.value == "derivative") != (truth == "derivative")
                counts[(name, graded, "wrong")] += wrong
                counts[(name, graded, "n")] += 1
                line.append(f"{v.outcome.value[:5]} {v.reason[:44]:44s}")
            print(f"{i:3d} {name:34s} {truth:10s} off: {line[0]} | on: {line[1]}", flush=True)
    print("\nwrong verdicts (GRADED off -> on):")
    for name in sorted({k[0] for k in counts}):
        print(f"  {name:34s} {counts[(name, False, 'wrong')]:3d} -> {counts[(name, True, 'wrong')]:3d} "
              f"of {counts[(name, True, 'n')]}")
    print(f"verify seconds, off / on (loaded machine, not a speed figure): {took[False]:.1f} / {took[True]:.1f}")


if __name__ == "__main__":
    main()
