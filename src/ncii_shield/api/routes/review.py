"""/v1/review: the moderators' queue (scope reviewer), and /v1/audit and /v1/keys (scope admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ncii_shield.api.deps import PrincipalDep, ShieldDep
from ncii_shield.api.routes.notices import ERRORS, actor
from ncii_shield.services import audit
from ncii_shield.services.signal_controls import controls_for

router = APIRouter(prefix="/v1/review", tags=["review"], responses=ERRORS)
audit_router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=ERRORS)
keys_router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=ERRORS)
ItemId = Path(ge=1, le=2**31 - 1)


class EnqueueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["match", "derivative"]
    content_id: str | None = Field(default=None, max_length=200)
    priority: int = Field(default=50, ge=0, le=100, description="0 lowest, 100 highest")
    deadline_at: datetime | None = Field(default=None, description="with a UTC offset")
    summary: str = Field(default="", max_length=500, description="what was found; no personal data")
    details: dict | None = Field(default=None, description="e.g. the match: bank, signal type, distance")
    preview_url: str | None = Field(default=None, max_length=2048,
                                    description="the platform's own copy; shown to a reviewer only after a click, blurred")
    media_type: Literal["image", "video", "other"] = "image"


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["remove", "keep", "escalate"]
    reason: str = Field(min_length=1, max_length=2000, description="goes into the statement of reasons")
    ground: Literal["illegal", "incompatible"] = Field(
        default="illegal", description="illegal content, or incompatible with the terms and conditions")
    hashes: list[dict[str, str]] = Field(default_factory=list, max_length=100,
                                         description="hashes of the removed content computed by the platform")


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scopes: list[Literal["match", "bank:read", "bank:write", "reviewer", "mandatory_report", "policy", "admin"]] = Field(min_length=1)
    name: str = Field(default="", max_length=100)


class QueueItemOut(BaseModel):
    id: int
    kind: Literal["notice", "match", "derivative", "likeness", "mark", "copy", "mandatory_report"]
    status: Literal["open", "escalated", "decided", "closed"]
    priority: int
    deadline_at: datetime | None
    due: Literal["overdue", "due_soon"] | None = Field(description="overdue, or due within 6 hours")
    summary: str
    content_id: str | None
    media_type: str
    preview_url: str | None
    reference: str | None = Field(description="the removal request this item belongs to")
    automated_detection: bool
    details: dict | None
    decision: Literal["remove", "keep", "escalate"] | None
    reason: str | None
    ground: Literal["illegal", "incompatible"] | None
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime


class DeadlineCounts(BaseModel):
    open: int
    overdue: int
    due_soon: int
    queue: int


class QueueOut(BaseModel):
    items: list[QueueItemOut]
    deadlines: DeadlineCounts


class StatementsOut(BaseModel):
    statements: list[dict] = Field(description="EU DSA Transparency Database statements (see docs/notices.md)")


class AuditVerifyOut(BaseModel):
    ok: bool
    entries: int = Field(description="entries in the whole chain (every tenant's), all checked")
    head_seq: int
    head_hash: str
    first_bad: int | None
    problem: str | None
    tenant_entries: int = Field(description="how many of the entries are this tenant's")


class KeyCreated(BaseModel):
    key: str = Field(description="shown once")
    prefix: str
    scopes: list[str]


def minors(principal) -> bool:  # noqa: ANN001
    """Whether the key may see ``mandatory_report`` items (an under-18 case's hash): scope mandatory_report."""
    return principal.allows("mandatory_report")


@router.get("/queue", response_model=QueueOut)
async def queue(shield: ShieldDep, principal: PrincipalDep, include_closed: bool = False,
                limit: int = Query(200, ge=1, le=1000)) -> dict:
    """Requests, matches, derivative flags and near copies: soonest deadline first, then priority.
    ``due`` is ``overdue`` or ``due_soon`` (within 6 hours)."""
    principal.require("reviewer")
    items = await run_in_threadpool(shield.review.queue, principal.tenant_id, include_closed=include_closed, limit=limit,
                                    minors=minors(principal))
    counts = await run_in_threadpool(shield.notices.counts, principal.tenant_id)
    return {"items": [i.to_json() for i in items], "deadlines": counts}


@router.post("/items", status_code=201, response_model=QueueItemOut)
async def enqueue(body: EnqueueIn, shield: ShieldDep, principal: PrincipalDep) -> dict:
    """Queue a match or a derivative flag for a person to decide (scope match)."""
    principal.require("match")
    item = await run_in_threadpool(
        shield.review.enqueue, principal.tenant_id, body.kind, actor=actor(principal), content_id=body.content_id,
        priority=body.priority, deadline_at=body.deadline_at, summary=body.summary, details=body.details,
        preview_url=body.preview_url, media_type=body.media_type)
    return item.to_json()


@router.get("/items/{item_id}", response_model=QueueItemOut)
async def get_item(shield: ShieldDep, principal: PrincipalDep, item_id: int = ItemId) -> dict:
    principal.require("reviewer")
    return (await run_in_threadpool(shield.review.get, principal.tenant_id, item_id, minors=minors(principal))).to_json()


@router.post("/items/{item_id}/open", response_model=QueueItemOut)
async def open_item(shield: ShieldDep, principal: PrincipalDep, item_id: int = ItemId) -> dict:
    """Start reviewing: a removal request still ``received`` becomes ``in_review``."""
    principal.require("reviewer")
    return (await run_in_threadpool(shield.review.open, principal.tenant_id, item_id, actor=actor(principal),
                                    minors=minors(principal))).to_json()


@router.post("/items/{item_id}/decision", response_model=QueueItemOut)
async def decide(body: DecisionIn, shield: ShieldDep, principal: PrincipalDep, item_id: int = ItemId) -> dict:
    """Decide: remove, keep or escalate, with a reason (scope reviewer)."""
    principal.require("reviewer")
    item = await run_in_threadpool(shield.review.decide, principal.tenant_id, item_id, body.decision, body.reason,
                                   actor=actor(principal), ground=body.ground, hashes=body.hashes,
                                   minors=minors(principal))
    shield.wake_watch()
    return item.to_json()


@router.get("/items/{item_id}/statement", response_model=StatementsOut)
async def statement(shield: ShieldDep, principal: PrincipalDep, item_id: int = ItemId) -> JSONResponse:
    """The statement(s) of reasons for a removal, in the EU DSA Transparency Database API's JSON shape
    (``{"statements": [...]}``, as its multiple-statements endpoint takes them)."""
    principal.require("reviewer")
    body = await run_in_threadpool(shield.review.statement, principal.tenant_id, item_id, minors=minors(principal))
    return JSONResponse(body, headers={
        "Content-Disposition": f'attachment; filename="statement-of-reasons-{item_id}.json"'})


# -- single signals, per tenant (issue 23): disable, state ------------------------------------------

SignalId = Path(ge=1, le=2**63 - 1, description="the signal's id, as a match names it")


class DisableIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500, description="why (kept in the audit log)")
    until: datetime | None = Field(default=None, description="with a UTC offset; leave out to disable until re-enabled")


