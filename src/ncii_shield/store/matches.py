"""Match totals: how often each signal has matched an upload, and when last (never where)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from ncii_shield.store.models import MatchTotal


def add_match_counts(session: Session, counts: Mapping[int, int], at: datetime) -> None:
    """Add ``counts`` (signal id -> new matches) to ``match_totals``, setting ``last_at`` to ``at``.

    One upsert statement run by the driver for every row (its executemany): a server matching tens
    of thousands of uploads a second flushes as many rows each second, and building each row through
    the ORM or a compiled Core insert cost more than the matching. Rows go in signal-id order, so
    two replicas flushing at once lock them in the same order."""
    if not counts:
        return
    connection = session.connection()
    dialect = connection.dialect
    convert = MatchTotal.__table__.c.last_at.type.dialect_impl(dialect).bind_processor(dialect)
    when = convert(at) if convert else at  # the same instant for every row: converted once
    mark = "?" if dialect.paramstyle == "qmark" else "%s"  # sqlite3; psycopg
    connection.exec_driver_sql(
        f"INSERT INTO match_totals (signal_id, matches, last_at) VALUES ({mark}, {mark}, {mark}) "
        "ON CONFLICT (signal_id) DO UPDATE SET matches = match_totals.matches + excluded.matches, "
        "last_at = excluded.last_at",
        [(signal_id, n, when) for signal_id, n in sorted(counts.items())])
