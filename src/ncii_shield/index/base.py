"""The index interface: add, remove, query. A match is an id plus a distance."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass


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

    @abstractmethod
    def __len__(self) -> int: ...
