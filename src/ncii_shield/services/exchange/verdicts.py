"""Verdicts back to a feed's publisher (issue 23, item 3): the feed's return channel.

A subscribing instance reports, for the signals it received through a subscription, what its
reviewers said and did: how many of its tenants confirmed, deconfirmed or disputed each signal, and
whether a match of it was removed. Counted per signal, never per upload: no content id, URL, time of
a match or tenant name leaves the instance. The report is a signed page (``ncii-shield-verdicts/1``,
signed with the subscriber's instance key, :mod:`.signing`) posted to
``POST /v1/feeds/{feed}/verdicts`` with the feed access token the publisher issued, so only a
subscriber of that feed can report, and only about that feed's signals.

Each report replaces the subscriber's previous one (state, not events: a lost or repeated report
changes nothing). The publisher keeps, per subscriber and signal, the counts and when a removal was
first reported; a case shows "removed on N platforms" only from removals reported at least
``NCII_SHIELD_OUTCOME_DELAY`` seconds (24 hours by default) ago, so it never dates a single upload.

The subscriber pushes a report when a verdict or a removal is recorded (within a second, through
:func:`verdicts_changed`) and every minute while it follows the feed.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import delete, func, select

from ncii_shield.errors import InvalidRequest, NciiShieldError, NotFound
from ncii_shield.services import netguard
from ncii_shield.services.banks import SignalInput, canonical
from ncii_shield.services.exchange import signing
from ncii_shield.services.exchange.publisher import FeedAccess
from ncii_shield.services.keys import Principal
from ncii_shield.services.sealing import unseal
from ncii_shield.store import banks as bank_store
from ncii_shield.store.database import Database
from ncii_shield.store.models import (
    FeedSubscriber,
    FeedVerdict,
    Signal,
    SignalFeedback,
    SignalQuarantine,
    Subscription,
    utcnow,
)

FORMAT = "ncii-shield-verdicts/1"
MAX_ENTRIES = 5_000
MAX_COUNT = 1_000_000
_listeners: set[threading.Event] = set()
_listeners_lock = threading.Lock()


def verdicts_changed() -> None:
    """A verdict or a removal was recorded in this process: wake every subscription's reporter."""
    with _listeners_lock:
        for listener in _listeners:
            listener.set()


def listen(event: threading.Event) -> None:
    with _listeners_lock:
        _listeners.add(event)


def unlisten(event: threading.Event) -> None:
    with _listeners_lock:
        _listeners.discard(event)


# -- the subscriber's side ------------------------------------------------------------------------


def report_entries(session, bank_id: int) -> list[dict]:
    """Per signal of the subscription's bank that anyone here judged or removed: counts, removed."""
    out: dict[tuple[str, str], dict] = {}

    def entry(signal_type: str, value: str) -> dict:
        return out.setdefault((signal_type, value), {"signal_type": signal_type, "value": value, "confirm": 0,
                                                     "deconfirm": 0, "dispute": 0, "removed": False})

    for signal_type, value, verdict, n in session.execute(
            select(Signal.signal_type, Signal.value, SignalFeedback.verdict, func.count())
            .join(SignalFeedback, SignalFeedback.signal_id == Signal.id).where(Signal.bank_id == bank_id)
            .group_by(Signal.signal_type, Signal.value, SignalFeedback.verdict)):
        entry(signal_type, value)[verdict] = int(n)
    for signal_type, value in session.execute(
            select(Signal.signal_type, Signal.value).join(SignalQuarantine, SignalQuarantine.signal_id == Signal.id)
            .where(Signal.bank_id == bank_id, SignalQuarantine.removals > 0)):
        entry(signal_type, value)["removed"] = True
    return [out[k] for k in sorted(out)][:MAX_ENTRIES]


def push(db: Database, name: str, *, client: httpx.Client | None = None, key=None) -> int:
    """Post this instance's verdict report for subscription ``name`` to its publisher; returns the
    entries sent. The address guard checks the publisher as it does for pulls."""
    with db.read() as session:
        sub = session.scalar(select(Subscription).where(Subscription.name == name))
        if sub is None:
            raise NotFound(f"no subscription called {name!r}")
        url, feed, token, allow_private = sub.url, sub.feed, unseal(sub.token), bool(sub.allow_private_address)
        entries = report_entries(session, sub.bank_id)
    if key is None:
        key = signing.load_or_create_key(signing.default_key_path())
    page = {"format": FORMAT, "feed": feed, "public_key": signing.public_key_b64(key), "entries": entries,
            "issued_at": datetime.now(UTC).isoformat().replace("+00:00", "Z")}
    target = netguard.pin_feed(f"{url}/v1/feeds/{feed}/verdicts", allow_private)
    own = client is None
    client = client or httpx.Client(timeout=30, follow_redirects=False)
    try:
        response = client.post(target.url, json=signing.sign(key, page), extensions=target.extensions,
                               headers={"Host": target.host_header, "Authorization": f"Bearer {token}"})
    finally:
        if own:
            client.close()
    if response.status_code != 200:
        raise NciiShieldError(f"publisher answered {response.status_code}: {response.text[:200]}")
    return len(entries)


# -- the publisher's side -------------------------------------------------------------------------


