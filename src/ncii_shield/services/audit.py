"""The audit log: append-only and hash-chained, so that a changed, removed or reordered entry shows.

Each entry is ``(seq, at, tenant, actor, action, subject, details, prev_hash, hash)`` where ``tenant``
is the id of the tenant the entry belongs to (``None``: the instance operator's only), ``details`` is
canonical JSON text and

    hash = SHA-256( canonical_json({"seq", "at", "tenant", "actor", "action", "subject", "details", "prev_hash"}) )

with ``at`` as ISO 8601 UTC with microseconds, canonical JSON = keys sorted, no spaces, UTF-8, and
``prev_hash`` the previous entry's hash (64 zeros for the first). Entries written before migration
0009 were hashed without ``"tenant"`` (their tenant was derived afterwards, so it is not covered by
their hash); they form the start of the chain and verify in that older form. :func:`append` runs
inside the caller's transaction, so an action and its entry commit together or not at all; it takes
the same transaction-scoped advisory lock as the change log on PostgreSQL (SQLite: the process's
writer lock, and ``seq`` is the primary key, so a second writer in another process can never fork
the chain: its insert collides and its transaction rolls back).

    with db.write() as session:
        ...                                      # the action
        audit.append(session, tenant_id=notice.tenant_id, actor="key:ab12", action="notice.transition",
                     subject="TD-...", details={"from": "received", "to": "in_review"})

One chain for the whole instance, read per tenant: a tenant (``tenant_id=`` on :func:`export_lines`,
what its admin key gets over HTTP) sees its own entries in full and, of every other entry, only the
link values ``{"seq", "redacted": true, "prev_hash", "hash"}``: its export still verifies as one
unbroken chain (its own entries by content, the others by their links) without showing what another
tenant did. Only the instance operator (``ncii-shield audit`` with the database) sees every entry.

:func:`verify` walks the chain and names the first bad entry. Deleting the newest entries leaves a
valid shorter chain: keep the head (``seq`` and hash, printed by ``ncii-shield audit head`` and at
the end of every export) somewhere else and pass it as ``expect_head``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from ncii_shield.store import changes
from ncii_shield.store.database import Database
from ncii_shield.store.models import AuditEntry, utcnow

GENESIS = "0" * 64


def canonical_json(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def as_utc(moment: datetime | None) -> datetime | None:
    """Datetimes read back from SQLite are naive (stored in UTC): make every one aware, in UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def entry_hash(seq: int, at: datetime, tenant: int | None, actor: str, action: str, subject: str, details: str,
               prev_hash: str, *, legacy: bool = False) -> str:
    """The entry's hash; ``legacy=True``: the form of entries written before migration 0009 (no tenant)."""
    payload = {"seq": int(seq), "at": as_utc(at).isoformat(timespec="microseconds"), "actor": actor,
               "action": action, "subject": subject, "details": details, "prev_hash": prev_hash}
    if not legacy:
        payload["tenant"] = None if tenant is None else int(tenant)
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def append(session: Session, *, tenant_id: int | None, actor: str, action: str, subject: str = "",
           details: dict | None = None, at: datetime | None = None) -> AuditEntry:
    """Append one entry in the caller's transaction. ``tenant_id`` is whose entry it is (required, so
    that no entry is written without deciding who may read it; ``None`` only for what belongs to the
    instance operator alone). Never put personal data in ``details``: the log is kept for good, while
    personal data is purged."""
    changes.lock(session)
    if session.get_bind().dialect.name == "sqlite":
        # take SQLite's write lock before reading the head, so another process cannot append in between
        session.execute(sql("UPDATE audit_log SET seq = seq WHERE 0"))
    last = session.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)).first()
    seq, prev = (int(last[0]) + 1, last[1]) if last else (1, GENESIS)
    at = as_utc(at or utcnow())
    text = canonical_json(details or {})
    actor, action, subject = actor[:100], action[:64], subject[:200]
    entry = AuditEntry(seq=seq, at=at, tenant_id=tenant_id, actor=actor, action=action, subject=subject,
                       details=text, prev_hash=prev,
                       hash=entry_hash(seq, at, tenant_id, actor, action, subject, text, prev))
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    first_bad: int | None = None
    problem: str | None = None
    redacted: int = 0  # entries checked by their links only (another tenant's, in a tenant's export)

    def to_json(self) -> dict:
        return {k: v for k, v in vars(self).items()}


# a row: (seq, at, tenant, actor, action, subject, details, prev_hash, hash); a redacted row has
# None for everything but seq, prev_hash and hash
_COLUMNS = (AuditEntry.seq, AuditEntry.at, AuditEntry.tenant_id, AuditEntry.actor, AuditEntry.action,
            AuditEntry.subject, AuditEntry.details, AuditEntry.prev_hash, AuditEntry.hash)


def _rows(db: Database, batch: int = 5000) -> Iterator[tuple]:
    last = None
    while True:
        with db.read() as session:
            query = select(*_COLUMNS).order_by(AuditEntry.seq).limit(batch)
            if last is not None:
                query = query.where(AuditEntry.seq > last)
            rows = session.execute(query).all()
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def _redacted(row: tuple) -> bool:
    return row[1] is None


