"""Repository for tenants, banks and signals. Every change of a signal goes through the change log."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ncii_shield.errors import Conflict, NotFound
from ncii_shield.store import changes
from ncii_shield.store.models import Bank, Signal, Tenant, utcnow


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class NewSignal:
    signal_type: str
    value: str
    metadata: dict | None = None


@dataclass(frozen=True)
class AddedSignal:
    id: int
    signal_type: str
    value: str
    created: bool  # False: it was already in the bank (idempotent re-add)


def get_or_create_tenant(session: Session, name: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        tenant = Tenant(name=name)
        session.add(tenant)
        session.flush()
    return tenant


def get_tenant(session: Session, name: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        raise NotFound(f"no tenant called {name!r}")
    return tenant


def create_bank(session: Session, tenant_id: int, name: str, *, description: str = "", shared: bool = False) -> Bank:
    if session.scalar(select(Bank.id).where(Bank.tenant_id == tenant_id, Bank.name == name)):
        raise Conflict(f"a bank called {name!r} already exists")
    bank = Bank(tenant_id=tenant_id, name=name, description=description, shared=shared, enabled=True)
    session.add(bank)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a bank called {name!r} already exists") from exc
    changes.lock(session)
    changes.record(session, [{"op": "bank", "bank_id": bank.id, "signal_id": None, "signal_type": None, "value": None}])
    return bank


def find_bank(session: Session, tenant_id: int, name: str) -> Bank:
    bank = session.scalar(select(Bank).where(Bank.tenant_id == tenant_id, Bank.name == name))
    if bank is None:
        raise NotFound(f"no bank called {name!r} in this tenant")
    return bank


def list_banks(session: Session, tenant_id: int) -> list[Bank]:
    return list(session.scalars(select(Bank).where(Bank.tenant_id == tenant_id).order_by(Bank.name)))


def set_bank(session: Session, bank: Bank, *, enabled: bool | None = None, shared: bool | None = None) -> Bank:
    changes.lock(session)
    if enabled is not None:
        bank.enabled = enabled
    if shared is not None:
        bank.shared = shared
    session.flush()
    changes.record(session, [{"op": "bank", "bank_id": bank.id, "signal_id": None, "signal_type": None, "value": None}])
    return bank


def add_signals(session: Session, bank: Bank, items: list[NewSignal]) -> list[AddedSignal]:
    """Add canonical signals to ``bank``; existing ones are left alone, withdrawn ones re-activated."""
    changes.lock(session)
    keyed = [(item, digest(item.value)) for item in items]
    existing: dict[tuple[str, str], Signal] = {}
    digests = sorted({d for _, d in keyed})
    for start in range(0, len(digests), 500):
        for signal in session.scalars(
            select(Signal).where(Signal.bank_id == bank.id, Signal.value_digest.in_(digests[start:start + 500]))
        ):
            existing[(signal.signal_type, signal.value_digest)] = signal
    out: dict[tuple[str, str], AddedSignal] = {}
    to_insert: list[dict] = []
    log: list[dict] = []
    now = utcnow()
    for item, d in keyed:
        key = (item.signal_type, d)
        if key in out:
            continue
        found = existing.get(key)
        if found is None:
            to_insert.append({"bank_id": bank.id, "signal_type": item.signal_type, "value": item.value,
                              "value_digest": d, "meta": item.metadata, "created_at": now})
            out[key] = AddedSignal(-1, item.signal_type, item.value, True)
        else:
            if found.withdrawn_at is not None:
                found.withdrawn_at = None
                if item.metadata is not None:
                    found.meta = item.metadata
                log.append(_add_change(bank.id, found.id, found.signal_type, found.value))
                out[key] = AddedSignal(found.id, found.signal_type, found.value, True)
            else:
                out[key] = AddedSignal(found.id, found.signal_type, found.value, False)
    if to_insert:
        from sqlalchemy import insert

        inserted = session.execute(
            insert(Signal).returning(Signal.id, Signal.signal_type, Signal.value_digest, sort_by_parameter_order=True),
            to_insert,
        ).all()
        for signal_id, signal_type, d in inserted:
            prior = out[(signal_type, d)]
            out[(signal_type, d)] = AddedSignal(signal_id, signal_type, prior.value, True)
            log.append(_add_change(bank.id, signal_id, signal_type, prior.value))
    session.flush()
    log.sort(key=lambda c: c["signal_id"])
    changes.record(session, log)
    return [out[(item.signal_type, d)] for item, d in keyed]


def _add_change(bank_id: int, signal_id: int, signal_type: str, value: str) -> dict:
    return {"op": "add", "bank_id": bank_id, "signal_id": signal_id, "signal_type": signal_type, "value": value}


def withdraw_signal(session: Session, bank: Bank, signal_id: int) -> Signal:
    """Withdraw a signal (idempotent). Raises NotFound if it is not in ``bank``."""
    changes.lock(session)
    signal = session.scalar(select(Signal).where(Signal.id == signal_id, Signal.bank_id == bank.id))
    if signal is None:
        raise NotFound(f"no signal {signal_id} in bank {bank.name!r}")
    if signal.withdrawn_at is None:
        session.execute(update(Signal).where(Signal.id == signal.id).values(withdrawn_at=utcnow()))
        changes.record(session, [{"op": "withdraw", "bank_id": bank.id, "signal_id": signal.id,
                                  "signal_type": signal.signal_type, "value": None}])
        session.refresh(signal)
    return signal


def get_signal(session: Session, bank: Bank, signal_id: int) -> Signal:
    signal = session.scalar(select(Signal).where(Signal.id == signal_id, Signal.bank_id == bank.id))
    if signal is None:
        raise NotFound(f"no signal {signal_id} in bank {bank.name!r}")
    return signal


def count_signals(session: Session, bank_id: int) -> int:
    from sqlalchemy import func

    return int(session.scalar(
        select(func.count()).select_from(Signal).where(Signal.bank_id == bank_id, Signal.withdrawn_at.is_(None))
    ) or 0)
