"""Safe photo decoding: bytes in, an RGB pixel array out, or a typed error.

Every upload and every scanned file passes through :func:`decode_photo`, so it must never crash,
hang or exhaust memory on hostile input:

* the byte size is checked before anything is parsed (:class:`PhotoLimits.max_bytes`);
* the pixel count is read from the header and checked *before* pixels are decoded
  (:class:`PhotoLimits.max_pixels`), which stops decompression bombs;
* only the formats in :data:`ACCEPTED_FORMATS` are tried, whatever the file's name says;
* truncated or corrupt files raise :class:`~ncii_shield.errors.CorruptMedia`, never a Pillow
  exception.

Colour handling matches the reference PDQ bindings (``Image.convert("RGB")``) for every 8-bit mode,
so hashes are bit-exact with the reference. Deeper modes (16-bit greyscale PNG, 32-bit integer,
float) are scaled into 0–255 first instead of being clipped to white.

Animated images (GIF, APNG, animated WebP) are hashed on their **first frame**: that is the frame
a thumbnail, a preview and most re-uploads show.

EXIF orientation is applied by default, so the hash is of the image *as a person sees it* (as
browsers display it); ``apply_orientation=False`` hashes the pixels as stored.

Usage::

    photo = decode_photo(data)            # DecodedPhoto
    photo.rgb.shape                       # (height, width, 3), uint8
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFile, ImageOps

from ncii_shield.errors import CorruptMedia, EmptyMedia, MediaTooLarge, UnsupportedMedia

try:  # HEIC/HEIF from phones; AVIF is built into Pillow >= 11.3.
    import pillow_heif

    pillow_heif.register_heif_opener()
    _HEIF = True
except ImportError:  # pragma: no cover - pillow-heif is a core dependency
    _HEIF = False

# Formats we accept, by Pillow's opener name (the JPEG opener also reads cameras' MPO files).
Image.init()
ACCEPTED_FORMATS: tuple[str, ...] = tuple(
    f for f in ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF", "HEIF") if f in Image.OPEN
)
ACCEPTED_DESCRIPTION = ", ".join(
    {"WEBP": "WebP", "HEIF": "HEIC/HEIF"}.get(f, f) for f in ACCEPTED_FORMATS
)

ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, not a grey half-image

_MIB = 1024 * 1024


@dataclass(frozen=True)
class PhotoLimits:
    """Limits applied before and during decoding. Defaults fit a 108-MP phone photo."""

    max_bytes: int = 64 * _MIB
    max_pixels: int = 120_000_000
    max_side: int = 65_535


DEFAULT_LIMITS = PhotoLimits()


@dataclass(frozen=True)
class DecodedPhoto:
    """A decoded photo: ``rgb`` is an (height, width, 3) uint8 array."""

    rgb: np.ndarray
    format: str
    mode: str
    frames: int
    orientation_applied: bool

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def decode_photo(
    data: bytes,
    *,
    apply_orientation: bool = True,
    limits: PhotoLimits = DEFAULT_LIMITS,
) -> DecodedPhoto:
    """Decode ``data`` into RGB pixels, or raise a :class:`~ncii_shield.errors.MediaError`."""
    if not data:
        raise EmptyMedia(f"the file is empty (0 bytes); expected a photo ({ACCEPTED_DESCRIPTION})")
    if len(data) > limits.max_bytes:
        raise MediaTooLarge(
            f"the photo is {len(data):,} bytes; at most {limits.max_bytes:,} bytes are accepted"
        )
    with warnings.catch_warnings():
        # Pillow warns (and at 2x raises) on its own global pixel limit; we enforce ours instead.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = _open(data, limits)
        try:
            _check_size(image.size, limits)
            fmt = image.format or "unknown"
            mode = image.mode
            frames = int(getattr(image, "n_frames", 1) or 1)
            image.seek(0)
            image.load()
            oriented = False
            if apply_orientation:
                image, oriented = _apply_orientation(image, limits)
            rgb = _to_rgb_array(image)
        except (EmptyMedia, MediaTooLarge, UnsupportedMedia, CorruptMedia):
            raise
        except MemoryError as exc:
            raise MediaTooLarge(
                f"the photo needs more memory to decode than is available; at most "
                f"{limits.max_pixels:,} pixels are accepted"
            ) from exc
        except Exception as exc:  # Pillow's plugins raise many types on hostile input
            raise CorruptMedia(_corrupt_message(exc)) from exc
        finally:
            image.close()
    return DecodedPhoto(rgb=rgb, format=fmt, mode=mode, frames=frames, orientation_applied=oriented)


def _open(data: bytes, limits: PhotoLimits) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise MediaTooLarge(
            f"the photo declares too many pixels (a decompression bomb?); at most "
            f"{limits.max_pixels:,} pixels are accepted"
        ) from exc
    except Image.UnidentifiedImageError as exc:
        raise UnsupportedMedia(
            f"not a photo in a format we decode (the first bytes are {data[:8].hex()}); "
            f"accepted: {ACCEPTED_DESCRIPTION}"
        ) from exc
    except MemoryError as exc:
        raise MediaTooLarge("the photo header asks for more memory than is available") from exc
    except Exception as exc:
        raise CorruptMedia(_corrupt_message(exc)) from exc


def _check_size(size: tuple[int, int], limits: PhotoLimits) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise CorruptMedia(f"the photo declares an empty size {width}x{height}")
    if width > limits.max_side or height > limits.max_side or width * height > limits.max_pixels:
        raise MediaTooLarge(
            f"the photo is {width}x{height} = {width * height:,} pixels; at most "
            f"{limits.max_pixels:,} pixels and {limits.max_side:,} per side are accepted"
        )


def _apply_orientation(image: Image.Image, limits: PhotoLimits) -> tuple[Image.Image, bool]:
    try:
        orientation = image.getexif().get(0x0112, 1)
    except Exception:  # unreadable EXIF: show the stored pixels, as browsers do
        return image, False
    if orientation in (None, 1) or orientation not in range(2, 9):
        return image, False
    transposed = ImageOps.exif_transpose(image)
    return (transposed if transposed is not None else image), True


def _to_rgb_array(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        image = _scale_to_l(np.asarray(image.convert("I"), dtype=np.int64), full_scale=65535)
    elif mode == "F":
        image = _scale_to_l(np.asarray(image, dtype=np.float64), full_scale=1.0)
    elif mode != "RGB":
        image = image.convert("RGB")
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.uint8)


def _scale_to_l(values: np.ndarray, *, full_scale: float) -> Image.Image:
    """Map deep greyscale to 8 bits. Data already in 0–255 is kept (as ``convert`` would)."""
    finite = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(finite.min(initial=0.0)), float(finite.max(initial=0.0))
    if lo >= 0 and hi <= 255 and not (full_scale == 1.0 and hi <= 1.0 and hi > 0):
        scaled = finite
    elif lo >= 0 and hi <= full_scale:
        scaled = finite * (255.0 / full_scale)
    else:
        scaled = (finite - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(finite)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), mode="L")


def _corrupt_message(exc: BaseException) -> str:
    detail = str(exc).strip() or type(exc).__name__
    return (
        f"the photo is truncated or corrupt ({detail[:200]}); a complete file in one of these "
        f"formats is accepted: {ACCEPTED_DESCRIPTION}"
    )
