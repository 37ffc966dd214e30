"""HC probe (issue 20, the large kind): what the cells say at the *true* transform. For each large single
of a ``derivative_large.py gen`` cache (crop, crop + resize + JPEG, screenshot, ...), the bench's own random
draws are replayed (the transforms record what they drew) to get the exact map from the upload's frame to
the registered photo's frame; the upload is then compared at that map (``verify._compare``, no consistent
points, anchors: the cells whose structure matches there) and against the photo through ``verify``.
Says, for the uploads ``verify`` misses, whether any transform search could flag them (the verdict and the
block of precisely matching cells at the true map), and how many of the ratio test's pairs vote for the
true shift (``_level_seed``'s statistic) against the best-voted shift.

    python bench/hc2_oracle.py CACHE --photos-dir DIR [--photos N] [--transforms crop,...] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import derivative_bench as B  # noqa: E402
import derivative_large as L  # noqa: E402

from ncii_shield.signals.derivative import features as F  # noqa: E402
from ncii_shield.signals.derivative import verify as V  # noqa: E402
from ncii_shield.signals.derivative.verify import Upload, verify  # noqa: E402


class _Rec:
    """An rng that records what it draws."""

    def __init__(self, rng) -> None:  # noqa: ANN001
        self.rng, self.vals = rng, []

    def uniform(self, *a):  # noqa: ANN002, ANN201
        v = self.rng.uniform(*a)
        self.vals.append(v)
        return v

    def integers(self, *a, **k):  # noqa: ANN002, ANN003, ANN201
        v = self.rng.integers(*a, **k)
        self.vals.append(v)
        return v

    def choice(self, *a, **k):  # noqa: ANN002, ANN003, ANN201
        v = self.rng.choice(*a, **k)
        self.vals.append(v)
        return v


CHAIN: list = []  # steps of the transform being applied: (name, image shape before, drawn values)


def _wrap(name: str, fn):  # noqa: ANN001, ANN202
    def inner(img, rng):  # noqa: ANN001, ANN202
        rec = _Rec(rng)
        out = fn(img, rec)
        CHAIN.append((name, img.shape[:2], rec.vals, out.shape[:2]))
        return out
    return inner


def _true_matrix(chain: list, base_hw, reg: F.PhotoFeatures, upload: Upload) -> np.ndarray:
    """2 x 3: the upload's frame -> the registered photo's frame."""
    # base pixels = current * s + o, per axis
    sx = sy = 1.0
    ox = oy = 0.0
    for name, (h, w), vals, (h2, w2) in chain:
        if name == "crop":
            cx, cy, lx, ty = vals
            ox, oy = ox + round(lx * w) * sx, oy + round(ty * h) * sy
        elif name == "resize":
            sx, sy = sx * w / w2, sy * h / h2
        elif name == "screenshot":
            pw = int(720 * vals[0])
            ph = round(h * pw / w)
            px, py = (720 - pw) // 2, 130
            # current = base_cur * (pw / w) + (px, py)  ->  base_cur = (current - p) * w / pw
            fx, fy = w / pw, h / ph
            ox, oy = ox - px * fx * sx, oy - py * fy * sy
            sx, sy = sx * fx, sy * fy
    bh, bw = base_hw
    rx, ry = reg.frame_w / bw, reg.frame_h / bh
    ufh, ufw = upload.frame.grey.shape
    ux, uy = upload.frame.width / ufw, upload.frame.height / ufh
    return np.array([[sx * ux * rx, 0.0, ox * rx], [0.0, sy * uy * ry, oy * ry]])


def _oracle(reg: F.PhotoFeatures, up: Upload, matrix: np.ndarray, mirrored: bool):  # noqa: ANN202
    """The comparison at the true map: anchors are the cells whose structure matches there."""
    import cv2
    size = (reg.frame_w, reg.frame_h)
    planes = [up.frame.grey, up.frame.cb, up.frame.cr]
    if mirrored:
        planes = [np.ascontiguousarray(p[:, ::-1]) for p in planes]
    warped = [cv2.warpAffine(p, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) for p in planes]
    mask = cv2.warpAffine(np.full(planes[0].shape, 255, np.uint8), matrix, size, flags=cv2.INTER_NEAREST, borderValue=0)
    mask = cv2.erode(mask, np.ones((5, 5), np.uint8)) > 0
    cells, cov = F.cell_summaries(*warped, mask=mask)
    r = reg.cells
    both = (r.std >= F.TEXTURE_STD) & (np.minimum(cells.std, F.STD_CAP) >= F.TEXTURE_STD) & (cov >= 0.97)
    match = both & (V._popcount16(cells.pattern ^ r.pattern) <= V.DENSE_BITS)
    block = V._largest_block(match)
    ys, xs = np.nonzero(block)
    anchors = np.stack([(xs + 0.5) * reg.frame_w / V.GRID, (ys + 0.5) * reg.frame_h / V.GRID], axis=1).astype(np.float32)
    v = V._compare(reg, up.frame, matrix, 0, mirrored, anchors)
    return v, int(match.sum()), int(block.sum()), float((cov >= 0.97).mean())


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("cache")
    p.add_argument("--photos-dir", required=True)
    p.add_argument("--photos", type=int)
    p.add_argument("--transforms", default="crop,chain-crop-resize-jpeg,screenshot,none,jpeg,resize,mirror")
    p.add_argument("--json")
    a = p.parse_args()
    paths = sorted(q for q in Path(a.photos_dir).iterdir() if q.suffix.lower() in (".jpg", ".jpeg", ".png"))
    B.STATE.update(paths=paths, seed=7)
    L.KINDS = ("large",)
    B.apply_edit, B.apply_new_edit = L._cheap_edit, L._new_edit
    B.crop, B.resize, B.screenshot = _wrap("crop", B.crop), _wrap("resize", B.resize), _wrap("screenshot", B.screenshot)
    memo: dict = {}
    load0, shrink0 = B.load_rgb, B.shrink

    def shrink(rgb, side=B.WORK_SIDE):  # noqa: ANN001, ANN202
        if isinstance(rgb, Path):
            if rgb not in memo:
                full = load0(rgb)
                memo[rgb] = (shrink0(full), shrink0(full, 640))
            return memo[rgb][0 if side == B.WORK_SIDE else 1]
        return shrink0(rgb, side)
    B.load_rgb, B.shrink = (lambda path: path), shrink
    wanted = set(a.transforms.split(","))
    out = []
    for i in range(a.photos or len(paths)):
        reg = F.photo_features(load0(paths[i]))
        cached = {(u["transform"]): u for u in json.loads((Path(a.cache) / f"{i:03d}.json").read_text())
                  if u["format"] == "single" and u["edit"] == "large"}
        base_hw = None
        for edit, transform, fmt, share, img, rng, related, _, _ in B.uploads_for(i, 7):
            if base_hw is None:
                base_hw = img.shape[:2]
            keep = edit == "large" and fmt == "single" and transform in wanted
            CHAIN.clear()
            B.apply_transform(transform, img if keep else L._DUMMY, rng)
            if not keep or transform not in cached:
                continue
            up = Upload.from_rgb(L._decode(bytes.fromhex(cached[transform]["jpeg"])))
            mirrored = transform == "mirror"
            m = _true_matrix([c for c in CHAIN], base_hw, reg, up)
            v = verify(reg, up)
            o, n_match, block, visible = _oracle(reg, up, m, mirrored)
            # the ratio test's pairs: votes for the true shift (within 2 bins) against the best-voted one
            desc, pts = (up.mirrored_descriptors, up.mirrored_points) if mirrored else (up.descriptors, up.points)
            good = V._pairs(desc, reg)
            best, _ = V._level_seed(pts, reg, good) if len(good) >= V.LEVEL_VOTES else (len(good), None)
            src = pts[[g.queryIdx for g in good]] if good else np.zeros((0, 2))
            dst = reg.points[[g.trainIdx for g in good]] if good else np.zeros((0, 2))
            true_votes = int((np.hypot(*(src @ m[:, :2].T + m[:, 2] - dst).T) <= 2 * V.LEVEL_BIN).sum()) if len(good) else 0
            row = {"photo": i, "transform": transform, "verify": v.outcome.value, "inliers": v.inliers,
                   "reason": v.reason[:90], "oracle": o.outcome.value, "oracle_dense": o.details.get("dense", 0),
                   "oracle_reason": o.reason[:120], "match": n_match, "block": block, "visible": round(visible, 2),
                   "scale": round(float(m[0, 0]), 3), "good": len(good), "seed_best": int(best), "true_votes": true_votes}
            out.append(row)
            print(json.dumps(row), flush=True)
    missed = [r for r in out if r["verify"] != "derivative"]
    print(json.dumps({"uploads": len(out), "verify_flagged": len(out) - len(missed),
                      "missed_by_oracle": Counter(f"{r['transform']}: {r['oracle']}" for r in missed).most_common(),
                      "missed_block_hist": sorted(Counter(min(r["block"] // 4 * 4, 40) for r in missed).items()),
                      "missed_true_votes_hist": sorted(Counter(min(r["true_votes"], 12) for r in missed).items())}))
    if a.json:
        Path(a.json).write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
