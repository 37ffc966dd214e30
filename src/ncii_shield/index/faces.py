"""An index over enrolled face embeddings (unit vectors, cosine similarity), 1:N search.

Each enrolled person (one *signal*) has 1-5 vectors, one per enrolment photo; a query face is scored
against a signal by its closest vector. The index is exact (one matrix product) while it holds at
most ``exact_limit`` vectors; past that it becomes a faiss inverted-file index (``IndexIVFFlat``,
inner product) trained on the vectors it holds, searching ``nprobe`` of its lists. Its recall
against the exact search is measured by bench/likeness_bench.py (docs/benchmarks.md)::

    index = FaceIndex(dim=128)
    index.add(7, vectors)                     # signal 7: its enrolment vectors (n, 128)
    index.search(query_vectors, threshold=0.93)  # per query: [(signal_id, similarity)], best first
    index.remove(7)                           # withdrawal: gone from the next search

Like every index it is a cache of the store: built from a snapshot, then kept in step with adds and
removals. It holds biometric vectors in memory only; it is never saved.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

EXACT_LIMIT = 50_000


@dataclass(frozen=True, order=True)
class FaceHit:
    similarity: float
    signal_id: int


class FaceIndex:
    """See the module docstring. Thread-safe: one lock around the matrix / faiss index."""

    def __init__(self, dim: int, *, exact_limit: int = EXACT_LIMIT, nprobe: int = 64) -> None:
        self.dim = dim
        self.exact_limit = exact_limit
        self.nprobe = nprobe
        self._lock = threading.Lock()
        self._vectors = np.zeros((0, dim), dtype=np.float32)  # exact mode: one row per vector
        self._labels = np.zeros(0, dtype=np.int64)  # row -> label
        self._next_label = 0
        self._signal_of: dict[int, int] = {}  # label -> signal id
        self._labels_of: dict[int, list[int]] = {}  # signal id -> labels
        self._ivf = None  # faiss index once past exact_limit

    def __len__(self) -> int:
        """Number of enrolled signals."""
        return len(self._labels_of)

    @property
    def vectors(self) -> int:
        return len(self._signal_of)

    @property
    def approximate(self) -> bool:
        return self._ivf is not None

    def add(self, signal_id: int, vectors: np.ndarray) -> None:
        """Enrol ``vectors`` (n, dim) for ``signal_id``, replacing any it had."""
        vectors = np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)
        if vectors.shape[1] != self.dim:
            raise ValueError(f"vectors must have {self.dim} dimensions, not {vectors.shape[1]}")
        with self._lock:
            self._remove(signal_id)
            labels = np.arange(self._next_label, self._next_label + len(vectors), dtype=np.int64)
            self._next_label += len(vectors)
            for label in labels:
                self._signal_of[int(label)] = signal_id
            self._labels_of[signal_id] = [int(x) for x in labels]
            if self._ivf is not None:
                self._ivf.add_with_ids(vectors, labels)
            else:
                self._vectors = np.concatenate([self._vectors, vectors])
                self._labels = np.concatenate([self._labels, labels])
                if len(self._labels) > self.exact_limit:
                    self._to_ivf()

    def add_many(self, entries: list[tuple[int, np.ndarray]]) -> None:
        """Bulk load (a snapshot): one concatenation instead of one per signal."""
        if not entries:
            return
        with self._lock:
            blocks, label_blocks = [], []
            for signal_id, vectors in entries:
                self._remove(signal_id)
                vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
                labels = np.arange(self._next_label, self._next_label + len(vectors), dtype=np.int64)
                self._next_label += len(vectors)
                self._labels_of[signal_id] = labels.tolist()
                self._signal_of.update(dict.fromkeys(labels.tolist(), signal_id))
                blocks.append(vectors)
                label_blocks.append(labels)
            vectors, labels = np.concatenate(blocks), np.concatenate(label_blocks)
            if self._ivf is not None:
                self._ivf.add_with_ids(vectors, labels)
            else:
                self._vectors = np.concatenate([self._vectors, vectors])
                self._labels = np.concatenate([self._labels, labels])
                if len(self._labels) > self.exact_limit:
                    self._to_ivf()

    def remove(self, signal_id: int) -> None:
        """Withdraw a signal's vectors; an unknown id does nothing."""
        with self._lock:
            self._remove(signal_id)

    def _remove(self, signal_id: int) -> None:
        labels = self._labels_of.pop(signal_id, None)
        if not labels:
            return
        for label in labels:
            self._signal_of.pop(label, None)
        gone = np.array(labels, dtype=np.int64)
        if self._ivf is not None:
            import faiss

            self._ivf.remove_ids(faiss.IDSelectorBatch(gone))
        else:
            keep = ~np.isin(self._labels, gone)
            self._vectors, self._labels = self._vectors[keep], self._labels[keep]

    def _to_ivf(self) -> None:
        import faiss

        n = len(self._labels)
        nlist = int(min(1024, max(16, 4 * np.sqrt(n))))
        quantizer = faiss.IndexFlatIP(self.dim)
        ivf = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        sample = self._vectors[rng.choice(n, size=min(n, 48 * nlist), replace=False)]
        ivf.train(sample)
        ivf.add_with_ids(self._vectors, self._labels)
        ivf.nprobe = self.nprobe
        self._ivf, self._quantizer = ivf, quantizer
        self._vectors = np.zeros((0, self.dim), dtype=np.float32)
        self._labels = np.zeros(0, dtype=np.int64)

    def search(self, queries: np.ndarray, threshold: float, k: int = 8) -> list[list[FaceHit]]:
        """For each query vector, the signals with a vector at cosine similarity >= ``threshold``
        (at most ``k``), best first."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if queries.shape[0] == 0:
            return []
        with self._lock:
            if self._ivf is not None:
                sims, labels = self._ivf.search(queries, 4 * k)
            elif len(self._labels):
                scores = queries @ self._vectors.T
                top = min(4 * k, scores.shape[1])
                part = np.argpartition(-scores, top - 1, axis=1)[:, :top]
                sims = np.take_along_axis(scores, part, axis=1)
                labels = self._labels[part]
            else:
                return [[] for _ in queries]
            signal_of = self._signal_of
            out = []
            for row_sims, row_labels in zip(sims, labels):
                best: dict[int, float] = {}
                for s, label in zip(row_sims.tolist(), row_labels.tolist()):
                    if label < 0 or s < threshold:
                        continue
                    signal = signal_of.get(label)
                    if signal is not None and s > best.get(signal, -2.0):
                        best[signal] = s
                hits = sorted((FaceHit(s, sid) for sid, s in best.items()), reverse=True)
                out.append(hits[:k])
            return out

    def memory_bytes(self) -> int:
        """Vector storage (the largest part): 4 bytes per dimension plus an 8-byte label per vector."""
        return self.vectors * (4 * self.dim + 8)
