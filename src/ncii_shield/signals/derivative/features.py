"""What a derivative signature holds, how it is computed from a photo, and its stored form.

A photo is brought to a *frame* whose longer side is :data:`FRAME_SIDE` pixels. In that frame we keep

* up to :data:`MAX_KEYPOINTS` ORB keypoints (position + 256-bit descriptor), spread over the photo
  (the strongest of each part of a 6 x 6 grid in turn, so one busy corner cannot take them all) and
  stored in that order, so the first :data:`INDEX_KEYPOINTS` are a spread-out sample for the index;
* a :data:`GRID` x :data:`GRID` grid of *cell summaries*: mean grey, grey spread, mean chroma
  (Cb, Cr) and a 16-bit sign pattern of the cell's 4 x 4 block means. A coarse 16 x 16 summary,
  not a thumbnail: enough to tell "this part of the picture was replaced" after alignment.

No pixels are kept. The stored value is ``d1:`` + base64 of a small binary record (about 20 KB).

Usage::

    features = photo_features(rgb)                 # PhotoFeatures (upload side: no serialisation)
    value = encode(features)                       # the stored signal value
    features = decode(value)                       # InvalidSignal on anything malformed
    plain_reason(features)                         # None, or why the photo is too plain to protect
    weak_reason(features)                          # None, or why its protection will be limited
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass

import cv2
import numpy as np

from ncii_shield.errors import InvalidSignal

FRAME_SIDE = 640
GRID = 16
MAX_KEYPOINTS = 500
INDEX_KEYPOINTS = 128
# Below the first figure a photo cannot be recognised at all (a fit needs 10 consistent keypoints
# among many false ones; the cell check needs 6 % of the cells with structure to match, outside the
# edit): it is refused. Between the two it is protected with a warning: heavy crops, shrinking and
# screenshots of it are often missed.
MIN_KEYPOINTS = 20
MIN_TEXTURED_CELLS = 0.12  # share of cells with structure
WEAK_KEYPOINTS = 120
WEAK_TEXTURED_CELLS = 0.2
TEXTURE_STD = 6.0  # a cell whose grey spread is under this is "flat"
STD_CAP = 255 / 4  # the spread is stored as 4 x itself in a byte (encode): capped here
# what re-encoding and resizing move a cell's summaries by: brightness, the two chroma means, the log spread
# (the tolerances of verify's comparison, and of grading's fit)
CELL_TOLERANCE = np.array([24.0, 14.0, 14.0, 0.6])
MIN_SIDE = 96  # smaller photos are refused
PREFIX = "d1:"
_HEADER = struct.Struct("<BHHHHHBB")  # version, orig w, orig h, frame w, frame h, n keypoints, grid x, grid y
_VERSION = 1
_MAX_VALUE_CHARS = 200_000

cv2.setNumThreads(1)  # callers run many checks in parallel; one thread each is fastest overall


@dataclass
class Cells:
    """Per-cell summaries on a GRID x GRID grid over the frame (arrays of shape (GRID, GRID))."""

    mean: np.ndarray  # float32 grey mean
    std: np.ndarray  # float32 grey spread
    cb: np.ndarray  # float32 chroma
    cr: np.ndarray
    pattern: np.ndarray  # uint16: sign of each of the 4 x 4 block means against the cell mean


@dataclass
class PhotoFeatures:
    """Keypoints and cell summaries of one photo in its frame (see the module docstring)."""

    width: int  # the photo's own size
    height: int
    frame_w: int
    frame_h: int
    points: np.ndarray  # (n, 2) float32 positions in the frame
    descriptors: np.ndarray  # (n, 32) uint8 ORB descriptors
    cells: Cells

    @property
    def scale(self) -> float:
        """Photo pixels per frame pixel."""
        return self.width / self.frame_w


@dataclass
class Frame:
    """A photo brought to the frame: grey and chroma planes plus its original size."""

    grey: np.ndarray
    cb: np.ndarray
    cr: np.ndarray
    width: int
    height: int


def to_frame(rgb: np.ndarray) -> Frame:
    """Resize ``rgb`` so that its longer side is FRAME_SIDE (area filter down, cubic up)."""
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_SIDE // 4 or max(h, w) < MIN_SIDE:
        raise InvalidSignal(f"the photo is {w} x {h} pixels; at least {MIN_SIDE} pixels on the longer side and "
                            f"{MIN_SIDE // 4} on the shorter are needed")
    factor = FRAME_SIDE / max(h, w)
    fw, fh = max(1, round(w * factor)), max(1, round(h * factor))
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    small = cv2.resize(np.ascontiguousarray(rgb), (fw, fh), interpolation=interp)
    ycc = cv2.cvtColor(small, cv2.COLOR_RGB2YCrCb)
    return Frame(ycc[:, :, 0], ycc[:, :, 2], ycc[:, :, 1], w, h)


_ORB = None


def _orb() -> cv2.ORB:
    global _ORB
    if _ORB is None:
        _ORB = cv2.ORB_create(nfeatures=2500, scaleFactor=1.2, nlevels=8, edgeThreshold=19, patchSize=19,
                              fastThreshold=12)
    return _ORB


def keypoints(grey: np.ndarray, limit: int = MAX_KEYPOINTS, *, coarse_first: int = 0,
              ) -> tuple[np.ndarray, np.ndarray]:
    """ORB keypoints spread over the frame: ``(points (n, 2) float32, descriptors (n, 32) uint8)``.

    ``coarse_first``: put this many keypoints found at coarser scales (pyramid level 1 and up) first,
    spread over the frame the same way. They are the ones that survive a copy being shrunk, blurred
    or re-encoded, so they make the better index sample."""
    found, desc = _orb().detectAndCompute(grey, None)
    if desc is None or not found:
        return np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8)
    pts = np.array([k.pt for k in found], dtype=np.float32)
    response = np.array([k.response for k in found], dtype=np.float32)
    chosen = _spread(pts, response, grey.shape, limit)
    if coarse_first:
        octave = np.array([k.octave & 0xFF for k in found])[chosen]
        coarse = chosen[octave >= 1]
        sample = coarse[_spread(pts[coarse], response[coarse], grey.shape, coarse_first)]
        chosen = np.r_[sample, chosen[~np.isin(chosen, sample)]]
    return pts[chosen], desc[chosen]


def keypoints_both(grey: np.ndarray, limit: int = MAX_KEYPOINTS,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`keypoints` of the frame as it is and mirrored, from one detection:
    ``(points, descriptors, mirrored points, mirrored descriptors)``.

    Detection (FAST and Harris on every pyramid level: most of ORB's cost) is symmetric under a
    horizontal flip, so the mirrored frame's keypoints are the frame's, mirrored (x -> width - 1 - x,
    angle -> 180 - angle); only their descriptors are computed on the flipped frame. They equal what
    detecting on the flipped frame gives for ~95 % of the points, at two thirds of the cost."""
    orb = _orb()
    grey = np.ascontiguousarray(grey)  # OpenCV would copy a strided view (the frame's Y plane) on every call
    found = orb.detect(grey, None)
    empty = np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8)
    if not found:
        return (*empty, *empty)
    pts = cv2.KeyPoint_convert(found).reshape(-1, 2).astype(np.float32)
    response = np.fromiter((k.response for k in found), np.float32, len(found))
    chosen = [found[i] for i in _spread(pts, response, grey.shape, limit).tolist()]
    for n, k in enumerate(chosen):  # the order given, restored after compute() (it groups them by level)
        k.class_id = n
    kept, desc = _in_order(*orb.compute(grey, chosen))
    if not kept:
        return (*empty, *empty)
    # mirrored on the keypoint's own pyramid level (width round(w / scale)), then back to the frame
    kpts = cv2.KeyPoint_convert(kept).reshape(-1, 2).astype(np.float32)
    octave = np.fromiter((k.octave for k in kept), np.int64, len(kept))
    scale = orb.getScaleFactor() ** (octave & 0xFF)
    xs = ((np.round(grey.shape[1] / scale) - 1 - kpts[:, 0] / scale) * scale).tolist()
    KeyPoint = cv2.KeyPoint
    mirrored = [KeyPoint(x, k.pt[1], k.size, (180.0 - k.angle) % 360.0, k.response, k.octave, k.class_id)
                for k, x in zip(kept, xs)]
    mkept, mdesc = orb.compute(cv2.flip(grey, 1), mirrored)
    if mdesc is None or not mkept:
        mpts, mdesc = empty
    else:  # back in the order given; only positions are needed
        order = np.argsort(np.fromiter((k.class_id for k in mkept), np.int64, len(mkept)), kind="stable")
        mpts, mdesc = cv2.KeyPoint_convert(mkept).reshape(-1, 2).astype(np.float32)[order], mdesc[order]
    return kpts, desc, mpts, mdesc


