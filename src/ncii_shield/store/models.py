"""Tables. Names are stored constants; change them only with a migration."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
)
from sqlalchemy import false
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
    # trust (issue 23, services/trust.py): "block" banks protect victims, "allow" banks suppress them
    kind: Mapped[str] = mapped_column(String(8), default="block", server_default="block")
    # who the hashes come from: trusted | partner | unverified | anonymous
    trust: Mapped[str] = mapped_column(String(16), default="trusted", server_default="trusted")
    policy: Mapped[str] = mapped_column(String(16), default="review", server_default="review")  # act | review | observe


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
    token: Mapped[str] = mapped_column(Text)  # sealed (Fernet, key outside the database): services/sealing.py
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
    cursor: Mapped[str] = mapped_column(String(100), default="start")
    # the operator's override: the publisher may be on a private network (services/netguard.py)
    allow_private_address: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # what this instance makes of the publisher's hashes (services/trust.py): unconfirmed until an operator says
    trust: Mapped[str] = mapped_column(String(16), default="unverified", server_default="unverified")
    policy: Mapped[str] = mapped_column(String(16), default="review", server_default="review")
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


# --- notice-and-removal (issue 7): removal requests, audit log, platform content, review queue ---


class Notice(Base):
    """A removal request (TAKE IT DOWN Act notice). Personal data (signature, contact, description)
    is one Fernet token in ``personal_encrypted``, set to NULL when the retention period ends."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True)
    channel: Mapped[str] = mapped_column(String(16))  # case | api | web
    requester_role: Mapped[str] = mapped_column(String(32))  # depicted_person | authorized_representative
    status: Mapped[str] = mapped_column(String(16), index=True)  # received | in_review | removed | rejected | withdrawn
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)  # the requester says it is a deepfake/edit
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deadline_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reject_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    withdraw_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    personal_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class NoticeItem(Base):
    """Where the content is: a URL or a platform content id given in the request, or a copy found by
    a sweep (``source = "sweep"``, with how it matched)."""

    __tablename__ = "notice_items"
    __table_args__ = (UniqueConstraint("notice_id", "kind", "value", name="uq_notice_items_value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # url | content_id
    value: Mapped[str] = mapped_column(String(2048))
    source: Mapped[str] = mapped_column(String(16), default="request")  # request | sweep
    match_type: Mapped[str | None] = mapped_column(String(16), nullable=True)  # md5 | sha256 | pdq
    distance: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | removed | kept
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class NoticeEvent(Base):
    """Every state transition of a request: from, to, who, when, why."""

    __tablename__ = "notice_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEntry(Base):
    """The append-only, hash-chained audit log (see services/audit.py). ``seq`` is assigned by the
    writer (last + 1), so two writers can never fork the chain: the second insert collides. No foreign
    key on ``tenant_id``: the log outlives what it names (and SQLite cannot add one in place)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # whose entry it is: a tenant sees only its own in full; NULL = the instance operator's only
    tenant_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON, hashed as stored
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class PlatformContent(Base):
    """The platform's content index: its content ids with their hashes (PDQ, MD5, SHA-256), fed by
    upload checks and scans. Copy sweeps search it; the in-memory PDQ index is a cache of it."""

    __tablename__ = "platform_content"
    __table_args__ = (UniqueConstraint("tenant_id", "content_id", name="uq_platform_content_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    content_id: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    media_type: Mapped[str] = mapped_column(String(16), default="image")  # image | video | other
    pdq: Mapped[str | None] = mapped_column(String(64), nullable=True)
    md5: Mapped[str | None] = mapped_column(String(32), nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    posted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


Index("ix_platform_content_md5", PlatformContent.tenant_id, PlatformContent.md5)
Index("ix_platform_content_sha256", PlatformContent.tenant_id, PlatformContent.sha256)


class ReviewItem(Base):
    """One item of the moderators' queue: a removal request, a match, a derivative flag or a near copy
    found by a sweep. Ordered by deadline, then priority (higher first)."""

    __tablename__ = "review_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # notice | match | derivative | copy | mandatory_report
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"), nullable=True, index=True)
    notice_item_id: Mapped[int | None] = mapped_column(ForeignKey("notice_items.id"), nullable=True)
    content_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    media_type: Mapped[str] = mapped_column(String(16), default="image")
    priority: Mapped[int] = mapped_column(Integer, default=50)
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open | escalated | decided
    summary: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    preview_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    automated_detection: Mapped[bool] = mapped_column(Boolean, default=False)
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)  # remove | keep | escalate
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    ground: Mapped[str | None] = mapped_column(String(16), nullable=True)  # illegal | incompatible
    decided_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReviewSession(Base):
    """A reviewer's page session, opened with a reviewer (or admin) API key; the cookie holds a random
    token, the table its SHA-256."""

    __tablename__ = "review_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DeadlineAlert(Base):
    """A deadline warning (due within 6 hours, or overdue) for a request, sent once by webhook."""

    __tablename__ = "deadline_alerts"
    __table_args__ = (UniqueConstraint("notice_id", "kind", name="uq_deadline_alerts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"))
    kind: Mapped[str] = mapped_column(String(16))  # due_soon | overdue
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)  # an attempt's lease
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class RequesterMessage(Base):
    """An e-mail owed to the person who sent a removal request (an outbox row, written with the change
    it reports): ``received`` (confirmation of receipt) or ``decided`` (removed or not, and why)."""

    __tablename__ = "requester_messages"
    __table_args__ = (UniqueConstraint("notice_id", "kind", name="uq_requester_messages"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"))
    kind: Mapped[str] = mapped_column(String(16))  # received | decided
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)  # lease / backoff
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)  # or why nothing was sent


class StatementSubmission(Base):
    """A removal decision's statements of reasons, accepted by the EU DSA Transparency Database (or
    found there already): one row per review item, so a rerun of the submission never sends it twice."""

    __tablename__ = "statement_submissions"

    review_item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    puids: Mapped[list] = mapped_column(JSON)
    uuids: Mapped[list] = mapped_column(JSON)  # the database's ids, where its answer gave them
    outcome: Mapped[str] = mapped_column(String(16))  # created | existing (puid there already) | none
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# -- scan monitors (issue 8) ----------------------------------------------------------------------


class Monitor(Base):
    """A source scanned again every ``every_seconds``; only items not seen before are scanned."""

    __tablename__ = "monitors"
    __table_args__ = (UniqueConstraint("tenant_id", "source", name="uq_monitors_tenant_source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    source: Mapped[str] = mapped_column(Text)
    every_seconds: Mapped[int] = mapped_column(Integer)
    banks: Mapped[list] = mapped_column(JSON, default=list)
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    next_run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MonitorItem(Base):
    """An item a monitor has scanned (by the SHA-256 of its key), so the next run skips it."""

    __tablename__ = "monitor_items"

    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True)
    key_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MonitorRun(Base):
    """One run of a monitor: the per-source time series (items seen, new, matches, derivatives)."""

    __tablename__ = "monitor_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    new_items: Mapped[int] = mapped_column(Integer, default=0)
    matches: Mapped[int] = mapped_column(Integer, default=0)
    derivatives: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


Index("ix_monitor_runs_monitor_started", MonitorRun.monitor_id, MonitorRun.started_at)


# -- trust and retroactive protection (issue 23, services/trust.py) -------------------------------


class SignalDisable(Base):
    """One tenant stops acting on one signal (until ``until``, or for good); other tenants unaffected."""

    __tablename__ = "signal_disables"
    __table_args__ = (UniqueConstraint("tenant_id", "signal_id", name="uq_signal_disables"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    signal_id: Mapped[int] = mapped_column(BigInteger)
    until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SignalQuarantine(Base):
    """A signal's health on this instance: reviewers' rejections of its matches, and its quarantine
    (review only, never an action) once it over-matched or was rejected too often."""

    __tablename__ = "signal_quarantine"

    signal_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    rejections: Mapped[int] = mapped_column(Integer, default=0)
    removals: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # matches reviewers removed
    quarantined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SignalFeedback(Base):
    """A tenant's reviewers' verdict on a signal (the latest one): confirm | deconfirm | dispute."""

    __tablename__ = "signal_feedback"
    __table_args__ = (UniqueConstraint("tenant_id", "signal_id", name="uq_signal_feedback"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    signal_id: Mapped[int] = mapped_column(BigInteger, index=True)
    verdict: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RetroMatch(Base):
    """A past upload found by a signal added later (retroactive matching): one row per (tenant,
    signal, content), so two replicas following the same change never queue it twice."""

    __tablename__ = "retro_matches"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    signal_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    content_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    review_item_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


Index("ix_retro_matches_signal", RetroMatch.signal_id)


class FeedVerdict(Base):
    """What a subscriber reported back about one of a feed's signals (services/exchange/verdicts.py):
    its reviewers' verdicts, counted, and whether it removed a match. No content ids, no uploads."""

    __tablename__ = "feed_verdicts"

    subscriber_id: Mapped[int] = mapped_column(ForeignKey("feed_subscribers.id"), primary_key=True)
    signal_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    confirm: Mapped[int] = mapped_column(Integer, default=0)
    deconfirm: Mapped[int] = mapped_column(Integer, default=0)
    dispute: Mapped[int] = mapped_column(Integer, default=0)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)  # first reported
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


