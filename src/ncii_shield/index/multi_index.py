"""Multi-index hashing for 256-bit hashes, with exact recall up to distance 31.

The pigeonhole argument: cut a hash into 16 chunks of 16 bits. If two hashes differ in at most 31
bits, at least one chunk differs in at most one bit (16 chunks x 2 bits = 32 > 31). So probing, for
each chunk, the query's own 16-bit value and its 16 one-bit neighbours (17 x 16 = 272 probes) finds
*every* hash within 31 — exact recall, verified on the candidates with a popcount. From 2M hashes
on, 12 chunks of 21–22 bits with up to 2 flipped bits (12 x 3 = 36 > 31) give ~4x fewer candidates
for 2,872 probes (:class:`ChunkScheme`). (A multi-index hash that only probes the exact chunk
values, as python-threatexchange's faiss ``IndexBinaryMultiHash`` does with ``nflip=0``, is only
guaranteed exact up to distance 15.) The search loops are compiled (:mod:`.kernels`).

Below 2M hashes a segment also keeps, per chunk and in that chunk's bucket order, the 32-bit
*group* of every hash that holds the chunk (two neighbouring chunks). One group of 8 differs from
the query in at most 3 bits, and one of its chunks in at most 1 (the pigeonhole again, on two
levels), so a candidate whose group differs in more bits is skipped without loading its hash: a
lookup streams 272 short runs of 4-byte values instead of loading ~4,000 random rows, for 64 more
bytes per hash (see :func:`kernels.mih_pair_search`). The large scheme does without (10M hashes in
under 2 GB).

Layout (numpy, no Python objects per entry; ~100 bytes per hash, ~170 with groups):

* **segments** built in bulk: hashes as ``uint64[n, 4]``, ids ``int64[n]`` sorted ascending, and for
  each chunk the row numbers sorted by that chunk's value (``uint32[chunks, n]``) with bucket
  offsets (``uint32``, 2**width + 1 per chunk), and the groups. A segment never changes, except
  that removing an entry marks it dead (a tombstone);
* a **delta** of up to ``delta_limit`` entries added since, searched by brute force.

Log-structured: a full delta becomes a small segment (a *run*); when there are more than
``max_runs`` runs they are merged into one; when the runs outgrow ``max(min_merge, n /
merge_fraction)`` of the main segment, everything is merged into a new main segment. So no change
triggers a full rebuild, and lookups stay fast however many hashes arrive between merges.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ncii_shield.index import kernels
from ncii_shield.index.base import IndexMatch, SignalIndex
from ncii_shield.index.bits import WORDS, hex_to_words, hexes_to_words

EXACT_RECALL_LIMIT = 31


@dataclass(frozen=True)
class ChunkScheme:
    """How a 256-bit hash is cut into chunks, how many bit flips to probe per chunk, and whether
    segments keep bucket-ordered 32-bit groups (see :func:`kernels.mih_pair_search`).

    Exact up to distance ``len(widths) * (max_flips + 1) - 1`` (pigeonhole). Two schemes reach 31:
    16 x 16 bits with 1 flip and groups (272 probes, small tables, 64 more bytes per hash; best up
    to ~2M hashes) and 4 x 22 + 8 x 21 bits with 2 flips and no groups (2,872 probes but ~4x fewer
    candidates and ~100 bytes per hash: for 10M hashes in under 2 GB).
    """

    widths: tuple[int, ...]
    max_flips: int
    groups: bool = False

    def __post_init__(self) -> None:
        if self.groups and (self.widths != (16,) * 16 or self.max_flips != 1):
            raise ValueError("the group screen is exact for 16 chunks of 16 bits probed with 1 flip (two per group)")

    @property
    def exact_limit(self) -> int:
        return len(self.widths) * (self.max_flips + 1) - 1

    @property
    def starts_offsets(self) -> tuple[int, ...]:
        return tuple(int(x) for x in np.cumsum([0, *[(1 << w) + 1 for w in self.widths]]))

    @cached_property  # read on every lookup: computed once per scheme
    def probes(self) -> int:
        return sum(1 + w + (w * (w - 1) // 2 if self.max_flips >= 2 else 0) for w in self.widths)

    @cached_property
    def _tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (np.array(self.starts_offsets[:-1], dtype=np.int64), np.cumsum([0, *self.widths[:-1]]).astype(np.int64),
                np.array(self.widths, dtype=np.int64))

    def kernel_tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(table offset, first bit, width) of every chunk, as the compiled search takes them."""
        return self._tables

    def extract_one(self, words: np.ndarray, c: int) -> np.ndarray:
        """Chunk ``c`` of every row of ``words`` as int64[n]."""
        pos = sum(self.widths[:c])
        width = self.widths[c]
        w, off = divmod(pos, 64)
        end = off + width
        if end <= 64:
            value = (words[:, w] >> np.uint64(64 - end)) & np.uint64((1 << width) - 1)
        else:
            spill = end - 64
            hi = (words[:, w] & np.uint64((1 << (64 - off)) - 1)) << np.uint64(spill)
            value = hi | (words[:, w + 1] >> np.uint64(64 - spill))
        return value.astype(np.int64)


