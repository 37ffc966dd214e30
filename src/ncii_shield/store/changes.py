"""The change log: every bank change gets the next sequence number, in commit order.

Writers call :func:`lock` first in their transaction: on PostgreSQL a transaction-scoped advisory
lock serialises bank writes so that sequence numbers become visible in order (a follower that has
seen ``seq = n`` never later sees a smaller one appear); SQLite has one writer anyway. At commit,
PostgreSQL delivers a ``NOTIFY`` on :data:`CHANNEL` to every replica listening.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from ncii_shield.store.models import Change, Signal

CHANNEL = "ncii_shield_changes"
_LOCK_KEY = 0x6E636969  # "ncii"


@dataclass(frozen=True)
class ChangeRow:
    seq: int
    op: str  # "add" | "withdraw" | "bank"
    bank_id: int
    signal_id: int | None
    signal_type: str | None
    value: str | None


def lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})


def record(session: Session, rows: Iterable[dict]) -> None:
    """Append changes (dicts with op, bank_id, signal_id, signal_type, value) and notify replicas."""
    rows = list(rows)
    if not rows:
        return
    session.execute(insert(Change), rows)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {CHANNEL}"))


def read_after(session: Session, seq: int, limit: int = 10_000) -> list[ChangeRow]:
    result = session.execute(
        select(Change.seq, Change.op, Change.bank_id, Change.signal_id, Change.signal_type, Change.value)
        .where(Change.seq > seq).order_by(Change.seq).limit(limit)
    )
    return [ChangeRow(*row) for row in result]


def last_seq(session: Session) -> int:
    return int(session.execute(select(func.coalesce(func.max(Change.seq), 0))).scalar_one())


def iter_active_signals(session: Session, batch: int = 50_000):
    """(id, bank_id, signal_type, value) of every signal not withdrawn, in id order, streamed."""
    last = 0
    while True:
        rows = session.execute(
            select(Signal.id, Signal.bank_id, Signal.signal_type, Signal.value)
            .where(Signal.withdrawn_at.is_(None), Signal.id > last).order_by(Signal.id).limit(batch)
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]