Index("ix_feed_verdicts_signal", FeedVerdict.signal_id)


class CaseMessage(Base):
    """An e-mail owed to a case's contact address (services/case_mail.py), an outbox row:
    ``withdrawn`` (the confirmation; the address is kept sealed here until it is sent, as the case
    drops it at withdrawal) or ``outcome:<n>`` (copies removed on n platforms)."""

    __tablename__ = "case_messages"
    __table_args__ = (UniqueConstraint("case_id", "kind", name="uq_case_messages"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(24))
    address_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)  # withdrawn only; NULL once done
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class TrustCursor(Base):
    """Where a change-log follower of services/trust.py got to (shared by replicas)."""

    __tablename__ = "trust_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LikenessEnrolment(Base):
    """A person's enrolled face (likeness protection, services/likeness.py): the vectors of 1-5
    photos, sealed with the personal-data key like contact details (biometric data). Never exported,
    published in feeds or logged; withdrawing it (or its case) erases the vectors."""

    __tablename__ = "likeness_enrolments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True, index=True)
    model: Mapped[str] = mapped_column(String(64))  # the embedder's name: vectors compare only within one
    photos: Mapped[int] = mapped_column(Integer)
    vectors_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)  # None once withdrawn
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | withdrawn
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LikenessChange(Base):
    """The enrolled-face index's own change log (``add`` | ``withdraw`` of an enrolment): kept apart
    from ``changes``, which feeds publish, so no feed ever carries an enrolment."""

    __tablename__ = "likeness_changes"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    op: Mapped[str] = mapped_column(String(16))
    enrolment_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PolicyRule(Base):
    """One row of a tenant's review-priority rule table (services/policy_rules.py), checked in
    ``position`` order before the defaults: ``conditions`` all hold -> review at ``priority`` (1-99),
    or ``observe`` (priority NULL). Never a removal; mandatory reports are not a tenant's to set."""

    __tablename__ = "policy_rules"
    __table_args__ = (UniqueConstraint("tenant_id", "position", name="uq_policy_rules_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    position: Mapped[int] = mapped_column(Integer)
    conditions: Mapped[list] = mapped_column(JSON)  # [{"kind", "bank"?, "min_score"?, "max_distance"?}]
    action: Mapped[str] = mapped_column(String(16))  # review | observe
    priority: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
