"""Candidate search over every registered photo's keypoints, then verification of the best few.

Each registered photo contributes the first :data:`SAMPLE` (64) of its
:data:`~ncii_shield.signals.derivative.features.INDEX_KEYPOINTS` coarse-first ORB descriptors (a
sample spread over the photo) to one faiss binary index, labelled with the photo's signal id. An
upload's descriptors (as uploaded and mirrored) each look up their nearest stored descriptors; every
close, distinctive hit is a vote for its photo (a photo registered twice: both copies, see
:data:`NEIGHBOURS`). The :data:`CANDIDATES` photos with most votes are
verified (:func:`~ncii_shield.signals.derivative.verify.verify`) against their full signature; of
those under :data:`STRONG_VOTES` votes (what chance agreement gives an unrelated upload), only those
whose votes line up (:func:`consistent_votes`: :data:`QUICK_CONSISTENT` of them explained by one
plausible similarity transform, a fraction of a millisecond against milliseconds for a verification),
at most :data:`MAX_WEAK` (all of them by default; a setting trades recall for time at scale); the same
for those under :data:`SKIP_BELOW` of the votes of one that verified (the photo around a large pasted
patch of another registered photo, out-voted by it). So a
check costs one batched search plus a handful of verifications. The search runs in two stages: the
first :data:`FIRST_QUERIES` query descriptors of each orientation first, the others only when some
photo has :data:`FIRST_VOTES` votes by then; an upload related to no registered photo (most of them)
stops after the first. When the hits explain only part of the upload's frame (:data:`REST_SHARE`: a
large pasted part of another photo), the upload's other query descriptors are searched too and the
photos ranked again on all of them (the *rest search*); so are they when nothing verified in an upload
with overlaid text (:data:`REST_TEXT`: a caption and censor bars thin the photo's votes). The photos
whose textured cells are identical to the upload's own in place (of its shape: the *cell search*,
:data:`CELL_CANDIDATES`) are compared as its whole frame too. A
check uses two threads (:data:`CHECK_THREADS`): each search stage's query descriptors are split
between the calling thread and a pool thread (and, with :data:`SPLIT_VERIFY`, off by default, the
candidates that will be verified whatever the others' verdicts are verified two at a time); the
output is that of one thread.

The faiss index is exact (``IndexBinaryFlat``) while small; past :data:`IVF_FROM` descriptors it
becomes an inverted file (``IndexBinaryIVF``, about :data:`LIST_SIZE` descriptors a list, centres
drawn from the stored descriptors), rebuilt from its own lists with more lists each time it has
grown :data:`REBUILD_GROWTH`-fold; from :data:`TWO_LEVEL_FROM` lists the centres are found through
an inverted file of their own (a flat search over 32,768 centres per query would cost more than
the lists). Adds and withdrawals are incremental; like every index here it is a cache rebuilt from
the store. Scale run (1M photos): ``bench/derivative_scale.py``, figures in docs/benchmarks.md.

Full signatures are either kept in memory (the default) or fetched on demand through ``lookup``
(``ids -> {id: value}``), which the follower points at the database so that memory holds only the
index sample and the cell search's keys (3.7 KB a photo at 1,000,129 by the index's own accounting, 2026-12-07 #7:
2.5 KB of descriptors, 1.2 KB of cells).
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
import sys
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import wait
from dataclasses import dataclass, field
from typing import NamedTuple

import cv2
import faiss
import numpy as np
from numba import njit

from ncii_shield.errors import InvalidRequest
from ncii_shield.index.base import IndexMatch, SignalIndex
from ncii_shield.index.threads import LazyPool, one_faiss_thread
from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative import verify as _verify
from ncii_shield.signals.derivative.verify import (
    MAX_ROTATION, MIN_INLIERS, SCALE_RANGE, TEXT_RUN, TEXT_SHARE, WHOLE_ASPECT, Outcome, Upload, Verdict,
    text_pixels, verify, whole_frame,
)

VOTE_DISTANCE = 40  # a stored descriptor within this many bits of an upload's votes for its photo
CANDIDATES = 8
# The candidates a check's pass does not verify are compared as the upload's whole frame (verify.whole_frame:
# a photo of another shape costs a division, one of its shape a cell pre-test first), this far down the
# ranking: the photo around a large pasted part, out-voted by the part's own photo and chance candidates,
# can rank past CANDIDATES with 3-5 votes (2026-12-06 #6, docs/benchmarks.md).
WHOLE_CANDIDATES = 24
MIN_VOTES = 3
# After re-shares only, each covering under PART_COVERED of its photo, the next PART_CHECKS candidates the
# pass did not verify are verified (2026-12-06 #6, docs/benchmarks.md: the photo around a large pasted part).
PART_COVERED = 0.95
PART_CHECKS = 3
# The rest search (check): when every hit is of part of its photo (covering under REST_COVERED of it) and
# the hits together explain under REST_SHARE of the upload's frame (each hit's visible part of its photo
# brought to the upload's pixels by its transform: a large pasted part of one photo explains 0.3-0.75 and
# leaves the rest to the photo around it; a crop or a rotation of one photo 0.78-0.9, its edge cells not
# counted as covered; a whole photo inside a screenshot's bars covers all of itself), the upload's other
# query descriptors (past QUERY_DESCRIPTORS, up to verify.UPLOAD_KEYPOINTS of each orientation) are searched
# too and the photos ranked again on all of them: the photo around the part, with 0-3 votes among the
# first 500, gets 3-27. Of the first REST_CANDIDATES of that ranking not yet verified, those whose votes
# line up (QUICK_CONSISTENT) are verified, at most REST_CHECKS of them; the others go to the whole-frame
# hook (2026-12-06 #8, docs/benchmarks.md). An upload with no hit (every unrelated one) pays nothing.
# REST_CHECKS = 0: off.
REST_SHARE = 0.78
REST_COVERED = PART_COVERED
REST_CANDIDATES = 24
REST_CHECKS = 4
# The rest search also when nothing verified at all, the search ranked candidates and the upload carries
# overlaid text (REST_TEXT: lines of a caption's outlined letters or a screenshot's text, as
# verify._without_text finds them): a meme's caption and censor bars over a fake thin its photo's votes
# (the text's surroundings are filled before keypoints are detected, the bars' edges take keypoints), and
# after a crop + resize + JPEG chain or a screenshot of it the photo is left 0-3 votes among the first
# QUERY_DESCRIPTORS rows and ranks 10th-24th or nowhere, while all the rows give it 4-11 (the benchmark's
# censor-caption kind, 2026-12-07, docs/benchmarks.md: +9 singles, +2 memes, no loss). An upload without
# such text pays nothing more (2 of 129 unedited photos of the benchmark show some; screenshots do), nor
# does one that no photo gave FIRST_VOTES votes at scale (the staged search's first stage: no candidate).
# A part of an upload in which an edit was flagged already (instances.find_instances sets ``rest_text``
# False on it: a caption band, a meme's picture) does not.
# False: the rest search only after partial hits, as before.
REST_TEXT = True
RELATIVE_VOTES = 0.03  # of the best photo's votes: a patch pasted in from another photo can out-vote it
# Of the votes of a candidate that verified: weaker candidates are verified only when their votes line up
# (QUICK_CONSISTENT, below). Such a candidate is the photo around a large patch pasted in from the one that
# verified (50-70 % of a photo replaced: its own votes come from the rest, 5-15 against the patch's
# 30-100) or a second picture beside it; chance candidates of a re-share rarely line up.
SKIP_BELOW = 0.1
RATIO = 0.9
# The same photo registered twice or more (two people share it, a person and a platform both register it,
# a re-registration in another tenant; identical or re-encoded) puts each copy's descriptors next to the
# others': the ratio test against the second nearest would cancel every vote and no copy would be found.
# So NEIGHBOURS are looked up: a descriptor whose nearest few are of two or more photos, all within
# TIE_DISTANCE bits (so within twice that of each other: near-duplicates), the nearest clearly nearer than
# the first neighbour beyond them (the ratio test passes against it: distinctive against everything else),
# is a *tie* of that group; the photos of a group count a vote each once one of their pairs ties on
# TIE_VOTES of the upload's descriptors (in one orientation). Chance ties scatter over pairs as chance
# votes scatter over photos; a photo registered twice ties on dozens (a re-share of a test scene registered
# twice: 70-106 ties on its pair, 27 when re-encoded at another quality and size; other pairs at most 5,
# on synthetic scenes that share their shapes). Up to NEIGHBOURS - 1 copies of one photo are covered (a
# group filling every neighbour has nothing beyond it to be distinctive against, and does not vote).
NEIGHBOURS = 5
TIE_VOTES = 6
TIE_DISTANCE = 16
STRONG_VOTES = 12  # candidates with fewer votes are "weak": only the MAX_WEAK with most votes are verified
# Recall first: by default every weak candidate whose votes line up is verified (8). A cut by count
# alone, NCII_SHIELD_DERIVATIVE_WEAK_CHECKS=3, verified the upload's own photo for 90.8 % of uploads
# at 1M photos instead of 95.0 %, and 1 for 73 % (docs/benchmarks.md).
MAX_WEAK = max(0, int(os.environ.get("NCII_SHIELD_DERIVATIVE_WEAK_CHECKS", "8")))
# A weak candidate is verified only when at least QUICK_CONSISTENT of its votes agree on one plausible
# similarity transform (each voting keypoint paired with its nearest keypoint of the candidate's
# signature): chance votes scatter; the votes of the photo an upload was made from line up. Of the
# weak candidates that fail this, the QUICK_FALLBACK with most votes are verified all the same as
# long as nothing has verified yet (the scale run's windows, whose indexed keypoints are not those of
# the signature they are verified against, need it: 1 verified 90.8 % of uploads against their own
# photo at 1M, 3 94.2 %, every candidate 95.0 %; the registered photos themselves lost nothing. Those
# figures are of the scale run's first registry, before 2026-12-06 #7 made it honest; not measured again).
QUICK_CONSISTENT = 3
QUICK_DISTANCE = 64  # bits: a voting keypoint's partner in the signature
QUICK_REPROJECTION = 8.0  # pixels in the frame
QUICK_FALLBACK = 3
IVF_FROM = 50_000
QUERY_DESCRIPTORS = 500  # per orientation
SAMPLE = 64  # of each photo's INDEX_KEYPOINTS coarse-first descriptors, the first this many are indexed
LIST_SIZE = 1024  # descriptors per inverted list, on average, when the inverted file is (re)built
MIN_LISTS, MAX_LISTS = 256, 65536
TWO_LEVEL_FROM = 8192  # lists: from this many, the lists' centres are found through an inverted file of their own
TOP_SHARE = 256  # ... of nlist / TOP_SHARE lists
TOP_NPROBE = 4
# The lists are searched in two stages (_staged): the nearest FIRST_PROBES of each query descriptor's
# NPROBE lists, then the others only when some photo already has FIRST_VOTES votes in one orientation.
# At 100k photos (120 derivative uploads, 60 unrelated portraits) every upload verified against its own
# photo had 3 or more after the nearest list (p5 4), an unrelated one at most 3 (51 of 60 under 3); at
# 1M one of the 120 had 2 and was lost (scale run E). 2 stops almost no unrelated upload.
# Those figures are of the old synthetic registry, where hundreds of crops of the upload's own photo voted.
# In the honest one (2026-12-06 #7: no window of an upload's own photo) this gate stops 12 of 120 uploads
# at 1M (own photo verified 90.0 %; all 120 against the 129 photos alone); FIRST_PROBES = NPROBE (one
# stage) verifies 95.0 % for +15 ms of CPU an unrelated upload (docs/benchmarks.md).
# So the first stage is now by query descriptors, not by lists (_few_first): the first FIRST_QUERIES of
# each orientation (the strongest of each part of the frame: features._spread's order) in all NPROBE
# lists, the other rows only when some photo then has FIRST_VOTES votes in one orientation. At 1M (same
# index and uploads, settings alternated; docs/benchmarks.md, "The first stage at 1M, second look"): own
# photo verified 108 -> 113 / 120 (FIRST_PROBES = NPROBE: 114), an unrelated upload alone +3.6 to +4.4 ms
# wall p50 (24.8 -> 28.7 and 25.2 -> 29.6 ms on quiet runs, 27.8 -> 31.4 on a noisier one: a thin margin
# to the 30 ms target; FIRST_PROBES = NPROBE: +10 ms; 250: 111 / 120 for +2.0 to +2.5 ms), derivative
# p50 / p95 unchanged, 0 false flags; at 100k 109 -> 116 / 120 (as one search). 5 of 60 unrelated
# uploads pass the gate (6 after the nearest list).
# FIRST_QUERIES = QUERY_DESCRIPTORS: the stages by lists as before (FIRST_PROBES of NPROBE).
FIRST_PROBES = 1
FIRST_VOTES = 3
FIRST_QUERIES = 300
# With two-level centres, the first stage's nearest list is found through FIRST_TOP_NPROBE of the
# centres' own lists (TOP_NPROBE: the same centres as the full search); the second stage searches
# the centres again at TOP_NPROBE and scans the lists of that search the first stage has not, dropping
# the first stage's hits from a list outside them, so its votes are still those of one search.
# Scale run F (1,000,129 photos, same run and uploads): 1 instead of 4 took the unrelated upload's
# search from 9.3 to 6.8 ms of CPU (check 28.4 -> 25.8 ms), a derivative upload's from 22.9 to 24.8
# ms (the centres searched twice), the same uploads verified (93.3 %), 0 false flags.
FIRST_TOP_NPROBE = 1
NPROBE = 4
REBUILD_GROWTH = 2  # the inverted file is rebuilt with more lists once it holds this many times what it was built for
# VERIFY_ONCE: a check verifies each distinct signature once per orientation: candidates whose stored
# signatures are identical get a copy of the first one's verdict. The output is the same as verifying
# each (verify is deterministic); only repeated work is saved. Off by default: it saves work only where
# entries share a signature, which the scale run's windows do (each carries its photo's signature: run F
# at 1,000,129 photos, verification 47.6 -> 21.6 ms of CPU at the median, check 90 -> 63 ms, the same
# verdicts) but a registry rarely does (a photo registered twice under two ids, whose ties vote for both:
# see NEIGHBOURS), so it would flatter the scale run.
VERIFY_ONCE = False
# CHECK_THREADS: an upload's check on two threads, the calling thread and one of a pool shared by all
# checks: the faiss search's query descriptors split in two halves (each stage of _staged; faiss on one
# OpenMP thread each), and with SPLIT_VERIFY (off by default: below) the candidates sure to be verified
# (see check: strong ones no verdict can drown, and those whose votes line up) verified two at a time
# before the serial pass, which then reads their verdicts. The output is that of one thread (each query row is searched alone; verify is
# deterministic). A pool busy with other uploads' checks holds no check up: what its thread has not
# begun, the calling thread does. 1: all of it on the calling thread, as before (faiss then uses its own
# OpenMP threads: the process's default). At 1,000,129 photos (docs/benchmarks.md, "Issue 20: scale,
# 2026-12-06 #4"): critical path p50 152 -> 107 ms, an unrelated upload's 41 -> 35-37 ms, the same hits
# for every upload; on a loaded machine (no idle core) wall time is no better. The critical path assumes
# no wait for the GIL: faiss releases it, verify mostly does not (two verifications at once wait for it
# ~20 % of the time and take 18-29 % more CPU); on a near-idle machine the wall p50 went 165 -> 141 ms
# with the search split and stayed 142 ms with the verifications split too ("Review, 2026-12-06 #4").
# On the idle machine at the end of 2026-12-06 #4 (the same index and uploads, settings alternated): wall
# p50 / p95 162 / 258 ms on one thread, 140 / 235 ms with the search split, 142 / 211 ms with the
# verifications split too, which cost 21 % more CPU per check (159 -> 192 ms): so SPLIT_VERIFY is off.
CHECK_THREADS = max(1, int(os.environ.get("NCII_SHIELD_DERIVATIVE_CHECK_THREADS", "2")))
SPLIT_SEARCH = True  # the search's rows on CHECK_THREADS threads
SPLIT_VERIFY = False  # the sure candidates' verifications on CHECK_THREADS threads (GIL-bound: see above)
SPLIT_FROM = 64  # query rows: fewer are searched on the calling thread alone
# The cell search (CELL_CANDIDATES; 0: off): candidates that need no keypoints, for the whole-frame comparison
# alone. Most of a photo replaced (the large kind, 50-70 %) leaves its remainder few of the photo's indexed
# keypoints: the photo gets 0-4 votes even on all of the upload's descriptors and ranks 18th-95th of the
# benchmark's 129, or nowhere, while its cells, seen in place in an upload of its shape, still match.
# Every registered photo's textured cells are kept as keys (its shape within WHOLE_ASPECT, the cell's place
# in the 16 x 16 grid, its 16-bit structure pattern: _CellKeys); an upload's own cells (Upload.whole_cells,
# as uploaded and mirrored) look them up, and the photos with CELL_VOTES identical cells or more, most first,
# go to the whole-frame hook (its pre-test and comparison, unchanged, decide), for every upload whose search
# ranked some photo (not only after partial hits: the photo the pasted part came from, when registered,
# verifies, and its outline can cover most of the frame, _explained 0.78-1.0 for 2 of the 29 below; a part
# pasted from an unregistered picture verifies nothing). Its own cells cost an upload ~3 ms of CPU, a lookup ~1 ms
# at 129 photos; find_instances p50 +1 ms an unrelated upload, +14 ms a large one (bench/hc_timing.py, alternated,
# loaded). At 1,000,129 (2026-12-07 #7, bench/derivative_latency.py with the synthetic entries' cells, alternated,
# loaded): a lookup 2.2 ms CPU p50, 4.8 p95 (compiled; bench/hb_celllookup.py), and the whole-frame comparisons of
# its photos, which CELL_CROWD keeps few. The benchmark's large singles of
# their photo's shape (2026-12-07 #6, bench/hc_cellkeys.py): the own photo 13-85 identical cells where it
# was flagged directly and lost end to end (29 uploads), 0-106 over all of them; unrelated photos of the
# upload's shape (16,200 pairs) 0-12, 10 or more in 5 pairs. Memory (counted in memory_bytes): 6 bytes a textured
# cell (_CellRun: the key's high half once a run; 8 before 2026-12-07 #7, the same lookups), 190 cells a photo on
# average over the 129 (24,568 keys), 13 bytes a photo by row and ~106 for the id -> row table: ~1.26 KB a photo,
# beside the faiss sample's 2.5 KB (the target is 4 KB a photo; the tests' photos of random descriptors have no
# cells).
CELL_CANDIDATES = 8
CELL_VOTES = 10
# A photo the cell search brought is chosen for cells that match the upload's: unrelated ones among them reach
# larger blocks than chance fits (a re-share in a screenshot against an unrelated photo: 13, stopped by the
# matching floor; 2026-12-07 #6). Its whole-frame verdict stands only with a block of this many cells
# (verify.DENSE_LARGE, the bar where a rule rests on the block alone): the 28 large singles that the cell
# search brought in as whole frames had blocks of 12-77 directly, 3 of them under 15; end to end the bar costs
# those 3 and a 3 x 3 grid's fake (large singles 729 -> 726 of 903, composites 76 -> 75 of 114).
CELL_DENSE = 15
# ... and only a photo that stands out from the crowd of photos that chance gives the upload's cells in this
# registry: with CELL_CROWD photos or more found, those under CELL_MARGIN times the CELL_CROWD-th's count are left
# out (0: off). The crowd grows with the registry: at the benchmark's 129 photos an upload's cells find 0-3 photos
# (the 2,823 uploads of the large kind's cache, whole: 0 for 1,281, 1 for 1,474, 2 for 67, 3 for 1), so nothing
# changes there; at 1,000,129 (2026-12-07 #7, the synthetic
# registry with cells, bench/hb_cellsynth.py) the 120 timed uploads' lookups found 5.4 photos on average, up to
# 159, and one of them was flagged by its whole frame (a blurred, mirrored upload against a photo with 16 identical
# cells while the 5th found had 14, block 15 = CELL_DENSE): a false flag. Of the 134 large singles (bench/
# hb_large_uploads.py, 230 of the even photos) whose own photo the lookup found at 1M, 132 stand out so (counts
# 10-100 against a crowd of 0-25; 133 at a margin of 1.25); of the chance photos among the 8 best of every lookup,
# 93 of 789 do (those of lookups finding fewer than 5). End to end at 1M (settings alternated; the margin chosen on
# these very uploads, no held-out set): the large singles' own photo flagged 174 of 230 at 1.25, 1.5 and 2 (166
# without the cell search), false flags 1 (an upload whose lookup found 1,024 photos, the 5th with 19 identical
# cells, the flagged one 25), 0 and 0 (3 with no margin); the 120 timed uploads' hits identical at all three.
CELL_CROWD = 5
CELL_MARGIN = 1.5
# ... but a photo with CELL_SURE identical cells or more is compared whatever the crowd, and the crowd is taken
# among the photos under it: the same photo registered five times or more (several banks or tenants, re-encoded or
# resized copies) is its own crowd, every copy at the own photo's count, and the margin left them all out (the
# review of 2026-12-07 #7, R2: 5 copies at 77-82 cells, hits none). Chance counts measured: up to 25 for the 1M
# run's real uploads (synthetic registry, 2026-12-07 #7), up to 39 for an upload crafted of the registry's
# commonest patterns at 200k (the review's probe, R5); the own photo of the large singles at 1M: 10-100.
CELL_SURE = 40
# An upload not of its content's shape (a screenshot: the picture between its bars, verify.Upload.content) looks up
# its content's cells too, at the content's shape, when verify compares such a box as the whole frame
# (verify.WHOLE_CONTENT): its own photo, mostly replaced, is often no keypoint candidate at all (2026-12-08, HC).
# OFF by default with WHOLE_CONTENT (the 2026-12-08 review, R2: unedited zoom-cropped re-shares in screenshots flagged)
CELL_CONTENT = False

Lookup = Callable[[list[int]], dict[int, str]]

_pool = LazyPool(lambda: CHECK_THREADS - 1, "derivative-check")  # made on first use


class _Jobs:
    """Jobs taken in order by whichever thread is free (the calling thread and the pool's)."""

    def __init__(self, jobs: list[Callable[[], object]]) -> None:
        self._jobs = jobs
        self._next = 0
        self._lock = threading.Lock()
        self.results: list[object] = [None] * len(jobs)

    def work(self) -> None:
        while True:
            with self._lock:
                k, self._next = self._next, self._next + 1
            if k >= len(self._jobs):
                return
            self.results[k] = self._jobs[k]()


def _shared(jobs: list[Callable[[], object]]) -> list:
    """Every job's result, in order: run by the calling thread and, when CHECK_THREADS > 1, by up to
    CHECK_THREADS - 1 pool threads at once. Returns only when no pool thread is still running one (the
    caller may hold the index's lock for them). A pool busy with other checks never holds this up: the
    calling thread takes every job its threads have not begun."""
    if CHECK_THREADS < 2 or len(jobs) < 2:
        return [job() for job in jobs]
    shared = _Jobs(jobs)
    pending = [_pool().submit(one_faiss_thread, shared.work) for _ in range(min(CHECK_THREADS, len(jobs)) - 1)]
    try:
        one_faiss_thread(shared.work)
    finally:
        started = [p for p in pending if not p.cancel()]
        wait(started)
    for p in started:
        p.result()  # a job's exception, raised here
    return shared.results


def _row_parts(n: int) -> list[slice]:
    """The query rows split into CHECK_THREADS parts (SPLIT_SEARCH; one part under SPLIT_FROM rows)."""
    count = CHECK_THREADS if SPLIT_SEARCH and n >= SPLIT_FROM else 1
    bounds = [n * k // count for k in range(count + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


@dataclass(frozen=True)
class Candidate:
    id: int
    votes: int
    mirrored: bool  # the mirrored upload got more votes
    other_votes: int  # votes of the other orientation
    # the upload keypoints that voted, as indices into the points of each orientation (as uploaded, mirrored)
    voters: tuple[np.ndarray, np.ndarray] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class DerivativeHit:
    id: int
    votes: int
    verdict: Verdict


class _CellRun(NamedTuple):
    """One sorted run of :class:`_CellKeys`: the keys split at their 16th bit. A key's high half (its shape's bin
    and the cell's place) is stored once for all the run's keys that share it (``heads``, where each begins in
    ``starts``); each key keeps only its low half (the 16-bit structure pattern) and its photo's row: 6 bytes a
    cell instead of 8. The same keys in the same order as one sorted uint32 array (:meth:`keys`)."""

    heads: np.ndarray  # uint16: the distinct high halves, ascending
    starts: np.ndarray  # uint32, len(heads) + 1: where each head's keys begin in low / rows
    low: np.ndarray  # uint16: the keys' low halves, ascending within each head
    rows: np.ndarray  # uint32: the row of the photo each key belongs to

    @classmethod
    def of(cls, keys: np.ndarray, rows: np.ndarray) -> _CellRun:
        """A run of sorted uint32 ``keys`` and their rows."""
        heads, first = np.unique((keys >> 16).astype(np.uint16), return_index=True)
        starts = np.append(first, len(keys)).astype(np.uint32)
        return cls(heads, starts, (keys & 0xFFFF).astype(np.uint16), rows.astype(np.uint32, copy=False))

    @classmethod
    def merged(cls, parts: list[_CellRun | tuple[np.ndarray, np.ndarray]], alive: np.ndarray) -> _CellRun:
        """One run of the keys of ``parts`` (runs, or (keys, rows) in any order), oldest first, without those of
        rows no longer ``alive``: sorted by key, equal keys in the order they were added, which is their rows'
        (a row is new with each add: the parts' rows ascend part by part). Each key and its row are sorted as
        one 64-bit value, in place (timsort, which merges the runs already sorted): ~16 bytes a key at most
        while merging, against ~33 for an argsort of separate arrays."""
        n = sum(len(p) if isinstance(p, _CellRun) else len(p[0]) for p in parts)
        both = np.empty(n, np.uint64)  # key << 32 | row
        at = 0
        for p in parts:
            keys, rows = (p.keys(), p.rows) if isinstance(p, _CellRun) else p
            part = both[at:at + len(keys)]
            part[:] = keys
            part <<= np.uint64(32)
            part |= rows
            at += len(keys)
        if not alive.all():  # withdrawn photos' keys dropped here
            both = both[alive[(both & np.uint64(0xFFFFFFFF)).astype(np.int64)] == 1]
            n = len(both)
        both.sort(kind="stable")
        heads_all, low, rows = np.empty(n, np.uint16), np.empty(n, np.uint16), np.empty(n, np.uint32)
        step = 1 << 22
        for a in range(0, n, step):
            chunk = both[a:a + step]
            rows[a:a + step] = chunk & np.uint64(0xFFFFFFFF)
            chunk = chunk >> np.uint64(32)
            low[a:a + step] = chunk & np.uint64(0xFFFF)
            heads_all[a:a + step] = chunk >> np.uint64(16)
        del both
        first = np.flatnonzero(heads_all[1:] != heads_all[:-1]) + 1 if n else np.zeros(0, np.int64)
        starts = np.concatenate([[0], first, [n]]).astype(np.uint32) if n else np.zeros(1, np.uint32)
        return cls(heads_all[starts[:-1]] if n else np.zeros(0, np.uint16), starts, low, rows)

    def keys(self) -> np.ndarray:
        """The run's keys, sorted (uint32)."""
        high = np.repeat(self.heads.astype(np.uint32) << 16, np.diff(self.starts.astype(np.int64)))
        return high | self.low

    def __len__(self) -> int:
        return len(self.low)

    @property
    def nbytes(self) -> int:
        return self.heads.nbytes + self.starts.nbytes + self.low.nbytes + self.rows.nbytes


@njit(nogil=True, cache=True)
def _count_cells(queries, heads, starts, low, rows, counts, votes, reached, n_reached):  # noqa: ANN001, ANN202
    """For each query key (uint32) found in a run, one more cell for the row of every stored key equal to it
    (``counts``, by row); a row whose count reaches ``votes`` is appended to ``reached``. Returns how many rows
    ``reached`` holds. Binary searches: the head among ``heads``, the low half within its head's keys."""
    for k in range(len(queries)):
        q = queries[k]
        head, pattern = np.uint16(q >> 16), np.uint16(q & 0xFFFF)
        a, b = 0, len(heads)
        while a < b:
            m = (a + b) >> 1
            if heads[m] < head:
                a = m + 1
            else:
                b = m
        if a == len(heads) or heads[a] != head:
            continue
        lo, end = np.int64(starts[a]), np.int64(starts[a + 1])
        hi = end
        while lo < hi:
            m = (lo + hi) >> 1
            if low[m] < pattern:
                lo = m + 1
            else:
                hi = m
        while lo < end and low[lo] == pattern:
            r = rows[lo]
            counts[r] += 1
            if counts[r] == votes:
                reached[n_reached] = r
                n_reached += 1
            lo += 1
    return n_reached


class _CellKeys:
    """Every registered photo's textured cells as keys (:func:`_cell_keys`) and the row of the photo each belongs
    to, for the cell search (:data:`CELL_CANDIDATES`): 6 bytes a cell (the key's low 16 bits and a 32-bit row; the
    high 16 bits once per run for all keys sharing them: :class:`_CellRun`) and 13 a photo (its id, shape and
    whether it is still registered, by row). Kept as sorted runs of doubling size (an add makes a run and merges
    runs of equal size: each key is sorted O(log n) times); a lookup searches each run (compiled:
    :func:`_count_cells`). A withdrawn photo's keys are skipped until the merge that drops them (a photo added
    again gets a new row). Not thread-safe: the index's lock."""

    def __init__(self) -> None:
        self._runs: list[_CellRun] = []
        self._photo = array("q")  # by row: the photo's id
        self._shape = array("f")  # ... its aspect ratio
        self._alive = bytearray()  # ... 1 while it is registered
        self._row: dict[int, int] = {}  # id -> its current row

    def add(self, batch: list[tuple[F.PhotoFeatures, int]]) -> None:
        keys, ids, shapes = [], [], []
        for f, id in batch:
            if f.frame_w <= 0 or f.frame_h <= 0:  # no frame (a signature made by hand): nothing to compare
                continue
            keys.append(_cell_keys(f.cells, f.frame_w / f.frame_h))
            ids.append(id)
            shapes.append(f.frame_w / f.frame_h)
        self.add_keys(ids, shapes, keys)

    def add_keys(self, ids: list[int], shapes: list[float], keys: list[np.ndarray]) -> None:
        """Photos by their keys (:func:`_cell_keys` of their cells) and aspect ratios, as :meth:`add` makes them."""
        if not ids:
            return
        rows = []
        for id, shape, k in zip(ids, shapes, keys):
            self.remove(id)
            row = len(self._photo)
            self._photo.append(id)
            self._shape.append(shape)
            self._alive.append(1)
            self._row[id] = row
            rows.append(np.full(len(k), row, np.uint32))
        parts: list = [(np.concatenate(keys).astype(np.uint32, copy=False), np.concatenate(rows))]
        held = len(parts[0][0])
        while self._runs and len(self._runs[-1]) <= held:
            parts.insert(0, self._runs.pop())
            held += len(parts[0])
        self._runs.append(_CellRun.merged(parts, np.frombuffer(self._alive, np.uint8)))

    def remove(self, id: int) -> None:
        row = self._row.pop(id, None)
        if row is not None:
            self._alive[row] = 0

    def nbytes(self) -> int:
        """The runs, the rows' arrays and the id -> row table (its hash table and two int objects an entry: ~100
        bytes a photo, the review of 2026-12-07 #6)."""
        table = sys.getsizeof(self._row) + 2 * sys.getsizeof(2**40) * len(self._row)
        return sum(run.nbytes for run in self._runs) + 13 * len(self._photo) + table

    def lookup(self, cells: tuple, aspect: float) -> list[tuple[int, int]]:
        """(photo id, identical cells) of the photos of the upload's shape (within WHOLE_ASPECT) with
        CELL_VOTES or more, most first; ``cells``: the upload's own cell summaries, as uploaded and mirrored
        (the better of the two counts)."""
        best: dict[int, int] = {}
        if not self._runs:
            return []
        alive = np.frombuffer(self._alive, np.uint8)
        shape = np.frombuffer(self._shape, np.float32)
        votes = max(1, min(int(CELL_VOTES), 65535))
        for c in cells:
            q = np.unique(np.concatenate([_cell_keys(c, aspect, shift) for shift in (-1, 0, 1)]))
            counts = np.zeros(len(self._photo), np.uint16)  # a row holds at most GRID * GRID keys
            reached = np.empty(len(self._photo), np.int64)
            n = 0
            for run in self._runs:
                n = _count_cells(q, run.heads, run.starts, run.low, run.rows, counts, votes, reached, n)
            row = np.sort(reached[:n])
            count = counts[row].astype(np.int64)
            keep = (count >= CELL_VOTES) & (alive[row] == 1) & (np.abs(aspect / shape[row] - 1.0) <= WHOLE_ASPECT)
            for r, k in zip(row[keep].tolist(), count[keep].tolist()):
                id = self._photo[r]
                best[id] = max(best.get(id, 0), k)
        return sorted(best.items(), key=lambda item: (-item[1], item[0]))


def _cell_keys(cells: F.Cells, aspect: float, shift: int = 0) -> np.ndarray:
    """The textured cells (TEXTURE_STD) of a 16 x 16 grid of summaries as 32-bit keys: the shape's bin (its
    aspect ratio in steps of WHOLE_ASPECT, plus ``shift``: a lookup tries the bins beside its own too; ratios
    beyond 0.28-3.5 share the outermost bins), the cell's place and its 16-bit structure pattern."""
    where = np.flatnonzero((cells.std >= F.TEXTURE_STD).ravel())
    shape = min(126, max(-126, int(math.floor(math.log(aspect) / math.log1p(WHOLE_ASPECT))))) + shift + 128
    return ((shape << 24) | (where.astype(np.uint32) << 16) | cells.pattern.ravel()[where].astype(np.uint32)
            ).astype(np.uint32)


class DerivativeIndex(SignalIndex):
    """See the module docstring. Thread-safe: one lock around faiss and the maps."""

    load_in_batches = True  # the follower feeds it while streaming the store (values are ~26 KB each)

    def __init__(self, lookup: Lookup | None = None, *, cache_size: int = 512) -> None:
        self._lock = threading.RLock()
        self._faiss = faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(256))
        self._ivf = False
        self._built_for = 0  # descriptors held when the inverted file was last built
        self._quantizer: faiss.IndexBinary | None = None
        self._ids: set[int] = set()
        self._values: dict[int, F.PhotoFeatures] = {}
        self._lookup = lookup
        self._cache: OrderedDict[int, F.PhotoFeatures] = OrderedDict()
        self._cache_size = cache_size
        self._searched = threading.local()  # this thread's last search (candidates), for the rest search
        self._cells = _CellKeys()  # the cell search's keys (CELL_CANDIDATES)

    def bind_lookup(self, lookup: Lookup) -> None:
        """Fetch full signatures through ``lookup`` from now on and drop the ones held in memory."""
        with self._lock:
            self._lookup = lookup
            self._values.clear()

    # -- changes -------------------------------------------------------------------------------

    def add(self, value: str, id: int) -> None:
        self.add_features(F.decode(value), id)

    def add_many(self, entries: Iterable[tuple[str, int]]) -> None:
        batch = [(F.decode(v), i) for v, i in entries]
        self.add_features_many(batch)

    def add_features(self, features: F.PhotoFeatures, id: int) -> None:
        self.add_features_many([(features, id)])

    def add_features_many(self, batch: list[tuple[F.PhotoFeatures, int]]) -> None:
        if not batch:
            return
        with self._lock:
            for _, id in batch:
                self.remove(id)
            desc = [f.descriptors[:SAMPLE] for f, _ in batch]
            labels = np.concatenate([np.full(len(d), id, dtype=np.int64) for d, (_, id) in zip(desc, batch)])
            codes = np.ascontiguousarray(np.concatenate(desc), dtype=np.uint8)
            total = self._faiss.ntotal + len(codes)
            if total >= IVF_FROM and (not self._ivf or total >= REBUILD_GROWTH * self._built_for):
                self._to_ivf(codes, labels)
            else:
                self._add(codes, labels)
            for f, id in batch:
                self._ids.add(id)
                if self._lookup is None:
                    self._values[id] = f
            if CELL_CANDIDATES:
                self._cells.add(batch)

    def _stored(self) -> tuple[np.ndarray, np.ndarray]:
        """Every stored descriptor and its label, read back from faiss (for a rebuild)."""
        if not self._ivf:
            old = faiss.downcast_IndexBinary(self._faiss.index)
            if not old.ntotal:
                return np.zeros((0, 32), np.uint8), np.zeros(0, np.int64)
            return (faiss.vector_to_array(old.xb).reshape(-1, 32),
                    faiss.vector_to_array(self._faiss.id_map).astype(np.int64))
        lists = self._faiss.invlists
        codes, labels = [], []
        for i in range(self._faiss.nlist):
            n = lists.list_size(i)
            if n:
                codes.append(faiss.rev_swig_ptr(lists.get_codes(i), n * 32).reshape(n, 32).copy())
                labels.append(faiss.rev_swig_ptr(lists.get_ids(i), n).astype(np.int64))
        if not codes:
            return np.zeros((0, 32), np.uint8), np.zeros(0, np.int64)
        return np.concatenate(codes), np.concatenate(labels)

    def _to_ivf(self, codes: np.ndarray, labels: np.ndarray) -> None:
        """(Re)build the inverted file over what is stored plus ``codes``: about LIST_SIZE descriptors per
        list; the lists' centres are stored descriptors drawn at random (binary k-means at a million
        photos costs minutes and gained little recall over this in the scale run), searched exactly
        below TWO_LEVEL_FROM lists and through an inverted file of their own above."""
        old_codes, old_labels = self._stored()
        codes, labels = np.concatenate([old_codes, codes]), np.concatenate([old_labels, labels])
        del old_codes, old_labels
        nlist = 1 << max(0, round(math.log2(max(1, len(codes) / LIST_SIZE))))
        nlist = int(min(MAX_LISTS, max(MIN_LISTS, nlist)))
        rng = np.random.default_rng(0)
        centres = np.unique(codes[rng.choice(len(codes), size=min(len(codes), 2 * nlist), replace=False)], axis=0)
        centres = centres[rng.permutation(len(centres))[:nlist]]
        nlist = len(centres)
        if nlist >= TWO_LEVEL_FROM:  # the centres in an inverted file of their own: ~2 x sqrt(nlist) distances
            top = faiss.IndexBinaryFlat(256)
            top.add(np.ascontiguousarray(centres[rng.choice(nlist, size=nlist // TOP_SHARE, replace=False)]))
            quantizer = faiss.IndexBinaryIVF(top, 256, nlist // TOP_SHARE)
            quantizer.is_trained = True
            quantizer.nprobe = TOP_NPROBE
            self._top = top
        else:
            quantizer = faiss.IndexBinaryFlat(256)
        quantizer.add(np.ascontiguousarray(centres))
        ivf = faiss.IndexBinaryIVF(quantizer, 256, nlist)
        ivf.is_trained = True
        ivf.nprobe = NPROBE
        self._quantizer = quantizer  # keep the Python wrapper alive as long as the index
        self._faiss, self._ivf, self._built_for = ivf, True, len(codes)
        self._fill(codes, labels)

    def _fill(self, codes: np.ndarray, labels: np.ndarray) -> None:
        """Fill the empty inverted file: every descriptor assigned (as :meth:`_add` would), then each list
        written in one go, so that it holds no spare capacity (appending batch by batch grows each list's
        buffer by doubling: up to twice the memory)."""
        assign = np.empty(len(codes), np.int64)
        two_level = isinstance(self._quantizer, faiss.IndexBinaryIVF)
        if two_level:
            self._quantizer.nprobe = 1
        try:
            for start in range(0, len(codes), 1 << 20):
                part = np.ascontiguousarray(codes[start:start + (1 << 20)])
                assign[start:start + len(part)] = self._quantizer.search(part, 1)[1][:, 0]
        finally:
            if two_level:
                self._quantizer.nprobe = TOP_NPROBE
        order = np.argsort(assign, kind="stable")
        assign = assign[order]
        codes = np.ascontiguousarray(codes[order])
        labels = np.ascontiguousarray(labels[order])
        del order
        bounds = np.searchsorted(assign, np.arange(self._faiss.nlist + 1))
        lists = self._faiss.invlists
        for i in np.flatnonzero(np.diff(bounds)):
            a, b = int(bounds[i]), int(bounds[i + 1])
            lists.add_entries(int(i), b - a, faiss.swig_ptr(labels[a:b]), faiss.swig_ptr(codes[a:b]))
        self._faiss.ntotal = len(codes)

    def _add(self, codes: np.ndarray, labels: np.ndarray) -> None:
        """Add to faiss; a stored descriptor goes to the list of the nearest centre found through one
        top-level list (a query looks through TOP_NPROBE of them)."""
        two_level = self._ivf and isinstance(self._quantizer, faiss.IndexBinaryIVF)
        if two_level:
            self._quantizer.nprobe = 1
        try:
            self._faiss.add_with_ids(codes, labels)
        finally:
            if two_level:
                self._quantizer.nprobe = TOP_NPROBE

    def remove(self, id: int) -> None:
        with self._lock:
            if id not in self._ids:
                return
            self._faiss.remove_ids(np.array([id], dtype=np.int64))
            self._cells.remove(id)
            self._ids.discard(id)
            self._values.pop(id, None)
            self._cache.pop(id, None)

    def __len__(self) -> int:
        return len(self._ids)

    def memory_bytes(self) -> int:
        """Bytes held by the faiss index (codes and labels; centroids when inverted) and the cell search's keys."""
        n = self._faiss.ntotal
        extra = 0
        if self._ivf:
            extra = self._faiss.nlist * (32 + 8 * 3)  # centres, list heads
            if isinstance(self._quantizer, faiss.IndexBinaryIVF):
                extra += self._faiss.nlist * (32 + 8)  # the centres' own inverted file
        return n * (32 + 8) + extra + self._cells.nbytes()

    # -- queries -------------------------------------------------------------------------------

    def candidates(self, upload: Upload, allowed: Callable[[int], bool] | None = None,
                   limit: int = CANDIDATES) -> list[Candidate]:
        """The photos sharing most keypoints with the upload, most votes first.

        A descriptor votes when its nearest stored descriptor is close (<= VOTE_DISTANCE bits) and
        clearly nearer than the second nearest (ratio test), for the photo and the orientation
        (as uploaded or mirrored) it came from; when the two nearest are of two photos that tie on
        TIE_VOTES descriptors or more (a photo registered twice), for both (:func:`_votes`). Photos
        with under MIN_VOTES votes, or under RELATIVE_VOTES of the best photo's, are not candidates.
        """
        parts = [upload.descriptors[:QUERY_DESCRIPTORS], upload.mirrored_descriptors[:QUERY_DESCRIPTORS]]
        queries = np.ascontiguousarray(np.concatenate(parts), dtype=np.uint8)
        self._searched.last = None
        if not len(queries):
            return []
        mirrored = np.arange(len(queries)) >= len(parts[0])
        with self._lock:
            if self._faiss.ntotal == 0:
                return []
            by_rows = FIRST_QUERIES < QUERY_DESCRIPTORS
            if not self._ivf or (self._faiss.nprobe <= FIRST_PROBES and not by_rows):
                distances, labels = self._search_all(queries)
            else:
                found = self._few_first(queries, mirrored) if by_rows else self._staged(queries, mirrored)
                if found is None:
                    return []
                distances, labels = found
        # kept for this thread's check (the rest search, REST_SHARE): the first rows are not searched again
        self._searched.last = (upload, distances, labels, len(parts[0]))
        return _ranked(distances, labels, mirrored, len(parts[0]), allowed, limit)

    def _search_all(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every query row in one search (all NPROBE lists when inverted), the rows split as
        :func:`_row_parts`; the caller holds the lock."""
        index = self._faiss
        found = _shared([lambda rows=rows: index.search(queries[rows], NEIGHBOURS)
                         for rows in _row_parts(len(queries))])
        return np.concatenate([d for d, _ in found]), np.concatenate([i for _, i in found])

    def _rest_candidates(self, upload: Upload, allowed: Callable[[int], bool] | None,
                         limit: int) -> list[Candidate]:
        """The photos ranked again on all the upload's query descriptors (up to UPLOAD_KEYPOINTS of each
        orientation, not only the first QUERY_DESCRIPTORS): the first rows' neighbours are those of this
        thread's last :meth:`candidates` of the upload when there is one, else searched again."""
        last, self._searched.last = getattr(self._searched, "last", None), None
        plain, flipped = upload.descriptors, upload.mirrored_descriptors
        if last is not None and last[0] is upload:
            _, first_d, first_l, n_first = last
            rows = [plain[QUERY_DESCRIPTORS:], flipped[QUERY_DESCRIPTORS:]]
        else:
            first_d = np.zeros((0, NEIGHBOURS), np.int32)
            first_l = np.zeros((0, NEIGHBOURS), np.int64)
            n_first = 0
            rows = [plain, flipped]
        queries = np.ascontiguousarray(np.concatenate(rows), dtype=np.uint8)
        if not len(queries) and not len(first_d):
            return []
        with self._lock:
            if self._faiss.ntotal == 0:
                return []
            if len(queries):
                extra_d, extra_l = self._search_all(queries)
            else:
                extra_d, extra_l = np.zeros((0, NEIGHBOURS), first_d.dtype), np.zeros((0, NEIGHBOURS), np.int64)
        n_extra = len(rows[0])
        # as uploaded (the first search's rows, then the others), then mirrored: rows index the upload's points
        d = np.concatenate([first_d[:n_first], extra_d[:n_extra], first_d[n_first:], extra_d[n_extra:]])
        i = np.concatenate([first_l[:n_first], extra_l[:n_extra], first_l[n_first:], extra_l[n_extra:]])
        n_plain = n_first + n_extra
        return _ranked(d, i, np.arange(len(d)) >= n_plain, n_plain, allowed, limit)

    def _few_first(self, queries: np.ndarray, mirrored: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The inverted file searched in two stages by query rows (the caller holds the lock): the first
        FIRST_QUERIES query descriptors of each orientation in all NPROBE lists, the others only when some
        photo then has FIRST_VOTES votes in one orientation; None when none has. Each row is searched alone
        (each stage's rows split as :func:`_row_parts`), so when both stages run the result is that of one
        search over all the rows."""
        index = self._faiss
        plain = int((~mirrored).sum())
        first = np.zeros(len(queries), dtype=bool)
        first[:min(FIRST_QUERIES, plain)] = True
        first[plain:plain + FIRST_QUERIES] = True

        def search(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            found = _shared([lambda rows=rows: index.search(q[rows], NEIGHBOURS)
                             for rows in _row_parts(len(q))])
            return np.concatenate([d for d, _ in found]), np.concatenate([i for _, i in found])

        near_d, near_i = search(np.ascontiguousarray(queries[first]))
        hit, keys = _votes(near_d, near_i, mirrored[first])
        if not len(keys[hit]) or np.unique(keys[hit], return_counts=True)[1].max() < FIRST_VOTES:
            return None
        d = np.empty((len(queries), near_d.shape[1]), dtype=near_d.dtype)
        i = np.empty((len(queries), near_i.shape[1]), dtype=near_i.dtype)
        d[first], i[first] = near_d, near_i
        if not first.all():
            d[~first], i[~first] = search(np.ascontiguousarray(queries[~first]))
        return d, i

    def _staged(self, queries: np.ndarray, mirrored: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The inverted file searched in two stages (the caller holds the lock): every query descriptor in
        the nearest FIRST_PROBES of its NPROBE lists, and only when some photo then has FIRST_VOTES votes
        in one orientation, in its other lists; None when it has not (the upload is related to no
        registered photo: most uploads, which then cost a quarter of the lists). When the second stage
        runs, the result is that of one search over all NPROBE lists (the two stages' nearest merged).
        Each stage's rows are split between CHECK_THREADS threads (:func:`_row_parts`); the settings
        faiss reads (nprobe) are set before and restored after both threads' searches."""
        ivf = self._faiss
        nprobe = ivf.nprobe
        quantizer = self._quantizer
        cheap = (isinstance(quantizer, faiss.IndexBinaryIVF) and FIRST_TOP_NPROBE < quantizer.nprobe
                 and FIRST_PROBES == 1 < nprobe)
        top_nprobe = quantizer.nprobe if cheap else 0
        parts = _row_parts(len(queries))

        def first(rows: slice) -> tuple:
            q = queries[rows]
            centres = None
            if cheap:  # the nearest centre through fewer of the centres' lists
                first_d, first_i = quantizer.search(q, 1)
            else:
                centres = quantizer.search(q, nprobe)
                first_d, first_i = centres[0][:, :FIRST_PROBES], centres[1][:, :FIRST_PROBES]
            near_d, near_i = ivf.search_preassigned(q, NEIGHBOURS, np.ascontiguousarray(first_i),
                                                    np.ascontiguousarray(first_d))
            return first_i, near_d, near_i, centres

        def second(rows: slice, part: tuple) -> tuple:
            q = queries[rows]
            first_i, near_d, near_i, centres = part
            if cheap:
                centre_d, centre_i = quantizer.search(q, nprobe)
                scanned = centre_i == first_i  # (n, nprobe): the list the first stage scanned
                outside = ~scanned.any(axis=1)  # it is not one of the full search's: its hits do not count
                near_d, near_i = near_d.copy(), near_i.copy()
                near_d[outside], near_i[outside] = np.iinfo(near_d.dtype).max, -1
                rest_i = np.where(scanned, -1, centre_i)  # faiss skips a list numbered -1
                far_d, far_i = ivf.search_preassigned(q, NEIGHBOURS, np.ascontiguousarray(rest_i),
                                                      np.ascontiguousarray(centre_d))
            else:
                centre_d, centre_i = centres
                far_d, far_i = ivf.search_preassigned(q, NEIGHBOURS, np.ascontiguousarray(centre_i[:, FIRST_PROBES:]),
                                                      np.ascontiguousarray(centre_d[:, FIRST_PROBES:]))
            return near_d, near_i, far_d, far_i

        try:
            if cheap:
                quantizer.nprobe = FIRST_TOP_NPROBE
            ivf.nprobe = FIRST_PROBES
            firsts = _shared([lambda rows=rows: first(rows) for rows in parts])
        finally:
            if cheap:
                quantizer.nprobe = top_nprobe
            ivf.nprobe = nprobe
        hit, keys = _votes(np.concatenate([p[1] for p in firsts]), np.concatenate([p[2] for p in firsts]), mirrored)
        if not len(keys[hit]) or np.unique(keys[hit], return_counts=True)[1].max() < FIRST_VOTES:
            return None
        try:
            ivf.nprobe = nprobe if cheap else nprobe - FIRST_PROBES
            seconds = _shared([lambda rows=rows, part=part: second(rows, part) for rows, part in zip(parts, firsts)])
        finally:
            ivf.nprobe = nprobe
        near_d, near_i, far_d, far_i = (np.concatenate([p[k] for p in seconds]) for k in range(4))
        d, i = np.concatenate([near_d, far_d], axis=1), np.concatenate([near_i, far_i], axis=1)
        # ties: the nearer list's first, as one search scans them
        order = np.argsort(d, axis=1, kind="stable")[:, :NEIGHBOURS]
        return np.take_along_axis(d, order, axis=1), np.take_along_axis(i, order, axis=1)

    def check(self, upload: Upload, allowed: Callable[[int], bool] | None = None,
              limit: int = CANDIDATES) -> list[DerivativeHit]:
        """Verified re-shares and derivatives among the best candidates, highest score first. An upload
        that names its photos (:class:`~ncii_shield.signals.derivative.instances.Part` with ``only``: a
        picture of a composite in which another picture holds those photos) is verified against those
        only, in both orientations, without a candidate search."""
        only = getattr(upload, "only", ())
        if only:
            ids = [i for i in only if allowed is None or allowed(i)]
            signatures = self._signatures(ids)
            regs = [(id, signatures[id]) for id in ids if id in signatures]
            verdicts = _shared([lambda reg=reg: verify(reg, upload) for _, reg in regs]) if SPLIT_VERIFY \
                else [verify(reg, upload) for _, reg in regs]
            hits = [DerivativeHit(id, 0, verdict) for (id, _), verdict in zip(regs, verdicts)
                    if verdict.outcome is not Outcome.NONE]
            hits.sort(key=lambda h: (-h.verdict.score, h.id))
            return hits
        ranked = self.candidates(upload, allowed, max(limit, WHOLE_CANDIDATES))  # its first `limit`: candidates(limit)
        found = ranked[:limit]
        signatures = self._signatures([c.id for c in found])
        done: dict[tuple[bytes, bool], tuple[F.PhotoFeatures, Verdict]] = {}

        def verified(reg: F.PhotoFeatures, mirrored: bool) -> Verdict:
            if not VERIFY_ONCE:
                return verify(reg, upload, mirrored=mirrored)
            key = (_digest(reg), mirrored)
            seen = done.get(key)
            if seen is not None and _same(seen[0], reg):
                return copy.deepcopy(seen[1])
            verdict = verify(reg, upload, mirrored=mirrored)
            done[key] = (reg, verdict)
            return copy.deepcopy(verdict) if seen is None else verdict

        consistent: dict[int, int] = {}

        def lines_up(reg: F.PhotoFeatures, c: Candidate) -> int:
            if c.id not in consistent:
                consistent[c.id] = consistent_votes(reg, upload, c)
            return consistent[c.id]

        def judged(reg: F.PhotoFeatures, c: Candidate) -> Verdict:
            verdict = verified(reg, c.mirrored)
            if verdict.outcome is Outcome.NONE and c.other_votes >= MIN_VOTES and verdict.inliers < 2 * MIN_INLIERS:
                verdict = verified(reg, not c.mirrored)  # symmetric scenes vote both ways
            return verdict

        # The candidates the pass below verifies whatever the others' verdicts, verified up front on
        # CHECK_THREADS threads (it then reads their verdicts): the strong ones that no verdict can drown
        # (a candidate that verifies has at most the best candidate's votes), and those whose votes line
        # up (verified as weak or strong alike) while the MAX_WEAK budget cannot run out before them.
        sure: dict[int, Verdict] = {}
        if SPLIT_VERIFY and CHECK_THREADS > 1 and not VERIFY_ONCE and found:
            top = found[0].votes
            chosen = [c for k, c in enumerate(found) if c.id in signatures and (
                (c.votes >= STRONG_VOTES and c.votes >= SKIP_BELOW * top)
                or (k < MAX_WEAK and lines_up(signatures[c.id], c) >= QUICK_CONSISTENT))]
            if len(chosen) > 1:
                sure = dict(zip((c.id for c in chosen),
                                _shared([lambda c=c: judged(signatures[c.id], c) for c in chosen])))
        hits = []
        confirmed = 0  # votes of the best candidate that verified
        weak = 0  # candidates under STRONG_VOTES verified so far
        unchecked = 0  # weak candidates verified although their votes did not line up
        tried: set[int] = set()
        for c in found:
            reg = signatures.get(c.id)
            if reg is None:
                continue
            drowned = c.votes < SKIP_BELOW * confirmed
            if c.votes < STRONG_VOTES or drowned:  # chance agreement looks like this: an unrelated upload stops early
                if weak >= MAX_WEAK:
                    continue
                if lines_up(reg, c) < QUICK_CONSISTENT:
                    if hits or unchecked >= QUICK_FALLBACK:
                        continue
                    unchecked += 1
                weak += 1
            tried.add(c.id)
            verdict = sure.pop(c.id) if c.id in sure else judged(reg, c)
            if verdict.outcome is not Outcome.NONE:
                hits.append(DerivativeHit(c.id, c.votes, verdict))
                confirmed = max(confirmed, c.votes)
        assert not sure, "a candidate verified up front was not one the serial pass verifies"
        # A re-share of part of one photo (covering under PART_COVERED of it: another photo's large pasted
        # part) leaves the rest of the frame to explain: the photo around it, out-voted, its votes at one or
        # two spots (so they cannot line up), is among the next few candidates.
        if hits and all(h.verdict.outcome is Outcome.RESHARE and h.verdict.details.get("covered", 1.0) < PART_COVERED
                        for h in hits):
            rest = [c for c in found if c.id in signatures and c.id not in tried][:PART_CHECKS]
            for c in rest:  # one that does not verify is still compared as the whole frame, below
                verdict = judged(signatures[c.id], c)
                if verdict.outcome is not Outcome.NONE:
                    tried.add(c.id)
                    hits.append(DerivativeHit(c.id, c.votes, verdict))
        if len(ranked) > limit:  # past the check's candidates: fetched only now (the hook's alone)
            signatures.update(self._signatures([c.id for c in ranked[limit:]]))
        # Part of the frame left unexplained by the hits (a large pasted part's photo), or nothing verified in
        # an upload with overlaid text (a caption and bars thinned its photo's votes: REST_TEXT): the photos
        # ranked again on all the upload's query descriptors; those that line up verified, the others to the
        # hook.
        if REST_CHECKS and ((hits and all(h.verdict.details.get("covered", 1.0) < REST_COVERED for h in hits)
                             and _explained(hits, signatures, upload) < REST_SHARE)
                            or (REST_TEXT and not hits and ranked and upload.rest_text
                                and _overlaid_text(upload))):
            seen = {c.id for c in ranked}
            rest = [c for c in self._rest_candidates(upload, allowed, REST_CANDIDATES + len(tried) + len(hits))
                    if c.id not in tried and all(h.id != c.id for h in hits)][:REST_CANDIDATES]
            signatures.update(self._signatures([c.id for c in rest if c.id not in signatures]))
            lined = [c for c in rest if c.id in signatures
                     and consistent_votes(signatures[c.id], upload, c) >= QUICK_CONSISTENT]
            for c in lined[:REST_CHECKS]:  # one that does not verify is still compared as the whole frame, below
                verdict = judged(signatures[c.id], c)
                if verdict.outcome is not Outcome.NONE:
                    tried.add(c.id)
                    hits.append(DerivativeHit(c.id, c.votes, verdict))
            ranked = ranked + [c for c in rest if c.id not in seen]
        self._searched.last = None
        # The photos whose cells match the upload's own in place (the cell search: no keypoints needed) go to
        # the hook too, once the search ranked some photo (at scale most unrelated uploads rank none).
        if CELL_CANDIDATES and ranked:
            seen = {c.id for c in ranked} | {h.id for h in hits}
            fh, fw = upload.frame.grey.shape
            sources = [((upload.whole_cells(False), upload.whole_cells(True)), fw / fh)]
            box = upload.content if CELL_CONTENT and _verify.WHOLE_CONTENT else None
            if box is not None and abs((box[2] / box[3]) / (fw / fh) - 1.0) > WHOLE_ASPECT:
                sources.append(((upload.box_cells(box, False), upload.box_cells(box, True)), box[2] / box[3]))
            more = []
            for own, aspect in sources:  # each lookup with its own crowd, at most CELL_CANDIDATES photos each
                with self._lock:
                    cells = self._cells.lookup(own, aspect)
                under = [k for _, k in cells if k < CELL_SURE]  # (the lookup gives them most first)
                crowd = under[CELL_CROWD - 1] if CELL_CROWD and len(under) >= CELL_CROWD else 0
                more += [Candidate(id, 0, False, 0) for id, k in cells
                         if (k >= CELL_SURE or k >= CELL_MARGIN * crowd) and id not in seen
                         and (allowed is None or allowed(id))][:CELL_CANDIDATES]
                seen |= {c.id for c in more}
            signatures.update(self._signatures([c.id for c in more]))
            ranked = ranked + more
            by_cells = {c.id for c in more}
        else:
            by_cells = set()
        for c in ranked:  # the others of the upload's shape: compared as its whole frame (needs no keypoints)
            verdict = whole_frame(signatures[c.id], upload) if c.id in signatures and c.id not in tried else None
            if verdict is not None and c.id in by_cells and verdict.details.get("dense", 0) < CELL_DENSE:
                verdict = None
            if verdict is not None:
                hits.append(DerivativeHit(c.id, c.votes, verdict))
        hits.sort(key=lambda h: (-h.verdict.score, h.id))
        return hits

    def _signatures(self, ids: list[int]) -> dict[int, F.PhotoFeatures]:
        with self._lock:
            if self._lookup is None:
                return {i: self._values[i] for i in ids if i in self._values}
            out, missing = {}, []
            for i in ids:
                if i in self._cache:
                    self._cache.move_to_end(i)
                    out[i] = self._cache[i]
                else:
                    missing.append(i)
            lookup = self._lookup
        if missing:
            fetched = {i: F.decode(v) for i, v in lookup(missing).items()}
            with self._lock:
                for i, f in fetched.items():
                    if i in self._ids:
                        self._cache[i] = f
                        out[i] = f
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return out

    def query(self, value: str, threshold: float) -> list[IndexMatch]:
        """Signatures are not matched against signatures: a check needs the uploaded photo itself."""
        raise InvalidRequest("derivative signatures cannot be matched as strings; check the photo itself "
                             "(POST /v1/match/media or `ncii-shield check FILE`)")


def _ranked(distances: np.ndarray, labels: np.ndarray, mirrored: np.ndarray, n_plain: int,
            allowed: Callable[[int], bool] | None, limit: int) -> list[Candidate]:
    """The candidates of a search's neighbours (rows: the upload's first ``n_plain`` query descriptors as
    uploaded, then the mirrored ones), most votes first (see :meth:`DerivativeIndex.candidates`)."""
    hit, keys = _votes(distances, labels, mirrored)
    key, votes = np.unique(keys[hit], return_counts=True)
    by_photo: dict[int, list[int]] = {}
    for k, v in zip(key.tolist(), votes.tolist()):
        by_photo.setdefault(k // 2, [0, 0])[k % 2] = v
    ranked = sorted(by_photo.items(), key=lambda item: (-max(item[1]), item[0]))
    out: list[Candidate] = []
    best = 0
    for id, (plain, flipped) in ranked:
        votes_ = max(plain, flipped)
        if votes_ < MIN_VOTES or votes_ < RELATIVE_VOTES * best:
            break
        if allowed is not None and not allowed(id):  # before ranking: others' photos never crowd out
            continue
        best = best or votes_
        voters = (np.flatnonzero((hit[:n_plain] & (keys[:n_plain] == id * 2)).any(axis=1)),
                  np.flatnonzero((hit[n_plain:] & (keys[n_plain:] == id * 2 + 1)).any(axis=1)))
        out.append(Candidate(id, votes_, flipped > plain, min(plain, flipped), voters))
        if len(out) == limit:
            break
    return out


def _explained(hits: list[DerivativeHit], signatures: dict[int, F.PhotoFeatures], upload: Upload) -> float:
    """The share of the upload's frame the hits explain together (at most their sum): each hit's visible part
    of its photo (``covered``) brought to the upload's pixels by its transform. A hit without a transform or
    signature counts as explaining all of it."""
    total = 0.0
    area = float(upload.frame.width * upload.frame.height)
    for h in hits:
        reg, transform = signatures.get(h.id), h.verdict.transform
        if reg is None or transform is None:
            return math.inf
        scale = abs(float(np.linalg.det(np.asarray(transform, np.float64)[:, :2])))  # photo pixels per upload pixel
        if scale <= 0:
            return math.inf
        total += float(h.verdict.details.get("covered", 1.0)) * reg.width * reg.height / scale / area
    return total


def _overlaid_text(upload: Upload) -> bool:
    """Whether the upload's frame holds a line of overlaid text (a meme's caption, a screenshot's text): cells
    with TEXT_SHARE of outlined-letter pixels, TEXT_RUN or more in a row, as :func:`verify._without_text`
    finds them before detecting keypoints. About a millisecond; asked only of an upload whose candidates
    all failed."""
    edge = text_pixels(upload.frame.grey)
    if not edge.any():
        return False
    cells = cv2.resize(edge.astype(np.float32), (F.GRID, F.GRID), interpolation=cv2.INTER_AREA) >= TEXT_SHARE
    lines = cv2.morphologyEx(cells.astype(np.uint8), cv2.MORPH_OPEN, np.ones((1, TEXT_RUN), np.uint8))
    return bool(lines.any())


def _digest(f: F.PhotoFeatures) -> bytes:
    """A digest of a signature's content (what :func:`verify` reads), to find identical signatures."""
    h = hashlib.blake2b(digest_size=16)
    h.update(np.array([f.width, f.height, f.frame_w, f.frame_h], np.int64).tobytes())
    for a in (f.points, f.descriptors, f.cells.mean, f.cells.std, f.cells.cb, f.cells.cr, f.cells.pattern):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.digest()


def _same(a: F.PhotoFeatures, b: F.PhotoFeatures) -> bool:
    """Whether two signatures are identical (the digest's match confirmed field by field)."""
    return (a is b) or ((a.width, a.height, a.frame_w, a.frame_h) == (b.width, b.height, b.frame_w, b.frame_h)
                         and all(np.array_equal(x, y) for x, y in (
                             (a.points, b.points), (a.descriptors, b.descriptors), (a.cells.mean, b.cells.mean),
                             (a.cells.std, b.cells.std), (a.cells.cb, b.cells.cb), (a.cells.cr, b.cells.cr),
                             (a.cells.pattern, b.cells.pattern))))


def _votes(distances: np.ndarray, labels: np.ndarray, mirrored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which query descriptors vote, and for what: ``(hit, keys)``, both (n, NEIGHBOURS); a key is the photo's
    id x 2 + 1 when the query is of the mirrored upload, column k that of the k-th nearest stored descriptor.
    Column 0 votes when the nearest is close and clearly nearer than the second nearest (ratio test). Else,
    a *tie group* (see NEIGHBOURS): the leading neighbours within TIE_DISTANCE bits, of two or more photos,
    the nearest clearly nearer than the first neighbour outside the group (which must exist); each photo of
    the group votes (once, in its first column) when it ties with another photo of the group on
    TIE_VOTES query descriptors or more (in one orientation)."""
    n, k = labels.shape
    valid = labels >= 0
    d = np.where(valid, distances.astype(np.float32), np.float32(256.0))
    keys = labels * 2 + mirrored[:, None]
    d1 = d[:, 0]
    close = (d1 <= VOTE_DISTANCE) & valid[:, 0]
    second = d[:, 1] if k > 1 else np.full_like(d1, 256.0)
    plain = close & (d1 < RATIO * second)
    hit = np.zeros((n, k), bool)
    hit[:, 0] = plain
    if k < 2:
        return hit, keys
    # the group: the leading run of neighbours within TIE_DISTANCE (a photo's own repeated descriptor
    # counts once: only the first column of each photo in a row)
    inside = np.cumprod((d <= TIE_DISTANCE) & valid, axis=1).astype(bool)
    size = inside.sum(axis=1)
    first = np.ones((n, k), bool)
    for j in range(1, k):
        first[:, j] = (labels[:, :j] != labels[:, j:j + 1]).all(axis=1)
    member = inside & first
    outside = np.take_along_axis(d, np.minimum(size, k - 1)[:, None], axis=1)[:, 0]
    tie = close & ~plain & (member.sum(axis=1) >= 2) & (size < k) & (d1 < RATIO * outside)
    if tie.any():  # keep the photos of the groups that tie with another photo of theirs TIE_VOTES times or more
        rows = np.flatnonzero(tie)
        pairs = [(rows[m], a, b) for a in range(k) for b in range(a + 1, k)
                 for m in [np.flatnonzero(member[rows, a] & member[rows, b])] if len(m)]
        if pairs:
            row = np.concatenate([r for r, _, _ in pairs])
            ca = np.concatenate([np.full(len(r), a) for r, a, _ in pairs])
            cb = np.concatenate([np.full(len(r), b) for r, _, b in pairs])
            ka, kb = keys[row, ca], keys[row, cb]
            pair = np.stack([np.minimum(ka, kb), np.maximum(ka, kb)], axis=1)
            _, inverse, counts = np.unique(pair, axis=0, return_inverse=True, return_counts=True)
            strong = counts[inverse.reshape(-1)] >= TIE_VOTES
            hit[row[strong], ca[strong]] = True
            hit[row[strong], cb[strong]] = True
    return hit, keys


def consistent_votes(reg: F.PhotoFeatures, upload: Upload, candidate: Candidate) -> int:
    """How many of a candidate's votes one plausible similarity transform explains (the larger count of
    the two orientations): each voting keypoint is paired with its nearest keypoint in the signature
    (within QUICK_DISTANCE bits; each signature keypoint keeps its nearest voter only), and a RANSAC fit
    over those pairs counts the ones that agree. A few
    hundred microseconds, against milliseconds for :func:`verify`. Without the voters (a candidate made
    by hand), every vote counts."""
    if candidate.voters is None:
        return candidate.votes
    if not len(reg.descriptors):
        return 0
    best = 0
    for mirrored in (candidate.mirrored, not candidate.mirrored):
        voters = candidate.voters[int(mirrored)]
        if len(voters) < max(3, best + 1):
            continue
        points = upload.mirrored_points if mirrored else upload.points
        desc = upload.mirrored_descriptors if mirrored else upload.descriptors
        gap = np.bitwise_count(desc[voters][:, None, :] ^ reg.descriptors[None, :, :])
        gap = gap.sum(axis=2, dtype=np.int32)
        nearest = gap.argmin(axis=1)
        close = gap[np.arange(len(voters)), nearest] <= QUICK_DISTANCE
        # one partner per keypoint of the signature (the voter nearest to it): an upload keypoint found at
        # several pyramid levels, or a generic descriptor that several voters land on, would otherwise
        # count several times at one spot, and a fit collapsing them all onto it (scale ~0) would win over
        # the true one and be rejected as implausible
        order = np.lexsort((gap[np.arange(len(voters)), nearest], nearest))
        first = np.r_[True, nearest[order][1:] != nearest[order][:-1]]
        keep = np.zeros(len(voters), bool)
        keep[order[first]] = True
        close &= keep
        if close.sum() < 3:
            continue
        matrix, inliers = cv2.estimateAffinePartial2D(
            points[voters[close]], reg.points[nearest[close]], method=cv2.RANSAC,
            ransacReprojThreshold=QUICK_REPROJECTION, maxIters=200, confidence=0.99, refineIters=0)
        if matrix is None:
            continue
        scale = math.hypot(matrix[0, 0], matrix[1, 0])
        angle = math.degrees(math.atan2(matrix[1, 0], matrix[0, 0]))
        if SCALE_RANGE[0] <= scale <= SCALE_RANGE[1] and abs(angle) <= MAX_ROTATION:
            best = max(best, int(inliers.sum()))
    return best
