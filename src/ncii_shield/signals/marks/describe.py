"""Which mark is at a place: compact descriptors that tell ~1,000 marks apart, compared at once.

A mark's *descriptor* is its sign-free orientation field (the gradient's strength times the
doubled gradient angle, as the check uses, here on grey levels) averaged over a small grid of
cells (:func:`grid`: about :data:`CELLS` cells, shaped by the mark's *aspect class*, its width /
height in steps of :data:`ASPECT_STEP`), flattened and normalised. An upload's descriptor at a
window (a place and a size, with a class's aspect) is its field averaged over the same grid
there, read from integral images of the field at a few pyramid levels (:class:`FieldPyramid`,
computed once per upload), so a window costs a few hundred look-ups whatever its size. All the
windows of a class against all the marks of that class are one matrix product
(:meth:`Descriptors.scores`). Descriptors are derived from the stored template when a mark is
indexed (:func:`mark_descriptor`), so signatures stored before them work unchanged.

Handed the place where a mark was stamped, the stamped mark scores best among 983 marks for 37
of 40 benchmark uploads (docs/benchmarks.md); finding the place is the index's job
(:mod:`ncii_shield.index.marks`).
"""

from __future__ import annotations

import math
import dataclasses
import threading
from dataclasses import dataclass

import cv2
import faiss
import numpy as np
from numba import njit

from ncii_shield.signals.marks import search as S
from ncii_shield.signals.marks.search import Prepared

CELLS = 64  # cells in a naming descriptor's grid (about)
ASPECT_STEP = 2 ** 0.25  # aspect classes: width / height in steps of 19 %
MAX_CLASS = 15  # 2 ** (15 / 4) = 13.5: marks are at most 12:1
DRAW_CELL = 6  # a mark is drawn at this many pixels per cell for its descriptor
MIN_CELL = 3.0  # a window's cell is at least this many pixels at the level it is read from
FLOOR = 4.0  # field strength every cell is taken to have at least (a flat window scores low)
MIN_LEVEL_SIDE = 24


def aspect_class(aspect: float) -> int:
    """The class of a mark (or window) of this width / height."""
    return int(np.clip(round(math.log(aspect) / math.log(ASPECT_STEP)), -MAX_CLASS, MAX_CLASS))


def class_aspect(k: int) -> float:
    return ASPECT_STEP ** k


def grid(k: int, cells: int = CELLS) -> tuple[int, int]:
    """(cells wide, cells high) of class ``k``'s descriptor."""
    a = class_aspect(k)
    if a >= 1:
        gh = max(2, round(math.sqrt(cells / a)))
        return max(gh, round(gh * a)), gh
    gw = max(2, round(math.sqrt(cells * a)))
    return gw, max(gw, round(gw / a))


def field(grey: np.ndarray) -> np.ndarray:
    """Sign-free orientation field of a float32 grey image, (h, w, 2) float32: the gradient's
    strength times (cos 2t, sin 2t), t its angle (an edge of either polarity gives the same)."""
    gx, gy = _gradients(grey)
    if not EXACT_ANGLES:
        mag, ang = cv2.cartToPolar(gx, gy)
        c, s = cv2.polarToCart(mag, ang * 2)
        return cv2.merge([c, s])
    out = np.empty(gx.shape + (2,), np.float32)
    _doubled(gx, gy, out)
    return out


# The field's doubled angle from the gradient itself, (gx^2 - gy^2, 2 gx gy) / |g| (2026-12-07 #4), not through
# OpenCV's angle and back (cartToPolar, polarToCart: 4 passes over the frame and their temporaries; their
# approximations differ from it by ~3e-4 of the strongest value); the upload's levels are summed in the same pass
# (_field_integral): the pyramids' integral images cost ~30 ms an upload before.
EXACT_ANGLES = True


def _gradients(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT),
            cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT))


