"""A feed that suddenly sends far more new hashes than usual is throttled and flagged (issue 23,
item 4): its pages are refused (nothing applied, checkpoint kept) until the window has room, the
first refusal is in the audit log. Signed pages applied to a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from ncii_shield.services.exchange import flood, signing
from ncii_shield.services.exchange import subscriber as sub
from ncii_shield.services.exchange.publisher import FORMAT
from ncii_shield.store.models import AuditEntry, Signal, Subscription

KEY = Ed25519PrivateKey.generate()


def page(cursor: str, next_cursor: str, values: list[str]) -> dict:
    return signing.sign(KEY, {"format": FORMAT, "feed": "f", "cursor": cursor, "next_cursor": next_cursor,
                              "more": False, "entries": [{"op": "add", "signal_type": "md5", "value": v}
                                                         for v in values]})


def md5s(start: int, n: int) -> list[str]:
    return [f"{i:032x}" for i in range(start, start + n)]


@pytest.fixture
def subscribed(data_shield, monkeypatch):
    s = data_shield
    monkeypatch.setattr(flood, "GUARD", flood.FloodGuard(limit=50, window=3600))
    sub.subscribe(s.db, s.local_principal(), name="helpline", url="http://127.0.0.1:9", feed="f",
                  publisher_key=signing.public_key_b64(KEY), token="t", bank="from-feed", allow_private_address=True)
    with s.db.read() as session:
        return s, session.scalar(select(Subscription.id))


def applied(s) -> int:  # noqa: ANN001
    with s.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Signal)))


def test_a_flood_after_the_snapshot_is_refused_kept_for_later_and_flagged_once(subscribed, monkeypatch):
    s, sub_id = subscribed
    assert sub.apply_page(s.db, sub_id, page("start", "snap:1:0", md5s(0, 200))) == 200, "a snapshot is not a flood"
    assert sub.apply_page(s.db, sub_id, page("snap:1:0", "log:1", [])) == 0
    assert sub.apply_page(s.db, sub_id, page("log:1", "log:2", md5s(1000, 40))) == 40
    flooding = page("log:2", "log:3", md5s(2000, 20))  # 40 + 20 > 50 in the hour
    for _ in range(2):
        with pytest.raises(sub.PageRejected, match="feed flood: 60 new hashes"):
            sub.apply_page(s.db, sub_id, flooding)
    assert applied(s) == 240, "nothing of the refused page applied"
    with s.db.read() as session:
        row = session.get(Subscription, sub_id)
        assert row.cursor == "log:2" and "NCII_SHIELD_FEED_FLOOD" in row.last_error
        flags = session.scalars(select(AuditEntry).where(AuditEntry.action == "subscription.flood")).all()
    assert len(flags) == 1 and flags[0].subject == "subscription:helpline", "flagged once per window"
    monkeypatch.setattr(flood.GUARD, "window", 0.0)  # the hour has passed
    assert sub.apply_page(s.db, sub_id, flooding) == 20, "the same page, applied once the window has room"
