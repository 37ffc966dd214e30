"""Query-side frame hashes of an upload: mirrored and border-cropped readings, and crops read from luma copies.

The banked side of vPDQ stays the reference values exchanged with others; these hashes are computed
only for the *upload* being checked, so that the usual ways a video is re-edited before re-upload
still land within PDQ distance 31 of the banked frames:

* ``mirrored``: the frame flipped left-right (the reference's dihedral computation gives it at the
  cost of one hash; with ``dihedral=True`` all eight rotations/flips are kept);
* ``border-cropped``: the part of the frame that changes over time, when it is clearly smaller than
  the frame: black or coloured bars (letterbox, pillarbox, a landscape video in a vertical frame)
  and a static frame around a video (picture-in-picture on a still background); failing that, a
  rectangle whose sides are edges that stay put while both sides move (picture-in-picture over
  moving footage);
* crops: the frame (and its border-cropped part) kept as a small luma copy (:class:`CropFrames`)
  and read at check time at any crop (:func:`crop_readings`: the banked frame's PDQ coefficients as
  a crop of it would give them, with which bits are reliable; see the section on crops below and
  docs/video.md, "Crops and small zooms"). The former centred reading (``zoomed-out``: the frame
  shrunk with its edge repeated, hashed) remains for ``corners=False``.

Pure: frames in (``(seconds, HxWx3 uint8 RGB)``), :class:`~ncii_shield.signals.vpdq.VpdqFrame`\\ s
out, each with its ``variant``. Decoding is :func:`ncii_shield.media.video.sample_frames`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ncii_shield.signals.vpdq import VpdqFrame

ORIGINAL, MIRRORED = "original", "mirrored"
#: The reference's dihedral order; index 5 ("flipy" in :data:`~ncii_shield.signals.pdq.DIHEDRAL_VARIANTS`) is the left-right mirror.
DIHEDRAL_NAMES = ("", "rotate90", "rotate180", "rotate270", "flipx", "mirrored", "flip_plus1", "flip_minus1")
ZOOM_OUT = (0.9,)
#: The former corner readings (names read back by :func:`crop_cell`, for uploads read with them).
CORNERS = {"top-left": (0.0, 0.0), "top-right": (1.0, 0.0), "bottom-left": (0.0, 1.0), "bottom-right": (1.0, 1.0)}
CORNER_ZOOM = 0.9
CHUNK_FRAMES = 32  # frames whose temporal change decides a border box (16 s at 2 frames/s)
_MOVING = 6.0  # temporal standard deviation (grey levels) of a pixel that belongs to the video
_SMALLER = 0.9  # crop only when the moving box is smaller than this share of the frame area
_SIDES = 8  # strongest edge columns and rows tried as the sides of a framed video
_FRAMED = 0.5  # share of a framed video's sides that must be persistent edges


def moving_box(frames: list[np.ndarray]) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the part of ``frames`` that changes over time, or None when
    it is (nearly) the whole frame or nothing moves. Bars and still surroundings do not change."""
    if len(frames) < 4:
        return None
    grey = np.stack([f.mean(axis=2, dtype=np.float32) for f in frames])
    moving = grey.std(axis=0) > _MOVING
    rows = np.flatnonzero(moving.mean(axis=1) > 0.2)
    cols = np.flatnonzero(moving.mean(axis=0) > 0.2)
    if len(rows) < 16 or len(cols) < 16:
        return None
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    h, w = moving.shape
    if (bottom - top) * (right - left) >= _SMALLER * h * w:
        return None
    return top, bottom, left, right


