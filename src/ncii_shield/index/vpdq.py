"""vPDQ index: every frame of every video in a Hamming index, then the reference's match shares.

A query's frames (quality >= 50) are looked up at PDQ distance <= 31; every video with a frame in
common is a candidate, and candidates are scored with :func:`ncii_shield.signals.vpdq.match_shares`.
The distance reported is ``100 - min(query share, compared share)``; callers that want one share
only can recompute it with ``match_shares`` on the stored value.
"""

from __future__ import annotations

from ncii_shield.index.base import IndexMatch, SignalIndex
from ncii_shield.index.hamming import BruteForceHammingIndex
from ncii_shield.signals.vpdq import (
    FRAME_DISTANCE_THRESHOLD, QUALITY_THRESHOLD, VpdqFrame, match_shares, value_to_frames,
)


class VpdqIndex(SignalIndex):
    def __init__(self) -> None:
        self._frames_by_id: dict[int, list[VpdqFrame]] = {}
        self._entries = BruteForceHammingIndex()  # unique (video, frame hash) entries
        self._entry_owner: dict[int, int] = {}
        self._entries_of: dict[int, list[int]] = {}
        self._next_entry = 0

    def add(self, value: str, id: int) -> None:
        self.remove(id)
        frames = value_to_frames(value)
        self._frames_by_id[id] = frames
        entries = []
        for pdq in sorted({f.pdq for f in frames if f.quality >= QUALITY_THRESHOLD}):
            entry = self._next_entry
            self._next_entry += 1
            self._entries.add(pdq, entry)
            self._entry_owner[entry] = id
            entries.append(entry)
        self._entries_of[id] = entries

    def remove(self, id: int) -> None:
        if self._frames_by_id.pop(id, None) is None:
            return
        for entry in self._entries_of.pop(id, []):
            self._entries.remove(entry)
            del self._entry_owner[entry]

    def query(self, value: str, threshold: float) -> list[IndexMatch]:
        frames = value_to_frames(value)
        candidates: set[int] = set()
        for pdq in {f.pdq for f in frames if f.quality >= QUALITY_THRESHOLD}:
            for hit in self._entries.query(pdq, FRAME_DISTANCE_THRESHOLD):
                candidates.add(self._entry_owner[hit.id])
        found = []
        for id in candidates:
            query_share, compared_share = match_shares(frames, self._frames_by_id[id])
            distance = 100.0 - min(query_share, compared_share)
            if distance <= threshold:
                found.append(IndexMatch(round(distance, 2), id))
        return sorted(found)

    def shares(self, value: str, id: int) -> tuple[float, float]:
        """(query share, compared share) in percent between ``value`` and stored video ``id``."""
        stored = self._frames_by_id.get(id)
        return match_shares(value_to_frames(value), stored) if stored else (0.0, 0.0)

    def __len__(self) -> int:
        return len(self._frames_by_id)
