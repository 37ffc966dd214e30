"""Exact-match index for cryptographic hashes (MD5, SHA-256)."""

from __future__ import annotations

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
