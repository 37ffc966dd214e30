"""A tenant's controls over single signals and sources (issue 23); :class:`TrustPolicy` applies them.

    controls = SignalControls(db, policy)
    controls.disable(reviewer, 42, reason="a news photo", until=None)   # this tenant only
    controls.feedback(reviewer, 42, "deconfirm", "not the person")      # stops acting here
    controls.set_bank(admin, "partner-feed", trust="partner", policy="act")

Who may do what: disabling, re-enabling and verdicts need ``reviewer`` (a moderator's call, as HMA
users asked); a bank's or subscription's kind, trust and policy need ``admin`` (raising trust lets
hashes act without a person). A signal is found only among the banks the key's tenant can see (its
own and those shared), so a signal id of another tenant's private bank is "not found", as unknown.
Every change is in the audit log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from ncii_shield.errors import InvalidRequest, NotFound
from ncii_shield.services import audit
from ncii_shield.services.audit import as_utc
from ncii_shield.services.keys import Principal
from ncii_shield.services.trust import (
    BANK_KINDS,
    POLICIES,
    TRUST_LEVELS,
    VERDICTS,
    Thresholds,
    TrustPolicy,
    quarantine_in,
)
from ncii_shield.store import banks as bank_store
from ncii_shield.store.database import Database
from ncii_shield.store.models import (
    Bank,
    Signal,
    SignalDisable,
    SignalFeedback,
    SignalQuarantine,
    Subscription,
    utcnow,
)

MAX_SIGNAL_ID = 2**63 - 1


def actor_of(principal: Principal) -> str:
    return f"key:{principal.key_prefix}"


class SignalControls:
    def __init__(self, db: Database, policy: TrustPolicy | None = None) -> None:
        self.db = db
        self.policy = policy

    def _changed(self) -> None:
        if self.policy is not None:
            self.policy.invalidate()

    @staticmethod
    def visible_signal(session: Session, tenant_id: int, signal_id: int) -> tuple[Signal, Bank]:
        """The signal if it is in a bank this tenant can see (its own, or shared and enabled)."""
        if not 0 < signal_id <= MAX_SIGNAL_ID:
            raise NotFound(f"no signal {signal_id} in the banks this tenant can see")
        row = session.execute(select(Signal, Bank).join(Bank, Bank.id == Signal.bank_id).where(
            Signal.id == signal_id)).first()
        if row is None or not (row[1].tenant_id == tenant_id or (row[1].shared and row[1].enabled)):
            raise NotFound(f"no signal {signal_id} in the banks this tenant can see")
        return row[0], row[1]

    # -- single signals (item 6) --------------------------------------------------------------

    def disable(self, principal: Principal, signal_id: int, *, reason: str, until: datetime | None = None) -> dict:
        """Stop acting on a signal for this tenant only (optionally until ``until``); idempotent."""
        principal.require("reviewer")
        reason = (reason or "").strip()
        if not reason:
            raise InvalidRequest("disabling a signal needs a reason (it goes into the audit log)")
        if until is not None:
            if until.tzinfo is None:
                raise InvalidRequest("until must carry a time zone")
            if as_utc(until) <= utcnow():
                raise InvalidRequest("until must be in the future (leave it out to disable until re-enabled)")
        with self.db.write() as session:
            self.visible_signal(session, principal.tenant_id, signal_id)
            row = session.scalar(select(SignalDisable).where(SignalDisable.tenant_id == principal.tenant_id,
                                                             SignalDisable.signal_id == signal_id))
            if row is None:
                row = SignalDisable(tenant_id=principal.tenant_id, signal_id=signal_id, actor=actor_of(principal))
                session.add(row)
            row.until, row.reason, row.actor, row.created_at = as_utc(until), reason[:500], actor_of(principal), utcnow()
            audit.append(session, tenant_id=principal.tenant_id, actor=actor_of(principal), action="signal.disabled",
                         subject=f"signal:{signal_id}",
                         details={"until": until.isoformat() if until else None, "reason": reason[:500]})
        self._changed()
        return self.state(principal, signal_id)

    def enable(self, principal: Principal, signal_id: int) -> dict:
        """Undo :meth:`disable` for this tenant (idempotent)."""
        principal.require("reviewer")
        with self.db.write() as session:
            self.visible_signal(session, principal.tenant_id, signal_id)
            row = session.scalar(select(SignalDisable).where(SignalDisable.tenant_id == principal.tenant_id,
                                                             SignalDisable.signal_id == signal_id))
            if row is not None:
                session.delete(row)
                audit.append(session, tenant_id=principal.tenant_id, actor=actor_of(principal),
                             action="signal.enabled", subject=f"signal:{signal_id}")
        self._changed()
        return self.state(principal, signal_id)

    def state(self, principal: Principal, signal_id: int) -> dict:
        """What this tenant has said about a signal, and whether it is quarantined (scope reviewer)."""
        principal.require("reviewer")
        with self.db.read() as session:
            _, bank = self.visible_signal(session, principal.tenant_id, signal_id)
            disable = session.scalar(select(SignalDisable).where(SignalDisable.tenant_id == principal.tenant_id,
                                                                 SignalDisable.signal_id == signal_id))
            verdict = session.scalar(select(SignalFeedback).where(SignalFeedback.tenant_id == principal.tenant_id,
                                                                  SignalFeedback.signal_id == signal_id))
            health = session.get(SignalQuarantine, signal_id)
            now = utcnow()
            active = disable is not None and (disable.until is None or as_utc(disable.until) > now)
            return {"signal_id": signal_id, "bank": bank.name, "shared": bank.tenant_id != principal.tenant_id,
                    "disabled": active, "disabled_until": as_utc(disable.until) if active and disable.until else None,
                    "verdict": verdict.verdict if verdict else None,
                    "quarantined": bool(health and health.quarantined_at and health.released_at is None)}

    # -- verdicts (item 3) ---------------------------------------------------------------------

    def feedback(self, principal: Principal, signal_id: int, verdict: str, reason: str) -> dict:
        """This tenant's reviewers confirm, deconfirm or dispute a signal, with a reason (the latest
        verdict stands). ``deconfirm`` stops it acting for this tenant; ``confirm`` lifts the cap of an
        untrusted source (a person here vouched for it). Verdicts, counted, go back to the publisher
        of a subscribed feed (services/exchange/verdicts.py)."""
        principal.require("reviewer")
        _check(verdict, VERDICTS, "verdict")
        reason = (reason or "").strip()
        if not reason:
            raise InvalidRequest("a verdict needs a reason (it goes into the audit log)")
        with self.db.write() as session:
            self.visible_signal(session, principal.tenant_id, signal_id)
            row = session.scalar(select(SignalFeedback).where(SignalFeedback.tenant_id == principal.tenant_id,
                                                              SignalFeedback.signal_id == signal_id))
            if row is None:
                row = SignalFeedback(tenant_id=principal.tenant_id, signal_id=signal_id, actor=actor_of(principal))
                session.add(row)
            row.verdict, row.reason, row.actor, row.at = verdict, reason[:500], actor_of(principal), utcnow()
            audit.append(session, tenant_id=principal.tenant_id, actor=actor_of(principal), action="signal.verdict",
                         subject=f"signal:{signal_id}", details={"verdict": verdict, "reason": reason[:500]})
        self._changed()
        from ncii_shield.services.exchange.verdicts import verdicts_changed

        verdicts_changed()
        return self.state(principal, signal_id)

    # -- sources (item 2) ---------------------------------------------------------------------

    def set_bank(self, principal: Principal, name: str, *, kind: str | None = None, trust: str | None = None,
                 policy: str | None = None) -> dict:
        """Set an own bank's kind (block | allow), source trust and policy (scope admin)."""
        principal.require("admin")
        _check(kind, BANK_KINDS, "kind")
        _check(trust, TRUST_LEVELS, "trust")
        _check(policy, POLICIES, "policy")
        with self.db.write() as session:
            bank = bank_store.find_bank(session, principal.tenant_id, name)
            bank_store.set_bank(session, bank, kind=kind, trust=trust, policy=policy)
            audit.append(session, tenant_id=principal.tenant_id, actor=actor_of(principal), action="bank.trust",
                         subject=f"bank:{bank.name}", details={"kind": bank.kind, "trust": bank.trust,
                                                                "policy": bank.policy})
            out = {"name": bank.name, "kind": bank.kind, "trust": bank.trust, "policy": bank.policy}
        self._changed()
        return out

    def set_subscription(self, principal: Principal, name: str, *, trust: str | None = None,
                         policy: str | None = None) -> dict:
        """Set a feed subscription's trust and policy (scope admin; the subscription's bank must be
        this tenant's). They bound the bank's own settings: the weaker of the two applies."""
        principal.require("admin")
        _check(trust, TRUST_LEVELS, "trust")
        _check(policy, POLICIES, "policy")
        with self.db.write() as session:
            sub = session.scalar(select(Subscription).join(Bank, Bank.id == Subscription.bank_id).where(
                Subscription.name == name, Bank.tenant_id == principal.tenant_id))
            if sub is None:
                raise NotFound(f"no subscription called {name!r} in this tenant")
            if trust is not None:
                sub.trust = trust
            if policy is not None:
                sub.policy = policy
            audit.append(session, tenant_id=principal.tenant_id, actor=actor_of(principal),
                         action="subscription.trust", subject=f"subscription:{name}",
                         details={"trust": sub.trust, "policy": sub.policy})
            out = {"name": sub.name, "trust": sub.trust, "policy": sub.policy}
        self._changed()
        return out

    # -- quarantine (item 4) ------------------------------------------------------------------

    def release(self, signal_id: int, *, actor: str) -> bool:
        """Lift a quarantine (the instance operator's call: quarantine is instance-wide). Resets the
        rejection count. Returns False if the signal was not quarantined."""
        with self.db.write() as session:
            row = session.get(SignalQuarantine, signal_id)
            if row is None or row.quarantined_at is None or row.released_at is not None:
                return False
            row.released_at, row.rejections, row.updated_at = utcnow(), 0, utcnow()
            audit.append(session, tenant_id=None, actor=actor, action="signal.released", subject=f"signal:{signal_id}")
        self._changed()
        return True


