"""/v1/notices: removal requests (48 hours under the TAKE IT DOWN Act) and /v1/content, the platform's
content index that copy sweeps search.

Submitting needs no key (people use it directly; rate-limited per address). With a ``reviewer`` or
``admin`` key a platform can also enter a request it received another way, with its real
``received_at``. Reading, listing and moving requests through their states need ``reviewer``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ncii_shield.api.deps import BearerDep, PrincipalDep, ShieldDep, get_principal
from ncii_shield.api.schemas import ErrorOut
from ncii_shield.errors import PermissionDenied
from ncii_shield.services.content import MAX_BATCH, ContentInput
from ncii_shield.services.notices import NoticeSubmission
from ncii_shield.web.security import client_address

ERRORS = {code: {"model": ErrorOut} for code in (401, 403, 404, 409, 413, 422, 429, 503)}
router = APIRouter(prefix="/v1/notices", tags=["notices"], responses=ERRORS)
content_router = APIRouter(prefix="/v1/content", tags=["notices"], responses=ERRORS)


class NoticeIn(BaseModel):
    """Every field is optional here so that an incomplete request gets one answer naming everything
    missing (422 with ``error.fields``), not a generic validation error."""

    model_config = ConfigDict(extra="forbid")
    requester_role: str | None = Field(default=None, max_length=40,
                                       description='"depicted_person" or "authorized_representative"')
    signature: str | None = Field(default=None, max_length=200, description="full name, typed: an electronic signature")
    content_description: str | None = Field(default=None, max_length=2000, description="what the content is")
    urls: list[str] = Field(default_factory=list, max_length=100, description="where it is (http/https URLs)")
    content_ids: list[str] = Field(default_factory=list, max_length=100, description="the platform's content ids")
    good_faith: bool | None = Field(default=None, description="I believe in good faith that it was published without consent")
    statement: str | None = Field(default=None, max_length=5000, description="optional: why it is non-consensual")
    contact_email: str | None = Field(default=None, max_length=254)
    contact_phone: str | None = Field(default=None, max_length=40)
    contact_address: str | None = Field(default=None, max_length=500)
    authorization: str | None = Field(default=None, max_length=1000, description="a representative: how authorised")
    synthetic: bool = Field(default=False, description="the content is a deepfake or an edited image")
    case_number: str | None = Field(default=None, max_length=40, description="send through your case (with pin)")
    pin: str | None = Field(default=None, max_length=40)
    proof: str | None = Field(default=None, max_length=64, description="only when asked: the PIN's proof of work")
    received_at: datetime | None = Field(default=None, description="reviewer/admin keys only: when it was received "
                                                                   "(with a UTC offset)")

    def submission(self) -> NoticeSubmission:
        return NoticeSubmission(self.requester_role, self.signature, self.content_description, self.urls,
                                self.content_ids, self.good_faith, self.statement, self.contact_email,
                                self.contact_phone, self.contact_address, self.authorization, self.synthetic)


class NoticeCreated(BaseModel):
    reference: str
    status: str
    received_at: datetime
    deadline_at: datetime = Field(description="received_at + 48 hours, UTC")
    created: bool = Field(description="false: the same request was already received; this is that one")
    withdraw_token: str | None = Field(description="shown once: with the reference it shows the status or withdraws")


class NoticeItemOut(BaseModel):
    id: int
    kind: Literal["url", "content_id"]
    value: str
    source: Literal["request", "sweep"] = Field(description="named in the request, or a copy found by a sweep")
    match_type: str | None = Field(description="sweep copies: md5, sha256 or pdq")
    distance: int | None = Field(description="sweep copies: 0 = identical, PDQ distance otherwise")
    status: Literal["open", "removed", "kept"]
    removed_at: datetime | None


class PublicEventOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: str | None = Field(alias="from", serialization_alias="from")
    to: str
    reason: str | None
    at: datetime


class NoticeEventOut(PublicEventOut):
    actor: str


class PublicNoticeOut(BaseModel):
    """What the requester sees: states and locations, no reviewer names."""

    reference: str
    status: Literal["received", "in_review", "removed", "rejected", "withdrawn"]
    received_at: datetime
    deadline_at: datetime = Field(description="received_at + 48 hours, UTC")
    closed_at: datetime | None
    reject_reason: str | None
    items: list[NoticeItemOut]
    events: list[PublicEventOut]


class NoticeOut(BaseModel):
    reference: str
    status: Literal["received", "in_review", "removed", "rejected", "withdrawn"]
    channel: Literal["case", "api", "web"]
    requester_role: str
    synthetic: bool
    received_at: datetime
    deadline_at: datetime = Field(description="received_at + 48 hours, UTC")
    closed_at: datetime | None
    reject_reason: str | None
    overdue: bool
    items: list[NoticeItemOut]
    events: list[NoticeEventOut]
    personal: dict | None = Field(default=None, description="reviewers only, until purged: signature, contact, "
                                                              "description, statement, authorization")
    purged: bool


class NoticeList(BaseModel):
    notices: list[NoticeOut]


class ContentRegistered(BaseModel):
    added: int
    changed: int
    unchanged: int


class NoticeAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: str = Field(max_length=40)
    token: str = Field(max_length=100)


class Transition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: Literal["in_review", "removed", "rejected", "withdrawn"]
    reason: str | None = Field(default=None, max_length=2000, description="required for rejected")
    hashes: list[dict[str, str]] = Field(default_factory=list, max_length=100,
                                         description="removed: hashes of the removed content computed by the platform "
                                                     "({pdq, md5, sha256}); they are banked and swept for copies")


class ContentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content_id: str = Field(min_length=1, max_length=200)
    pdq: str | None = None
    md5: str | None = None
    sha256: str | None = None
    url: str | None = Field(default=None, max_length=2048)
    media_type: Literal["image", "video", "other"] = "image"
    posted_at: datetime | None = None


class ContentBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[ContentIn] = Field(min_length=1, max_length=MAX_BATCH)


def actor(principal) -> str:  # noqa: ANN001
    return f"key:{principal.key_prefix}"


@router.post("", status_code=201, response_model=NoticeCreated, responses={200: {"model": NoticeCreated}})
async def submit_notice(body: NoticeIn, request: Request, response: Response, shield: ShieldDep,
                        credentials: BearerDep) -> NoticeCreated:
    """Send a removal request. Incomplete requests are refused (422) with every missing field named in
    ``error.fields``. The same request sent again by the same sender returns the first (200,
    ``created: false``): the same key, the same case, or (no key) the same ``Idempotency-Key`` header,
    16-200 characters of your choosing. Without one, every request is a new one: nobody learns from
    the answer that someone else sent the same request."""
    tenant_id, who, channel = None, "requester", "api"
    if credentials is not None:
        principal = get_principal(request, credentials)
        principal.require("reviewer")
        tenant_id, who = principal.tenant_id, actor(principal)
    else:
        request.app.state.case_limiter.check(client_address(request))
        if body.received_at is not None:
            raise PermissionDenied("received_at may be set only with a reviewer or admin key")
    case = (body.case_number, body.pin or "", client_address(request), body.proof) if body.case_number else None
    if case is not None:
        channel = "case"
    done = await run_in_threadpool(shield.notices.submit, body.submission(), channel=channel, actor=who,
                                   tenant_id=tenant_id, received_at=body.received_at, case=case,
                                   retry_key=request.headers.get("idempotency-key"))
    if not done.created:
        response.status_code = 200
    else:
        shield.wake_watch()  # the confirmation of receipt, when requesters are e-mailed
    n = done.notice
    return NoticeCreated(reference=n.reference, status=n.status, received_at=n.received_at, deadline_at=n.deadline_at,
                         created=done.created, withdraw_token=done.withdraw_token)


@router.post("/status", response_model=PublicNoticeOut, response_model_by_alias=True)
async def notice_status(body: NoticeAuth, request: Request, shield: ShieldDep) -> dict:
    """The requester's view (reference + token): state, deadline and items; no personal data."""
    request.app.state.case_limiter.check(client_address(request))
    view = await run_in_threadpool(shield.notices.public_status, body.reference, body.token)
    out = view.to_json()
    out.pop("personal", None)
    out["events"] = [{k: v for k, v in e.items() if k != "actor"} for e in out["events"]]
    return out


