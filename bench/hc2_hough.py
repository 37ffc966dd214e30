"""HC probe (issue 20, the large kind): can a scale + shift transform (no rotation: a crop, a screenshot's
picture) be voted for by *all* near descriptor pairs (each upload keypoint with its K nearest registered ones
under a distance, no ratio test), where the ratio test's pairs hold 0-5 true ones? For the uploads of
``hc2_oracle.py --json`` that verify misses while the cells at the true map would flag them, and against
unrelated photos: the best bin's votes, the true bin's votes, and the guided fit's consistent points from the
best bin.

    python bench/hc2_hough.py CACHE ORACLE.json --photos-dir DIR [--k 3] [--dist 64] [--unrelated 8]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import faiss
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import derivative_large as L  # noqa: E402
import hc2_oracle as O  # noqa: E402

from ncii_shield.signals.derivative import features as F  # noqa: E402
from ncii_shield.signals.derivative import verify as V  # noqa: E402
from ncii_shield.signals.derivative.verify import Upload  # noqa: E402

SCALES = np.round(np.exp(np.linspace(np.log(0.6), np.log(1.7), 60)), 4)
BIN = 4.0


def hough(pts, desc, reg, k, dist):  # noqa: ANN001, ANN201
    index = faiss.IndexBinaryFlat(256)
    index.add(np.ascontiguousarray(reg.descriptors, dtype=np.uint8))
    d, i = index.search(np.ascontiguousarray(desc, dtype=np.uint8), k)
    q, j = np.nonzero(d <= dist)
    src, dst = pts[q], reg.points[i[q, j]]
    lo = -0.5 * max(reg.frame_w, reg.frame_h)
    nx = int((1.5 * reg.frame_w - lo) / BIN) + 2
    ny = int((1.5 * reg.frame_h - lo) / BIN) + 2
    shift = np.floor((dst[None] - SCALES[:, None, None] * src[None] - lo) / BIN).astype(np.int64)
    ok = (shift[..., 0] >= 0) & (shift[..., 0] < nx) & (shift[..., 1] >= 0) & (shift[..., 1] < ny)
    kk = np.broadcast_to(np.arange(len(SCALES))[:, None], ok.shape)
    # one vote per upload keypoint per bin (its K partners can fall in one bin)
    key = ((kk[ok] * ny + shift[..., 1][ok]) * nx + shift[..., 0][ok]) * len(pts) + np.broadcast_to(q[None], ok.shape)[ok]
    key = np.unique(key) // len(pts)
    votes = np.bincount(key, minlength=len(SCALES) * ny * nx).reshape(len(SCALES), ny, nx)
    votes = votes[:, :-1, :-1] + votes[:, 1:, :-1] + votes[:, :-1, 1:] + votes[:, 1:, 1:]
    at = np.unravel_index(int(np.argmax(votes)), votes.shape)
    s, tx, ty = float(SCALES[at[0]]), lo + (at[2] + 1) * BIN, lo + (at[1] + 1) * BIN
    return int(votes[at]), np.array([[s, 0.0, tx], [0.0, s, ty]]), votes, lo


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("cache")
    p.add_argument("oracle")
    p.add_argument("--photos-dir", required=True)
    p.add_argument("--k", type=int, default=3)
    p.add_argument("--dist", type=int, default=64)
    p.add_argument("--unrelated", type=int, default=8)
    a = p.parse_args()
    rows = [r for r in json.loads(Path(a.oracle).read_text()) if r["verify"] != "derivative"]
    paths = sorted(q for q in Path(a.photos_dir).iterdir() if q.suffix.lower() in (".jpg", ".jpeg", ".png"))
    feats = {}

    def reg_of(i):  # noqa: ANN001, ANN202
        if i not in feats:
            feats[i] = F.photo_features(L.B.load_rgb(paths[i]))
        return feats[i]
    rng = np.random.default_rng(1)
    chance = []
    for r in rows:
        i = r["photo"]
        u = next(u for u in json.loads((Path(a.cache) / f"{i:03d}.json").read_text())
                 if u["format"] == "single" and u["edit"] == "large" and u["transform"] == r["transform"])
        up = Upload.from_rgb(L._decode(bytes.fromhex(u["jpeg"])))
        mir = r["transform"] == "mirror"
        pts, desc = (up.mirrored_points, up.mirrored_descriptors) if mir else (up.points, up.descriptors)
        reg = reg_of(i)
        best, m, votes, lo = hough(pts, desc, reg, a.k, a.dist)
        fit = V._ransac(*V._guided_pairs(pts, desc, reg, m))
        inl = fit[1] if fit is not None else 0
        dense = None
        if fit is not None and inl >= V.FEW_INLIERS and V._plausible_shape(fit[0]) is None:
            v = V._compare(reg, up.frame, fit[0], inl, mir, fit[2])
            dense = (v.outcome.value, v.details.get("dense", 0))
        others = []
        for j in rng.choice([x for x in range(len(paths)) if x != i and x not in u["related"]], a.unrelated, replace=False):
            ob, om, _, _ = hough(pts, desc, reg_of(int(j)), a.k, a.dist)
            ofit = V._ransac(*V._guided_pairs(pts, desc, reg_of(int(j)), om))
            od = None
            if ofit is not None and ofit[1] >= V.FEW_INLIERS and V._plausible_shape(ofit[0]) is None:
                ov = V._compare(reg_of(int(j)), up.frame, ofit[0], ofit[1], mir, ofit[2])
                od = (ov.outcome.value, ov.details.get("dense", 0))
            others.append((ob, ofit[1] if ofit is not None else 0, od))
            chance.append(others[-1])
        print(json.dumps({"photo": i, "t": r["transform"], "oracle": r["oracle"], "odense": r["oracle_dense"],
                          "best": best, "scale": round(float(m[0, 0]), 3), "true_scale": r["scale"], "inl": inl,
                          "judged": dense, "others": others}), flush=True)
    print(json.dumps({"chance_best_votes_top": sorted((c[0] for c in chance), reverse=True)[:10],
                      "chance_inl_top": sorted((c[1] for c in chance), reverse=True)[:10],
                      "chance_judged": [c[2] for c in chance if c[2]]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
