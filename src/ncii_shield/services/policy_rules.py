"""A tenant's review-priority rules: stored, validated, cached for the upload pipeline (issue 19, item 4).

    rules = PolicyRules(db)
    rules.replace(admin, [{"when": [{"kind": "mark", "bank": "nudify-services"}], "priority": 95,
                           "reason": "the nudify service our users report most"}])
    rules.table(reviewer)            # the tenant's rules, the defaults after them, the fixed first rule
    rules.reset(admin)               # back to the defaults
    Policy(tenant_rules=rules.rules_for)   # what the pipeline decides with (services/uploads/policy.py)

Who may do what: reading the table needs ``policy`` or ``reviewer`` (a reviewer sees why an item has
its priority); changing it needs ``policy`` (``admin`` implies it). A key reaches only its own
tenant's table. Every change is one audit entry (``policy.rules_set`` / ``policy.rules_reset``)
with the table before and after, in the transaction that makes it.

What a rule can do is checked by :meth:`Rule.from_json` (services/uploads/policy.py): set a review
priority of 1-99, or observe a mark or AI-made provenance; never a removal, and never anything about
a minor's hash (always a mandatory report at 100, before every rule). A term's bank must be one the
tenant can see (its own, or shared) when the rule is set.

Cost: every tenant's rules are held in memory and re-read at most every ``ttl`` seconds
(``NCII_SHIELD_POLICY_TTL``, 2 s; at once after a change in this process), so an upload costs no
query: another replica applies a change within ``ttl``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from sqlalchemy import delete, or_, select

from ncii_shield.errors import InvalidRequest, PermissionDenied
from ncii_shield.services import audit
from ncii_shield.services.audit import as_utc
from ncii_shield.services.keys import Principal
from ncii_shield.services.uploads.policy import (
    DEFAULT_RULES,
    MANDATORY_PRIORITY,
    MANDATORY_REASON,
    Rule,
    parse_rules,
)
from ncii_shield.store.database import Database
from ncii_shield.store.models import Bank, PolicyRule, Tenant, utcnow

log = logging.getLogger("ncii_shield.policy")

TTL_ENV = "NCII_SHIELD_POLICY_TTL"


def actor_of(principal: Principal) -> str:
    return f"key:{principal.key_prefix}"


def _require_read(principal: Principal) -> None:
    if not (principal.allows("policy") or principal.allows("reviewer")):
        raise PermissionDenied(f"this key has scopes {sorted(principal.scopes)}; reading the policy rules needs "
                               "'policy' or 'reviewer'")


class PolicyRules:
    def __init__(self, db: Database, *, ttl: float | None = None) -> None:
        self.db = db
        self.ttl = float(os.environ.get(TTL_ENV, "2")) if ttl is None else ttl
        self._rules: dict[int, tuple[Rule, ...]] = {}
        self._loaded = -1e9
        self._lock = threading.Lock()

    # -- the pipeline's read ---------------------------------------------------------------------

    def invalidate(self) -> None:
        self._loaded = -1e9

    def rules_for(self, tenant_id: int) -> tuple[Rule, ...]:
        """This tenant's rules in order (empty: the defaults alone). From memory; re-read every ``ttl``."""
        if time.monotonic() - self._loaded > self.ttl:
            self._refresh()
        return self._rules.get(tenant_id, ())

    def _refresh(self) -> None:
        if not self._lock.acquire(blocking=self._loaded < -1e8):  # another thread re-reads: use what is held
            return
        try:
            if time.monotonic() - self._loaded <= self.ttl:
                return
            try:
                with self.db.read() as session:
                    rows = session.execute(select(PolicyRule.tenant_id, PolicyRule.position, PolicyRule.conditions,
                                                  PolicyRule.action, PolicyRule.priority, PolicyRule.reason)
                                           .order_by(PolicyRule.tenant_id, PolicyRule.position)).all()
            except Exception:
                if self._loaded < -1e8:  # nothing to fall back on: the upload's check fails as a whole
                    raise
                log.exception("could not re-read the policy rules; the ones held are used")
                self._loaded = time.monotonic() - self.ttl + min(self.ttl, 1.0)  # try again in a second
                return
            fresh: dict[int, list[Rule]] = {}
            for tenant_id, position, conditions, action, priority, reason in rows:
                try:
                    rule = _from_row(conditions, action, priority, reason, position)
                except InvalidRequest as exc:  # a row written around the service: skipped, loudly
                    log.error("ALERT a stored policy rule is invalid and is skipped",
                              extra={"tenant_id": tenant_id, "position": position, "error": str(exc)})
                    continue
                fresh.setdefault(tenant_id, []).append(rule)
            self._rules = {t: tuple(r) for t, r in fresh.items()}
            self._loaded = time.monotonic()
        finally:
            self._lock.release()

    # -- the table, for people ---------------------------------------------------------------------

    def table(self, principal: Principal) -> dict:
        """The tenant's rules as stored, the defaults checked after them, and the fixed first rule."""
        _require_read(principal)
        with self.db.read() as session:
            rows = list(session.scalars(select(PolicyRule).where(PolicyRule.tenant_id == principal.tenant_id)
                                        .order_by(PolicyRule.position)))
            return _table(rows)

    def replace(self, principal: Principal, rules: Any) -> dict:
        """Replace the tenant's whole table (ordered) with ``rules`` (JSON: a list of rule objects or
        ``TERM -> PRIORITY: REASON`` strings); ``[]`` means the defaults alone. Validated whole: one
        bad rule refuses the change and names the rule."""
        principal.require("policy")
        if isinstance(rules, list):
            rules = [Rule.parse(r, where=f"rules[{i}]").to_json() if isinstance(r, str) else r
                     for i, r in enumerate(rules)]
        parsed = parse_rules(rules)
        actor = actor_of(principal)
        with self.db.write() as session:
            # one change at a time per tenant (PostgreSQL: a row lock; SQLite: the single writer)
            session.execute(select(Tenant.id).where(Tenant.id == principal.tenant_id).with_for_update())
            self._check_banks(session, principal.tenant_id, parsed)
            before = [_row_json(r) for r in session.scalars(select(PolicyRule).where(
                PolicyRule.tenant_id == principal.tenant_id).order_by(PolicyRule.position))]
            session.execute(delete(PolicyRule).where(PolicyRule.tenant_id == principal.tenant_id))
            now = utcnow()
            for position, rule in enumerate(parsed, 1):
                data = rule.to_json()
                session.add(PolicyRule(tenant_id=principal.tenant_id, position=position, conditions=data["when"],
                                       action=rule.action, priority=rule.priority, reason=rule.reason, actor=actor,
                                       created_at=now))
            session.flush()
            audit.append(session, tenant_id=principal.tenant_id, actor=actor,
                         action="policy.rules_reset" if not parsed else "policy.rules_set", subject="policy:rules",
                         details={"before": before, "after": [r.to_json() for r in parsed]})
            out = _table(list(session.scalars(select(PolicyRule).where(
                PolicyRule.tenant_id == principal.tenant_id).order_by(PolicyRule.position))))
        self.invalidate()
        return out

    def reset(self, principal: Principal) -> dict:
        """Drop the tenant's rules: the defaults alone apply again."""
        return self.replace(principal, [])

    @staticmethod
    def _check_banks(session, tenant_id: int, rules: tuple[Rule, ...]) -> None:  # noqa: ANN001
        named = {t.bank for r in rules for t in r.when if t.bank is not None}
        if not named:
            return
        visible = set(session.scalars(select(Bank.name).where(
            Bank.name.in_(named), or_(Bank.tenant_id == tenant_id, (Bank.shared.is_(True)) & Bank.enabled.is_(True)))))
        missing = sorted(named - visible)
        if missing:
            where = [f"rules[{i}]" for i, r in enumerate(rules) if any(t.bank in missing for t in r.when)]
            raise InvalidRequest(f"{', '.join(where)}: no bank called {', '.join(map(repr, missing))} among the banks "
                                 "this tenant can see (its own and shared ones); create it first or fix the name")