class SignalStateOut(BaseModel):
    signal_id: int
    bank: str
    shared: bool = Field(description="the bank is another tenant's, shared for matching")
    disabled: bool = Field(description="this tenant does not act on it (other tenants are not affected)")
    disabled_until: datetime | None
    verdict: Literal["confirm", "deconfirm", "dispute"] | None = Field(description="this tenant's reviewers' verdict")
    quarantined: bool = Field(description="instance-wide: it over-matched or was rejected too often; review only")


class VerdictIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    verdict: Literal["confirm", "deconfirm", "dispute"] = Field(
        description="deconfirm: stop acting on it here; confirm: a person here vouches for it")
    reason: str = Field(min_length=1, max_length=500, description="why (kept in the audit log)")


@router.put("/signals/{signal_id}/verdict", response_model=SignalStateOut)
async def signal_verdict(body: VerdictIn, shield: ShieldDep, principal: PrincipalDep,
                         signal_id: int = SignalId) -> dict:
    """This tenant's verdict on a signal, with a reason (scope reviewer). Counted, it goes back to
    the publisher of the feed the signal came from (no content ids)."""
    return await run_in_threadpool(controls_for(shield).feedback, principal, signal_id, body.verdict, body.reason)


@router.get("/signals/{signal_id}", response_model=SignalStateOut)
async def signal_state(shield: ShieldDep, principal: PrincipalDep, signal_id: int = SignalId) -> dict:
    """What this tenant has said about a signal it can see (scope reviewer)."""
    return await run_in_threadpool(controls_for(shield).state, principal, signal_id)


