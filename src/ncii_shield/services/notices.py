"""Removal requests (notices) under the US TAKE IT DOWN Act: 48 hours from a valid request.

A valid request carries what the Act asks (section 3(a)(2)(B)):

* a **signature**: the requester's full name typed (an electronic signature);
* an **identification** of the content (``content_description``) and **where it is**: URLs or the
  platform's content ids (``urls`` / ``content_ids``, at least one);
* a **good-faith statement** that the content was published without consent (``good_faith``), with
  optional further information (``statement``);
* **contact** details: an e-mail, a phone number or a postal address (at least one).

It comes from the person shown (``depicted_person``), through their case (case number + PIN) or
not, or from someone authorised to act for them (``authorized_representative``, who says how:
``authorization``). An incomplete request is refused with every missing field named
(:class:`IncompleteNotice`); nothing is stored. The deadline is receipt + 48 hours, computed and
stored in UTC. States::

    received -> in_review -> removed | rejected (reason required) | withdrawn
    received -> withdrawn

Every transition is a ``notice_events`` row (from, to, who, when, why) and an audit-log entry, in
the same transaction. Personal data (signature, contact, description, statement, authorisation) is
one Fernet token encrypted with the key outside the database, and is deleted
``NCII_SHIELD_NOTICE_RETENTION_DAYS`` (default 180) days after the request is closed
(:meth:`NoticeService.purge_expired`); the audit log never holds personal data.

Submitting the same request twice (same signature, description and locations) *from the same
sender* returns the first one (``created: false``), so a double click or a retried POST makes no
second request. "The same sender" is something only that sender holds: the platform's tenant (an API
key), the case (number + PIN), or a retry key the sender chose (``Idempotency-Key`` on the API, the
browser's form token on the web page). Without one, every request is a new one: a public answer
must never tell an outsider that someone else already sent this request (its reference, state or
time of receipt); reviewers see the repeats side by side.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ncii_shield.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from ncii_shield.services import audit
from ncii_shield.services.audit import as_utc
from ncii_shield.services.cases import OPERATOR_TENANT, CaseService
from ncii_shield.services.sealing import contact_cipher, contact_key
from ncii_shield.services.notice_fields import (  # noqa: F401 - re-exported: the request's fields live there
    DEADLINE, FIELD_HELP, MAX_LOCATIONS, ROLES, IncompleteNotice, NoticeSubmission, deadline_for, validate,
)
from ncii_shield.store import banks as bank_store
from ncii_shield.store.database import Database
from ncii_shield.store.models import (
    DeadlineAlert, Notice, NoticeEvent, NoticeItem, RequesterMessage, ReviewItem, utcnow,
)

DUE_SOON = timedelta(hours=6)

CHANNELS = ("case", "api", "web")
OPEN = ("received", "in_review")
CLOSED = ("removed", "rejected", "withdrawn")
TRANSITIONS: dict[str, frozenset[str]] = {
    "received": frozenset({"in_review", "withdrawn"}),
    "in_review": frozenset({"removed", "rejected", "withdrawn"}),
}
NOTICE_PRIORITY = 80  # above matches (50): a legal deadline runs
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

def iso(moment: datetime | None) -> str | None:
    """UTC, ISO 8601 with a Z, as the HTTP API writes every time."""
    return as_utc(moment).isoformat().replace("+00:00", "Z") if moment else None


def requester_mail_enabled() -> bool:
    """Whether requesters are e-mailed (``NCII_SHIELD_SMTP_URL`` set; see services/requester_mail.py)."""
    return bool(os.environ.get("NCII_SHIELD_SMTP_URL"))


def retention() -> timedelta:
    return timedelta(days=float(os.environ.get("NCII_SHIELD_NOTICE_RETENTION_DAYS", "180")))


@dataclass(frozen=True)
class NoticeView:
    reference: str
    status: str
    channel: str
    requester_role: str
    synthetic: bool
    received_at: datetime
    deadline_at: datetime
    closed_at: datetime | None
    reject_reason: str | None
    overdue: bool
    items: list[dict]
    events: list[dict]
    personal: dict | None = None  # decrypted for reviewers; None once purged (or for the public)
    purged: bool = False

    def to_json(self) -> dict:
        out = dict(vars(self))
        for key in ("received_at", "deadline_at", "closed_at"):
            out[key] = iso(out[key])
        return out


@dataclass(frozen=True)
class Submitted:
    notice: NoticeView
    created: bool
    withdraw_token: str | None  # shown once; None when the request already existed


def new_reference() -> str:
    raw = secrets.randbits(80)
    chars = "".join(_CROCKFORD[(raw >> (5 * i)) & 31] for i in range(16))
    return f"TD-{chars[0:4]}-{chars[4:8]}-{chars[8:12]}-{chars[12:16]}"


MIN_RETRY_KEY, MAX_RETRY_KEY = 16, 200


def _fingerprint(tenant_id: int, sub: NoticeSubmission, sender: str) -> str:
    """Keyed (HMAC with a key derived from the personal-data key): says "same request from the same
    sender" without being a guessable hash of a name. ``sender`` scopes it (see the module docstring)."""
    key = hashlib.sha256(b"ncii-shield notice fingerprint\0" + contact_key()).digest()
    body = audit.canonical_json({"tenant": tenant_id, "sender": sender, "role": sub.requester_role,
                                 "signature": " ".join(sub.signature.casefold().split()),
                                 "description": " ".join(sub.content_description.split()),
                                 "urls": sorted(sub.urls), "content_ids": sorted(sub.content_ids)})
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class NoticeService:
    """Submit, read, move through the states, withdraw and purge removal requests.

    ``on_removed(session, notice, actor, hashes)`` is called in the transaction that marks a request
    removed (the copy sweep hooks in there)."""

    def __init__(self, db: Database, cases: CaseService | None = None,
                 on_removed: Callable[..., None] | None = None) -> None:
        self.db = db
        self.cases = cases
        self.on_removed = on_removed

    # -- submission --------------------------------------------------------------------------

    def submit(self, sub: NoticeSubmission, *, channel: str, actor: str = "requester",
               tenant_id: int | None = None, received_at: datetime | None = None,
               case: tuple[str, ...] | None = None, retry_key: str | None = None) -> Submitted:
        """``tenant_id`` given: a platform's own entry (its API key); ``case``: (number, PIN[, address,
        proof]); ``retry_key``: the public sender's own key that makes a retry return the first request."""
        if channel not in CHANNELS:
            raise InvalidRequest(f"channel must be one of {', '.join(CHANNELS)}")
        if retry_key is not None and not MIN_RETRY_KEY <= len(retry_key) <= MAX_RETRY_KEY:
            raise InvalidRequest(f"an Idempotency-Key is {MIN_RETRY_KEY} to {MAX_RETRY_KEY} characters: "
                                 "a random value of your own, the same for retries of one request")
        if case is not None:
            sub.requester_role = sub.requester_role or "depicted_person"
        clean = validate(sub)
        received, deadline = deadline_for(received_at or utcnow())
        case_id = self._authorise_case(*case) if case is not None else None
        personal = {"signature": clean.signature, "content_description": clean.content_description,
                    "statement": clean.statement, "contact_email": clean.contact_email,
                    "contact_phone": clean.contact_phone, "contact_address": clean.contact_address,
                    "authorization": clean.authorization}
        token = secrets.token_urlsafe(24)
        tenant = tenant_id if tenant_id is not None else self.operator_tenant()
        if tenant_id is not None:
            sender = "tenant"  # the platform itself: it reads every request of its tenant anyway
        elif case_id is not None:
            sender = f"case:{case_id}"
        elif retry_key is not None:
            sender = "retry:" + hashlib.sha256(retry_key.encode()).hexdigest()
        else:
            sender = "once:" + secrets.token_hex(16)  # nothing to recognise a retry by: a new request
        fingerprint = _fingerprint(tenant, clean, sender)
        try:
            with self.db.write() as session:
                existing = session.scalar(select(Notice).where(Notice.fingerprint == fingerprint))
                if existing is not None:
                    return Submitted(self._view(session, existing), False, None)
                notice = Notice(reference=new_reference(), tenant_id=tenant, case_id=case_id, channel=channel,
                                requester_role=clean.requester_role, status="received", synthetic=clean.synthetic,
                                received_at=received, deadline_at=deadline, fingerprint=fingerprint,
                                withdraw_token_hash=_token_hash(token),
                                personal_encrypted=contact_cipher().encrypt(json.dumps(personal).encode()).decode())
                session.add(notice)
                session.flush()
                for url in clean.urls:
                    session.add(NoticeItem(notice_id=notice.id, kind="url", value=url, source="request", status="open"))
                for cid in clean.content_ids:
                    session.add(NoticeItem(notice_id=notice.id, kind="content_id", value=cid, source="request",
                                           status="open"))
                session.add(NoticeEvent(notice_id=notice.id, from_status=None, to_status="received", actor=actor,
                                        at=received))
                if clean.contact_email and requester_mail_enabled():  # confirmation of receipt (outbox)
                    session.add(RequesterMessage(notice_id=notice.id, kind="received"))
                session.add(ReviewItem(
                    tenant_id=tenant, kind="notice", notice_id=notice.id, content_id=(clean.content_ids or [None])[0],
                    media_type="image", priority=NOTICE_PRIORITY, deadline_at=deadline, status="open",
                    summary=f"Removal request {notice.reference}: {len(clean.urls) + len(clean.content_ids)} location(s)"
                            + (", said to be synthetic (deepfake)" if clean.synthetic else ""),
                    details={"reference": notice.reference, "channel": channel}, automated_detection=False))
                audit.append(session, tenant_id=tenant, actor=actor, action="notice.received",
                             subject=notice.reference,
                             details={"channel": channel, "role": clean.requester_role, "case": case_id is not None,
                                      "locations": len(clean.urls) + len(clean.content_ids),
                                      "received_at": received.isoformat(), "deadline_at": deadline.isoformat()})
                session.flush()
                return Submitted(self._view(session, notice), True, token)
        except IntegrityError:  # the same request submitted twice at the same moment: return the first
            with self.db.read() as session:
                existing = session.scalar(select(Notice).where(Notice.fingerprint == fingerprint))
                if existing is None:
                    raise
                return Submitted(self._view(session, existing), False, None)

    def operator_tenant(self) -> int:
        """The tenant public requests go to (the operator's, as for cases); created once, race-safe."""
        for _ in range(3):
            try:
                with self.db.write() as session:
                    return bank_store.get_or_create_tenant(session, OPERATOR_TENANT).id
            except IntegrityError:  # created by a concurrent request: read it
                continue
        raise Conflict("could not create the operator tenant; retry")

    def _authorise_case(self, number: str, pin: str, address: str | None = None, proof: str | None = None) -> int:
        if self.cases is None:
            raise InvalidRequest("case requests are not available here")
        denied: Exception | None = None
        with self.db.write() as session:
            try:
                case = self.cases._authorise(session, number, pin, address=address, proof=proof)  # counts, throttles
            except PermissionDenied as exc:
                denied = exc  # commit the failure count, then raise
            else:
                if case.status != "active":
                    raise Conflict("this case is withdrawn; open a new case or send a request without one")
                return case.id
        raise denied

    # -- reading -----------------------------------------------------------------------------

    def get(self, tenant_id: int, reference: str) -> NoticeView:
        """The request without the requester's details (see :meth:`personal_view`)."""
        with self.db.read() as session:
            return self._view(session, self._find(session, tenant_id, reference))

    def personal_view(self, tenant_id: int, reference: str, *, viewer: str) -> NoticeView:
        """The request with the requester's details decrypted. The only way to read them: each read
        is recorded in the audit log in the same transaction (who read whose request when), so no
        page or answer can show them without its ``notice.personal_viewed`` entry."""
        if not viewer:
            raise ValueError("personal_view needs the viewer (who reads the requester's details)")
        with self.db.write() as session:
            notice = self._find(session, tenant_id, reference)
            if notice.personal_encrypted:
                audit.append(session, tenant_id=notice.tenant_id, actor=viewer, action="notice.personal_viewed",
                             subject=notice.reference)
            return self._view(session, notice, personal=True)

    def public_status(self, reference: str, token: str) -> NoticeView:
        """What the requester may see with the reference and the token given at submission."""
        with self.db.read() as session:
            notice = session.scalar(select(Notice).where(Notice.reference == (reference or "").strip().upper()))
            if notice is None or not notice.withdraw_token_hash or not hmac.compare_digest(
                    notice.withdraw_token_hash, _token_hash(token or "")):
                raise PermissionDenied("the reference or the token is not right")
            return self._view(session, notice)

    def list(self, tenant_id: int, *, status: str | None = None, limit: int = 100) -> list[NoticeView]:
        with self.db.read() as session:
            query = select(Notice).where(Notice.tenant_id == tenant_id).order_by(Notice.deadline_at, Notice.id).limit(limit)
            if status:
                query = query.where(Notice.status == status)
            return [self._view(session, n) for n in session.scalars(query)]

    @staticmethod
    def _find(session: Session, tenant_id: int, reference: str) -> Notice:
        notice = session.scalar(select(Notice).where(Notice.reference == (reference or "").strip().upper(),
                                                     Notice.tenant_id == tenant_id))
        if notice is None:
            raise NotFound(f"no removal request {reference!r} in this tenant")
        return notice

    def _view(self, session: Session, notice: Notice, *, personal: bool = False) -> NoticeView:
        items = [{"id": i.id, "kind": i.kind, "value": i.value, "source": i.source, "match_type": i.match_type,
                  "distance": i.distance, "status": i.status,
                  "removed_at": iso(i.removed_at)}
                 for i in session.scalars(select(NoticeItem).where(NoticeItem.notice_id == notice.id).order_by(NoticeItem.id))]
        events = [{"from": e.from_status, "to": e.to_status, "actor": e.actor, "reason": e.reason,
                   "at": iso(e.at)}
                  for e in session.scalars(select(NoticeEvent).where(NoticeEvent.notice_id == notice.id).order_by(NoticeEvent.id))]
        data = None
        if personal and notice.personal_encrypted:
            data = json.loads(contact_cipher().decrypt(notice.personal_encrypted.encode()))
        deadline = as_utc(notice.deadline_at)
        return NoticeView(notice.reference, notice.status, notice.channel, notice.requester_role, notice.synthetic,
                          as_utc(notice.received_at), deadline, as_utc(notice.closed_at), notice.reject_reason,
                          notice.status in OPEN and deadline < utcnow(), items, events, data,
                          notice.purged_at is not None)

    # -- state machine -----------------------------------------------------------------------

    def transition(self, tenant_id: int, reference: str, to: str, *, actor: str, reason: str | None = None,
                   hashes: list[dict] | None = None) -> NoticeView:
        with self.db.write() as session:
            notice = self._find(session, tenant_id, reference)
            self.apply(session, notice, to, actor=actor, reason=reason, hashes=hashes)
            session.flush()
            return self._view(session, notice)

    def apply(self, session: Session, notice: Notice, to: str, *, actor: str, reason: str | None = None,
              hashes: list[dict] | None = None) -> None:
        """Move ``notice`` to ``to`` in the caller's transaction (refuses what the machine forbids)."""
        allowed = TRANSITIONS.get(notice.status, frozenset())
        if to not in allowed:
            accepted = ", ".join(sorted(allowed)) or "none: the request is closed"
            raise Conflict(f"a request in state {notice.status!r} cannot become {to!r}; accepted: {accepted}")
        reason = (reason or "").strip()[:2000] or None
        if to == "rejected" and not reason:
            raise InvalidRequest("a rejection needs a reason (it is sent to the requester)")
        now = utcnow()
        session.add(NoticeEvent(notice_id=notice.id, from_status=notice.status, to_status=to, actor=actor,
                                reason=reason, at=now))
        audit.append(session, tenant_id=notice.tenant_id, actor=actor, action="notice.transition",
                     subject=notice.reference,
                     details={"from": notice.status, "to": to, "reason": reason}, at=now)
        notice.status = to
        if to in CLOSED:
            notice.closed_at = now
            notice.fingerprint = None  # a new request for the same content is a new request
            if to == "rejected":
                notice.reject_reason = reason
            for item in session.scalars(select(ReviewItem).where(ReviewItem.notice_id == notice.id,
                                                                 ReviewItem.status.in_(("open", "escalated")),
                                                                 ReviewItem.kind == "notice")):
                item.status = "closed"
        if to == "removed":
            for item in session.scalars(select(NoticeItem).where(NoticeItem.notice_id == notice.id,
                                                                 NoticeItem.source == "request")):
                item.status, item.removed_at = "removed", now
            if self.on_removed is not None:
                self.on_removed(session, notice, actor, hashes or [])
            session.add(DeadlineAlert(notice_id=notice.id, kind="removed", created_at=now, attempts=0))  # outbox
        if to in ("removed", "rejected") and notice.personal_encrypted and requester_mail_enabled():
            session.add(RequesterMessage(notice_id=notice.id, kind="decided"))  # outbox
        session.flush()

    def withdraw(self, reference: str, token: str) -> NoticeView:
        """The requester withdraws with the token given at submission."""
        with self.db.write() as session:
            notice = session.scalar(select(Notice).where(Notice.reference == (reference or "").strip().upper()))
            if notice is None or not notice.withdraw_token_hash or not hmac.compare_digest(
                    notice.withdraw_token_hash, _token_hash(token or "")):
                raise PermissionDenied("the reference or the token is not right")
            self.apply(session, notice, "withdrawn", actor="requester")
            return self._view(session, notice)

    # -- retention ---------------------------------------------------------------------------

    def purge_expired(self, *, now: datetime | None = None, keep: timedelta | None = None) -> int:
        """Delete the personal data of requests closed longer ago than the retention period."""
        cutoff = (now or utcnow()) - (keep if keep is not None else retention())
        purged = 0
        with self.db.write() as session:
            for notice in session.scalars(select(Notice).where(Notice.closed_at.is_not(None), Notice.closed_at < cutoff,
                                                               Notice.personal_encrypted.is_not(None))):
                notice.personal_encrypted = None
                notice.withdraw_token_hash = None
                notice.fingerprint = None
                notice.purged_at = utcnow()
                audit.append(session, tenant_id=notice.tenant_id, actor="system", action="notice.purged",
                             subject=notice.reference,
                             details={"closed_at": as_utc(notice.closed_at).isoformat()})
                purged += 1
        return purged

    def counts(self, tenant_id: int | None = None, *, now: datetime | None = None) -> dict[str, int]:
        """Open requests, overdue ones and those due within 6 hours (for the queue, metrics, alerts)."""
        now = as_utc(now or utcnow())
        with self.db.read() as session:
            queue = select(func.count()).select_from(ReviewItem).where(ReviewItem.status.in_(("open", "escalated")))
            if tenant_id is not None:
                queue = queue.where(ReviewItem.tenant_id == tenant_id)
            base = select(func.count()).select_from(Notice).where(Notice.status.in_(OPEN))
            if tenant_id is not None:
                base = base.where(Notice.tenant_id == tenant_id)
            return {
                "open": int(session.scalar(base) or 0),
                "overdue": int(session.scalar(base.where(Notice.deadline_at < now)) or 0),
                "due_soon": int(session.scalar(base.where(Notice.deadline_at >= now,
                                                          Notice.deadline_at < now + DUE_SOON)) or 0),
                "queue": int(session.scalar(queue) or 0),
            }

    def stats(self, tenant_id: int, *, days: int = 30, now: datetime | None = None) -> dict:
        """For the dashboard: requests received and removed per day (UTC) over ``days`` days, and the
        hours from receipt to removal of every removed request in that window."""
        now = as_utc(now or utcnow())
        start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
        per_day = {(start + timedelta(days=i)).date(): [0, 0] for i in range(days)}
        hours: list[float] = []
        with self.db.read() as session:
            for (received,) in session.execute(select(Notice.received_at).where(
                    Notice.tenant_id == tenant_id, Notice.received_at >= start)):
                day = as_utc(received).date()
                if day in per_day:
                    per_day[day][0] += 1
            removed = session.execute(
                select(Notice.received_at, NoticeEvent.at).join(NoticeEvent, NoticeEvent.notice_id == Notice.id)
                .where(Notice.tenant_id == tenant_id, NoticeEvent.to_status == "removed", NoticeEvent.at >= start))
            for received, at in removed:
                day = as_utc(at).date()
                if day in per_day:
                    per_day[day][1] += 1
                hours.append((as_utc(at) - as_utc(received)).total_seconds() / 3600)
        return {"days": [(d.isoformat(), r, m) for d, (r, m) in per_day.items()], "hours_to_removal": hours}
