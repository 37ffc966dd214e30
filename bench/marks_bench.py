"""Service marks: recall on photos stamped with registered marks, false flags on unmarked photos
and on photos carrying other marks or plain text, and time per upload with 1,000 marks registered.

Usage::

    python bench/marks_bench.py [PHOTOS] [--cases 8] [--limit N] [--registry 1000] [--workers 1] [--json out.json]
    taskset -c 0,1 python bench/marks_bench.py [PHOTOS] --timing 200 --workers 2   # time per upload on 2 cores

PHOTOS defaults to ``../shared/data/photos`` (relative to the repository root): harmless photos only.

**Marks.** 24 marks drawn here (:func:`registered_marks`): text logos in eight DejaVu fonts and
several colours (with and without outline), shape logos (rings, star, shield, triangle with text),
semi-transparent stamps (a translucent box with text, an outlined stamp, a round seal) and tiled
patterns (a small motif repeated). The index holds these 24 plus synthetic marks up to
``--registry`` (random words in random fonts and colours, random polygons with or without a word;
never the registered marks' shapes), so recall is measured with the same 1,000-mark index as the
timing.

**Positives.** For every photo, ``--cases`` uploads: a mark (round robin) blended at a random
place, width 4-40 % of the photo's width (so 0.1-3x the registered mark's own size), opacity
30-100 %, single or tiled over the whole photo, then one re-share transform: none (JPEG 90), JPEG
50-70, resize 0.4-0.8, crop (up to 20 % off each side, keeping the mark), or a phone screenshot
frame (status bar, header, caption; the photo shrunk into it). Caught = flagged with that mark and
a box overlapping the stamped place (IoU > 0.3; for tiled marks, any of the stamped places).
Issue 19's scope is a mark at 0.3-3x of its registered image; the benchmark's marks are drawn 128-440
pixels wide and stamped on photos of 384-1,600 (median 1,000), so a third of its target rows (>= 4 %
wide, >= 40 % opaque) show the mark under 0.3x after the transform. The report gives recall on all
target rows and on those within the scope (``scale``: the stamped mark's visible width in the upload
over the registered image's), and by scale.

**Negatives.** Every photo unmarked (JPEG 90); every photo with an unregistered mark (other
words in the same fonts and colours as the registered ones, or random polygon logos with a word,
at 6-40 % width and 40-100 % opacity); every photo with plain text overlays (a caption line and a
username); every photo with a registered word mark one letter off (a letter replaced, inserted or
deleted), drawn in the mark's own font, colour, outline and size, at 6-40 % width and 40-100 % opacity
("look-alike", :func:`look_alike`, on its own random generator: the other uploads are those drawn before
it was added). Any flag on a negative is a false flag.

Time: per upload, frame preparation + keypoints + candidate search + checks, decode excluded,
thread CPU time and wall time, each upload on one thread. ``--timing N``: only N uploads (marked
and unmarked in turn, from the first photos) against the full index, with ``--workers`` processes
at once (2 on 2 cores: the throughput of a 2-core server), reporting latency p50/p95 and uploads/s.
Fonts: DejaVu from ``$MARKS_BENCH_FONTS`` or /usr/share/fonts/truetype/dejavu (Debian fonts-dejavu).
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import faiss
import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ncii_shield.index.marks import CANDIDATES, MarkIndex  # noqa: E402
from ncii_shield.signals.marks import template as T  # noqa: E402
from ncii_shield.signals.marks.search import THRESHOLD, UploadFrame, verify  # noqa: E402

FONTS_DIR = Path(os.environ.get("MARKS_BENCH_FONTS", "/usr/share/fonts/truetype/dejavu"))
FONTS = ["DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSerif-BoldItalic.ttf",
         "DejaVuSansCondensed-Bold.ttf", "DejaVuSans-ExtraLight.ttf", "DejaVuSans-Oblique.ttf",
         "DejaVuSerifCondensed-Bold.ttf"]
WHITE, BLACK = (255, 255, 255), (0, 0, 0)


def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    path = FONTS_DIR / name
    return ImageFont.truetype(str(path), size) if path.exists() else ImageFont.load_default(size=size)


def text_logo(text: str, font_name: str, fill=WHITE, outline=BLACK, size: int = 64, box=None) -> np.ndarray:
    f = font(font_name, size)
    stroke = 3 if outline else 0
    l, t, r, b = f.getbbox(text, stroke_width=stroke)
    pad = 14 if box else 4
    im = Image.new("RGBA", (r - l + 2 * pad, b - t + 2 * pad), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    if box:
        d.rounded_rectangle([0, 0, im.width - 1, im.height - 1], radius=10, fill=box)
    kw = {"stroke_width": stroke, "stroke_fill": outline + (255,)} if outline else {}
    d.text((pad - l, pad - t), text, font=f, fill=fill + (255,), **kw)
    return np.asarray(im)


def shape_logo(kind: str, fill=WHITE, text: str = "", font_name: str = FONTS[0], size: int = 120) -> np.ndarray:
    f = font(font_name, size // 3)
    tw = 0
    if text:
        l, t, r, b = f.getbbox(text, stroke_width=2)
        tw = r - l + 10
    im = Image.new("RGBA", (size + tw + 8, size + 8), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    c, s = fill + (255,), size
    o = BLACK + (255,)
    if kind == "rings":
        for k in range(3):
            d.ellipse([4 + k * 16, 4 + k * 16, 4 + s - k * 16, 4 + s - k * 16], outline=c, width=7)
    elif kind == "star":
        pts = []
        for i in range(10):
            a = np.pi / 2 + i * np.pi / 5
            r = s / 2 if i % 2 == 0 else s / 5
            pts.append((4 + s / 2 + r * np.cos(a), 4 + s / 2 - r * np.sin(a)))
        d.polygon(pts, fill=c, outline=o, width=3)
    elif kind == "shield":
        d.polygon([(4, 4), (4 + s, 4), (4 + s, 4 + s * 0.55), (4 + s / 2, 4 + s), (4, 4 + s * 0.55)], fill=c, outline=o, width=3)
        d.text((4 + s * 0.28, 4 + s * 0.2), "X", font=font(FONTS[0], s // 2), fill=BLACK + (255,))
    elif kind == "triangle":
        d.polygon([(4 + s / 2, 4), (4 + s, 4 + s), (4, 4 + s)], outline=c, width=9)
        d.ellipse([4 + s * 0.4, 4 + s * 0.55, 4 + s * 0.6, 4 + s * 0.75], fill=c)
    elif kind == "badge":
        d.rounded_rectangle([4, 4 + s * 0.2, 4 + s, 4 + s * 0.8], radius=14, fill=c, outline=o, width=3)
        d.text((4 + s * 0.18, 4 + s * 0.26), "HD", font=font(FONTS[2], int(s * 0.4)), fill=BLACK + (255,))
    elif kind == "seal":
        d.ellipse([4, 4, 4 + s, 4 + s], outline=c, width=6)
        d.ellipse([4 + 14, 4 + 14, 4 + s - 14, 4 + s - 14], outline=c, width=3)
        d.text((4 + s * 0.2, 4 + s * 0.33), "AI", font=font(FONTS[0], int(s * 0.35)), fill=c)
    elif kind == "bolt":
        d.polygon([(4 + s * 0.55, 4), (4 + s * 0.2, 4 + s * 0.55), (4 + s * 0.48, 4 + s * 0.55), (4 + s * 0.35, 4 + s),
                   (4 + s * 0.8, 4 + s * 0.4), (4 + s * 0.52, 4 + s * 0.4), (4 + s * 0.7, 4)], fill=c, outline=o, width=3)
    if text:
        d.text((s + 12 - f.getbbox(text)[0], 4 + s / 2 - (f.getbbox(text)[3] + f.getbbox(text)[1]) / 2), text, font=f,
               fill=c, stroke_width=2, stroke_fill=o)
    return np.asarray(im)


def stamp(kind: str) -> np.ndarray:
    if kind == "free":  # white text on a translucent dark box
        return text_logo("FREE VERSION", FONTS[4], WHITE, None, 56, box=(0, 0, 0, 120))
    if kind == "sample":  # an outlined stamp, semi-transparent as a whole
        im = Image.new("RGBA", (420, 130), (0, 0, 0, 0))
        d = ImageDraw.Draw(im)
        d.rectangle([3, 3, 416, 126], outline=(220, 30, 30, 170), width=8)
        d.text((30, 18), "SAMPLE", font=font(FONTS[1], 84), fill=(220, 30, 30, 170))
        return np.asarray(im)
    im = Image.new("RGBA", (200, 200), (0, 0, 0, 0))  # "seal": a round seal with text, half transparent
    d = ImageDraw.Draw(im)
    d.ellipse([4, 4, 196, 196], outline=(255, 255, 255, 150), width=10)
    d.text((38, 62), "NSFW", font=font(FONTS[2], 46), fill=(255, 255, 255, 150))
    d.text((58, 116), "gen", font=font(FONTS[3], 40), fill=(255, 255, 255, 150))
    return np.asarray(im)


def tile_pattern(kind: str) -> np.ndarray:
    """A small motif repeated: registered as the tile, stamped tiled over a whole photo."""
    im = Image.new("RGBA", (240, 120), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    if kind == "dots":
        for i in range(4):
            for j in range(2):
                d.ellipse([10 + i * 58, 10 + j * 58, 46 + i * 58, 46 + j * 58], outline=(255, 255, 255, 255), width=5)
        d.text((70, 40), "nx", font=font(FONTS[0], 34), fill=(255, 255, 255, 255), stroke_width=2, stroke_fill=BLACK + (255,))
    else:
        d.text((6, 4), "undress", font=font(FONTS[3], 44), fill=(255, 255, 255, 255), stroke_width=2, stroke_fill=BLACK + (255,))
        d.text((60, 58), ".app", font=font(FONTS[2], 44), fill=(255, 230, 0, 255), stroke_width=2, stroke_fill=BLACK + (255,))
    return np.asarray(im)


# The registered text marks' drawing (text_logo's arguments after the text), so that a look-alike
# (look_alike) is drawn exactly as its mark is, with other letters.
TEXT_STYLES = {
    "NUDIFY.AI": (FONTS[0],), "FAKE": (FONTS[2], (230, 20, 20), None, 72), "stripped": (FONTS[3],),
    "UNDRESS": (FONTS[4], (255, 220, 0)), "deepnude": (FONTS[1], WHITE, BLACK), "AIGEN": (FONTS[5], (0, 220, 255), None, 80),
    "nudes.bot": (FONTS[6], WHITE), "@clothoff": (FONTS[7], (255, 110, 180)), "DREAMX": (FONTS[0], BLACK, WHITE),
    "xray": (FONTS[2], (120, 255, 120)), "pornify": (FONTS[0], WHITE, BLACK, 56, (200, 0, 80, 200)),
    "BOT": (FONTS[1], (255, 255, 255), (0, 0, 0), 90),
}


def registered_marks() -> list[tuple[str, str, np.ndarray]]:
    """(name, kind, RGBA) of the 24 marks registered and stamped."""
    m = [(name, "text", text_logo(name, *TEXT_STYLES[name])) for name in list(TEXT_STYLES)[:10]]
    m += [
        ("rings", "shape", shape_logo("rings")),
        ("star-PIX", "shape", shape_logo("star", (255, 200, 0), "PIX", FONTS[0])),
        ("shield", "shape", shape_logo("shield", (70, 140, 255))),
        ("triangle-AI", "shape", shape_logo("triangle", WHITE, "AI", FONTS[4])),
        ("badge-HD", "shape", shape_logo("badge", (255, 255, 255))),
        ("bolt", "shape", shape_logo("bolt", (255, 240, 60), "zap", FONTS[3])),
        ("seal-ring", "shape", shape_logo("seal", (255, 90, 90))),
        ("free-version", "stamp", stamp("free")),
        ("sample", "stamp", stamp("sample")),
        ("nsfw-seal", "stamp", stamp("seal")),
        ("tile-dots", "tile", tile_pattern("dots")),
        ("tile-undress", "tile", tile_pattern("words")),
    ]
    m += [(name, "text", text_logo(name, *TEXT_STYLES[name])) for name in ("pornify", "BOT")]
    return m


OTHER_WORDS = ["HOLIDAY", "sunset", "GALLERY", "travel.blog", "MEMORIES", "@janedoe", "PHOTO", "summer",
               "STUDIO", "wedding", "CITY", "family"]


def other_marks(rng: np.random.Generator) -> list[np.ndarray]:
    """Unregistered marks: other words in the same fonts and colours, other shape logos."""
    out = []
    colours = [WHITE, (230, 20, 20), (255, 220, 0), (0, 220, 255), (255, 110, 180), BLACK]
    for i, w in enumerate(OTHER_WORDS):
        out.append(text_logo(w, FONTS[i % len(FONTS)], colours[i % len(colours)], BLACK if i % 3 else None))
    out += [polygon_logo(np.random.default_rng(900 + k), text) for k, text in enumerate(("FOTO", "CAM", "TRIP", ""))]
    return out


def polygon_logo(rng: np.random.Generator, text: str = "") -> np.ndarray:
    """A random polygon (5-9 corners) in a random colour, optionally with a word beside it: a shape
    logo unlike the registered ones (whose shapes the registered marks alone use)."""
    size = 120
    f = font(FONTS[int(rng.integers(len(FONTS)))], size // 3)
    tw = f.getbbox(text, stroke_width=2)[2] + 12 if text else 0
    im = Image.new("RGBA", (size + tw + 8, size + 8), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    n = int(rng.integers(5, 10))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = rng.uniform(0.25, 0.5, n) * size
    colour = tuple(int(c) for c in rng.integers(0, 256, 3)) + (255,)
    d.polygon([(4 + size / 2 + r * np.cos(a), 4 + size / 2 + r * np.sin(a)) for a, r in zip(angles, radii)],
              fill=colour if rng.random() < 0.5 else None, outline=colour, width=6)
    if text:
        d.text((size + 12, size / 3), text, font=f, fill=colour, stroke_width=2, stroke_fill=BLACK + (255,))
    return np.asarray(im)


def synthetic_mark(rng: np.random.Generator) -> np.ndarray:
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.@"
    word = "".join(rng.choice(list(letters), int(rng.integers(3, 10))))
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    if rng.random() < 0.75:
        return text_logo(word, FONTS[int(rng.integers(len(FONTS)))], colour, BLACK if rng.random() < 0.5 else None,
                         int(rng.integers(40, 90)))
    return polygon_logo(rng, word[:4] if rng.random() < 0.6 else "")


# -- uploads ---------------------------------------------------------------------------------------

def blend(photo: np.ndarray, mark: np.ndarray, x: int, y: int, width: int, opacity: float,
          ) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
    h, w = mark.shape[:2]
    f = width / w
    m = np.asarray(Image.fromarray(mark).resize((max(1, round(w * f)), max(1, round(h * f))), Image.LANCZOS))
    H, W = photo.shape[:2]
    x1, y1 = min(W, x + m.shape[1]), min(H, y + m.shape[0])
    if x1 <= x or y1 <= y:
        return photo, None
    m = m[: y1 - y, : x1 - x]
    a = m[:, :, 3:4].astype(np.float32) / 255 * opacity
    out = photo.astype(np.float32)
    out[y:y1, x:x1] = out[y:y1, x:x1] * (1 - a) + m[:, :, :3] * a
    ys, xs = np.nonzero(m[:, :, 3] > 25)
    box = (x + int(xs.min()), y + int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)) if len(ys) else None
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), box


def stamped(photo, mark, rel, opacity, tiled, rng):
    H, W = photo.shape[:2]
    width = max(8, round(rel * W))
    height = round(mark.shape[0] * width / mark.shape[1])
    if height >= H:
        width = int(width * (H - 2) / height)
        height = round(mark.shape[0] * width / mark.shape[1])
    if not tiled:
        x, y = int(rng.integers(0, W - width + 1)), int(rng.integers(0, H - height + 1))
        out, box = blend(photo, mark, x, y, width, opacity)
        return out, [box]
    boxes, out = [], photo
    step_x, step_y = int(width * 1.6), int(height * 2.2)
    ox, oy = int(rng.integers(0, step_x)), int(rng.integers(0, step_y))
    for yy in range(oy - step_y, H, step_y):
        for xx in range(ox - step_x + ((yy // step_y) % 2) * step_x // 2, W, step_x):
            out, box = blend(out, mark, max(0, xx), max(0, yy), width, opacity) if xx >= 0 and yy >= 0 else (out, None)
            if box and xx + width <= W and yy + height <= H:
                boxes.append(box)
    return out, boxes


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(out.getvalue())).convert("RGB"))


def screenshot(img: np.ndarray) -> tuple[np.ndarray, float, int, int]:
    ih, iw = img.shape[:2]
    cw = 720
    ph = round(ih * (cw - 40) / iw)
    canvas = Image.new("RGB", (cw, 130 + ph + 200), (255, 255, 255))
    canvas.paste(Image.fromarray(img).resize((cw - 40, ph), Image.LANCZOS), (20, 130))
    d = ImageDraw.Draw(canvas)
    d.rectangle([0, 0, cw, 40], fill=(230, 230, 230))
    d.text((20, 8), "21:47", font=font(FONTS[0], 22), fill=BLACK)
    d.text((95, 70), "someone.shared.this", font=font(FONTS[0], 26), fill=BLACK)
    d.text((20, 130 + ph + 60), "look at this #trending", font=font(FONTS[1], 26), fill=BLACK)
    return np.asarray(canvas), (cw - 40) / iw, 20, 130


def reshare(img: np.ndarray, kind: str, boxes: list, rng: np.random.Generator) -> tuple[np.ndarray, list]:
    """A re-share transform; the marks' boxes moved with it."""
    if kind == "none":
        return jpeg(img, 90), boxes
    if kind == "jpeg":
        return jpeg(img, int(rng.integers(50, 71))), boxes
    if kind == "resize":
        f = float(rng.uniform(0.4, 0.8))
        h, w = img.shape[:2]
        small = np.asarray(Image.fromarray(img).resize((round(w * f), round(h * f)), Image.LANCZOS))
        return jpeg(small, 85), [tuple(round(v * f) for v in b) for b in boxes]
    if kind == "crop":
        h, w = img.shape[:2]
        b = boxes[0]
        left = int(rng.integers(0, max(1, min(int(0.2 * w), b[0]) + 1)))
        top = int(rng.integers(0, max(1, min(int(0.2 * h), b[1]) + 1)))
        right = w - int(rng.integers(0, max(1, min(int(0.2 * w), w - b[0] - b[2]) + 1)))
        bottom = h - int(rng.integers(0, max(1, min(int(0.2 * h), h - b[1] - b[3]) + 1)))
        kept = [(x - left, y - top, bw, bh) for x, y, bw, bh in boxes
                if x >= left and y >= top and x + bw <= right and y + bh <= bottom]
        return jpeg(img[top:bottom, left:right], 85), kept
    shot, f, ox, oy = screenshot(img)
    return jpeg(shot, 85), [(round(x * f) + ox, round(y * f) + oy, round(bw * f), round(bh * f)) for x, y, bw, bh in boxes]