def _from_row(conditions: Any, action: str, priority: int | None, reason: str, position: int) -> Rule:
    data: dict[str, Any] = {"when": conditions, "action": action, "reason": reason}
    if priority is not None:
        data["priority"] = priority
    rule = Rule.from_json(data, where=f"rule {position}")
    return Rule(rule.when, rule.priority, rule.reason, f"tenant rule {position}")


def _row_json(row: PolicyRule) -> dict:
    out: dict[str, Any] = {"position": row.position, "when": row.conditions, "action": row.action}
    if row.priority is not None:
        out["priority"] = row.priority
    out["reason"] = row.reason
    return out


def _table(rows: list[PolicyRule]) -> dict:
    last = max(rows, key=lambda r: as_utc(r.created_at)) if rows else None
    return {
        "mandatory": {"when": "a hash registered for a minor", "kind": "mandatory_report",
                      "priority": MANDATORY_PRIORITY, "reason": MANDATORY_REASON,
                      "note": "always first; no rule can lower, reorder or silence it"},
        "rules": [{**_row_json(r), "text": _from_row(r.conditions, r.action, r.priority, r.reason, r.position).text()}
                  for r in rows],
        "defaults": [{**r.to_json(), "text": r.text()} for r in DEFAULT_RULES],
        "uses_defaults_only": not rows,
        "updated_at": as_utc(last.created_at).isoformat() if last else None,
        "updated_by": last.actor if last else None,
    }


__all__ = ["PolicyRules"]
