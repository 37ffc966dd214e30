"""Submitting statements of reasons to the EU DSA Transparency Database (DSA Article 24(5)).

Every ``remove`` decision has statements (:meth:`ReviewService.statement`); a platform must send
them to the database "without undue delay". :meth:`TransparencySubmitter.submit` sends those not
sent yet, up to 100 statements per request to the database's multiple-statements endpoint
(``POST {api}/statements``, ``Authorization: Bearer <token>``), and records each accepted review
item in ``statement_submissions`` (and the audit log) in the same step, so that a rerun sends only
the rest:

* a crash between the database's answer and our record is safe: each statement carries a puid
  unique on this platform (``ncii-shield-<review item>-<n>``), the database refuses a puid it holds
  already (422 naming ``puid``), and such an item is recorded as ``existing``;
* a batch the database refuses (422) is retried statement by statement, so that one bad statement
  holds back only its own item, which is reported with the database's message;
* a wrong token (401/403), a server error or a network failure stops the run with a clear error;
  what was accepted before it stays recorded.

The token is never logged or stored. The sandbox's and production's addresses differ; the API
address is a setting (``NCII_SHIELD_DSA_API``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ncii_shield.errors import NciiShieldError
from ncii_shield.services import audit
from ncii_shield.services.review import ReviewService
from ncii_shield.store.database import Database
from ncii_shield.store.models import ReviewItem, StatementSubmission, utcnow

PRODUCTION_API = "https://transparency.dsa.ec.europa.eu/api/v1"
PER_REQUEST = 100  # the multiple-statements endpoint's limit
log = logging.getLogger(__name__)


class SubmissionError(NciiShieldError):
    """The database could not be reached, or refused the token: nothing more was sent."""


@dataclass
class SubmissionReport:
    created: int = 0  # review items whose statements the database accepted now
    existing: int = 0  # review items whose puids it held already (sent by an earlier, interrupted run)
    refused: dict[int, str] = field(default_factory=dict)  # review item -> the database's message
    statements: int = 0  # statements accepted now

    def to_json(self) -> dict:
        return {"created": self.created, "existing": self.existing, "statements": self.statements,
                "refused": [{"review_item": k, "error": v} for k, v in self.refused.items()]}


class TransparencySubmitter:
    def __init__(self, db: Database, review: ReviewService) -> None:
        self.db = db
        self.review = review

    def pending(self, tenant_id: int) -> list[int]:
        """Review items of the tenant with a ``remove`` decision whose statements were not sent yet."""
        with self.db.read() as session:
            sent = select(StatementSubmission.review_item_id)
            return list(session.scalars(
                select(ReviewItem.id).where(ReviewItem.tenant_id == tenant_id, ReviewItem.decision == "remove",
                                            ReviewItem.id.not_in(sent)).order_by(ReviewItem.id)))

    def submit(self, tenant_id: int, client: httpx.Client, *, api: str = PRODUCTION_API, token: str,
               progress: Callable[[int], None] | None = None) -> SubmissionReport:
        """Send every pending item's statements; ``progress(n)`` after each batch of n items."""
        report = SubmissionReport()
        api = api.rstrip("/")
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        for batch in self._batches(tenant_id):
            answer = self._post(client, f"{api}/statements", {"statements": [s for _, ss in batch for s in ss]}, headers)
            if answer.status_code in (200, 201):
                uuids = _uuids(answer)
                for item_id, ss in batch:
                    self._record(tenant_id, item_id, ss, "created", [uuids.get(s["puid"]) for s in ss])
                    report.created += 1
                    report.statements += len(ss)
            else:  # 422: find the statement(s) it refused, one item at a time
                for item_id, ss in batch:
                    self._one_by_one(tenant_id, client, api, headers, item_id, ss, report)
            if progress:
                progress(len(batch))
        return report

    def _batches(self, tenant_id: int) -> Iterator[list[tuple[int, list[dict]]]]:
        batch: list[tuple[int, list[dict]]] = []
        size = 0
        for item_id in self.pending(tenant_id):
            ss = self.review.statement(tenant_id, item_id)["statements"]
            if not ss:  # a decision that restricted nothing (no item of the request was removed)
                self._record(tenant_id, item_id, [], "none", [])
                continue
            if batch and size + len(ss) > PER_REQUEST:
                yield batch
                batch, size = [], 0
            batch.append((item_id, ss))
            size += len(ss)
        if batch:
            yield batch

    def _one_by_one(self, tenant_id: int, client: httpx.Client, api: str, headers: dict, item_id: int,
                    ss: list[dict], report: SubmissionReport) -> None:
        uuids, existing = [], False
        for s in ss:
            answer = self._post(client, f"{api}/statement", s, headers)
            if answer.status_code in (200, 201):
                uuids.append(_uuids(answer).get(s["puid"]))
                report.statements += 1
            elif _only_puid_refused(answer):
                uuids.append(None)
                existing = True
            else:
                report.refused[item_id] = _message(answer)
                log.warning("transparency database refused a statement", extra={"review_item": item_id,
                                                                             "error": report.refused[item_id]})
                return  # the item stays pending; the statements accepted are found as existing next time
        outcome = "existing" if existing and not any(uuids) else "created"
        self._record(tenant_id, item_id, ss, outcome, uuids)
        if outcome == "existing":
            report.existing += 1
        else:
            report.created += 1

    @staticmethod
    def _post(client: httpx.Client, url: str, body: dict, headers: dict) -> httpx.Response:
        try:
            answer = client.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SubmissionError(f"the transparency database did not answer ({type(exc).__name__}); "
                                  f"nothing more was sent: run again later") from None
        if answer.status_code in (401, 403):
            raise SubmissionError(f"the transparency database refused the token ({answer.status_code}): generate a "
                                  f"new one in its user profile")
        if answer.status_code not in (200, 201, 422):
            raise SubmissionError(f"the transparency database answered {answer.status_code}; nothing more was sent: "
                                  f"run again later")
        return answer

    def _record(self, tenant_id: int, item_id: int, ss: list[dict], outcome: str, uuids: list) -> None:
        try:
            with self.db.write() as session:
                if session.get(StatementSubmission, item_id) is not None:  # another run recorded it meanwhile
                    return
                session.add(StatementSubmission(review_item_id=item_id, tenant_id=tenant_id,
                                                puids=[s["puid"] for s in ss], uuids=uuids, outcome=outcome,
                                                submitted_at=utcnow()))
                audit.append(session, tenant_id=tenant_id, actor="system:transparency",
                             action="statements.submitted", subject=f"review:{item_id}",
                             details={"statements": len(ss), "outcome": outcome})
        except IntegrityError:  # an overlapping run recorded it between our check and our insert
            pass


def _json(answer: httpx.Response) -> dict:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _uuids(answer: httpx.Response) -> dict[str, str]:
    """puid -> uuid from a created answer: one statement, or ``{"statements": [...]}``."""
    body = _json(answer)
    found = body.get("statements") if isinstance(body.get("statements"), list) else [body]
    return {s["puid"]: s["uuid"] for s in found if isinstance(s, dict) and "puid" in s and "uuid" in s}


def _only_puid_refused(answer: httpx.Response) -> bool:
    errors = _json(answer).get("errors")
    return answer.status_code == 422 and isinstance(errors, dict) and set(errors) == {"puid"}


def _message(answer: httpx.Response) -> str:
    body = _json(answer)
    errors = body.get("errors")
    if isinstance(errors, dict) and errors:
        return "; ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in errors.items())[:500]
    return str(body.get("message") or f"HTTP {answer.status_code}")[:500]
