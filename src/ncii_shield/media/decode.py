"""Safe photo decoding: bytes in, an RGB pixel array out, or a typed error.

Every upload and every scanned file passes through :func:`decode_photo`, so it must never crash,
hang or exhaust memory on hostile input. A hostile file costs a bounded amount of memory and time
(measured in ``docs/reliability.md``):

* the byte size is checked before anything is parsed (:attr:`PhotoLimits.max_bytes`);
* the pixel count is read from the header and checked *before* pixels are decoded
  (:attr:`PhotoLimits.max_pixels`), which stops decompression bombs;
* a decode holds at most :attr:`PhotoLimits.memory_bytes` (60 MiB) of pixels: the decoder's
  buffers and the RGB array, estimated per format and mode before anything is decoded
  (:func:`full_decode_bytes`);
* photos up to :attr:`PhotoLimits.work_pixels` (4096 x 3072, a 12.6-MP phone photo) whose full
  decode fits are **decoded in full, with no copy**: RGB photos into one block of Pillow's memory
  that the array views, still WebP by libwebp straight into the array, HEIC viewed in libheif's
  buffer (a 12.5-MP RGB photo costs ~50 MB, not ~95);
* other photos are **decoded reduced**: PDQ looks at 64 x 64 and derivative signatures at 640
  pixels a side, so nothing is lost. JPEG is scaled by libjpeg while it decodes (draft mode: 1/2 to
  1/8, the DCT's own scaling), so even a 120-megapixel JPEG needs a few MB. Formats with no reduced
  decoding (PNG, GIF, HEIC, AVIF, BMP, TIFF) are decoded by Pillow only when that and the reduced
  array fit ``memory_bytes``, then converted and reduced strip by strip, so the RGB copy of the
  full image is never made; WebP stills over the full-decode size are refused. Anything else is
  refused with :class:`~ncii_shield.errors.MediaTooLarge` naming the pixels accepted in its format;
* at most :func:`max_concurrent_decodes` photos decode at once per process (each waits for a slot),
  so a burst of hostile uploads costs at most that many budgets;
* only the formats in :data:`ACCEPTED_FORMATS` are tried, whatever the file's name says;
* truncated or corrupt files raise :class:`~ncii_shield.errors.CorruptMedia`, never a Pillow
  exception.

Photos up to :attr:`PhotoLimits.work_pixels` are decoded in full, and their colour handling matches
the reference PDQ bindings (``Image.convert("RGB")``) for every 8-bit mode, so hashes are bit-exact
with the reference. Deeper modes (16-bit greyscale PNG, 32-bit integer, float) are scaled into 0–255
first instead of being clipped to white. Larger photos hash from the reduced decode, a few bits of
256 from the full-resolution hash (measured in ``docs/reliability.md``), far inside the match
threshold.

Animated images (GIF, APNG, animated WebP) are hashed on their **first frame**: that is the frame
a thumbnail, a preview and most re-uploads show.

EXIF orientation is applied by default, so the hash is of the image *as a person sees it* (as
browsers display it); ``apply_orientation=False`` hashes the pixels as stored.

Usage::

    photo = decode_photo(data)            # DecodedPhoto
    photo.rgb.shape                       # (height, width, 3), uint8
    photo.reduced_by                      # 1, or the factor a large photo was reduced by
"""

from __future__ import annotations

import ctypes
import io
import math
import os
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFile

from ncii_shield.errors import CorruptMedia, EmptyMedia, MediaTooLarge, UnsupportedMedia
from ncii_shield.media import _libwebp

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


