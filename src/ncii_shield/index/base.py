"""The index interface: add, remove, query. A match is an id plus a distance."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, order=True)
class IndexMatch:
    distance: float
    id: int


class SignalIndex(ABC):
    """A set of (value, id) entries searchable by distance.

    Indexes are caches: they are built from the store's snapshot and then follow its change log,
    so ``add`` and ``remove`` must be cheap and must not rebuild the whole index.
    """

    @abstractmethod
    def add(self, value: str, id: int) -> None:
        """Add an entry; adding the same id again replaces its value."""

    def add_many(self, entries: Iterable[tuple[str, int]]) -> None:
        for value, id in entries:
            self.add(value, id)

    @abstractmethod
    def remove(self, id: int) -> None:
        """Remove an entry by id; removing an unknown id does nothing."""

    @abstractmethod
    def query(self, value: str, threshold: float) -> list[IndexMatch]:
        """Entries within ``threshold`` of ``value``, nearest first."""

    def query_many(self, values: list[str], threshold: float) -> list[list[IndexMatch]]:
        """``query`` for each value; indexes override it when a batch can be done faster."""
        return [self.query(v, threshold) for v in values]

    def query_arrays(self, values: list[str], threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every match of a batch as three arrays, (query number, id, distance), ordered by query,
        then nearest first: for large batches, without a Python object per match."""
        found = self.query_many(values, threshold)
        query = [q for q, matches in enumerate(found) for _ in matches]
        distance = [m.distance for ms in found for m in ms]  # ints stay ints (exact types: 0)
        return (np.array(query, dtype=np.int64), np.array([m.id for ms in found for m in ms], dtype=np.int64),
                np.array(distance) if distance else np.zeros(0))

    @abstractmethod
    def __len__(self) -> int: ...
