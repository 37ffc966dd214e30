"""Synthetic, harmless test scenes and the edits/re-share transforms derivative detection must handle.

Scenes are random shapes over a multi-scale textured background (no photos, nothing read from disk).
Edits replace a rectangle with a flat colour, noise, a strong blur, a patch of another scene or
OpenCV inpainting; transforms are what re-sharing does (JPEG, resize, crop, mirror, small rotation,
text watermark, screenshot frame).
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

EDITS = ("flat", "noise", "blur", "patch", "inpaint")
TRANSFORMS = ("none", "jpeg", "resize", "crop", "mirror", "rotate", "watermark", "screenshot", "chain")


def _objects(rng: np.random.Generator, n: int, w: int, h: int) -> list[tuple]:
    out = []
    for _ in range(n):
        kind = int(rng.integers(0, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        size = int(rng.integers(15, 90))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        out.append((kind, x, y, size, colour, float(rng.uniform(0, 180))))
    return out


def _draw(img: np.ndarray, objects: list[tuple], shift: tuple[int, int] = (0, 0)) -> None:
    for kind, x, y, size, colour, angle in objects:
        x, y = x + shift[0], y + shift[1]
        if kind == 0:
            cv2.rectangle(img, (x, y), (x + size, y + size // 2), colour, -1)
        elif kind == 1:
            cv2.ellipse(img, (x, y), (size, size // 2), angle, 0, 360, colour, -1)
        else:
            cv2.line(img, (x, y), (x + size, y + size), colour, 3)


def scene(seed: int, w: int = 800, h: int = 600, *, moved: bool = False, objects: int = 160) -> np.ndarray:
    """A textured scene. ``moved=True``: the same scene shot again a moment later — the camera a few
    pixels off, slightly zoomed, every object a little displaced, fresh sensor noise."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for cells in (4, 12, 40, 120):
        layer = rng.random((cells * h // w + 1, cells, 3)).astype(np.float32)
        img += cv2.resize(layer, (w, h), interpolation=cv2.INTER_CUBIC) * (255 / 4)
    img = np.clip(img, 0, 255).astype(np.uint8)
    items = _objects(rng, objects, w, h)
    if not moved:
        _draw(img, items)
        return img
    later = np.random.default_rng(seed + 10_000)
    items = [(k, x + int(later.integers(-12, 13)), y + int(later.integers(-12, 13)), s, c, a + float(later.uniform(-20, 20)))
             for k, x, y, s, c, a in items]
    _draw(img, items)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), float(later.uniform(-1.5, 1.5)), 1.04)
    m[:, 2] += later.integers(-10, 11, 2)
    img = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    noise = later.normal(0, 6, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def edit(kind: str, img: np.ndarray, box: tuple[int, int, int, int], seed: int = 0) -> np.ndarray:
    """Replace the rectangle ``box`` = (x, y, w, h)."""
    rng = np.random.default_rng(seed)
    out = img.copy()
    x, y, w, h = box
    if kind == "flat":
        out[y:y + h, x:x + w] = (200, 60, 160)
    elif kind == "noise":
        out[y:y + h, x:x + w] = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    elif kind == "blur":
        out[y:y + h, x:x + w] = cv2.GaussianBlur(img[y:y + h, x:x + w], (0, 0), max(w, h) / 10,
                                                 borderType=cv2.BORDER_REPLICATE)
    elif kind == "patch":
        other = scene(seed + 777, img.shape[1], img.shape[0])
        out[y:y + h, x:x + w] = other[:h, :w]
    elif kind == "inpaint":
        mask = np.zeros(img.shape[:2], np.uint8)
        mask[y:y + h, x:x + w] = 255
        out = cv2.inpaint(img, mask, 5, cv2.INPAINT_TELEA)
    return out


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def watermark(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    pil = Image.fromarray(img).convert("RGBA")
    layer = Image.new("RGBA", pil.size, (0, 0, 0, 0))
    ImageDraw.Draw(layer).text((w // 10, int(h * 0.8)), "@reposted_by_someone | example.test",
                               font=_font(max(10, h // 22)), fill=(255, 255, 255, 190))
    return np.asarray(Image.alpha_composite(pil, layer).convert("RGB"))


def screenshot(img: np.ndarray) -> np.ndarray:
    ih, iw = img.shape[:2]
    cw = 720
    ph = round(ih * (cw - 40) / iw)
    canvas = Image.new("RGB", (cw, 40 + 90 + ph + 200), (255, 255, 255))
    canvas.paste(Image.fromarray(cv2.resize(img, (cw - 40, ph), interpolation=cv2.INTER_AREA)), (20, 130))
    d = ImageDraw.Draw(canvas)
    d.rectangle([0, 0, cw, 40], fill=(230, 230, 230))
    d.text((20, 8), "21:47", font=_font(22), fill=(0, 0, 0))
    d.text((95, 70), "someone.shared.this", font=_font(26), fill=(0, 0, 0))
    d.text((20, 130 + ph + 60), "look at this #trending", font=_font(26), fill=(0, 0, 0))
    return np.asarray(canvas)


def transform(kind: str, img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    if kind in ("none", "jpeg"):
        return img
    if kind == "resize":
        return cv2.resize(img, (int(w * 0.5), int(h * 0.5)), interpolation=cv2.INTER_AREA)
    if kind == "crop":
        return img[int(h * 0.08): h - int(h * 0.06), int(w * 0.1): w - int(w * 0.05)]
    if kind == "mirror":
        return np.ascontiguousarray(img[:, ::-1])
    if kind == "rotate":
        m = cv2.getRotationMatrix2D((w / 2, h / 2), 4.0, 1.0)
        return cv2.warpAffine(img, m, (w, h))
    if kind == "watermark":
        return watermark(img)
    if kind == "screenshot":
        return screenshot(img)
    if kind == "chain":  # mirror, crop, shrink, watermark, then re-encoded hard below
        return watermark(transform("resize", transform("crop", transform("mirror", img))))
    raise ValueError(kind)


def jpeg(img: np.ndarray, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(img).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def reshared(kind: str, img: np.ndarray) -> np.ndarray:
    """``transform`` then JPEG (quality 60 for the jpeg and chain transforms, else 90), decoded."""
    data = jpeg(transform(kind, img), 60 if kind in ("jpeg", "chain") else 90)
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
