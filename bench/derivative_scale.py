"""Scale run of bench/derivative_bench.py (``--registry-size N [--also 100000]``); see that file's docstring.

``--registry honest`` (the default since 2026-12-06 #7) and ``--registry old`` (as before, for comparison):

- *old*: windows are cut from all the photos, and the timed uploads are made from any photo: an upload
  of photo P meets hundreds of windows that are crops of P, each carrying P's full signature, so each
  verifies (69 % of verification CPU at 1M in 2026-12-06 #5); windows with under
  ``SAMPLE`` (64) keypoints are zero-padded in the cache and the zero rows are indexed (one
  inverted list of 1.28 M entries, 95 % all-zero).
- *honest*: the photos are split by their place in the sorted list: the odd ones (64 of 129) give the
  windows, the even ones (65) the timed uploads, both the edited photo and the pasted part's photo
  (``upload_photos``). No upload meets a window of its own photo or of its pasted part's photo: every
  window is, for every upload, a photo of something else, as nearly all of a real registry of 1M people
  is. All 129 photos are still registered themselves. A window registers only its real descriptors
  (the cache's zero rows are dropped, as a registered photo adds only its own).

Registry: the real photos' signatures, then *windows* of the photos (ORB run on each, as now), then —
past ``--real-windows`` (default 100,000) — *bit-permuted copies* of the windows: entry
``k >= R`` holds the descriptors of window ``k % R`` with the 256 bits of every descriptor permuted by
the permutation number ``k // R`` (fixed, seeded). A permuted copy has exactly the internal structure
of the windows (distances among its own and its copies' descriptors, clusters, near-duplicates), so
the index holds as many look-alike clusters as real photos would make, but it shares no content
with any upload: it stands for photos of other things. Its full signature (for verification) is the
window's photo's signature with the same permutation. The windows' index samples are cached in
``bench/results/`` (ORB on 1M windows would take ~1.5 CPU hours; on 100k, ~8 CPU minutes).

Cells (2026-12-07 #7): every entry also has cells of its own, added to the cell search
(index/derivative.py ``CELL_CANDIDATES``) and carried by its full signature: its window's cells (the same
crop, summarised as a registered photo's; the first CELL_WINDOWS windows'), moved by a transform of the grid
of its own past them (mirrored / upside down, rolled), at its keypoints' photo's shape (see ``entry_keys``; bench/hb_cellsynth.py compares their collisions
with uploads against the 129 real photos'). Before, entries had no frame and so no cells: no figure at
scale included the cell search. The windows' cells are cached in ``bench/results/`` too (~70 CPU seconds).

Every size in one run: the index grows from the smallest size to the largest with incremental adds
(as the follower loads it), and each size is timed on the same uploads. An exact-search baseline (the
same index type held flat, exhaustive) gives, on a sample of the uploads' descriptors, the share whose
vote (photo voted for, or none) the approximate search reproduces, and on the first ``--exact-checks``
uploads the whole check's outcome.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import cv2  # noqa: E402
import faiss  # noqa: E402
import numpy as np
from derivative_bench import (
    EDITS, TRANSFORMS, apply_edit, apply_transform, load_rgb, reencode, region, shrink,
)

import ncii_shield.index.derivative as D
from ncii_shield.index.derivative import DerivativeIndex
from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative.instances import find_instances
from ncii_shield.signals.derivative.verify import WHOLE_ASPECT, Outcome, Upload

_GREYS: list[np.ndarray] = []


def _window_box(k: int, seed: int, h: int, w: int) -> tuple[int, int, int, int, bool, float, float]:
    """Window k's crop of its photo (h x w): x, y, width, height, mirrored, longer side after the resize, gamma."""
    rng = np.random.default_rng([seed, 1_000_003, k])
    fw, fh = rng.uniform(0.3, 0.8), rng.uniform(0.3, 0.8)
    cw, ch = max(32, int(w * fw)), max(32, int(h * fh))
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    flip = bool(rng.random() < 0.5)
    side = rng.uniform(256, 320)
    gamma = rng.uniform(0.8, 1.25)
    return x, y, cw, ch, flip, side, gamma


def _window_image(img: np.ndarray, box: tuple) -> np.ndarray:
    """The window (grey or RGB) cut, mirrored, resized and gamma-corrected as ``box`` says."""
    x, y, cw, ch, flip, side, gamma = box
    win = img[y:y + ch, x:x + cw]
    if flip:
        win = win[:, ::-1]
    f = side / max(win.shape[:2])
    win = cv2.resize(np.ascontiguousarray(win), (max(8, round(win.shape[1] * f)), max(8, round(win.shape[0] * f))),
                     interpolation=cv2.INTER_AREA)
    return (255.0 * (win / 255.0) ** gamma).astype(np.uint8)


def _window(k: int, seed: int) -> np.ndarray:
    grey = _GREYS[k % len(_GREYS)]
    win = _window_image(grey, _window_box(k, seed, *grey.shape))
    _, desc = F.keypoints(win, F.MAX_KEYPOINTS, coarse_first=F.INDEX_KEYPOINTS)  # the index sample, as registered
    desc = desc[:F.INDEX_KEYPOINTS]
    out = np.zeros((F.INDEX_KEYPOINTS, 32), np.uint8)
    out[: len(desc)] = desc
    return out


def _windows(chunk: tuple[int, int, int]) -> np.ndarray:
    start, stop, seed = chunk
    return np.stack([_window(k, seed) for k in range(start, stop)])


