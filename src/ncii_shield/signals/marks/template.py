"""A mark's template: what a mark adds to a photo it is stamped on, and its stored form.

A mark image is cut to the part the mark covers (its alpha, or, without transparency, the pixels
that differ from a plain border) and brought to a small template whose longer side is
:data:`TEMPLATE_SIDE` pixels. The template keeps the mark's coverage (alpha) and its colour;
from these, :attr:`MarkTemplate.contrast` is what the mark adds to a mid-grey photo at full
opacity, per colour channel, which is what the search correlates with. A mark is a service's logo,
not a person's image, so keeping this small template (at most 64 x 64 pixels) is acceptable:
nothing of any victim's photo is stored.

The signature also holds the mark's keypoints (:mod:`.features`: place, size and ORB descriptor of
up to 400 corners and strokes), which let an index find candidate places for every mark at once.

The stored value is ``m1:`` + base64 of a small binary record (the label, sizes, alpha and colour
bytes, keypoints; at most about 43,000 characters)::

    template = template_from_rgba(rgba, "nudify.example watermark")
    value = encode(template)            # the signal value
    template = decode(value)            # InvalidSignal on anything malformed
    rgba = decode_mark_image(data)      # a PNG/WebP/GIF/JPEG/BMP mark file -> (h, w, 4) uint8
"""

from __future__ import annotations

import base64
import binascii
import io
import struct
import warnings
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np
from PIL import Image

from ncii_shield.errors import CorruptMedia, EmptyMedia, InvalidSignal, MediaTooLarge, UnsupportedMedia
from ncii_shield.signals.marks.features import MAX_KEYPOINTS, MarkKeypoints, mark_keypoints

TEMPLATE_SIDE = 64
MIN_SIDE = 4  # the template's shorter side; thinner marks are refused
MAX_ASPECT = 12  # longer side / shorter side
MIN_CONTRAST = 12.0  # spread of what the mark adds to a grey photo; fainter marks cannot be told apart
MAX_LABEL = 200
MAX_MARK_BYTES = 8 * 1024 * 1024
MAX_MARK_PIXELS = 4096 * 4096
MARK_FORMATS = ("PNG", "WEBP", "GIF", "JPEG", "BMP")
PREFIX = "m1:"
_HEADER = struct.Struct("<BHHHHH")  # version, template w, h, original w, h, label bytes
_VERSION = 1
_BORDER_PLAIN = 0.85  # share of border pixels near the border's median colour for it to count as plain
_BORDER_TOLERANCE = 24.0


@dataclass(frozen=True, eq=False)
class MarkTemplate:
    """A mark at template size: ``alpha`` (h, w) and ``colour`` (h, w, 3) RGB, uint8 arrays."""

    label: str
    alpha: np.ndarray
    colour: np.ndarray
    width: int  # the mark's own size (its covered part) in the image it was registered from
    height: int
    keypoints: MarkKeypoints

    @property
    def aspect(self) -> float:
        """Width / height of the template."""
        return self.alpha.shape[1] / self.alpha.shape[0]

    @cached_property
    def contrast(self) -> np.ndarray:
        """What the mark adds to a mid-grey photo at full opacity, float32 (h, w, 3)."""
        a = self.alpha.astype(np.float32)[:, :, None] / 255.0
        return a * (self.colour.astype(np.float32) - 128.0)