@njit(nogil=True, cache=True)
def _doubled_row(gx: np.ndarray, gy: np.ndarray, c: np.ndarray, s: np.ndarray) -> None:  # pragma: no cover
    """One row: ``c``, ``s`` = the gradient's strength times (cos 2t, sin 2t), float32 (a loop the compiler
    vectorises: no branch, a flat gradient gives 0)."""
    for x in range(len(gx)):
        a, b = gx[x], gy[x]
        inv = np.float32(1.0) / np.sqrt(a * a + b * b + np.float32(1e-30))
        c[x] = (a * a - b * b) * inv
        s[x] = np.float32(2.0) * a * b * inv


@njit(nogil=True, cache=True)
def _doubled(gx: np.ndarray, gy: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``out`` (h, w, 2): the gradient's strength times (cos 2t, sin 2t)."""
    h, w = gx.shape
    c = np.empty(w, np.float32)
    s = np.empty(w, np.float32)
    for y in range(h):
        _doubled_row(gx[y], gy[y], c, s)
        for x in range(w):
            out[y, x, 0] = c[x]
            out[y, x, 1] = s[x]


@njit(nogil=True, cache=True)
def _field_integral(gx: np.ndarray, gy: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``out`` (h+1, w+1, 2) float64: the integral image of :func:`field` (its float32 values, as
    :func:`_doubled` makes them) of the gradients ``gx``, ``gy`` (h, w), in one pass."""
    h, w = gx.shape
    c = np.empty(w, np.float32)
    s = np.empty(w, np.float32)
    for x in range(w + 1):
        out[0, x, 0] = 0.0
        out[0, x, 1] = 0.0
    for y in range(h):
        _doubled_row(gx[y], gy[y], c, s)
        out[y + 1, 0, 0] = 0.0
        out[y + 1, 0, 1] = 0.0
        rc = 0.0
        rs = 0.0
        for x in range(w):
            rc += np.float64(c[x])
            rs += np.float64(s[x])
            out[y + 1, x + 1, 0] = out[y, x + 1, 0] + rc
            out[y + 1, x + 1, 1] = out[y, x + 1, 1] + rs


def _drawn_field(prepared: Prepared, w: int, h: int, cell: int, axis: np.ndarray | None = None) -> np.ndarray:
    pad = cell
    drawn = prepared.drawn((w, h))
    drawn = cv2.cvtColor(drawn, cv2.COLOR_RGB2GRAY) if axis is None else projected(drawn, axis)
    drawn = cv2.copyMakeBorder(drawn, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=128)
    return field(drawn)[pad:pad + h, pad:pad + w]


# -- the chroma views (issue 19, 2026-12-07 #3) -------------------------------------------------------
# The naming field is grey: a translucent coloured stamp on a textured photo (a red word over a black-and-white
# dog's fur) is buried there among the texture's edges, and a blue or cyan mark of mid-grey brightness has few
# edges in grey at all. A coloured mark is also described through the nearest of CHROMA_AXES directions of the
# chroma plane (colour less brightness, sign-free), and the index names the located windows in those views too,
# each by the marks of its view (index/marks.py). 2 views found as much as 4 (docs/benchmarks.md 2026-12-07 #3).
CHROMA_AXES = 2  # directions in the chroma plane, 180 / CHROMA_AXES degrees apart (0: no chroma views)


def chroma_axes(n: int = -1) -> np.ndarray:
    """(n, 3) float32 unit colour rows spanning the chroma plane (orthogonal to grey), ``n`` = :data:`CHROMA_AXES`."""
    n = CHROMA_AXES if n < 0 else n
    e1 = np.array([2.0, -1.0, -1.0]) / math.sqrt(6)
    e2 = np.array([0.0, 1.0, -1.0]) / math.sqrt(2)
    t = np.pi * np.arange(n) / max(n, 1)
    return (np.cos(t)[:, None] * e1 + np.sin(t)[:, None] * e2).astype(np.float32).reshape(n, 3)


def chroma_axis(prepared: Prepared, axes: np.ndarray) -> int | None:
    """The row of ``axes`` nearest the mark's colour direction (:attr:`Prepared.chroma`, sign-free), None
    for a mark without one (white, black, grey) or without axes."""
    c = prepared.chroma
    if c is None or not len(axes):
        return None
    return int(np.argmax(np.abs(axes @ c[0])))


def projected(rgb: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """An (h, w, 3) image seen through a chroma ``axis`` (:func:`search.projected`, the check's view): a
    float32 grey image about 128 (the 128 added in place: the projection is a new array)."""
    out = S.projected(rgb, axis.reshape(1, 3))
    out += np.float32(128.0)
    return out


def mark_descriptor(prepared: Prepared, k: int | None = None, cells: int = CELLS,
                    axis: np.ndarray | None = None) -> tuple[int, np.ndarray]:
    """(class, unit float32 vector) of a mark; ``k`` forces a class (the mark stretched to it)."""
    t = prepared.template
    if k is None:
        k = aspect_class(t.alpha.shape[1] / t.alpha.shape[0])
    gw, gh = grid(k, cells)
    f = _drawn_field(prepared, gw * DRAW_CELL, gh * DRAW_CELL, DRAW_CELL, axis)
    v = f.reshape(gh, DRAW_CELL, gw, DRAW_CELL, 2).mean(axis=(1, 3)).reshape(-1).astype(np.float32)
    n = float(np.linalg.norm(v))
    return k, (v / n if n > 1e-6 else v)


class FieldPyramid:
    """An upload frame's orientation field at levels 1, 1/2, 1/4, ... (from 1/2 on with ``skip`` = 1): the
    levels' integral images of the field in one flattened array, made together when a window first needs
    them."""

    def __init__(self, grey: np.ndarray, skip: int = 0) -> None:
        """``grey``: the frame's grey levels (uint8), or a chroma view of it (float32, :func:`projected`);
        ``skip``: levels left out from the finest (their windows read at the finest level kept). A float32
        ``grey`` is read, not copied (a view's: ~0.3 ms a frame): it must not change while the pyramid is used."""
        img = grey.astype(np.float32, copy=False)
        self.images: list[tuple[float, np.ndarray]] = []  # (scale, grey float32)
        self.skip = 0
        f = 1.0
        while True:
            if self.skip < skip and min(img.shape[:2]) >= 2 * MIN_LEVEL_SIDE:
                self.skip += 1
            else:
                self.images.append((f, img))
            if min(img.shape[:2]) < 2 * MIN_LEVEL_SIDE:
                break
            img = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
            f /= 2
        self.shapes = [im.shape[:2] for _, im in self.images]
        self._levels: tuple[np.ndarray, ...] | None = None  # (integrals, offsets, widths, heights, scales)
        self._making = threading.Lock()  # two threads may name windows of one pyramid (index/marks.py _Tasks)

    def _integrals(self) -> tuple[np.ndarray, ...]:
        """Every level's integral image of the field in one ((h+1)*(w+1) summed over the levels, 2) float64
        array (made when a window first needs it: an upload's windows reach every level), with each level's
        offset into it, width, height and scale."""
        with self._making:
            if self._levels is None:
                self._levels = self._made()
        return self._levels

    def _made(self) -> tuple[np.ndarray, ...]:
        sizes = [(h + 1) * (w + 1) for h, w in self.shapes]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        flat = np.empty((sum(sizes), 2), np.float64)
        for (h, w), o, n, (_, img) in zip(self.shapes, offsets.tolist(), sizes, self.images):
            if EXACT_ANGLES:
                _field_integral(*_gradients(img), flat[o:o + n].reshape(h + 1, w + 1, 2))
            else:
                cv2.integral(field(img), sum=flat[o:o + n].reshape(h + 1, w + 1, 2), sdepth=cv2.CV_64F)
        return (flat, offsets, np.array([w for _, w in self.shapes], np.int64),
                np.array([h for h, _ in self.shapes], np.int64), np.array([f for f, _ in self.images], np.float64))

    def integral(self, level: int) -> np.ndarray:
        """Level ``level``'s integral image of the field, ((h+1)*(w+1), 2) float64."""
        flat, offsets = self._integrals()[:2]
        h, w = self.shapes[level]
        return flat[offsets[level]:offsets[level] + (h + 1) * (w + 1)]

    def describe(self, windows: np.ndarray, k: int) -> np.ndarray:
        """(n, d) float32 descriptors of ``windows`` (n, 4) x, y, w, h in frame pixels, class ``k``'s grid;
        normalised with :data:`FLOOR` (a flat or off-frame window has a short vector). The cells' sums are
        read by :func:`_cell_means` (compiled: numpy's passes over (n, cells) temporaries, ~25 calls of
        each level, cost ~50 ms an upload of ~16,000 windows, 2026-12-07 #4)."""
        gw, gh = grid(k)
        assert gw * gh * 2 <= 248  # _pairwise is numpy's pairwise sum up to 248 values
        n = len(windows)
        out = np.empty((n, gh, gw, 2), np.float32)
        if not n:
            return out.reshape(0, gh * gw * 2)
        windows = np.ascontiguousarray(windows, np.float64)
        if not np.isfinite(windows).all():  # the compiled reads trust the levels and edges made from them
            raise ValueError("window boxes must be finite")
        cell = windows[:, 2] / gw
        level = np.floor(np.log2(np.maximum(cell, 1e-3) / MIN_CELL))
        level = np.clip(level - self.skip if self.skip else level, 0, len(self.images) - 1).astype(np.int64)
        _cell_means(*self._integrals(), windows, level, gw, gh, np.float32(gw * gh * FLOOR ** 2), out)
        return out.reshape(n, -1)


_WARM = threading.Lock()
_warmed = False


def warm_up() -> None:
    """Load the compiled kernels (numba's on-disk cache, or a compile: ~0.2 s / ~2 s CPU) once per process with
    the argument types an upload uses: called where a mark index is made, so that a served index's first
    upload costs what the next ones do."""
    global _warmed
    with _WARM:
        if _warmed:
            return
        grey = np.zeros((4 * MIN_LEVEL_SIDE, 4 * MIN_LEVEL_SIDE), np.uint8)
        FieldPyramid(grey).describe(np.array([[0.0, 0.0, 16.0, 16.0]]), 0)
        FieldPyramid(grey.astype(np.float32), skip=1).describe(np.array([[0.0, 0.0, 16.0, 16.0]]), 0)
        _warmed = True


@njit(nogil=True, cache=True)
def _cell_means(integrals: np.ndarray, offsets: np.ndarray, widths: np.ndarray, heights: np.ndarray,
                scales: np.ndarray, windows: np.ndarray, level: np.ndarray, gw: int, gh: int, floor: np.float32,
                out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``out[i]`` (gh, gw, 2) float32 for each window ``i``: the field's mean over each of the window's grid
    cells at its pyramid ``level[i]`` (the window at that level's scale, the cells' edges rounded to pixels and
    clipped to the level), from the levels' integral images (:meth:`FieldPyramid._integrals`), divided by
    sqrt(its squares' sum + ``floor``). Numpy's sums and roundings of before, in the same order (round half to
    even, float64 until the cast, the float32 squares summed pairwise as numpy sums a row: :func:`_pairwise`)."""
    xs = np.empty(gw + 1, np.int64)
    ys = np.empty(gh + 1, np.int64)
    d = gh * gw * 2
    squares = np.empty(d, np.float32)
    for i in range(len(windows)):
        L = level[i]
        f, W, H, base = scales[L], widths[L], heights[L], offsets[L]
        stride = W + 1
        x, y, w, h = windows[i, 0] * f, windows[i, 1] * f, windows[i, 2] * f, windows[i, 3] * f
        for j in range(gw + 1):
            xs[j] = int(min(max(np.rint(x + w * j / gw), 0.0), float(W)))
        for j in range(gh + 1):
            ys[j] = int(min(max(np.rint(y + h * j / gh), 0.0), float(H)))
        row = out[i].reshape(d)
        for r in range(gh):
            top, bottom = base + ys[r] * stride, base + ys[r + 1] * stride
            for c in range(gw):
                area = max(float((ys[r + 1] - ys[r]) * (xs[c + 1] - xs[c])), 1.0)
                a, b = bottom + xs[c + 1], top + xs[c + 1]
                e, g = bottom + xs[c], top + xs[c]
                for ch in range(2):
                    s = integrals[a, ch] - integrals[b, ch] - integrals[e, ch] + integrals[g, ch]
                    row[(r * gw + c) * 2 + ch] = np.float32(s / area)
        for j in range(d):
            squares[j] = row[j] * row[j]
        norm = np.sqrt(_pairwise(squares, d) + floor)
        for j in range(d):
            row[j] = row[j] / norm


@njit(nogil=True, cache=True)
def _block(a: np.ndarray, lo: int, n: int) -> np.float32:  # pragma: no cover - compiled
    """``a[lo:lo + n]``'s float32 sum as numpy sums up to 128 values: 8 running sums, then the rest in turn."""
    if n < 8:
        res = np.float32(0.0)
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - n % 8:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(nogil=True, cache=True)
def _pairwise(a: np.ndarray, n: int) -> np.float32:  # pragma: no cover - compiled
    """``a[:n]``'s float32 sum in numpy's order (its pairwise sum) for n <= 248 (numpy splits a longer tail
    again; a descriptor: at most 174): blocks of up to 128 (:func:`_block`), halves of a multiple of 8 above
    that (no recursion: numba's cache)."""
    if n <= 128:
        return _block(a, 0, n)
    half = n // 2
    half -= half % 8
    return _block(a, 0, half) + _block(a, half, n - half)


@dataclass
class Descriptors:
    """Every mark's descriptor, grouped by aspect class: ``ids[k]`` (m,) and ``vectors[k]`` (m, d)."""

    ids: dict[int, np.ndarray]
    vectors: dict[int, np.ndarray]
    position: dict[int, tuple[int, int]]  # mark id -> (class, row)
    _flat: dict[int, faiss.IndexFlatIP] = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, marks: list[tuple[int, Prepared]]) -> Descriptors:
        return cls.group([(id, *mark_descriptor(prepared)) for id, prepared in marks])

    @classmethod
    def group(cls, items: list[tuple[int, int, np.ndarray]]) -> Descriptors:
        """From (mark id, class, vector) triples."""
        groups: dict[int, list[tuple[int, np.ndarray]]] = {}
        for id, k, v in items:
            groups.setdefault(k, []).append((id, v))
        return cls({k: np.array([i for i, _ in g], np.int64) for k, g in groups.items()},
                   {k: np.ascontiguousarray(np.stack([v for _, v in g]), np.float32) for k, g in groups.items()},
                   {i: (k, n) for k, g in groups.items() for n, (i, _) in enumerate(g)})

    def scores(self, pyramid: FieldPyramid, windows: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        """Per class: (windows, marks) correlations of the upload's windows with that class's marks
        (OpenCV's single-threaded product: numpy's BLAS would spread over every core for a few ms of work)."""
        return {k: cv2.gemm(pyramid.describe(w, k), self.vectors[k], 1.0, None, 0.0, flags=cv2.GEMM_2_T)
                for k, w in windows.items() if k in self.vectors and len(w)}

    def best_two(self, pyramid: FieldPyramid, windows: dict[int, np.ndarray]
                 ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Per class: the two best marks of each window, ``(values (n, 2), rows (n, 2))`` best first
        (rows into ``ids[k]``; a class of one mark has row -1 and value -inf second). The same products
        as :meth:`scores`, through faiss's exact inner-product search: its blocked product runs ~10 times
        faster than OpenCV's on one thread, for the thousands of windows of the located boxes."""
        out = {}
        for k, w in windows.items():
            if k not in self.vectors or not len(w):
                continue
            index = self._flat.get(k)
            if index is None:  # built whole before it is shared: request threads call this at once
                index = faiss.IndexFlatIP(self.vectors[k].shape[1])
                index.add(self.vectors[k])
                index = self._flat.setdefault(k, index)
            queries = np.ascontiguousarray(pyramid.describe(w, k), np.float32)
            threads = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)  # a small product: one core, as scores() keeps it (per calling thread)
            try:
                values, rows = index.search(queries, 2)
            finally:
                faiss.omp_set_num_threads(threads)
            values[rows < 0] = -np.inf
            out[k] = (values, rows)
        return out


# -- refining a located window (issue 19, 2026-12-06 #5) -------------------------------------------------
# An edge blob rarely has the mark's exact extent (a blob merged with the photo's edges, a stroke
# missing at a low strength), and the descriptor is sharp: a word's correlation falls from 0.71 to 0.41
# one cell off (a seventeenth of a long word) and to noise two cells off. The windows whose best mark
# already correlates REFINE_FROM are moved to where that mark correlates best, in steps of cells
# (REFINE_STEPS: the shifts in cells across and down, and the sizes, of each round, each round around
# the best of the one before), and named again; the refined windows are added to the others.
REFINE = 12  # windows refined per call (0: off); the index refines the blobs' windows and the vote boxes'
# (docs/benchmarks.md "Service marks: recall, 2026-12-06 #5": 440 -> 452 of 776 caught, 0 false flags)
REFINE_FROM = 0.4  # the best mark's correlation a window needs to be refined
REFINE_UNTIL = 0.75  # ... and less than this: a mark named this well at a window is left as it is, and not
# refined at the windows overlapping it either (the check, started from a box a few per cent smaller,
# can find less: 0.915 -> 0.71 for a long word in the benchmark; index/marks.py's LOCATE_MIN_VALUE)
REFINE_STEPS = (((-1.0, -0.5, 0.0, 0.5, 1.0), (-0.5, 0.0, 0.5), (1.0,)),
                ((-0.25, 0.0, 0.25), (-0.25, 0.0, 0.25), (0.94, 1.0, 1.06)))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    union = a[2] * a[3] + b[2] * b[3] - ix * iy
    return ix * iy / union if union > 0 else 0.0


def _ious(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`_iou` of each window of ``a`` (n, 4) with ``b`` (the same float operations, all at once)."""
    ix = np.maximum(0.0, np.minimum(a[:, 0] + a[:, 2], b[0] + b[2]) - np.maximum(a[:, 0], b[0]))
    iy = np.maximum(0.0, np.minimum(a[:, 1] + a[:, 3], b[1] + b[3]) - np.maximum(a[:, 1], b[1]))
    union = a[:, 2] * a[:, 3] + b[2] * b[3] - ix * iy
    return np.where(union > 0, ix * iy / np.where(union > 0, union, 1.0), 0.0)


def refine(pyramid: FieldPyramid, names: Descriptors,
           named: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]], count: int | None = None,
           ) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``named`` (per aspect class: the windows' two best marks' values and rows, and the windows, as
    :meth:`Descriptors.best_two` gives them) with up to ``count`` (:data:`REFINE`) refined windows
    added: the best (window, mark) pairs by the mark's correlation, of the window's two best marks (at
    least :data:`REFINE_FROM` and less than :data:`REFINE_UNTIL`, and not where the mark is named that
    well already; one per mark and place), each moved by :data:`REFINE_STEPS` to where that mark
    correlates best, then named again by every mark of the class. About 500 windows' descriptors
    and one dot product each (2026-12-06 #5: 6-10 ms of CPU a call on a loaded machine, two calls
    an upload)."""
    count = REFINE if count is None else count
    if count <= 0 or not named:
        return named
    chosen = _chosen(named, count)
    if not chosen:
        return named
    for across, down, sizes in REFINE_STEPS:
        offsets = np.array([(dx, dy, f) for f in sizes for dx in across for dy in down])
        for k in {c[1] for c in chosen}:
            gw, gh = grid(k)
            mine = [c for c in chosen if c[1] == k]
            w0 = np.array([c[3] for c in mine])  # (m, 4)
            cx, cy = w0[:, 0] + w0[:, 2] / 2, w0[:, 1] + w0[:, 3] / 2
            w = w0[:, None, 2] * offsets[None, :, 2]
            h = w0[:, None, 3] * offsets[None, :, 2]
            x = cx[:, None] + offsets[None, :, 0] * w0[:, None, 2] / gw - w / 2
            y = cy[:, None] + offsets[None, :, 1] * w0[:, None, 3] / gh - h / 2
            variants = np.stack([x, y, w, h], axis=2)  # (m, v, 4)
            d = pyramid.describe(variants.reshape(-1, 4), k).reshape(len(mine), len(offsets), -1)
            vec = names.vectors[k][[c[2] for c in mine]]  # (m, d)
            values = np.einsum("mvd,md->mv", d, vec)
            best = values.argmax(axis=1)
            for c, b, row_values, var in zip(mine, best.tolist(), values, variants):
                if row_values[b] > c[0]:
                    c[0], c[3] = float(row_values[b]), var[b]
    out = dict(named)
    for k in {c[1] for c in chosen}:
        windows = np.array([c[3] for c in chosen if c[1] == k], np.float64)
        top, rows = names.best_two(pyramid, {k: windows})[k]
        t0, r0, w0 = out[k]
        out[k] = (np.concatenate([t0, top]), np.concatenate([r0, rows]), np.concatenate([w0, windows]))
    return out


def _chosen(named: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]], count: int) -> list[list]:
    """:func:`refine`'s windows to refine, ``[value, class, row, window]`` best first: of each class's windows, the
    best :data:`REFINE_FROM` to :data:`REFINE_UNTIL` of each of its two marks (4 ``count`` a class and mark,
    by numpy's argsort as before), all of them by value (a stable sort: ties in the classes' order), each taken
    unless a window already taken for that mark overlaps it by half, or the mark is named
    :data:`REFINE_UNTIL` or better at a window overlapping it by 0.3. The choice of the loops it replaced (the code
    before 2026-12-07 #7, kept for the tests in tests/unit/signals/_marks_reference.py: the pool as Python tuples,
    every class's well-named windows by mark first), with the well-named windows looked up only for the marks the
    choice reaches: ~1.3 ms less an upload."""
    parts = []
    for k, (top, rows, _) in named.items():
        ok = (top >= REFINE_FROM) & (top < REFINE_UNTIL) & (rows >= 0)
        for j in range(top.shape[1]):
            sel = np.flatnonzero(ok[:, j])
            if len(sel):
                parts.append((k, j, sel[np.argsort(-top[sel, j])][:4 * count]))
    if not parts:
        return []
    values = np.concatenate([named[k][0][sel, j] for k, j, sel in parts]).astype(np.float64)
    where = [(k, j, i) for k, j, sel in parts for i in sel.tolist()]
    well_rows: dict[int, np.ndarray] = {}  # class -> its windows named REFINE_UNTIL or better
    named_well: dict[tuple[int, int], np.ndarray | None] = {}  # (class, row) -> those of them naming that mark
    chosen: list[list] = []  # [value, class, row, window]
    for o in np.argsort(-values, kind="stable").tolist():
        k, j, i = where[o]
        top, rows, windows = named[k]
        row, window = int(rows[i, j]), windows[i]
        if any(c[1] == k and c[2] == row and _iou(c[3], window) > 0.5 for c in chosen):
            continue
        if (k, row) not in named_well:
            if k not in well_rows:
                well_rows[k] = np.flatnonzero(top[:, 0] >= REFINE_UNTIL)
            mine = well_rows[k][rows[well_rows[k], 0] == row]
            named_well[(k, row)] = windows[mine] if len(mine) else None
        well = named_well[(k, row)]
        if well is not None and bool((_ious(well, window) > 0.3).any()):
            continue
        chosen.append([float(values[o]), k, row, np.asarray(window, np.float64)])
        if len(chosen) == count:
            break
    return chosen
