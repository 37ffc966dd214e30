"""The moderators' review queue: removal requests, matches, derivative flags and near copies in one
queue, ordered by deadline (soonest first, none last), then priority (highest first).

A decision is ``remove``, ``keep`` or ``escalate``, always with a reason; it is recorded with who and
when, and in the audit log, in the transaction that carries it out:

* a removal request: ``remove`` marks it removed (which banks the content's hashes and sweeps for
  copies), ``keep`` rejects it with the reason, ``escalate`` keeps it open for a senior reviewer;
* a near copy found by a sweep: ``remove`` / ``keep`` settle that linked item;
* a match or derivative flag: ``remove`` marks the content removed in the content index.

Opening a request's item moves the request from ``received`` to ``in_review``. A ``remove`` decision
has a statement of reasons (:meth:`ReviewService.statement`, EU DSA Transparency Database shape).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from ncii_shield.errors import Conflict, InvalidRequest, NotFound
from ncii_shield.services import audit, statements
from ncii_shield.services.audit import as_utc
from ncii_shield.services.content import ContentService
from ncii_shield.services.notices import DUE_SOON, NoticeService, iso
from ncii_shield.services.signal_controls import matched_signals, record_rejections, record_removals
from ncii_shield.store.database import Database
from ncii_shield.store.models import DeadlineAlert, Notice, NoticeItem, PlatformContent, ReviewItem, utcnow

if TYPE_CHECKING:
    from ncii_shield.services.uploads.policy import ReviewDecision

ENQUEUE_KINDS = ("match", "derivative", "likeness", "mark")
DECISIONS = ("remove", "keep", "escalate")
MANDATORY_REPORT = "mandatory_report"  # an under-18 case's hash matched: services/mandatory_reports.py
GROUNDS = ("illegal", "incompatible")
ACTIVE = ("open", "escalated")
MAX_ITEM_ID = 2**31 - 1  # review_items.id is a 32-bit integer on PostgreSQL


@dataclass(frozen=True)
class QueueItem:
    id: int
    kind: str
    status: str
    priority: int
    deadline_at: datetime | None
    due: str | None  # "overdue" | "due_soon" | None
    summary: str
    content_id: str | None
    media_type: str
    preview_url: str | None
    reference: str | None
    automated_detection: bool
    details: dict | None
    decision: str | None
    reason: str | None
    ground: str | None
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime

    def to_json(self) -> dict:
        out = dict(vars(self))
        for key in ("deadline_at", "decided_at", "created_at"):
            out[key] = iso(out[key])
        return out


def _due(item: ReviewItem, now: datetime) -> str | None:
    deadline = as_utc(item.deadline_at)
    if deadline is None or item.status not in ACTIVE:
        return None
    if deadline < now:
        return "overdue"
    return "due_soon" if deadline < now + DUE_SOON else None


class ReviewService:
    def __init__(self, db: Database, notices: NoticeService, content: ContentService) -> None:
        self.db = db
        self.notices = notices
        self.content = content

    def _view(self, session: Session, item: ReviewItem, now: datetime | None = None) -> QueueItem:
        reference = None
        if item.notice_id is not None:
            reference = session.scalar(select(Notice.reference).where(Notice.id == item.notice_id))
        return QueueItem(item.id, item.kind, item.status, item.priority, as_utc(item.deadline_at),
                         _due(item, now or utcnow()), item.summary, item.content_id, item.media_type, item.preview_url,
                         reference, item.automated_detection, item.details, item.decision, item.reason, item.ground,
                         item.decided_by, as_utc(item.decided_at), as_utc(item.created_at))

    def enqueue(self, tenant_id: int, kind: str, *, actor: str, content_id: str | None = None, priority: int = 50,
                deadline_at: datetime | None = None, summary: str = "", details: dict | None = None,
                preview_url: str | None = None, media_type: str = "image") -> QueueItem:
        """Put a match or a derivative flag in the queue (removal requests and copies enter on their own)."""
        if kind not in ENQUEUE_KINDS:
            raise InvalidRequest(f"kind must be one of {', '.join(ENQUEUE_KINDS)}")
        if not 0 <= priority <= 100:
            raise InvalidRequest("priority must be 0 (lowest) to 100 (highest)")
        if deadline_at is not None and deadline_at.tzinfo is None:
            raise InvalidRequest("deadline_at must carry a time zone")
        if preview_url and not preview_url.startswith(("https://", "http://")):
            raise InvalidRequest("preview_url must be an http(s) URL of the platform's own copy")
        with self.db.write() as session:
            item = ReviewItem(tenant_id=tenant_id, kind=kind, content_id=content_id, priority=priority,
                              deadline_at=as_utc(deadline_at), status="open", summary=summary[:500],
                              details=details, preview_url=preview_url, media_type=media_type,
                              automated_detection=True)
            session.add(item)
            session.flush()
            audit.append(session, tenant_id=tenant_id, actor=actor, action="review.enqueued",
                         subject=f"review:{item.id}",
                         details={"kind": kind, "priority": priority, "content_id": content_id})
            return self._view(session, item)

    def enqueue_upload(self, tenant_id: int, actor: str, content_id: str, media_type: str, decision: ReviewDecision,
                       findings: dict) -> QueueItem:
        """Queue what an upload check found (the upload pipeline's findings, as JSON): one item, of
        the kind and priority the tenant's policy decided, with its reasons for the reviewer."""
        hits = [h for value in findings.values() if isinstance(value, list) for h in value if isinstance(h, dict)]
        banks = sorted({str(h["bank"]) for h in hits if h.get("bank")})
        summary = f"upload {content_id}: {decision.reasons[0] if decision.reasons else decision.kind} ({', '.join(banks)})"
        return self.enqueue(tenant_id, decision.kind, actor=actor, content_id=content_id, priority=decision.priority,
                            summary=summary, details={**findings, "reasons": decision.reasons}, media_type=media_type)

    def enqueue_scan_result(self, tenant_id: int, found_by: str, result: dict) -> QueueItem | None:
        """Queue what a scan or a monitor found (a scan result: exact / near / derivative / flagged);
        None when the pipeline's decision under the tenant's rules was not to queue it (a mark the
        tenant observes only)."""
        decided = result.get("review")  # the pipeline's decision under the tenant's policy rules
        if isinstance(decided, dict) and decided.get("queue") is False:
            return None
        derivative = result.get("status") == "derivative"
        key = str(result.get("key", ""))
        hits = result.get("matches") or []  # derivative flags are listed there too (signal_type "derivative")
        banks = sorted({str(h.get("bank")) for h in hits if h.get("bank")})
        summary = f"{found_by}: {result.get('status')} ({', '.join(banks) or 'no bank'}) in {key}"
        kind, priority = ("derivative", 70) if derivative else ("match", 60)
        if isinstance(decided, dict) and decided.get("kind") in ENQUEUE_KINDS and type(decided.get("priority")) is int \
                and 0 <= decided["priority"] <= 100:
            kind, priority = decided["kind"], decided["priority"]
        return self.enqueue(tenant_id, kind, actor=found_by,
                            content_id=key[:200] or None, priority=priority, summary=summary,
                            details={k: v for k, v in result.items() if k in ("key", "status", "matches", "source", "member")},
                            preview_url=key if key.startswith(("https://", "http://")) else None,
                            media_type="video" if result.get("content_type") == "video" else "image")

    def queue(self, tenant_id: int, *, include_closed: bool = False, limit: int = 200,
              now: datetime | None = None, minors: bool = False) -> list[QueueItem]:
        """The queue; ``mandatory_report`` items (an under-18 case's hash) first, and only with
        ``minors`` (a key with the ``mandatory_report`` scope): to anyone else they do not exist."""
        now = now or utcnow()
        with self.db.read() as session:
            query = (select(ReviewItem).where(ReviewItem.tenant_id == tenant_id)
                     .order_by(case((ReviewItem.kind == MANDATORY_REPORT, 0), else_=1),
                               ReviewItem.deadline_at.is_(None), ReviewItem.deadline_at, ReviewItem.priority.desc(),
                               ReviewItem.id).limit(limit))
            if not minors:
                query = query.where(ReviewItem.kind != MANDATORY_REPORT)
            if not include_closed:
                query = query.where(ReviewItem.status.in_(ACTIVE))
            return [self._view(session, item, now) for item in session.scalars(query)]

    def _find(self, session: Session, tenant_id: int, item_id: int, minors: bool = False) -> ReviewItem:
        if not 0 < item_id <= MAX_ITEM_ID:  # no such item, and no integer the database would refuse (a 500)
            raise NotFound(f"no review item {item_id} in this tenant (ids are 1 to {MAX_ITEM_ID})")
        item = session.scalar(select(ReviewItem).where(ReviewItem.id == item_id, ReviewItem.tenant_id == tenant_id))
        if item is None or (item.kind == MANDATORY_REPORT and not minors):
            raise NotFound(f"no review item {item_id} in this tenant")
        return item

    def get(self, tenant_id: int, item_id: int, *, minors: bool = False) -> QueueItem:
        with self.db.read() as session:
            return self._view(session, self._find(session, tenant_id, item_id, minors))

    def open(self, tenant_id: int, item_id: int, *, actor: str, minors: bool = False) -> QueueItem:
        """A reviewer opens an item: a removal request still ``received`` goes ``in_review``."""
        with self.db.write() as session:
            item = self._find(session, tenant_id, item_id, minors)
            if item.kind == "notice" and item.notice_id is not None:
                notice = session.get(Notice, item.notice_id)
                if notice.status == "received":
                    self.notices.apply(session, notice, "in_review", actor=actor)
            return self._view(session, item)

    def decide(self, tenant_id: int, item_id: int, decision: str, reason: str, *, actor: str,
               ground: str = "illegal", hashes: list[dict] | None = None, minors: bool = False) -> QueueItem:
        if decision not in DECISIONS:
            raise InvalidRequest(f"decision must be one of {', '.join(DECISIONS)}")
        if ground not in GROUNDS:
            raise InvalidRequest(f"ground must be one of {', '.join(GROUNDS)}")
        reason = (reason or "").strip()
        if not reason:
            raise InvalidRequest("a decision needs a reason (it goes into the statement of reasons)")
        with self.db.write() as session:
            item = self._find(session, tenant_id, item_id, minors)
            if item.status not in ACTIVE:
                raise Conflict(f"review item {item_id} is already {item.status}")
            now = utcnow()
            if item.kind == "notice":
                notice = session.get(Notice, item.notice_id)
                if notice.status == "received":
                    self.notices.apply(session, notice, "in_review", actor=actor)
                if decision == "remove":
                    self.notices.apply(session, notice, "removed", actor=actor, reason=reason, hashes=hashes)
                elif decision == "keep":
                    self.notices.apply(session, notice, "rejected", actor=actor, reason=reason)
            elif item.kind == "copy" and decision in ("remove", "keep"):
                linked = session.get(NoticeItem, item.notice_item_id)
                linked.status = "removed" if decision == "remove" else "kept"
                linked.removed_at = now if decision == "remove" else None
                if decision == "remove":
                    self.content.mark_removed(session, tenant_id, [linked.value])
                    session.add(DeadlineAlert(notice_id=item.notice_id, kind=f"copy:{linked.id}", created_at=now,
                                              attempts=0))  # outbox: the platform takes the copy down
            elif decision == "remove" and item.content_id:
                self.content.mark_removed(session, tenant_id, [item.content_id])
            if decision == "keep" and item.kind in ("match", "mandatory_report"):
                record_rejections(session, matched_signals(item.details))  # services/trust.py: quarantine
            elif decision == "remove" and item.kind in ("match", "mandatory_report", "derivative"):
                record_removals(session, matched_signals(item.details))  # coarse outcomes back to publishers
            item.decision, item.reason, item.ground = decision, reason[:2000], ground
            item.decided_by, item.decided_at = actor, now
            if decision == "escalate":
                item.status = "escalated"
                item.priority = min(100, item.priority + 10)
            else:
                item.status = "decided"
            audit.append(session, tenant_id=item.tenant_id, actor=actor, action="review.decided",
                         subject=f"review:{item.id}",
                         details={"kind": item.kind, "decision": decision, "ground": ground, "reason": reason[:2000]},
                         at=now)
            session.flush()
            return self._view(session, item)

    def statement(self, tenant_id: int, item_id: int, *, minors: bool = False) -> dict:
        """``{"statements": [...]}`` for a ``remove`` decision, one statement per content item removed."""
        with self.db.read() as session:
            item = self._find(session, tenant_id, item_id, minors)
            if item.decision != "remove":
                raise Conflict(f"review item {item_id} has no removal decision, so no statement of reasons")
            decided = as_utc(item.decided_at)
            notice = session.get(Notice, item.notice_id) if item.notice_id else None
            synthetic = bool(notice and notice.synthetic) or item.kind == "derivative"
            restricted: list[statements.RestrictedItem] = []
            if item.kind == "notice":
                rows = session.scalars(select(NoticeItem).where(NoticeItem.notice_id == notice.id,
                                                               NoticeItem.status == "removed").order_by(NoticeItem.id))
                for linked in rows:
                    from_request = linked.source == "request"
                    restricted.append(statements.RestrictedItem(
                        self._media_type(session, tenant_id, linked), self._content_date(session, tenant_id, linked, notice),
                        from_request, not from_request,
                        "AUTOMATED_DECISION_NOT_AUTOMATED" if from_request else "AUTOMATED_DECISION_PARTIALLY",
                        _facts(item, notice, linked)))
            else:
                linked = session.get(NoticeItem, item.notice_item_id) if item.notice_item_id else None
                content_date = self._content_date(session, tenant_id, linked, notice) if linked else (
                    self._posted(session, tenant_id, item.content_id) or as_utc(item.created_at))
                restricted.append(statements.RestrictedItem(
                    item.media_type, content_date, False, item.automated_detection,
                    "AUTOMATED_DECISION_NOT_AUTOMATED", _facts(item, notice, linked)))
            return {"statements": [
                statements.statement(r, puid=f"ncii-shield-{item.id}-{n}", ground=item.ground or "illegal",
                                     reason=item.reason or "", synthetic=synthetic, decided_at=decided)
                for n, r in enumerate(restricted, 1)]}

    @staticmethod
    def _posted(session: Session, tenant_id: int, content_id: str | None) -> datetime | None:
        if not content_id:
            return None
        row = session.execute(select(PlatformContent.posted_at, PlatformContent.created_at).where(
            PlatformContent.tenant_id == tenant_id, PlatformContent.content_id == content_id)).first()
        return as_utc(row[0] or row[1]) if row else None

    def _content_date(self, session: Session, tenant_id: int, linked: NoticeItem, notice: Notice | None) -> datetime:
        posted = self._posted(session, tenant_id, linked.value) if linked.kind == "content_id" else None
        return posted or as_utc(notice.received_at if notice else linked.created_at)

    @staticmethod
    def _media_type(session: Session, tenant_id: int, linked: NoticeItem) -> str:
        media = None
        if linked.kind == "content_id":
            media = session.scalar(select(PlatformContent.media_type).where(
                PlatformContent.tenant_id == tenant_id, PlatformContent.content_id == linked.value))
        return statements.media_type(media, linked.value if linked.kind == "url" else None)


def _facts(item: ReviewItem, notice: Notice | None, linked: NoticeItem | None) -> str:
    """The facts relied on, without personal data (no names, no contact details, no descriptions)."""
    if item.kind == "notice" and linked is not None and linked.source == "request":
        return (f"A removal request for non-consensual intimate imagery named this content ({linked.kind.replace('_', ' ')}). "
                f"The request was received on {as_utc(notice.received_at).date().isoformat()} and reviewed by a person, "
                "who found the content published without consent.")
    if linked is not None and notice is not None:
        how = "identical" if linked.distance == 0 else f"near-identical (PDQ distance {linked.distance})"
        return (f"Hash matching found this content to be an {how} copy of content removed after a removal request "
                f"for non-consensual intimate imagery received on {as_utc(notice.received_at).date().isoformat()}.")
    if item.kind == "derivative":
        return "Automated detection flagged this content as an edited derivative of an image registered by the person shown; a person reviewed it."
    return "Hash matching found this content in a bank of hashes of non-consensual intimate imagery; a person reviewed it."
