"""Retroactive matching (issue 23, item 1): a hash registered after the upload still finds it.

:class:`RetroactiveFollower` follows the change log (``LISTEN`` on PostgreSQL, a primary-key poll on
SQLite, as the index follower does). For every signal that becomes active — from intake, a feed, an
import or the API — it looks the value up in the content index of each tenant entitled to the bank
(its owner; every tenant when the bank is shared and enabled): MD5 and SHA-256 through the
``(tenant_id, md5|sha256)`` indexes, PDQ through the in-memory multi-index that
:class:`~ncii_shield.services.content.ContentIndex` keeps in step with new rows — never a scan of the
table. (vPDQ: the content index keeps no video frames yet, so video signals are not swept.)

Each hit goes through the trust policy (services/trust.py) as an upload's would:

* ``act``, ``review`` or ``quarantined``: a ``match`` review item carrying the upload's
  ``content_id`` and the policy's recommended action (``details.action``); past uploads are never
  removed by ncii-shield itself: the item is how the platform learns of them;
* a hash registered for a minor: a ``mandatory_report`` item instead (services/mandatory_reports.py);
* ``suppressed``, ``disabled``, ``observe``: recorded, no item.

A new signal that finds more than ``retro_contents`` (20) past uploads in one tenant is quarantined
at once and makes one item listing the first of them, not hundreds.

Exactly once with several replicas: each (tenant, signal, content) is a ``retro_matches`` row,
inserted with ``ON CONFLICT DO NOTHING`` in the transaction that makes the item, so a replica that
loses the race makes nothing. Withdrawn before review: the follower closes the signal's open items
(``status = closed``) and forgets their rows, so a re-added signal finds the uploads again.

The replicas share a cursor (``trust_cursors``); a replica that starts resumes from it, so signals
added while none ran are still swept.
"""

from __future__ import annotations

import os
import socket
import threading

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ncii_shield.services import audit
from ncii_shield.services.content import ContentService
from ncii_shield.services.mandatory_reports import MandatoryReports
from ncii_shield.services.trust import Thresholds, TrustPolicy, quarantine_in
from ncii_shield.services.uploads.policy import Policy, ReviewDecision
from ncii_shield.signals import registry
from ncii_shield.store import changes
from ncii_shield.store.change_watch import ChangeWatch
from ncii_shield.store.database import Database
from ncii_shield.store.models import Bank, RetroMatch, ReviewItem, Signal, Tenant, TrustCursor, utcnow

CURSOR = "retroactive"
SWEPT_TYPES = ("pdq", "md5", "sha256")
ACTOR = "retroactive"
PRIORITY = 60  # as an upload's match, when no rule gives one
QUEUED = ("act", "review", "quarantined")