def controls_for(shield) -> SignalControls:
    """The controls over ``shield``'s trust policy (``shield.trust`` where the core has one), so that a
    change is applied by this process's policy at once."""
    return SignalControls(shield.db, getattr(shield, "trust", None))


def record_rejections(session: Session, signal_ids: list[int], thresholds: Thresholds | None = None) -> list[int]:
    """A reviewer kept the content of a match: count a rejection for each signal that matched it;
    a signal rejected ``thresholds.rejections`` times is quarantined. Returns those quarantined now."""
    limit = (thresholds or Thresholds.from_env()).rejections
    now, quarantined = utcnow(), []
    for signal_id in sorted(set(signal_ids)):
        row = session.get(SignalQuarantine, signal_id)
        if row is None:
            row = SignalQuarantine(signal_id=signal_id, rejections=0, removals=0, updated_at=now)
            session.add(row)
            session.flush()
        session.execute(update(SignalQuarantine).where(SignalQuarantine.signal_id == signal_id).values(
            rejections=SignalQuarantine.rejections + 1, updated_at=now))
        session.refresh(row)
        if row.rejections >= limit and quarantine_in(
                session, signal_id, f"reviewers rejected {row.rejections} of its matches"):
            quarantined.append(signal_id)
    return quarantined


def record_removals(session: Session, signal_ids: list[int]) -> None:
    """A reviewer removed the content of a match: count it per signal (reported back, coarse, to the
    publisher of a subscribed feed and so to a case: "removed on N platforms")."""
    now = utcnow()
    for signal_id in sorted(set(signal_ids)):
        if session.get(SignalQuarantine, signal_id) is None:
            session.add(SignalQuarantine(signal_id=signal_id, rejections=0, removals=0, updated_at=now))
            session.flush()
        session.execute(update(SignalQuarantine).where(SignalQuarantine.signal_id == signal_id).values(
            removals=SignalQuarantine.removals + 1, updated_at=now))
    if signal_ids:
        from ncii_shield.services.exchange.verdicts import verdicts_changed

        event.listen(session, "after_commit", lambda _s: verdicts_changed(), once=True)


def matched_signals(details: dict | None) -> list[int]:
    """The signal ids a review item's details name (``matches`` / ``hits``: dicts with ``signal_id``)."""
    out = []
    for key in ("matches", "hits"):
        for hit in (details or {}).get(key) or []:
            if isinstance(hit, dict) and isinstance(hit.get("signal_id"), int) and hit.get("signal_type") != "derivative":
                out.append(hit["signal_id"])
    return out


def _check(value: str | None, accepted: tuple[str, ...], what: str) -> None:
    if value is not None and value not in accepted:
        raise InvalidRequest(f"{what} must be one of {', '.join(accepted)}")


__all__ = ["VERDICTS", "SignalControls", "controls_for", "record_rejections", "record_removals"]