# The scope: a mark "at any position, scale 0.3-3x" of its registered image. A positive's ``scale``:
# the stamped mark's visible width in the upload (after the re-share transform) over the registered image's
# visible width. The benchmark stamps 4-56 % of the photo's width, 0.04-7x its marks' own size after the
# transform: its target rows (>= 4 % wide, >= 40 % opaque) are reported whole and within the scope.
SCOPE = (0.3, 3.0)
SCALE_BUCKETS = (("under 0.15x", 0.0, 0.15), ("0.15-0.3x", 0.15, 0.3), ("0.3-0.6x", 0.3, 0.6),
                 ("0.6-1x", 0.6, 1.0), ("1-3x", 1.0, 3.0), ("over 3x", 3.0, float("inf")))


def visible_width(rgba: np.ndarray) -> int:
    """The width of a mark's visible pixels (alpha > 25, as :func:`blend` boxes a stamp)."""
    cols = np.flatnonzero((rgba[:, :, 3] > 25).any(axis=0))
    return int(cols[-1] - cols[0] + 1) if len(cols) else rgba.shape[1]


def in_scope(scale: float) -> bool:
    return SCOPE[0] <= scale <= SCOPE[1]


def iou(a, b) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy / (a[2] * a[3] + b[2] * b[3] - ix * iy)


