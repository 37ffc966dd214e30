"""One index over every registered mark's keypoints: candidates for all marks at once, then checks.

Each mark contributes its keypoints (:mod:`ncii_shield.signals.marks.features`: up to 400 upright
ORB descriptors with their place and size in the mark) to one faiss binary index, labelled
``mark id * 1024 + keypoint number``. An upload's keypoints each look up their nearest stored
descriptors; every close one says "mark m, this large, here". These guesses are pooled by mark,
size (steps of 25 %) and place (steps of a fifth of the mark); groups with many guesses are
candidates. The keypoints often vote for the right place but rank the wrong group first, so only the best :data:`VOTE_KEEP` groups are taken by votes; the rest of the
:data:`CANDIDATES` are the best of the first :data:`VOTE_POOL` groups by how well their mark's
*descriptor* correlates with the upload there (:mod:`ncii_shield.signals.marks.describe`: the
mark's orientation field on a grid of ~64 cells, derived from the stored template when the mark is
indexed; all of an aspect class's marks compared in one matrix product). The keypoints miss small
marks (a 40-pixel mark often gets no ORB corner at all), so :data:`LOCATED` more candidates come
from *where an overlay is*, whatever mark it is: the extents of
:func:`~ncii_shield.signals.marks.locate.proposals` (blobs of strong, close colour edges), of
:func:`~ncii_shield.signals.marks.locate.layer_boxes` (the blobs of one colour's edges: a mark cut from
the photo's edges it touches; :data:`LAYERS_MIN_VALUE` and the other ``LAYERS_*`` constants) and of the
vote groups, each named by every mark's descriptor of its aspect class (:meth:`MarkIndex._located`), and
the edge blobs (and with :data:`VIEW_LAYERS` the colour layers) named again through the chroma views (a coloured
mark's descriptor drawn through the nearest of :data:`~ncii_shield.signals.marks.describe.CHROMA_AXES` colour
directions less brightness, the frame projected the same way: a translucent coloured stamp on grey texture, buried
in the grey field);
such a candidate, having no keypoint support, is checked only where the naming is clear (the mark's
descriptor correlates at least :data:`LOCATE_MIN_VALUE` there, :data:`LOCATE_MIN_LEAD` more than its
class's second best; for windows of a large mark, :data:`LOCATED_BIG` more under looser bars); the
check then decides, with its own colour bar, as for any candidate (the colour gate of before,
:data:`COLOUR_GATE`, is off). Candidates are checked by correlating edge orientations
(:func:`~ncii_shield.signals.marks.search.verify`), :data:`CHECK_THREADS` at once; of marks of
different looks that pass at one place, only the best-scoring is reported (:data:`ONE_PER_PLACE`).
So an upload costs one keypoint pass, one batched search, one orientation field, one pass of edge blobs and a
bounded number of checks, whatever the number of marks. The two halves of the candidate stage need
nothing of each other until the end: with :data:`OVERLAP` the keypoints and their faiss search run
on a pool thread while the calling thread finds and names the overlay extents, and the search's
chunks (:class:`_Shared`) are taken by whichever thread is free; that search runs outside the
index's lock, so a change waits for it (:meth:`MarkIndex._quiet`).

The ORB descriptors are held by faiss only; an entry keeps the mark's uint8 template and its keypoints'
place and size as float16 (as stored) and its orientation descriptor (float32, about 0.5 KB),
about 25 KB a mark in all (:meth:`MarkIndex.nbytes`).

The faiss index is exact (``IndexBinaryFlat``) while small; past :data:`IVF_FROM` descriptors it
becomes an inverted-file index trained on the descriptors present then. Like every index here it
is a cache of the store, built from a snapshot and following the change log.

    index = MarkIndex()
    index.add(value, signal_id)                       # value: a stored mark signature ("m1:...")
    found = index.find(UploadFrame.from_rgb(rgb))     # [MarkFound(id, label, score, box)]
"""

from __future__ import annotations

import dataclasses
import math
import threading
from concurrent.futures import wait
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import faiss
import numpy as np

from ncii_shield.errors import InvalidRequest
from ncii_shield.index.base import IndexMatch, SignalIndex
from ncii_shield.index.threads import LazyPool, one_faiss_thread
from ncii_shield.signals.marks import describe as D
from ncii_shield.signals.marks import locate as L
from ncii_shield.signals.marks import template as T
from ncii_shield.signals.marks.search import THRESHOLD, Prepared, UploadFrame, overlap, verify

