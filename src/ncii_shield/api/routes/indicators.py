"""/v1/indicators/check: URLs, domains, Telegram names and app ids checked against the banks."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ncii_shield.api.deps import PrincipalDep, ShieldDep
from ncii_shield.api.schemas import ErrorOut

ERRORS = {code: {"model": ErrorOut} for code in (401, 403, 413, 422, 503)}
router = APIRouter(prefix="/v1/indicators", tags=["indicators"], responses=ERRORS)
MAX_INDICATORS = 10_000


class IndicatorsIn(BaseModel):
    indicators: list[str] = Field(min_length=1, max_length=MAX_INDICATORS,
                                  description="one indicator each: a URL, a host name, @telegram_name, an app id, "
                                              "or 'TYPE VALUE' (python-threatexchange's local-file shape)")
    as_type: Literal["url", "url_md5", "domain", "telegram", "app_id"] | None = Field(
        None, description="look every indicator up as this type only (a domain still matches its parents)")
    banks: list[str] = Field(default_factory=list, max_length=100,
                             description="only these banks (default: every bank the key may match against)")


class IndicatorMatchOut(BaseModel):
    bank: str
    signal_id: int
    signal_type: str
    via: str = Field(description="how it matched: url, url_md5, domain, parent_domain, telegram, app_id")
    matched: str = Field(description="the form of the input that matched")
    shared: bool = Field(description="the bank belongs to another tenant that shares it")
    value: str | None = Field(None, description="with bank:read, for the key's own tenant's banks: the stored entry")
    metadata: dict | None = Field(None, description="with bank:read, for the key's own tenant's banks: the entry's "
                                                    "metadata (its label)")


class IndicatorResultOut(BaseModel):
    line: int = Field(description="the indicator's position in the request, from 1")
    input: str
    status: Literal["match", "no_match", "error"]
    matches: list[IndicatorMatchOut] | None = None
    error: str | None = None


class IndicatorsOut(BaseModel):
    results: list[IndicatorResultOut]


@router.post("/check", response_model=IndicatorsOut, response_model_exclude_none=True)
async def check(body: IndicatorsIn, shield: ShieldDep, principal: PrincipalDep) -> IndicatorsOut:
    """Check up to 10,000 service indicators (scope match): a hosting provider's customer domains, a
    crawl's URLs, an app store's listings. A URL matches by url and url_md5 (python-threatexchange's
    normalisation), by its domain and every parent domain, and by a Telegram name or app id in it;
    every match names the bank and the entry. Only banks the key may match against are searched."""
    from ncii_shield.services.indicators import IndicatorService
    from ncii_shield.services.uploads.detectors import Scope

    principal.require("match")
    service = IndicatorService(shield.follower, shield.db)
    scope = Scope(principal, shield.follower, banks=frozenset(body.banks))
    results = await run_in_threadpool(lambda: [r.to_json() for r in service.check(scope, body.indicators,
                                                                                  as_type=body.as_type)])
    return IndicatorsOut(results=results)
