"""The scan checkpoint: a SQLite file holding every finished item's result.

    cp = Checkpoint.open(path, fingerprint, resume=True)
    cp.done_keys()              # keys to skip
    cp.add(result); cp.flush()  # results become durable in batches, in one transaction each
    cp.results()                # every result, in (source, member) order

The results *are* the checkpoint: an item counts as finished exactly when its result is committed,
so a crash (Ctrl-C, SIGKILL, power) loses at most the results of the current batch, which a rerun
with ``--resume`` computes again. Outputs (JSON lines, CSV, HTML) are always written from this file,
in item order, so a resumed scan's output is byte-for-byte the uninterrupted scan's.

Why a file of its own and not a table in the store: results of a scan of someone else's archive are
working data of that scan (possibly millions of rows, deleted with it), not bank state; the store
may be a PostgreSQL shared by matcher replicas that should not carry that write load; and the file
sits next to the output it describes, so a scan runs against a read-only copy of the store as well.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from ncii_shield.errors import InvalidRequest

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    source INTEGER NOT NULL, member INTEGER NOT NULL, key TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL, result TEXT NOT NULL, PRIMARY KEY (source, member, key)
);
"""


class Checkpoint:
    def __init__(self, path: Path, connection: sqlite3.Connection, *, batch: int = 64, seconds: float = 0.5) -> None:
        self.path = path
        self._db = connection
        self._pending: list[dict] = []
        self._batch = batch
        self._seconds = seconds
        self._last = time.monotonic()

    @classmethod
    def open(cls, path: Path, fingerprint: dict, *, resume: bool) -> Checkpoint:
        """Open (``resume``) or start afresh. Resuming a checkpoint made for other sources or
        settings is refused, since its results would not be this scan's."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not resume:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        connection = sqlite3.connect(path, isolation_level=None, timeout=30)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")  # survives a killed process; fsync at checkpoints
        connection.executescript(_SCHEMA)
        wanted = json.dumps(fingerprint, sort_keys=True)
        row = connection.execute("SELECT value FROM meta WHERE name = 'fingerprint'").fetchone()
        if row is None:
            connection.execute("INSERT INTO meta VALUES ('fingerprint', ?)", (wanted,))
        elif row[0] != wanted:
            connection.close()
            raise InvalidRequest(f"the checkpoint {path} belongs to a scan of other sources or settings; run the "
                                 f"same command as before to resume it, or leave out --resume to start over")
        return cls(path, connection)

    def done_keys(self) -> frozenset[str]:
        return frozenset(k for (k,) in self._db.execute("SELECT key FROM results"))

    def count(self) -> int:
        return self._db.execute("SELECT count(*) FROM results").fetchone()[0]

    def add(self, result: dict) -> None:
        self._pending.append(result)
        if len(self._pending) >= self._batch or time.monotonic() - self._last > self._seconds:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            rows = [(r["source"], r["member"], r["key"], r["status"], json.dumps(r, sort_keys=True))
                    for r in self._pending]
            with self._db:  # one transaction: a batch is committed whole or not at all
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)", rows)
            self._pending = []
        self._last = time.monotonic()

    def set_meta(self, name: str, value: str) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))

    def meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def results(self) -> Iterator[dict]:
        for (text,) in self._db.execute("SELECT result FROM results ORDER BY source, member, key"):
            yield json.loads(text)

    def counts(self) -> dict[str, int]:
        return dict(self._db.execute("SELECT status, count(*) FROM results GROUP BY status").fetchall())

    def close(self) -> None:
        self.flush()
        self._db.close()
