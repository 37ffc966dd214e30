"""PDQ of a large photo in a few MB: the reference's own arithmetic, a strip of rows at a time.

The ``pdqhash`` bindings compute luma for the whole photo with float64 temporaries (about 26 bytes a
pixel, ~320 MB for a 12-MP phone photo) and then blur two full float32 copies of it. PDQ only keeps
64 x 64 samples of the blurred luma, and each step of the reference's blur (two passes of a box
filter along rows, then along columns: ``jaroszFilterFloat``) depends only on the rows before it, so
this module streams the photo through the same steps:

1. luma of a strip of rows, exactly as the bindings compute it (``R*0.299 + G*0.587 + B*0.114`` in
   float64, then float32);
2. the box filter along each row: the reference's running sum (``sum += in[r]; sum -= in[l];
   out = sum / n``, float32) replayed with ``np.add.accumulate`` over the adds and subtractions
   interleaved in the same order, so every rounding is the reference's;
3. the box filter along columns, row by row, keeping only the last window of rows;
4. the second pass of both, the second column pass only on the 64 sampled columns;
5. the 64 x 64 samples (``decimateFloat``) go to the reference's own quality metric, DCT, median and
   bit functions in the ``pdqhash`` library (called through ctypes), so the hash is the reference's
   bit for bit (tests/unit/signals/test_pdq_strips.py checks it against ``pdqhash.compute`` and on
   every reference vector).

The row filter and the luma are compiled by numba (the reference's loops, no fast-math: the same
roundings; a 12-MP photo in ~0.2 s against the bindings' ~0.4-0.6 s); without numba the interleaved
accumulate above does the same in ~0.4 s.

Memory: a few strips of float32 and float64 rows (about 3 MB) beside the photo itself. If the
library does not export those functions (another build of ``pdqhash``), :func:`available` is
False and callers use ``pdqhash.compute``.
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np

DIHEDRAL_ORDER = ("original", "rotate90", "rotate180", "rotate270", "flipx", "flipy", "flip_plus1", "flip_minus1")
_MIN_HASHABLE_DIM = 5  # the reference: smaller photos hash to zero with quality 0
_STRIP_PIXELS = 1 << 16  # pixels of luma per strip: 0.5 MB of float64 temporaries each
_NS = "_ZN8facebook3pdq7hashing"
_SYMBOLS = {
    "quality": f"{_NS}27pdqImageDomainQualityMetricEPA64_f",
    "dct": f"{_NS}9dct64To16EPA64_fS3_PA16_f",
    "bits": f"{_NS}20pdqBuffer16x16ToBitsEPA16_fPNS1_7Hash256E",
    "rotate90": f"{_NS}23dct16OriginalToRotate90EPA16_fS3_",
    "rotate180": f"{_NS}24dct16OriginalToRotate180EPA16_fS3_",
    "rotate270": f"{_NS}24dct16OriginalToRotate270EPA16_fS3_",
    "flipx": f"{_NS}20dct16OriginalToFlipXEPA16_fS3_",
    "flipy": f"{_NS}20dct16OriginalToFlipYEPA16_fS3_",
    "flip_plus1": f"{_NS}24dct16OriginalToFlipPlus1EPA16_fS3_",
    "flip_minus1": f"{_NS}25dct16OriginalToFlipMinus1EPA16_fS3_",
}


def _load_reference() -> dict | None:
    try:
        from pdqhash import bindings

        library = ctypes.CDLL(bindings.__file__)
        functions = {name: getattr(library, symbol) for name, symbol in _SYMBOLS.items()}
    except (ImportError, OSError, AttributeError):
        return None
    floats = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS")
    shorts = np.ctypeslib.ndpointer(np.uint16, flags="C_CONTIGUOUS")
    functions["quality"].argtypes, functions["quality"].restype = [floats], ctypes.c_int
    functions["dct"].argtypes, functions["dct"].restype = [floats, floats, floats], None
    functions["bits"].argtypes, functions["bits"].restype = [floats, shorts], None
    for name in DIHEDRAL_ORDER[1:]:
        functions[name].argtypes, functions[name].restype = [floats, floats], None
    return functions


_REFERENCE = _load_reference()


def available() -> bool:
    """Whether the installed ``pdqhash`` exports the functions this module calls."""
    return _REFERENCE is not None


def hash_bits(rgb: np.ndarray, *, dihedral: bool = False) -> tuple[list[np.ndarray], int]:
    """The reference's 256 hash bits (most significant first, as ``pdqhash.compute`` returns them)
    and quality of an (height, width, 3) uint8 array, any strides; with ``dihedral`` the bits of
    all 8 variants in :data:`DIHEDRAL_ORDER`."""
    if _REFERENCE is None:
        raise RuntimeError("pdqhash does not export the reference's functions; use pdqhash.compute")
    height, width = int(rgb.shape[0]), int(rgb.shape[1])
    count = 8 if dihedral else 1
    if height < _MIN_HASHABLE_DIM or width < _MIN_HASHABLE_DIM:
        return [np.zeros(256, dtype=np.int64) for _ in range(count)], 0
    return _hash_samples(_samples_64x64(rgb), dihedral)


def _hash_samples(samples: np.ndarray, dihedral: bool) -> tuple[list[np.ndarray], int]:
    """The reference's quality, DCT and bits of the 64 x 64 blurred luma samples."""
    quality = int(_REFERENCE["quality"](samples))
    buffer16x64 = np.zeros((16, 64), dtype=np.float32)
    dct = np.zeros((16, 16), dtype=np.float32)
    _REFERENCE["dct"](samples, buffer16x64, dct)
    results = [_bits(dct)]
    if dihedral:
        turned = np.zeros((16, 16), dtype=np.float32)
        for name in DIHEDRAL_ORDER[1:]:
            _REFERENCE[name](dct, turned)
            results.append(_bits(turned))
    return results, quality