SMALL_SCHEME = ChunkScheme((16,) * 16, 1, groups=True)
RUN_SCHEME_LARGE = ChunkScheme((16,) * 16, 1)  # runs beside a large main segment: no groups (memory)
LARGE_SCHEME = ChunkScheme((22,) * 4 + (21,) * 8, 2)
LARGE_SCHEME_FROM = 2_000_000
_SCRATCH_ROWS = 1 << 16


@dataclass
class _Segment:
    scheme: ChunkScheme
    words: np.ndarray  # uint64[n, 4]
    ids: np.ndarray  # int64[n], ascending
    alive: np.ndarray  # bool[n]
    order: np.ndarray  # uint32[chunks, n]: rows sorted by chunk value
    starts: np.ndarray  # uint32[sum(2**w + 1)]: bucket offsets, chunk after chunk
    groups: np.ndarray | None = None  # uint32[chunks * n + pad]: per chunk, in its bucket order, its 32-bit group

    @classmethod
    def build(cls, words: np.ndarray, ids: np.ndarray, scheme: ChunkScheme | None = None) -> _Segment:
        n = len(ids)
        scheme = scheme or (LARGE_SCHEME if n >= LARGE_SCHEME_FROM else SMALL_SCHEME)
        if n > 1 and not bool(np.all(ids[1:] > ids[:-1])):  # already in id order when loaded from the store
            sort = np.argsort(ids, kind="stable")
            words, ids = words[sort], ids[sort]
        words = np.ascontiguousarray(words, dtype=np.uint64)
        order = np.empty((len(scheme.widths), n), dtype=np.uint32)
        offsets = scheme.starts_offsets
        starts = np.empty(offsets[-1], dtype=np.uint32)
        for c, width in enumerate(scheme.widths):
            keys = scheme.extract_one(words, c)
            order[c] = np.argsort(keys, kind="stable")
            counts = np.bincount(keys, minlength=1 << width)
            starts[offsets[c]] = 0
            np.cumsum(counts, out=starts[offsets[c] + 1 : offsets[c + 1]])
        groups = None
        if scheme.groups:
            # padded: the search screens whole blocks, which may run past the last bucket
            groups = np.zeros(len(scheme.widths) * n + kernels.PAIR_BLOCK, dtype=np.uint32)
            for c in range(len(scheme.widths)):
                word = words[:, c // 4]
                value = word >> np.uint64(32) if (c // 2) % 2 == 0 else word & np.uint64(0xFFFFFFFF)
                groups[c * n:(c + 1) * n] = value[order[c]]
        return cls(scheme, words, np.asarray(ids, dtype=np.int64), np.ones(n, dtype=bool), order, starts, groups)

    @classmethod
    def empty(cls) -> _Segment:
        return cls.build(np.zeros((0, WORDS), dtype=np.uint64), np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.ids)

    def row_of(self, id: int) -> int | None:
        row = int(np.searchsorted(self.ids, id))
        if row < len(self.ids) and self.ids[row] == id:
            return row
        return None

    def search(self, queries: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query number, id, distance) of every alive entry within ``threshold`` of a query."""
        offsets, positions, widths = self.scheme.kernel_tables()
        scratch = _scratch(self.scheme.probes, batched=self.groups is not None)
        # mih_search reports a near match once per chunk it shares (up to 16x); mih_pair_search once
        capacity = 256 + (8 if self.groups is not None else 16) * len(queries)
        while True:
            out = np.empty((3, capacity), dtype=np.int64)
            if self.groups is not None:
                found = kernels.mih_pair_search(self.words, self.alive, self.order, self.starts, self.groups,
                                                offsets, positions, widths, self.scheme.max_flips, queries,
                                                threshold, out[0], out[1], out[2], scratch.probes,
                                                scratch.candidates)
            else:
                found = kernels.mih_search(self.words, self.alive, self.order, self.starts, offsets, positions,
                                           widths, self.scheme.max_flips, queries, threshold, out[0], out[1],
                                           out[2], scratch.rows, scratch.bounds)
            if found <= capacity:
                return out[0, :found], self.ids[out[1, :found]], out[2, :found]
            capacity = found


_WARM = threading.Lock()
_warmed = False


def warm_up() -> None:
    """Load the compiled searches (numba's on-disk cache, or a compile) once per process, with the
    argument types the lookups use: called where an index is built or loaded, so that the first
    lookup of a served index costs what the next ones do (loading them took ~0.5 s CPU, on the first
    lookup, before)."""
    global _warmed
    with _WARM:
        if _warmed:
            return
        words = np.zeros((2, WORDS), dtype=np.uint64)
        for scheme in (SMALL_SCHEME, LARGE_SCHEME):  # mih_pair_search, mih_search
            _Segment.build(words, np.arange(2, dtype=np.int64), scheme).search(words[:1], EXACT_RECALL_LIMIT)
        out = np.empty((3, 64), dtype=np.int64)
        kernels.brute_search(words, 2, words[:1], EXACT_RECALL_LIMIT, out[0], out[1], out[2])  # the delta
        _warmed = True


def _merge(segments: list[_Segment], alive: list[np.ndarray], scheme: ChunkScheme | None) -> _Segment:
    """One segment holding the entries of ``segments`` that ``alive`` marks."""
    return _Segment.build(np.concatenate([s.words[a] for s, a in zip(segments, alive)]),
                          np.concatenate([s.ids[a] for s, a in zip(segments, alive)]), scheme)


class _Scratch(threading.local):
    rows: np.ndarray
    bounds: np.ndarray
    probes: np.ndarray
    candidates: np.ndarray


_SCRATCH = _Scratch()


def _scratch(probes: int, *, batched: bool) -> _Scratch:
    """Per-thread buffers for the compiled search (allocated once, reused by every lookup):
    ``probes`` for :func:`kernels.mih_pair_search` (``batched``), ``rows`` and ``bounds`` for
    :func:`kernels.mih_search`."""
    if batched:
        if len(getattr(_SCRATCH, "probes", ())) < probes * kernels.PAIR_BATCH:
            _SCRATCH.probes = np.empty((probes * kernels.PAIR_BATCH, 3), dtype=np.int64)
            _SCRATCH.candidates = np.empty((kernels.CANDIDATES, 2), dtype=np.int64)
        return _SCRATCH
    if not hasattr(_SCRATCH, "rows"):
        _SCRATCH.rows = np.empty(_SCRATCH_ROWS, dtype=np.uint32)
    if len(getattr(_SCRATCH, "bounds", ())) < probes:
        _SCRATCH.bounds = np.empty((probes, 3), dtype=np.int64)
    return _SCRATCH


class MultiIndexHammingIndex(SignalIndex):
    """Exact Hamming search up to distance 31 in ~O(n / 4096) per query. See the module docstring."""

    def __init__(self, *, min_merge: int = 50_000, merge_fraction: int = 8, delta_limit: int = 4_096,
                 max_runs: int = 4, background: bool = True) -> None:
        self._lock = threading.RLock()
        self._background = background
        self._merging: list[_Segment] | None = None  # segments being merged in the background
        self._killed_while_merging: list[int] = []
        self._merge_thread: threading.Thread | None = None
        self._main = _Segment.empty()
        self._runs: list[_Segment] = []
        self._dead = 0
        self._delta_words = np.zeros((64, WORDS), dtype=np.uint64)
        self._delta_ids = np.zeros(64, dtype=np.int64)
        self._delta_size = 0
        self._delta_row: dict[int, int] = {}
        self._min_merge = min_merge
        self._merge_fraction = merge_fraction
        self._delta_limit = delta_limit
        self._max_runs = max_runs

    # -- building ------------------------------------------------------------------------------

    def add_many(self, entries: Iterable[tuple[str, int]]) -> None:
        """Bulk add: builds the main segment in one go when the index is empty (fast path)."""
        entries = list(entries)
        with self._lock:
            if self._is_empty() and len(entries) >= self._min_merge:
                ids = np.fromiter((i for _, i in entries), dtype=np.int64, count=len(entries))
                if len(np.unique(ids)) == len(ids):
                    self._main = _Segment.build(hexes_to_words([v for v, _ in entries]), ids)
                    warm_up()
                    return
            for value, id in entries:
                self.add(value, id)
        warm_up()

    def add_words(self, words: np.ndarray, ids: np.ndarray) -> None:
        """Bulk load from arrays (uint64[n, 4], int64[n] of unique ids) into an empty index."""
        with self._lock:
            if not self._is_empty():
                raise ValueError("add_words loads an empty index; use add() for changes")
            if len(np.unique(ids)) != len(ids):
                raise ValueError("ids must be unique")
            self._main = _Segment.build(words, np.asarray(ids, dtype=np.int64))
        warm_up()

    def _is_empty(self) -> bool:
        return len(self) == 0 and self._delta_size == 0 and not self._runs and len(self._main) == 0

    def add(self, value: str, id: int) -> None:
        words = hex_to_words(value)
        with self._lock:
            for segment in (self._main, *self._runs):
                row = segment.row_of(id)
                if row is not None and segment.alive[row]:
                    if np.array_equal(segment.words[row], words):
                        return
                    self._kill(segment, row)
            drow = self._delta_row.get(id)
            if drow is not None:
                self._delta_words[drow] = words
                return
            if self._delta_size == len(self._delta_ids):
                self._delta_words = np.concatenate([self._delta_words, np.zeros_like(self._delta_words)])
                self._delta_ids = np.concatenate([self._delta_ids, np.full_like(self._delta_ids, -1)])
            self._delta_words[self._delta_size] = words
            self._delta_ids[self._delta_size] = id
            self._delta_row[id] = self._delta_size
            self._delta_size += 1
            if self._delta_size >= self._delta_limit:
                self._flush_delta()

    def remove(self, id: int) -> None:
        with self._lock:
            for segment in (self._main, *self._runs):
                row = segment.row_of(id)
                if row is not None and segment.alive[row]:
                    self._kill(segment, row)
            drow = self._delta_row.pop(id, None)
            if drow is not None:
                last = self._delta_size - 1
                if drow != last:
                    moved = int(self._delta_ids[last])
                    self._delta_words[drow] = self._delta_words[last]
                    self._delta_ids[drow] = moved
                    self._delta_row[moved] = drow
                self._delta_size = last

    def _kill(self, segment: _Segment, row: int) -> None:
        segment.alive[row] = False
        self._dead += 1
        if self._merging is not None and any(segment is m for m in self._merging):
            self._killed_while_merging.append(int(segment.ids[row]))  # carried into the merged segment

    def _flush_delta(self) -> None:
        """A full delta becomes a new run; then maybe a merge."""
        size = self._delta_size
        self._runs.append(_Segment.build(self._delta_words[:size].copy(), self._delta_ids[:size].copy(),
                                         self._run_scheme()))
        self._delta_size = 0
        self._delta_row = {}
        self._maybe_merge()

    def _run_scheme(self) -> ChunkScheme:
        """Runs are small segments; beside a main segment of the large scheme (10M hashes in < 2 GB)
        they do without groups (64 bytes per hash, up to an eighth of the main's entries)."""
        return RUN_SCHEME_LARGE if self._main.scheme is LARGE_SCHEME else SMALL_SCHEME

    def _maybe_merge(self) -> None:
        """Runs too big -> main + runs into a new main; too many runs -> one run. One merge at a time,
        built off the lock (in a thread unless ``background=False``) while lookups and changes go on."""
        if self._merging is not None:
            return
        in_runs = sum(len(r) for r in self._runs)
        if in_runs >= max(self._min_merge, len(self._main) // self._merge_fraction):
            targets, scheme = [self._main, *self._runs], None
        elif len(self._runs) > self._max_runs:
            targets, scheme = list(self._runs), self._run_scheme()
        else:
            return
        self._merging, self._killed_while_merging = targets, []
        alive = [t.alive.copy() for t in targets]  # the entries as of now; later removals are replayed
        if not self._background:
            self._finish_merge(targets, _merge(targets, alive, scheme))
            return
        self._merge_thread = threading.Thread(target=self._merge_in_background, args=(targets, alive, scheme),
                                              name="pdq-index-merge", daemon=True)
        self._merge_thread.start()

    def _merge_in_background(self, targets: list[_Segment], alive: list[np.ndarray],
                             scheme: ChunkScheme | None) -> None:
        try:
            merged = _merge(targets, alive, scheme)
        except BaseException:
            with self._lock:
                self._merging = None  # the segments stay as they are; the next flush tries again
            raise
        with self._lock:
            self._finish_merge(targets, merged)

    def _finish_merge(self, targets: list[_Segment], merged: _Segment) -> None:
        for id in self._killed_while_merging:
            row = merged.row_of(id)
            if row is not None:
                merged.alive[row] = False
        rest = [r for r in self._runs if not any(r is t for t in targets)]
        if targets[0] is self._main:
            self._main, self._runs = merged, rest
        else:
            self._runs = [merged, *rest]
        self._dead = sum(len(s) - int(s.alive.sum()) for s in (self._main, *self._runs))
        self._merging, self._killed_while_merging = None, []
        self._maybe_merge()

    def wait_for_merges(self, timeout: float | None = None) -> None:
        """Block until no background merge is running (tests, benchmarks, shutdown)."""
        while True:
            with self._lock:
                thread = self._merge_thread if self._merging is not None else None
            if thread is None:
                return
            thread.join(timeout)
            if timeout is not None and thread.is_alive():
                return

    # -- searching -----------------------------------------------------------------------------

    def query(self, value: str, threshold: float = EXACT_RECALL_LIMIT) -> list[IndexMatch]:
        return self._search(hex_to_words(value)[None, :], threshold)[0]

    def query_many(self, values: list[str], threshold: float = EXACT_RECALL_LIMIT) -> list[list[IndexMatch]]:
        """``query`` for many values at once, in one compiled pass per segment."""
        if not values:
            return []
        return self._search(hexes_to_words(values), threshold)

    def query_arrays(self, values: list[str], threshold: float = EXACT_RECALL_LIMIT) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._search_arrays(hexes_to_words(values), threshold)

    def query_words(self, queries: np.ndarray, threshold: float = EXACT_RECALL_LIMIT, *,
                    approximate: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`query_arrays` for hashes as ``uint64[n, 4]``. ``approximate``: a ``threshold`` above 31
        is allowed, and then only the hashes that the chunk probes reach are found (not every one)."""
        return self._search_arrays(np.ascontiguousarray(queries, dtype=np.uint64), threshold, approximate=approximate)

    def _search(self, queries: np.ndarray, threshold: float) -> list[list[IndexMatch]]:
        out: list[list[IndexMatch]] = [[] for _ in range(len(queries))]
        for q, id, d in zip(*(column.tolist() for column in self._search_arrays(queries, threshold))):
            out[q].append(IndexMatch(d, id))
        return out

    def _search_arrays(self, queries: np.ndarray, threshold: float, *,
                       approximate: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query number, id, distance) of every match, each (query, id) once, by query then nearest."""
        if threshold > EXACT_RECALL_LIMIT and not approximate:
            raise ValueError(f"this index is exact only up to distance {EXACT_RECALL_LIMIT}")
        limit = int(threshold)
        parts = []
        if limit >= 0:
            with self._lock:
                for segment in (self._main, *self._runs):
                    if len(segment):
                        parts.append(segment.search(queries, limit))
                if self._delta_size:
                    parts.append(self._search_delta(queries, limit))
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        query, ids, distance = parts[0] if len(parts) == 1 else (np.concatenate(c) for c in zip(*parts))
        if len(ids) < 2:
            return query, ids, distance
        order = np.lexsort((ids, distance, query))
        query, ids, distance = query[order], ids[order], distance[order]
        # mih_search reports a row reached through several chunks once per chunk: keep one (sorted by
        # query, distance and id, the copies of a (query, id) pair are neighbours)
        first = np.ones(len(order), dtype=bool)
        first[1:] = (query[1:] != query[:-1]) | (ids[1:] != ids[:-1])
        return query[first], ids[first], distance[first]

    def _search_delta(self, queries: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        capacity = max(64, 2 * len(queries))
        while True:
            out = np.empty((3, capacity), dtype=np.int64)
            found = kernels.brute_search(self._delta_words, self._delta_size, queries, limit, out[0], out[1], out[2])
            if found <= capacity:
                return out[0, :found], self._delta_ids[out[1, :found]], out[2, :found]
            capacity = found

    def __len__(self) -> int:
        return sum(len(s) for s in (self._main, *self._runs)) - self._dead + self._delta_size

    def memory_bytes(self) -> int:
        total = self._delta_words.nbytes + self._delta_ids.nbytes
        for s in (self._main, *self._runs):
            total += s.words.nbytes + s.ids.nbytes + s.alive.nbytes + s.order.nbytes + s.starts.nbytes
            total += 0 if s.groups is None else s.groups.nbytes
        return total