# -- the entries' cells (the cell search: index/derivative.py CELL_CANDIDATES) ----------------------------------
# A registered photo's textured cells are keys of the cell search; a synthetic entry's must collide with an
# upload's as a real photo's would, so they are real photos' cells, perturbed the way the descriptors are:
# entry k holds the cells of window k % CELL_WINDOWS (a window's crop of its photo, cut from the working-size
# photo in colour, mirrored and gamma-corrected as for its descriptors, summarised as a registered photo is:
# to_frame, cell_summaries; the first CELL_WINDOWS windows only: ~7 ms of CPU each), and every entry past them
# moves them by a transform of the grid of its own (CELL_TRANSFORMS: mirrored and / or upside down, then rolled
# by dy, dx cells; each 4 x 4 structure pattern flipped with its cell). Unlike
# the descriptors' bit permutation, which would map the common natural patterns (an edge, a half) onto rare ones and
# so share no key with an upload, the transforms keep every pattern a pattern of a real picture: the collisions
# with uploads keep their real rate (bench/hb_cellsynth.py checks it against the 129 photos'). The entries sharing
# a window's cells get distinct transforms (up to CELL_TRANSFORMS - 1 of them; 100 at 1M). The entry's shape is
# its keypoints' photo's (its full signature's frame, as before), so the registry's shapes cluster as the 129's do
# (50 of them square): the lookup's worst realistic case.
CELL_TRANSFORMS = 4 * F.GRID * F.GRID  # (mirrored, upside down) x dy x dx; 0: none
CELL_WINDOWS = 10_000  # windows whose cells the entries hold (moved)
_RGBS: list[np.ndarray] = []


def _flip_bits(horizontal: bool, vertical: bool) -> np.ndarray:
    """uint16 pattern -> the pattern of the cell mirrored and / or upside down (bit 4 r + c: block row r, column c)."""
    values = np.arange(1 << 16, dtype=np.uint32)
    out = np.zeros(1 << 16, np.uint32)
    for r in range(4):
        for c in range(4):
            rr, cc = (3 - r if vertical else r), (3 - c if horizontal else c)
            out |= ((values >> (4 * r + c)) & 1) << (4 * rr + cc)
    return out.astype(np.uint16)


_BITS = np.stack([_flip_bits(bool(f & 1), bool(f & 2)) for f in range(4)])  # by flips (1: mirrored, 2: upside down)


def _positions() -> np.ndarray:
    """(CELL_TRANSFORMS, GRID * GRID): for each transform, the source cell (flat index) of every cell."""
    g = F.GRID
    r, c = np.divmod(np.arange(g * g), g)
    out = np.empty((CELL_TRANSFORMS, g * g), np.int64)
    for t in range(CELL_TRANSFORMS):
        flips, dy, dx = divmod(t, g * g)[0], *divmod(t % (g * g), g)
        r0, c0 = (r - dy) % g, (c - dx) % g
        if flips & 2:
            r0 = g - 1 - r0
        if flips & 1:
            c0 = g - 1 - c0
        out[t] = r0 * g + c0
    return out


_POSITIONS = _positions()


def cell_windows(real_n: int) -> int:
    """Windows whose cells the entries hold (CELL_WINDOWS, or all of them in a smaller registry)."""
    return min(CELL_WINDOWS, real_n)


def cell_transform(k: int | np.ndarray, real_n: int, seed: int) -> np.ndarray:
    """Entry k's transform of its window's cells (window k % cell_windows(real_n)): 0 for the window itself, else
    one of 1..CELL_TRANSFORMS-1, distinct for the entries sharing a window's cells (up to CELL_TRANSFORMS - 1)."""
    k = np.asarray(k, np.int64)
    n = cell_windows(real_n)
    offset = np.random.default_rng([seed, 91]).integers(0, CELL_TRANSFORMS - 1, n)
    p = k // n
    return np.where(p == 0, 0, (offset[k % n] + p - 1) % (CELL_TRANSFORMS - 1) + 1)


