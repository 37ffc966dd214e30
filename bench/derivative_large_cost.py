"""CPU of issue 20's large-edit rules on unrelated uploads, settings alternating in one process.

Usage::

    python bench/derivative_large_cost.py [TREE] [--rounds 3]   # TREE: a checkout (default: this one)

The first 64 of the benchmark's photos (sorted names) are registered; the other 65, re-encoded at
JPEG 90, are unrelated uploads. Three comparisons, each setting alternating with its reference:

* ``rules``: verify() of 8 uploads against all 64 (512 unrelated pairs per round) with the rules of
  2026-12-06 #4 (weak fits of the guided pass, DENSE_LARGE, the whole-frame comparison) on and off;
* ``pretest``: the same pairs, the whole-frame comparison's pre-test (WHOLE_PRETEST) on and off (0);
* ``check``: DerivativeIndex.check of all 65 uploads against an index of the 64, the candidates the
  check does not verify compared as the upload's whole frame (index/derivative.py, ``whole_frame``)
  or not. Also how many checks have any candidate, and how many pre-tests and whole-frame
  comparisons that step made.
"""

import argparse
import sys
import time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("tree", nargs="?", default=str(Path(__file__).resolve().parents[1]))
parser.add_argument("--rounds", type=int, default=3)
args = parser.parse_args()
TREE = Path(args.tree)
sys.path.insert(0, str(TREE / "bench"))
sys.path.insert(0, str(TREE / "src"))

import derivative_bench as B  # noqa: E402

from ncii_shield.index import derivative as D  # noqa: E402
from ncii_shield.signals.derivative import features as F  # noqa: E402
from ncii_shield.signals.derivative import verify as V  # noqa: E402
from ncii_shield.signals.derivative.verify import Upload, verify  # noqa: E402

PHOTOS = next(d for d in (TREE.parent / "shared" / "data" / "photos", Path(__file__).resolve().parents[2] / "shared"
                          / "data" / "photos", Path("/work/shared/data/photos")) if d.is_dir())
paths = sorted(p for p in PHOTOS.iterdir() if p.suffix.lower() == ".jpg")
feats = [F.photo_features(B.load_rgb(p)) for p in paths[:64]]
ups = [Upload.from_rgb(B.reencode(B.shrink(B.load_rgb(p)), 90)) for p in paths[64:]]
index = D.DerivativeIndex()
index.add_features_many([(f, k + 1) for k, f in enumerate(feats) if not F.plain_reason(f)])
D.CHECK_THREADS = 1  # CPU of one thread's work
RULES = (V.WHOLE_FRAME, V.FEW_INLIERS, V.DENSE_LARGE)
PRETEST = V.WHOLE_PRETEST if hasattr(V, "WHOLE_PRETEST") else None
WHOLE = getattr(D, "whole_frame", None)
COUNT = {"pretests": 0, "compared": 0}


def _counted(fn, key):  # noqa: ANN001, ANN202
    def inner(*a, **k):  # noqa: ANN002, ANN003, ANN202
        COUNT[key] += 1
        return fn(*a, **k)
    return inner


def rules(on: bool) -> float:
    V.WHOLE_FRAME, V.FEW_INLIERS, V.DENSE_LARGE = RULES if on else (False, V.MIN_INLIERS, 10 ** 6)
    return _pairs()


def pretest(on: bool) -> float:
    V.WHOLE_PRETEST = PRETEST if on else 0
    try:
        return _pairs()
    finally:
        V.WHOLE_PRETEST = PRETEST


def _pairs() -> float:
    started = time.process_time()
    for u in ups[:8]:
        for f in feats:
            verify(f, u)
    return (time.process_time() - started) / (8 * len(feats)) * 1000


def check(on: bool) -> float:
    D.whole_frame = WHOLE if on else (lambda *a, **k: None)
    started = time.process_time()
    for u in ups:
        index.check(u)
    D.whole_frame = WHOLE
    return (time.process_time() - started) / len(ups) * 1000


tests = [rules] + ([pretest] if PRETEST is not None else []) + ([check] if WHOLE is not None else [])
res: dict = {(t.__name__, on): [] for t in tests for on in (False, True)}
for test in tests:
    for _ in range(args.rounds):
        for on in (False, True):
            res[(test.__name__, on)].append(test(on))
for (name, on), values in res.items():
    print(f"{name} {'on' if on else 'off'}: {[round(x, 2) for x in values]} ms CPU "
          f"per {'unrelated verification' if name != 'check' else 'unrelated check'}")
if WHOLE is not None:
    V._whole_pretest = _counted(V._whole_pretest, "pretests")
    V._compare = _counted(V._compare, "compared")
    with_candidates = sum(bool(index.candidates(u)) for u in ups)
    counts = {}
    for on in (False, True):
        D.whole_frame = WHOLE if on else (lambda *a, **k: None)
        COUNT.update(pretests=0, compared=0)
        hits = sum(len(index.check(u)) for u in ups)
        counts[on] = (COUNT["pretests"], COUNT["compared"], hits)
    D.whole_frame = WHOLE
    print(f"{len(ups)} unrelated checks, {with_candidates} with candidates; pre-tests, cell comparisons, hits "
          f"in all: hook off {counts[False]}, on {counts[True]}")
