"""Banks of victims' hashes: create, list, disable; add signals one by one or in bulk; withdraw.

Every write is one transaction that also appends to the change log, so every replica's index sees
it (within milliseconds on the replica that wrote it, under a second on the others).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ncii_shield.errors import InvalidRequest, InvalidSignal, NotFound, TooLarge
from ncii_shield.services.keys import Principal
from ncii_shield.signals import registry
from ncii_shield.store import banks as store
from ncii_shield.store.database import Database

MAX_BATCH = 10_000


@dataclass(frozen=True)
class BankView:
    name: str
    description: str
    shared: bool
    enabled: bool
    signals: int
    created_at: datetime


@dataclass(frozen=True)
class SignalInput:
    signal_type: str
    value: str
    metadata: dict | None = None


def check_batch(items: list) -> None:
    """A call carries 1 to MAX_BATCH signals."""
    if not items:
        raise InvalidRequest("no signals given; send {\"signal_type\", \"value\"} or {\"signals\": [...]}")
    if len(items) > MAX_BATCH:
        raise TooLarge(f"{len(items):,} signals in one call; at most {MAX_BATCH:,} are accepted")


def canonical(item: SignalInput, position: int | None = None) -> store.NewSignal:
    """Validate one input signal; the error names its position in a batch."""
    where = f"signals[{position}]: " if position is not None else ""
    try:
        signal_type = registry.get(item.signal_type)
        value = signal_type.validate(item.value)
    except (InvalidSignal,) as exc:
        raise InvalidSignal(f"{where}{exc}") from exc
    except Exception as exc:  # UnknownSignalType
        raise InvalidSignal(f"{where}{exc}") from exc
    return store.NewSignal(signal_type.name, value, item.metadata)


class BankService:
    def __init__(self, db: Database, on_change: Callable[[], None] | None = None) -> None:
        self.db = db
        self._on_change = on_change or (lambda: None)

    def create(self, principal: Principal, name: str, *, description: str = "", shared: bool = False) -> BankView:
        principal.require("bank:write")
        _check_name(name)
        with self.db.write() as session:
            bank = store.create_bank(session, principal.tenant_id, name, description=description, shared=shared)
            view = BankView(bank.name, bank.description, bank.shared, bank.enabled, 0, bank.created_at)
        self._on_change()
        return view

    def ensure(self, principal: Principal, name: str, *, description: str = "") -> None:
        """Create the bank unless it exists (scope bank:write)."""
        principal.require("bank:write")
        _check_name(name)
        with self.db.write() as session:
            store.get_or_create_bank(session, principal.tenant_id, name, description=description)
        self._on_change()

    def list(self, principal: Principal) -> list[BankView]:
        with self.db.read() as session:
            return [BankView(b.name, b.description, b.shared, b.enabled, store.count_signals(session, b.id), b.created_at)
                    for b in store.list_banks(session, principal.tenant_id)]

    def update(self, principal: Principal, name: str, *, enabled: bool | None = None, shared: bool | None = None) -> BankView:
        principal.require("bank:write")
        with self.db.write() as session:
            bank = store.find_bank(session, principal.tenant_id, name)
            store.set_bank(session, bank, enabled=enabled, shared=shared)
            view = BankView(bank.name, bank.description, bank.shared, bank.enabled,
                            store.count_signals(session, bank.id), bank.created_at)
        self._on_change()
        return view

    def add(self, principal: Principal, bank_name: str, items: list[SignalInput]) -> list[store.AddedSignal]:
        """Add up to :data:`MAX_BATCH` signals; all or nothing; re-adding is idempotent."""
        principal.require("bank:write")
        check_batch(items)
        batch = len(items) > 1
        new = [canonical(item, i if batch else None) for i, item in enumerate(items)]
        with self.db.write() as session:
            bank = store.find_bank(session, principal.tenant_id, bank_name)
            added = store.add_signals(session, bank, new)
        self._on_change()
        return added

    def withdraw(self, principal: Principal, bank_name: str, signal_id: int) -> None:
        principal.require("bank:write")
        with self.db.write() as session:
            bank = store.find_bank(session, principal.tenant_id, bank_name)
            store.withdraw_signal(session, bank, signal_id)
        self._on_change()

    def get_signal(self, principal: Principal, bank_name: str, signal_id: int) -> dict:
        """One signal with its value and metadata (scope bank:read, which bank:write implies): the
        bank's contents, which a match or reviewer key never needs."""
        principal.require("bank:read")
        with self.db.read() as session:
            bank = store.find_bank(session, principal.tenant_id, bank_name)
            s = store.get_signal(session, bank, signal_id)
            return {"id": s.id, "bank": bank.name, "signal_type": s.signal_type, "value": s.value,
                    "metadata": s.meta, "created_at": s.created_at, "withdrawn_at": s.withdrawn_at}


def _check_name(name: str) -> None:
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", name or ""):
        raise InvalidRequest(
            f"{name!r} is not a valid bank name; use 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )


__all__ = ["BankService", "BankView", "SignalInput", "MAX_BATCH", "NotFound"]