class RetroactiveFollower:
    """Start with :meth:`start` (a daemon thread); :meth:`catch_up` does one pass (tests, CLI)."""

    def __init__(self, db: Database, content: ContentService, *, policy: TrustPolicy | None = None,
                 rules: Policy | None = None, poll_interval: float = 0.05) -> None:
        self.db = db
        self.content = content
        self.policy = policy or TrustPolicy(db)
        self.rules = rules or Policy()  # review priorities: the tenant's rules, then the defaults
        self.reports = MandatoryReports(db)
        self.poll_interval = poll_interval
        self.seq: int | None = None
        self.items_made = 0
        self._lock = threading.Lock()
        self._watch = ChangeWatch(db, "retroactive follower", sweep=self.catch_up,
                                  behind=lambda latest: self.seq is None or latest > self.seq,
                                  poll_interval=poll_interval)

    @property
    def thresholds(self) -> Thresholds:
        return self.policy.thresholds

    # -- one pass ---------------------------------------------------------------------------------

    def _start_seq(self) -> int:
        try:
            with self.db.write() as session:
                row = session.get(TrustCursor, CURSOR)
                if row is None:  # the first start ever: sweep from now on (the past was never promised)
                    row = TrustCursor(name=CURSOR, seq=changes.last_seq(session), updated_at=utcnow())
                    session.add(row)
                return int(row.seq)
        except IntegrityError:  # another replica's first start wrote it at the same moment
            with self.db.read() as session:
                return int(session.get(TrustCursor, CURSOR).seq)

    def catch_up(self) -> int:
        """Sweep for every change after this replica's position; returns the items made."""
        made = 0
        with self._lock:
            if self.seq is None:
                self.seq = self._start_seq()
            while True:
                with self.db.read() as session:
                    batch = changes.read_after(session, self.seq, limit=1000)
                if not batch:
                    break
                if any(c.op == "bank" for c in batch):
                    self.policy.invalidate()  # a bank created or changed: its settings apply from now
                for change in batch:
                    if change.signal_id is not None and change.op == "add" and change.signal_type in SWEPT_TYPES:
                        made += self._sweep(change)
                    elif change.signal_id is not None and change.op == "withdraw":
                        self._close(change.signal_id)
                    self.seq = change.seq
                self._save_cursor(self.seq)
        self.items_made += made
        return made

    def _save_cursor(self, seq: int) -> None:
        with self.db.write() as session:
            session.execute(update(TrustCursor).where(TrustCursor.name == CURSOR, TrustCursor.seq < seq)
                            .values(seq=seq, updated_at=utcnow()))

    def _entitled(self, session: Session, bank: Bank) -> list[int]:
        if not bank.enabled or bank.kind == "allow":
            return []
        if bank.shared:
            return [int(t) for t in session.scalars(select(Tenant.id))]
        return [bank.tenant_id]

    def _sweep(self, change: changes.ChangeRow) -> int:
        made = 0
        with self.db.write() as session:
            bank = session.get(Bank, change.bank_id)
            signal = session.get(Signal, change.signal_id)
            if bank is None or signal is None or signal.withdrawn_at is not None:
                return 0  # withdrawn since: nothing to find (a re-add is a later change)
            tenants = self._entitled(session, bank)
            if not tenants:
                return 0
            hashes = [{change.signal_type: registry.get(change.signal_type).validate(change.value)}]
            threshold = int(registry.get("pdq").default_threshold)
            for tenant_id in tenants:
                hits = self.content.sweep(session, tenant_id, hashes, threshold=threshold)
                if hits:
                    made += self._queue(session, tenant_id, bank, change, hits)
        return made

    def _queue(self, session: Session, tenant_id: int, bank: Bank, change: changes.ChangeRow, hits: list) -> int:
        (assessed,) = self.policy.assess(tenant_id, [(bank.name, change.signal_id, change.signal_type)])
        if assessed.action not in QUEUED and not assessed.mandatory_report:
            return 0
        fresh = self._claim(session, tenant_id, change.signal_id, [h.content_id for h in hits])
        if not fresh:
            return 0
        limit = self.thresholds.retro_contents
        match = {"bank": bank.name, "signal_id": change.signal_id, "signal_type": change.signal_type}
        if len(hits) > limit and not assessed.mandatory_report:
            quarantine_in(session, change.signal_id, f"a new signal that matched {len(hits)} past uploads at once "
                          f"(more than {limit})", actor=ACTOR)
            self.policy.invalidate()
            listed = sorted(fresh)[:limit]
            decision = self.rules.decide_match(tenant_id, bank.name, min(h.distance for h in hits),
                                               action=assessed.action)
            item = self._item(session, tenant_id, None, decision, f"signal {change.signal_id} ({bank.name}) matched {len(hits)} "
                              "past uploads and was quarantined: check the first ones", match, "quarantined",
                              {"content_ids": listed, "matched": len(hits)})
            self._link(session, tenant_id, change.signal_id, fresh, item.id)
            return 1
        by_content = {h.content_id: h for h in hits}
        for content_id in sorted(fresh):
            hit = by_content[content_id]
            evidence = {**match, "distance": hit.distance, "match_type": hit.match_type}
            if assessed.mandatory_report:
                item_id = self.reports.enqueue(tenant_id, content_id, [evidence], actor=ACTOR, session=session,
                                               summary=f"past upload {content_id}: matches a hash registered later "
                                                       "for a minor: mandatory report")
            else:
                decision = self.rules.decide_match(tenant_id, bank.name, hit.distance, action=assessed.action)
                item_id = self._item(session, tenant_id, content_id, decision,
                                     f"past upload {content_id}: matches a hash registered later ({bank.name})",
                                     evidence, assessed.action, {}).id
            self._link(session, tenant_id, change.signal_id, {content_id}, item_id)
        return len(fresh)

    def _claim(self, session: Session, tenant_id: int, signal_id: int, content_ids: list[str]) -> set[str]:
        """The content ids not yet queued for this signal (inserted now; another replica gets none)."""
        insert_fn = pg_insert if self.db.is_postgres else sqlite_insert
        table = RetroMatch.__table__
        now = utcnow()
        claimed: set[str] = set()
        ids = sorted(set(content_ids))
        for start in range(0, len(ids), 1000):
            statement = insert_fn(table).on_conflict_do_nothing().returning(table.c.content_id)
            claimed.update(session.scalars(statement, [
                {"tenant_id": tenant_id, "signal_id": signal_id, "content_id": c, "created_at": now}
                for c in ids[start:start + 1000]]))
        return claimed

    @staticmethod
    def _link(session: Session, tenant_id: int, signal_id: int, content_ids: set[str], item_id: int) -> None:
        session.execute(update(RetroMatch).where(RetroMatch.tenant_id == tenant_id, RetroMatch.signal_id == signal_id,
                                                 RetroMatch.content_id.in_(sorted(content_ids)))
                        .values(review_item_id=item_id))

    @staticmethod
    def _item(session: Session, tenant_id: int, content_id: str | None, decision: ReviewDecision, summary: str,
              match: dict, action: str, extra: dict) -> ReviewItem:
        priority = decision.priority or PRIORITY
        item = ReviewItem(tenant_id=tenant_id, kind="match", content_id=content_id, priority=priority, status="open",
                          summary=summary[:500], automated_detection=True, media_type="image",
                          details={"matches": [match], "action": action, "found_by": ACTOR,
                                   "review": decision.to_json(), **extra})
        session.add(item)
        session.flush()
        audit.append(session, tenant_id=tenant_id, actor=ACTOR, action="review.enqueued", subject=f"review:{item.id}",
                     details={"kind": "match", "priority": priority, "content_id": content_id, "action": action,
                              "replica": f"{socket.gethostname()}:{os.getpid()}"})  # which replica made it
        return item

    def _close(self, signal_id: int) -> int:
        """The signal was withdrawn: close its items still open (not decided), forget their rows."""
        closed = 0
        with self.db.write() as session:
            rows = session.execute(select(RetroMatch.tenant_id, RetroMatch.content_id, RetroMatch.review_item_id)
                                   .where(RetroMatch.signal_id == signal_id)).all()
            if not rows:
                return 0
            item_ids = sorted({r[2] for r in rows if r[2] is not None})
            for item in session.scalars(select(ReviewItem).where(ReviewItem.id.in_(item_ids),
                                                                 ReviewItem.status == "open")):
                item.status, item.decided_by, item.decided_at = "closed", ACTOR, utcnow()
                item.reason = "the hash was withdrawn before review"
                audit.append(session, tenant_id=item.tenant_id, actor=ACTOR, action="review.closed",
                             subject=f"review:{item.id}", details={"signal_id": signal_id, "why": "withdrawn"})
                closed += 1
            session.execute(RetroMatch.__table__.delete().where(RetroMatch.signal_id == signal_id))
        return closed

    # -- following --------------------------------------------------------------------------------

    @property
    def errors(self) -> int:
        return self._watch.errors

    def wake(self) -> None:
        self._watch.wake()

    def start(self) -> None:
        self._watch.start()

    def stop(self) -> None:
        self._watch.stop()