def framed_box(frames: list[np.ndarray]) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of a rectangle whose four sides are edges that stay put while the
    picture moves on both sides of them: a video overlaid on other moving footage
    (picture-in-picture), which :func:`moving_box` cannot see. None when no such rectangle is clear."""
    if len(frames) < 4:
        return None
    grey = np.stack([f.mean(axis=2, dtype=np.float32) for f in frames])
    h, w = grey.shape[1:]
    # persistent edges: where the picture steps by > 8 grey levels in > 60 % of the frames
    across = (np.abs(np.diff(grey, axis=2)) > 8).mean(axis=0) > 0.6  # between columns x and x + 1
    down = (np.abs(np.diff(grey, axis=1)) > 8).mean(axis=0) > 0.6  # between rows y and y + 1
    cols = np.sort(np.argsort(across.mean(axis=0))[-_SIDES:])
    rows = np.sort(np.argsort(down.mean(axis=1))[-_SIDES:])
    best, best_score = None, _FRAMED
    for i, x0 in enumerate(cols):
        for x1 in cols[i + 1:]:
            if x1 - x0 < 0.25 * w:
                continue
            for j, y0 in enumerate(rows):
                for y1 in rows[j + 1:]:
                    if y1 - y0 < 0.25 * h or (x1 - x0) * (y1 - y0) > _SMALLER * h * w:
                        continue
                    score = min(across[y0 + 1:y1, x0].mean(), across[y0 + 1:y1, x1].mean(),
                                down[y0, x0 + 1:x1].mean(), down[y1, x0 + 1:x1].mean())
                    if score > best_score:
                        best, best_score = (int(y0) + 1, int(y1) + 1, int(x0) + 1, int(x1) + 1), score
    return best


def zoom_out(rgb: np.ndarray, scale: float, anchor: tuple[float, float] = (0.5, 0.5)) -> np.ndarray:
    """``rgb`` shrunk to ``scale`` and placed at ``anchor`` (x, y: 0 left/top, 0.5 centred, 1
    right/bottom), its edge pixels repeated to the original size."""
    import cv2

    h, w = rgb.shape[:2]
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
    if anchor == (0.5, 0.5):
        top, left = (h - nh) // 2, (w - nw) // 2
    else:
        top, left = round((h - nh) * anchor[1]), round((w - nw) * anchor[0])
    return cv2.copyMakeBorder(small, top, h - nh - top, left, w - nw - left, cv2.BORDER_REPLICATE)


def crop_variant(anchor: str, scale: float, prefix: str = "") -> str:
    """The name of a crop reading: ``zoomed-out`` / ``corner-top-left`` at 0.9, else with the scale in
    percent (``corner-top-left-87``); ``prefix``: what was read before (``border-cropped``)."""
    base = "zoomed-out" if anchor == "centre" else f"corner-{anchor}"
    name = base if round(scale * 100) == round(CORNER_ZOOM * 100) else f"{base}-{round(scale * 100)}"
    return f"{prefix} {name}".strip()


def crop_cell(variant: str) -> tuple[str, int] | None:
    """(the reading's place, e.g. ``"border-cropped corner-top-left mirrored"``, scale in percent) of a
    crop reading's variant name; None for other readings."""
    words = variant.split()
    for i, word in enumerate(words):
        for base in ("zoomed-out", *(f"corner-{c}" for c in CORNERS)):
            if word == base:
                pct = round(CORNER_ZOOM * 100)
            elif word.startswith(base + "-") and word[len(base) + 1:].isdigit():
                pct = int(word[len(base) + 1:])
            else:
                continue
            return " ".join([*words[:i], base, *words[i + 1:]]), pct
    return None


def _hashes(rgb: np.ndarray, prefix: str, keep: tuple[int, ...]) -> Iterator[tuple[str, str, int]]:
    import pdqhash

    from ncii_shield.signals.pdq import bits_to_hex

    vectors, quality = pdqhash.compute_dihedral(np.ascontiguousarray(rgb))
    for k in keep:
        yield " ".join(p for p in (prefix, DIHEDRAL_NAMES[k]) if p) or ORIGINAL, bits_to_hex(vectors[k]), int(quality)


# -- crops read from small luma copies (a candidate step and a verification step) ------------------
#
# PDQ up to its median is linear in the pixels: luma, a blur (two box filters of ~1/128 of the frame),
# 64 x 64 samples, and the 16 x 16 lowest DCT coefficients (bits: coefficient > their median). A crop
# enlarged back is linear too, and separable (rows and columns apart), so the coefficients the banked
# frame would have, read from an upload cropped to ``1 - cut`` of each side at ``offset``, are
# ``Ay @ Y @ Ax.T``: ``Y`` the upload's luma, ``Ay``/``Ax`` 16 x n matrices per (cut, offset) of an axis,
# the part cut off filled with the upload's edge. So any crop is read for ~16 x n x n multiplications,
# without hashing an image, and the frames are kept as :data:`CROP_LUMA`-pixel luma copies
# (:class:`CropFrames`) read at check time: a coarse grid for the lookups (:func:`coarse_cells`), any
# finer cells against a candidate. The part filled with the edge is a guess: a coefficient that
# depends much on it may have either sign, so each reading also says which of its bits are
# *reliable* (:func:`crop_readings`: the coefficients furthest from the median for the share of
# their basis the crop keeps); crops are compared on those bits.

#: Side of the luma copies (aspect ignored: PDQ reads 64 x 64 samples of any frame).
CROP_LUMA = 96
#: A crop cuts at most this share of a side's length (and at least :data:`MIN_CUT`).
MAX_CUT, MIN_CUT = 0.16, 0.02
#: Lookup grid: cut shares, and the cut-off part's place along an axis at most :data:`COARSE_STEP` apart.
COARSE_CUTS = (0.04, 0.07, 0.10, 0.13)
COARSE_STEP = 0.06
#: Bits compared on a crop reading: its most reliable half.
RELIABLE_BITS = 128

_K = np.arange(1, 17, dtype=np.float64)[:, None]
#: the reference's 16 x 64 DCT matrix (rows 1-16: the DC term is not used)
_DCT = np.sqrt(2 / 64) * np.cos(np.pi / 128 * _K * (2 * np.arange(64)[None, :] + 1))


@functools.lru_cache(maxsize=4096)
def _axis(n: int, cut: float, offset: float) -> tuple[np.ndarray, np.ndarray]:
    """(16 x n matrix, share of each DCT row's energy on the kept part) of one axis: the banked
    frame's 64 samples (each blurred over +-1/128 of the side) read from ``n`` upload pixels that show
    the banked frame's ``[offset, offset + 1 - cut]``, its edge repeated beyond."""
    scale = 1.0 - cut
    sample = (np.arange(64) + 0.5) / 64
    sampling = np.zeros((64, n))
    rows = np.arange(64)
    for step in np.arange(-7, 8) / 8:  # the blur: a triangle of half-width 1/128
        x = np.clip(((sample + step / 128 - offset) / scale) * n - 0.5, 0, n - 1)
        lo = np.floor(x).astype(np.int64)
        hi = np.minimum(lo + 1, n - 1)
        weight = 1 - abs(step)
        np.add.at(sampling, (rows, lo), weight * (hi - x + (hi == lo)))
        np.add.at(sampling, (rows, hi), weight * (x - lo) * (hi != lo))
    sampling /= sampling.sum(axis=1, keepdims=True)
    kept = (sample >= offset - 0.5 / 64) & (sample <= offset + scale + 0.5 / 64)
    return (_DCT @ sampling).astype(np.float32), (_DCT[:, kept] ** 2).sum(axis=1)


def luma_copy(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` as a :data:`CROP_LUMA`-pixel square luma copy (PDQ's luma weights), uint8."""
    import cv2

    small = cv2.resize(rgb, (CROP_LUMA, CROP_LUMA), interpolation=cv2.INTER_AREA).astype(np.float32)
    return np.clip(small @ np.array([0.299, 0.587, 0.114], dtype=np.float32) + 0.5, 0, 255).astype(np.uint8)


def coarse_cells() -> np.ndarray:
    """The lookup grid, ``float64[k, 4]`` rows ``(cut_y, offset_y, cut_x, offset_x)``: width and height
    cut by the same share, the cut-off part anywhere (corners, centre, between them)."""
    cells = []
    for cut in COARSE_CUTS:
        places = np.linspace(0.0, cut, max(1, int(np.ceil(cut / COARSE_STEP - 1e-9))) + 1)
        cells += [(cut, oy, cut, ox) for oy in places for ox in places]
    return np.round(np.array(cells, dtype=np.float64), 4)


def crop_readings(luma: np.ndarray, cells: np.ndarray, mirrored: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """PDQ bits of luma copies ``uint8[m, n, n]`` read at ``cells`` (rows ``(cut_y, offset_y, cut_x,
    offset_x)``), and which bits are reliable: ``(words, masks)``, each ``uint64[m, k, 4]`` in the
    reference's bit order (what :func:`ncii_shield.index.bits.hexes_to_words` gives of its hex).
    ``mirrored``: the frames flipped left-right first. A bit is reliable when its coefficient is among
    the :data:`RELIABLE_BITS` furthest from the median for the share of its basis outside the crop."""
    images = np.asarray(luma, dtype=np.float32)
    if mirrored:
        images = images[:, :, ::-1]
    m, n = images.shape[0], images.shape[1]
    cells = np.asarray(cells, dtype=np.float64).reshape(-1, 4)
    words = np.zeros((m, len(cells), 4), dtype=np.uint64)
    masks = np.zeros_like(words)
    for start in range(0, len(cells), 256):
        part = cells[start:start + 256]
        coefficients = np.empty((m, len(part), 16, 16), dtype=np.float32)
        unsure = np.empty((len(part), 16, 16), dtype=np.float32)
        keys: dict[tuple[float, float], list[int]] = {}
        for i, (cut_y, off_y, cut_x, off_x) in enumerate(part.tolist()):
            keys.setdefault((cut_y, off_y), []).append(i)
            unsure[i] = np.sqrt(np.maximum(1.0 - np.outer(_axis(n, cut_y, off_y)[1], _axis(n, cut_x, off_x)[1]), 0.01))
        for (cut_y, off_y), members in keys.items():
            rows = np.matmul(_axis(n, cut_y, off_y)[0], images)  # m x 16 x n: the rows read once
            across = np.concatenate([_axis(n, float(part[i, 2]), float(part[i, 3]))[0] for i in members])  # 16c x n
            both = np.matmul(rows, across.T).reshape(m, 16, len(members), 16)
            coefficients[:, members] = both.transpose(0, 2, 1, 3)
        flat = coefficients.reshape(m, len(part), 256)
        median = np.median(flat, axis=2, keepdims=True)
        bits = flat > median
        reliability = np.abs(flat - median) / unsure.reshape(1, len(part), 256)
        least = np.partition(reliability, 256 - RELIABLE_BITS, axis=2)[:, :, 256 - RELIABLE_BITS, None]
        mask = reliability >= least  # the RELIABLE_BITS most reliable (more on exact ties)
        words[:, start:start + len(part)] = _pack(bits)
        masks[:, start:start + len(part)] = _pack(mask)
    return words, masks


def _pack(bits: np.ndarray) -> np.ndarray:
    """Bits in the DCT's row-major order -> the reference's hash words (bit 0 of the DCT is the hash's last)."""
    packed = np.packbits(bits[..., ::-1].astype(np.uint8), axis=-1)
    return packed.view(">u8").astype(np.uint64)


def cell_variant(cell: np.ndarray | tuple[float, float, float, float], prefix: str = "", mirrored: bool = False) -> str:
    """A crop reading's name: ``cropped-88-at-3-7`` (88 % of the banked frame's width and height kept,
    from 3 % of its width from the left and 7 % of its height from the top); ``cropped-88x91-at-...``
    when height and width were cut differently (width first); with ``border-cropped`` before and
    ``mirrored`` after when read so."""
    cut_y, off_y, cut_x, off_x = (float(v) for v in cell)
    kept = (f"{round(100 * (1 - cut_x))}" if round(100 * cut_x) == round(100 * cut_y)
            else f"{round(100 * (1 - cut_x))}x{round(100 * (1 - cut_y))}")
    name = f"cropped-{kept}-at-{round(100 * off_x)}-{round(100 * off_y)}"
    return " ".join(p for p in (prefix, name, MIRRORED if mirrored else "") if p)


@dataclass
class CropFrames:
    """The upload's sampled frames as small luma copies, read at any crop at check time: ``times``
    (seconds), ``part`` (0: the whole frame, 1: its border-cropped part), ``quality`` (PDQ quality of
    the frame or part as read), ``luma`` (``uint8[n, CROP_LUMA, CROP_LUMA]``). Ours, never stored."""

    times: np.ndarray
    part: np.ndarray
    quality: np.ndarray
    luma: np.ndarray

    PARTS = ("", "border-cropped")

    @classmethod
    def empty(cls) -> CropFrames:
        return cls(np.zeros(0), np.zeros(0, np.int8), np.zeros(0, np.int16),
                   np.zeros((0, CROP_LUMA, CROP_LUMA), np.uint8))

    def __len__(self) -> int:
        return len(self.times)

    def nbytes(self) -> int:
        return self.luma.nbytes + self.times.nbytes + self.part.nbytes + self.quality.nbytes


class QueryReadings(list):
    """The upload's readings (a list of :class:`VpdqFrame`, as before) and its :class:`CropFrames`
    (``crops``), which :meth:`ncii_shield.index.vpdq.VpdqIndex.video_matches` reads at crops."""

    crops: CropFrames | None = None


def hash_query_frames(samples: Iterable[tuple[float, np.ndarray]], *, mirrored: bool = True,
                      dihedral: bool = False, borders: bool = True,
                      zoom: tuple[float, ...] = ZOOM_OUT, corners: bool = True) -> QueryReadings:
    """Every reading of every sampled frame, as frames tagged with their ``variant``.

    ``corners`` (default): crops are read at check time from luma copies of the frame and of its
    border-cropped part (``.crops``: :class:`CropFrames`). Without ``corners``: centred ``zoom``
    readings (the former readings, hashed here)."""
    keep = tuple(range(8)) if dihedral else (0, 5) if mirrored else (0,)
    out = QueryReadings()
    crops: list[tuple[float, int, int, np.ndarray]] = []
    chunk: list[tuple[float, np.ndarray]] = []
    n = 0

    def flush() -> None:
        nonlocal n
        box = (moving_box([f for _, f in chunk]) or framed_box([f for _, f in chunk])) if borders else None
        for t, rgb in chunk:
            readings = [("", rgb)]
            if box is not None:
                top, bottom, left, right = box
                readings.append(("border-cropped", rgb[top:bottom, left:right]))
            if not corners:
                for prefix, image in list(readings):
                    readings += [(f"{prefix} zoomed-out".strip(), zoom_out(image, s)) for s in zoom]
            for part, (prefix, image) in enumerate(readings):
                for variant, pdq, quality in _hashes(image, prefix, keep):
                    out.append(VpdqFrame(n, t, pdq, quality, variant))
                if corners and part < 2:
                    crops.append((t, part, quality, luma_copy(image)))
            n += 1
        chunk.clear()

    for sample in samples:
        chunk.append(sample)
        if len(chunk) == CHUNK_FRAMES:
            flush()
    if chunk:
        flush()
    if corners:
        out.crops = CropFrames.empty() if not crops else CropFrames(
            np.array([c[0] for c in crops], dtype=np.float64), np.array([c[1] for c in crops], dtype=np.int8),
            np.array([c[2] for c in crops], dtype=np.int16), np.stack([c[3] for c in crops]))
    return out