def _in_order(kept, desc):  # noqa: ANN001, ANN202
    """Keypoints and descriptors back in the order given (their class_id), as :func:`keypoints` orders them."""
    if desc is None or not kept:
        return [], np.zeros((0, 32), np.uint8)
    order = np.argsort(np.fromiter((k.class_id for k in kept), np.int64, len(kept)), kind="stable")
    return [kept[i] for i in order.tolist()], desc[order]


def _spread(pts: np.ndarray, response: np.ndarray, shape: tuple[int, ...], limit: int) -> np.ndarray:
    """Indices of up to ``limit`` points, the strongest of each part of a 6 x 6 grid in turn."""
    if not len(pts):
        return np.zeros(0, np.int64)
    h, w = shape[:2]
    bucket = (np.minimum(pts[:, 1] * 6 // h, 5) * 6 + np.minimum(pts[:, 0] * 6 // w, 5)).astype(np.int32)
    # rank inside each bucket by response, then take rank 0 of every bucket, rank 1, ...
    order = np.lexsort((-response, bucket))
    rank = np.empty(len(order), dtype=np.int32)
    starts = np.r_[0, np.flatnonzero(np.diff(bucket[order])) + 1]
    sizes = np.diff(np.r_[starts, len(order)])
    rank[order] = np.arange(len(order)) - np.repeat(starts, sizes)
    return np.lexsort((-response, rank))[:limit]


def cell_summaries(grey: np.ndarray, cb: np.ndarray, cr: np.ndarray, mask: np.ndarray | None = None,
                   ) -> tuple[Cells, np.ndarray]:
    """Cell summaries of a frame, and each cell's share covered by ``mask`` (all 1 without one)."""
    h, w = grey.shape
    smooth = cv2.GaussianBlur(grey, (0, 0), 1.2).astype(np.float32)
    side = GRID * 4
    # 4 x 4 blocks per cell: block means by area resampling (a pyramid of box filters)
    blocks = cv2.resize(smooth, (side, side), interpolation=cv2.INTER_AREA)
    sq = cv2.resize(smooth * smooth, (GRID, GRID), interpolation=cv2.INTER_AREA)
    mean = cv2.resize(smooth, (GRID, GRID), interpolation=cv2.INTER_AREA)
    std = np.sqrt(np.maximum(sq - mean * mean, 0.0))
    cbm = cv2.resize(cb.astype(np.float32), (GRID, GRID), interpolation=cv2.INTER_AREA)
    crm = cv2.resize(cr.astype(np.float32), (GRID, GRID), interpolation=cv2.INTER_AREA)
    b = blocks.reshape(GRID, 4, GRID, 4).transpose(0, 2, 1, 3).reshape(GRID, GRID, 16)
    bits = (b > b.mean(axis=2, keepdims=True)).astype(np.uint16)
    pattern = (bits << np.arange(16, dtype=np.uint16)).sum(axis=2).astype(np.uint16)
    if mask is None:
        coverage = np.ones((GRID, GRID), np.float32)
    else:
        coverage = cv2.resize(mask.astype(np.float32), (GRID, GRID), interpolation=cv2.INTER_AREA)
    return Cells(mean, std, cbm, crm, pattern), coverage


def photo_features(rgb: np.ndarray, *, limit: int = MAX_KEYPOINTS) -> PhotoFeatures:
    """Keypoints and cell summaries of an RGB photo (``(h, w, 3)`` uint8)."""
    frame = to_frame(rgb)
    pts, desc = keypoints(frame.grey, limit, coarse_first=INDEX_KEYPOINTS)
    cells, _ = cell_summaries(frame.grey, frame.cb, frame.cr)
    fh, fw = frame.grey.shape
    return PhotoFeatures(frame.width, frame.height, fw, fh, pts, desc, cells)


def plain_reason(features: PhotoFeatures) -> str | None:
    """Why a photo is too plain to protect at all (too few keypoints or too little structure), or None."""
    n = len(features.points)
    if n < MIN_KEYPOINTS:
        return (f"the photo has too little detail to protect: {n} distinctive points found, at least "
                f"{MIN_KEYPOINTS} are needed (flat, blurred or very small photos cannot be recognised after edits)")
    textured = _textured(features)
    if textured < MIN_TEXTURED_CELLS:
        return (f"the photo is too plain to protect: only {textured:.0%} of it has visible structure, at least "
                f"{MIN_TEXTURED_CELLS:.0%} is needed")
    return None


def weak_reason(features: PhotoFeatures) -> str | None:
    """Why a photo that can be protected will be protected less well (little detail), or None."""
    n = len(features.points)
    if n < WEAK_KEYPOINTS:
        return (f"protected, but the photo has little detail ({n} distinctive points; {WEAK_KEYPOINTS} or more "
                "protect well): edited copies that are also cropped, shrunk or screenshotted may be missed")
    textured = _textured(features)
    if textured < WEAK_TEXTURED_CELLS:
        return (f"protected, but only {textured:.0%} of the photo has visible structure ({WEAK_TEXTURED_CELLS:.0%} "
                "or more protect well): edits of its plain parts and cropped or shrunk copies may be missed")
    return None


def _textured(features: PhotoFeatures) -> float:
    return float((features.cells.std >= TEXTURE_STD).mean())


# -- stored form -----------------------------------------------------------------------------------

def encode(features: PhotoFeatures) -> str:
    n = len(features.points)
    cells = features.cells
    header = _HEADER.pack(_VERSION, features.width, features.height, features.frame_w, features.frame_h, n,
                          GRID, GRID)
    xy = np.clip(np.round(features.points * 16), 0, 65535).astype("<u2")
    summaries = np.stack([np.clip(np.round(c), 0, 255) for c in (cells.mean, cells.std * 4, cells.cb, cells.cr)],
                         axis=-1).astype(np.uint8)
    blob = b"".join([header, xy.tobytes(), features.descriptors.astype(np.uint8).tobytes(), summaries.tobytes(),
                     cells.pattern.astype("<u2").tobytes()])
    return PREFIX + base64.b64encode(blob).decode("ascii")


def decode(value: object) -> PhotoFeatures:
    """Parse a stored value; raises InvalidSignal saying what is wrong."""
    if not isinstance(value, str):
        raise InvalidSignal(f"a derivative signature must be a string, got {type(value).__name__}")
    text = value.strip()
    if not text.startswith(PREFIX) or len(text) > _MAX_VALUE_CHARS:
        raise InvalidSignal("not a derivative signature: expected 'd1:' followed by base64 of at most "
                            f"{_MAX_VALUE_CHARS:,} characters, as computed by ncii-shield from a photo")
    try:
        blob = base64.b64decode(text[len(PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSignal("not a derivative signature: expected base64 after 'd1:'") from None
    if len(blob) < _HEADER.size:
        raise InvalidSignal("not a derivative signature: too short for the expected header")
    version, w, h, fw, fh, n, gx, gy = _HEADER.unpack_from(blob)
    expected = _HEADER.size + n * 4 + n * 32 + gx * gy * 6
    if version != _VERSION or (gx, gy) != (GRID, GRID) or len(blob) != expected or n > MAX_KEYPOINTS \
            or not (0 < fw <= FRAME_SIDE and 0 < fh <= FRAME_SIDE) or w == 0 or h == 0:
        raise InvalidSignal(f"not a derivative signature: version {version}, grid {gx}x{gy}, {n} keypoints, "
                            f"{len(blob)} bytes; expected version {_VERSION} with a {GRID}x{GRID} grid and a matching length")
    at = _HEADER.size
    xy = np.frombuffer(blob, "<u2", n * 2, at).reshape(n, 2).astype(np.float32) / 16
    at += n * 4
    desc = np.frombuffer(blob, np.uint8, n * 32, at).reshape(n, 32).copy()
    at += n * 32
    s = np.frombuffer(blob, np.uint8, GRID * GRID * 4, at).reshape(GRID, GRID, 4).astype(np.float32)
    at += GRID * GRID * 4
    pattern = np.frombuffer(blob, "<u2", GRID * GRID, at).reshape(GRID, GRID).astype(np.uint16)
    if (xy[:, 0] > fw).any() or (xy[:, 1] > fh).any():
        raise InvalidSignal("not a derivative signature: keypoints lie outside the frame (expected inside)")
    cells = Cells(s[..., 0].copy(), s[..., 1] / 4, s[..., 2].copy(), s[..., 3].copy(), pattern)
    return PhotoFeatures(w, h, fw, fh, xy, desc, cells)
