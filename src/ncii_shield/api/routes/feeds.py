"""/v1/feeds: signed pages of published banks, for subscribing instances (feed access tokens)."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ncii_shield.api.bodies import documented, parse
from ncii_shield.api.deps import PrincipalDep, ShieldDep
from ncii_shield.api.schemas import ErrorOut
from ncii_shield.services.exchange.publisher import FORMAT, MAX_PAGE
from ncii_shield.services.signal_controls import controls_for

router = APIRouter(prefix="/v1/feeds", tags=["feeds"], responses={c: {"model": ErrorOut} for c in (401, 403, 404, 422)})
_bearer = HTTPBearer(auto_error=False, description="A feed access token: Authorization: Bearer nsf_...")
Token = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


@router.get("/{feed}")
async def describe_feed(feed: str, request: Request, credentials: Token) -> dict:
    """The feed's format and its publisher's Ed25519 public key (pin it out of band too)."""
    publisher = request.app.state.shield.publisher
    await run_in_threadpool(publisher.authenticate, feed, credentials.credentials if credentials else None)
    return {"feed": feed, "format": FORMAT, "public_key": publisher.public_key}


@router.get("/{feed}/pages")
async def feed_page(
    feed: str, request: Request, credentials: Token,
    cursor: str = Query("start", max_length=100, description="start, snap:<seq>:<id> or log:<seq>"),
    limit: int = Query(1000, ge=1, le=MAX_PAGE),
    wait: float = Query(0, ge=0, le=30, description="long-poll: seconds to wait for a change when caught up"),
) -> dict:
    """The signed page answering ``cursor``: {"page": {...}, "signature": "<base64 Ed25519>"}."""
    shield = request.app.state.shield
    access = await run_in_threadpool(shield.publisher.authenticate, feed, credentials.credentials if credentials else None)
    deadline = time.monotonic() + wait
    while True:
        seen = shield.follower.seq
        envelope = await run_in_threadpool(shield.publisher.page, access, cursor, limit)
        if envelope["page"]["entries"] or time.monotonic() >= deadline:
            return envelope
        while shield.follower.seq == seen and time.monotonic() < deadline:
            await asyncio.sleep(0.05)


class VerdictReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    page: dict = Field(description='{"format": "ncii-shield-verdicts/1", "feed", "public_key", "entries": '
                                   '[{"signal_type", "value", "confirm", "deconfirm", "dispute", "removed"}], "issued_at"}')
    signature: str = Field(max_length=200, description="base64 Ed25519 signature of the canonical page")


@router.post("/{feed}/verdicts", openapi_extra=documented(VerdictReport))
async def report_verdicts(feed: str, request: Request, credentials: Token) -> dict:
    """A subscriber's verdict report (the feed's return channel, services/exchange/verdicts.py): a
    signed page of per-signal counts, no content ids; it replaces the subscriber's previous report.
    Authenticated with the subscriber's feed access token; at most 5,000 entries."""
    from ncii_shield.services.exchange import verdicts

    shield = request.app.state.shield
    access = await run_in_threadpool(shield.publisher.authenticate, feed, credentials.credentials if credentials else None)
    body = await parse(request, VerdictReport)
    return await run_in_threadpool(verdicts.receive, shield.db, access, body.model_dump())


class SubscriptionTrustIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trust: Literal["trusted", "partner", "unverified", "anonymous"] | None = Field(
        default=None, description="a new subscription is unverified until the operator confirms the publisher")
    policy: Literal["act", "review", "observe"] | None = None


@router.put("/subscriptions/{name}/trust")
async def set_subscription_trust(name: str, body: SubscriptionTrustIn, shield: ShieldDep,
                                 principal: PrincipalDep) -> dict:
    """Set a subscription's trust and policy (scope admin, an API key; the subscription's bank must be
    the key's tenant's). The weaker of the subscription's and its bank's settings applies."""
    return await run_in_threadpool(lambda: controls_for(shield).set_subscription(
        principal, name, trust=body.trust, policy=body.policy))
