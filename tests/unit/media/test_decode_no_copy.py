"""Full decodes without copies (issue 17, the hostile-image budget): RGB photos viewed in Pillow's
own memory, still WebP decoded by libwebp straight into the array, HEIC viewed in libheif's buffer.
Each must give exactly the pixels of Pillow's ``convert("RGB")`` (what the reference bindings hash),
and each format's memory estimate decides between a full decode, a reduced one and a refusal."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from ncii_shield.errors import MediaTooLarge
from ncii_shield.media import _libwebp
from ncii_shield.media.decode import PhotoLimits, decode_photo, full_decode_bytes
from tests.conftest import encode


def _photo(mode: str = "RGB", size: tuple[int, int] = (403, 301)) -> Image.Image:
    rng = np.random.default_rng(7)
    image = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    if mode == "RGBA":
        image.putalpha(Image.fromarray(rng.integers(0, 256, (size[1], size[0]), dtype=np.uint8)))
    return image


def _pillow_rgb(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


CASES = [("PNG", "RGB", {}), ("PNG", "RGBA", {}), ("JPEG", "RGB", {"quality": 80}), ("TIFF", "RGB", {}),
         ("BMP", "RGB", {}), ("WEBP", "RGB", {"quality": 80}), ("WEBP", "RGBA", {"quality": 80}),
         ("WEBP", "RGB", {"lossless": True}), ("WEBP", "RGBA", {"lossless": True}),
         ("HEIF", "RGB", {"quality": 60}), ("HEIF", "RGBA", {"quality": 60}), ("AVIF", "RGB", {"quality": 60})]


@pytest.mark.parametrize("fmt,mode,params", CASES, ids=[f"{f}-{m}-{'-'.join(p)}" for f, m, p in CASES])
def test_full_decode_is_pillows_convert_rgb(fmt, mode, params):
    data = encode(_photo(mode), fmt, **params)
    photo = decode_photo(data, apply_orientation=False)
    assert photo.reduced_by == 1
    assert np.array_equal(photo.rgb, _pillow_rgb(data))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "HEIF"])
def test_rgb_photos_are_viewed_not_copied(fmt):
    """The array views the decoder's memory (4 bytes a pixel for Pillow, libheif's padded rows)
    instead of holding a copy of its own."""
    photo = decode_photo(encode(_photo(), fmt, **({"quality": 60} if fmt == "HEIF" else {})))
    assert not photo.rgb.flags.owndata
    assert photo.rgb.strides[1] in (3, 4) and photo.rgb.base is not None


def test_turned_photos_are_views_with_the_turned_pixels():
    image = _photo()
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(image, "JPEG", quality=95, exif=exif.tobytes())
    photo = decode_photo(data)
    assert photo.orientation_applied and not photo.rgb.flags.owndata
    assert np.array_equal(photo.rgb, np.asarray(Image.fromarray(_pillow_rgb(data)).transpose(Image.Transpose.ROTATE_270)))


def test_still_webp_kinds():
    assert _libwebp.still_kind(encode(_photo(), "WEBP", quality=80)) == "lossy"
    assert _libwebp.still_kind(encode(_photo("RGBA"), "WEBP", quality=80)) == "lossy+alpha"
    assert _libwebp.still_kind(encode(_photo(), "WEBP", lossless=True)) == "lossless"
    frames = [_photo(), _photo().transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="WEBP", save_all=True, append_images=frames[1:])
    assert _libwebp.still_kind(buffer.getvalue()) is None  # animations go through Pillow
    assert _libwebp.still_kind(b"RIFF\x00\x00\x00\x00WEBPVP8 ") is None


def test_animated_webp_decodes_its_first_frame_through_pillow():
    frames = [_photo(), _photo().transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="WEBP", save_all=True, append_images=frames[1:], lossless=True)
    photo = decode_photo(buffer.getvalue())
    assert photo.frames == 2 and np.array_equal(photo.rgb, np.asarray(frames[0]))


def test_truncated_still_webp_is_corrupt():
    from ncii_shield.errors import CorruptMedia

    data = encode(_photo(), "WEBP", lossless=True)
    with pytest.raises(CorruptMedia):
        decode_photo(data[: len(data) // 2])


def test_a_full_decode_that_does_not_fit_the_budget_is_reduced_or_refused():
    """The memory estimate, not the pixel count alone, decides: with a 600-KiB budget a 403x301 RGB
    PNG (0.5 MB decoded) still decodes in full, a lossless WebP (7.5 bytes a pixel) is refused with
    the pixels it would accept named, and a JPEG whose full decode does not fit is decoded reduced."""
    limits = PhotoLimits(memory_bytes=600 * 1024)
    assert decode_photo(encode(_photo(), "PNG"), limits=limits).reduced_by == 1
    webp = encode(_photo(), "WEBP", lossless=True)
    assert full_decode_bytes(Image.open(io.BytesIO(webp)), webp) > limits.memory_bytes
    with pytest.raises(MediaTooLarge, match="pixels are accepted in this format"):
        decode_photo(webp, limits=limits)
    big = _photo(size=(1200, 900))
    jpeg = encode(big, "JPEG", quality=80)
    reduced = decode_photo(jpeg, limits=limits)
    assert reduced.reduced_by >= 2 and reduced.width <= 600


def test_lossless_webp_beyond_its_budget_is_refused_before_decoding():
    """A lossless WebP needs libwebp's ARGB copy beside the array (7.5 bytes a pixel): over 8.4 MP
    it does not fit 60 MiB, whatever few bytes the file has."""
    data = encode(Image.new("RGB", (4090, 3070), 90), "WEBP", lossless=True, method=0)
    with pytest.raises(MediaTooLarge, match="lossless|pixels are accepted"):
        decode_photo(data)
