"""Mandatory reports: a match of an under-18 case's hash (issue 23, item 7).

A hash from the ``victims-under-18`` bank is registered by a parent or guardian for a minor. A
platform that finds it on its service usually has a legal duty to report (in the US, 18 U.S.C.
2258A: to NCMEC's CyberTipline). So a match never becomes an ordinary review item:

* it is a ``mandatory_report`` item, first in the queue whatever the other items' deadlines;
* without a preview (``preview_url`` is never set; the reviewer opens the platform's own copy in the
  platform's own tool if the law lets them), and no case number or case detail is in it;
* visible only to keys with the ``mandatory_report`` scope (and ``reviewer``): to other reviewers
  it does not exist (404, not in the queue);
* with a report draft (:meth:`MandatoryReports.draft`) shaped after the CyberTipline report's
  fields, exported for the platform to complete and file. ncii-shield never sends it.

The support organisation named in ``NCII_SHIELD_MANDATORY_REPORT_ORG`` (and its contact in
``NCII_SHIELD_MANDATORY_REPORT_CONTACT``) is named in every item and draft as the hand-off: the
organisation that helped the family register, which the platform may tell that a report was filed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ncii_shield.errors import NotFound
from ncii_shield.services import audit
from ncii_shield.services.audit import as_utc
from ncii_shield.store.database import Database
from ncii_shield.store.models import PlatformContent, ReviewItem, utcnow

KIND = "mandatory_report"
PRIORITY = 100
INCIDENT_TYPE = "Child Pornography (possession, manufacture, and distribution)"  # CyberTipline incidentType


def handoff() -> dict:
    """The support organisation named in the configuration (or a note that none is)."""
    name = os.environ.get("NCII_SHIELD_MANDATORY_REPORT_ORG", "").strip()
    return {"organisation": name or None, "contact": os.environ.get("NCII_SHIELD_MANDATORY_REPORT_CONTACT", "").strip()
            or None, "note": "tell this organisation that a report was filed (never what was found)" if name
            else "no support organisation configured (NCII_SHIELD_MANDATORY_REPORT_ORG)"}


class MandatoryReports:
    def __init__(self, db: Database) -> None:
        self.db = db

    def enqueue(self, tenant_id: int, content_id: str | None, hits: Iterable, *, actor: str,
                media_type: str = "image", session: Session | None = None, summary: str | None = None) -> int:
        """Queue one ``mandatory_report`` item for ``content_id`` with ``hits`` (dicts, or trust
        Assessments): returns its id. With ``session``, in the caller's transaction."""
        matches = [h if isinstance(h, dict) else {"bank": h.bank, "signal_id": h.signal_id,
                                                   "signal_type": h.signal_type} for h in hits]
        if session is None:
            with self.db.write() as own:
                return self.enqueue(tenant_id, content_id, matches, actor=actor, media_type=media_type, session=own,
                                    summary=summary)
        item = ReviewItem(tenant_id=tenant_id, kind=KIND, content_id=content_id, priority=PRIORITY,
                          status="open", media_type=media_type, preview_url=None, automated_detection=True,
                          summary=(summary or f"upload {content_id}: matches a hash registered for a minor: "
                                   "mandatory report")[:500],
                          details={"matches": matches, "handoff": handoff()})
        session.add(item)
        session.flush()
        audit.append(session, tenant_id=tenant_id, actor=actor, action="review.enqueued", subject=f"review:{item.id}",
                     details={"kind": KIND, "priority": PRIORITY, "content_id": content_id})
        return item.id

    def enqueue_assessed(self, tenant_id: int, content_id: str, assessments: Iterable, *, actor: str,
                         media_type: str = "image") -> int | None:
        """The pipeline's call: queue the trust policy's ``mandatory_report`` hits, if any."""
        hits = [a for a in assessments if getattr(a, "mandatory_report", False)]
        return self.enqueue(tenant_id, content_id, hits, actor=actor, media_type=media_type) if hits else None

    def draft(self, tenant_id: int, item_id: int, *, actor: str) -> dict:
        """The report draft of a ``mandatory_report`` item (CyberTipline report field names); the
        platform completes the reporter and file details and files it. Its export is audited."""
        with self.db.write() as session:
            item = session.scalar(select(ReviewItem).where(ReviewItem.id == item_id, ReviewItem.tenant_id == tenant_id,
                                                           ReviewItem.kind == KIND))
            if item is None:
                raise NotFound(f"no mandatory-report item {item_id} in this tenant")
            content = None
            if item.content_id:
                content = session.scalar(select(PlatformContent).where(
                    PlatformContent.tenant_id == tenant_id, PlatformContent.content_id == item.content_id))
            hashes = [{"hashType": kind.upper() if kind != "pdq" else "PDQ", "value": value}
                      for kind, value in (("md5", content and content.md5), ("sha256", content and content.sha256),
                                          ("pdq", content and content.pdq)) if value]
            posted = as_utc((content.posted_at or content.created_at) if content else item.created_at)
            audit.append(session, tenant_id=tenant_id, actor=actor, action="report.draft_exported",
                         subject=f"review:{item.id}")
            return {
                "status": "draft: not sent. ncii-shield never files reports; complete and file it through "
                          "the CyberTipline (report.cybertip.org or its reporting API)",
                "report": {
                    "incidentSummary": {"incidentType": INCIDENT_TYPE,
                                        "incidentDateTime": posted.isoformat() if posted else None,
                                        "incidentDateTimeDescription": "when the content was posted or first indexed"},
                    "internetDetails": [{"webPageIncident": {"url": content.url}}] if content and content.url else [],
                    "reporter": {"reportingPerson": {"firstName": None, "lastName": None, "email": None},
                                 "note": "the platform's reporting contact (to complete)"},
                    "additionalInfo": (
                        "Matched by hash against a hash list registered on behalf of a minor (parent or guardian) "
                        "through a support organisation; no image was shared with the hash list. "
                        f"Platform content id: {item.content_id}."),
                },
                "files": [{
                    "originalFileName": None,
                    "locationOfFile": content.url if content else None,
                    "fileViewedByEsp": False,
                    "publiclyAvailable": None,
                    "originalFileHash": hashes,
                    "fileAnnotations": {"hashMatch": True},
                    "note": "attach the file from the platform's own storage when filing (fileViewedByEsp: set "
                            "true if a person at the platform viewed it)",
                }],
                "matches": [{k: m.get(k) for k in ("bank", "signal_id", "signal_type")} for m in
                            (item.details or {}).get("matches", [])],
                "handoff": (item.details or {}).get("handoff") or handoff(),
                "review_item": item.id,
                "drafted_at": utcnow().isoformat(),
            }