def receive(db: Database, access: FeedAccess, envelope: object) -> dict:
    """Verify and store a subscriber's report (replacing its previous one); returns counts."""
    page = envelope.get("page") if isinstance(envelope, dict) else None
    if not isinstance(page, dict) or not isinstance(page.get("public_key"), str):
        raise InvalidRequest('a verdict report is {"page": {...}, "signature": "..."} with the page\'s public_key')
    page = signing.verify(page["public_key"], envelope)
    if page.get("format") != FORMAT or page.get("feed") != access.feed:
        raise InvalidRequest(f"not a verdict report for feed {access.feed!r} in format {FORMAT}")
    entries = page.get("entries")
    if not isinstance(entries, list) or len(entries) > MAX_ENTRIES:
        raise InvalidRequest(f"entries must be a list of at most {MAX_ENTRIES:,}")
    checked: dict[tuple[str, str], dict] = {}
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise InvalidRequest(f"entries[{i}] is not an object")
        try:
            signal = canonical(SignalInput(str(e.get("signal_type")), str(e.get("value"))), i)
        except NciiShieldError as exc:
            raise InvalidRequest(str(exc)) from exc
        counts = {k: e.get(k, 0) for k in ("confirm", "deconfirm", "dispute")}
        if any(not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MAX_COUNT for v in counts.values()):
            raise InvalidRequest(f"entries[{i}]: confirm, deconfirm and dispute are counts from 0 to {MAX_COUNT:,}")
        if not isinstance(e.get("removed", False), bool):
            raise InvalidRequest(f"entries[{i}]: removed is true or false")
        checked[(signal.signal_type, bank_store.digest(signal.value))] = {**counts, "removed": e.get("removed", False)}
    now = utcnow()
    with db.write() as session:
        subscriber_id = session.scalar(select(FeedSubscriber.id).where(
            FeedSubscriber.feed_id == access.feed_id, FeedSubscriber.name == access.subscriber,
            FeedSubscriber.revoked_at.is_(None)).order_by(FeedSubscriber.id))
        ids: dict[tuple[str, str], int] = {}
        by_type: dict[str, list[str]] = {}
        for signal_type, d in checked:
            by_type.setdefault(signal_type, []).append(d)
        for signal_type, digests in by_type.items():
            for start in range(0, len(digests), 1000):
                for signal_id, d in session.execute(select(Signal.id, Signal.value_digest).where(
                        Signal.bank_id == access.bank_id, Signal.signal_type == signal_type,
                        Signal.value_digest.in_(digests[start:start + 1000]))):
                    ids[(signal_type, d)] = int(signal_id)
        before = {row.signal_id: row for row in session.scalars(select(FeedVerdict).where(
            FeedVerdict.subscriber_id == subscriber_id))}
        keep = set()
        for key, signal_id in ids.items():
            e = checked[key]
            row = before.get(signal_id)
            if row is None:
                row = FeedVerdict(subscriber_id=subscriber_id, signal_id=signal_id)
                session.add(row)
            row.confirm, row.deconfirm, row.dispute = e["confirm"], e["deconfirm"], e["dispute"]
            row.removed_at = (row.removed_at or now) if e["removed"] else None
            row.updated_at = now
            keep.add(signal_id)
        gone = [signal_id for signal_id in before if signal_id not in keep]
        if gone:
            session.execute(delete(FeedVerdict).where(FeedVerdict.subscriber_id == subscriber_id,
                                                      FeedVerdict.signal_id.in_(gone)))
    return {"accepted": len(ids), "unknown": len(checked) - len(ids)}


def counts(db: Database, principal: Principal, bank_name: str, signal_id: int) -> dict:
    """What the subscribers of this instance's feeds reported about one of its signals (scope bank:read)."""
    principal.require("bank:read")
    with db.read() as session:
        bank = bank_store.find_bank(session, principal.tenant_id, bank_name)
        bank_store.get_signal(session, bank, signal_id)
        row = session.execute(select(func.count(), func.coalesce(func.sum(FeedVerdict.confirm), 0),
                                     func.coalesce(func.sum(FeedVerdict.deconfirm), 0),
                                     func.coalesce(func.sum(FeedVerdict.dispute), 0),
                                     func.count(FeedVerdict.removed_at))
                              .where(FeedVerdict.signal_id == signal_id)).one()
    return {"signal_id": signal_id, "subscribers_reporting": int(row[0]), "confirm": int(row[1]),
            "deconfirm": int(row[2]), "dispute": int(row[3]), "removed_on": int(row[4])}


def outcome_delay() -> timedelta:
    return timedelta(seconds=float(os.environ.get("NCII_SHIELD_OUTCOME_DELAY", "86400")))


def removed_on_platforms(session, signal_ids: list[int], delay: timedelta | None = None) -> int:
    """How many subscribing platforms reported a removal of any of ``signal_ids``, counting only
    reports older than the outcome delay."""
    if not signal_ids:
        return 0
    cutoff = utcnow() - (outcome_delay() if delay is None else delay)
    return int(session.scalar(select(func.count(func.distinct(FeedVerdict.subscriber_id))).where(
        FeedVerdict.signal_id.in_(signal_ids), FeedVerdict.removed_at.is_not(None),
        FeedVerdict.removed_at <= cutoff)) or 0)
