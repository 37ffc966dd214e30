"""One index over every registered mark's keypoints: candidates for all marks at once, then checks.

Each mark contributes its keypoints (:mod:`ncii_shield.signals.marks.features`: up to 400 upright
ORB descriptors with their place and size in the mark) to one faiss binary index, labelled
``mark id * 1024 + keypoint number``. An upload's keypoints each look up their nearest stored
descriptors; every close one says "mark m, this large, here". These guesses are pooled by mark,
size (steps of 25 %) and place (steps of a fifth of the mark), and the :data:`CANDIDATES` places
with most guesses are checked by correlation (:func:`~ncii_shield.signals.marks.search.verify`).
So an upload costs one keypoint pass, one batched search and a bounded number of checks, whatever
the number of marks.

The faiss index is exact (``IndexBinaryFlat``) while small; past :data:`IVF_FROM` descriptors it
becomes an inverted-file index trained on the descriptors present then. Like every index here it
is a cache of the store, built from a snapshot and following the change log.

    index = MarkIndex()
    index.add(value, signal_id)                       # value: a stored mark signature ("m1:...")
    found = index.find(UploadFrame.from_rgb(rgb))     # [MarkFound(id, label, score, box)]
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import faiss
import numpy as np

from ncii_shield.errors import InvalidRequest
from ncii_shield.index.base import IndexMatch, SignalIndex
from ncii_shield.signals.marks import template as T
from ncii_shield.signals.marks.search import THRESHOLD, Prepared, UploadFrame, overlap, verify

MATCH_DISTANCE = 64  # bits of 256: a stored descriptor this close to an upload's is a guess
NEIGHBOURS = 3  # stored descriptors each upload keypoint looks up
CANDIDATES = 16  # places checked per upload
SIZE_STEP = math.log(1.25)
PLACE_STEP = 0.2  # of the mark's longer side
IVF_FROM = 100_000
NPROBE = 8
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
    points: np.ndarray  # (n, 2) in units of the mark's longer side
    sizes: np.ndarray
    aspect_w: float  # mark width / longer side
    aspect_h: float


class MarkIndex(SignalIndex):
    """See the module docstring. Thread-safe: one lock around faiss and the entries."""

    load_in_batches = True

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._faiss = faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(256))
        self._ivf = False
        self._entries: dict[int, _Entry] = {}

    # -- changes -------------------------------------------------------------------------------

    def add(self, value: str, id: int) -> None:
        self.add_many([(value, id)])

    def add_many(self, entries: Iterable[tuple[str, int]]) -> None:
        batch = [(T.decode(v), i) for v, i in entries]
        if not batch:
            return
        with self._lock:
            for _, id in batch:
                self.remove(id)
            codes, labels = [], []
            for template, id in batch:
                kp = template.keypoints
                side = max(template.width, template.height)
                self._entries[id] = _Entry(Prepared.of(template), kp.points, kp.sizes, template.width / side,
                                           template.height / side)
                codes.append(kp.descriptors)
                labels.append(id * _SLOT + np.arange(len(kp.descriptors), dtype=np.int64))
            all_codes = np.ascontiguousarray(np.concatenate(codes), dtype=np.uint8)
            all_labels = np.concatenate(labels)
            if not self._ivf and self._faiss.ntotal + len(all_codes) >= IVF_FROM:
                self._to_ivf(all_codes, all_labels)
            elif len(all_codes):
                self._faiss.add_with_ids(all_codes, all_labels)

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
            entry = self._entries.pop(id, None)
            if entry is None:
                return
            self._faiss.remove_ids(id * _SLOT + np.arange(len(entry.sizes), dtype=np.int64))

    def __len__(self) -> int:
        return len(self._entries)

    # -- queries -------------------------------------------------------------------------------

    def find(self, frame: UploadFrame, allowed: Callable[[int], bool] | None = None, *,
             threshold: float = THRESHOLD, limit: int = CANDIDATES) -> list[MarkFound]:
        """Marks found in the upload (best first; a mark stamped several times gives several)."""
        found = []
        for score, id, box in self._checked(frame, allowed, limit):
            if score >= threshold:
                found.append(MarkFound(id, self._entries[id].prepared.template.label, round(score, 4),
                                       frame.to_upload_box(box)))
        return found

    def _checked(self, frame: UploadFrame, allowed: Callable[[int], bool] | None,
                 limit: int) -> list[tuple[float, int, tuple[int, int, int, int]]]:
        places = self.candidates(frame, allowed, limit)
        with self._lock:
            entries = {id: self._entries.get(id) for id, _ in places}
        out: list[tuple[float, int, tuple[int, int, int, int]]] = []
        for id, box in places:
            entry = entries[id]
            if entry is None:
                continue
            checked = verify(entry.prepared, frame, box)
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
        return out

    def candidates(self, frame: UploadFrame, allowed: Callable[[int], bool] | None = None,
                   limit: int = CANDIDATES) -> list[tuple[int, tuple[float, float, float, float]]]:
        """The places with most keypoint guesses: ``(mark id, (x, y, w, h) in frame pixels)``."""
        pts, sizes, desc = frame.keypoints
        if not len(desc):
            return []
        with self._lock:
            if self._faiss.ntotal == 0:
                return []
            distances, labels = self._faiss.search(np.ascontiguousarray(desc), NEIGHBOURS)
            q, c = np.nonzero((distances <= MATCH_DISTANCE) & (labels >= 0))
            labels = labels[q, c]
            marks, numbers = labels // _SLOT, labels % _SLOT
            rows = []
            for mark in np.unique(marks).tolist():
                entry = self._entries.get(mark)
                if entry is None or (allowed is not None and not allowed(mark)):
                    continue
                sel = np.flatnonzero(marks == mark)
                k = numbers[sel]
                side = sizes[q[sel]] / entry.sizes[k]  # the mark's longer side in frame pixels
                x0 = pts[q[sel], 0] - entry.points[k, 0] * side
                y0 = pts[q[sel], 1] - entry.points[k, 1] * side
                rows.append(np.stack([np.full(len(sel), mark, np.float64), side, x0, y0,
                                      np.full(len(sel), entry.aspect_w), np.full(len(sel), entry.aspect_h)], 1))
        if not rows:
            return []
        g = np.concatenate(rows)
        mark, side, x0, y0, aw, ah = g.T
        cx, cy = x0 + aw * side / 2, y0 + ah * side / 2
        key = np.stack([mark, np.round(np.log(side) / SIZE_STEP), np.floor(cx / (PLACE_STEP * side)),
                        np.floor(cy / (PLACE_STEP * side))], 1).astype(np.int64)
        _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
        inverse = inverse.ravel()
        order = np.argsort(-counts, kind="stable")[: limit * 2]
        out: list[tuple[int, tuple[float, float, float, float]]] = []
        for b in order.tolist():
            members = inverse == b
            s = float(np.exp(np.log(side[members]).mean()))
            m = int(mark[members][0])
            box = (float(np.median(cx[members]) - aw[members][0] * s / 2), float(np.median(cy[members]) - ah[members][0] * s / 2),
                   float(aw[members][0] * s), float(ah[members][0] * s))
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