def verify_rows(rows: Iterable[tuple], expect_head: tuple[int, str] | None = None) -> VerifyResult:
    """Check (seq, at, tenant, actor, action, subject, details, prev_hash, hash) rows in ``seq`` order;
    ``expect_head`` = (seq, hash) recorded elsewhere earlier: also catches removal of the newest entries.
    A redacted row (``at`` is None) is checked by its links only. The older hash form (no tenant) is
    accepted only before the first entry in the current form: entries before migration 0009."""
    expected, prev, count, redacted, legacy_allowed = 1, GENESIS, 0, 0, True
    want_seq, want_hash = expect_head or (0, GENESIS)
    hash_at_want = GENESIS if want_seq == 0 else None
    for row in rows:
        seq, at, tenant, actor, action, subject, details, prev_hash, stored = row
        count += 1
        if int(seq) != expected:
            return VerifyResult(False, count, expected - 1, prev, expected,
                                f"entry {expected} is missing (the next entry is {seq}): entries were removed",
                                redacted)
        if prev_hash != prev:
            return VerifyResult(False, count, expected - 1, prev, int(seq),
                                f"entry {seq} does not follow entry {int(seq) - 1}: its prev_hash does not match "
                                "(an entry before it was changed, removed or reordered)", redacted)
        if _redacted(row):
            redacted += 1
        elif entry_hash(seq, at, tenant, actor, action, subject, details, prev_hash) == stored:
            legacy_allowed = False
        elif not (legacy_allowed and stored == entry_hash(seq, at, tenant, actor, action, subject, details,
                                                           prev_hash, legacy=True)):
            return VerifyResult(False, count, expected - 1, prev, int(seq),
                                f"entry {seq} was changed: its content (or its tenant) does not match its hash",
                                redacted)
        if int(seq) == want_seq:
            hash_at_want = stored
        prev, expected = stored, expected + 1
    head_seq = expected - 1
    if expect_head is not None:
        if head_seq < want_seq:
            return VerifyResult(False, count, head_seq, prev, head_seq + 1,
                                f"the log ends at entry {head_seq} but the recorded head is entry {want_seq}: "
                                "the newest entries were removed", redacted)
        if hash_at_want != want_hash:
            return VerifyResult(False, count, head_seq, prev, want_seq,
                                f"entry {want_seq} does not have the recorded head hash", redacted)
    return VerifyResult(True, count, head_seq, prev, redacted=redacted)


def verify(db: Database, expect_head: tuple[int, str] | None = None) -> VerifyResult:
    """Walk the whole log in the database (in batches) and name the first bad entry, if any. Every
    entry is checked by its content, whoever it belongs to: this is what a tenant's verification
    runs too (the answer names entries by number only)."""
    return verify_rows(_rows(db), expect_head)


def count(db: Database, tenant_id: int) -> int:
    """How many entries belong to ``tenant_id``."""
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEntry)
                                  .where(AuditEntry.tenant_id == tenant_id)))


def entry_json(row: tuple) -> dict:
    seq, at, tenant, actor, action, subject, details, prev_hash, stored = row
    if _redacted(row):
        return {"seq": int(seq), "redacted": True, "prev_hash": prev_hash, "hash": stored}
    return {"seq": int(seq), "at": as_utc(at).isoformat(timespec="microseconds"),
            "tenant": None if tenant is None else int(tenant), "actor": actor, "action": action, "subject": subject,
            "details": json.loads(details), "prev_hash": prev_hash, "hash": stored}


def _view(rows: Iterable[tuple], tenant_id: int) -> Iterator[tuple]:
    """A tenant's view: its own rows; of every other row only seq and the link values."""
    for row in rows:
        if row[2] is not None and int(row[2]) == tenant_id:
            yield row
        else:
            yield (row[0], None, None, None, None, None, None, row[7], row[8])


def export_lines(db: Database, *, tenant_id: int | None = None, operator: bool = False) -> Iterator[str]:
    """The log as JSON lines, oldest first, each entry with its chain; ``details`` is the parsed
    canonical JSON (re-serialise it canonically to recompute the hash). Give ``tenant_id`` for that
    tenant's view (others' entries redacted to their links), or ``operator=True`` for every entry."""
    if tenant_id is None and not operator:
        raise ValueError("export_lines needs tenant_id (a tenant's view) or operator=True (every entry)")
    rows = _rows(db) if operator else _view(_rows(db), tenant_id)
    for row in rows:
        yield canonical_json(entry_json(row)) + "\n"


def verify_export(lines: Iterable[str], expect_head: tuple[int, str] | None = None) -> VerifyResult:
    """Verify an exported file without the database (a tenant's view too: redacted entries by their links)."""
    def rows() -> Iterator[tuple]:
        for line in lines:
            if line.strip():
                e = json.loads(line)
                if e.get("redacted"):
                    yield (e["seq"], None, None, None, None, None, None, e["prev_hash"], e["hash"])
                    continue
                yield (e["seq"], datetime.fromisoformat(e["at"]), e.get("tenant"), e["actor"], e["action"],
                       e["subject"], canonical_json(e["details"]), e["prev_hash"], e["hash"])
    return verify_rows(rows(), expect_head)


def head(db: Database) -> tuple[int, str]:
    with db.read() as session:
        last = session.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)).first()
    return (int(last[0]), last[1]) if last else (0, GENESIS)
