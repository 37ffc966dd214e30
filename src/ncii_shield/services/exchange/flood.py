"""A feed that suddenly sends far more new hashes than usual is throttled and flagged (issue 23).

After its snapshot, a feed grows by what its publisher registers: a helpline's feed adds tens or
hundreds of hashes a day. A feed that adds more than ``NCII_SHIELD_FEED_FLOOD`` new hashes (10,000
by default) within ``NCII_SHIELD_FEED_FLOOD_WINDOW`` seconds (an hour) has been compromised or is
sending what it should not (a crawl of common images): its pages are refused, so nothing more of it
is applied and its checkpoint stays where it was, until the window has room again (the follower
retries with backoff; nothing is lost). The first refusal in a window is flagged: an audit entry
``subscription.flood`` and a warning log line starting ``ALERT``; the subscription's ``last_error``
says why (``ncii-shield feed status``). Snapshot pages (a new subscription's first pull) are not
counted. Counted per process: with R replicas following, a flood passes at most R x the limit.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque

from ncii_shield.services import audit
from ncii_shield.store.database import Database

log = logging.getLogger("ncii_shield.feeds")


class FeedFlood(Exception):
    """Too many new hashes from one feed in the window (the message says how many and until when);
    ``flag``: the first refusal in this window, to be recorded with :func:`record_flag`."""

    def __init__(self, message: str, *, flag: bool, new_hashes: int, limit: int, window: float) -> None:
        super().__init__(message)
        self.flag, self.new_hashes, self.limit, self.window = flag, new_hashes, limit, window


def record_flag(db: Database, name: str, tenant_id: int | None, flood: FeedFlood) -> None:
    """The audit entry and alert line of a flood's first refusal (in a transaction of its own)."""
    log.warning("ALERT feed flood", extra={"subscription": name, "new_hashes": flood.new_hashes})
    with db.write() as session:
        audit.append(session, tenant_id=tenant_id, actor="feed", action="subscription.flood",
                     subject=f"subscription:{name}",
                     details={"new_hashes": flood.new_hashes, "limit": flood.limit, "window_s": flood.window})


class FloodGuard:
    def __init__(self, limit: int | None = None, window: float | None = None) -> None:
        self.limit = limit if limit is not None else int(os.environ.get("NCII_SHIELD_FEED_FLOOD", "10000"))
        self.window = window if window is not None else float(os.environ.get("NCII_SHIELD_FEED_FLOOD_WINDOW", "3600"))
        self._adds: dict[int, deque[tuple[float, int]]] = {}
        self._flagged: dict[int, float] = {}
        self._lock = threading.Lock()

    def admit(self, subscription_id: int, adds: int) -> None:
        """Count ``adds`` new hashes of a page, or raise :class:`FeedFlood` (counting nothing)."""
        if adds <= 0:
            return
        now = time.monotonic()
        with self._lock:
            recent = self._adds.setdefault(subscription_id, deque())
            while recent and now - recent[0][0] > self.window:
                recent.popleft()
            total = sum(n for _, n in recent)
            if total + adds <= self.limit:
                recent.append((now, adds))
                return
            flag = now - self._flagged.get(subscription_id, -1e18) > self.window
            if flag:
                self._flagged[subscription_id] = now
            retry = int(self.window - (now - recent[0][0])) + 1 if recent else int(self.window)
        message = (f"feed flood: {total + adds:,} new hashes within {self.window:g} s (the limit is {self.limit:,}, "
                   f"NCII_SHIELD_FEED_FLOOD); paused, retried in about {retry} s")
        raise FeedFlood(message, flag=flag, new_hashes=total + adds, limit=self.limit, window=self.window)


GUARD = FloodGuard()
