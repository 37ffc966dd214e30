"""Keep in-memory indexes in step with the store: a snapshot, then the change log after it.

:class:`IndexFollower` loads every active signal (streamed in id order), remembers the change log's
sequence number read *before* the snapshot, and then applies every change after it, in order. The
changes are state-setting ("signal 7 is active with value v", "signal 7 is withdrawn"), so replaying
a change that the snapshot already reflects is harmless and no snapshot isolation is needed.

It follows new changes without rebuilding: on PostgreSQL it ``LISTEN``\\s for the writers'
``NOTIFY`` (sent at commit) and wakes at once; on SQLite it polls the log's last sequence number (a
primary-key lookup) every ``poll_interval`` seconds. Either way it also wakes when a write in its
own process calls :meth:`IndexFollower.wake` (the thread is :class:`~ncii_shield.store.change_watch.ChangeWatch`).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from ncii_shield.index.base import SignalIndex
from ncii_shield.index.bits import WORDS, hexes_to_words
from ncii_shield.signals import registry
from ncii_shield.store import changes
from ncii_shield.store.change_watch import ChangeWatch
from ncii_shield.store.database import Database
from ncii_shield.store.models import Bank

log = logging.getLogger("ncii_shield.follower")


@dataclass(frozen=True)
class BankInfo:
    id: int
    tenant_id: int
    name: str
    enabled: bool
    shared: bool


@dataclass(frozen=True)
class Hit:
    signal_id: int
    bank: BankInfo
    signal_type: str
    distance: float


class IndexFollower:
    def __init__(self, db: Database, *, poll_interval: float = 0.05) -> None:
        self.db = db
        self.poll_interval = poll_interval
        self.indexes: dict[str, SignalIndex] = {}
        self.banks: dict[int, BankInfo] = {}
        self.seq = 0
        self.loaded_at = 0.0
        self.last_applied_at = 0.0
        self._bank_of = np.full(1024, -1, dtype=np.int32)
        self._apply_lock = threading.Lock()
        self._watch = ChangeWatch(db, "index follower", sweep=self.catch_up, behind=lambda latest: latest > self.seq,
                                  poll_interval=poll_interval)

    # -- state ---------------------------------------------------------------------------------

    def load(self) -> None:
        """Build every index from a snapshot of the store, then catch up with the change log."""
        started = time.perf_counter()
        with self.db.read() as session:
            seq = changes.last_seq(session)
            banks = self._read_banks(session)
            indexes = {t.name: t.index_factory()() for t in registry.SIGNAL_TYPES}
            for index in indexes.values():  # large values (derivative signatures) stay in the store
                if hasattr(index, "bind_lookup"):
                    index.bind_lookup(self.signal_values)
            bank_of = np.full(1024, -1, dtype=np.int32)
            pending: dict[str, list[tuple[str, int]]] = {name: [] for name in indexes}
            # 256-bit hashes go straight into arrays: 40 bytes each instead of ~150 as Python strings
            arrays: dict[str, _Growable] = {name: _Growable() for name, index in indexes.items()
                                            if hasattr(index, "add_words")}
            for rows in changes.iter_active_signals(session):
                ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                bank_of = _ensure(bank_of, int(ids.max()))
                bank_of[ids] = np.fromiter((r[1] for r in rows), dtype=np.int32, count=len(rows))
                for name, grow in arrays.items():
                    chosen = [(r[3], r[0]) for r in rows if r[2] == name]
                    if chosen:
                        grow.append(hexes_to_words([v for v, _ in chosen]),
                                    np.fromiter((i for _, i in chosen), dtype=np.int64, count=len(chosen)))
                for signal_id, _bank_id, signal_type, value in rows:
                    if signal_type in pending and signal_type not in arrays:
                        pending[signal_type].append((value, signal_id))
                for name, entries in pending.items():  # large values: into the index batch by batch
                    if entries and getattr(indexes[name], "load_in_batches", False):
                        indexes[name].add_many(entries)
                        entries.clear()
            for name, grow in arrays.items():
                words, ids = grow.finish()
                indexes[name].add_words(words, ids)  # type: ignore[attr-defined]
                del words, ids
            for name, entries in pending.items():
                if entries:
                    indexes[name].add_many(entries)
            del pending, arrays
        with self._apply_lock:
            self.indexes, self.banks, self._bank_of, self.seq = indexes, banks, bank_of, seq
        self.loaded_at = time.time()
        self.catch_up()
        log.info("index loaded", extra={"signals": self.size(), "seq": self.seq,
                                         "seconds": round(time.perf_counter() - started, 3)})

    def catch_up(self) -> int:
        """Apply every change after ``self.seq``; returns how many were applied."""
        applied = 0
        with self._apply_lock:
            while True:
                with self.db.read() as session:
                    batch = changes.read_after(session, self.seq)
                    if any(c.op == "bank" for c in batch):
                        self.banks = self._read_banks(session)
                if not batch:
                    break
                for change in batch:
                    self._apply(change)
                    self.seq = change.seq
                applied += len(batch)
            if applied:
                self.last_applied_at = time.time()
        return applied

    def _apply(self, change: changes.ChangeRow) -> None:
        if change.op == "bank" or change.signal_id is None or change.signal_type is None:
            return
        index = self.indexes.get(change.signal_type)
        if index is None:
            return
        if change.op == "add" and change.value is not None:
            index.add(change.value, change.signal_id)
            self._bank_of = _ensure(self._bank_of, change.signal_id)
            self._bank_of[change.signal_id] = change.bank_id
        elif change.op == "withdraw":
            index.remove(change.signal_id)

    def signal_values(self, ids: list[int]) -> dict[int, str]:
        """The stored values of active signals, by id (indexes that keep only a sample read them)."""
        from sqlalchemy import select

        from ncii_shield.store.models import Signal

        with self.db.read() as session:
            rows = session.execute(select(Signal.id, Signal.value).where(
                Signal.id.in_(ids), Signal.withdrawn_at.is_(None))).all()
        return {int(i): v for i, v in rows}

    @staticmethod
    def _read_banks(session) -> dict[int, BankInfo]:  # noqa: ANN001
        from sqlalchemy import select

        return {b.id: BankInfo(b.id, b.tenant_id, b.name, b.enabled, b.shared) for b in session.scalars(select(Bank))}

    # -- queries -------------------------------------------------------------------------------

    def query(self, signal_type: str, value: str, threshold: float) -> list[Hit]:
        return self.query_many(signal_type, [value], threshold)[0]

    def query_many(self, signal_type: str, values: list[str], threshold: float) -> list[list[Hit]]:
        index = self.indexes.get(signal_type)
        if index is None:
            return [[] for _ in values]
        found = index.query_many(values, threshold) if len(values) > 1 else [index.query(values[0], threshold)]
        return [self._hits(signal_type, matches) for matches in found]

    def query_arrays(self, signal_type: str, values: list[str],
                     threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every match of a batch as arrays: (query number, signal id, distance, bank id), by query,
        then nearest first. Signals of banks this replica has not loaded yet are left out."""
        index = self.indexes.get(signal_type)
        if index is None:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, empty
        query, ids, distance = index.query_arrays(values, threshold)
        bank_of = self._bank_of
        known = ids < len(bank_of)
        bank_ids = np.full(len(ids), -1, dtype=np.int64)
        bank_ids[known] = bank_of[ids[known]]
        loaded = np.isin(bank_ids, np.fromiter(self.banks, dtype=np.int64, count=len(self.banks)))
        return query[loaded], ids[loaded], distance[loaded], bank_ids[loaded]

    def _hits(self, signal_type: str, matches) -> list[Hit]:  # noqa: ANN001
        hits = []
        for match in matches:
            bank_id = int(self._bank_of[match.id]) if match.id < len(self._bank_of) else -1
            bank = self.banks.get(bank_id)
            if bank is not None:  # a signal of a bank this replica has not loaded yet is skipped
                hits.append(Hit(match.id, bank, signal_type, match.distance))
        return hits

    def bank_id_of(self, signal_id: int) -> int | None:
        """The bank of an active signal this replica holds (None when it holds none by that id)."""
        bank_id = int(self._bank_of[signal_id]) if 0 <= signal_id < len(self._bank_of) else -1
        return bank_id if bank_id >= 0 else None

    def derivative_hits(self, upload, visible) -> list[tuple[BankInfo, object]]:  # noqa: ANN001
        """Verified re-shares/derivatives of registered photos in banks for which ``visible(bank)`` holds:
        ``(bank, DerivativeHit)`` pairs (see :mod:`ncii_shield.index.derivative`)."""
        index = self.indexes.get("derivative")
        if index is None or len(index) == 0:
            return []

        def bank_of(signal_id: int) -> BankInfo | None:
            bank_id = int(self._bank_of[signal_id]) if signal_id < len(self._bank_of) else -1
            return self.banks.get(bank_id)

        def allowed(signal_id: int) -> bool:
            bank = bank_of(signal_id)
            return bank is not None and visible(bank)

        return [(bank_of(h.id), h) for h in index.check(upload, allowed)]  # type: ignore[attr-defined]

    def size(self) -> int:
        return sum(len(i) for i in self.indexes.values())

    # -- following -----------------------------------------------------------------------------

    @property
    def errors(self) -> int:
        return self._watch.errors

    @property
    def stopping(self) -> threading.Event:
        """Set when the follower stops (the shield closes): helpers that follow with it stop too."""
        return self._watch.stopping

    def wake(self) -> None:
        self._watch.wake()

    def start(self) -> None:
        self._watch.start()

    def stop(self) -> None:
        self._watch.stop()


class _Growable:
    """Append-only (words, ids) arrays that double as they grow."""

    def __init__(self) -> None:
        self.words = np.zeros((1024, WORDS), dtype=np.uint64)
        self.ids = np.zeros(1024, dtype=np.int64)
        self.size = 0

    def append(self, words: np.ndarray, ids: np.ndarray) -> None:
        need = self.size + len(ids)
        if need > len(self.ids):
            capacity = max(need, 2 * len(self.ids))
            grown_words = np.zeros((capacity, WORDS), dtype=np.uint64)
            grown_ids = np.zeros(capacity, dtype=np.int64)
            grown_words[: self.size], grown_ids[: self.size] = self.words[: self.size], self.ids[: self.size]
            self.words, self.ids = grown_words, grown_ids
        self.words[self.size:need], self.ids[self.size:need] = words, ids
        self.size = need

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        words, ids = self.words[: self.size].copy(), self.ids[: self.size].copy()
        self.words = self.ids = None  # type: ignore[assignment]
        return words, ids


def _ensure(array: np.ndarray, max_id: int) -> np.ndarray:
    if max_id < len(array):
        return array
    grown = np.full(max(max_id + 1, 2 * len(array)), -1, dtype=np.int32)
    grown[: len(array)] = array
    return grown