def _map_large_allocations(threshold: int = 4 * 1024 * 1024) -> bool:
    """Ask glibc to give every allocation of ``threshold`` bytes or more its own mapping (as it
    does by default up to the first large free, after which its threshold rises to 32 MB).

    Without it a decode's buffers may come from heap left by the previous photo instead of fresh
    pages and back, and a 12-MP HEIC peaks at 55 or 65 MiB depending on what the process decoded
    before (measured: docs/reliability.md); with it, at 55 MiB every time, and a photo's memory goes
    back to the system as soon as it is freed. Skipped where the operator set
    ``MALLOC_MMAP_THRESHOLD_`` or the C library is not glibc."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(-3, threshold))  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False


_map_large_allocations()

_MIB = 1024 * 1024

#: Formats whose decoder scales while decoding (libjpeg's DCT scaling through Pillow's ``draft``).
REDUCED_DECODE_FORMATS = frozenset({"JPEG", "MPO"})

# Bytes per pixel of Pillow's own storage for a mode ("1", "L", "P" one byte; 16-bit two; the rest,
# RGB included, four), and how many such images a format's decoder holds at once: pillow-heif
# decodes into a buffer of its own that Pillow then copies; libwebp's animation decoder keeps a canvas
# and a frame beside Pillow's copy.
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
# AVIF: libavif's YUV and RGB, the bytes Pillow receives and Pillow's image: 9.3 bytes a pixel measured
# on a 12.2-MP RGB AVIF (docs/reliability.md), up to 11 for 4:4:4.
_DECODER_COPIES = {"HEIF": 2, "AVIF": 2.75, "WEBP": 3}

# EXIF orientation -> the transpose that shows the photo upright (as ImageOps.exif_transpose).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_STRIP_BYTES = 4 * _MIB  # the reduced path converts this much of the decoded image at a time


@dataclass(frozen=True)
class PhotoLimits:
    """Limits applied before and during decoding.

    ``max_pixels`` fits a 108-MP phone photo (JPEG, decoded reduced). Photos up to ``work_pixels``
    (a 12.6-MP phone photo) are decoded in full, exactly as the reference hashes them, when their
    full decode fits ``memory_bytes``; others are reduced by a whole factor to at most
    ``reduced_pixels``. ``memory_bytes`` is the most memory of pixels a decode holds (the decoder's
    buffers and the RGB array): at the default, full decodes of RGB, greyscale and palette photos,
    lossy WebP and HEIC up to ``work_pixels``, lossless WebP up to 8.4 MP, AVIF up to 5.7 MP; reduced
    decodes of greyscale or palette PNG and GIF up to about 50 MP. Operators may change the last
    three with ``NCII_SHIELD_DECODE_WORK_PIXELS``, ``NCII_SHIELD_DECODE_REDUCED_PIXELS`` and
    ``NCII_SHIELD_DECODE_MEMORY_MB``.
    """

    max_bytes: int = 64 * _MIB
    max_pixels: int = 120_000_000
    max_side: int = 65_535
    work_pixels: int = 4096 * 3072
    reduced_pixels: int = 2048 * 2048
    memory_bytes: int = 60 * _MIB

    @classmethod
    def from_env(cls, environ: dict | None = None) -> PhotoLimits:
        env = os.environ if environ is None else environ
        base = cls()
        return cls(work_pixels=int(env.get("NCII_SHIELD_DECODE_WORK_PIXELS", base.work_pixels)),
                   reduced_pixels=int(env.get("NCII_SHIELD_DECODE_REDUCED_PIXELS", base.reduced_pixels)),
                   memory_bytes=int(float(env.get("NCII_SHIELD_DECODE_MEMORY_MB", base.memory_bytes / _MIB)) * _MIB))


DEFAULT_LIMITS = PhotoLimits.from_env()


@dataclass(frozen=True)
class DecodedPhoto:
    """A decoded photo: ``rgb`` is an (height, width, 3) uint8 array. ``reduced_by`` is 1 when the
    photo was decoded in full, else the factor each side was divided by (roughly, for JPEG)."""

    rgb: np.ndarray
    format: str
    mode: str
    frames: int
    orientation_applied: bool
    reduced_by: int = 1

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


# --- how many decode at once --------------------------------------------------------------------

_slots_lock = threading.Lock()
_slots_size = max(1, int(os.environ.get("NCII_SHIELD_MAX_DECODES", "0") or 0) or (os.cpu_count() or 1))
_slots = threading.BoundedSemaphore(_slots_size)


def max_concurrent_decodes() -> int:
    """How many photos this process decodes at once (``NCII_SHIELD_MAX_DECODES``, default the number
    of CPUs): the memory of a burst of uploads is at most this many decode budgets."""
    return _slots_size


def set_max_concurrent_decodes(n: int) -> None:
    """Change the number of decode slots (for embedding and tests); decodes under way keep theirs."""
    global _slots, _slots_size
    if n < 1:
        raise ValueError("at least one decode slot is needed")
    with _slots_lock:
        _slots, _slots_size = threading.BoundedSemaphore(n), n


@contextmanager
def _decode_slot():
    slots = _slots
    slots.acquire()
    try:
        yield
    finally:
        slots.release()


# --- decoding -----------------------------------------------------------------------------------


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
    with _decode_slot(), warnings.catch_warnings():
        # Pillow warns (and at 2x raises) on its own global pixel limit; we enforce ours instead.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = _open(data, limits)
        try:
            _check_size(image.size, limits)
            fmt = image.format or "unknown"
            mode = image.mode
            frames = _frame_count(image)
            image.seek(0)
            factor = _plan(image, data, limits)
            if factor > 1:
                rgb, factor = _decode_reduced(image, data, factor, limits)
                rgb, oriented = _orient_array(rgb, _orientation(image) if apply_orientation else 1)
            else:
                rgb = _decode_full(image, data)
                orientation = _orientation(image) if apply_orientation else 1
                image.close()
                rgb, oriented = _orient_array(rgb, orientation)
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
    return DecodedPhoto(rgb=rgb, format=fmt, mode=mode, frames=frames, orientation_applied=oriented,
                        reduced_by=factor)


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


def _frame_count(image: Image.Image) -> int:
    """Frames of an animation; the containers tell without decoding them (a GIF's frames are
    skipped over, not decoded)."""
    return int(getattr(image, "n_frames", 1) or 1)


def _reduction(size: tuple[int, int], work_pixels: int) -> int:
    """The smallest whole factor that brings ``size`` to at most ``work_pixels`` pixels."""
    width, height = size
    if width * height <= work_pixels:
        return 1
    factor = max(2, math.ceil(math.sqrt(width * height / work_pixels)))
    while -(-width // factor) * -(-height // factor) > work_pixels:
        factor += 1
    return factor


def decoded_bytes(image: Image.Image) -> int:
    """Memory a full decode of ``image`` takes in Pillow (and in its format's decoder)."""
    width, height = image.size
    return int(width * height * _MODE_BYTES.get(image.mode, 4) * _DECODER_COPIES.get(image.format or "", 1))


def full_decode_bytes(image: Image.Image, data: bytes) -> int:
    """Memory a full decode into the RGB array takes: the decoder's buffers and the array (none
    where the array views the decoder's memory)."""
    pixels = image.size[0] * image.size[1]
    webp = _libwebp.still_kind(data) if image.format == "WEBP" and _libwebp.available() else None
    if webp is not None:
        return _libwebp.decode_bytes(webp, pixels)
    if image.format == "HEIF" and image.mode in _VIEWABLE_MODES:
        return pixels * _HEIF_BYTES  # libheif's RGB is viewed; its YCbCr planes while converting
    viewed = image.mode in _VIEWABLE_MODES and _NEW_BLOCK is not None
    return decoded_bytes(image) + (0 if viewed else 3 * pixels)


def _accepted_pixels(image: Image.Image, data: bytes, limits: PhotoLimits) -> int:
    """The most pixels a photo of ``image``'s format and mode may have: decoded in full, or (where
    Pillow decodes it) decoded in full and then reduced."""
    pixels = image.size[0] * image.size[1]
    full = min(limits.work_pixels, limits.memory_bytes * pixels // max(1, full_decode_bytes(image, data)))
    if image.format == "WEBP" and _libwebp.available() and _libwebp.still_kind(data) is not None:
        return full
    reduced = (limits.memory_bytes - 3 * limits.reduced_pixels) * pixels // max(1, decoded_bytes(image))
    return max(full, min(reduced, limits.max_pixels))


def _plan(image: Image.Image, data: bytes, limits: PhotoLimits) -> int:
    """1 to decode ``image`` in full, else the factor to reduce each side by: photos over
    ``work_pixels``, and those whose full decode would not fit ``memory_bytes``."""
    if image.size[0] * image.size[1] <= limits.work_pixels and full_decode_bytes(image, data) <= limits.memory_bytes:
        return 1
    return max(2, _reduction(image.size, limits.reduced_pixels))


def _decode_reduced(image: Image.Image, data: bytes, factor: int, limits: PhotoLimits) -> tuple[np.ndarray, int]:
    """RGB pixels of about 1/``factor`` of each side, never holding an RGB copy of the full image."""
    width, height = image.size
    out_bytes = 3 * -(-width // factor) * -(-height // factor)
    if image.format in REDUCED_DECODE_FORMATS:
        # libjpeg scales by 1/2, 1/4 or 1/8 while decoding: the largest of these up to ``factor``
        image.draft(image.mode, (max(1, width // factor), max(1, height // factor)))
    elif image.format == "WEBP" and _libwebp.available() and _libwebp.still_kind(data) is not None \
            or decoded_bytes(image) + out_bytes > limits.memory_bytes:
        need = full_decode_bytes(image, data) if width * height <= limits.work_pixels else decoded_bytes(image) + out_bytes
        raise MediaTooLarge(
            f"the photo is {width}x{height} = {width * height:,} pixels of {image.format} in mode {image.mode}, "
            f"which has no reduced decoding and would need {need / _MIB:,.0f} MiB to decode (at most "
            f"{limits.memory_bytes / _MIB:,.0f} MiB); at most {_accepted_pixels(image, data, limits):,} pixels "
            f"are accepted in this format and mode (JPEG up to {limits.max_pixels:,}, decoded reduced)"
        )
    image.load()
    scale = max(1, round(width / image.size[0]))  # what draft did (1 for the other formats)
    rest = _reduction(image.size, limits.reduced_pixels)
    return _to_rgb_array(image, rest), scale * rest


def _to_rgb_array(image: Image.Image, factor: int = 1) -> np.ndarray:
    """The (height, width, 3) pixels, reduced by ``factor`` (box average), converted a strip of rows
    at a time into one array: Pillow's own ``tobytes`` would hold two more copies of the image."""
    width, height = image.size
    extrema = _deep_extrema(image)
    rows = max(factor, (_STRIP_BYTES // max(1, width * 4)) // factor * factor)
    out = np.empty((-(-height // factor), -(-width // factor), 3), dtype=np.uint8)
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        strip = _to_rgb_image(image.crop((0, top, width, bottom)), extrema)
        if factor > 1:
            strip = strip.reduce(factor)
        out[top // factor:top // factor + strip.size[1]] = np.asarray(strip, dtype=np.uint8)
    return out


def _decode_full(image: Image.Image, data: bytes) -> np.ndarray:
    """The (height, width, 3) pixels of the whole photo, with no copy where the format allows:

    * RGB and RGBA photos Pillow decodes are decoded into one block of Pillow's memory that the array
      then views (Pillow stores RGB as 4 bytes a pixel): a 12.5-MP photo costs 50 MB, not Pillow's
      image plus an RGB copy (~88 MB);
    * still WebP photos are decoded by libwebp straight into the array (:mod:`._libwebp`);
    * HEIC photos are viewed in libheif's own RGB buffer instead of being copied into Pillow's.
    """
    if image.format == "WEBP" and _libwebp.available() and _libwebp.still_kind(data) is not None:
        return _libwebp.decode_rgb(data, *image.size)
    if image.format == "HEIF":
        rgb = _heif_view(image)
        if rgb is not None:
            return rgb
    if image.mode in _VIEWABLE_MODES and _NEW_BLOCK is not None:
        image.im = _NEW_BLOCK(image.mode, image.size)  # the decoder writes into this block
    image.load()
    if image.mode in _VIEWABLE_MODES:
        view = _pixels_view(image)
        if view is not None:
            return view[:, :, :3]  # RGBA -> RGB drops alpha, as convert("RGB") does
    return _to_rgb_array(image)


def _heif_view(image: Image.Image) -> np.ndarray | None:
    """The RGB pixels of a HEIC photo in libheif's decoded buffer (pillow-heif's frame), or None
    where the frame is not 8-bit RGB(A) as Pillow would show it."""
    heif = getattr(image, "_heif_file", None)
    if heif is None:
        return None
    frame = heif[image.tell()]
    if frame.mode not in ("RGB", "RGBA") or frame.mode != image.mode:
        return None
    width, height = image.size
    channels = len(frame.mode)
    buffer = frame.data  # decodes; libheif's buffer, rows ``frame.stride`` bytes apart (maybe padded)
    if frame.size != image.size or frame.stride < width * channels or len(buffer) < frame.stride * (height - 1) + width * channels:
        return None
    # numpy keeps ``buffer`` (and so libheif's image) alive as the array's base
    return np.ndarray((height, width, 3), dtype=np.uint8, buffer=buffer, strides=(frame.stride, channels, 1))


# libheif's RGB (3 bytes a pixel) beside the YCbCr it converts from and libde265's picture:
# 4.8 bytes a pixel measured on a 12.2-MP HEIC (docs/reliability.md).
_HEIF_BYTES = 5


# Modes whose first three bands are the photo's RGB as ``convert("RGB")`` gives them.
_VIEWABLE_MODES = frozenset({"RGB", "RGBA", "RGBX"})
_NEW_BLOCK = getattr(Image.core, "new_block", None)  # Pillow >= 11.2: image memory in one block


class _ArrowArray(ctypes.Structure):
    pass


_ArrowArray._fields_ = [  # the Arrow C data interface's ArrowArray
    ("length", ctypes.c_int64), ("null_count", ctypes.c_int64), ("offset", ctypes.c_int64),
    ("n_buffers", ctypes.c_int64), ("n_children", ctypes.c_int64), ("buffers", ctypes.POINTER(ctypes.c_void_p)),
    ("children", ctypes.POINTER(ctypes.POINTER(_ArrowArray))), ("dictionary", ctypes.c_void_p),
    ("release", ctypes.c_void_p), ("private_data", ctypes.c_void_p),
]
_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype, _capsule_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]


class _PillowPixels:
    """Pillow's image memory as a numpy array, through the Arrow C data interface Pillow exports
    (``__arrow_c_array__``, Pillow >= 11.2). Holds the image core and the exported capsule, so the
    memory lives as long as the array (numpy keeps this object as the array's base)."""

    def __init__(self, image: Image.Image) -> None:
        self.core = image.im
        self.capsule = self.core.__arrow_c_array__()
        array = _ArrowArray.from_address(_capsule_pointer(self.capsule, b"arrow_array"))
        if array.n_children != 1:  # multi-band images are a fixed-size list of 4 uint8 a pixel
            raise ValueError("not a multi-band image")
        child = array.children[0].contents
        width, height = image.size
        if child.length < width * height * 4 + child.offset:
            raise ValueError("unexpected Arrow layout")
        self.__array_interface__ = {"shape": (height, width, 4), "typestr": "|u1", "version": 3,
                                    "data": (child.buffers[1] + child.offset, False)}


def _pixels_view(image: Image.Image) -> np.ndarray | None:
    """A (height, width, 4) view of ``image``'s memory, or None where Pillow cannot export it (its
    memory is in several blocks, or this Pillow has no Arrow export)."""
    try:
        return np.asarray(_PillowPixels(image))
    except (AttributeError, ValueError):
        return None


def _orientation(image: Image.Image) -> int:
    try:
        orientation = image.getexif().get(0x0112, 1)
    except Exception:  # unreadable EXIF: show the stored pixels, as browsers do
        return 1
    return orientation if orientation in _ORIENTATION else 1


def _orient_array(rgb: np.ndarray, orientation: int) -> tuple[np.ndarray, bool]:
    """``rgb`` turned upright: the same pixels as Pillow's transpose, as a view (no copy)."""
    turn = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
            5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, -1), 7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
            8: lambda a: np.rot90(a, 1)}.get(orientation)
    if turn is None:
        return rgb, False
    return turn(rgb), True


def _deep_extrema(image: Image.Image) -> tuple | None:
    return image.getextrema() if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F") else None


def _to_rgb_image(image: Image.Image, extrema: tuple | None = None) -> Image.Image:
    """RGB as the reference bindings convert it; deep greyscale scaled by ``extrema`` (the whole
    image's min and max; by default this image's own)."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        image = _scale_to_l(np.asarray(image.convert("I"), dtype=np.int64), full_scale=65535, extrema=extrema)
    elif mode == "F":
        image = _scale_to_l(np.asarray(image, dtype=np.float64), full_scale=1.0, extrema=extrema)
    elif mode != "RGB":
        image = image.convert("RGB")
    if image.mode != "RGB":
        image = image.convert("RGB")
    return image


def _scale_to_l(values: np.ndarray, *, full_scale: float, extrema: tuple | None = None) -> Image.Image:
    """Map deep greyscale to 8 bits. Data already in 0–255 is kept (as ``convert`` would)."""
    finite = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if extrema is not None:
        lo, hi = (float(np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)) for v in extrema)
        lo, hi = min(lo, 0.0), max(hi, 0.0)  # as min/max with initial=0 below
    else:
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