MATCH_DISTANCE = 64  # bits of 256: a stored descriptor this close to an upload's is a guess
NEIGHBOURS = 3  # stored descriptors each upload keypoint looks up
CANDIDATES = 6  # places checked per upload (8 = 4 + 4 by descriptor caught no more of 80, for ~20 ms more)
VOTE_POOL = 64  # keypoint vote groups (mark, size, place) that candidates are chosen from
VOTE_KEEP = 3  # of which the best by votes are always checked; the rest of the checks go by descriptor
OWN_SCALES = (0.89, 1.0, 1.12)  # a vote group's own mark looked at at its box's size times these
NAME_MARGIN = 0.0  # a window's mark is checked only if it correlates this much better than any other of its class
# Further checks: overlay extents (signals/marks/locate.py) named by every mark's descriptor, for the
# small marks the keypoints miss. Only a clear naming is checked (LOCATE_MIN_VALUE, LOCATE_MIN_LEAD): with
# only the colour gate below (then 0.6) and the check of then, 3 of them flagged 4 of 387
# negatives and 15 wrong marks in the full benchmark of 2026-12-06 (synthetic marks named on photo content,
# descriptor correlation 0.38-0.76 there; the stamped marks found this way: 0.72+ for 95 %).
LOCATED = 3
LOCATE_CLASSES = (-1, 0, 1)  # a located box is named at its own aspect class and the two beside it
LOCATE_SIZES = (0.9, 1.0, 1.1)  # ... at these sizes (same centre and aspect)
# The colour gate (a located candidate reported only where locate.colour_agreement reaches it) predates the
# check's own colour bar (search.decide, 2026-12-06 #2); off since 2026-12-06 #4: at 0.6 it dropped 30 target
# marks the check passes in the full benchmark and held back no negative (docs/benchmarks.md, "Service marks:
# candidates, 2026-12-06 #4"). -1.0 = off.
COLOUR_GATE = -1.0
LOCATE_MIN_VALUE = 0.75  # ... and is checked at all only where its descriptor correlates this much there
LOCATE_MIN_LEAD = 0.1  # ... and this much better than the second-best mark of its class
LOCATE_MIN_SIDE = 20.0  # located boxes whose longer side is shorter (frame pixels) are not named
MIN_FRAME_SIDE = 8  # an upload frame narrower or lower than this (pixels) holds no mark the check could tell
# Large marks (2026-12-07): a mark seen large (a window's shorter side LOCATE_BIG_SIDE frame pixels or more) is often
# named below the bars above (a ring logo 0.72 at its place, another ring 0.63 there: no lead of 0.1), and the
# keypoints miss it too (its upload corners are finer than any drawing of it, features.DRAW_SIDES). LOCATED_BIG
# more located candidates, among windows that large whose best mark reaches LOCATE_BIG_VALUE and leads
# LOCATE_BIG_LEAD; the check decides as for any candidate. Benchmark: 452 -> 460 of 776 targets, 0 false flags,
# best negative 0.694 as before (0.711 with 8 such candidates at 0.4): docs/benchmarks.md, "Service marks: the
# issue's scale range, 2026-12-07".
LOCATED_BIG = 2
LOCATE_BIG_SIDE = 60.0
LOCATE_BIG_VALUE = 0.6
LOCATE_BIG_LEAD = 0.0
# Colour layers (locate.COLOUR_LAYERS, 2026-12-07 #3): the blobs of one colour's edges, named apart from the
# edge blobs; only their clear naming (LAYERS_MIN_VALUE, LOCATE_MIN_LEAD) makes a candidate of them, never the
# large windows' looser bars (LAYERS_BIG), and they are not refined (LAYERS_REFINE): with either, look-alike
# marks reached the check on photo content (a shirt collar in ifaces-028: 2 of 387 negatives flagged at 0.789
# with both, 4 wrong marks on positives at 0.756-0.778 with the refinement; none with neither).
LAYERS_BIG = False
LAYERS_REFINE = 0  # the layers' windows refined per upload (D.refine), apart from the blobs'
LAYERS_MIN_VALUE = LOCATE_MIN_VALUE  # the value a layer window's mark needs
# Chroma views (describe.CHROMA_AXES, 2026-12-07 #3): a coloured mark is also named through its colour direction less
# brightness, where a photo's grey texture has no edges (the naming field is grey). The blobs are named in each view
# by the marks of that view, under the same bars, and ranked with the others; CHROMA_VOTES: the vote boxes too.
# The views' field from half size on (2026-12-07 #4): their finest pyramid level left out (D.FieldPyramid's skip), the
# windows of cells under 6 frame pixels read at half size. Benchmark (cands.py on 1,409 cached uploads): candidate lists
# change on 225 of them, the same 511 / 776 targets caught (367 / 472 in scope), 0 / 387 false flags, 0 wrong marks,
# best negative 0.723 and best wrong mark 0.742 as before; ~14 ms less CPU an upload (alternated, loaded machine).
VIEW_SKIP = 1
# The colour layers' boxes named in the views too (2026-12-07 #5), under the layers' bars (LAYERS_MIN_VALUE, no large
# windows' rule, LAYERS_REFINE): a translucent coloured word whose edge blob runs into the photo's texture has its own
# extent only in its colour's layer, and is named clearly only in its view (AIGEN, FAKE, SAMPLE, star, shield).
# Benchmark (cands.py on 1,409 cached uploads, the check of 1aa8aa3): 514 -> 529 of 776 targets caught (369 -> 384 of
# 472 in scope; +16 -1, the one lost out of scope: a LOCATED slot taken), 0 / 387 false flags, best negative 0.723 ->
# 0.740 (a blue triangle named as a teal one), 0 wrong marks, stress 0 / 387 (best 0.740); ~+6 ms CPU an upload.
VIEW_LAYERS = True
VIEW_LAYERS_REFINE = 4  # the views' layer windows (and own blobs') refined per upload (D.refine; 2026-12-08, HA)
# A refined window is the best of ~40 moves of it, so its value stands above a window's by chance: a view's refined
# window is kept only where its best mark then reaches VIEW_REFINED_MIN_VALUE (2026-12-08, HA: refined view windows at
# 0.76-0.77 named two synthetic logos on photo content that the check passed, wrong marks; the stamped marks the
# refinement found stood at 0.82-0.94)
VIEW_REFINED_MIN_VALUE = 0.8
# The views' own blobs (locate.view_boxes, 2026-12-07 #6): the edges of each chroma view, closed, and their parts
# joined, named in that view under the layers' bars (as the views' layers: LAYERS_MIN_VALUE, no large windows' rule,
# VIEW_LAYERS_REFINE): a translucent coloured word on a photo of its own hue (a red FAKE on skin) has its extent in
# no colour layer, and its strokes are the view's strongest edges. Benchmark (cands.py, 1,409 cached uploads, the check
# of 634151c, with locate.JOIN_PARTS; locate.view_boxes on uint8, 7 wide at full size): 535 -> 549 of 776 targets,
# 390 -> 403 of 472 in scope, 0 / 387 false flags (best 0.740), 0 wrong marks (0.742), stress 0 / 387 (0.740);
# ~+7 ms CPU an upload (+12 with JOIN_PARTS; alternated, loaded machine); docs/benchmarks-history.md 2026-12-07 #6.
VIEW_BLOBS = True
CHROMA_VOTES = False  # the vote boxes named in the views too: +2 in scope, ~10 ms (without the layers; benchmarks.md 2026-12-07 #3)
# ... only the boxes of vote groups for a mark of that view (2026-12-08, HA): a vote says "mark m, here", and a
# translucent coloured m is named clearly in its view only (each view names the vote boxes of its own marks, not all 64)
CHROMA_VOTES_OWN = True
SIZE_STEP = math.log(1.25)
PLACE_STEP = 0.2  # of the mark's longer side
IVF_FROM = 100_000
NPROBE = 4  # inverted lists searched per descriptor (8 found the same places in the benchmark, 1.7x slower)
OVERLAP = True  # the keypoint search on a pool thread while the calling thread finds the overlay extents
SEARCH_CHUNK = 500  # keypoints searched at a time, by whichever of the two threads is free (OVERLAP)
SHARE_NAMING = True  # with OVERLAP: the pool thread, its search done, takes naming jobs left (_Tasks)
# The votes chosen (and the first places' checks begun) by the calling thread once it has no naming job left to take,
# while the pool thread ends its last one, instead of after (2026-12-07 #7): the same votes and checks; the calling
# thread sat idle for the other's last naming job (a chroma view: ~15 ms of CPU) and the pool's second thread until
# the checks. Off by default: on a quiet 2-core machine (marks_bench.py --timing 120, 1,000 marks, three rounds
# alternated, 2026-12-07 #7) latency p50 145.8 / 138.5 / 130.1 ms on against 128.3 / 135.8 / 130.2 off: no gain to
# pay for work inside the reader section (where it once deadlocked with a registration, the review's R1).
VOTES_MEANWHILE = False
CHECK_THREADS = 2  # candidates checked at once (OpenCV releases the GIL): an upload's latency on 2 cores
EARLY_CHECKS = True  # the vote places' checks start as soon as the votes are in, while the calling thread
# chooses the rest of the candidates (the same checks, the same results; with CHECK_THREADS > 1)
# One mark per place (2026-12-06 #6): where marks of different looks pass at one place (boxes overlapping
# more than PLACE_OVERLAP, intersection over union), only the best-scoring is reported; a place shows one
# mark. In the thick look-alike stress of 2026-12-06 #5 the best wrong mark (the ring logo, 0.749991)
# stood where the stamped seal-ring logo scores 0.928 (docs/benchmarks.md, "Service marks: one mark per
# place, 2026-12-06 #6").
ONE_PER_PLACE = True
PLACE_OVERLAP = 0.3  # as for one mark reached from two candidates (_checked)
SAME_LOOK = 0.95  # ... but marks whose descriptors correlate this much (the same mark registered twice,
# e.g. in two banks; 1.0 for copies) are all reported: of the benchmark's 983 marks, 47,523 pairs of
# one aspect class, the highest is 0.884 (seal-ring and nsfw-seal)
_SLOT = 1024  # labels: mark id * _SLOT + keypoint number


@dataclass(frozen=True)
class MarkFound:
    """A mark found in an upload: ``box`` (x, y, w, h) in the upload's pixels, ``score`` 0..1."""

    id: int
    label: str
    score: float
    box: list[int]


