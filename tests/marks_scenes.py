"""Harmless synthetic marks for the marks tests: text logos in Pillow's bundled font, a ring, and
other text that only resembles them. Nothing is read from disk."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def text_mark(text: str, size: int = 56, fill: tuple[int, int, int] = (255, 255, 255), *,
              outline: tuple[int, int, int] | None = (0, 0, 0), ring: bool = True) -> np.ndarray:
    """An RGBA logo: ``text`` (with a thin outline) after a ring, on a transparent background."""
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = font.getbbox(text, stroke_width=2)
    pad, gap = 6, size + 12 if ring else 0
    image = Image.new("RGBA", (right - left + 2 * pad + gap, bottom - top + 2 * pad), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if ring:
        r = (bottom - top) // 2
        cx, cy = pad + r, pad + (bottom - top) // 2
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=fill + (255,), width=max(3, size // 8))
    stroke = {"stroke_width": 2, "stroke_fill": outline + (255,)} if outline else {}
    draw.text((pad + gap - left, pad - top), text, font=font, fill=fill + (255,), **stroke)
    return np.asarray(image)


def photo(seed: int, w: int = 800, h: int = 600) -> np.ndarray:
    """A photo-like picture: smooth colour gradients and a few large soft shapes, with sensor noise."""
    import cv2

    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for cells, weight in ((3, 0.6), (8, 0.3), (30, 0.1)):
        layer = rng.random((cells * h // w + 2, cells + 1, 3)).astype(np.float32)
        img += cv2.resize(layer, (w, h), interpolation=cv2.INTER_CUBIC) * 255 * weight
    for _ in range(12):
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(30, 160)), int(rng.integers(30, 160)))
        colour = tuple(float(c) for c in rng.integers(0, 256, 3))
        cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
    img = cv2.GaussianBlur(img, (0, 0), 2.0) + rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def paste(photo: np.ndarray, mark: np.ndarray, x: int, y: int, *, scale: float = 1.0,
          opacity: float = 1.0) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """``mark`` blended onto ``photo`` at (x, y), resized by ``scale``; returns the photo and the
    mark's box (x, y, w, h) of its visible part."""
    h, w = mark.shape[:2]
    m = np.asarray(Image.fromarray(mark).resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS))
    a = m[:, :, 3:4].astype(np.float32) / 255 * opacity
    out = photo.astype(np.float32).copy()
    region = out[y:y + m.shape[0], x:x + m.shape[1]]
    region[:] = region * (1 - a) + m[:, :, :3] * a
    ys, xs = np.nonzero(m[:, :, 3] > 25)
    box = (x + int(xs.min()), y + int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), box


def png(rgba: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgba).save(out, "PNG")
    return out.getvalue()


def reencoded(rgb: np.ndarray, quality: int = 75) -> np.ndarray:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(out.getvalue())).convert("RGB"))


def box_overlap(a, b) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy / (a[2] * a[3] + b[2] * b[3] - ix * iy)
