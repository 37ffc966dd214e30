"""Crafted hostile photos: headers that declare up to the pixel limit in a few KB (harmless: flat
colours). Used by the break-in suite (tests/security/test_hostile_images.py) and by
bench/hostile_images.py, which measures them for docs/reliability.md."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

SIDE = 10_954  # 10,954^2 = 119,990,116 pixels: just under the 120,000,000 limit


def _png(width: int, height: int, *, bit_depth: int, colour: int, channels: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" + b"\x00" * ((width * channels * bit_depth + 7) // 8)
    packer = zlib.compressobj(9)
    parts = [packer.compress(row * 256) for _ in range(height // 256)]
    parts.append(packer.compress(row * (height % 256)))
    parts.append(packer.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def _pillow(mode: str, size: tuple[int, int], fmt: str, **params) -> bytes:
    from PIL import Image

    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:
        pass
    image = Image.new(mode, size, 90)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _pattern(mode: str, size: tuple[int, int], fmt: str, **params) -> bytes:
    """A busy synthetic pattern (no flat areas), so the decoder's transforms and buffers are all used:
    a flat lossless WebP costs libwebp less than a real photo does."""
    import numpy as np
    from PIL import Image

    width, height = size
    y, x = np.arange(height)[:, None], np.arange(width)[None, :]
    bands = [(x * 7 + y) % 256, (x ^ y) % 256, (x * y // 97) % 256, (x + 3 * y) % 256]
    image = Image.fromarray(np.stack(bands[:len(mode)], -1).astype(np.uint8), mode=mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def crafted() -> dict[str, Callable[[], bytes]]:
    return {
        "png-1bit-120mp": lambda: _png(SIDE, SIDE, bit_depth=1, colour=0, channels=1),
        "png-grey-120mp": lambda: _png(SIDE, SIDE, bit_depth=8, colour=0, channels=1),
        "png-rgb-120mp": lambda: _png(SIDE, SIDE, bit_depth=8, colour=2, channels=3),
        "png-rgb-16mp": lambda: _png(4096, 4096, bit_depth=8, colour=2, channels=3),
        "png-rgb-12.5mp": lambda: _png(4090, 3070, bit_depth=8, colour=2, channels=3),
        "png-grey-64mp": lambda: _png(8000, 8000, bit_depth=8, colour=0, channels=1),
        "png-grey-50mp": lambda: _png(7090, 7090, bit_depth=8, colour=0, channels=1),
        "png-1bit-50mp": lambda: _png(7090, 7090, bit_depth=1, colour=0, channels=1),
        "png-grey-40mp": lambda: _png(6300, 6300, bit_depth=8, colour=0, channels=1),
        "jpeg-120mp": lambda: _pillow("RGB", (SIDE, SIDE), "JPEG", quality=30),
        "jpeg-120mp-header-only": lambda: _pillow("RGB", (SIDE, SIDE), "JPEG", quality=30)[:4096],
        "gif-120mp": lambda: _pillow("P", (SIDE, SIDE), "GIF"),
        "gif-50mp": lambda: _pillow("P", (7090, 7090), "GIF"),
        "gif-40mp": lambda: _pillow("P", (6300, 6300), "GIF"),
        "webp-12.5mp": lambda: _pillow("RGB", (4090, 3070), "WEBP", lossless=True, method=0),
        "webp-120mp": lambda: _pillow("RGB", (16_383, 7_324), "WEBP", lossless=True, method=0),
        "webp-lossy-12.5mp": lambda: _pillow("RGB", (4090, 3070), "WEBP", quality=10),
        "webp-alpha-12.5mp": lambda: _pattern("RGBA", (4090, 3070), "WEBP", quality=10),
        "webp-lossless-8.3mp": lambda: _pattern("RGB", (3330, 2500), "WEBP", lossless=True, method=0),
        "avif-12mp": lambda: _pillow("RGB", (4032, 3024), "AVIF", quality=10, speed=10),
        "avif-5.5mp": lambda: _pattern("RGB", (2700, 2030), "AVIF", quality=10, speed=10),
        "heic-67mp": lambda: _pillow("RGB", (8192, 8192), "HEIF", quality=10),
        "heic-12mp": lambda: _pillow("RGB", (4032, 3024), "HEIF", quality=10),
    }