@dataclass
class _Entry:
    prepared: Prepared
    points: np.ndarray  # (n, 2) float16 (as stored), in units of the mark's longer side
    sizes: np.ndarray  # (n,) float16
    aspect_w: float  # mark width / longer side
    aspect_h: float
    k: int  # aspect class of the descriptor
    descriptor: np.ndarray  # (d,) float32, :mod:`ncii_shield.signals.marks.describe`
    axis: int | None = None  # a coloured mark's chroma view (D.chroma_axis), None for white, black, grey marks
    chroma: np.ndarray | None = None  # (d,) float32: its descriptor in that view


class _Shared:
    """One upload's keypoints and their faiss search, shared by two threads (:data:`OVERLAP`): a pool
    thread makes the keypoints (:meth:`run`) and searches them :data:`SEARCH_CHUNK` at a time while the
    calling thread finds the overlay extents; that one then takes the chunks still left
    (:meth:`work`). Each chunk is searched once, by whichever thread takes it; :meth:`result` puts
    them back in order, the same arrays as one search of all the keypoints."""

    def __init__(self, frame: UploadFrame, index, flat: _Flat) -> None:
        self.frame, self.index, self.flat = frame, index, flat
        self.ready = threading.Event()  # set when the keypoints are made (or failed)
        self._lock = threading.Lock()
        self._started = False
        self._next = 0
        self._chunks: list[np.ndarray] = []
        self._done: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def run(self) -> None:
        self.keypoints()
        self.work()

    def keypoints(self) -> None:
        """Make the keypoints if no thread has started to, else wait until they are made (so a pool
        busy with other uploads' checks does not hold up the calling thread)."""
        with self._lock:
            mine, self._started = not self._started, True
        if not mine:
            self.ready.wait()
            return
        try:
            desc = np.ascontiguousarray(self.frame.keypoints[2])
            self._chunks = [desc[k:k + SEARCH_CHUNK] for k in range(0, len(desc), SEARCH_CHUNK)]
        finally:
            self.ready.set()

    def work(self) -> None:
        while True:
            with self._lock:
                k, self._next = self._next, self._next + 1
            if k >= len(self._chunks):
                return
            self._done[k] = self.index.search(self._chunks[k], NEIGHBOURS)

    def finished(self) -> bool:
        """Whether the keypoints are made and every chunk's search has ended (so :meth:`result` may be read now)."""
        with self._lock:
            return self.ready.is_set() and len(self._done) == len(self._chunks)

    def result(self) -> tuple[np.ndarray, np.ndarray, _Flat]:
        if not self._chunks:
            return np.zeros((0, NEIGHBOURS), np.int32), np.zeros((0, NEIGHBOURS), np.int64), self.flat
        parts = [self._done[k] for k in range(len(self._chunks))]
        return np.concatenate([d for d, _ in parts]), np.concatenate([l for _, l in parts]), self.flat


class _Tasks:
    """The overlay extents' naming (:meth:`MarkIndex._extents`: the colour layers, the edge blobs in grey, each
    chroma view) as jobs shared by two threads (:data:`OVERLAP`): the calling thread posts them once the edge
    blobs are found and takes them one by one; the pool thread, its keypoints and their search done, takes those
    still left (:meth:`work`). Each job runs once, by whichever thread takes it; :meth:`results` gives their
    results in the posted order, the same as one thread's. Without it the pool thread sat idle for the
    naming's last ~50 ms (2026-12-07 #4)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._posted = threading.Event()
        self._jobs: list[Callable[[], object]] = []
        self._next = 0
        self._done: list[threading.Event] = []
        self._results: dict[int, tuple[bool, object]] = {}

    def post(self, jobs: list[Callable[[], object]]) -> None:
        with self._lock:
            if self._posted.is_set():
                return
            self._jobs, self._done = list(jobs), [threading.Event() for _ in jobs]
            self._posted.set()

    def close(self) -> None:
        """No jobs (or none more): a pool thread waiting for them returns."""
        self.post([])

    def work(self, wait: bool = False) -> None:
        """Take and run the jobs left; ``wait``: for them to be posted first (the pool thread)."""
        if wait:
            self._posted.wait()
        while self._posted.is_set():
            with self._lock:
                k, self._next = self._next, self._next + 1
            if k >= len(self._jobs):
                return
            try:
                self._results[k] = (True, self._jobs[k]())
            except BaseException as error:  # raised again in the calling thread
                self._results[k] = (False, error)
            finally:
                self._done[k].set()

    def results(self) -> list:
        """The jobs' results in order, once all have run (this thread takes those left first)."""
        self.work()
        out = []
        for k, done in enumerate(self._done):
            done.wait()
            ok, value = self._results[k]
            if not ok:
                raise value
            out.append(value)
        return out


_pool = LazyPool(lambda: CHECK_THREADS, "mark-check")  # made on first use


def _aspect_classes(aspect: np.ndarray) -> np.ndarray:
    """:func:`D.aspect_class` of every value of ``aspect`` at once (int64): a few hundred boxes an
    upload, one Python call each cost ~9 ms of CPU (2026-12-06 #5); the same classes (numpy's round,
    like Python's, rounds halves to even)."""
    k = np.round(np.log(aspect) / math.log(D.ASPECT_STEP))
    return np.clip(k, -D.MAX_CLASS, D.MAX_CLASS).astype(np.int64)