def transform_cells(cells: F.Cells, t: int) -> F.Cells:
    """Cells moved by transform t (:func:`cell_transform`)."""
    src = _POSITIONS[t]
    g = (F.GRID, F.GRID)
    move = lambda a: np.ascontiguousarray(a.ravel()[src].reshape(g))  # noqa: E731
    return F.Cells(move(cells.mean), move(cells.std), move(cells.cb), move(cells.cr),
                   _BITS[t // (F.GRID * F.GRID)][move(cells.pattern)])


def window_cells(k: int, seed: int) -> F.Cells:
    """The cells of window k (k < R) as a registered photo's: its crop of the working-size photo in colour."""
    rgb = _RGBS[k % len(_RGBS)]
    x, y, cw, ch, flip, _, gamma = _window_box(k, seed, *rgb.shape[:2])
    win = rgb[y:y + ch, x:x + cw]
    if flip:
        win = win[:, ::-1]
    lut = (255.0 * (np.arange(256) / 255.0) ** gamma).astype(np.uint8)  # as _window_image, by table
    frame = F.to_frame(cv2.LUT(np.ascontiguousarray(win), lut))
    c = F.cell_summaries(frame.grey, frame.cb, frame.cr)[0]
    stored = lambda a: np.clip(np.round(a), 0, 255).astype(np.float32)  # noqa: E731
    return F.Cells(stored(c.mean), stored(c.std * 4) / 4, stored(c.cb), stored(c.cr), c.pattern)  # as F.decode gives


def _window_summaries(chunk: tuple[int, int, int]) -> np.ndarray:
    """(n, GRID * GRID, 6) uint8: windows' cells as stored (mean, std x 4, cb, cr, pattern's low and high byte)."""
    start, stop, seed = chunk
    out = np.empty((stop - start, F.GRID * F.GRID, 6), np.uint8)
    for k in range(start, stop):
        c = window_cells(k, seed)
        out[k - start, :, :4] = np.stack([c.mean, c.std * 4, c.cb, c.cr], axis=-1).reshape(-1, 4)
        out[k - start, :, 4:] = c.pattern.astype("<u2").reshape(-1, 1).view(np.uint8)
    return out


def stored_cells(row: np.ndarray) -> F.Cells:
    """A window's cells from its :func:`synthetic_cells` row (as :func:`window_cells` gives them)."""
    g = (F.GRID, F.GRID)
    s = row[:, :4].astype(np.float32).reshape(*g, 4)
    pattern = np.ascontiguousarray(row[:, 4:]).view("<u2").reshape(g).astype(np.uint16)
    return F.Cells(s[..., 0].copy(), s[..., 1] / 4, s[..., 2].copy(), s[..., 3].copy(), pattern)


def _patterns(summaries: np.ndarray) -> np.ndarray:
    """(n, GRID * GRID) uint32 of :func:`synthetic_cells` rows: pattern | textured << 16."""
    pattern = np.ascontiguousarray(summaries[..., 4:]).view("<u2")[..., 0].astype(np.uint32)
    return pattern | ((summaries[..., 1].astype(np.float32) / 4 >= F.TEXTURE_STD).astype(np.uint32) << 16)


def load_rgbs(paths: list[Path]) -> None:
    """The windows' photos at working size (window_cells' source), loaded once for these paths."""
    if _RGB_PATHS != list(paths):
        _RGBS[:] = [shrink(load_rgb(p)) for p in paths]
        _RGB_PATHS[:] = list(paths)


_RGB_PATHS: list[Path] = []


def synthetic_cells(paths: list[Path], n: int, seed: int, workers: int) -> np.ndarray:
    """(n, GRID * GRID, 6) uint8: windows 0..n-1's cells as stored (:func:`_window_summaries`), cached in
    bench/results/ (10,000 windows: 15 MB, ~70 CPU seconds)."""
    folder = ROOT / "bench" / "results" / f"derivative-cells-v2-{len(paths)}-{seed}{cache_tag(paths)}"
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / f"windows-{n}.npy"
    if not file.exists():
        load_rgbs(paths)
        jobs = [(s, min(n, s + 2000), seed) for s in range(0, n, 2000)]
        started = time.perf_counter()
        with mp.get_context("fork").Pool(workers) as pool:
            got = np.concatenate(list(pool.imap(_window_summaries, jobs)))
        tmp = file.with_suffix(".tmp.npy")
        np.save(tmp, got)
        tmp.rename(file)
        print(f"  synthetic cells: {n:,} windows in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return np.load(file)


def entry_keys(windows: np.ndarray, shape_bins: np.ndarray, ks: np.ndarray, real_n: int, seed: int,
               ) -> list[np.ndarray]:
    """The cell keys (index/derivative.py _cell_keys) of entries ``ks``: their windows' cells (``windows``:
    :func:`synthetic_cells`) moved by their transforms, at their photos' shape bins (``shape_bins``: by entry)."""
    t = cell_transform(ks, real_n, seed)
    src = _patterns(windows[ks % cell_windows(real_n)])
    moved = np.take_along_axis(src, _POSITIONS[t], axis=1)
    textured = (moved >> 16).astype(bool)
    pattern = _BITS[(t // (F.GRID * F.GRID))[:, None], (moved & 0xFFFF).astype(np.int64)]
    place = np.arange(F.GRID * F.GRID, dtype=np.uint32)[None, :]
    keys = (shape_bins.astype(np.uint32)[:, None] << 24) | (place << 16) | pattern.astype(np.uint32)
    counts = textured.sum(axis=1)
    return np.split(keys[textured], np.cumsum(counts)[:-1])


CHUNK = 50_000  # entries per cache file: a long build can be stopped and resumed, and N = 100k reuses 1M's first files


def synthetic_registry(paths: list[Path], n: int, seed: int, workers: int, keep: int = F.INDEX_KEYPOINTS,
                       ) -> np.ndarray:
    """N x INDEX_KEYPOINTS descriptors of the synthetic registry, cached in bench/results/ in files of CHUNK
    entries. Entry k depends only on (seed, k), so a smaller registry is a prefix of a larger one."""
    folder = ROOT / "bench" / "results" / f"derivative-registry-v3-{len(paths)}-{seed}{cache_tag(paths)}"
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for start in range(0, n, CHUNK):
        stop = start + CHUNK if n >= CHUNK else n  # a small registry (a quick look) gets a file of its own
        file = folder / (f"chunk-{start:08d}.npy" if n >= CHUNK else f"small-{n}.npy")
        if not file.exists():
            if not _GREYS:
                _GREYS.extend(cv2.cvtColor(shrink(load_rgb(p)), cv2.COLOR_RGB2GRAY) for p in paths)
            jobs = [(s, min(stop, s + 2000), seed) for s in range(start, stop, 2000)]
            started = time.perf_counter()
            with mp.get_context("fork").Pool(workers) as pool:
                got = np.concatenate(list(pool.imap(_windows, jobs)))
            tmp = file.with_suffix(".tmp.npy")
            np.save(tmp, got)
            tmp.rename(file)
            print(f"  synthetic registry: entries {start:,}-{stop:,} built in {time.perf_counter() - started:.0f} s",
                  file=sys.stderr)
        parts.append(np.load(file, mmap_mode="r")[: n - start, :keep])
    return np.ascontiguousarray(np.concatenate(parts))


def cache_tag(paths: list[Path]) -> str:
    """'' for the old registry (every photo of the folder gives windows, the cache's name as before 2026-12-06
    #7); otherwise a digest of the photos' names, so another subset never reuses a cache."""
    if len(paths) > 1 and len({p.parent for p in paths}) == 1:
        folder = paths[0].parent
        every = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
        if every == sorted(paths):
            return ""
    return "-" + hashlib.sha256("\n".join(p.name for p in paths).encode()).hexdigest()[:8]


REGISTRIES = ("honest", "old")


def window_photos(n_paths: int, registry: str) -> list[int]:
    """Indexes (in the sorted photo list) of the photos the windows are cut from."""
    return list(range(n_paths)) if registry == "old" else list(range(1, n_paths, 2))


def upload_photos(n_paths: int, registry: str) -> list[int]:
    """Indexes of the photos the timed uploads are made from (edited photo and pasted part alike)."""
    return list(range(n_paths)) if registry == "old" else list(range(0, n_paths, 2))


class SyntheticRegistry:
    """The scale run's full signatures (``lookup``, standing in for the database) and which real photo an
    entry shows (``photo_of``). Ids: real photo i is i + 1; registry entry k is 1,000,000 + k: window
    ``k % real_n`` (cut from photo ``window_photos[k % real_n % len(window_photos)]``), bit-permuted by
    permutation ``k // real_n`` (0: not permuted)."""

    def __init__(self, paths: list[Path], size: int, real_windows: int, seed: int, registry: str = "honest",
                 real: list | None = None, cells: bool = True) -> None:
        assert registry in REGISTRIES, registry
        self.cells = cells  # entries' signatures carry their own cells (see entry_keys); False: as before 2026-12-07 #7
        self.entries: dict[int, str] = {}
        self.descriptors: dict[tuple[int, int], np.ndarray] = {}
        self.summaries: np.ndarray | None = None  # the windows' cells (synthetic_cells), read on first use
        self.registry, self.seed = registry, seed
        self.real = real if real is not None else [F.photo_features(load_rgb(p)) for p in paths]
        self.values = {i + 1: F.encode(f) for i, f in enumerate(self.real)}
        self.real_n = min(real_windows, size)
        self.perms = permutations(-(-size // self.real_n), seed)
        self.permuted: dict[tuple[int, int], str] = {}
        self.window_photos = window_photos(len(paths), registry)
        self.upload_photos = upload_photos(len(paths), registry)
        self.window_paths = [paths[i] for i in self.window_photos]

    def _window_photo(self, k: int) -> int:
        return self.window_photos[k % self.real_n % len(self.window_photos)]

    def signature(self, i: int) -> str:
        """Photo i's full signature. A registry entry's: its window's photo's, descriptors permuted (a copy), and
        with ``cells``: the entry's own cells (:func:`entry_keys`' source: its window's, moved for a copy)."""
        if i < 1_000_000:
            return self.values[i]
        k = i - 1_000_000
        photo, p = self._window_photo(k), k // self.real_n
        if not self.cells:
            if not p:
                return self.values[photo + 1]
            if (photo, p) not in self.permuted:
                f = self.real[photo]
                self.permuted[photo, p] = F.encode(
                    dataclasses.replace(f, descriptors=permute(f.descriptors, self.perms[p])))
            return self.permuted[photo, p]
        if k not in self.entries:
            if (photo, p) not in self.descriptors:
                d = self.real[photo].descriptors
                self.descriptors[photo, p] = permute(d, self.perms[p]) if p else d
            w = k % cell_windows(self.real_n)
            if self.summaries is None:
                self.summaries = self.window_cells(1)
            cells = transform_cells(stored_cells(self.summaries[w]), int(cell_transform(k, self.real_n, self.seed)))
            if len(self.entries) >= 4096:
                self.entries.clear()
            self.entries[k] = F.encode(dataclasses.replace(self.real[photo], descriptors=self.descriptors[photo, p],
                                                           cells=cells))
        return self.entries[k]

    def cell_keys(self, windows: np.ndarray, start: int, stop: int) -> tuple[list[int], list[float], list[np.ndarray]]:
        """Entries [start, stop) as _CellKeys.add_keys takes them: ids, aspect ratios (their photos'), keys."""
        ks = np.arange(start, stop)
        photos = np.array(self.window_photos)[ks % self.real_n % len(self.window_photos)]
        aspect = np.array([f.frame_w / f.frame_h for f in self.real])[photos]
        bins = np.clip(np.floor(np.log(aspect) / math.log1p(WHOLE_ASPECT)), -126, 126).astype(np.int64) + 128
        return (list(range(1_000_000 + start, 1_000_000 + stop)), aspect.tolist(),
                entry_keys(windows, bins, ks, self.real_n, self.seed))

    def window_cells(self, workers: int) -> np.ndarray:
        if self.summaries is None:
            self.summaries = synthetic_cells(self.window_paths, cell_windows(self.real_n), self.seed, workers)
        return self.summaries

    def lookup(self, ids: list[int]) -> dict[int, str]:
        return {i: self.signature(i) for i in ids}

    def photo_of(self, i: int) -> int | None:
        """The real photo (index) an entry shows, None for a permuted copy."""
        if i < 1_000_000:
            return i - 1
        k = i - 1_000_000
        return None if k >= self.real_n else self._window_photo(k)

    def windows(self, workers: int) -> np.ndarray:
        return synthetic_registry(self.window_paths, self.real_n, self.seed, workers, keep=D.SAMPLE)

    def batch(self, codes: np.ndarray, ids: np.ndarray) -> list[tuple[F.PhotoFeatures, int]]:
        """Entries as add_features_many takes them; honest: only a window's real descriptors (the cache pads
        windows with under SAMPLE keypoints with zero rows; no ORB descriptor is all zero)."""
        empty = np.zeros((0, 2), np.float32)
        if self.registry == "old":
            return [(F.PhotoFeatures(0, 0, 0, 0, empty, c, None), int(i))  # type: ignore[arg-type]
                    for c, i in zip(codes, ids)]
        return [(F.PhotoFeatures(0, 0, 0, 0, empty, c[c.any(axis=1)], None), int(i))  # type: ignore[arg-type]
                for c, i in zip(codes, ids)]


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def permutations(count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng([seed, 77])
    return [np.arange(256)] + [rng.permutation(256) for _ in range(count - 1)]


def permute(codes: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Permute the 256 bits of every descriptor (last axis: 32 bytes)."""
    bits = np.unpackbits(codes, axis=-1)
    return np.packbits(bits[..., perm], axis=-1)


def entries(windows: np.ndarray, perms: list[np.ndarray], start: int, stop: int):  # noqa: ANN201
    """(codes (n, SAMPLE, 32), ids) of registry entries [start, stop), in parts of 20,000."""
    r = len(windows)
    for a in range(start, stop, 20_000):
        b = min(stop, a + 20_000)
        k = np.arange(a, b)
        codes = windows[k % r]
        for p in np.unique(k // r):
            sel = (k // r) == p
            if p:
                codes[sel] = permute(codes[sel], perms[p])
        yield codes, 1_000_000 + k


def make_upload(paths: list[Path], rng: np.random.Generator, q: int, photos: list[int] | None = None,
                ) -> tuple[np.ndarray, int, int]:
    """A derivative of a random photo, as in the accuracy run: (rgb, photo index, patch source index).
    ``photos``: the indexes to draw both from (default: every photo; the same draws as before then)."""
    photos = photos if photos is not None else list(range(len(paths)))
    a = int(rng.integers(0, len(photos)))
    i = photos[a]
    base = shrink(load_rgb(paths[i]))
    h, w = base.shape[:2]
    edit = EDITS[q % len(EDITS)]
    transform = TRANSFORMS[(q // len(EDITS)) % len(TRANSFORMS)]
    j = photos[(a + 1 + int(rng.integers(0, len(photos) - 1))) % len(photos)]
    img = apply_edit(edit, base, region(rng, h, w), rng, shrink(load_rgb(paths[j]), 640))
    out, quality = apply_transform(transform, img, rng)
    return reencode(out, quality), i, j


def unrelated_uploads(folder: Path, count: int, seed: int) -> list[np.ndarray]:
    """Photos that are in no way in the registry, each re-shared with one transform (none, JPEG, resize,
    crop, mirror, screenshot)."""
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    rng = np.random.default_rng([seed, 5])
    files = [files[int(k)] for k in rng.permutation(len(files))[:count]]
    kinds = ("none", "jpeg", "resize", "crop", "mirror", "screenshot")
    out = []
    for q, f in enumerate(files):
        img, quality = apply_transform(kinds[q % len(kinds)], shrink(load_rgb(f)), rng)
        out.append(reencode(img, quality))
    return out


def vote_keys(index: DerivativeIndex, queries: np.ndarray) -> np.ndarray:
    """For each query descriptor the photo it votes for, or -1 (as DerivativeIndex.candidates decides)."""
    distances, labels = index._faiss.search(queries, 2)
    d1, d2 = distances[:, 0].astype(np.float32), distances[:, 1].astype(np.float32)
    second = np.where(labels[:, 1] >= 0, d2, 256.0)
    hit = (d1 <= D.VOTE_DISTANCE) & (labels[:, 0] >= 0) & (d1 < D.RATIO * second)
    return np.where(hit, labels[:, 0], -1)


def exact_copy(index: DerivativeIndex) -> DerivativeIndex:
    """The same registry in an exhaustive (flat) faiss index: the exact-search baseline."""
    codes, labels = index._stored()
    exact = DerivativeIndex(index._lookup)
    flat = faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(256))
    flat.add_with_ids(codes, labels)
    exact._faiss, exact._ids = flat, index._ids
    return exact


DEFAULTS = {"configs": [f"{D.QUERY_DESCRIPTORS}/{D.NPROBE}/{D.STRONG_VOTES}/{D.MAX_WEAK}/{D.QUICK_CONSISTENT}/"
                         f"{D.QUICK_FALLBACK}/{D.FIRST_PROBES}/{D.FIRST_VOTES}/{int(D.VERIFY_ONCE)}/{D.FIRST_TOP_NPROBE}"],
            "also": [], "real_windows": 100_000, "unrelated": str(ROOT.parent / "shared" / "data" / "faces"),
            "unrelated_queries": 100, "exact_descriptors": 500, "exact_checks": 10, "exact_checks_below": 500_000,
            "registry": "honest"}


def scale_run(args, paths: list[Path]) -> dict:  # noqa: ANN001, C901, PLR0915
    for key, value in DEFAULTS.items():  # called from derivative_bench.py --registry-size, which lacks these
        if not hasattr(args, key):
            setattr(args, key, value)
    sizes = sorted({args.registry_size, *(args.also or [])})
    reg = SyntheticRegistry(paths, sizes[-1], args.real_windows, args.seed, args.registry)
    real_n, real, lookup, photo_of = reg.real_n, reg.real, reg.lookup, reg.photo_of
    windows = reg.windows(args.workers)
    cells = reg.window_cells(args.workers)  # the entries' cells (entry_keys), for the cell search

    rng = np.random.default_rng(args.seed)
    related = [make_upload(paths, rng, q, reg.upload_photos) for q in range(args.queries)]
    unrelated = unrelated_uploads(Path(args.unrelated), args.unrelated_queries, args.seed)
    print(f"{len(related)} derivative uploads, {len(unrelated)} unrelated uploads ready", file=sys.stderr)

    before = rss_mb()
    index = DerivativeIndex(lookup)
    started = time.perf_counter()
    index.add_features_many([(f, i + 1) for i, f in enumerate(real)])
    build_s = time.perf_counter() - started
    done, results = 0, []
    for size in sizes:
        t0 = time.perf_counter()
        for codes, ids in entries(windows, reg.perms, done, size):
            index.add_features_many(reg.batch(codes, ids))
            index._cells.add_keys(*reg.cell_keys(cells, int(ids[0]) - 1_000_000, int(ids[-1]) + 1 - 1_000_000))
        done = size
        build_s += time.perf_counter() - t0
        grown = rss_mb() - before
        print(f"index of {len(index):,} photos: {build_s:.0f} s so far; RSS +{grown:.0f} MB", file=sys.stderr)
        t0 = time.perf_counter()
        exact = exact_copy(index)
        exact_build = time.perf_counter() - t0
        for config in args.configs:
            apply_config(index, config)
            results.append({"config": config, "exact_build_seconds": exact_build,
                            **measure(args, index, exact, related, unrelated, photo_of, build_s, grown)})
        del exact
    summary = {"sizes": results, "real_windows": real_n, "registry": args.registry, "sample": D.SAMPLE,
               "top_nprobe": D.TOP_NPROBE,
               "candidates": D.CANDIDATES, "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    report(summary)
    return summary


def apply_config(index: DerivativeIndex, config: str) -> None:
    """``QUERY_DESCRIPTORS/NPROBE/STRONG_VOTES/MAX_WEAK[/QUICK_CONSISTENT[/QUICK_FALLBACK[/FIRST_PROBES/FIRST_VOTES[/VERIFY_ONCE[/FIRST_TOP_NPROBE]]]]]``,
    e.g. ``500/4/0/8`` (every candidate verified) or ``500/4/12/8/3/1`` (weak candidates verified when 3 of
    their votes line up, and the best one that does not while nothing has verified); without the last
    two, the lists are searched in one stage (FIRST_PROBES = NPROBE), as before the staged search;
    ``.../1/2``: the nearest list first, the other three only when a photo has 2 votes by then;
    ``.../1/3/1``: each distinct signature verified once per check (without the field: every candidate
    verified, as before; the windows here all carry their photo's signature, so this matters);
    ``.../1/3/1/1``: with two-level centres, the first stage's nearest list found through one of the
    centres' lists (without the field: TOP_NPROBE, as before)."""
    values = [int(v) for v in config.split("/")]
    q, nprobe, strong, weak = values[:4]
    D.QUERY_DESCRIPTORS, D.STRONG_VOTES, D.MAX_WEAK = q, strong, weak
    D.QUICK_CONSISTENT = values[4] if len(values) > 4 else 0
    D.QUICK_FALLBACK = values[5] if len(values) > 5 else 1
    D.FIRST_PROBES = values[6] if len(values) > 6 else nprobe
    D.FIRST_VOTES = values[7] if len(values) > 7 else 0
    D.VERIFY_ONCE = bool(values[8]) if len(values) > 8 else False
    D.FIRST_TOP_NPROBE = values[9] if len(values) > 9 else D.TOP_NPROBE
    if index._ivf:
        index._faiss.nprobe = nprobe


def measure(args, index: DerivativeIndex, exact: DerivativeIndex, related: list, unrelated: list, photo_of, build_s: float,  # noqa: ANN001
            grown: float) -> dict:
    wall, cpu, prep, prep_cpu, found, flagged, false_flags, entry = [], [], [], [], 0, 0, 0, 0
    proc, u_proc, u_whole_proc, u_whole_wall = [], [], [], []  # CPU of the process (every thread: a check uses D.CHECK_THREADS), beside the calling thread's
    outcomes = []
    searched: list[float] = []  # CPU of each DerivativeIndex.candidates call (the search), in check's order
    candidates = index.candidates

    def timed_candidates(*a, **k):  # noqa: ANN002, ANN003, ANN202
        c = time.thread_time()
        out = candidates(*a, **k)
        searched.append(time.thread_time() - c)
        return out

    index.candidates = timed_candidates  # type: ignore[method-assign]
    search_cpu, verify_cpu = [], []
    for rgb, i, j in related:
        w0, c0, p0 = time.perf_counter(), time.thread_time(), time.process_time()
        upload = Upload.from_rgb(rgb)
        w1, c1 = time.perf_counter(), time.thread_time()
        hits = index.check(upload)
        wall.append(time.perf_counter() - w0)
        proc.append(time.process_time() - p0)
        cpu.append(time.thread_time() - c0)
        prep.append(w1 - w0)
        prep_cpu.append(c1 - c0)
        search_cpu.append(searched[-1])
        verify_cpu.append(cpu[-1] - prep_cpu[-1] - searched[-1])
        own = [h for h in hits if photo_of(h.id) == i]
        found += bool(own)
        entry += any(h.id == i + 1 for h in hits)  # the registered photo itself, not one of its windows
        flagged += any(h.verdict.outcome is Outcome.DERIVATIVE for h in own)
        false_flags += sum(h.verdict.outcome is Outcome.DERIVATIVE and photo_of(h.id) not in (i, j) for h in hits)
        outcomes.append((upload, i, bool(own)))
    u_wall, u_cpu, u_false, u_prep, u_search, u_whole = [], [], 0, [], [], []
    for rgb in unrelated:
        w0, c0, p0 = time.perf_counter(), time.thread_time(), time.process_time()
        upload = Upload.from_rgb(rgb)
        c1 = time.thread_time()
        hits = index.check(upload)
        u_wall.append(time.perf_counter() - w0)
        u_proc.append(time.process_time() - p0)
        u_cpu.append(time.thread_time() - c0)
        u_prep.append(c1 - c0)
        u_search.append(searched[-1])
        u_false += sum(h.verdict.outcome is not Outcome.NONE for h in hits)
        # as the upload pipeline checks it: every instance (find_instances), the composite's pictures included
        w0, c0, p0 = time.perf_counter(), time.thread_time(), time.process_time()
        whole = find_instances(rgb, Upload.from_rgb(rgb), lambda part: [(None, h) for h in index.check(part)])
        u_whole.append(time.thread_time() - c0)
        u_whole_proc.append(time.process_time() - p0)
        u_whole_wall.append(time.perf_counter() - w0)
        u_false += sum(inst.verdict.outcome is not Outcome.NONE for inst in whole)
    del index.candidates
    # exact-search baseline: descriptor votes on a sample, whole checks on the first few uploads
    rng = np.random.default_rng(1)
    sample = np.concatenate([np.concatenate([u.descriptors[:D.QUERY_DESCRIPTORS],
                                             u.mirrored_descriptors[:D.QUERY_DESCRIPTORS]]) for u, _, _ in outcomes])
    sample = np.ascontiguousarray(sample[rng.choice(len(sample), size=min(len(sample), args.exact_descriptors),
                                                    replace=False)])
    t0 = time.perf_counter()
    ev, av = vote_keys(exact, sample), vote_keys(index, sample)
    exact_checks = outcomes[: args.exact_checks] if len(index) < args.exact_checks_below else []
    exact_found = sum(any(photo_of(h.id) == i for h in exact.check(u)) for u, i, _ in exact_checks)
    approx_found = sum(own for _, _, own in exact_checks)
    exact_s = time.perf_counter() - t0
    voted = ev >= 0
    ms = lambda v, q: float(np.percentile(np.array(v) * 1000, q))  # noqa: E731
    n = len(related)
    return {
        "registry": len(index), "build_seconds_cumulative": build_s,
        "index_bytes_per_photo": index.memory_bytes() / len(index), "rss_growth_mb": grown,
        "rss_per_photo_bytes": grown * 1024 * 1024 / len(index), "nlist": getattr(index._faiss, "nlist", 0),
        "queries": n, "check_ms_p50": ms(wall, 50), "check_ms_p95": ms(wall, 95),
        "check_cpu_ms_p50": ms(cpu, 50), "check_cpu_ms_p95": ms(cpu, 95), "check_threads": D.CHECK_THREADS,
        "check_process_cpu_ms_p50": ms(proc, 50), "check_process_cpu_ms_p95": ms(proc, 95),
        "unrelated_process_cpu_ms_p50": ms(u_proc, 50), "unrelated_process_cpu_ms_p95": ms(u_proc, 95),
        "unrelated_instances_process_cpu_ms_p50": ms(u_whole_proc, 50),
        "unrelated_instances_ms_p50": ms(u_whole_wall, 50), "unrelated_instances_ms_p95": ms(u_whole_wall, 95), "extract_ms_p50": ms(prep, 50), "extract_cpu_ms_p50": ms(prep_cpu, 50),
        "unrelated": len(unrelated), "unrelated_ms_p50": ms(u_wall, 50), "unrelated_ms_p95": ms(u_wall, 95),
        "unrelated_cpu_ms_p50": ms(u_cpu, 50), "unrelated_cpu_ms_p95": ms(u_cpu, 95), "unrelated_false": u_false,
        "search_cpu_ms_p50": ms(search_cpu, 50), "verify_cpu_ms_p50": ms(verify_cpu, 50),
        "unrelated_extract_cpu_ms_p50": ms(u_prep, 50), "unrelated_search_cpu_ms_p50": ms(u_search, 50),
        "unrelated_instances_cpu_ms_p50": ms(u_whole, 50), "unrelated_instances_cpu_ms_p95": ms(u_whole, 95),
        "own_photo_verified": found / n, "flagged": flagged / n, "false_flags": false_flags,
        "registered_entry_verified": entry / n,
        "exact_descriptors": int(len(sample)), "exact_votes": int(voted.sum()),
        "votes_reproduced": float((av[voted] == ev[voted]).mean()) if voted.any() else 1.0,
        "extra_votes": int(((av >= 0) & ~voted).sum()),
        "exact_checks": len(exact_checks), "exact_checks_found": exact_found, "approx_checks_found": approx_found,
        "exact_seconds": exact_s,
    }


def report(summary: dict) -> None:
    rows = summary["sizes"]
    print(f"## Derivative detection at scale ({summary.get('registry', 'old')} registry; "
          f"windows: {summary['real_windows']:,}, "
          "then bit-permuted copies)\n")
    print("| registered | settings | check p50 | p95 | CPU p50 | p95 | unrelated p50 | p95 | CPU p50 | index B/photo | RSS B/photo "
          "| build (cumulative) | lists | own photo verified | flagged | false flags |")
    print("|---:" * 16 + "|")
    for r in rows:
        print(f"| {r['registry']:,} | {r['config']} | {r['check_ms_p50']:.0f} ms | {r['check_ms_p95']:.0f} ms | {r['check_cpu_ms_p50']:.0f} ms "
              f"| {r['check_cpu_ms_p95']:.0f} ms | {r['unrelated_ms_p50']:.0f} ms | {r['unrelated_ms_p95']:.0f} ms "
              f"| {r['unrelated_cpu_ms_p50']:.0f} ms | {r['index_bytes_per_photo']:,.0f} | {r['rss_per_photo_bytes']:,.0f} "
              f"| {r['build_seconds_cumulative']:.0f} s | {r['nlist']:,} | {r['own_photo_verified']:.1%} | {r['flagged']:.1%} "
              f"| {r['false_flags'] + r['unrelated_false']} |")
    print()
    for r in rows:
        print(f"- {r['registry']:,}, {r['config']}: exact-search baseline: {r['votes_reproduced']:.1%} of {r['exact_votes']:,} votes "
              f"(of {r['exact_descriptors']:,} sampled upload descriptors) reproduced, {r['extra_votes']} votes the exact "
              f"search does not cast; own photo verified in {r['approx_checks_found']} of the first {r['exact_checks']} "
              f"uploads, {r['exact_checks_found']} with exact search ({r['exact_seconds']:.0f} s); extraction p50 "
              f"{r['extract_ms_p50']:.0f} ms (CPU {r['extract_cpu_ms_p50']:.0f} ms); the registered photo itself "
              f"(not a window of it) verified for {r['registered_entry_verified']:.1%}; CPU p50 by stage: "
              f"search {r['search_cpu_ms_p50']:.1f} ms, verification {r['verify_cpu_ms_p50']:.1f} ms; unrelated: "
              f"extraction {r['unrelated_extract_cpu_ms_p50']:.1f} ms, search {r['unrelated_search_cpu_ms_p50']:.1f} ms, "
              f"whole check {r['unrelated_cpu_ms_p50']:.1f} / {r['unrelated_cpu_ms_p95']:.1f} ms (p50 / p95); as the "
              f"upload pipeline checks it (find_instances: a composite's pictures too) {r['unrelated_instances_cpu_ms_p50']:.1f} "
              f"/ {r['unrelated_instances_cpu_ms_p95']:.1f} ms; {r['check_threads']} thread(s) a check: the process's CPU "
              f"(every thread; the CPU columns and stages above are the calling thread's) p50 / p95: derivative "
              f"{r['check_process_cpu_ms_p50']:.1f} / {r['check_process_cpu_ms_p95']:.1f} ms, unrelated "
              f"{r['unrelated_process_cpu_ms_p50']:.1f} / {r['unrelated_process_cpu_ms_p95']:.1f} ms, unrelated through find_instances "
              f"{r['unrelated_instances_process_cpu_ms_p50']:.1f} ms p50 (wall p50 / p95 {r['unrelated_instances_ms_p50']:.1f} / "
              f"{r['unrelated_instances_ms_p95']:.1f} ms)")


def main() -> int:
    import argparse  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photos", nargs="?", default=str(ROOT.parent / "shared" / "data" / "photos"))
    parser.add_argument("--registry-size", type=int, default=1_000_000)
    parser.add_argument("--also", type=lambda v: [int(x) for x in v.split(",")], default=[],
                        help="smaller sizes measured in the same run, e.g. 100000")
    parser.add_argument("--configs", type=lambda v: v.split(","), default=DEFAULTS["configs"],
                        help="settings timed one after the other on the same index: QUERY_DESCRIPTORS/NPROBE/"
                             "STRONG_VOTES/MAX_WEAK[/QUICK_CONSISTENT[/QUICK_FALLBACK]], comma-separated; "
                             "default: the index's own")
    parser.add_argument("--real-windows", type=int, default=DEFAULTS["real_windows"])
    parser.add_argument("--registry", choices=REGISTRIES, default="honest",
                        help="honest: windows from the odd photos, uploads from the even ones, no zero rows "
                             "(see the docstring); old: as before 2026-12-06 #7, for comparison")
    parser.add_argument("--queries", type=int, default=300, help="derivative uploads timed at every size")
    parser.add_argument("--unrelated", default=DEFAULTS["unrelated"], help="folder of photos in no way registered")
    parser.add_argument("--unrelated-queries", type=int, default=DEFAULTS["unrelated_queries"])
    parser.add_argument("--exact-descriptors", type=int, default=DEFAULTS["exact_descriptors"])
    parser.add_argument("--exact-checks", type=int, default=DEFAULTS["exact_checks"])
    parser.add_argument("--exact-checks-below", type=int, default=DEFAULTS["exact_checks_below"],
                        help="whole checks with exact search only at registry sizes below this (slow)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", help="write the summary here")
    args = parser.parse_args()
    paths = sorted(p for p in Path(args.photos).iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    summary = scale_run(args, paths)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