class Withdrawn(BaseModel):
    reference: str
    status: str


@router.post("/withdraw", response_model=Withdrawn)
async def withdraw_notice(body: NoticeAuth, request: Request, shield: ShieldDep) -> dict:
    """The requester withdraws the request (reference + token)."""
    request.app.state.case_limiter.check(client_address(request))
    view = await run_in_threadpool(shield.notices.withdraw, body.reference, body.token)
    return {"reference": view.reference, "status": view.status}


@router.get("", response_model=NoticeList, response_model_by_alias=True)
async def list_notices(shield: ShieldDep, principal: PrincipalDep,
                       status: Literal["received", "in_review", "removed", "rejected", "withdrawn"] | None = None,
                       limit: int = Query(100, ge=1, le=1000)) -> dict:
    """Requests of the key's tenant, soonest deadline first (scope reviewer; no personal data)."""
    principal.require("reviewer")
    views = await run_in_threadpool(shield.notices.list, principal.tenant_id, status=status, limit=limit)
    return {"notices": [v.to_json() for v in views]}


@router.get("/{reference}", response_model=NoticeOut, response_model_by_alias=True)
async def get_notice(reference: str, shield: ShieldDep, principal: PrincipalDep) -> dict:
    """One request with its items, transitions and (until purged) the requester's details (scope reviewer)."""
    principal.require("reviewer")
    return (await run_in_threadpool(shield.notices.personal_view, principal.tenant_id, reference[:40],
                                    viewer=actor(principal))).to_json()


@router.post("/{reference}/transition", response_model=NoticeOut, response_model_by_alias=True)
async def transition_notice(reference: str, body: Transition, shield: ShieldDep, principal: PrincipalDep) -> dict:
    """Move a request: received -> in_review -> removed | rejected (reason) | withdrawn (scope reviewer).
    Illegal transitions answer 409 naming the accepted ones."""
    principal.require("reviewer")
    view = await run_in_threadpool(shield.notices.transition, principal.tenant_id, reference[:40], body.to,
                                   actor=actor(principal), reason=body.reason, hashes=body.hashes)
    shield.wake_watch()
    return view.to_json()


@content_router.post("", response_model=ContentRegistered)
async def register_content(body: ContentBatch, shield: ShieldDep, principal: PrincipalDep) -> dict:
    """Tell ncii-shield which content the platform hosts, with hashes of its own copies (scope match):
    up to 10,000 per call, idempotent; new hashes for a content id replace the old ones."""
    principal.require("match")
    items = [ContentInput(i.content_id, i.pdq, i.md5, i.sha256, i.url, i.media_type, i.posted_at) for i in body.items]
    return await run_in_threadpool(shield.content.register, principal.tenant_id, items)