def _group_boxes(order: np.ndarray, starts: np.ndarray, counts: np.ndarray, side: np.ndarray, aw: np.ndarray,
                 ah: np.ndarray, cx: np.ndarray, cy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The box of each vote group (the guesses ``order[start:start + count]``), all at once: ``(each
    group's first guess, boxes (n, 4) x, y, w, h)``, the mark's side the geometric mean of its guesses'
    ``side``, its centre their median (``cx``, ``cy``), its shape ``aw``, ``ah`` x side. The boxes of
    a per-group pass of ``np.median`` and ``np.mean`` (which cost ~5 ms an upload in Python calls,
    2026-12-06 #5), but for the order of the mean's sum: within ~1e-12 of a pixel."""
    n = counts
    if not len(n):
        return np.zeros(0, np.int64), np.zeros((0, 4))
    first = np.cumsum(n) - n
    group = np.repeat(np.arange(len(n)), n)
    members = order[np.repeat(starts - first, n) + np.arange(int(n.sum()))]
    s = np.exp(np.add.reduceat(np.log(side[members]), first) / n)
    centre = []
    for c in (cx, cy):  # the median: the middle guess, or the mean of the two middle ones
        v = c[members]
        v = v[np.lexsort((v, group))]
        centre.append((v[first + (n - 1) // 2] + v[first + n // 2]) / 2)
    lead = members[first]
    w, h = aw[lead] * s, ah[lead] * s
    return lead, np.stack([centre[0] - w / 2, centre[1] - h / 2, w, h], axis=1)


def _joined(a: dict[int, tuple[np.ndarray, ...]], b: dict[int, tuple[np.ndarray, ...]]) -> dict[int, tuple[np.ndarray, ...]]:
    """Two named sets (per aspect class: values, rows, windows, as :meth:`MarkIndex._named` gives them) as one."""
    out = dict(a)
    for k, items in b.items():
        out[k] = tuple(np.concatenate([x, y]) for x, y in zip(out[k], items)) if k in out else items
    return out


def _windows(boxes: np.ndarray, names: D.Descriptors) -> dict[int, np.ndarray]:
    """The windows (m, 4) at which each aspect class names ``boxes`` (n, 4) (:meth:`MarkIndex._named`): each box
    at its class and those beside it (:data:`LOCATE_CLASSES`, its centre and area kept) and at
    :data:`LOCATE_SIZES`, for the classes holding marks; per class in the order (class step, size, box), the
    classes in the order they first come in that loop. All at once: a loop over classes and sizes cost ~800
    numpy calls an upload (2026-12-07 #4); the same values (the same float operations on each element)."""
    n = len(boxes)
    cx, cy = boxes[:, 0] + boxes[:, 2] / 2, boxes[:, 1] + boxes[:, 3] / 2
    area = boxes[:, 2] * boxes[:, 3]
    k0 = _aspect_classes(boxes[:, 2] / boxes[:, 3])
    steps, sizes = len(LOCATE_CLASSES), len(LOCATE_SIZES)
    k = (k0[None, :] + np.array(LOCATE_CLASSES, np.int64)[:, None]).reshape(-1)  # (steps * n,): step, box
    if not len(boxes) or not names.vectors:
        return {}
    held = np.array(sorted(names.vectors), np.int64)
    present = held[np.minimum(np.searchsorted(held, k), len(held) - 1)] == k
    order = []  # the classes in the order the loop over steps, then classes (ascending), first meets them
    for row in k.reshape(steps, n):
        order += [c for c in np.unique(row).tolist() if c in names.vectors and c not in order]
    if not order:
        return {}
    aspect = np.array([D.class_aspect(c) if c in names.vectors else 1.0
                       for c in range(-D.MAX_CLASS - 1, D.MAX_CLASS + 2)])[np.clip(k, -D.MAX_CLASS - 1, D.MAX_CLASS + 1)
                                                                          + D.MAX_CLASS + 1]
    box = np.repeat(np.arange(n)[None, :], steps, axis=0).reshape(-1)
    a, k, box = aspect[present], k[present], box[present]
    f = np.array(LOCATE_SIZES, np.float64)[:, None]
    w = np.sqrt(area[box] * a)[None, :] * f  # (sizes, m)
    h = np.sqrt(area[box] / a)[None, :] * f
    win = np.stack([cx[box] - w / 2, cy[box] - h / 2, w, h], axis=2)  # (sizes, m, 4)
    # (step, size, box) within each class: the step is the major key of k's order already
    step = np.repeat(np.arange(steps), n)[present]
    key = np.lexsort((np.repeat(np.arange(len(k))[None, :], sizes, axis=0).reshape(-1),
                      np.repeat(np.arange(sizes)[:, None], len(k), axis=1).reshape(-1),
                      np.tile(step, sizes), np.tile(k, sizes)))
    win = win.reshape(-1, 4)[key]
    cls = np.tile(k, sizes)[key]
    starts = np.searchsorted(cls, order)
    ends = np.searchsorted(cls, order, side="right")
    return {c: win[s:e] for c, s, e in zip(order, starts.tolist(), ends.tolist())}


@dataclass(frozen=True)
class _Flat:
    """Keypoint geometry of all entries: entry ``ids`` (sorted), each one's ``offsets`` and
    ``counts`` into ``points`` (n, 2) and ``sizes`` (n,), and ``aspect`` (width, height) / side."""

    ids: np.ndarray
    offsets: np.ndarray
    counts: np.ndarray
    points: np.ndarray
    sizes: np.ndarray
    aspect: np.ndarray


class MarkIndex(SignalIndex):
    """See the module docstring. Thread-safe: one lock around faiss and the entries."""

    load_in_batches = True

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._idle = threading.Condition(threading.Lock())  # signalled when a search outside the lock ends
        self._readers = 0  # uploads searching faiss outside the lock (OVERLAP): changes wait for them
        self._faiss = faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(256))
        self._ivf = False
        self._entries: dict[int, _Entry] = {}
        self._flat: _Flat | None = None  # every entry's keypoint geometry in one place, for queries
        self._names: D.Descriptors | None = None  # every entry's descriptor, grouped by aspect class
        self._axes = D.chroma_axes()  # the chroma views (describe.CHROMA_AXES) the index was made with
        self._chroma: list[tuple[int, D.Descriptors]] | None = None  # per view with marks: (axis, descriptors)
        D.warm_up()  # the compiled naming (and the colour layers' labels) loaded now, not on the first upload
        L.warm_up()

    # -- changes -------------------------------------------------------------------------------

    def add(self, value: str, id: int) -> None:
        self.add_many([(value, id)])

    def add_many(self, entries: Iterable[tuple[str, int]]) -> None:
        batch = [(T.decode(v), i) for v, i in entries]
        if not batch:
            return
        with self._lock:
            self._quiet()
            for _, id in batch:
                self.remove(id)
            codes, labels = [], []
            self._flat = self._names = self._chroma = None
            for template, id in batch:
                kp = template.keypoints
                side = max(template.width, template.height)
                # the descriptors live in faiss only: the entry keeps the template's pixels and geometry
                lean = dataclasses.replace(template, keypoints=T.MarkKeypoints(kp.points[:0], kp.sizes[:0],
                                                                               kp.descriptors[:0]))
                prepared = Prepared.of(lean)
                k, vector = D.mark_descriptor(prepared)
                axis = D.chroma_axis(prepared, self._axes)
                chroma = None if axis is None else D.mark_descriptor(prepared, k, axis=self._axes[axis])[1]
                self._entries[id] = _Entry(prepared, kp.points.astype(np.float16), kp.sizes.astype(np.float16),
                                           template.width / side, template.height / side, k, vector, axis, chroma)
                codes.append(kp.descriptors)
                labels.append(id * _SLOT + np.arange(len(kp.descriptors), dtype=np.int64))
            all_codes = np.ascontiguousarray(np.concatenate(codes), dtype=np.uint8)
            all_labels = np.concatenate(labels)
            if not self._ivf and self._faiss.ntotal + len(all_codes) >= IVF_FROM:
                self._to_ivf(all_codes, all_labels)
            elif len(all_codes):
                self._faiss.add_with_ids(all_codes, all_labels)

    def _quiet(self) -> None:
        """Wait (the lock held, so no search starts) until no upload is searching faiss outside the lock."""
        with self._idle:
            while self._readers:
                self._idle.wait()

    def _to_ivf(self, codes: np.ndarray, labels: np.ndarray) -> None:
        old = faiss.downcast_IndexBinary(self._faiss.index)
        old_codes = faiss.vector_to_array(old.xb).reshape(-1, 32) if old.ntotal else np.zeros((0, 32), np.uint8)
        old_labels = faiss.vector_to_array(self._faiss.id_map).astype(np.int64)
        codes, labels = np.concatenate([old_codes, codes]), np.concatenate([old_labels, labels])
        nlist = int(min(4096, max(256, 2 * math.sqrt(len(codes)))))
        quantizer = faiss.IndexBinaryFlat(256)
        ivf = faiss.IndexBinaryIVF(quantizer, 256, nlist)
        ivf.cp.niter = 10
        sample = codes[np.random.default_rng(0).choice(len(codes), size=min(len(codes), nlist * 32), replace=False)]
        ivf.train(sample)
        ivf.nprobe = NPROBE
        ivf.add_with_ids(codes, labels)
        self._quantizer = quantizer  # keep the Python wrapper alive as long as the index
        self._faiss, self._ivf = ivf, True

    def remove(self, id: int) -> None:
        with self._lock:
            self._quiet()
            entry = self._entries.pop(id, None)
            if entry is None:
                return
            self._flat = self._names = self._chroma = None
            self._faiss.remove_ids(id * _SLOT + np.arange(len(entry.sizes), dtype=np.int64))

    def __len__(self) -> int:
        return len(self._entries)

    def nbytes(self) -> int:
        """Bytes of the index's arrays: faiss's codes and labels (32 + 8 bytes a keypoint) and each
        entry's template (coverage + colour, uint8), keypoint geometry (float32) and descriptors (grey and chroma)."""
        with self._lock:
            total = self._faiss.ntotal * (32 + 8)
            for e in self._entries.values():
                t = e.prepared.template
                total += t.alpha.nbytes + t.colour.nbytes + e.points.nbytes + e.sizes.nbytes + e.descriptor.nbytes
                total += 0 if e.chroma is None else e.chroma.nbytes
            if self._flat is not None:
                total += self._flat.points.nbytes + self._flat.sizes.nbytes
            return total

    # -- queries -------------------------------------------------------------------------------

    def find(self, frame: UploadFrame, allowed: Callable[[int], bool] | None = None, *,
             threshold: float = THRESHOLD, limit: int = CANDIDATES) -> list[MarkFound]:
        """Marks found in the upload (best first; a mark stamped several times gives several). A frame under
        :data:`MIN_FRAME_SIDE` pixels on a side holds nothing the check could tell: none."""
        if min(frame.grey.shape[:2]) < MIN_FRAME_SIDE:
            return []
        found = []
        for score, id, box in self._checked(frame, allowed, limit, threshold):
            if score >= threshold:
                found.append(MarkFound(id, self._entries[id].prepared.template.label, round(score, 4),
                                       frame.to_upload_box(box)))
        return found

    def _checked(self, frame: UploadFrame, allowed: Callable[[int], bool] | None, limit: int,
                 threshold: float = THRESHOLD) -> list[tuple[float, int, tuple[int, int, int, int]]]:
        """Every candidate's check, ``(score, mark id, box in frame pixels)``, best first: one mark
        reached at one place from two candidates is kept once (its better check), and with
        :data:`ONE_PER_PLACE` a mark scoring ``threshold`` or more is left out where a better-scoring
        mark of another look passed at the same place (:meth:`_one_per_place`)."""
        early: dict = {}  # place number -> its check begun before the candidate stage ended (EARLY_CHECKS)

        def begin(first: list[tuple[int, tuple[float, float, float, float]]], reading: bool = False) -> None:
            """The first places, known once the votes are in: checked on the pool while this thread
            chooses the rest of the candidates (the descriptor and located ones). ``reading``: called
            inside the candidate stage's reader section (:data:`VOTES_MEANWHILE`), where the entries
            cannot change (a change waits in :meth:`_quiet`, the lock held, until no upload reads) and
            taking the lock would wait for that writer while it waits for this reader: a deadlock."""
            if not (EARLY_CHECKS and CHECK_THREADS > 1):
                return
            if reading:
                entries = [self._entries.get(id) for id, _ in first]
            else:
                with self._lock:
                    entries = [self._entries.get(id) for id, _ in first]
            for k, ((id, box), e) in enumerate(zip(first, entries)):
                if e is not None:
                    early[k] = (id, box, _pool().submit(verify, e.prepared, frame, box))

        try:
            places, located = self._candidates(frame, allowed, limit, begin)
        except BaseException:
            for *_, future in early.values():
                future.cancel()
            raise
        with self._lock:
            entries = {id: self._entries.get(id) for id, _ in places + located}
        # the places begun early are the first places (:meth:`_candidates`); a mark removed since: dropped
        assert all(places[k] == (id, box) for k, (id, box, _) in early.items())
        jobs = [(id, box, entries[id], k >= len(places), early[k][2] if k in early else None)
                for k, (id, box) in enumerate(places + located) if entries[id] is not None]
        rest = [job for job in jobs if job[4] is None]
        if CHECK_THREADS > 1 and len(rest) > 1:
            later = iter(list(_pool().map(lambda job: verify(job[2].prepared, frame, job[1]), rest)))
        else:
            later = iter([verify(job[2].prepared, frame, job[1]) for job in rest])
        results = [job[4].result() if job[4] is not None else next(later) for job in jobs]
        jobs = [job[:4] for job in jobs]
        kept: list[tuple[int, tuple[float, tuple[int, int, int, int]] | None]] = []
        for (id, _, entry, gated), checked in zip(jobs, results):
            if checked is not None and gated and COLOUR_GATE > -1.0 and L.colour_agreement(
                    entry.prepared.template.contrast, frame.rgb, checked[1]) < COLOUR_GATE:
                continue  # named by the descriptor alone and not the mark's colours there: not evidence
            kept.append((id, checked))
        return self._merged(kept, threshold, entries)

    @classmethod
    def _merged(cls, checks: list[tuple[int, tuple[float, tuple[int, int, int, int]] | None]], threshold: float,
                entries: dict[int, _Entry | None]) -> list[tuple[float, int, tuple[int, int, int, int]]]:
        """The candidates' checks ``(mark id, verify's result)`` as :meth:`_checked` reports them,
        ``(score, mark id, box)`` best first: one mark reached at one place from two candidates kept once (its
        better check), then :meth:`_one_per_place` with :data:`ONE_PER_PLACE` (also bench/marks_check/cands.py's,
        which checks cached candidate lists again)."""
        out: list[tuple[float, int, tuple[int, int, int, int]]] = []
        for id, checked in checks:
            if checked is None:
                continue
            score, fine = checked
            same = [k for k, o in enumerate(out) if o[1] == id and overlap(o[2], fine) > 0.3]
            if same:  # the same place reached from two candidates: keep the better check
                if score > out[same[0]][0]:
                    out[same[0]] = (score, id, fine)
                continue
            out.append((score, id, fine))
        out.sort(key=lambda o: -o[0])
        return cls._one_per_place(out, threshold, entries) if ONE_PER_PLACE else out

    @staticmethod
    def _one_per_place(found: list[tuple[float, int, tuple[int, int, int, int]]], threshold: float,
                       entries: dict[int, _Entry | None],
                       ) -> list[tuple[float, int, tuple[int, int, int, int]]]:
        """``found`` (best first) less each mark scoring ``threshold`` or more whose box overlaps (more
        than :data:`PLACE_OVERLAP`) that of a better-scoring mark kept before it, unless the two look alike
        (their descriptors correlate :data:`SAME_LOOK` or more, as a mark registered in two banks does).
        A mark under ``threshold`` is never left out (it is not reported; it stays for the benchmarks'
        best scores); nor is the best at any place, so a flag leaves only where a better one stands."""
        def same_look(a: int, b: int) -> bool:
            e, o = entries.get(a), entries.get(b)
            return e is not None and o is not None and e.k == o.k and float(e.descriptor @ o.descriptor) >= SAME_LOOK

        kept: list[tuple[float, int, tuple[int, int, int, int]]] = []
        for score, id, box in found:
            shadowed = score >= threshold and any(  # those kept are all better-scoring, so all passed too
                i != id and overlap(b, box) > PLACE_OVERLAP and not same_look(id, i) for _, i, b in kept)
            if not shadowed:
                kept.append((score, id, box))
        return kept

    def _geometry(self) -> _Flat:
        """Every entry's keypoints in flat arrays (rebuilt after a change; the lock is held)."""
        if self._flat is None:
            ids = np.array(sorted(self._entries), np.int64)
            entries = [self._entries[i] for i in ids.tolist()]
            counts = np.array([len(e.sizes) for e in entries], np.int64)
            offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64) if len(ids) else counts
            points = np.concatenate([e.points for e in entries]) if entries else np.zeros((0, 2), np.float16)
            sizes = np.concatenate([e.sizes for e in entries]) if entries else np.zeros(0, np.float16)
            aspect = np.array([(e.aspect_w, e.aspect_h) for e in entries], np.float64).reshape(-1, 2)
            self._flat = _Flat(ids, offsets, counts, points, sizes, aspect)
        return self._flat

    def _descriptors(self) -> D.Descriptors:
        """Every entry's descriptor grouped by aspect class (rebuilt after a change; the lock is held)."""
        if self._names is None:
            self._names = D.Descriptors.group([(id, e.k, e.descriptor) for id, e in self._entries.items()])
        return self._names

    def _chroma_names(self) -> list[tuple[int, D.Descriptors]]:
        """Per chroma view holding coloured marks: (axis, their descriptors in it) (the lock is held)."""
        if self._chroma is None:
            views: dict[int, list] = {}
            for id, e in self._entries.items():
                if e.axis is not None:
                    views.setdefault(e.axis, []).append((id, e.k, e.chroma))
            self._chroma = [(a, D.Descriptors.group(items)) for a, items in sorted(views.items())]
        return self._chroma

    def candidates(self, frame: UploadFrame, allowed: Callable[[int], bool] | None = None,
                   limit: int = CANDIDATES) -> list[tuple[int, tuple[float, float, float, float]]]:
        """``(mark id, (x, y, w, h) in frame pixels)`` to check: the keypoint and descriptor candidates
        (:meth:`_candidates`), then the :data:`LOCATED` located ones."""
        places, located = self._candidates(frame, allowed, limit)
        return places + located

    def _candidates(self, frame: UploadFrame, allowed: Callable[[int], bool] | None = None,
                    limit: int = CANDIDATES,
                    begin: Callable[[list[tuple[int, tuple[float, ...]]]], None] | None = None,
                    ) -> tuple[list[tuple[int, tuple[float, float, float, float]]],
                               list[tuple[int, tuple[float, float, float, float]]]]:
        """(places, located). Places: the :data:`VOTE_KEEP` places with most
        keypoint guesses, then the best (mark, window) pairs by descriptor correlation
        (:mod:`ncii_shield.signals.marks.describe`) among the :data:`VOTE_POOL` best vote groups' own
        marks at their boxes, where the mark correlates better than any other mark of its aspect class
        (:data:`NAME_MARGIN`). Located: :meth:`_located`, where every mark is looked for (looking for
        every mark around the vote places without the colour test let the check flag look-alikes;
        docs/benchmarks.md, "Service marks"). ``begin``, if given, is called with the first places
        (the best vote places) as soon as the votes are in, before the rest is chosen
        (:data:`EARLY_CHECKS`)."""
        with self._lock:
            names = self._descriptors() if self._entries else None
            chroma = self._chroma_names() if self._entries and LOCATED > 0 else []
        if names is None:
            return [], []
        # the keypoints and their faiss search on a pool thread while this one finds and names the
        # overlay extents (OVERLAP): the two halves of the candidate stage need nothing of each other
        if OVERLAP and CHECK_THREADS > 1:
            with self._lock:
                shared = _Shared(frame, self._faiss, self._geometry()) if self._faiss.ntotal else None
                if shared is not None:
                    with self._idle:
                        self._readers += 1
            pending = None
            tasks = _Tasks() if shared is not None and SHARE_NAMING else None

            def side() -> None:  # the pool thread: the keypoints and their search, then the naming jobs left
                shared.run()
                if tasks is not None:
                    tasks.work(wait=True)

            early: list = []  # the votes, when chosen while the other thread ended its last naming job

            def meanwhile() -> None:
                """No naming job left to take: with the keypoints' search done, the votes now, and the first places'
                checks begun (on the pool's other thread), while the other thread ends its last job (the same
                votes as after it: they read the search and the index only)."""
                if VOTES_MEANWHILE and shared is not None and shared.finished():
                    early.append(self._votes(frame, allowed, max(limit, VOTE_POOL), shared.result()))
                    if begin is not None and early[0]:  # still a reader: no lock (begin's docstring)
                        begin(early[0][:min(limit, VOTE_KEEP)], reading=True)

            try:
                pending = _pool().submit(one_faiss_thread, side) if shared is not None else None
                pyramid = D.FieldPyramid(frame.grey)
                extents = self._extents(frame, pyramid, names, chroma, tasks,
                                        meanwhile if tasks is not None else None)
                if shared is not None:
                    one_faiss_thread(shared.run)  # the keypoints if not begun, then the chunks not taken yet
                    if pending.cancel():  # the pool, busy with other uploads' checks, never started it:
                        pending = None  # this thread did all of it, nothing to wait for
                    else:
                        pending.result()  # started: at most the chunk it is searching
            finally:
                if tasks is not None:
                    tasks.close()  # (posted already, unless this thread failed before: nothing for the pool to wait for)
                if pending is not None:
                    wait([pending])  # no change to faiss while the pool thread may still search it
                if shared is not None:
                    with self._idle:
                        self._readers -= 1
                        self._idle.notify_all()
            if early:
                votes, begun = early[0], True
            else:
                votes, begun = [] if shared is None else self._votes(frame, allowed, max(limit, VOTE_POOL),
                                                                     shared.result()), False
        else:
            votes, begun = self._votes(frame, allowed, max(limit, VOTE_POOL)), False
            pyramid = D.FieldPyramid(frame.grey)
            extents = self._extents(frame, pyramid, names, chroma)
        if begin is not None and votes and not begun:  # the first places are known now: their checks may begin
            begin(votes[:min(limit, VOTE_KEEP)])
        if not votes or limit <= VOTE_KEEP:
            out = votes[:limit]
            return out, self._located(pyramid, names, *extents, votes, out, allowed)
        # windows: each vote group's own mark at its box, at a few sizes
        windows: dict[int, list[tuple[float, float, float, float]]] = {}
        wanted: dict[int, list[int]] = {}  # per class, per window: the mark it is for
        for m, (x, y, w, h) in votes:
            if m not in names.position:
                continue
            k = names.position[m][0]
            for f in OWN_SCALES:
                windows.setdefault(k, []).append((x + w * (1 - f) / 2, y + h * (1 - f) / 2, w * f, h * f))
                wanted.setdefault(k, []).append(m)
        arrays = {k: np.array(v, np.float64) for k, v in windows.items()}
        pairs: list[tuple[float, int, tuple[float, float, float, float]]] = []
        for k, score in names.scores(pyramid, arrays).items():
            ids = names.ids[k]
            row = np.arange(len(score))
            chosen = np.array([names.position[m][1] for m in wanted[k]], dtype=np.int64)
            value = score[row, chosen]
            if score.shape[1] > 1:  # how far the chosen mark stands above every other mark of its class there
                rest = score.copy()
                rest[row, chosen] = -np.inf
                margin = value - rest.max(axis=1)
            else:
                margin = np.full(len(score), np.inf)
            keep = np.flatnonzero(margin >= NAME_MARGIN)
            for w in keep[np.argsort(-value[keep])][:4 * limit].tolist():
                pairs.append((float(value[w]), int(ids[chosen[w]]), tuple(arrays[k][w].tolist())))
        pairs.sort(key=lambda p: -p[0])
        out = votes[:VOTE_KEEP]
        for _, m, box in pairs:
            if len(out) == limit:
                break
            if any(o[0] == m and overlap(o[1], box) > 0.3 for o in out):
                continue
            if allowed is not None and not allowed(m):
                continue
            out.append((m, box))
        return out, self._located(pyramid, names, *extents, votes, out, allowed)

    def _extents(self, frame: UploadFrame, pyramid: D.FieldPyramid, names: D.Descriptors,
                 chroma: list[tuple[int, D.Descriptors]] = (), tasks: _Tasks | None = None,
                 meanwhile: Callable[[], None] | None = None,
                 ) -> tuple[dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]],
                            dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]], list]:
        """The edge blobs (:func:`L.proposals`) and, with :data:`L.COLOUR_LAYERS`, the colour layers' blobs
        (:func:`L.layer_boxes`) named (:meth:`_named`), each apart (each refined with its own budget); and
        the chroma views (``chroma``, :meth:`_chroma_names`): per view, its pyramid (the frame projected on
        the view's direction, :func:`D.projected`), its marks' descriptors, the blobs named by them and, with
        :data:`VIEW_LAYERS`, the colour layers' boxes named by them (a view's job waits for the layers' boxes, made
        in the layers' job, posted first), with :data:`VIEW_BLOBS` the view's own blobs (:func:`L.view_boxes`) too. With ``tasks`` (:class:`_Tasks`) the layers, the grey naming and the views
        are jobs a pool thread may share; ``meanwhile`` is then called once this thread has no job left to take,
        before it waits for the other thread's last (:data:`VOTES_MEANWHILE`)."""
        if LOCATED <= 0:
            if tasks is not None:
                tasks.close()
            return {}, {}, []
        strengths = L.edge_strengths(frame.rgb)  # the frame's colour edges, once for the blobs and the layers
        blobs = L.proposals(frame.rgb, strengths)
        layer_boxes: list[np.ndarray] = []  # the colour layers' boxes, once made (the views name them too)
        made = threading.Event()

        def layers() -> dict:
            try:
                boxes = L.layer_boxes(frame.rgb, blobs, strengths)
                layer_boxes.append(boxes)
            finally:
                made.set()  # (a view job waiting for them goes on without them if this failed)
            return self._named(boxes, pyramid, names, LAYERS_REFINE) if len(boxes) else {}

        colour_layers = L.COLOUR_LAYERS  # read once: a view waits for the layers' job only where it is posted

        def view(a: int, view_names: D.Descriptors) -> tuple:
            projected = D.projected(frame.rgb, self._axes[a])
            seen = D.FieldPyramid(projected, VIEW_SKIP)
            found = self._named(blobs, seen, view_names)
            layered = {}
            if VIEW_LAYERS and colour_layers:
                made.wait()  # the layers' job is posted first: taken before this one, so it runs or has run
                if layer_boxes and len(layer_boxes[0]):
                    layered = self._named(layer_boxes[0], seen, view_names, VIEW_LAYERS_REFINE, VIEW_REFINED_MIN_VALUE)
            if VIEW_BLOBS:  # the view's own blobs, with the layers' (under the same bars)
                known = np.concatenate([blobs] + layer_boxes[:1]) if VIEW_LAYERS and colour_layers else blobs
                own = L.view_boxes(projected, known)
                if len(own):
                    layered = _joined(layered, self._named(own, seen, view_names, VIEW_LAYERS_REFINE,
                                                           VIEW_REFINED_MIN_VALUE))
            return seen, view_names, found, layered

        jobs = [layers] if colour_layers else []  # first: the views wait for it, so it must be taken before them
        jobs += [lambda: self._named(blobs, pyramid, names)]
        jobs += [lambda a=a, v=v: view(a, v) for a, v in chroma]
        if tasks is None:
            done = [job() for job in jobs]
        else:
            tasks.post(jobs)
            if meanwhile is not None:
                tasks.work()  # the jobs left, then what needs none of them while the other thread ends its last
                meanwhile()
            done = tasks.results()
        named = done.pop(1) if colour_layers else done.pop(0)
        layered = done.pop(0) if colour_layers else {}
        return named, layered, done

    def _named(self, boxes: np.ndarray, pyramid: D.FieldPyramid, names: D.Descriptors,
               refine: int | None = None, refined_min: float | None = None,
               ) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Overlay extents ``boxes`` (n, 4) named by every mark's descriptor (see :meth:`_located`):
        per aspect class, the two best marks' values and rows (:meth:`D.Descriptors.best_two`) and
        the windows (m, 4) they were compared at, with ``refine`` (default :data:`D.REFINE`) of them refined
        (:func:`D.refine`); ``refined_min``: the refined windows whose best mark is named less are left out."""
        boxes = boxes[np.maximum(boxes[:, 2], boxes[:, 3]) >= LOCATE_MIN_SIDE]
        if not len(boxes):
            return {}
        arrays = _windows(boxes, names)
        # windows named weakly moved to where their mark correlates best (D.refine, 2026-12-06 #5)
        named = {k: (top, rows, arrays[k]) for k, (top, rows) in names.best_two(pyramid, arrays).items()}
        out = D.refine(pyramid, names, named, refine)
        if refined_min is not None and out is not named:  # refine appends its windows to each class's own
            for k, (top, rows, windows) in out.items():
                keep = np.ones(len(top), bool)
                keep[len(named[k][0]):] = top[len(named[k][0]):, 0] >= refined_min
                if not keep.all():
                    out[k] = (top[keep], rows[keep], windows[keep])
        return out

    def _located(self, pyramid: D.FieldPyramid, names: D.Descriptors,
                 extents: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]],
                 layers: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]],
                 views: list[tuple[D.FieldPyramid, D.Descriptors, dict, dict]],
                 votes: list[tuple[int, tuple[float, float, float, float]]],
                 taken: list[tuple[int, tuple[float, float, float, float]]],
                 allowed: Callable[[int], bool] | None,
                 ) -> list[tuple[int, tuple[float, float, float, float]]]:
        """Up to :data:`LOCATED` (mark, box) pairs named by descriptor at overlay extents (and
        :data:`LOCATED_BIG` more at large windows, under :data:`LOCATE_BIG_VALUE` and
        :data:`LOCATE_BIG_LEAD`): the boxes of :func:`~ncii_shield.signals.marks.locate.proposals`
        (``extents``, named by :meth:`_named`) and of the vote groups, each at its aspect class and
        the two beside it (:data:`LOCATE_CLASSES`, the box's area kept) and :data:`LOCATE_SIZES`;
        every mark of the class is compared there, and a window names the mark that correlates best,
        ranked by that correlation plus its lead over the class's second best, among the windows whose
        best mark correlates at least :data:`LOCATE_MIN_VALUE` and leads by :data:`LOCATE_MIN_LEAD`
        (boxes under :data:`LOCATE_MIN_SIDE` are not named). With :data:`COLOUR_GATE` on (off by default)
        these candidates are reported only where
        :func:`~ncii_shield.signals.marks.locate.colour_agreement` reaches it (see :meth:`_checked`). With
        :data:`LOCATED` 0 there are none, large or not. The colour layers' windows (``layers``, named by
        :meth:`_extents`) are taken where their best mark reaches :data:`LAYERS_MIN_VALUE` with the same lead,
        ranked with the others, and for the large windows only with :data:`LAYERS_BIG`; the layers named in a view
        (``views``' fourth item, :data:`VIEW_LAYERS`) likewise."""
        if LOCATED <= 0:
            return []
        boxes = np.array([b for _, b in votes], np.float64).reshape(-1, 4)

        def with_votes(found: dict, view: D.FieldPyramid, view_names: D.Descriptors, own: bool = False) -> dict:
            """``found`` and the vote groups' boxes named in one view (``own``: only the groups of its marks)."""
            named = dict(found)
            voted = boxes
            if own:
                voted = np.array([b for m, b in votes if m in view_names.position], np.float64).reshape(-1, 4)
            if len(voted):
                for k, (top, rows, windows) in self._named(voted, view, view_names).items():
                    if k in named:
                        t0, r0, w0 = named[k]
                        top, rows, windows = (np.concatenate([t0, top]), np.concatenate([r0, rows]),
                                              np.concatenate([w0, windows]))
                    named[k] = (top, rows, windows)
            return named

        pairs: list[tuple[float, int, tuple[float, float, float, float]]] = []
        big_pairs: list[tuple[float, int, tuple[float, float, float, float]]] = []
        # the blobs' and vote boxes' windows, the colour layers' (under their own bars), then the chroma views'
        sets = [(with_votes(extents, pyramid, names), True, LOCATE_MIN_VALUE, names)]
        sets += [(layers, LAYERS_BIG, LAYERS_MIN_VALUE, names)] * bool(layers)
        sets += [(with_votes(found, view, view_names, not CHROMA_VOTES) if CHROMA_VOTES or CHROMA_VOTES_OWN else found,
                  True, LOCATE_MIN_VALUE, view_names) for view, view_names, found, _ in views]
        sets += [(layered, LAYERS_BIG, LAYERS_MIN_VALUE, view_names)  # the colour layers named in the views
                 for _, view_names, _, layered in views if layered]
        for (k, (top, rows, windows)), big, bar, named_by in ((item, big, bar, n) for found, big, bar, n in sets
                                                              for item in found.items()):
            best, value = rows[:, 0], top[:, 0].astype(np.float64)
            # how far it stands above the class's second best there (a class of one mark has no rival:
            # it is taken to lead by just enough, so a bank of one watermark still gets located candidates)
            lead = np.where(np.isfinite(top[:, 1]), value - top[:, 1], LOCATE_MIN_LEAD)
            rank = value + lead
            clear = (value >= bar) & (lead >= LOCATE_MIN_LEAD)
            strong = np.flatnonzero(clear)
            for w in strong[np.argsort(-rank[strong])][:8 * LOCATED].tolist():
                pairs.append((float(rank[w]), int(named_by.ids[k][best[w]]), tuple(windows[w].tolist())))
            if LOCATED_BIG > 0 and big:
                large = np.flatnonzero(~clear & (np.minimum(windows[:, 2], windows[:, 3]) >= LOCATE_BIG_SIDE)
                                       & (value >= LOCATE_BIG_VALUE) & (lead >= LOCATE_BIG_LEAD))
                for w in large[np.argsort(-rank[large])][:8 * LOCATED_BIG].tolist():
                    big_pairs.append((float(rank[w]), int(named_by.ids[k][best[w]]), tuple(windows[w].tolist())))
        out: list[tuple[int, tuple[float, float, float, float]]] = []
        for chosen, n in ((pairs, LOCATED), (big_pairs, LOCATED_BIG)):
            chosen.sort(key=lambda p: -p[0])
            added = 0
            for _, m, box in chosen:
                if added == n:
                    break
                if any(o[0] == m and overlap(o[1], box) > 0.3 for o in taken + out):
                    continue
                if allowed is not None and not allowed(m):
                    continue
                out.append((m, box))
                added += 1
        return out

    def _votes(self, frame: UploadFrame, allowed: Callable[[int], bool] | None,
               limit: int, searched: tuple[np.ndarray, np.ndarray, _Flat] | None = None,
               ) -> list[tuple[int, tuple[float, float, float, float]]]:
        """The places with most keypoint guesses: ``(mark id, (x, y, w, h) in frame pixels)``;
        ``searched``: the keypoints' faiss search done already (:class:`_Shared`)."""
        pts, sizes, desc = frame.keypoints
        if not len(desc):
            return []
        if searched is not None:
            distances, labels, flat = searched
        else:
            with self._lock:
                if self._faiss.ntotal == 0:
                    return []
                distances, labels = self._faiss.search(np.ascontiguousarray(desc), NEIGHBOURS)
                flat = self._geometry()
        q, c = np.nonzero((distances <= MATCH_DISTANCE) & (labels >= 0))
        labels = labels[q, c]
        marks, numbers = labels // _SLOT, labels % _SLOT
        at = np.searchsorted(flat.ids, marks)
        known = (at < len(flat.ids)) & (flat.ids[np.minimum(at, len(flat.ids) - 1)] == marks)
        q, marks, numbers, at = q[known], marks[known], numbers[known], at[known]
        known = numbers < flat.counts[at]
        q, marks, numbers, at = q[known], marks[known], numbers[known], at[known]
        if allowed is not None and len(marks):
            present = np.unique(marks)
            ok = np.array([bool(allowed(int(m))) for m in present.tolist()])
            keep = ok[np.searchsorted(present, marks)]
            q, marks, numbers, at = q[keep], marks[keep], numbers[keep], at[keep]
        if not len(marks):
            return []
        row = flat.offsets[at] + numbers
        place = flat.points[row].astype(np.float64)
        side = sizes[q].astype(np.float64) / flat.sizes[row].astype(np.float64)  # the mark's longer side, frame pixels
        aw, ah = flat.aspect[at, 0], flat.aspect[at, 1]
        cx = pts[q, 0] - place[:, 0] * side + aw * side / 2
        cy = pts[q, 1] - place[:, 1] * side + ah * side / 2
        ok = np.isfinite(side) & (side > 1) & (side < 1e5)
        marks, side, aw, ah, cx, cy = marks[ok], side[ok], aw[ok], ah[ok], cx[ok], cy[ok]
        if not len(marks):
            return []
        size_bin = np.clip(np.round(np.log(side) / SIZE_STEP), -60, 60).astype(np.int64) + 64
        gx = np.clip(np.floor(cx / (PLACE_STEP * side)), -2000, 2000).astype(np.int64) + 2048
        gy = np.clip(np.floor(cy / (PLACE_STEP * side)), -2000, 2000).astype(np.int64) + 2048
        key = ((marks * 128 + size_bin) * 4096 + gx) * 4096 + gy
        order = np.argsort(key, kind="stable")
        key = key[order]
        starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
        counts = np.diff(np.concatenate([starts, [len(key)]]))
        best = np.argsort(-counts, kind="stable")[: limit * 2]
        lead, boxes = _group_boxes(order, starts[best], counts[best], side, aw, ah, cx, cy)
        out: list[tuple[int, tuple[float, float, float, float]]] = []
        for m, box in zip(marks[lead].tolist(), boxes.tolist()):
            box = tuple(box)
            if any(o[0] == m and overlap(o[1], box) > 0.5 for o in out):
                continue
            out.append((m, box))
            if len(out) == limit:
                break
        return out

    def query(self, value: str, threshold: float) -> list[IndexMatch]:
        """Marks are not matched against marks as strings: a check needs the uploaded photo itself."""
        raise InvalidRequest("mark signatures cannot be matched as strings; check the photo itself "
                             "(POST /v1/match/media or `ncii-shield check FILE`)")
