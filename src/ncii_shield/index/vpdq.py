"""vPDQ index: every usable frame of every banked video in one multi-index Hamming index.

Two ways to ask it:

* :meth:`VpdqIndex.query` / :meth:`VpdqIndex.shares`: the reference's shares (unique frames of
  quality >= 50 at PDQ distance <= 31), reported as ``100 - min(query share, compared share)``, as
  the ``SignalIndex`` interface and the exchange formats expect;
* :meth:`VpdqIndex.video_matches`: how videos spread — every frame pair within 31 (including the
  upload's mirrored/border-cropped readings; for crops, its frames read at the crop fitted to a
  candidate, compared on their reliable bits) is aligned in time
  (:mod:`ncii_shield.signals.video_match`), and a banked video matches when aligned segments cover
  enough seconds; answers say which seconds of the upload are which seconds of the banked video.

Layout: frame ``k`` of the video in slot ``s`` is entry ``s << 20 | k`` of a
:class:`~ncii_shield.index.multi_index.MultiIndexHammingIndex` (exact up to distance 31); per video,
its frames as ``uint64[n, 4]``, timestamps ``float32[n]`` and qualities ``uint8[n]``. No Python
object per frame. A rebuildable cache of the store, like every index.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ncii_shield.index.base import IndexMatch, SignalIndex
from ncii_shield.index.bits import hexes_to_words
from ncii_shield.index.multi_index import MultiIndexHammingIndex, warm_up
from ncii_shield.signals.frames import MAX_CUT, MIN_CUT, crop_cell, crop_readings
from ncii_shield.signals.video_match import DEFAULT_MIN_SECONDS, VideoMatch, align, decide
from ncii_shield.signals.vpdq import (
    FRAME_DISTANCE_THRESHOLD, QUALITY_THRESHOLD, SECONDS_PER_HASH, VpdqFrame, shares_of_words, value_to_frames,
)

FRAME_BITS = 20  # up to 1,048,576 frames per video (291 hours at one a second)
MAX_CANDIDATES = 64
CANDIDATE_FPS = 1.0


MAX_LOOKUPS = 1_200
#: Crop readings (:func:`ncii_shield.signals.frames.crop_cell`: centred and corner readings at
#: several scales) are verified against a candidate's frames up to this PDQ distance (candidates are
#: still found at 31), and only the crop readings whose place and scale found the candidate (and
#: those 1 % either side of it): a candidate step and a verification step.
CORNER_DISTANCE = 40
#: Share of the lookups kept for crop readings when other readings would take them all.
CROP_LOOKUP_SHARE = 0.25
#: Crops read from the upload's luma copies (:class:`~ncii_shield.signals.frames.CropFrames`): a
#: reading of the lookup grid is looked up up to this PDQ distance (the index then finds the banked
#: frames that share one of its chunks: not every one that close) ...
CROP_LOOKUP_DISTANCE = 64
#: ... and finds a candidate when at most this many of its reliable bits differ (of 128) ...
CROP_CANDIDATE_BITS = 24
#: ... against which the crop is searched finely (:func:`_fit_crop`) and every sampled frame read at
#: the crop found counts where at most this many of its reliable bits differ from a banked frame.
CROP_VERIFY_BITS = 20
#: A candidate's crop is fitted on this many frames, each counting at most CROP_FIT_CLIP differing bits.
CROP_FIT_FRAMES = 8
CROP_FIT_CLIP = 30


def _readings_to_look_up(extra: Sequence[VpdqFrame], offset: int, fps: float, budget: int) -> list[int]:
    """Rows (numbered from ``offset``) of the readings used to find candidates: per variant, one
    every 1/``fps`` seconds, each variant at its own phase ("original" between the reference
    frames, which stand for it at whole seconds); evenly thinned so
    that, with the ``offset`` reference frames, at most ``budget`` lookups are made. The crop readings
    (many places and scales; all sampled frames) share what the others leave, and at least
    :data:`CROP_LOOKUP_SHARE` of it, evenly thinned over frames and places."""
    if not extra:
        return []
    seen: dict[str, int] = {}
    ids = np.fromiter((seen.setdefault(f.variant, len(seen)) for f in extra), dtype=np.int64, count=len(extra))
    stamps = np.fromiter((f.timestamp for f in extra), dtype=np.float64, count=len(extra))
    names = ["original"] + sorted(set(seen) - {"original", ""})
    order = {v: i for i, v in enumerate(names)}
    position = np.array([order.get(v, -1) for v in seen], dtype=np.int64)[ids]  # -1: unnamed ("")
    crop = np.array([crop_cell(v) is not None for v in seen], dtype=bool)[ids]
    step = _step_of(stamps)
    stride = max(1, round(1 / (fps * step)))
    k = np.round(stamps / step).astype(np.int64)
    # phase 0 is the reference frames' (whole seconds): "original" readings take the next phase.
    # Crop readings: all at phase 0, thinned below: a crop reading lands within 31 of its banked
    # frame for only some frames, and best at the banked frame's own time, which a re-upload of the
    # whole video keeps (banked frames are at whole seconds); a clip cut anywhere has any phase
    plain = np.flatnonzero((position >= 0) & ~crop & ((k + stride - 1 - position % stride) % stride == 0))
    crops = np.flatnonzero(crop & (k % stride == 0))
    crops = crops[np.lexsort((crops, position[crops]))]  # place by place: thinned evenly over each one's times
    room = max(0, budget - offset)
    keep_plain = min(len(plain), room - min(len(crops), int(CROP_LOOKUP_SHARE * room)))
    plain = _thin(plain, keep_plain)
    return (np.sort(np.concatenate([plain, _thin(crops, room - len(plain))])) + offset).tolist()


def _thin(rows: np.ndarray, room: int) -> np.ndarray:
    if len(rows) <= room:
        return rows
    return rows[np.arange(room, dtype=np.int64) * len(rows) // room] if room > 0 else rows[:0]


def _step(frames: Sequence[VpdqFrame]) -> float:
    """The sampling interval of query-side readings (their smallest gap between timestamps)."""
    return _step_of(np.array([f.timestamp for f in frames], dtype=np.float64))


def _step_of(stamps: np.ndarray) -> float:
    t = np.unique(stamps)
    gaps = np.diff(t)
    return float(gaps[gaps > 1e-6].min()) if len(gaps) else SECONDS_PER_HASH


def _close_pairs(words: np.ndarray, usable: np.ndarray, video: _Video,
                 limit: np.ndarray | int = FRAME_DISTANCE_THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """(query row, banked frame): for each usable query frame, its nearest usable banked frame if
    that is within ``limit`` (PDQ distance 31, or per query row; earliest on ties)."""
    banked = np.flatnonzero(video.quality >= QUALITY_THRESHOLD)
    rows = np.flatnonzero(usable)
    qs, bs = [], []
    if len(banked):
        for start in range(0, len(rows), 512):
            part = rows[start:start + 512]
            distance = np.bitwise_count(words[part, None, :] ^ video.words[banked][None, :, :]).sum(axis=2)
            nearest = distance.argmin(axis=1)
            close = distance[np.arange(len(part)), nearest] <= (limit[part] if isinstance(limit, np.ndarray) else limit)
            qs.append(part[close])
            bs.append(banked[nearest[close]])
    return (np.concatenate(qs), np.concatenate(bs)) if qs else (np.zeros(0, np.int64), np.zeros(0, np.int64))


def _crop_cells(names: list[str]) -> tuple[list[tuple[str, int]], np.ndarray]:
    """The crop readings' cells (place, scale in percent) among variant ``names``, and per name its
    cell's number (-1: not a crop reading)."""
    cells: list[tuple[str, int]] = []
    of = np.full(len(names), -1, dtype=np.int64)
    for i, name in enumerate(names):
        c = crop_cell(name)
        if c is not None:
            of[i] = len(cells)
            cells.append(c)
    return cells, of