def timed_find(index: MarkIndex, rgb: np.ndarray):
    """Marks found, and the upload's CPU time (the process's: checks run on CHECK_THREADS threads;
    each worker process handles one upload at a time) and wall time."""
    c0, w0 = time.process_time(), time.perf_counter()
    found = index._checked(UploadFrame.from_rgb(rgb), None, _ARGS.candidates if _ARGS else CANDIDATES)
    return found, time.process_time() - c0, time.perf_counter() - w0


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def built_index(values: list) -> MarkIndex:
    """A mark index holding ``values`` ((signature, id) pairs, e.g. a ``--values`` cache), added 200 at a time."""
    index = MarkIndex()
    for k in range(0, len(values), 200):
        index.add_many(values[k:k + 200])
    return index


def apply_settings(settings: list[str] | None) -> None:
    """``--set NAME=VALUE`` experiments: constants of ``ncii_shield/index/marks.py``, e.g. VOTE_KEEP=8;
    ``search.NAME=VALUE``, ``describe.NAME=VALUE``, ``locate.NAME=VALUE`` or ``features.NAME=VALUE`` set one
    of that module of ``ncii_shield/signals/marks/`` (the check's, the naming's, the edge blobs', the keypoints')."""
    import importlib

    from ncii_shield.index import marks as index_module

    for setting in settings or []:
        name, value = setting.split("=", 1)
        module = index_module
        if "." in name:
            prefix, name = name.split(".", 1)
            if prefix not in ("search", "describe", "locate", "features"):
                raise SystemExit(f"--set {setting}: not a marks module (search, describe, locate, features)")
            module = importlib.import_module(f"ncii_shield.signals.marks.{prefix}")
        setattr(module, name, type(getattr(module, name))(ast.literal_eval(value)))


