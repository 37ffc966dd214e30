"""Repository for tenants, banks and signals. Every change of a signal goes through the change log."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
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


def create_bank(session: Session, tenant_id: int, name: str, *, description: str = "", shared: bool = False,
                kind: str = "block", trust: str = "trusted", policy: str = "review") -> Bank:
    if session.scalar(select(Bank.id).where(Bank.tenant_id == tenant_id, Bank.name == name)):
        raise Conflict(f"a bank called {name!r} already exists")
    bank = Bank(tenant_id=tenant_id, name=name, description=description, shared=shared, enabled=True,
                kind=kind, trust=trust, policy=policy)
    session.add(bank)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a bank called {name!r} already exists") from exc
    changes.lock(session)
    changes.record(session, [{"op": "bank", "bank_id": bank.id, "signal_id": None, "signal_type": None, "value": None}])
    return bank


def get_or_create_bank(session: Session, tenant_id: int, name: str, *, description: str = "", **trust: str) -> Bank:
    """The bank called ``name``; created with ``trust`` (kind, trust, policy) if missing."""
    bank = session.scalar(select(Bank).where(Bank.tenant_id == tenant_id, Bank.name == name))
    return bank if bank is not None else create_bank(session, tenant_id, name, description=description, **trust)


def find_bank(session: Session, tenant_id: int, name: str) -> Bank:
    bank = session.scalar(select(Bank).where(Bank.tenant_id == tenant_id, Bank.name == name))
    if bank is None:
        raise NotFound(f"no bank called {name!r} in this tenant")
    return bank


def list_banks(session: Session, tenant_id: int) -> list[Bank]:
    return list(session.scalars(select(Bank).where(Bank.tenant_id == tenant_id).order_by(Bank.name)))


def set_bank(session: Session, bank: Bank, *, enabled: bool | None = None, shared: bool | None = None,
             kind: str | None = None, trust: str | None = None, policy: str | None = None) -> Bank:
    changes.lock(session)
    if enabled is not None:
        bank.enabled = enabled
    if shared is not None:
        bank.shared = shared
    for name, value in (("kind", kind), ("trust", trust), ("policy", policy)):
        if value is not None:
            setattr(bank, name, value)
    session.flush()
    changes.record(session, [{"op": "bank", "bank_id": bank.id, "signal_id": None, "signal_type": None, "value": None}])
    return bank


def add_signals(session: Session, bank: Bank, items: list[NewSignal]) -> list[AddedSignal]:
    """Add canonical signals to ``bank``; existing ones are left alone, withdrawn ones re-activated.

    New rows go in with one ``INSERT .. ON CONFLICT DO NOTHING RETURNING``; only the values that
    were already there are looked up afterwards, so a batch costs the same in a bank of any size.
    """
    changes.lock(session)
    now = utcnow()
    rows: dict[tuple[str, str], dict] = {}
    order: list[tuple[str, str]] = []
    for item in items:
        key = (item.signal_type, digest(item.value))
        order.append(key)
        if key not in rows:
            rows[key] = {"bank_id": bank.id, "signal_type": item.signal_type, "value": item.value,
                         "value_digest": key[1], "metadata": item.metadata, "created_at": now}
    out: dict[tuple[str, str], AddedSignal] = {}
    log: list[dict] = []
    table = Signal.__table__
    insert_fn = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    values = list(rows.values())
    for start in range(0, len(values), 2000):
        statement = insert_fn(table).on_conflict_do_nothing(
            index_elements=["bank_id", "signal_type", "value_digest"]
        ).returning(table.c.id, table.c.signal_type, table.c.value_digest)
        for signal_id, signal_type, d in session.execute(statement, values[start:start + 2000]):
            value = rows[(signal_type, d)]["value"]
            out[(signal_type, d)] = AddedSignal(signal_id, signal_type, value, True)
            log.append(_add_change(bank.id, signal_id, signal_type, value))
    missing: dict[str, list[str]] = {}
    for signal_type, d in rows:
        if (signal_type, d) not in out:
            missing.setdefault(signal_type, []).append(d)
    for signal_type, digests in missing.items():  # already in the bank: look them up
        for start in range(0, len(digests), 1000):
            for signal in session.scalars(select(Signal).where(
                Signal.bank_id == bank.id, Signal.signal_type == signal_type,
                Signal.value_digest.in_(digests[start:start + 1000]),
            )):
                key = (signal.signal_type, signal.value_digest)
                if signal.withdrawn_at is not None:
                    signal.withdrawn_at = None
                    if rows[key]["metadata"] is not None:
                        signal.meta = rows[key]["metadata"]
                    log.append(_add_change(bank.id, signal.id, signal.signal_type, signal.value))
                    out[key] = AddedSignal(signal.id, signal.signal_type, signal.value, True)
                else:
                    out[key] = AddedSignal(signal.id, signal.signal_type, signal.value, False)
    session.flush()
    log.sort(key=lambda c: c["signal_id"])
    changes.record(session, log)
    return [out[key] for key in order]


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


def withdraw_by_value(session: Session, bank: Bank, signal_type: str, value: str) -> Signal | None:
    """Withdraw the signal with this value (idempotent); None if the bank never had it."""
    signal_id = session.scalar(select(Signal.id).where(
        Signal.bank_id == bank.id, Signal.signal_type == signal_type, Signal.value_digest == digest(value)))
    return withdraw_signal(session, bank, signal_id) if signal_id is not None else None
