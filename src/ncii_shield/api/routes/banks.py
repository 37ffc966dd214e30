"""/v1/banks: create, list, update banks; add, read and withdraw signals."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ncii_shield.api.deps import PrincipalDep, ShieldDep
from ncii_shield.api.schemas import (
    AddedList, AddedOut, BankCreate, BankList, BankOut, BankUpdate, ErrorOut, SignalOut, SignalsIn,
)
from ncii_shield.services.banks import SignalInput
from ncii_shield.services.signal_controls import controls_for

SignalId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the signal's id, as returned when it was added")]
ERRORS = {code: {"model": ErrorOut} for code in (401, 403, 404, 409, 413, 422, 503)}
router = APIRouter(prefix="/v1/banks", tags=["banks"], responses=ERRORS)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=BankOut)
async def create_bank(body: BankCreate, shield: ShieldDep, principal: PrincipalDep) -> BankOut:
    """Create a bank in the caller's tenant (scope bank:write)."""
    view = await run_in_threadpool(shield.banks.create, principal, body.name,
                                   description=body.description, shared=body.shared)
    return BankOut(**vars(view))


@router.get("", response_model=BankList)
async def list_banks(shield: ShieldDep, principal: PrincipalDep) -> BankList:
    """The caller's tenant's banks, with their active signal counts."""
    views = await run_in_threadpool(shield.banks.list, principal)
    return BankList(banks=[BankOut(**vars(v)) for v in views])


@router.patch("/{bank}", response_model=BankOut)
async def update_bank(bank: str, body: BankUpdate, shield: ShieldDep, principal: PrincipalDep) -> BankOut:
    """Disable or enable a bank (a disabled bank matches nothing), or share it (scope bank:write)."""
    view = await run_in_threadpool(shield.banks.update, principal, bank, enabled=body.enabled, shared=body.shared)
    return BankOut(**vars(view))


@router.post("/{bank}/signals", status_code=status.HTTP_201_CREATED, response_model=AddedList)
async def add_signals(bank: str, body: SignalsIn, shield: ShieldDep, principal: PrincipalDep) -> AddedList:
    """Add one signal or up to 10,000 in one all-or-nothing call. Re-adding is idempotent
    (``created: false``); a withdrawn signal added again is active again."""
    items = [SignalInput(s.signal_type, s.value, s.metadata) for s in body.items()]
    added = await run_in_threadpool(shield.banks.add, principal, bank, items)
    return AddedList(signals=[AddedOut(id=a.id, signal_type=a.signal_type, created=a.created) for a in added])


@router.get("/{bank}/signals/{signal_id}", response_model=SignalOut)
async def get_signal(bank: str, signal_id: SignalId, shield: ShieldDep, principal: PrincipalDep) -> SignalOut:
    """A signal's value, metadata and withdrawal time (scope bank:read; bank:write and admin imply it).
    Match and reviewer keys cannot read a bank."""
    return SignalOut(**await run_in_threadpool(shield.banks.get_signal, principal, bank, signal_id))


@router.delete("/{bank}/signals/{signal_id}", status_code=status.HTTP_204_NO_CONTENT)
async def withdraw_signal(bank: str, signal_id: SignalId, shield: ShieldDep, principal: PrincipalDep) -> None:
    """Withdraw a signal: it stops matching on every replica within a second (scope bank:write)."""
    await run_in_threadpool(shield.banks.withdraw, principal, bank, signal_id)


class BankTrustIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["block", "allow"] | None = Field(
        default=None, description="allow: known benign content; its matches suppress other banks' for this tenant")
    trust: Literal["trusted", "partner", "unverified", "anonymous"] | None = Field(
        default=None, description="who the hashes come from; unverified and anonymous sources never act alone")
    policy: Literal["act", "review", "observe"] | None = Field(default=None, description="what a match leads to")


class BankTrustOut(BaseModel):
    name: str
    kind: str
    trust: str
    policy: str


@router.put("/{bank}/trust", response_model=BankTrustOut)
async def set_bank_trust(bank: str, body: BankTrustIn, shield: ShieldDep, principal: PrincipalDep) -> dict:
    """Set a bank's kind, source trust and policy (scope admin; see docs/trust.md)."""
    return await run_in_threadpool(lambda: controls_for(shield).set_bank(
        principal, bank, kind=body.kind, trust=body.trust, policy=body.policy))


@router.get("/{bank}/signals/{signal_id}/verdicts")
async def signal_verdicts(bank: str, signal_id: SignalId, shield: ShieldDep, principal: PrincipalDep) -> dict:
    """What the subscribers of this instance's feeds reported about a signal: how many confirmed,
    deconfirmed, disputed it, and on how many platforms a match was removed (scope bank:read).
    Counts only: no platform's uploads."""
    from ncii_shield.services.exchange import verdicts

    return await run_in_threadpool(verdicts.counts, shield.db, principal, bank, signal_id)
