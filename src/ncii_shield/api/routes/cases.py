"""/v1/cases: the victim-intake operations as JSON, for support organisations' own front ends.

No API key: people use these directly. Every call is rate-limited per client address, and opening a
case more so (``NCII_SHIELD_CASE_CREATE_PER_HOUR``, default 10 per address per hour: a person opens
one or two); status and withdrawal need the case number and PIN in the body (never in a URL, so
never in a log line). A status shows what the case holds and what was decided on its own requests,
never match counts (anyone may register any hash: see services/cases.py).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ncii_shield.api.schemas import ErrorOut, SignalIn
from ncii_shield.services.banks import SignalInput
from ncii_shield.services.cases import MAX_CASE_ITEMS
from ncii_shield.web.security import client_address, limit_case_creation

router = APIRouter(prefix="/v1/cases", tags=["cases"], responses={c: {"model": ErrorOut} for c in (403, 409, 422, 429)})


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    signals: list[SignalIn] = Field(min_length=1, max_length=MAX_CASE_ITEMS,
                                    description=f"at most {MAX_CASE_ITEMS} items in a case, over every request")
    age: Literal["adult", "guardian"] = Field(description='"adult": I am 18 or older; "guardian": the person is under 18')
    consent: bool = Field(description="the images show me (or the person I am the guardian of)")
    contact_email: str | None = Field(default=None, max_length=254, description="optional; encrypted at rest")


class CaseCreated(BaseModel):
    case_number: str
    pin: str = Field(description="shown once: it is stored only as an Argon2 hash")
    hashes: int
    queue: str


class CaseAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_number: str = Field(max_length=40)
    pin: str = Field(max_length=40)
    proof: str | None = Field(default=None, max_length=64, description="only when asked (a case that had many wrong "
                                                                         "PINs today): the proof of work for this PIN")


class CaseStatusOut(BaseModel):
    case_number: str
    status: str
    queue: str
    hashes: int = Field(description="items (hashes and photos) the case holds")
    removals: int | None = Field(description="removal requests sent through this case that ended in removal")
    removed_on_platforms: int | None = Field(
        default=None, description="platforms that reported removing a copy, counting reports at least a day old")


def _limit(request: Request) -> None:
    request.app.state.case_limiter.check(client_address(request))


@router.post("", status_code=201, response_model=CaseCreated)
async def create_case(body: CaseCreate, request: Request) -> CaseCreated:
    """Register hashes computed on the person's device as a new case; returns case number + PIN once."""
    limit_case_creation(request)
    shield = request.app.state.shield
    created = await run_in_threadpool(
        shield.cases.open_case, [SignalInput(s.signal_type, s.value) for s in body.signals],
        age=body.age, consent=body.consent, contact_email=body.contact_email)
    return CaseCreated(**vars(created))


@router.post("/status", response_model=CaseStatusOut)
async def case_status(body: CaseAuth, request: Request) -> CaseStatusOut:
    _limit(request)
    status = await run_in_threadpool(request.app.state.shield.cases.status, body.case_number, body.pin,
                                     address=client_address(request), proof=body.proof)
    return CaseStatusOut(**{k: v for k, v in vars(status).items() if k != "created_at"})


@router.post("/withdraw", response_model=CaseStatusOut)
async def withdraw_case(body: CaseAuth, request: Request) -> CaseStatusOut:
    """Withdraw the case: every hash stops matching everywhere within a second."""
    _limit(request)
    status = await run_in_threadpool(request.app.state.shield.cases.withdraw, body.case_number, body.pin,
                                     address=client_address(request), proof=body.proof)
    return CaseStatusOut(**{k: v for k, v in vars(status).items() if k != "created_at"})
