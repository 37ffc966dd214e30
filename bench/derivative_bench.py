"""Derivative detection: recall on edited copies of registered photos, false flags on unrelated pairs,
with whole-image PDQ side by side in the same run.

Usage::

    python bench/derivative_bench.py [PHOTOS] [--limit N] [--workers 2] [--seed 7] [--json out.json]
    python bench/derivative_bench.py [PHOTOS] --registry-size 100000 [--queries 300]   # scale run

PHOTOS defaults to ``../shared/data/photos`` (relative to the repository root): harmless photos only.

**Accuracy run.** Every photo is registered (its derivative signature; the photo is then only used
to make test uploads); photos too plain to protect are refused and not indexed, as on the server,
so their derivatives count as missed; photos with little detail are indexed, as on the server (which
registers them with a warning), and their recall is also reported apart. For each photo, from a copy at most 1024 pixels on its longer side:

* *edits*: a rectangle covering 15-50 % of the area (random aspect 1:2 to 2:1, random place) is
  replaced by a flat colour, random noise, a strong blur, a patch of another photo, or OpenCV
  inpainting (Telea) of the rectangle;
* each edit combined with each *transform*: none, JPEG 60-90, resize 0.4-0.8x, crop (up to 20 % of
  each side's length removed), mirror, rotation 1-5 degrees, a text watermark, a phone screenshot
  frame (status bar, header, caption), and three chains (crop+resize+JPEG; mirror+rotation+
  watermark+JPEG; screenshot of a resized copy, re-encoded);
* *re-shares*: every transform without an edit (must come back as a re-share, never a flag).

Every upload is saved as JPEG (quality 92 unless the transform chose lower), decoded, and checked
end to end (candidate search over the whole registry, then verification). A derivative counts as
caught when it is flagged against its own photo. A *false flag* is a flag against any other photo.
On top, every photo (re-encoded) is verified directly against every other registered photo
(all ordered unrelated pairs, bypassing candidate search). PDQ column: the upload's PDQ (best of
its 8 rotations/flips) within 31 of its original's.

**Scale run** (``--registry-size``): a synthetic registry of N entries — windows of the photos
(30-80 % of each side, random offset, optional mirror, gamma 0.8-1.25, resized to 256-320 pixels),
each with its own keypoints, so entries share no exact content offset — plus the real photos.
Uploads are derivatives as above. Reported: time per upload (decode excluded, feature extraction,
candidate search and verification of up to 8 candidates included), whether the true photo is
among the candidates, and index memory per registered photo. Synthetic entries' full signatures
are not stored: a synthetic candidate is verified against the signature of the photo its window
came from (same cost).
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pdqhash
from PIL import Image, ImageDraw, ImageFont

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ncii_shield.index.derivative import DerivativeIndex  # noqa: E402
from ncii_shield.signals.derivative import features as F  # noqa: E402
from ncii_shield.signals.derivative.instances import find_instances  # noqa: E402
from ncii_shield.signals.derivative.verify import Outcome, Upload, verify  # noqa: E402

EDITS = ("flat", "noise", "blur", "patch", "inpaint")
# issue 20, item 2: edit kinds the detector was not designed on. The first three were looked at
# while working on item 1 (tuned on, in principle: no threshold was changed for them); the last
# two are held out: never looked at before the reported run.
NEW_EDITS = ("regen", "large", "censor-caption")
HELD_OUT_EDITS = ("clothing", "graded")
ALL_NEW = NEW_EDITS + HELD_OUT_EDITS
NEW_TRANSFORMS = ("none", "jpeg", "resize", "crop", "mirror", "screenshot", "chain-crop-resize-jpeg")
# share formats: the edited picture inside a composite (the fake's panel is what must be flagged)
FORMATS = ("before-after", "two-fakes", "collage-4", "grid-9", "meme")
TRANSFORMS = ("none", "jpeg", "resize", "crop", "mirror", "rotate", "watermark", "screenshot",
              "chain-crop-resize-jpeg", "chain-mirror-rotate-watermark-jpeg", "chain-resize-screenshot-jpeg")
WORK_SIDE = 1024


# -- making test uploads -----------------------------------------------------------------------------

def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def shrink(rgb: np.ndarray, side: int = WORK_SIDE) -> np.ndarray:
    h, w = rgb.shape[:2]
    f = side / max(h, w)
    return rgb if f >= 1 else cv2.resize(rgb, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)


def region(rng: np.random.Generator, h: int, w: int) -> tuple[int, int, int, int]:
    share, aspect = rng.uniform(0.15, 0.5), rng.uniform(0.5, 2.0)
    rw = min(w, round(np.sqrt(share * w * h * aspect)))
    rh = min(h, round(share * w * h / rw))
    x, y = int(rng.integers(0, w - rw + 1)), int(rng.integers(0, h - rh + 1))
    return x, y, rw, rh


def apply_edit(kind: str, img: np.ndarray, box: tuple[int, int, int, int], rng: np.random.Generator,
               other: np.ndarray) -> np.ndarray:
    out = img.copy()
    x, y, w, h = box
    if kind == "flat":
        out[y:y + h, x:x + w] = rng.integers(0, 256, 3)
    elif kind == "noise":
        out[y:y + h, x:x + w] = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    elif kind == "blur":
        sigma = max(w, h) / 10
        out[y:y + h, x:x + w] = cv2.GaussianBlur(img[y:y + h, x:x + w], (0, 0), sigma,
                                                 borderType=cv2.BORDER_REPLICATE)
    elif kind == "patch":
        oh, ow = other.shape[:2]
        f = max(w / ow, h / oh)
        big = cv2.resize(other, (max(w, round(ow * f)), max(h, round(oh * f))), interpolation=cv2.INTER_AREA)
        out[y:y + h, x:x + w] = big[:h, :w]
    elif kind == "inpaint":  # at half resolution (Telea is slow on large holes), then put back
        small = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
        mask = np.zeros(small.shape[:2], np.uint8)
        mask[y // 2:(y + h) // 2 + 1, x // 2:(x + w) // 2 + 1] = 255
        filled = cv2.inpaint(small, mask, 5, cv2.INPAINT_TELEA)
        up = cv2.resize(filled, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)
        out[y:y + h, x:x + w] = up[y:y + h, x:x + w]
    return out


def _region_mask(rng: np.random.Generator, h: int, w: int, share: float) -> np.ndarray:
    """An irregular, clothing-shaped region (a torso: a rounded trapezoid, two sleeves, a hem curve)
    of about ``share`` of the photo."""
    mask = np.zeros((h, w), np.uint8)
    side = np.sqrt(share * w * h)
    cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.35, 0.75) * h
    top, bottom = side * rng.uniform(0.35, 0.5), side * rng.uniform(0.5, 0.7)
    height = side * rng.uniform(0.9, 1.3)
    pts = np.array([[cx - top, cy - height / 2], [cx + top, cy - height / 2], [cx + bottom, cy + height / 2],
                    [cx - bottom, cy + height / 2]])
    cv2.fillConvexPoly(mask, pts.astype(np.int32), 255)
    for sign in (-1, 1):  # sleeves
        centre = (int(cx + sign * top * 1.1), int(cy - height * 0.3))
        cv2.ellipse(mask, centre, (int(side * 0.18), int(side * 0.4)), float(sign * rng.uniform(20, 45)), 0, 360, 255, -1)
    cv2.ellipse(mask, (int(cx), int(cy + height / 2)), (int(bottom), int(side * 0.15)), 0, 0, 180, 255, -1)  # hem
    cv2.ellipse(mask, (int(cx), int(cy - height / 2)), (int(top * 0.6), int(side * 0.12)), 0, 0, 180, 0, -1)  # neckline
    return mask > 0


def apply_new_edit(kind: str, img: np.ndarray, rng: np.random.Generator, other: np.ndarray
                   ) -> tuple[np.ndarray, float]:
    """Issue 20's edit kinds; returns the upload and the share of the photo edited."""
    h, w = img.shape[:2]
    out = img.copy()
    if kind == "regen":  # regenerated from its own content: structure kept, texture and colour replaced
        box = region(rng, h, w)
        x, y, bw, bh = box
        part = img[y:y + bh, x:x + bw]
        smooth = cv2.edgePreservingFilter(part, flags=cv2.RECURS_FILTER, sigma_s=40, sigma_r=0.3)
        hsv = cv2.cvtColor(smooth, cv2.COLOR_RGB2HSV).astype(np.int16)
        hsv[..., 0] = (hsv[..., 0] + int(rng.integers(20, 70))) % 180
        hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.6, 1.4) + 20, 0, 255)
        regen = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
        texture = cv2.GaussianBlur(rng.normal(0, 18, (bh, bw)).astype(np.float32), (0, 0), 1.5)[..., None]
        out[y:y + bh, x:x + bw] = np.clip(regen + texture, 0, 255).astype(np.uint8)
        return out, bw * bh / (w * h)
    if kind == "large":  # 50-70 % of the photo replaced by another photo's content
        share = rng.uniform(0.5, 0.7)
        bw = min(w, round(np.sqrt(share * w * h * rng.uniform(0.8, 1.25))))
        bh = min(h, round(share * w * h / bw))
        x, y = int(rng.integers(0, w - bw + 1)), int(rng.integers(0, h - bh + 1))
        out = apply_edit("patch", img, (x, y, bw, bh), rng, other)
        return out, bw * bh / (w * h)
    if kind == "censor-caption":  # a fake, then censor bars over it and a meme caption on top
        box = region(rng, h, w)
        out = apply_edit(str(rng.choice(["noise", "patch", "flat"])), img, box, rng, other)
        x, y, bw, bh = box
        for k in range(int(rng.integers(1, 3))):
            by = y + int(bh * rng.uniform(0.1, 0.8))
            out[by:by + max(4, bh // 10), max(0, x - bw // 8): x + bw + bw // 8] = 0
        pil = Image.fromarray(out)
        d = ImageDraw.Draw(pil)
        size = max(14, h // 12)
        for yy, text in ((int(h * 0.03), "WHEN SHE THINKS"), (int(h * 0.85), "NOBODY WILL SEE IT")):
            d.text((w // 10, yy), text, font=_font(size), fill=(255, 255, 255), stroke_width=max(1, size // 12),
                   stroke_fill=(0, 0, 0))
        return np.asarray(pil), bw * bh / (w * h)
    if kind == "clothing":  # an irregular clothing-shaped region: another photo's texture, or recoloured
        mask = _region_mask(rng, h, w, rng.uniform(0.15, 0.4))
        if rng.integers(0, 2):
            fill = cv2.resize(other, (w, h), interpolation=cv2.INTER_AREA)
        else:
            hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV).astype(np.int16)
            hsv[..., 0] = (hsv[..., 0] + 90) % 180
            hsv[..., 2] = np.clip(hsv[..., 2] * 0.6 + 60, 0, 255)
            fill = cv2.GaussianBlur(cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB), (0, 0), 4)
        out[mask] = fill[mask]
        return out, float(mask.mean())
    if kind == "graded":  # a local edit, then the whole photo smoothed or colour graded
        box = region(rng, h, w)
        out = apply_edit(str(rng.choice(["noise", "patch", "inpaint"])), img, box, rng, other)
        if rng.integers(0, 2):
            out = cv2.bilateralFilter(out, 7, 40, 5) if rng.integers(0, 2) else cv2.GaussianBlur(out, (0, 0), 1.2)
        else:
            f = out.astype(np.float32) / 255
            f = f ** rng.uniform(0.8, 1.25) * np.array([rng.uniform(0.9, 1.1), 1.0, rng.uniform(0.85, 1.1)])
            f = 0.1 + 0.85 * f  # lifted blacks, softer whites
            out = np.clip(f * 255, 0, 255).astype(np.uint8)
        return out, box[2] * box[3] / (w * h)
    raise ValueError(kind)


def _fit_panel(img: np.ndarray, w: int, h: int) -> np.ndarray:
    """``img`` scaled to cover a w x h panel and centre-cropped, as collage apps do."""
    ih, iw = img.shape[:2]
    f = max(w / iw, h / ih)
    big = cv2.resize(img, (max(w, round(iw * f)), max(h, round(ih * f))), interpolation=cv2.INTER_AREA)
    y0, x0 = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
    return big[y0:y0 + h, x0:x0 + w]


def _grid(pictures: list[np.ndarray], cols: int, side: int, gutter: int, fit: bool
          ) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Pictures in a grid of ``cols`` columns; ``fit``: each cropped to fill a square cell, else each
    scaled to the cell's width (aspect kept). Returns the image and each picture's box."""
    rows = -(-len(pictures) // cols)
    cells = [_fit_panel(p, side, side) if fit else cv2.resize(p, (side, round(p.shape[0] * side / p.shape[1])),
                                                               interpolation=cv2.INTER_AREA) for p in pictures]
    row_h = [max(c.shape[0] for c in cells[r * cols:(r + 1) * cols]) for r in range(rows)]
    canvas = np.full((sum(row_h) + gutter * (rows - 1), cols * side + gutter * (cols - 1), 3), 255, np.uint8)
    boxes = []
    for k, c in enumerate(cells):
        r, q = divmod(k, cols)
        x, y = q * (side + gutter), sum(row_h[:r]) + gutter * r
        canvas[y:y + c.shape[0], x:x + c.shape[1]] = c
        boxes.append((x, y, c.shape[1], c.shape[0]))
    return canvas, boxes


def meme(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A picture inside a meme frame: a border and a caption band above (and sometimes below)."""
    ih, iw = img.shape[:2]
    pw = 640
    ph = round(ih * pw / iw)
    pic = cv2.resize(img, (pw, ph), interpolation=cv2.INTER_AREA)
    border, top = int(rng.integers(10, 40)), int(rng.integers(90, 160))
    bottom = int(rng.integers(0, 2)) * int(rng.integers(60, 120))
    dark = bool(rng.integers(0, 2))
    bg, fg = ((0, 0, 0), (255, 255, 255)) if dark else ((255, 255, 255), (0, 0, 0))
    canvas = Image.new("RGB", (pw + 2 * border, top + ph + bottom + 2 * border), bg)
    canvas.paste(Image.fromarray(pic), (border, top + border))
    d = ImageDraw.Draw(canvas)
    d.text((border + 10, border + 10), "me: posts one photo", font=_font(34), fill=fg)
    d.text((border + 10, border + 55), "the internet:", font=_font(34), fill=fg)
    if bottom:
        d.text((border + 10, top + ph + border + 15), "#sorrynotsorry", font=_font(30), fill=fg)
    return np.asarray(canvas), (border, top + border, pw, ph)


def composite(fmt: str, base: np.ndarray, fakes: list[np.ndarray], unrelated: list[np.ndarray],
              rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[int, int, int, int]], list[tuple[int, int, int, int]]]:
    """A share format holding fakes of ``base`` (and maybe base itself): the upload, the fakes' boxes,
    the unedited base's boxes."""
    gutter = int(rng.choice([0, 4, 10]))
    fit = bool(rng.integers(0, 2))
    if fmt == "meme":
        img, box = meme(fakes[0], rng)
        return img, [box], []
    if fmt == "before-after":
        pictures, kinds = [base, fakes[0]], ["base", "fake"]
        cols = 2 if rng.integers(0, 3) else 1  # side by side, or one above the other
    elif fmt == "two-fakes":
        pictures, kinds, cols = [fakes[0], fakes[1]], ["fake", "fake"], 2
    elif fmt == "collage-4":
        pictures, kinds, cols = [base, fakes[0], unrelated[0], unrelated[1]], ["base", "fake", "other", "other"], 2
    elif fmt == "grid-9":
        pictures, kinds, cols = [fakes[0], *unrelated[:8]], ["fake"] + ["other"] * 8, 3
    else:
        raise ValueError(fmt)
    order = rng.permutation(len(pictures))
    if fmt == "before-after" and rng.integers(0, 4) == 0:
        order = order[::-1]
    pictures, kinds = [pictures[k] for k in order], [kinds[k] for k in order]
    side = {1: 640, 2: 560, 3: 400}[cols]
    img, boxes = _grid(pictures, cols, side, gutter, fit)
    return img, [b for b, k in zip(boxes, kinds) if k == "fake"], [b for b, k in zip(boxes, kinds) if k == "base"]


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, size))


