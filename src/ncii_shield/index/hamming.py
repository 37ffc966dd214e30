"""Hamming-distance indexes over 256-bit hashes (PDQ, and the frames of vPDQ)."""

from __future__ import annotations

import numpy as np

from ncii_shield.index.base import IndexMatch, SignalIndex
from ncii_shield.index.bits import WORDS, hamming, hex_to_words


class BruteForceHammingIndex(SignalIndex):
    """Compares a query with every entry: exact by construction, O(n) per query.

    The reference that faster indexes are tested against, and the right choice for small banks.
    """

    def __init__(self) -> None:
        self._words = np.zeros((0, WORDS), dtype=np.uint64)
        self._ids = np.zeros(0, dtype=np.int64)
        self._row_by_id: dict[int, int] = {}
        self._size = 0

    def add(self, value: str, id: int) -> None:
        self.remove(id)
        if self._size == len(self._ids):
            capacity = max(16, 2 * len(self._ids))
            words = np.zeros((capacity, WORDS), dtype=np.uint64)
            ids = np.full(capacity, -1, dtype=np.int64)
            words[: self._size] = self._words[: self._size]
            ids[: self._size] = self._ids[: self._size]
            self._words, self._ids = words, ids
        self._words[self._size] = hex_to_words(value)
        self._ids[self._size] = id
        self._row_by_id[id] = self._size
        self._size += 1

    def remove(self, id: int) -> None:
        row = self._row_by_id.pop(id, None)
        if row is None:
            return
        last = self._size - 1
        if row != last:  # move the last row into the hole
            moved = int(self._ids[last])
            self._words[row] = self._words[last]
            self._ids[row] = moved
            self._row_by_id[moved] = row
        self._ids[last] = -1
        self._size = last

    def query(self, value: str, threshold: float) -> list[IndexMatch]:
        distances = hamming(self._words[: self._size], hex_to_words(value))
        rows = np.flatnonzero(distances <= threshold)
        found = [IndexMatch(int(distances[r]), int(self._ids[r])) for r in rows]
        return sorted(found)

    def __len__(self) -> int:
        return self._size


def default_hamming_index() -> SignalIndex:
    """The index PDQ uses by default: exact up to distance 31, fast at millions of hashes."""
    from ncii_shield.index.multi_index import MultiIndexHammingIndex

    return MultiIndexHammingIndex()