def _bits(dct16x16: np.ndarray) -> np.ndarray:
    words = np.zeros(16, dtype=np.uint16)
    _REFERENCE["bits"](dct16x16, words)
    k = np.arange(256)
    return ((words[(k & 255) >> 4].astype(np.int64) >> (k & 15)) & 1)[::-1]


def _samples_64x64(rgb: np.ndarray) -> np.ndarray:
    """``decimateFloat(jaroszFilterFloat(luma))`` of the reference, streamed by strips of rows."""
    height, width = int(rgb.shape[0]), int(rgb.shape[1])
    if height == 64 and width == 64 and _shortcut_64():
        return np.ascontiguousarray(_luma(rgb))
    along_rows, along_cols = _window(width), _window(height)
    sample_rows = np.array([int(((i + 0.5) * height) / 64) for i in range(64)])
    sample_cols = np.array([int(((j + 0.5) * width) / 64) for j in range(64)])
    first_pass = _ColumnBox(along_cols, width)
    second_pass = _ColumnBox(along_cols, len(sample_cols))
    out = np.zeros((64, 64), dtype=np.float32)
    done = 0  # rows of the finished (blurred twice) luma so far

    def keep(finished: np.ndarray) -> None:
        nonlocal done
        hits = np.nonzero((sample_rows >= done) & (sample_rows < done + len(finished)))[0]
        out[hits] = finished[sample_rows[hits] - done]
        done += len(finished)

    def second(blurred_once: np.ndarray) -> None:
        if len(blurred_once):
            keep(second_pass.push(_box_along_rows(blurred_once, along_rows)[:, sample_cols]))

    rows_per_strip = max(1, _STRIP_PIXELS // width)
    for top in range(0, height, rows_per_strip):
        second(first_pass.push(_box_along_rows(_luma(rgb[top:top + rows_per_strip]), along_rows)))
    second(first_pass.finish())
    keep(second_pass.finish())
    return out


def _luma(rgb: np.ndarray) -> np.ndarray:
    # exactly the bindings' expression (uint8 * Python float is float64), then float32
    compiled = _compiled()
    if compiled is not None:
        return compiled[1](rgb)
    return (rgb[:, :, 0] * 0.299 + rgb[:, :, 1] * 0.587 + rgb[:, :, 2] * 0.114).astype(np.float32)


def _window(dimension: int) -> int:
    """``computeJaroszFilterWindowSize(dimension, 64)``."""
    return (dimension + 2 * 64 - 1) // (2 * 64)


def _box_along_rows(values: np.ndarray, window: int) -> np.ndarray:
    """``box1DFloat`` along each row of ``values`` (float32), every addition and subtraction in the
    reference's order: the reference's loop compiled (numba), else one sequential accumulate over
    them interleaved."""
    compiled = _compiled()
    if compiled is not None:
        return compiled[0](np.ascontiguousarray(values), window)
    return _box_along_rows_numpy(values, window)


def _box_along_rows_numpy(values: np.ndarray, window: int) -> np.ndarray:
    rows, n = values.shape
    half = (window + 2) // 2
    full = n - window  # phase 3 steps
    ops = np.empty((rows, window + 2 * full + half - 1), dtype=np.float32)
    ops[:, :window] = values[:, :window]
    ops[:, window:window + 2 * full:2] = values[:, window:]
    np.negative(values[:, :full], out=ops[:, window + 1:window + 2 * full:2])
    np.negative(values[:, full:full + half - 1], out=ops[:, window + 2 * full:])
    np.add.accumulate(ops, axis=1, dtype=np.float32, out=ops)
    out = np.empty((rows, n), dtype=np.float32)
    phase2 = window - half + 1
    np.divide(ops[:, half - 1:window], np.arange(half, window + 1, dtype=np.float32), out=out[:, :phase2])
    np.divide(ops[:, window + 1:window + 2 * full:2], np.float32(window), out=out[:, phase2:phase2 + full])
    np.divide(ops[:, window + 2 * full:], np.arange(window - 1, window - half, -1, dtype=np.float32),
              out=out[:, phase2 + full:])
    return out


class _ColumnBox:
    """``box1DFloat`` down every column, fed a block of rows at a time: the running sums and the
    last window of rows are all it keeps between blocks."""

    def __init__(self, window: int, width: int) -> None:
        self.window, self.half = window, (window + 2) // 2
        self.sum = np.zeros(width, dtype=np.float32)
        self.kept = np.zeros((0, width), dtype=np.float32)  # the last ``window`` rows read
        self.read = 0

    def push(self, block: np.ndarray) -> np.ndarray:
        """The output rows that ``block``'s rows complete (the reference's phases 1 to 3)."""
        rows = np.concatenate([self.kept, block]) if len(self.kept) else block
        first = len(rows) - len(block)  # index in ``rows`` of the block's first row
        index, sign, outputs, counts = [], [], [], []
        for i in range(len(block)):
            r = self.read + i  # the row's index in the whole column
            index.append(first + i)
            sign.append(1.0)
            if r >= self.window:  # phase 3: the row leaving the window is subtracted
                index.append(first + i - self.window)
                sign.append(-1.0)
            if r + 1 >= self.half:
                outputs.append(len(index) - 1)
                counts.append(min(r + 1, self.window))
        self.read += len(block)
        self.kept = rows[max(0, len(rows) - self.window):].copy()
        return self._run(rows, index, sign, outputs, counts)

    def finish(self) -> np.ndarray:
        """The last output rows (phase 4: the window shrinks)."""
        index = list(range(self.half - 1))  # ``kept`` starts at the row leaving next
        counts = list(range(self.window - 1, self.window - self.half, -1))
        return self._run(self.kept, index, [-1.0] * len(index), list(range(len(index))), counts)

    def _run(self, rows: np.ndarray, index: list, sign: list, outputs: list, counts: list) -> np.ndarray:
        if not index:
            return np.zeros((0, rows.shape[1]), dtype=np.float32)
        ops = rows[index]
        negative = np.array(sign) < 0
        ops[negative] = -ops[negative]
        ops[0] = self.sum + ops[0]
        np.add.accumulate(ops, axis=0, dtype=np.float32, out=ops)
        self.sum = ops[-1].copy()
        return ops[outputs] / np.array(counts, dtype=np.float32)[:, None]


@functools.cache
def _compiled() -> tuple | None:
    """The reference's row loop and the bindings' luma as numba functions (float32 and float64
    arithmetic in the same order, no fast-math: the same roundings; ~3x faster than numpy), or None
    without numba. Compiled on first use and cached on disk."""
    try:
        from numba import njit
    except ImportError:  # pragma: no cover - numba is a core dependency
        return None

    @njit(nogil=True, cache=True)
    def box(values, window):  # pragma: no cover - compiled
        rows, n = values.shape
        out = np.empty((rows, n), dtype=np.float32)
        half = (window + 2) // 2
        for r in range(rows):
            v, o = values[r], out[r]
            total = np.float32(0.0)
            size, right, left, at = 0, 0, 0, 0
            for _ in range(half - 1):  # phase 1: adds only
                total += v[right]
                size += 1
                right += 1
            for _ in range(window - half + 1):  # phase 2: the window grows
                total += v[right]
                size += 1
                o[at] = total / np.float32(size)
                right += 1
                at += 1
            for _ in range(n - window):  # phase 3: add one, subtract one
                total += v[right]
                total -= v[left]
                o[at] = total / np.float32(size)
                left += 1
                right += 1
                at += 1
            for _ in range(half - 1):  # phase 4: the window shrinks
                total -= v[left]
                size -= 1
                o[at] = total / np.float32(size)
                left += 1
                at += 1
        return out

    @njit(nogil=True, cache=True)
    def luma(rgb):  # pragma: no cover - compiled
        rows, cols = rgb.shape[0], rgb.shape[1]
        out = np.empty((rows, cols), dtype=np.float32)
        for i in range(rows):
            for j in range(cols):
                out[i, j] = np.float32(np.float64(rgb[i, j, 0]) * 0.299 + np.float64(rgb[i, j, 1]) * 0.587
                                       + np.float64(rgb[i, j, 2]) * 0.114)
        return out

    return box, luma


def _copies_64x64() -> bool:
    """Newer reference code takes a 64 x 64 luma as it is instead of blurring it
    (``pdqFloat256FromFloatLuma``); which one this build does is read off the build itself."""
    import pdqhash

    image = np.random.default_rng(64).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    return bool(np.array_equal(_hash_samples(_luma(image), False)[0][0], pdqhash.compute(image)[0]))


@functools.cache
def _shortcut_64() -> bool:
    return _REFERENCE is not None and _copies_64x64()