def watermark(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    pil = Image.fromarray(img).convert("RGBA")
    layer = Image.new("RGBA", pil.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    size = int(h * rng.uniform(0.035, 0.06))
    text = f"@share_bot_{int(rng.integers(100, 9999))} | t.me/example"
    x, y = int(rng.uniform(0.02, 0.3) * w), int(rng.uniform(0.05, 0.9) * h)
    draw.text((x, y), text, font=_font(size), fill=(255, 255, 255, int(rng.integers(120, 220))))
    return np.asarray(Image.alpha_composite(pil, layer).convert("RGB"))


def screenshot(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cw = 720
    ih, iw = img.shape[:2]
    pw = int(cw * rng.uniform(0.85, 1.0))
    ph = round(ih * pw / iw)
    top, header, bottom = 40, 90, 220
    dark = bool(rng.integers(0, 2))
    bg, fg = ((0, 0, 0), (240, 240, 240)) if dark else ((255, 255, 255), (20, 20, 20))
    canvas = Image.new("RGB", (cw, top + header + ph + bottom), bg)
    canvas.paste(Image.fromarray(cv2.resize(img, (pw, ph), interpolation=cv2.INTER_AREA)), ((cw - pw) // 2, top + header))
    d = ImageDraw.Draw(canvas)
    d.rectangle([0, 0, cw, top], fill=(30, 30, 30) if dark else (235, 235, 235))
    d.text((20, 8), "21:47", font=_font(22), fill=fg)
    d.text((cw - 120, 8), "5G  87%", font=_font(22), fill=fg)
    d.ellipse([20, top + 15, 80, top + 75], fill=(120, 120, 200))
    d.text((95, top + 28), "someone.shared.this", font=_font(26), fill=fg)
    y = top + header + ph + 20
    for i in range(4):
        d.ellipse([20 + 70 * i, y, 60 + 70 * i, y + 40], outline=fg, width=3)
    d.text((20, y + 70), "look at this lol #trending", font=_font(26), fill=fg)
    return np.asarray(canvas)


def rotate(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    angle = float(rng.uniform(1, 5) * rng.choice([-1, 1]))
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))


def crop(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    cx, cy = rng.uniform(0.05, 0.2), rng.uniform(0.05, 0.2)
    lx, ty = rng.uniform(0, cx), rng.uniform(0, cy)
    return img[round(ty * h): h - round((cy - ty) * h), round(lx * w): w - round((cx - lx) * w)]


def resize(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    f = rng.uniform(0.4, 0.8)
    h, w = img.shape[:2]
    return cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


def apply_transform(kind: str, img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    quality = 92
    steps = kind.removeprefix("chain-").split("-")
    for step in steps:
        if step == "jpeg":
            quality = int(rng.integers(60, 91))
        elif step == "resize":
            img = resize(img, rng)
        elif step == "crop":
            img = crop(img, rng)
        elif step == "mirror":
            img = np.ascontiguousarray(img[:, ::-1])
        elif step == "rotate":
            img = rotate(img, rng)
        elif step == "watermark":
            img = watermark(img, rng)
        elif step == "screenshot":
            img = screenshot(img, rng)
    return img, quality


def reencode(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def pdq_variants(rgb: np.ndarray) -> np.ndarray:
    vectors, _ = pdqhash.compute_dihedral(rgb)
    return np.packbits(np.array(vectors, dtype=np.uint8), axis=1)


def pdq_distance(variants: np.ndarray, registered: np.ndarray) -> np.ndarray:
    """Best distance over the query's 8 variants to each registered hash: shape (n_registered,)."""
    x = np.bitwise_xor(variants[:, None, :], registered[None, :, :])
    return np.unpackbits(x, axis=2).sum(axis=2).min(axis=0)


# -- workers (forked: they share the parent's registry and index) ------------------------------------

STATE: dict = {}


COMPOSITES_PER_FORMAT = 2


def _other(rng: np.random.Generator, i: int, n: int) -> int:
    j = int(rng.integers(0, n - 1))
    return j if j < i else j + 1


def uploads_for(i: int, seed: int):  # noqa: ANN201
    """Per photo: (edit, transform, format, share, image, rng, related photo indices, fakes' boxes,
    unedited copies' boxes); boxes only for composites."""
    photos, n = STATE["paths"], len(STATE["paths"])
    rng = np.random.default_rng([seed, i])
    base = shrink(load_rgb(photos[i]))
    h, w = base.shape[:2]
    for t in TRANSFORMS:
        yield "re-share", t, "single", None, base, rng, set(), [], []
    for e in EDITS:
        for t in TRANSFORMS:
            box = region(rng, h, w)
            j = _other(rng, i, n)
            other = shrink(load_rgb(photos[j]), 640) if e == "patch" else None
            yield e, t, "single", box[2] * box[3] / (w * h), apply_edit(e, base, box, rng, other), rng, \
                ({j} if e == "patch" else set()), [], []
    for e in ALL_NEW:
        for t in NEW_TRANSFORMS:
            j = _other(rng, i, n)
            fake, share = apply_new_edit(e, base, rng, shrink(load_rgb(photos[j]), 640))
            yield e, t, "single", share, fake, rng, {j}, [], []
    kinds = EDITS + ALL_NEW
    for fmt in FORMATS + ("two-copies",):
        for _ in range(COMPOSITES_PER_FORMAT):
            picks = [j if j < i else j + 1 for j in rng.choice(n - 1, size=min(8, n - 1), replace=False).tolist()]
            related = set(picks)
            unrelated = [shrink(load_rgb(photos[j]), 640) for j in picks]
            fakes, share, edit_kind = [], 0.0, "re-share"
            if fmt != "two-copies":
                for _ in range(2 if fmt == "two-fakes" else 1):
                    edit_kind = str(rng.choice(kinds))
                    j = _other(rng, i, n)
                    related.add(j)
                    other = shrink(load_rgb(photos[j]), 640)
                    if edit_kind in EDITS:
                        box = region(rng, h, w)
                        fakes.append(apply_edit(edit_kind, base, box, rng, other))
                        share = box[2] * box[3] / (w * h)
                    else:
                        fake, share = apply_new_edit(edit_kind, base, rng, other)
                        fakes.append(fake)
                img, fake_boxes, base_boxes = composite(fmt, base, fakes, unrelated, rng)
            else:
                img, fake_boxes, base_boxes = composite("before-after", base, [base], unrelated, rng)
                base_boxes, fake_boxes = base_boxes + fake_boxes, []
            yield (edit_kind if fmt != "two-fakes" else "mixed"), "jpeg", fmt, share, img, rng, related, \
                fake_boxes, base_boxes


def _centre_in(box: list[int] | None, boxes: list[tuple[int, int, int, int]]) -> int | None:
    """Index of the box among ``boxes`` holding ``box``'s centre (None: none)."""
    if not box:
        return None
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    for k, (x, y, bw, bh) in enumerate(boxes):
        if x <= cx < x + bw and y <= cy < y + bh:
            return k
    return None


def run_photo(i: int) -> list[dict]:
    index: DerivativeIndex = STATE["index"]
    ids, pdqs, seed = STATE["ids"], STATE["pdq"], STATE["seed"]
    rows = []
    for edit, transform, fmt, share, img, rng, related_idx, fake_boxes, base_boxes in uploads_for(i, seed):
        out, quality = apply_transform(transform, img, rng)
        upload = reencode(out, quality)
        started = time.perf_counter()
        prepared = Upload.from_rgb(upload)
        found = find_instances(upload, prepared, lambda u: [(None, h) for h in index.check(u)])
        elapsed = time.perf_counter() - started
        own = [f for f in found if f.id == ids[i]]
        own_flags = [f for f in own if f.verdict.outcome is Outcome.DERIVATIVE]
        if fmt == "single" or fmt == "two-copies":
            fakes = 0 if edit == "re-share" else 1
            caught = min(1, len(own_flags)) if fakes else 0
            on_original = len(own_flags) if not fakes else 0
        else:
            fakes = len(fake_boxes)
            # a composite's fake counts as caught when a flag against its photo lies in its panel
            hit = {_centre_in(f.verdict.instance_box, fake_boxes) for f in own_flags}
            caught = len(hit - {None})
            on_original = sum(_centre_in(f.verdict.instance_box, base_boxes) is not None for f in own_flags)
        # the photos a patch or a composite's other pictures came from are related, not unrelated
        related = {ids[i]} | {ids[j] for j in related_idx}
        flags_other = sum(1 for f in found if f.id != ids[i] and f.verdict.outcome is Outcome.DERIVATIVE)
        flags_unrelated = sum(1 for f in found if f.id not in related and f.verdict.outcome is Outcome.DERIVATIVE)
        reshare_other = sum(1 for f in found if f.id not in related and f.verdict.outcome is Outcome.RESHARE)
        outcome = "derivative" if fakes and caught == fakes else (own[0].verdict.outcome.value if own else "none")
        if fakes and caught < fakes and own_flags:
            outcome = "partial"
        reason = ""
        if fakes and caught < fakes:
            reason = "; ".join(f"{f.verdict.outcome.value} at {f.verdict.instance_box}: {f.verdict.reason}" for f in own) \
                or f"not found ({len(found)} other instances)"
        d = pdq_distance(pdq_variants(upload), pdqs)
        others = np.delete(d, sorted({i} | set(related_idx)))
        rows.append({"photo": i, "edit": edit, "transform": transform, "format": fmt, "share": share,
                     "fakes": fakes, "caught": caught, "own": outcome, "flags_on_original": on_original,
                     "reason": reason, "flags_source": flags_other - flags_unrelated,
                     "flags_other": flags_unrelated, "reshare_other": reshare_other, "seconds": elapsed,
                     "pdq_own": int(d[i]), "pdq_other_hits": int((others <= 31).sum()),
                     "related": len(related_idx)})
    return rows


def negatives_for(i: int) -> dict:
    feats, ids = STATE["features"], STATE["ids"]
    upload = Upload.from_rgb(reencode(shrink(load_rgb(STATE["paths"][i])), 90))
    counts: dict[str, int] = defaultdict(int)
    worst = []
    for j, reg in enumerate(feats):
        if j == i:
            continue
        v = verify(reg, upload)
        counts[v.outcome.value] += 1
        if v.outcome is not Outcome.NONE:
            worst.append((i, j, v.outcome.value, v.reason))
    return {"counts": dict(counts), "flagged": worst}


def register(path: Path) -> tuple[F.PhotoFeatures, np.ndarray]:
    rgb = load_rgb(path)
    bits, _ = pdqhash.compute(rgb)
    return F.photo_features(rgb), np.packbits(bits.astype(np.uint8))


# -- report ----------------------------------------------------------------------------------------

def table(rows: list[dict], key: str, title: str) -> list[str]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[r[key]].append(r)
    lines = [f"| {title} | uploads | fakes | flagged (ours) | PDQ <= 31 (uploads) |", "|---|---:|---:|---:|---:|"]
    for name, rs in groups.items():
        fakes, ours = sum(r["fakes"] for r in rs), sum(r["caught"] for r in rs)
        pdq = sum(r["pdq_own"] <= 31 for r in rs)
        lines.append(f"| {name} | {len(rs)} | {fakes} | {ours / max(1, fakes):.1%} | {pdq / len(rs):.1%} |")
    fakes, ours = sum(r["fakes"] for r in rows), sum(r["caught"] for r in rows)
    pdq = sum(r["pdq_own"] <= 31 for r in rows)
    lines.append(f"| **all** | {len(rows)} | {fakes} | **{ours / max(1, fakes):.2%}** ({ours:,}) | {pdq / max(1, len(rows)):.1%} |")
    return lines


def accuracy(args: argparse.Namespace, paths: list[Path]) -> dict:
    started = time.perf_counter()
    with mp.get_context("fork").Pool(args.workers) as pool:
        registered = pool.map(register, paths)
    feats = [f for f, _ in registered]
    pdq = np.stack([p for _, p in registered])
    plain = [(p.name, F.plain_reason(f)) for p, f in zip(paths, feats) if F.plain_reason(f)]
    plain_names = {name for name, _ in plain}
    weak = [(p.name, F.weak_reason(f)) for p, f in zip(paths, feats) if not F.plain_reason(f) and F.weak_reason(f)]
    weak_names = {name for name, _ in weak}
    index = DerivativeIndex()
    ids = list(range(1, len(paths) + 1))
    # as the server does: a photo too plain to protect is refused, so its derivatives cannot be flagged
    index.add_features_many([(f, k) for p, f, k in zip(paths, feats, ids) if p.name not in plain_names])
    STATE.update(paths=paths, features=feats, pdq=pdq, index=index, ids=ids, seed=args.seed)
    print(f"registered {len(paths)} photos in {time.perf_counter() - started:.1f} s; too plain: {plain}; "
          f"protected with a warning: {weak}", file=sys.stderr)
    makers = range(len(paths))
    if args.uploads_from and args.uploads_from < len(paths):
        makers = sorted(np.random.default_rng(args.seed + 1).choice(len(paths), args.uploads_from, replace=False).tolist())
    with mp.get_context("fork").Pool(args.workers) as pool:
        rows = []
        for k, chunk in enumerate(pool.imap(run_photo, makers)):
            rows += chunk
            print(f"  {k + 1}/{len(makers)} photos, {len(rows)} uploads, {time.perf_counter() - started:.0f} s",
                  file=sys.stderr, flush=True)
        print(f"checked {len(rows)} uploads from {len(makers)} photos", file=sys.stderr)
        # every photo that made uploads (all of them without --uploads-from) verified directly against
        # every other registered photo
        negatives = pool.map(negatives_for, makers) if not args.no_direct else []
    edited = [r for r in rows if r["fakes"]]
    reshares = [r for r in rows if r["edit"] == "re-share" and r["format"] == "single"]
    copies = [r for r in rows if r["format"] == "two-copies"]
    neg_counts: dict[str, int] = defaultdict(int)
    for n in negatives:
        for k, v in n["counts"].items():
            neg_counts[k] += v
    direct_pairs = sum(neg_counts.values())
    e2e_pairs = sum(len(paths) - 1 - r["related"] for r in rows)
    false_flags = sum(r["flags_other"] for r in rows) + neg_counts.get("derivative", 0)
    pdq_false = sum(r["pdq_other_hits"] for r in rows)
    seconds = np.array([r["seconds"] for r in rows]) * 1000
    missed = [f"{paths[r['photo']].name} {r['edit']} {r['transform']} {r['format']} share={r['share']:.2f}: {r['own']} "
              f"({r['reason']})" for r in edited if r["own"] != "derivative" and paths[r["photo"]].name not in plain_names]

    def recall(rs: list[dict]) -> float:
        return sum(r["caught"] for r in rs) / max(1, sum(r["fakes"] for r in rs))

    single = [r for r in edited if r["format"] == "single"]
    bench_kinds = [r for r in single if r["edit"] in EDITS]
    tuned = [r for r in single if r["edit"] in NEW_EDITS]
    held_out = [r for r in single if r["edit"] in HELD_OUT_EDITS]
    composites = [r for r in edited if r["format"] != "single"]
    protectable = [r for r in edited if paths[r["photo"]].name not in plain_names]
    of_weak = [r for r in edited if paths[r["photo"]].name in weak_names]
    summary = {
        "photos": len(paths), "too_plain": plain, "weak": weak, "edited_uploads": len(edited),
        "weak_edited_uploads": len(of_weak),
        "recall_weak": recall(of_weak),
        "protectable_edited_uploads": len(protectable),
        "recall": recall(protectable),
        "recall_all_edited": recall(edited),
        "recall_benchmark_kinds": recall(bench_kinds), "recall_new_kinds_looked_at": recall(tuned),
        "recall_held_out_kinds": recall(held_out), "recall_composites": recall(composites),
        "recall_by_format": {f: recall([r for r in edited if r["format"] == f]) for f in ("single",) + FORMATS},
        "flags_on_unedited_instances": sum(r["flags_on_original"] for r in rows),
        "two_copies_outcomes": {k: sum(r["own"] == k for r in copies) for k in ("reshare", "derivative", "none")},
        "pdq_recall": sum(r["pdq_own"] <= 31 for r in edited) / max(1, len(edited)),
        "reshares": len(reshares),
        "reshare_outcomes": {k: sum(r["own"] == k for r in reshares) for k in ("reshare", "derivative", "none")},
        "pdq_reshare_recall": sum(r["pdq_own"] <= 31 for r in reshares) / max(1, len(reshares)),
        "unrelated_pairs_end_to_end": e2e_pairs, "unrelated_pairs_direct": direct_pairs,
        "false_flags": false_flags, "false_reshare_matches": sum(r["reshare_other"] for r in rows)
        + neg_counts.get("reshare", 0),
        "pdq_false_matches_end_to_end": pdq_false,
        "patch_source_matches": sum(r["flags_source"] for r in rows),
        "rule_of_three_bound": 3 / (e2e_pairs + direct_pairs),
        "check_ms_p50": float(np.percentile(seconds, 50)), "check_ms_p95": float(np.percentile(seconds, 95)),
        "negatives_flagged": [x for n in negatives for x in n["flagged"]][:50],
        "reshares_flagged": [f"{paths[r['photo']].name} {r['transform']}: {r['reason']}" for r in reshares
                             if r["own"] == "derivative"],
        "missed": missed,
        "seconds": time.perf_counter() - started,
    }
    lines = ["## Derivative detection, accuracy", "",
             f"{len(paths) - len(plain)} photos protectable; {len(plain)} refused at registration as too plain "
             f"({', '.join(sorted(plain_names)) or 'none'}) and not indexed: their "
             f"{len(edited) - len(protectable)} edited uploads count as missed in the tables below "
             f"(recall over the protectable photos only: {summary['recall']:.1%}) and stay in as negatives "
             "against every other photo.",
             f"{len(weak)} photos protected with a warning (little detail: {', '.join(sorted(weak_names)) or 'none'}): "
             f"{summary['recall_weak']:.1%} of their {len(of_weak)} edited uploads flagged.", ""]
    lines += ["Single pictures, the benchmark's own edit kinds:", ""] + table(bench_kinds, "edit", "edit") + [""]
    lines += ["Single pictures, new kinds (issue 20; looked at while working):", ""] + table(tuned, "edit", "edit") + [""]
    lines += ["Single pictures, new kinds held out (never looked at before this run):", ""]
    lines += table(held_out, "edit", "edit") + [""]
    lines += ["All single pictures by transform:", ""] + table(single, "transform", "transform") + [""]
    lines += ["Share formats (a composite's fake counts as caught when a flag against its photo lies in its picture):",
              ""] + table(edited, "format", "format") + [""]
    lines += ["Composites by the fake's edit kind:", ""] + table(composites, "edit", "edit") + [""]
    lines += [f"- re-shares (no edit): {len(reshares)}: {summary['reshare_outcomes']}; PDQ <= 31: "
              f"{summary['pdq_reshare_recall']:.1%}",
              f"- two unedited copies side by side: {len(copies)}: {summary['two_copies_outcomes']}; "
              f"flags on an unedited instance of the photo (any upload): {summary['flags_on_unedited_instances']}",
              f"- unrelated pairs: {e2e_pairs:,} end to end (every upload x every other registered photo) + "
              f"{direct_pairs:,} verified directly; false flags: {false_flags} "
              f"(rule of three: < {summary['rule_of_three_bound']:.1e} per pair at 95 %); "
              f"false re-share matches: {summary['false_reshare_matches']}; PDQ false matches end to end: {pdq_false}",
              f"- time per check (features + search + verification, 1 thread): p50 {summary['check_ms_p50']:.0f} ms, "
              f"p95 {summary['check_ms_p95']:.0f} ms ({args.workers} worker processes)",
              f"- missed: {len(missed)}"]
    print("\n".join(lines))
    for m in missed[:40]:
        print("  missed:", m)
    for n in summary["negatives_flagged"][:20]:
        print("  unrelated flagged:", n)
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photos", nargs="?", default=str(ROOT.parent / "shared" / "data" / "photos"))
    parser.add_argument("--limit", type=int, help="use only this many photos (a seeded sample)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--uploads-from", type=int,
                        help="make uploads from this many photos only (a seeded sample); all are registered")
    parser.add_argument("--no-direct", action="store_true", help="skip the direct all-pairs verification")
    parser.add_argument("--registry-size", type=int, help="scale run: synthetic registry of this many photos")
    parser.add_argument("--queries", type=int, default=300, help="scale run: uploads to time")
    parser.add_argument("--json", help="write the summary here")
    args = parser.parse_args()
    folder = Path(args.photos)
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    if not paths:
        parser.error(f"no photos in {folder}")
    if args.limit:
        rng = np.random.default_rng(args.seed)
        paths = sorted(rng.choice(paths, size=min(args.limit, len(paths)), replace=False).tolist())
    if args.registry_size:
        from derivative_scale import scale_run  # noqa: PLC0415 - bench/derivative_scale.py

        summary = scale_run(args, paths)
    else:
        summary = accuracy(args, paths)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
