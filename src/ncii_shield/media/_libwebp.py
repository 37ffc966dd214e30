"""Still WebP photos decoded by libwebp straight into the RGB array (``WebPDecodeRGBInto``).

Pillow decodes every WebP through libwebp's animation decoder, which keeps a canvas of its own, hands
Pillow the frame as a bytes copy and Pillow copies it once more: ~12 bytes a pixel (192 MB for a
12.5-MP WebP declared in 36 bytes). libwebp's simple API writes a still photo's RGB into memory we
give it, so a lossy photo costs about its 3 bytes a pixel, a lossless one those plus libwebp's own
ARGB buffer (4 bytes a pixel, :func:`decode_bytes`). The pixels are those of Pillow's decode (checked in
tests/unit/media/test_decode.py).

libwebp is the one Pillow is linked with (found through Pillow's ``_webp`` module); where it cannot
be reached :func:`available` is False and WebP goes through Pillow.
"""

from __future__ import annotations

import ctypes
import struct

import numpy as np


def _load():
    try:
        from PIL import _webp

        library = ctypes.CDLL(_webp.__file__)  # its symbols resolve to the libwebp it links
        decode = library.WebPDecodeRGBInto
        info = library.WebPGetInfo
    except (ImportError, OSError, AttributeError):
        return None
    decode.restype = ctypes.c_void_p
    decode.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    info.restype = ctypes.c_int
    info.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
    return decode, info


_LIBRARY = _load()


def available() -> bool:
    return _LIBRARY is not None


def still_kind(data: bytes) -> str | None:
    """``"lossy"``, ``"lossy+alpha"`` or ``"lossless"`` for a still WebP, None for an animation or
    anything this parser does not recognise (those go through Pillow). Reads the RIFF chunk headers only."""
    if len(data) < 20 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    kinds, offset = set(), 12
    while offset + 8 <= len(data):
        fourcc, size = data[offset:offset + 4], struct.unpack("<I", data[offset + 4:offset + 8])[0]
        if fourcc in (b"ANIM", b"ANMF"):
            return None
        if fourcc == b"VP8X" and size >= 1 and offset + 8 < len(data) and data[offset + 8] & 0x02:
            return None  # the animation flag
        kinds.add(fourcc)
        offset += 8 + size + (size & 1)
    if b"VP8L" in kinds:
        return "lossless"
    if b"VP8 " in kinds:
        return "lossy+alpha" if b"ALPH" in kinds else "lossy"
    return None


#: Bytes a pixel a full decode holds, the RGB array's 3 included: lossless keeps the whole image as
#: ARGB; lossy a few rows, plus a plane for alpha. Measured on 12.5-MP files (docs/reliability.md):
#: 3.3, 4.4 and 7.3; these bound them.
_BYTES_PER_PIXEL = {"lossy": 3.5, "lossy+alpha": 4.5, "lossless": 7.5}


def decode_bytes(kind: str, pixels: int) -> int:
    """Memory a full decode takes: the RGB array and libwebp's own buffers."""
    return int(pixels * _BYTES_PER_PIXEL[kind])


def decode_rgb(data: bytes, width: int, height: int) -> np.ndarray:
    """The (height, width, 3) RGB pixels of a still WebP; ValueError if libwebp refuses the file or
    its size is not the header's."""
    decode, info = _LIBRARY
    w, h = ctypes.c_int(), ctypes.c_int()
    if not info(data, len(data), ctypes.byref(w), ctypes.byref(h)) or (w.value, h.value) != (width, height):
        raise ValueError(f"libwebp reads the size as {w.value}x{h.value}, the header says {width}x{height}")
    out = np.empty((height, width, 3), dtype=np.uint8)
    if not decode(data, len(data), out.ctypes.data, out.nbytes, width * 3):
        raise ValueError("libwebp could not decode the photo (truncated or corrupt)")
    return out