def index_memory(values: list[tuple[str, int]]) -> dict:
    """Bytes per mark of an index holding ``values``: the process's resident memory before and after
    (the signatures' text excluded) and the index's own count of its arrays."""
    import gc

    gc.collect()
    before = _rss()
    index = built_index(values)
    gc.collect()
    grown = _rss() - before
    return {"marks": len(index), "rss_bytes_per_mark": round(grown / max(1, len(index))),
            "array_bytes_per_mark": round(index.nbytes() / max(1, len(index)))}


def bucket(value: float, edges: list[float]) -> str:
    for lo, hi in zip(edges[:-1], edges[1:]):
        if lo <= value < hi:
            return f"{lo:g}-{hi:g}"
    return f">={edges[-1]:g}"


_INDEX: MarkIndex | None = None
_ARGS = None


def _signature(item: tuple[int, str, np.ndarray | None]) -> tuple[str, int] | None:
    i, name, rgba = item
    if rgba is None:  # a synthetic mark, drawn from its own seed so that workers agree
        rgba = synthetic_mark(np.random.default_rng(100_000 + i))
    try:
        return T.encode(T.template_from_rgba(rgba, name)), i
    except Exception:  # a synthetic mark too faint or thin: skipped, as the server would refuse it
        return None


def _init(values: list[tuple[str, int]], args) -> None:
    global _INDEX, _ARGS
    faiss.omp_set_num_threads(1)  # one thread per check, as a server worker runs it
    if os.environ.get("MARKS_ORB"):  # an experiment: "features,first_level,levels" for the upload's keypoints
        import cv2

        from ncii_shield.signals.marks import features

        n, first, levels = (int(v) for v in os.environ["MARKS_ORB"].split(","))
        features._ORB_UPLOAD = cv2.ORB_create(nfeatures=n, scaleFactor=1.2, nlevels=levels, edgeThreshold=11,
                                              firstLevel=first, patchSize=11,
                                              fastThreshold=features.UPLOAD_FAST_THRESHOLD)
    apply_settings(args.set)
    _INDEX, _ARGS = built_index(values), args