def _neighbours(cells: list[tuple[str, int]], found: np.ndarray) -> np.ndarray:
    """The cells ``found`` and those of the same place 1 % either side of them."""
    wanted = {(cells[i][0], cells[i][1] + d) for i in found.tolist() for d in (-1, 0, 1)}
    return np.array([i for i, c in enumerate(cells) if c in wanted], dtype=np.int64)


def _crop_lookups(crops, fps: float, room: int, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """(crop frame, cell) pairs to look up: frames of quality >= 50 at whole seconds (when sampled more
    often: banked frames are at whole seconds), at most ``room`` pairs spread evenly over frames and
    cells (each frame its own cells when not all fit: the crop is the same all along)."""
    if crops is None or not len(crops) or room <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    step = _step_of(crops.times)
    stride = max(1, round(1 / (fps * step)))
    pool = np.flatnonzero((np.round(crops.times / step).astype(np.int64) % stride == 0)
                          & (crops.quality >= QUALITY_THRESHOLD))
    if not len(pool):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    total = len(pool) * cells
    chosen = np.arange(total, dtype=np.int64) if total <= room else np.sort(
        np.random.default_rng(0).choice(total, room, replace=False))
    return pool[chosen % len(pool)], chosen // len(pool)


def _soft(words: np.ndarray, masks: np.ndarray, banked: np.ndarray) -> np.ndarray:
    """Reliable bits that differ: ``words``/``masks`` ``[..., 4]`` against ``banked`` ``[..., 4]``."""
    return np.bitwise_count((words ^ banked) & masks).sum(axis=-1)


def _a_chunk_agrees(words: np.ndarray, banked: np.ndarray) -> np.ndarray:
    """Whether one 16-bit chunk of the two hashes differs in at most one bit: the index's lookup
    finds a hash beyond distance 31 only then (the same rule here for every index size)."""
    chunks = np.bitwise_count((words ^ banked).view(np.uint16).reshape(*words.shape[:-1], 16))
    return chunks.min(axis=-1) <= 1


def _fit_crop(luma: np.ndarray, banked: np.ndarray, cell: np.ndarray, mirrored: bool) -> np.ndarray:
    """The crop (``cut_y, offset_y, cut_x, offset_x``) near ``cell`` at which the luma copies ``luma``
    read closest to the banked frames ``banked`` (``uint64[n, 4]``): the sum over the copies of the
    reliable bits that differ from the nearest banked frame (at most :data:`CROP_FIT_CLIP` each: a
    copy of something else counts the same at every crop); first with the same cut both ways, coarse
    to fine, then each axis on its own (steps down to 0.5 %)."""
    def best(cells: np.ndarray) -> np.ndarray:
        words, masks = crop_readings(luma, cells, mirrored)
        score = np.zeros(len(cells))
        for i in range(len(luma)):
            nearest = np.full(len(cells), CROP_FIT_CLIP)
            for start in range(0, len(banked), 256):
                near = _soft(words[i][:, None, :], masks[i][:, None, :], banked[None, start:start + 256, :])
                nearest = np.minimum(nearest, near.min(axis=1))
            score += nearest
        return cells[int(score.argmin())]

    def places(cut: float, around: float, reach: float, step: float) -> np.ndarray:
        return np.unique(np.clip(np.round(np.arange(around - reach, around + reach + 1e-9, step), 4), 0.0, cut))

    found = np.asarray(cell, dtype=np.float64)
    # the same cut both ways: cut +-3 % and place +-6 % in steps of 1 and 2 %, then +-1 / +-2 % in 0.5 / 1 %
    for cut_reach, cut_step, reach, step in ((0.03, 0.01, 0.06, 0.02), (0.01, 0.005, 0.02, 0.01)):
        grid = []
        for cut in np.round(np.arange(found[0] - cut_reach, found[0] + cut_reach + 1e-9, cut_step), 4):
            if MIN_CUT <= cut <= MAX_CUT:
                grid += [(cut, oy, cut, ox) for oy in places(cut, float(found[1]), reach, step)
                         for ox in places(cut, float(found[3]), reach, step)]
        if grid:
            found = best(np.array(grid))
    for axis in (2, 0):  # then widths and heights each on their own: +-1.5 % in 0.5 %
        grid = []
        for cut in np.round(np.arange(found[axis] - 0.015, found[axis] + 0.015 + 1e-9, 0.005), 4):
            if MIN_CUT <= cut <= MAX_CUT:
                for place in places(cut, float(found[axis + 1]), 0.015, 0.005):
                    row = found.copy()
                    row[axis], row[axis + 1] = cut, place
                    grid.append(row)
        if grid:
            found = best(np.array(grid))
    return found


@dataclass
class _Video:
    slot: int
    words: np.ndarray  # uint64[n, 4], every frame in order
    times: np.ndarray  # float32[n]
    quality: np.ndarray  # uint8[n]

    @property
    def seconds(self) -> float:
        return float(self.times.max()) + SECONDS_PER_HASH if len(self.times) else 0.0

    def usable(self) -> np.ndarray:
        return self.words[self.quality >= QUALITY_THRESHOLD]


def _warm_up() -> None:
    """What the first :meth:`VpdqIndex.video_matches` would otherwise pay, paid where the index is
    built or loaded: the compiled frame searches."""
    warm_up()


class VpdqIndex(SignalIndex):
    """Banked vPDQ values by signal id. See the module docstring."""

    def __init__(self) -> None:
        self._frames = MultiIndexHammingIndex()
        self._videos: dict[int, _Video] = {}
        self._id_of_slot: dict[int, int] = {}
        self._next_slot = 0

    # -- changes -------------------------------------------------------------------------------

    def _video(self, value: str) -> _Video:
        frames = value_to_frames(value)
        if len(frames) >= 1 << FRAME_BITS:
            raise ValueError(f"a vPDQ value has at most {1 << FRAME_BITS} frames here")
        video = _Video(self._next_slot, hexes_to_words([f.pdq for f in frames]),
                       np.array([f.timestamp for f in frames], dtype=np.float32),
                       np.array([f.quality for f in frames], dtype=np.uint8))
        self._next_slot += 1
        return video

    @staticmethod
    def _entries(video: _Video) -> tuple[np.ndarray, np.ndarray]:
        rows = np.flatnonzero(video.quality >= QUALITY_THRESHOLD)
        return video.words[rows], (np.int64(video.slot) << FRAME_BITS) | rows.astype(np.int64)

    def add(self, value: str, id: int) -> None:
        self.remove(id)
        video = self._video(value)
        words, entries = self._entries(video)
        for row, entry in zip(words, entries.tolist()):
            self._frames.add(row.astype(">u8").tobytes().hex(), entry)
        self._videos[id] = video
        self._id_of_slot[video.slot] = id

    def add_many(self, entries: Iterable[tuple[str, int]]) -> None:
        """Bulk load: an empty index is built in one pass (the follower's snapshot load)."""
        entries = list(entries)
        if self._videos or len({i for _, i in entries}) != len(entries):
            for value, id in entries:
                self.add(value, id)
            return
        words, ids = [], []
        for value, id in entries:
            video = self._video(value)
            w, e = self._entries(video)
            words.append(w)
            ids.append(e)
            self._videos[id] = video
            self._id_of_slot[video.slot] = id
        if words:
            self._frames.add_words(np.concatenate(words), np.concatenate(ids))
        _warm_up()

    def add_frames(self, id: int, words: np.ndarray, times: np.ndarray, quality: np.ndarray) -> None:
        """Add one video from arrays (benchmarks load millions of frames without hex strings)."""
        self.remove(id)
        video = _Video(self._next_slot, words, times.astype(np.float32), quality.astype(np.uint8))
        self._next_slot += 1
        self._videos[id] = video
        self._id_of_slot[video.slot] = id

    def build_frames(self) -> None:
        """Index every video added with :meth:`add_frames` into an empty frame index, in one pass."""
        parts = [self._entries(v) for v in self._videos.values()]
        self._frames.add_words(np.concatenate([w for w, _ in parts]), np.concatenate([e for _, e in parts]))
        _warm_up()

    def remove(self, id: int) -> None:
        video = self._videos.pop(id, None)
        if video is None:
            return
        del self._id_of_slot[video.slot]
        for entry in self._entries(video)[1].tolist():
            self._frames.remove(entry)

    # -- the reference's shares ----------------------------------------------------------------

    def query(self, value: str, threshold: float) -> list[IndexMatch]:
        frames = value_to_frames(value)
        found = []
        for id in self._candidates(frames):
            query_share, compared_share = self.shares_of(frames, id)
            distance = 100.0 - min(query_share, compared_share)
            if distance <= threshold:
                found.append(IndexMatch(round(distance, 2), id))
        return sorted(found)

    def shares(self, value: str, id: int) -> tuple[float, float]:
        """(query share, compared share) in percent between ``value`` and stored video ``id``."""
        return self.shares_of(value_to_frames(value), id)

    def shares_of(self, frames: Sequence[VpdqFrame], id: int) -> tuple[float, float]:
        video = self._videos.get(id)
        if video is None:
            return 0.0, 0.0
        usable = [f.pdq for f in frames if f.quality >= QUALITY_THRESHOLD]
        return shares_of_words(hexes_to_words(sorted(set(usable))), np.unique(video.usable(), axis=0))

    def _candidates(self, frames: Sequence[VpdqFrame]) -> set[int]:
        _, entries, _ = self._pairs(frames)
        # a video removed while this query ran has no slot any more: skip it
        return {self._id_of_slot[s] for s in np.unique(entries >> FRAME_BITS).tolist() if s in self._id_of_slot}

    def _pairs(self, frames: Sequence[VpdqFrame]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query frame number, entry, distance) of every pair within 31; duplicate hashes looked up once."""
        rows = [i for i, f in enumerate(frames) if f.quality >= QUALITY_THRESHOLD]
        if not rows or not self._videos:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        values = [frames[i].pdq for i in rows]
        unique, inverse = np.unique(values, return_inverse=True)
        hit, entries, distance = self._frames.query_arrays(unique.tolist(), FRAME_DISTANCE_THRESHOLD)
        # each unique hash back to every query frame that has it
        order = np.argsort(inverse, kind="stable")
        starts = np.searchsorted(inverse[order], np.arange(len(unique) + 1))
        counts = (starts[1:] - starts[:-1])[hit]
        repeat = np.repeat(np.arange(len(hit)), counts)
        within = np.arange(len(repeat)) - np.repeat(np.cumsum(counts) - counts, counts)
        query_rows = np.asarray(rows, dtype=np.int64)[order[starts[hit][repeat] + within]]
        return query_rows, entries[repeat], distance[repeat]

    # -- how videos spread ---------------------------------------------------------------------

    def video_matches(self, frames: Sequence[VpdqFrame], *, extra: Sequence[VpdqFrame] = (), rule: str = "spread",
                      min_seconds: float = DEFAULT_MIN_SECONDS, upload_seconds: float | None = None,
                      max_candidates: int = MAX_CANDIDATES,
                      candidate_fps: float = CANDIDATE_FPS, max_lookups: int = MAX_LOOKUPS,
                      corner_distance: int = CORNER_DISTANCE) -> list[VideoMatch]:
        """Banked videos found in an upload, most matched seconds first.

        ``frames``: the upload's reference vPDQ frames (``value_to_frames(hashes.vpdq)``); ``extra``:
        its query-side readings (:func:`ncii_shield.signals.vpdq.hash_query_video`), used by
        ``rule="spread"`` only. ``rule="reference"``: python-threatexchange's rule (query share >=
        80 %), with segments for the reviewer. ``upload_seconds``: the upload's duration (default:
        from the frames' timestamps).

        Candidates are found by looking up in the frame index the reference frames and, of the
        readings ``candidate_fps`` a second per variant, at staggered phases, thinned evenly to ``max_lookups`` lookups in all
        (a long upload gets sparser lookups: the lookups are the cost at 10M banked frames; the crop
        readings share them, :data:`CROP_LOOKUP_SHARE`). Then every frame and reading is compared
        with each candidate's frames — of the crop readings, those of the places and scales (+-1 %)
        that found that candidate, up to ``corner_distance``.
        """
        if rule not in ("spread", "reference"):
            raise ValueError(f"unknown video match rule {rule!r}; accepted: 'spread', 'reference'")
        query = list(frames) + (list(extra) if rule == "spread" else [])
        if not query:
            return []
        step = _step(extra) if rule == "spread" and extra else SECONDS_PER_HASH
        if upload_seconds is None:
            upload_seconds = max(f.timestamp for f in query) + step
        names = sorted({f.variant or "original" for f in query})
        number = {name: i for i, name in enumerate(names)}
        variant = np.array([number[f.variant or "original"] for f in query], dtype=np.int64)
        times = np.array([f.timestamp for f in query], dtype=np.float64)
        words = hexes_to_words([f.pdq for f in query])
        usable = np.array([f.quality >= QUALITY_THRESHOLD for f in query], dtype=bool)
        # verification: crop readings (a crop's missing part filled with its edge) land further from
        # the banked frames; against a candidate they count up to ``corner_distance``, on a common
        # line, and only those of the places and scales (+-1 %) that found the candidate
        cells, cell_of = _crop_cells(names)
        cell = cell_of[variant]
        limit = np.where(cell >= 0, corner_distance, FRAME_DISTANCE_THRESHOLD).astype(np.int64)
        # candidates: videos with a frame within 31 of a looked-up frame (the reference frames and
        # the readings at ``candidate_fps``), most distinct upload seconds first; then every query
        # frame is compared with each candidate's frames (exact, and cheap for a few videos)
        crops = getattr(extra, "crops", None) if rule == "spread" else None
        crop_frames, crop_cells, crop_hits = self._crop_candidates(crops, len(frames), extra if rule == "spread" else (),
                                                                   candidate_fps, max_lookups)
        plain_room = max_lookups - len(crop_frames)
        lookup = list(range(len(frames))) + _readings_to_look_up(extra if rule == "spread" else (), len(frames),
                                                                   candidate_fps, plain_room)
        qrows, entries, _ = self._pairs([query[i] for i in lookup])
        qrows = np.asarray(lookup, dtype=np.int64)[qrows] if len(qrows) else qrows
        slots = entries >> FRAME_BITS
        ranked = []
        for slot in np.unique(np.concatenate([slots, crop_hits["slot"]])).tolist():
            seconds = np.concatenate([times[qrows[slots == slot]], crops.times[crop_hits["frame"][crop_hits["slot"] == slot]]
                                      if crops is not None else np.zeros(0)])
            ranked.append((len(np.unique(np.round(seconds * 4))), slot))
        ranked.sort(reverse=True)
        found = []
        for _, slot in ranked[:max_candidates]:
            id = self._id_of_slot.get(slot)
            video = self._videos.get(id) if id is not None else None
            if video is None:  # removed while this query ran
                continue
            found_by = np.unique(cell[qrows[slots == slot]])
            chosen = _neighbours(cells, found_by[found_by >= 0])
            q, b = _close_pairs(words, usable & ((cell < 0) | np.isin(cell, chosen)), video, limit)
            upload_t, banked_t, kind = times[q], video.times[b].astype(np.float64), variant[q]
            segments = align(upload_t, banked_t, kind, names, upload_step=step)
            shares = self.shares_of(frames, id) if rule == "reference" else None
            match = decide(id, segments, upload_s=upload_seconds, banked_s=video.seconds, rule=rule,
                           min_seconds=min_seconds, reference_shares=shares)
            mine = crop_hits["slot"] == slot
            if match is None and mine.any():  # the crops, when the other readings do not match
                ct, cb, name = self._crop_pairs(crops, video, {k: v[mine] for k, v in crop_hits.items()}, crop_cells)
                if len(ct):
                    if name not in names:
                        names = [*names, name]
                    segments = align(np.concatenate([upload_t, ct]), np.concatenate([banked_t, cb]),
                                     np.concatenate([kind, np.full(len(ct), names.index(name), dtype=np.int64)]),
                                     names, upload_step=step)
                    match = decide(id, segments, upload_s=upload_seconds, banked_s=video.seconds, rule=rule,
                                   min_seconds=min_seconds)
            if match is not None:
                found.append(match)
        return sorted(found, key=lambda m: (-m.matched_seconds, m.signal_id))

    def _crop_candidates(self, crops, reference_frames: int, extra: Sequence[VpdqFrame], fps: float,
                         max_lookups: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Look up the crop readings of the lookup grid: (looked-up crop frames, the grid, the hits:
        ``frame``, ``cell`` (grid row; mirrored ones after the others), ``slot``, ``row`` (banked frame),
        ``bits`` (reliable bits that differ)). Crop lookups take what the other readings leave, and
        at least :data:`CROP_LOOKUP_SHARE` of what the reference frames leave."""
        from ncii_shield.signals.frames import coarse_cells, crop_readings

        grid = coarse_cells()
        none = {k: np.zeros(0, np.int64) for k in ("frame", "cell", "slot", "row", "bits")}
        if crops is None or not len(crops) or not self._videos:
            return np.zeros(0, np.int64), grid, none
        room = max(0, max_lookups - reference_frames)
        plain = len(_readings_to_look_up(extra, reference_frames, fps, max_lookups))
        crop_room = max(room - plain, int(CROP_LOOKUP_SHARE * room))
        frame, cell = _crop_lookups(crops, fps, crop_room, 2 * len(grid))
        if not len(frame):
            return frame, grid, none
        words = np.zeros((len(frame), 4), np.uint64)
        masks = np.zeros_like(words)
        for part in np.unique(crops.part[frame]).tolist():
            for mirrored in (False, True):
                pick = (crops.part[frame] == part) & ((cell >= len(grid)) == mirrored)
                if not pick.any():
                    continue
                rows = np.unique(frame[pick])
                w, m = crop_readings(crops.luma[rows], grid, mirrored)
                at = np.searchsorted(rows, frame[pick])
                words[pick], masks[pick] = w[at, cell[pick] % len(grid)], m[at, cell[pick] % len(grid)]
        hit, entries, _ = self._frames.query_words(words, CROP_LOOKUP_DISTANCE, approximate=True)
        if not len(hit):
            return frame, grid, none
        slot, row = entries >> FRAME_BITS, entries & ((1 << FRAME_BITS) - 1)
        banked = np.zeros((len(hit), 4), np.uint64)
        known = np.zeros(len(hit), dtype=bool)
        for s in np.unique(slot).tolist():
            video = self._videos.get(self._id_of_slot.get(s, -1))
            if video is not None:
                banked[slot == s] = video.words[row[slot == s]]
                known[slot == s] = True
        bits = _soft(words[hit], masks[hit], banked)
        keep = known & (bits <= CROP_CANDIDATE_BITS) & _a_chunk_agrees(words[hit], banked)
        return frame, grid, {"frame": frame[hit][keep], "cell": cell[hit][keep], "slot": slot[keep],
                             "row": row[keep], "bits": bits[keep]}

    def _crop_pairs(self, crops, video: _Video, hits: dict[str, np.ndarray],
                    grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
        """(upload seconds, banked seconds, the crop's name) of the frame pairs of a crop: the crop that
        found this candidate is fitted finely on its best hits (:func:`_fit_crop`), every sampled frame
        of that part is read at it, and a frame pairs with its nearest banked frame (by reliable
        bits) when at most :data:`CROP_VERIFY_BITS` of them differ."""
        from ncii_shield.signals.frames import CropFrames, cell_variant, crop_readings

        part = crops.part[hits["frame"]]
        mirrored = hits["cell"] >= len(grid)
        groups = sorted({(int(p), bool(m)) for p, m in zip(part.tolist(), mirrored.tolist())},
                        key=lambda g: -int(((part == g[0]) & (mirrored == g[1])).sum()))
        the_part, the_mirror = groups[0]
        mine = np.flatnonzero((part == the_part) & (mirrored == the_mirror))
        usable = np.flatnonzero(video.quality >= QUALITY_THRESHOLD)
        rows = np.flatnonzero((crops.part == the_part) & (crops.quality >= QUALITY_THRESHOLD))
        if not len(rows) or not len(usable):
            return np.zeros(0), np.zeros(0), ""
        # fitted on frames spread over the stretch of upload that the hits span, each against every
        # banked frame (in a pan another crop looks like another second: the crop that explains all
        # of them at once is the one)
        spanned = crops.times[hits["frame"][mine]]
        span = rows[(crops.times[rows] >= spanned.min()) & (crops.times[rows] <= spanned.max())]
        fit = span[np.unique(np.linspace(0, len(span) - 1, CROP_FIT_FRAMES).round().astype(np.int64))] \
            if len(span) else hits["frame"][mine[:1]]
        best = hits["cell"][mine[np.argmin(hits["bits"][mine])]] % len(grid)  # the grid cell of the best hit
        cell = _fit_crop(crops.luma[fit], video.words[usable], grid[best], the_mirror)
        words, masks = crop_readings(crops.luma[rows], cell[None, :], the_mirror)
        words, masks = words[:, 0], masks[:, 0]
        bits = np.zeros((len(rows), len(usable)), dtype=np.int64)
        for start in range(0, len(rows), 256):
            bits[start:start + 256] = _soft(words[start:start + 256, None, :], masks[start:start + 256, None, :],
                                            video.words[usable][None, :, :])
        nearest = bits.argmin(axis=1)
        close = bits[np.arange(len(rows)), nearest] <= CROP_VERIFY_BITS
        name = cell_variant(cell, CropFrames.PARTS[the_part], the_mirror)
        return crops.times[rows[close]], video.times[usable[nearest[close]]].astype(np.float64), name

    # -- size ----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._videos)

    def frame_count(self) -> int:
        return sum(len(v.times) for v in self._videos.values())

    def memory_bytes(self) -> int:
        """Arrays held (the frame index and the per-video frames), not Python object overhead."""
        own = sum(v.words.nbytes + v.times.nbytes + v.quality.nbytes for v in self._videos.values())
        return self._frames.memory_bytes() + own
