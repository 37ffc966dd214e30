"""CPU of verify() for unrelated pairs with issue 20's large-edit rules (2026-12-06 #4: weak fits of the
guided pass, DENSE_LARGE, the whole-frame comparison) on and off, alternating in one process.

Usage::

    python bench/derivative_large_cost.py [TREE]   # TREE: a checkout (default: this one)

The first 64 of the benchmark's photos (sorted names) are registered; the next 8, re-encoded at
JPEG 90, are each verified against all 64 (512 unrelated pairs per round, 3 rounds per setting).
"""

import sys
import time
from pathlib import Path

TREE = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TREE / "bench"))
sys.path.insert(0, str(TREE / "src"))

import derivative_bench as B  # noqa: E402

from ncii_shield.signals.derivative import features as F  # noqa: E402
from ncii_shield.signals.derivative import verify as V  # noqa: E402
from ncii_shield.signals.derivative.verify import Upload, verify  # noqa: E402

paths = sorted(p for p in Path(TREE.parent / "shared" / "data" / "photos").iterdir() if p.suffix.lower() == ".jpg")
if not paths:
    paths = sorted(p for p in Path("/work/shared/data/photos").iterdir() if p.suffix.lower() == ".jpg")
feats = [F.photo_features(B.load_rgb(p)) for p in paths[:64]]
ups = [Upload.from_rgb(B.reencode(B.shrink(B.load_rgb(paths[i])), 90)) for i in range(64, 72)]


def run(on: bool) -> float:
    V.WHOLE_FRAME, V.FEW_INLIERS, V.DENSE_LARGE = (True, 5, 15) if on else (False, V.MIN_INLIERS, 10 ** 6)
    started = time.process_time()
    for u in ups:
        for f in feats:
            verify(f, u)
    return (time.process_time() - started) / (len(ups) * len(feats)) * 1000


res: dict = {True: [], False: []}
for _ in range(3):
    for on in (False, True):
        res[on].append(run(on))
print({("on" if k else "off"): [round(x, 2) for x in v] for k, v in res.items()}, "ms CPU per unrelated verification")
