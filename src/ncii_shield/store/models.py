"""Tables. Names are stored constants; change them only with a migration."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identities.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Bank(Base):
    __tablename__ = "banks"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_banks_tenant_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Signal(Base):
    __tablename__ = "signals"
    __table_args__ = (
        UniqueConstraint("bank_id", "signal_type", "value_digest", name="uq_signals_bank_type_value"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    signal_type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(Text)
    # sha256 of value: keeps the uniqueness index small for long values (vPDQ of a long video)
    value_digest: Mapped[str] = mapped_column(String(64))
    meta: Mapped[dict | None] = mapped_column("metadata", JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Change(Base):
    """The change log: one row per bank change, in commit order of ``seq``."""

    __tablename__ = "changes"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    op: Mapped[str] = mapped_column(String(16))  # add | withdraw | bank
    bank_id: Mapped[int] = mapped_column(Integer)
    signal_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    signal_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    value: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ImportRun(Base):
    """Checkpoint of a resumable bank import: how many lines of which file are committed."""

    __tablename__ = "import_runs"
    __table_args__ = (UniqueConstraint("bank_id", "source_sha256", name="uq_import_runs_bank_source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
    source_sha256: Mapped[str] = mapped_column(String(64))
    source_name: Mapped[str] = mapped_column(Text, default="")
    lines_done: Mapped[int] = mapped_column(BigInteger, default=0)
    finished: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


Index("ix_signals_active", Signal.signal_type, Signal.withdrawn_at)


class Feed(Base):
    """A bank published to other instances as a signed feed."""

    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FeedSubscriber(Base):
    """Who may pull a feed: one access token per subscriber, revocable."""

    __tablename__ = "feed_subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Subscription(Base):
    """This instance following another's feed into a local bank, with its checkpoint."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(Text)
    feed: Mapped[str] = mapped_column(String(100))
    publisher_key: Mapped[str] = mapped_column(String(100))  # pinned Ed25519 public key, base64
    token: Mapped[str] = mapped_column(Text)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
    cursor: Mapped[str] = mapped_column(String(100), default="start")
    applied: Mapped[int] = mapped_column(BigInteger, default=0)
    last_pull_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ExchangeCheckpoint(Base):
    """Where a fetch from an outside hash-sharing programme (StopNCII, ...) got to."""

    __tablename__ = "exchange_checkpoints"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
    checkpoint: Mapped[dict] = mapped_column(JSON)
    records: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


Index("ix_changes_bank_seq", Change.bank_id, Change.seq)


class Case(Base):
    """A person's case: their hashes in a victims' bank, reachable with case number + PIN only."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_number: Mapped[str] = mapped_column(String(32), unique=True)
    pin_hash: Mapped[str] = mapped_column(String(200))
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
    queue: Mapped[str] = mapped_column(String(32))  # "adult" | "mandatory-report" (under 18)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | withdrawn
    contact_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    failed_pins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    lockouts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CaseSignal(Base):
    __tablename__ = "case_signals"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    signal_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class MatchTotal(Base):
    """How often a signal has matched an upload, and when last — never where, nor what was uploaded.
    One row per signal (updated in place), so the table never outgrows the banks."""

    __tablename__ = "match_totals"

    signal_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    matches: Mapped[int] = mapped_column(BigInteger, default=0)
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