def positive_cases(photo: np.ndarray, n: int, cases: int, marks: list, rng: np.random.Generator):
    """The positive uploads of photo ``n`` (``cases`` of them, fewer when a stamp or a crop leaves no
    box): a registered mark stamped at a random place, width, opacity, single or tiled, then one
    re-share transform. One definition, so bench/marks_dense_probe.py measures the same uploads."""
    transforms = ["none", "jpeg", "resize", "crop", "screenshot"]
    rels, opacities = [0.04, 0.06, 0.1, 0.2, 0.4], [0.3, 0.4, 0.6, 1.0]
    for k in range(cases):
        case = n * cases + k
        mi = case % len(marks)
        _, kind, rgba = marks[mi]
        rel = float(rels[int(rng.integers(len(rels)))] * rng.uniform(1.0, 1.4))
        level = opacities[int(rng.integers(len(opacities)))]
        opacity = float(level if level == 1.0 else level * rng.uniform(1.0, 1.2))
        transform = transforms[(case // len(marks) + k) % len(transforms)]
        tiled = kind == "tile" or case % 7 == 0
        img, boxes = stamped(photo, rgba, rel, opacity, tiled, rng)
        boxes = [b for b in boxes if b]
        if not boxes:
            continue
        upload, boxes = reshare(img, transform, boxes, rng)
        if boxes:
            yield {"mark": mi, "kind": kind, "rel_width": rel, "opacity": opacity, "transform": transform,
                   "tiled": tiled, "upload": upload, "boxes": boxes}


NEGATIVE_KINDS = ("unmarked", "other mark", "plain text", "look-alike")
LOOK_ALIKE_SEED = 777_000  # the look-alike negatives' own generator: seed * 1000 + photo + this


def look_alike_word(word: str, rng: np.random.Generator) -> str:
    """``word`` one letter off: a letter replaced by another of the same case (half of the time), one
    inserted or one deleted (a quarter each); only letters are touched (a mark's '.' and '@' stay). A letter
    is inserted before a letter other than the first: one before or after the word would leave the mark
    itself whole beside it."""
    at = [k for k, ch in enumerate(word) if ch.isalpha()]
    edit = rng.random()
    kind = "replace" if edit < 0.5 else "insert" if edit < 0.75 or len(at) <= 3 else "delete"  # 3 letters stay 3+
    k = at[1 + int(rng.integers(len(at) - 1))] if kind == "insert" else at[int(rng.integers(len(at)))]
    if kind == "delete":
        return word[:k] + word[k + 1:]
    pool = "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if word[k].isupper() else "abcdefghijklmnopqrstuvwxyz"
    while True:  # not the letter itself, nor one that doubles a neighbour into the whole word again
        letter = pool[int(rng.integers(len(pool)))]
        out = word[:k] + letter + word[k + 1:] if kind == "replace" else word[:k] + letter + word[k:]
        if word not in out:
            return out


def look_alike(photo: np.ndarray, n: int, seed: int = 7) -> dict:
    """The photo's look-alike negative: registered text mark ``n % 12`` (:data:`TEXT_STYLES`) drawn in its
    own font, colour, outline and size with one letter off (:func:`look_alike_word`), stamped once at a
    random place, 6-40 % of the photo's width, 40-100 % opaque, JPEG 85. Its own generator, so that the
    other uploads of the photo stay as they were. ``{"mark", "word", "upload", "box"}`` (``mark``: the
    registered mark's index in :func:`registered_marks`, ``box``: the stamp's in upload pixels)."""
    rng = np.random.default_rng(seed * 1000 + n + LOOK_ALIKE_SEED)
    names = list(TEXT_STYLES)
    name = names[n % len(names)]
    word = look_alike_word(name, rng)
    img, boxes = stamped(photo, text_logo(word, *TEXT_STYLES[name]), float(rng.uniform(0.06, 0.4)),
                         float(rng.uniform(0.4, 1.0)), False, rng)
    mark = [m[0] for m in registered_marks()].index(name)
    return {"mark": mark, "word": word, "upload": jpeg(img, 85), "box": boxes[0]}


def negative_cases(photo: np.ndarray, n: int, rng: np.random.Generator, seed: int = 7) -> list[tuple[str, np.ndarray]]:
    """The photo's four negatives, ``(kind, upload)``: unmarked, another (unregistered) mark, plain
    text overlays (a caption and a username), and a registered word mark one letter off
    (:func:`look_alike`, "look-alike", drawn with its own generator from ``seed``). ``rng`` is the photo's,
    after :func:`positive_cases`: every tool that redraws the benchmark's uploads calls this, so they are
    the same uploads."""
    uploads = [("unmarked", jpeg(photo, 90))]
    others = other_marks(rng)
    img, _ = stamped(photo, others[n % len(others)], float(rng.uniform(0.06, 0.4)), float(rng.uniform(0.4, 1.0)), False, rng)
    uploads.append(("other mark", jpeg(img, 85)))
    pil = Image.fromarray(photo.copy())
    d = ImageDraw.Draw(pil)
    W, H = pil.size
    d.text((W * 0.05, H * 0.85), "Great day at the beach with friends!", font=font(FONTS[n % len(FONTS)], max(14, H // 20)),
           fill=(255, 255, 255), stroke_width=2, stroke_fill=(0, 0, 0))
    d.text((W * 0.6, H * 0.05), "@" + OTHER_WORDS[n % len(OTHER_WORDS)].strip("@").lower(),
           font=font(FONTS[(n + 3) % len(FONTS)], max(12, H // 25)), fill=(255, 255, 0))
    uploads.append(("plain text", jpeg(np.asarray(pil), 85)))
    uploads.append(("look-alike", look_alike(photo, n, seed)["upload"]))
    return uploads


def _photo_cases(job: tuple[int, str]) -> tuple[list, list, list, list]:
    n, path = job
    args, index = _ARGS, _INDEX
    rng = np.random.default_rng(args.seed * 1000 + n)
    marks = registered_marks()
    photo = np.asarray(Image.open(path).convert("RGB"))
    positives, negatives, cpu, wall = [], [], [], []
    for c in positive_cases(photo, n, args.cases, marks, rng):
        if args.negatives_only:  # made (the random draws stay those of a full run), not checked
            continue
        mi, kind, rel, opacity, transform, tiled, upload, boxes = (
            c["mark"], c["kind"], c["rel_width"], c["opacity"], c["transform"], c["tiled"], c["upload"], c["boxes"])
        name, _, rgba = marks[mi]
        if args.oracle:  # the check alone: the stamped mark checked at its stamped places
            frame = UploadFrame.from_rgb(upload)
            found = [(r[0], mi, r[1]) for t in boxes[:4]
                     if (r := verify(index._entries[mi].prepared, frame, tuple(v / frame.to_upload for v in t)))]
        else:
            found, c, w = timed_find(index, upload)
            cpu.append(c)
            wall.append(w)
        to_upload = UploadFrame.from_rgb(upload).to_upload_box
        hit = [s for s, i, b in found if i == mi and s >= THRESHOLD and any(iou(to_upload(b), t) > 0.3 for t in boxes)]
        wrong = [(i, round(s, 3)) for s, i, b in found if i != mi and s >= THRESHOLD]
        best = max([s for s, i, b in found if i == mi], default=-1.0)
        on_place = max([s for s, i, b in found if i == mi and any(iou(to_upload(b), t) > 0.3 for t in boxes)], default=-1.0)
        positives.append({"photo": Path(path).name, "mark": name, "kind": kind, "rel_width": round(rel, 3),
                          "registered_scale": round(rel * photo.shape[1] / rgba.shape[1], 2),
                          "scale": round(max(b[2] for b in boxes) / visible_width(rgba), 3),
                          "opacity": round(opacity, 2), "transform": transform, "tiled": tiled,
                          "caught": bool(hit), "score": round(best, 3), "score_on_place": round(on_place, 3), "other_marks_flagged": wrong})
    if args.oracle:
        return positives, negatives, cpu, wall
    uploads = negative_cases(photo, n, rng, args.seed)
    for label, upload in uploads:
        found, c, w = timed_find(index, upload)
        cpu.append(c)
        wall.append(w)
        negatives.append({"photo": Path(path).name, "kind": label,
                          "flags": [(i, round(s, 3)) for s, i, b in found if s >= THRESHOLD],
                          "best": round(max([s for s, _, _ in found], default=-1.0), 3)})
    return positives, negatives, cpu, wall


def _timing_upload(job: tuple[int, str]) -> tuple[float, float]:
    n, path = job
    rng = np.random.default_rng(n)
    photo = np.asarray(Image.open(path).convert("RGB"))
    if n % 2 == 0:
        marks = registered_marks()
        photo, _ = stamped(photo, marks[n % len(marks)][2], 0.15, 0.6, False, rng)
    upload = jpeg(photo, 85)
    _, c, w = timed_find(_INDEX, upload)
    return c, w


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("photos", nargs="?", default=str(Path(__file__).resolve().parents[1] / "../shared/data/photos"))
    parser.add_argument("--cases", type=int, default=8, help="marked uploads per photo")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N photos")
    parser.add_argument("--registry", type=int, default=1000, help="marks in the index (24 real + synthetic)")
    parser.add_argument("--workers", type=int, default=1, help="processes (each check runs on one thread)")
    parser.add_argument("--timing", type=int, default=0, help="only time N uploads against the full index")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", help="write the full results here")
    parser.add_argument("--values", help="cache of the marks' signatures (read if present, else written)")
    parser.add_argument("--candidates", type=int, default=CANDIDATES, help="places checked per upload")
    parser.add_argument("--set", action="append", metavar="NAME=VALUE",
                        help="an experiment: set a constant of ncii_shield/index/marks.py (or search.NAME, the check's) in every worker")
    parser.add_argument("--oracle", action="store_true", help="no candidate search and no negatives: each positive's "
                        "stamped mark checked at its stamped places (up to 4), the check's own ceiling")
    parser.add_argument("--negatives-only", action="store_true", help="only the negatives (with --candidates 32: "
                        "how far the check alone keeps other marks and text below the threshold)")
    args = parser.parse_args()
    import multiprocessing as mp

    files = sorted(str(p) for p in Path(args.photos).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if args.limit:
        files = files[: args.limit]
    marks = registered_marks()
    t0 = time.perf_counter()
    items = [(i, name, rgba) for i, (name, _, rgba) in enumerate(marks)]
    items += [(i, f"synthetic {i}", None) for i in range(len(marks), args.registry)]
    if args.values and Path(args.values).exists():
        values = [tuple(v) for v in json.loads(Path(args.values).read_text())]
    else:
        with mp.Pool(max(1, args.workers)) as pool:
            values = [v for v in pool.map(_signature, items, chunksize=8) if v is not None]
        if args.values:
            Path(args.values).write_text(json.dumps(values))
    print(f"signatures: {len(values)} marks ({len(marks)} stamped) in {time.perf_counter() - t0:.0f} s "
          f"with {args.workers} processes", file=sys.stderr)

    memory = index_memory(values)
    print(f"memory: {memory}", file=sys.stderr)
    if args.timing:
        jobs = [(n, files[n % len(files)]) for n in range(args.timing)]
        started = time.perf_counter()
        with mp.Pool(max(1, args.workers), initializer=_init, initargs=(values, args)) as pool:
            pool.map(_timing_upload, jobs[: 2 * args.workers], chunksize=1)  # warm-up
            started = time.perf_counter()
            timed = pool.map(_timing_upload, jobs, chunksize=1)
        elapsed = time.perf_counter() - started
        cpu, wall = [c for c, _ in timed], [w for _, w in timed]
        print(json.dumps({"marks_indexed": len(values), "uploads": len(jobs), "workers": args.workers, "memory": memory,
                          "candidates": args.candidates,
                          "cpu_ms_p50": round(1000 * statistics.median(cpu), 1),
                          "cpu_ms_p95": round(1000 * float(np.percentile(cpu, 95)), 1),
                          "latency_ms_p50": round(1000 * statistics.median(wall), 1),
                          "latency_ms_p95": round(1000 * float(np.percentile(wall, 95)), 1),
                          "uploads_per_s": round(len(jobs) / elapsed, 1)}, indent=2))
        return

    positives, negatives, cpu, wall = [], [], [], []
    with mp.Pool(max(1, args.workers), initializer=_init, initargs=(values, args)) as pool:
        for k, (p, ng, c, w) in enumerate(pool.imap(_photo_cases, list(enumerate(files)), chunksize=1)):
            positives += p
            negatives += ng
            cpu += c
            wall += w
            print(f"{k + 1}/{len(files)} photos", file=sys.stderr, end="\r")

    def recall(rows):
        return f"{sum(r['caught'] for r in rows)}/{len(rows)} = {100 * sum(r['caught'] for r in rows) / max(1, len(rows)):.1f} %"

    target = [r for r in positives if r["rel_width"] >= 0.04 and r["opacity"] >= 0.4]
    report = {
        "photos": len(files), "marks_indexed": len(values), "threshold": THRESHOLD, "candidates": args.candidates,
        "memory": memory,
        "recall_target (width >= 4 %, opacity >= 40 %)": recall(target),
        "recall_all": recall(positives),
        "recall_target_in_scope (scale 0.3-3x)": recall([r for r in target if in_scope(r["scale"])]),
        "a check landed on the stamped mark at its place (target rows)":
            f"{sum(r['score_on_place'] > -1 for r in target)}/{len(target)}",
        "false_flags": sum(bool(r["flags"]) for r in negatives), "negatives": len(negatives),
        "negative_pairs_tested (uploads x marks indexed)": len(negatives) * len(values),
        "wrong_mark_on_positives": sum(bool(r["other_marks_flagged"]) for r in positives),
        "best_negative_score": max((r["best"] for r in negatives), default=None),
    }
    if cpu:  # not timed with --oracle
        report.update({"cpu_ms_p50": round(1000 * statistics.median(cpu), 1),
                       "cpu_ms_p95": round(1000 * float(np.percentile(cpu, 95)), 1),
                       "wall_ms_p50": round(1000 * statistics.median(wall), 1)})
    by = defaultdict(list)
    for r in target:
        by["width " + bucket(r["rel_width"], [0.04, 0.06, 0.1, 0.2, 0.4])].append(r)
        by["transform " + r["transform"]].append(r)
        by["kind " + r["kind"]].append(r)
        by["tiled" if r["tiled"] else "single"].append(r)
    for r in positives:
        by["opacity " + bucket(r["opacity"], [0.3, 0.4, 0.6, 0.9])].append(r)
        by["all widths, registered scale " + bucket(r["registered_scale"], [0, 0.3, 1, 3])].append(r)
    for name, lo, hi in SCALE_BUCKETS:
        by["target scale " + name] = [r for r in target if lo <= r["scale"] < hi]
    report["recall_by (target rows; opacity and registered scale: all rows)"] = {k: recall(v) for k, v in sorted(by.items())}
    report["negatives_by_kind"] = {k: f"{sum(bool(r['flags']) for r in negatives if r['kind'] == k)} flagged of "
                                      f"{sum(1 for r in negatives if r['kind'] == k)}" for k in NEGATIVE_KINDS}
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps({"report": report, "positives": positives, "negatives": negatives}, indent=1))


if __name__ == "__main__":
    main()
