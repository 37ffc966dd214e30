"""Publishing a bank as a feed: signed pages of a snapshot, then of the bank's change log.

A subscriber walks a chain of cursors; each page names the cursor it answers and the next one:

* ``start`` — begin: the snapshot is taken as of the change log's current sequence number S;
* ``snap:S:I`` — active signals of the bank with id > I (entries ``add``), in id order;
* ``log:S`` — the bank's changes after sequence number S (entries ``add`` and ``withdraw``).

Entries set state, so replaying changes the snapshot already reflects is harmless (as the index
follower does). Every page is signed (:mod:`.signing`); a subscriber accepts a page only if its
``cursor`` is the subscriber's checkpoint, which rules out replayed and out-of-order pages.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from ncii_shield.errors import Conflict, InvalidRequest, NotFound, Unauthenticated
from ncii_shield.services.exchange import signing
from ncii_shield.services.keys import Principal
from ncii_shield.store import banks as bank_store
from ncii_shield.store import changes
from ncii_shield.store.database import Database
from ncii_shield.store.models import Change, Feed, FeedSubscriber, Signal, utcnow

FORMAT = "ncii-shield-feed/1"
MAX_PAGE = 5_000
TOKEN_PREFIX = "nsf"


@dataclass(frozen=True)
class FeedAccess:
    feed_id: int
    feed: str
    bank_id: int
    subscriber: str


_CURSOR = re.compile(r"start|snap:([0-9]{1,19}):([0-9]{1,19})|log:([0-9]{1,19})")
MAX_POSITION = 2**63 - 1  # the largest sequence number or signal id a database integer holds


def parse_cursor(cursor: str) -> tuple[str, int, int]:
    """('start'|'snap'|'log', seq, after_id); raises InvalidRequest for anything else.

    Only what this publisher writes is read back: ASCII digits, no sign, space or underscore (all of
    which ``int`` accepts), and no number past what the database holds (a larger one reached the
    query and failed there as a server error)."""
    found = _CURSOR.fullmatch(cursor)
    numbers = [int(n) for n in found.groups() if n is not None] if found else []
    if found is None or any(n > MAX_POSITION for n in numbers):
        raise InvalidRequest(f"invalid cursor {cursor[:40]!r}; accepted: start, snap:<seq>:<id>, log:<seq> "
                             f"(whole numbers from 0 to {MAX_POSITION})")
    if cursor == "start":
        return "start", 0, 0
    if cursor.startswith("snap:"):
        return "snap", numbers[0], numbers[1]
    return "log", numbers[0], 0


class Publisher:
    def __init__(self, db: Database, key: Ed25519PrivateKey) -> None:
        self.db = db
        self.key = key
        self.public_key = signing.public_key_b64(key)

    # -- administration --------------------------------------------------------------------

    def publish(self, principal: Principal, bank_name: str, feed_name: str | None = None) -> str:
        """Publish one of the caller's banks as a feed (scope admin); returns the feed name."""
        principal.require("admin")
        name = feed_name or bank_name
        with self.db.write() as session:
            bank = bank_store.find_bank(session, principal.tenant_id, bank_name)
            if session.scalar(select(Feed.id).where(Feed.name == name)):
                raise Conflict(f"a feed called {name!r} already exists")
            session.add(Feed(name=name, bank_id=bank.id))
        return name

    def add_subscriber(self, principal: Principal, feed_name: str, subscriber: str) -> str:
        """Create a subscriber's access token for a feed; returns it (shown once)."""
        principal.require("admin")
        prefix, secret = secrets.token_hex(5), secrets.token_urlsafe(24)
        with self.db.write() as session:
            feed = self._feed(session, feed_name, principal)
            session.add(FeedSubscriber(feed_id=feed.id, name=subscriber, prefix=prefix,
                                       secret_hash=hashlib.sha256(secret.encode()).hexdigest()))
        return f"{TOKEN_PREFIX}_{prefix}_{secret}"

    def revoke_subscriber(self, principal: Principal, feed_name: str, subscriber: str) -> int:
        principal.require("admin")
        with self.db.write() as session:
            feed = self._feed(session, feed_name, principal)
            rows = list(session.scalars(select(FeedSubscriber).where(
                FeedSubscriber.feed_id == feed.id, FeedSubscriber.name == subscriber, FeedSubscriber.revoked_at.is_(None))))
            for row in rows:
                row.revoked_at = utcnow()
        if not rows:
            raise NotFound(f"no active subscriber {subscriber!r} on feed {feed_name!r}")
        return len(rows)

    def _feed(self, session, feed_name: str, principal: Principal) -> Feed:  # noqa: ANN001
        feed = session.scalar(select(Feed).where(Feed.name == feed_name))
        if feed is None:
            raise NotFound(f"no feed called {feed_name!r}")
        bank = session.get(bank_store.Bank, feed.bank_id)
        if bank is None or bank.tenant_id != principal.tenant_id:
            raise NotFound(f"no feed called {feed_name!r}")
        return feed

    # -- serving ---------------------------------------------------------------------------

    def authenticate(self, feed_name: str, token: str | None) -> FeedAccess:
        parts = (token or "").strip().split("_", 2)
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            raise Unauthenticated("a feed access token is required: 'Authorization: Bearer nsf_...'")
        with self.db.read() as session:
            row = session.scalar(select(FeedSubscriber).where(FeedSubscriber.prefix == parts[1]))
            feed = session.get(Feed, row.feed_id) if row is not None else None
            ok = (row is not None and row.revoked_at is None and feed is not None and feed.name == feed_name
                  and hmac.compare_digest(row.secret_hash, hashlib.sha256(parts[2].encode()).hexdigest()))
            if not ok:
                raise Unauthenticated("the feed access token is not valid for this feed (wrong, revoked or unknown)")
            return FeedAccess(feed.id, feed.name, feed.bank_id, row.name)

    def page(self, access: FeedAccess, cursor: str, limit: int = 1000) -> dict:
        """The signed page that answers ``cursor``."""
        limit = max(1, min(limit, MAX_PAGE))
        kind, seq, after = parse_cursor(cursor)
        entries: list[dict] = []
        with self.db.read() as session:
            if kind == "start":
                seq = changes.last_seq(session)
                kind, after = "snap", 0
                next_cursor = f"snap:{seq}:0"
                more = True
            if kind == "snap":
                rows = session.execute(
                    select(Signal.id, Signal.signal_type, Signal.value)
                    .where(Signal.bank_id == access.bank_id, Signal.withdrawn_at.is_(None), Signal.id > after)
                    .order_by(Signal.id).limit(limit)
                ).all()
                entries = [{"op": "add", "signal_type": t, "value": v} for _, t, v in rows]
                next_cursor = f"snap:{seq}:{rows[-1][0]}" if len(rows) == limit else f"log:{seq}"
                more = True
            elif kind == "log":
                rows = session.execute(
                    select(Change.seq, Change.op, Change.signal_type, Change.value, Change.signal_id)
                    .where(Change.bank_id == access.bank_id, Change.seq > seq, Change.op.in_(("add", "withdraw")))
                    .order_by(Change.seq).limit(limit)
                ).all()
                withdrawn_ids = [r[4] for r in rows if r[1] == "withdraw"]
                values = dict(session.execute(select(Signal.id, Signal.value).where(Signal.id.in_(withdrawn_ids))).all()) if withdrawn_ids else {}
                entries = [{"op": op, "signal_type": t, "value": v if op == "add" else values.get(sid), "seq": s}
                           for s, op, t, v, sid in rows]
                last = rows[-1][0] if rows else seq
                next_cursor = f"log:{last}"
                more = len(rows) == limit
        page = {"format": FORMAT, "feed": access.feed, "publisher": signing.fingerprint(self.public_key),
                "cursor": cursor, "next_cursor": next_cursor, "more": more, "entries": entries,
                "issued_at": datetime.now(UTC).isoformat().replace("+00:00", "Z")}
        return signing.sign(self.key, page)