@router.put("/signals/{signal_id}/disable", response_model=SignalStateOut)
async def disable_signal(body: DisableIn, shield: ShieldDep, principal: PrincipalDep,
                         signal_id: int = SignalId) -> dict:
    """Stop acting on one signal for this tenant only, optionally until a time (scope reviewer). Its
    matches are then ``disabled`` in the trust policy; the signal stays active for everyone else."""
    return await run_in_threadpool(lambda: controls_for(shield).disable(principal, signal_id, reason=body.reason,
                                                                         until=body.until))


@router.delete("/signals/{signal_id}/disable", response_model=SignalStateOut)
async def enable_signal(shield: ShieldDep, principal: PrincipalDep, signal_id: int = SignalId) -> dict:
    """Act on the signal again for this tenant (scope reviewer)."""
    return await run_in_threadpool(controls_for(shield).enable, principal, signal_id)


@router.get("/items/{item_id}/report")
async def report_draft(shield: ShieldDep, principal: PrincipalDep, item_id: int = ItemId) -> JSONResponse:
    """The report draft of a ``mandatory_report`` item, in the shape of NCMEC CyberTipline's report
    fields, for the platform to file itself (scopes reviewer and mandatory_report). Nothing is sent."""
    principal.require("reviewer")
    principal.require("mandatory_report")
    from ncii_shield.services.mandatory_reports import MandatoryReports

    body = await run_in_threadpool(MandatoryReports(shield.db).draft, principal.tenant_id, item_id,
                                   actor=actor(principal))
    return JSONResponse(body, headers={"Content-Disposition": f'attachment; filename="report-draft-{item_id}.json"'})


@audit_router.get("/export", response_class=StreamingResponse)
async def export_audit(shield: ShieldDep, principal: PrincipalDep) -> StreamingResponse:
    """The audit log as JSON lines with its hash chain (scope admin): this tenant's entries in full;
    every other entry only as ``{"seq", "redacted": true, "prev_hash", "hash"}``, so the file still
    verifies as one chain (``ncii-shield audit verify --file``) without showing another tenant's work.
    Only the instance operator sees every entry (``ncii-shield audit export`` with the database)."""
    principal.require("admin")

    def record() -> None:
        with shield.db.write() as session:
            audit.append(session, tenant_id=principal.tenant_id, actor=actor(principal), action="audit.exported",
                         subject="audit")

    await run_in_threadpool(record)
    return StreamingResponse(audit.export_lines(shield.db, tenant_id=principal.tenant_id),
                             media_type="application/x-ndjson",
                             headers={"Content-Disposition": 'attachment; filename="audit.jsonl"'})


@audit_router.get("/verify", response_model=AuditVerifyOut)
async def verify_audit(shield: ShieldDep, principal: PrincipalDep) -> dict:
    """Walk the whole chain, every entry by its content; ``ok: false`` names the first bad entry by
    number (scope admin). ``tenant_entries``: how many of them are this tenant's."""
    principal.require("admin")
    result = (await run_in_threadpool(audit.verify, shield.db)).to_json()
    return {**result, "tenant_entries": await run_in_threadpool(audit.count, shield.db, principal.tenant_id)}


@keys_router.post("", status_code=201, response_model=KeyCreated)
async def create_key(body: KeyIn, shield: ShieldDep, principal: PrincipalDep) -> dict:
    """Create a key in the caller's tenant, e.g. a ``reviewer`` key for a moderator (scope admin).
    The key is shown once."""
    principal.require("admin")
    key, created = await run_in_threadpool(shield.keys.create, tenant=_tenant_name(shield, principal.tenant_id),
                                           scopes=list(body.scopes), name=body.name)

    def record() -> None:
        with shield.db.write() as session:
            audit.append(session, tenant_id=principal.tenant_id, actor=actor(principal), action="key.created",
                         subject=f"key:{created.key_prefix}", details={"scopes": sorted(created.scopes)})

    await run_in_threadpool(record)
    return {"key": key, "prefix": created.key_prefix, "scopes": sorted(created.scopes)}


def _tenant_name(shield, tenant_id: int) -> str:  # noqa: ANN001
    from ncii_shield.store.models import Tenant

    with shield.db.read() as session:
        return session.get(Tenant, tenant_id).name


__all__ = ["router", "audit_router", "keys_router"]
