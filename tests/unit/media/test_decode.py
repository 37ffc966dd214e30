"""Safe decoding: every accepted format and mode, and a typed, clear error for each bad input."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from ncii_shield.errors import CorruptMedia, EmptyMedia, MediaError, MediaTooLarge, UnsupportedMedia
from ncii_shield.media.decode import PhotoLimits, decode_photo
from ncii_shield.signals.pdq import PdqSignal
from tests.conftest import ORIGINAL_JPG, encode

ORIGINAL_PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def pdq_of(data: bytes, **kw) -> str:
    return PdqSignal.hash_photo(decode_photo(data, **kw)).value


def near(a: str, b: str, limit: int = 10) -> bool:
    return PdqSignal.distance(a, b) <= limit


# --- accepted formats -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "HEIF", "AVIF", "BMP", "TIFF", "GIF"])
def test_every_accepted_format_hashes_near_the_original(original_image, fmt):
    data = encode(original_image, fmt, **({"quality": 90} if fmt in ("WEBP", "HEIF", "AVIF") else {}))
    assert near(pdq_of(data), ORIGINAL_PDQ, 16 if fmt == "GIF" else 10)


@pytest.mark.parametrize(
    "mode,fmt",
    [("1", "PNG"), ("L", "PNG"), ("LA", "PNG"), ("P", "PNG"), ("PA", "WEBP"), ("RGB", "PNG"),
     ("RGBA", "PNG"), ("CMYK", "JPEG"), ("CMYK", "TIFF"), ("YCbCr", "JPEG"), ("LAB", "TIFF"),
     ("HSV", "PNG"), ("I", "TIFF"), ("F", "TIFF"), ("I;16", "PNG"), ("I;16", "TIFF")],
)
def test_every_pillow_mode_decodes(original_image, mode, fmt):
    if mode == "HSV":  # no format stores HSV; decode the in-memory image's pixels instead
        image = original_image.convert("HSV").convert("RGB")
    elif mode == "PA":
        image = original_image.convert("P").convert("PA")
    else:
        image = original_image.convert(mode)
    data = encode(image, fmt)
    decoded = decode_photo(data)
    assert decoded.rgb.dtype == np.uint8 and decoded.rgb.shape[2] == 3
    limit = {"1": 40, "HSV": 256}.get(mode, 12)
    assert PdqSignal.distance(pdq_of(data), ORIGINAL_PDQ) <= limit


def test_16_bit_greyscale_png_is_scaled_not_clipped(original_image):
    grey = np.asarray(original_image.convert("L")).astype(np.uint16)
    sixteen = Image.fromarray(grey * 257)
    assert sixteen.mode.startswith("I;16")
    data = encode(sixteen, "PNG")
    decoded = decode_photo(data)
    assert decoded.rgb.mean() == pytest.approx(grey.mean(), abs=1.0)  # clipping would give ~255
    assert pdq_of(data) == pdq_of(encode(Image.fromarray(grey.astype(np.uint8)), "PNG"))


def test_float_image_in_unit_range_is_scaled(original_image):
    grey = np.asarray(original_image.convert("L")).astype(np.float32) / 255.0
    data = encode(Image.fromarray(grey, mode="F"), "TIFF")
    assert decode_photo(data).rgb.mean() == pytest.approx(grey.mean() * 255, abs=1.0)


def test_wrong_extension_is_ignored(tmp_path, original_image):
    """Formats are told by content: a PNG named .jpg hashes like the PNG."""
    from ncii_shield.services.hashing import hash_path

    path = tmp_path / "actually-a-png.jpg"
    path.write_bytes(encode(original_image, "PNG"))
    assert hash_path(path).pdq == pdq_of(encode(original_image, "PNG"))


def test_animated_gif_hashes_its_first_frame(original_image):
    first = original_image.resize((256, 192))
    second = Image.new("RGB", first.size, (20, 200, 20))
    buffer = io.BytesIO()
    first.save(buffer, format="GIF", save_all=True, append_images=[second], duration=100, loop=0)
    decoded = decode_photo(buffer.getvalue())
    assert decoded.frames == 2
    single = pdq_of(encode(first, "GIF"))
    assert PdqSignal.hash_photo(decoded).value == single


def test_animated_webp_hashes_its_first_frame(original_image):
    first = original_image.resize((256, 192))
    second = Image.new("RGB", first.size, (200, 20, 20))
    buffer = io.BytesIO()
    first.save(buffer, format="WEBP", save_all=True, append_images=[second], lossless=True)
    decoded = decode_photo(buffer.getvalue())
    assert decoded.frames == 2
    assert near(PdqSignal.hash_photo(decoded).value, pdq_of(encode(first, "PNG")), 4)


@pytest.mark.parametrize("orientation,transpose", [
    (3, Image.Transpose.ROTATE_180), (6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270),
    (2, Image.Transpose.FLIP_LEFT_RIGHT),
])
def test_exif_orientation_applied_by_default_and_stored_pixels_on_request(original_image, orientation, transpose):
    """A camera stores the pixels turned and says so in EXIF; a person sees the upright photo."""
    stored = original_image.transpose(transpose)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(stored, "JPEG", quality=95, exif=exif)
    upright = pdq_of(data)
    as_stored = pdq_of(data, apply_orientation=False)
    assert near(upright, ORIGINAL_PDQ)
    assert near(as_stored, pdq_of(encode(stored, "JPEG", quality=95)))
    assert not near(upright, as_stored, 40)


# --- bad input: each gets its typed, clear error --------------------------------------------


def test_zero_bytes():
    with pytest.raises(EmptyMedia, match="empty"):
        decode_photo(b"")


def test_not_an_image():
    with pytest.raises(UnsupportedMedia, match="accepted: JPEG, PNG"):
        decode_photo(b"%PDF-1.7 this is a document, not a photo")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_file(original_image, fmt):
    data = encode(original_image, fmt)
    with pytest.raises(CorruptMedia, match="truncated or corrupt"):
        decode_photo(data[: len(data) // 2])


def test_header_only_file(original_image):
    data = encode(original_image, "PNG")
    with pytest.raises(MediaError):
        decode_photo(data[:40])


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("size", [(100_000, 100_000), (60_000, 60_000), (20_000, 20_000)])
def test_decompression_bomb_rejected_before_decoding(size):
    data = _png_header_only(*size)
    assert len(data) < 200
    with pytest.raises(MediaTooLarge, match="pixels"):
        decode_photo(data, limits=PhotoLimits(max_pixels=50_000_000))


def test_real_compressed_bomb_rejected():
    """A real 12,000 x 12,000 PNG of zeros: ~100 KB on disk, 432 MB of pixels."""
    image = Image.new("L", (12_000, 12_000))
    data = encode(image, "PNG", optimize=True)
    assert len(data) < 1_000_000
    with pytest.raises(MediaTooLarge):
        decode_photo(data, limits=PhotoLimits(max_pixels=100_000_000))


def test_too_many_bytes(original_image):
    data = encode(original_image, "PNG")
    with pytest.raises(MediaTooLarge, match="bytes"):
        decode_photo(data, limits=PhotoLimits(max_bytes=len(data) - 1))


def test_limits_are_per_call_not_global(original_image):
    data = encode(original_image, "PNG")
    decode_photo(data)  # default limits accept it
    with pytest.raises(MediaTooLarge):
        decode_photo(data, limits=PhotoLimits(max_pixels=1000))
    decode_photo(data)


def test_bad_exif_is_ignored_not_fatal(original_image):
    data = bytearray(encode(original_image, "JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff"))
    decoded = decode_photo(bytes(data))
    assert decoded.rgb.shape[2] == 3


def test_original_file_bytes():
    assert pdq_of(ORIGINAL_JPG.read_bytes()) == ORIGINAL_PDQ
