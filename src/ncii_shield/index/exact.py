"""Exact-match indexes: cryptographic hashes (MD5, SHA-256) and service indicators (URLs, domains, ...)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ncii_shield.index.base import IndexMatch, SignalIndex


class ExactIndex(SignalIndex):
    """A dict from value to ids: O(1) lookups; any threshold means "equal"."""

    def __init__(self) -> None:
        self._ids_by_value: dict[str, set[int]] = {}
        self._value_by_id: dict[int, str] = {}

    def add(self, value: str, id: int) -> None:
        self.remove(id)
        self._ids_by_value.setdefault(value, set()).add(id)
        self._value_by_id[id] = value

    def remove(self, id: int) -> None:
        value = self._value_by_id.pop(id, None)
        if value is None:
            return
        ids = self._ids_by_value.get(value)
        if ids is not None:
            ids.discard(id)
            if not ids:
                del self._ids_by_value[value]

    def query(self, value: str, threshold: float = 0) -> list[IndexMatch]:
        return [IndexMatch(0, id) for id in sorted(self._ids_by_value.get(value, ()))]

    def __len__(self) -> int:
        return len(self._value_by_id)


class KeyedExactIndex(SignalIndex):
    """Exact matching on a *key* of each value: ``key(value)`` on add and on query, so values kept
    as given (a ``url`` as its sender wrote it) match by their normal form (lower case, scheme
    removed). One id per key is kept as a bare int (the usual case, a fraction of a set's memory)::

        index = KeyedExactIndex(str.lower)
        index.add("Example.COM", 7)
        index.query("example.com")   # [IndexMatch(0, 7)]
    """

    def __init__(self, key: Callable[[str], str] | None = None) -> None:
        self._key = key
        self._ids: dict[str, int | list[int]] = {}
        self._key_by_id: dict[int, str] = {}

    def _keyed(self, value: str) -> str:
        return value if self._key is None else self._key(value)

    def add(self, value: str, id: int) -> None:
        self.remove(id)
        key = self._keyed(value)
        held = self._ids.get(key)
        if held is None:
            self._ids[key] = id
        elif isinstance(held, int):
            self._ids[key] = [held, id]
        else:
            held.append(id)
        self._key_by_id[id] = key

    def remove(self, id: int) -> None:
        key = self._key_by_id.pop(id, None)
        if key is None:
            return
        held = self._ids.get(key)
        if isinstance(held, int):
            del self._ids[key]
        elif held is not None:
            held.remove(id)
            if len(held) == 1:
                self._ids[key] = held[0]

    def ids(self, value: str) -> list[int]:
        held = self._ids.get(self._keyed(value))
        if held is None:
            return []
        return [held] if isinstance(held, int) else sorted(held)

    def query(self, value: str, threshold: float = 0) -> list[IndexMatch]:
        return [IndexMatch(0, id) for id in self.ids(value)]

    def query_arrays(self, values: list[str], threshold: float = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Without an object per query: most queries of a scan find nothing."""
        query: list[int] = []
        found: list[int] = []
        get, keyed = self._ids.get, self._keyed
        for q, value in enumerate(values):
            held = get(keyed(value))
            if held is None:
                continue
            if isinstance(held, int):
                query.append(q)
                found.append(held)
            else:
                query += [q] * len(held)
                found += sorted(held)
        return (np.array(query, dtype=np.int64), np.array(found, dtype=np.int64),
                np.zeros(len(found), dtype=np.int64))

    def __len__(self) -> int:
        return len(self._key_by_id)