def template_from_rgba(rgba: np.ndarray, label: str) -> MarkTemplate:
    """The template of a mark image, ``(h, w, 4)`` RGBA or ``(h, w, 3)`` RGB uint8.

    Without transparency (or with an alpha channel that is fully opaque) the mark is taken to be the
    pixels that differ from the image's border colour when the border is plain (a logo cut out on a
    plain background); otherwise the whole rectangle (an opaque stamp). Raises InvalidSignal when the
    mark is empty, too thin or too faint to be recognised."""
    label = _check_label(label)
    if rgba.ndim != 3 or rgba.shape[2] not in (3, 4) or rgba.dtype != np.uint8:
        raise InvalidSignal("a mark image must be an (h, w, 3) or (h, w, 4) uint8 array")
    rgb = np.ascontiguousarray(rgba[:, :, :3])
    alpha = rgba[:, :, 3].astype(np.float32) / 255.0 if rgba.shape[2] == 4 else None
    if alpha is None or alpha.min() > 0.98:
        alpha = _alpha_from_border(rgb)
    ys, xs = np.nonzero(alpha > 0.1)
    if not len(ys):
        raise InvalidSignal("the mark image shows no mark: it is fully transparent or one plain colour; expected a "
                            "logo or watermark with visible pixels")
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    alpha, rgb = alpha[y0:y1, x0:x1], rgb[y0:y1, x0:x1]
    h, w = alpha.shape
    factor = TEMPLATE_SIDE / max(h, w)
    tw, th = max(1, round(w * factor)), max(1, round(h * factor))
    if min(tw, th) < MIN_SIDE or max(w, h) / min(w, h) > MAX_ASPECT or min(w, h) < 8:
        raise InvalidSignal(f"the mark is {w} x {h} pixels; at least 8 pixels on each side and an aspect ratio "
                            f"of at most {MAX_ASPECT}:1 are needed")
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    # premultiplied resampling, so transparent pixels' colour does not bleed into the edges
    a_small = cv2.resize(alpha, (tw, th), interpolation=interp)
    ca_small = cv2.resize(rgb.astype(np.float32) * alpha[:, :, None], (tw, th), interpolation=interp)
    c_small = np.where(a_small[:, :, None] > 1e-3, ca_small / np.maximum(a_small, 1e-3)[:, :, None], 128.0)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    template = MarkTemplate(label, _u8(a_small * 255.0), _u8(c_small), int(w), int(h), mark_keypoints(alpha, grey))
    spread = float(template.contrast.std())
    if spread < MIN_CONTRAST:
        raise InvalidSignal(f"the mark is too faint or too plain to recognise (contrast spread {spread:.1f}, at least "
                            f"{MIN_CONTRAST:.0f} is needed): mid-grey or uniform marks cannot be told from photos")
    return template


def _alpha_from_border(rgb: np.ndarray) -> np.ndarray:
    """Coverage of a mark without transparency: away from a plain border colour, else everywhere."""
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).astype(np.float32)
    median = np.median(border, axis=0)
    near = np.abs(border - median).max(axis=1) <= _BORDER_TOLERANCE
    if near.mean() < _BORDER_PLAIN:
        return np.ones(rgb.shape[:2], np.float32)
    distance = np.abs(rgb.astype(np.float32) - median).max(axis=2)
    return np.clip((distance - _BORDER_TOLERANCE / 2) / 48.0, 0.0, 1.0)


def _u8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.round(values), 0, 255).astype(np.uint8)


def _check_label(label: object) -> str:
    if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL:
        raise InvalidSignal(f"a mark needs a label of 1 to {MAX_LABEL} characters (what service it is), "
                            f"e.g. \"nudify.example free-tier watermark\"")
    return label.strip()


def decode_mark_image(data: bytes) -> np.ndarray:
    """A mark file's pixels as ``(h, w, 4)`` RGBA uint8; raises a MediaError saying what is wrong.

    Marks are small images: at most :data:`MAX_MARK_BYTES` bytes and :data:`MAX_MARK_PIXELS`
    pixels, checked from the header before decoding; animations give their first frame."""
    if not data:
        raise EmptyMedia("the mark file is empty; expected a PNG, WebP, GIF, JPEG or BMP image")
    if len(data) > MAX_MARK_BYTES:
        raise MediaTooLarge(f"the mark file is {len(data):,} bytes; at most {MAX_MARK_BYTES:,} are accepted")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=MARK_FORMATS)
        except Image.DecompressionBombError:
            raise MediaTooLarge(f"the mark declares too many pixels; at most {MAX_MARK_PIXELS:,} pixels are "
                                "accepted") from None
        except Image.UnidentifiedImageError:
            raise UnsupportedMedia(f"not a mark image in a format we read (the first bytes are {data[:8].hex()}); "
                                   f"accepted: {', '.join(MARK_FORMATS)}") from None
        except Exception as exc:  # Pillow raises many types on hostile input
            raise CorruptMedia(f"the mark file cannot be read: {type(exc).__name__}") from None
        try:
            w, h = image.size
            if w <= 0 or h <= 0 or w * h > MAX_MARK_PIXELS:
                raise MediaTooLarge(f"the mark is {w} x {h} pixels; at most {MAX_MARK_PIXELS:,} pixels are accepted")
            image.seek(0)
            return np.array(image.convert("RGBA"))
        except MediaTooLarge:
            raise
        except Exception as exc:
            raise CorruptMedia(f"the mark file cannot be decoded: {type(exc).__name__}") from None
        finally:
            image.close()


