"""Run a sweep whenever the store's change log moves, in a daemon thread.

Every in-memory view of the store (the index follower, the retroactive follower) keeps up with the
change log the same way: on PostgreSQL it ``LISTEN``\\s for the writers' ``NOTIFY`` (sent at commit)
and sweeps at once, with a sweep every 2 s as a safety net; on SQLite it polls the log's last
sequence number (a primary-key lookup) every ``poll_interval`` seconds and sweeps when it is ahead
of what the owner has seen. Either way it also sweeps when its owner calls :meth:`ChangeWatch.wake`
(a write in the same process). A failure (the database away, a lost connection) is counted in
:attr:`ChangeWatch.errors`, logged, and retried a second later; the owner keeps serving what it has.

Usage::

    watch = ChangeWatch(db, "index follower", sweep=self.catch_up, behind=lambda latest: latest > self.seq)
    watch.start(); watch.wake(); watch.stop()
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ncii_shield.store import changes
from ncii_shield.store.database import Database

log = logging.getLogger("ncii_shield.store")

SAFETY_SWEEP_SECONDS = 2.0


class ChangeWatch:
    def __init__(self, db: Database, name: str, *, sweep: Callable[[], object], behind: Callable[[int], bool],
                 poll_interval: float = 0.05) -> None:
        self.db = db
        self.name = name  # for the thread and the log: "index follower"
        self.sweep = sweep
        self.behind = behind  # given the change log's last sequence number: is a sweep needed?
        self.poll_interval = poll_interval
        self.errors = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def stopping(self) -> threading.Event:
        """Set once :meth:`stop` is called: threads that live as long as this one can wait on it."""
        return self._stop

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            target = self._listen_postgres if self.db.is_postgres else self._poll
            self._thread = threading.Thread(target=target, name=self.name.replace(" ", "-"), daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _failed(self, what: str) -> None:
        self.errors += 1
        log.warning("%s %s; retrying", self.name, what, exc_info=True)
        self._stop.wait(1.0)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_interval)
            self._wake.clear()
            try:
                with self.db.read() as session:
                    latest = changes.last_seq(session)
                if self.behind(latest):
                    self.sweep()
            except Exception:  # the database may be away: keep what we have, try again
                self._failed("could not follow the change log")

    def _listen_postgres(self) -> None:
        import psycopg

        url = self.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {changes.CHANNEL}")
                    self.sweep()  # anything committed while we were not listening
                    last = time.monotonic()
                    while not self._stop.is_set():
                        notified = any(True for _ in conn.notifies(timeout=0.5, stop_after=1))
                        if notified or self._wake.is_set() or time.monotonic() - last > SAFETY_SWEEP_SECONDS:
                            self._wake.clear()
                            self.sweep()
                            last = time.monotonic()
            except Exception:
                self._failed("lost PostgreSQL or could not sweep")
