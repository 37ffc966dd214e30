"""Deadline watch: removal requests due within 6 hours or overdue, and removals the platform must
carry out, announced once each by an HMAC-signed webhook; the hourly purge of expired personal data
runs on the same thread.

Webhook requests are ``POST`` JSON with the header::

    X-NCII-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>

A receiver checks it with :func:`verify_signature` (constant-time compare, and a timestamp within 5
minutes, so a captured request cannot be replayed later). Configure with ``NCII_SHIELD_WEBHOOK_URL``
and ``NCII_SHIELD_WEBHOOK_SECRET`` (or the file ``<data dir>/webhook.secret``, created mode 0600 on
first use). Events carry no personal data::

    {"type": "notice.deadline", "kind": "due_soon" | "overdue", "reference": "TD-...",
     "status": "received", "deadline_at": "...Z", "sent_at": "...Z"}

A removal decision writes, in its own transaction (an outbox), an alert ``removed`` (or
``copy:<item id>`` for a near copy a reviewer confirmed), delivered at once as::

    {"type": "notice.removed" | "notice.copy_removed", "reference": "TD-...", "status": "removed",
     "deadline_at": "...Z", "take_down": [{"kind": "content_id", "value": "...", "source": "sweep",
     "match_type": "md5", "distance": 0}, ...], "sent_at": "...Z"}

Each (request, kind) is one ``deadline_alerts`` row (unique), so several replicas send each alert
once (each attempt is claimed by compare-and-set with a one-minute lease, so another worker does not
send it meanwhile); a failed delivery is retried on the next pass (at most 10 attempts).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from ncii_shield.services.audit import as_utc
from ncii_shield.services.notices import DUE_SOON, OPEN, NoticeService, iso
from ncii_shield.services.requester_mail import RequesterMail
from ncii_shield.store.database import Database
from ncii_shield.store.files import private_dir
from ncii_shield.store.models import DeadlineAlert, Notice, NoticeItem, utcnow

log = logging.getLogger("ncii_shield.deadlines")
SIGNATURE_HEADER = "X-NCII-Signature"
TOLERANCE_SECONDS = 300
MAX_ATTEMPTS = 10
LEASE = timedelta(minutes=1)  # a claimed delivery attempt (5 s timeout) is not claimed again before this


class BadSignature(ValueError):
    """A webhook request whose signature does not verify (wrong secret, changed body, stale time)."""


def _secret_bytes(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign(secret: str | bytes, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time() if timestamp is None else timestamp)
    mac = hmac.new(_secret_bytes(secret), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify_signature(secret: str | bytes, header: str | None, body: bytes, *,
                     tolerance: int = TOLERANCE_SECONDS, now: float | None = None) -> int:
    """Return the signed timestamp, or raise :class:`BadSignature` saying what is wrong."""
    if not header:
        raise BadSignature(f"no {SIGNATURE_HEADER} header")
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if not parts.get("t", "").isdigit() or "v1" not in parts:
        raise BadSignature("the signature header looks like t=<unix seconds>,v1=<hex>")
    t = int(parts["t"])
    expected = hmac.new(_secret_bytes(secret), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, parts["v1"]):
        raise BadSignature("the signature does not match the body (wrong secret or changed body)")
    if abs((time.time() if now is None else now) - t) > tolerance:
        raise BadSignature(f"the signature is more than {tolerance} s old or in the future (a replay?)")
    return t


def webhook_secret() -> str:
    secret = os.environ.get("NCII_SHIELD_WEBHOOK_SECRET")
    if secret:
        return secret
    path = Path(os.environ.get("NCII_SHIELD_DATA", "data")) / "webhook.secret"
    if not path.exists():
        private_dir(path.parent)  # the data directory: 0700 when we create it
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


class DeadlineWatch:
    def __init__(self, db: Database, notices: NoticeService, *, url: str | None = None, secret: str | None = None,
                 interval: float = 60.0, purge_every: float = 3600.0) -> None:
        self.db = db
        self.notices = notices
        self.url = url if url is not None else os.environ.get("NCII_SHIELD_WEBHOOK_URL") or None
        self._secret = secret
        self.interval = interval
        self.purge_every = purge_every
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_purge = 0.0
        self.mail = RequesterMail(db)
        from ncii_shield.services.case_mail import CaseMail, outcome_interval

        self.case_mail = CaseMail(db)  # news about a case (issue 23): withdrawal, coarse outcomes
        self._outcome_every, self._last_outcomes = outcome_interval(), 0.0

    @property
    def secret(self) -> str:
        if self._secret is None:
            self._secret = webhook_secret()
        return self._secret

    def scan(self, now: datetime | None = None) -> list[dict]:
        """Record new alerts, then deliver every undelivered one. Returns the events delivered."""
        now = now or utcnow()
        with self.db.read() as session:
            due = session.execute(select(Notice.id, Notice.deadline_at).where(
                Notice.status.in_(OPEN), Notice.deadline_at < now + DUE_SOON)).all()
        for notice_id, deadline in due:
            kind = "overdue" if as_utc(deadline) < now else "due_soon"
            try:
                with self.db.write() as session:
                    exists = session.scalar(select(DeadlineAlert.id).where(
                        DeadlineAlert.notice_id == notice_id, DeadlineAlert.kind == kind))
                    if exists is None:
                        session.add(DeadlineAlert(notice_id=notice_id, kind=kind, created_at=now, attempts=0))
            except IntegrityError:  # another replica recorded it first
                pass
        sent = self.deliver() if self.url else []
        self.mail.deliver()  # e-mails owed to requesters (nothing unless NCII_SHIELD_SMTP_URL is set)
        if time.monotonic() - self._last_outcomes > self._outcome_every:
            self._last_outcomes = time.monotonic()
            self.case_mail.record_outcomes()
        self.case_mail.deliver()
        return sent

    def deliver(self, now: datetime | None = None) -> list[dict]:
        sent = []
        now = now or utcnow()
        with self.db.read() as session:
            pending = session.execute(
                select(DeadlineAlert.id, DeadlineAlert.kind, DeadlineAlert.attempts, Notice.reference, Notice.status,
                       Notice.deadline_at)
                .join(Notice, Notice.id == DeadlineAlert.notice_id)
                .where(DeadlineAlert.sent_at.is_(None), DeadlineAlert.attempts < MAX_ATTEMPTS,
                       or_(DeadlineAlert.claimed_until.is_(None), DeadlineAlert.claimed_until <= now))
                .order_by(DeadlineAlert.id)).all()
        for alert_id, kind, attempts, reference, status, deadline in pending:
            with self.db.write() as session:  # claim this attempt for a lease: no other worker or replica sends it
                claimed = session.execute(update(DeadlineAlert).where(
                    DeadlineAlert.id == alert_id, DeadlineAlert.attempts == attempts, DeadlineAlert.sent_at.is_(None)
                ).values(attempts=attempts + 1, claimed_until=utcnow() + LEASE)).rowcount
            if not claimed:
                continue
            event = self._event(alert_id, kind, reference, status, deadline)
            body = json.dumps(event, separators=(",", ":")).encode()
            error = None
            try:
                response = httpx.post(self.url, content=body, timeout=5.0, headers={
                    "Content-Type": "application/json", SIGNATURE_HEADER: sign(self.secret, body)})
                if response.status_code >= 300:
                    error = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            with self.db.write() as session:
                session.execute(update(DeadlineAlert).where(DeadlineAlert.id == alert_id).values(
                    sent_at=None if error else utcnow(), last_error=error, claimed_until=None))
            if error:
                log.warning("deadline webhook failed", extra={"reference": reference, "error": error})
            else:
                sent.append(event)
        return sent

    def _event(self, alert_id: int, kind: str, reference: str, status: str, deadline: datetime) -> dict:
        if kind in ("due_soon", "overdue"):
            return {"type": "notice.deadline", "kind": kind, "reference": reference, "status": status,
                    "deadline_at": iso(deadline), "sent_at": iso(utcnow())}
        # "removed" (the request) or "copy:<item id>" (a near copy a reviewer confirmed): what to take down
        with self.db.read() as session:
            query = select(NoticeItem).join(Notice, Notice.id == NoticeItem.notice_id).where(
                Notice.reference == reference, NoticeItem.status == "removed")
            if kind.startswith("copy:"):
                query = query.where(NoticeItem.id == int(kind[5:]))
            items = [{"kind": i.kind, "value": i.value, "source": i.source, "match_type": i.match_type,
                      "distance": i.distance} for i in session.scalars(query.order_by(NoticeItem.id))]
        return {"type": "notice.removed" if kind == "removed" else "notice.copy_removed", "reference": reference,
                "status": status, "deadline_at": iso(deadline), "take_down": items, "sent_at": iso(utcnow())}

    def wake(self) -> None:
        """Deliver now (after a removal decision) instead of at the next pass."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.scan()
                if time.monotonic() - self._last_purge > self.purge_every:
                    self.notices.purge_expired()
                    self._last_purge = time.monotonic()
            except Exception:  # the database is away: try again next pass
                log.exception("deadline watch pass failed")

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="deadline-watch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