# -- stored form -----------------------------------------------------------------------------------

def encode(template: MarkTemplate) -> str:
    label = template.label.encode("utf-8")
    h, w = template.alpha.shape
    header = _HEADER.pack(_VERSION, w, h, template.width, template.height, len(label))
    kp = template.keypoints
    geometry = np.concatenate([kp.points, kp.sizes[:, None]], axis=1).astype("<f2")
    blob = b"".join([header, label, template.alpha.tobytes(), template.colour.tobytes(),
                     struct.pack("<H", len(kp.descriptors)), geometry.tobytes(), kp.descriptors.tobytes()])
    return PREFIX + base64.b64encode(blob).decode("ascii")


def decode(value: object) -> MarkTemplate:
    """Parse a stored value; raises InvalidSignal saying what is wrong."""
    if not isinstance(value, str):
        raise InvalidSignal(f"a mark signature must be a string, got {type(value).__name__}")
    text = value.strip()
    limit = 4 * (_HEADER.size + 4 * MAX_LABEL + 4 * TEMPLATE_SIDE * TEMPLATE_SIDE + 2 + 38 * MAX_KEYPOINTS) // 3 + 8
    if not text.startswith(PREFIX) or len(text) > limit:
        raise InvalidSignal(f"not a mark signature: expected 'm1:' followed by base64 of at most {limit:,} "
                            "characters, as computed by ncii-shield from a mark image")
    try:
        blob = base64.b64decode(text[len(PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSignal("not a mark signature: expected base64 after 'm1:'") from None
    if len(blob) < _HEADER.size:
        raise InvalidSignal("not a mark signature: too short for the expected header")
    version, w, h, ow, oh, n = _HEADER.unpack_from(blob)
    if version != _VERSION or not (MIN_SIDE <= min(w, h) and max(w, h) == TEMPLATE_SIDE) or ow == 0 or oh == 0 \
            or len(blob) < _HEADER.size + n + 4 * w * h + 2:
        raise InvalidSignal(f"not a mark signature: version {version}, template {w} x {h}, {len(blob)} bytes; "
                            f"expected version {_VERSION}, a longer side of {TEMPLATE_SIDE} and a matching length")
    at = _HEADER.size
    try:
        label = _check_label(blob[at:at + n].decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidSignal("not a mark signature: the label is not UTF-8") from None
    at += n
    alpha = np.frombuffer(blob, np.uint8, w * h, at).reshape(h, w).copy()
    colour = np.frombuffer(blob, np.uint8, 3 * w * h, at + w * h).reshape(h, w, 3).copy()
    at += 4 * w * h
    (k,) = struct.unpack_from("<H", blob, at)
    at += 2
    if k > MAX_KEYPOINTS or len(blob) != at + 38 * k:
        raise InvalidSignal(f"not a mark signature: {k} keypoints in {len(blob)} bytes; expected at most "
                            f"{MAX_KEYPOINTS} and a matching length")
    geometry = np.frombuffer(blob, "<f2", 3 * k, at).reshape(k, 3).astype(np.float32)
    descriptors = np.frombuffer(blob, np.uint8, 32 * k, at + 6 * k).reshape(k, 32).copy()
    if not np.isfinite(geometry).all() or (geometry[:, 2] <= 0).any() or (np.abs(geometry[:, :2]) > 2).any():
        raise InvalidSignal("not a mark signature: keypoints outside the mark (expected places within it)")
    keypoints = MarkKeypoints(np.ascontiguousarray(geometry[:, :2]), np.ascontiguousarray(geometry[:, 2]), descriptors)
    return MarkTemplate(label, alpha, colour, ow, oh, keypoints)
