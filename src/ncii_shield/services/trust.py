"""Trust policy: what a platform does with a match, decided per hit from who the hash came from.

The upload pipeline calls one method per upload, with the hits its matchers found::

    policy = TrustPolicy(db)
    for a in policy.assess(tenant_id, [(m.bank, m.signal_id, m.signal_type) for m in matches],
                           content_id="upload-123"):
        a.action  # "act" | "review" | "observe" | "suppressed" | "disabled" | "quarantined"

The rules, in the order they are applied to each hit (docs/trust.md explains them for a policy team):

1. a hit in an **allow** bank (known benign content) is ``observe`` and suppresses every other hit
   of the same upload (``suppressed``), with an audit entry; hits of the under-18 bank are never
   suppressed (a mandatory report is not the platform's to waive);
2. a signal **disabled** for this tenant (until its expiry), or **deconfirmed** by its reviewers, is
   ``disabled``; other tenants are not affected;
3. a **quarantined** signal (it over-matched, or reviewers kept rejecting its matches) is
   ``quarantined``: review only, never an action;
4. otherwise the bank's **policy** (act | review | observe), capped by the source's **trust**: only
   ``trusted`` and ``partner`` sources may act; ``unverified`` (an unconfirmed feed) and
   ``anonymous`` (case intake) sources are capped at ``review`` unless this tenant's reviewers
   confirmed the signal; another tenant's shared bank is capped at ``review`` likewise (its trust
   level is that tenant's word, not this one's).

A hit of the under-18 bank carries ``mandatory_report=True``: the pipeline queues it as a
``mandatory_report`` item (services/review.py) whatever its action.

Cost: the banks, subscriptions, disables, quarantines and verdicts are held in memory and re-read at
most every ``ttl`` seconds (2 s by default; at once after a write through :class:`SignalControls`
in this process), so an assessment is dictionary look-ups (measured in tests/unit/services/test_trust.py).
With ``content_id``, the hits feed the over-match watch (:class:`OverMatchWatch`), which quarantines
a signal that matched more than ``over_match_contents`` distinct uploads within ``over_match_window``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ncii_shield.services import audit
from ncii_shield.services.audit import as_utc
from ncii_shield.store.database import Database
from ncii_shield.store.models import (
    Bank,
    SignalDisable,
    SignalFeedback,
    SignalQuarantine,
    Subscription,
    utcnow,
)

log = logging.getLogger("ncii_shield.trust")

ACTIONS = ("act", "review", "observe", "suppressed", "disabled", "quarantined")
POLICIES = ("act", "review", "observe")  # strongest first
TRUST_LEVELS = ("trusted", "partner", "unverified", "anonymous")
BANK_KINDS = ("block", "allow")
VERDICTS = ("confirm", "deconfirm", "dispute")
# the most a source of each trust level may lead to without a confirmation by this tenant's reviewers
TRUST_CAP = {"trusted": "act", "partner": "act", "unverified": "review", "anonymous": "review"}
HASH_TYPES = frozenset({"pdq", "vpdq", "md5", "sha256"})  # the only hits that may act (issue 19: never a mark)
MINOR_BANKS = frozenset({"victims-under-18"})  # services/cases.MINOR_BANK
_UNKNOWN_REFRESH = 0.1  # seconds: a hit of a bank the state does not know re-reads it, at most this often


@dataclass(frozen=True)
class Thresholds:
    """Quarantine thresholds; ``from_env`` reads ``NCII_SHIELD_OVERMATCH_CONTENTS`` (distinct uploads),
    ``NCII_SHIELD_OVERMATCH_WINDOW`` (seconds), ``NCII_SHIELD_REJECTIONS``, ``NCII_SHIELD_TRUST_TTL`` and
    ``NCII_SHIELD_RETRO_CONTENTS`` (past uploads found at once by a new signal).

    ``over_match_contents`` = 500 a hour is measured on the soak's traffic (bench/overmatch_bench.py,
    docs/trust.md): its legitimate hashes match at most 277 distinct uploads an hour (150 per worker),
    so 20 quarantined every one of them; 500 none, and its flooding common image after 991 uploads."""

    over_match_contents: int = 500
    over_match_window: float = 3600.0
    rejections: int = 3
    ttl: float = 2.0
    retro_contents: int = 20  # a new signal finding more past uploads than this at once is quarantined

    @classmethod
    def from_env(cls) -> Thresholds:
        env = os.environ.get
        return cls(int(env("NCII_SHIELD_OVERMATCH_CONTENTS", cls.over_match_contents)),
                   float(env("NCII_SHIELD_OVERMATCH_WINDOW", cls.over_match_window)),
                   int(env("NCII_SHIELD_REJECTIONS", cls.rejections)),
                   float(env("NCII_SHIELD_TRUST_TTL", cls.ttl)),
                   int(env("NCII_SHIELD_RETRO_CONTENTS", cls.retro_contents)))


@dataclass(frozen=True)
class Assessment:
    signal_id: int
    bank: str
    signal_type: str
    action: str  # one of ACTIONS
    reason: str
    mandatory_report: bool = False  # an under-18 case's hash: a mandatory_report review item

    def to_json(self) -> dict:
        return dict(vars(self))


@dataclass(frozen=True)
class BankTrust:
    id: int
    tenant_id: int
    name: str
    kind: str
    trust: str
    policy: str
    enabled: bool
    shared: bool


@dataclass
class _State:
    banks: dict[int, BankTrust] = field(default_factory=dict)
    by_name: dict[str, list[BankTrust]] = field(default_factory=dict)
    disabled: dict[tuple[int, int], datetime | None] = field(default_factory=dict)  # (tenant, signal) -> until
    verdicts: dict[tuple[int, int], str] = field(default_factory=dict)
    quarantined: dict[int, str] = field(default_factory=dict)  # signal -> reason
    loaded: float = -1e9


def weaker(a: str, b: str) -> str:
    """The weaker of two policies (observe < review < act)."""
    return a if POLICIES.index(a) >= POLICIES.index(b) else b


def load_state(session: Session, now: datetime | None = None) -> _State:
    now = now or utcnow()
    state = _State()
    feeds = {bank_id: (trust, policy) for bank_id, trust, policy in session.execute(
        select(Subscription.bank_id, Subscription.trust, Subscription.policy))}
    for b in session.scalars(select(Bank)):
        trust, policy = b.trust, b.policy
        if b.id in feeds:  # a subscription's bank: the subscription's settings bound the bank's
            trust = max(trust, feeds[b.id][0], key=TRUST_LEVELS.index)
            policy = weaker(policy, feeds[b.id][1])
        info = BankTrust(b.id, b.tenant_id, b.name, b.kind, trust, policy, b.enabled, b.shared)
        state.banks[b.id] = info
        state.by_name.setdefault(b.name, []).append(info)
    for tenant_id, signal_id, until in session.execute(
            select(SignalDisable.tenant_id, SignalDisable.signal_id, SignalDisable.until)
            .where(or_(SignalDisable.until.is_(None), SignalDisable.until > now))):
        state.disabled[(tenant_id, int(signal_id))] = as_utc(until)
    for tenant_id, signal_id, verdict in session.execute(
            select(SignalFeedback.tenant_id, SignalFeedback.signal_id, SignalFeedback.verdict)):
        state.verdicts[(tenant_id, int(signal_id))] = verdict
    for signal_id, reason in session.execute(select(SignalQuarantine.signal_id, SignalQuarantine.reason).where(
            SignalQuarantine.quarantined_at.is_not(None), SignalQuarantine.released_at.is_(None))):
        state.quarantined[int(signal_id)] = reason or "quarantined"
    return state


class TrustPolicy:
    """The per-upload policy decision (see the module docstring). Thread-safe; one per process."""

    def __init__(self, db: Database, *, thresholds: Thresholds | None = None,
                 bank_of: Callable[[int], int | None] | None = None) -> None:
        self.db = db
        self.thresholds = thresholds or Thresholds.from_env()
        self._bank_of = bank_of  # signal id -> bank id (the index follower knows), for ambiguous names
        self._state = _State()
        self._refresh_lock = threading.Lock()
        self.watch = OverMatchWatch(self)
        self.suppressions = 0  # assessments with suppressed hits, for metrics

    # -- state ----------------------------------------------------------------------------------

    def invalidate(self) -> None:
        """Re-read the state at the next assessment (a write in this process changed it)."""
        self._state.loaded = -1e9

    def state(self) -> _State:
        state = self._state
        if time.monotonic() - state.loaded <= self.thresholds.ttl:
            return state
        if not self._refresh_lock.acquire(blocking=state.loaded < -1e8):  # someone refreshes: use the old one
            return state
        try:
            if time.monotonic() - self._state.loaded > self.thresholds.ttl:
                with self.db.read() as session:
                    fresh = load_state(session)
                fresh.loaded = time.monotonic()
                self._state = fresh
            return self._state
        finally:
            self._refresh_lock.release()

    def bank_for(self, state: _State, tenant_id: int, name: str, signal_id: int) -> BankTrust | None:
        """The bank a hit names, as this tenant sees it: its own bank of that name, else a shared one."""
        candidates = state.by_name.get(name, ())
        own = [b for b in candidates if b.tenant_id == tenant_id]
        if own:
            return own[0]
        shared = [b for b in candidates if b.shared and b.enabled]
        if len(shared) > 1 and self._bank_of is not None:
            bank_id = self._bank_of(signal_id)
            shared = [b for b in shared if b.id == bank_id] or shared
        return shared[0] if shared else None

    # -- the decision -------------------------------------------------------------------------

    def assess(self, tenant_id: int, hits: Iterable, *, content_id: str | None = None,
               actor: str = "upload") -> list[Assessment]:
        """One :class:`Assessment` per hit; a hit is ``(bank_name, signal_id, signal_type)`` or an
        object with those attributes (a ``services.matching.Match``)."""
        state = self.state()
        rows = [_as_tuple(h) for h in hits]
        banks = [self.bank_for(state, tenant_id, name, signal_id) for name, signal_id, _ in rows]
        if None in banks and time.monotonic() - state.loaded > _UNKNOWN_REFRESH:  # a bank newer than the state
            self.invalidate()
            state = self.state()
            banks = [self.bank_for(state, tenant_id, name, signal_id) for name, signal_id, _ in rows]
        allow = next((b for b in banks if b is not None and b.kind == "allow"), None)
        now = utcnow()
        out: list[Assessment] = []
        for (name, signal_id, signal_type), bank in zip(rows, banks):
            minor = bank is not None and bank.name in MINOR_BANKS
            action, reason = self._decide(state, tenant_id, bank, signal_id, allow, minor, now)
            if action == "act" and signal_type not in HASH_TYPES:  # a mark, a face, a derivative: a person decides
                action, reason = "review", reason + f" (capped at review: a {signal_type} flag never acts alone)"
            out.append(Assessment(signal_id, name, signal_type, action, reason, minor))
        if allow is not None and any(a.action == "suppressed" for a in out):
            self._audit_suppression(tenant_id, allow, out, content_id, actor)
        if content_id is not None:
            self.watch.observe(tenant_id, content_id, [a.signal_id for a in out if a.action in ("act", "review")])
        return out

    def _decide(self, state: _State, tenant_id: int, bank: BankTrust | None, signal_id: int,
                allow: BankTrust | None, minor: bool, now: datetime) -> tuple[str, str]:
        if bank is None:
            return "observe", "the bank is not visible to this tenant"
        if bank.kind == "allow":
            return "observe", f"allow-list bank {bank.name}: known benign content"
        if allow is not None and not minor:
            return "suppressed", f"the same content is in allow-list bank {allow.name}"
        key = (tenant_id, signal_id)
        if key in state.disabled:
            until = state.disabled[key]
            if until is None or until > now:
                return "disabled", "disabled for this tenant" + (f" until {until.isoformat()}" if until else "")
        verdict = state.verdicts.get(key)
        if verdict == "deconfirm":
            return "disabled", "deconfirmed by this tenant's reviewers"
        if signal_id in state.quarantined:
            return "quarantined", f"quarantined: {state.quarantined[signal_id]}"
        policy = bank.policy
        cap = TRUST_CAP.get(bank.trust, "review")
        why = f"bank {bank.name}: policy {bank.policy}, source {bank.trust}"
        if bank.tenant_id != tenant_id:
            cap, why = weaker(cap, "review"), why + ", shared by another tenant"
        if verdict == "confirm":
            cap, why = "act", why + ", confirmed by this tenant's reviewers"
        action = weaker(policy, cap)
        if action != policy:
            why += f" (capped at {action})"
        return action, why

    def _audit_suppression(self, tenant_id: int, allow: BankTrust, out: list[Assessment], content_id: str | None,
                           actor: str) -> None:
        self.suppressions += 1
        suppressed = [{"bank": a.bank, "signal_id": a.signal_id} for a in out if a.action == "suppressed"]
        try:
            with self.db.write() as session:
                audit.append(session, tenant_id=tenant_id, actor=actor, action="trust.suppressed",
                             subject=f"content:{content_id}" if content_id else "upload",
                             details={"allow_bank": allow.name, "suppressed": suppressed})
        except Exception:  # the decision stands; the log line says the audit entry is missing
            log.exception("could not audit a suppression", extra={"allow_bank": allow.name})


def _as_tuple(hit) -> tuple[str, int, str]:
    if isinstance(hit, (tuple, list)):
        return str(hit[0]), int(hit[1]), str(hit[2])
    return str(hit.bank), int(hit.signal_id), str(hit.signal_type)


class OverMatchWatch:
    """Distinct uploads per signal in a sliding window, in this process's memory (bounded); a signal
    over the threshold is quarantined in the store, so every replica stops acting on it. With R
    replicas behind a balancer a signal is caught after at most R x N uploads (each replica counts its
    own); the retroactive sweep counts a new signal's hits in the whole content index at once."""

    MAX_SIGNALS = 100_000

    def __init__(self, policy: TrustPolicy) -> None:
        self.policy = policy
        self._seen: dict[int, deque[tuple[float, str]]] = {}
        self._lock = threading.Lock()

    def observe(self, tenant_id: int, content_id: str, signal_ids: Sequence[int]) -> list[int]:
        """Record that ``content_id`` matched ``signal_ids``; returns the signals quarantined now."""
        if not signal_ids:
            return []
        t = self.policy.thresholds
        now = time.monotonic()
        key = hashlib.sha256(f"{tenant_id}:{content_id}".encode()).hexdigest()[:16]
        over = []
        with self._lock:
            if len(self._seen) > self.MAX_SIGNALS:
                self._seen.clear()  # bounded memory; a flood restarts its count, never escapes the store's
            for signal_id in signal_ids:
                window = self._seen.setdefault(signal_id, deque())
                while window and now - window[0][0] > t.over_match_window:
                    window.popleft()
                if all(k != key for _, k in window):
                    window.append((now, key))
                if len(window) > t.over_match_contents:
                    over.append(signal_id)
                    window.clear()
        for signal_id in over:
            quarantine(self.policy.db, signal_id,
                       f"matched more than {t.over_match_contents} distinct uploads in {t.over_match_window:g} s")
        if over:
            self.policy.invalidate()
        return over


QUARANTINES = {"total": 0}  # quarantines made by this process (ncii_trust_quarantines_total)


def quarantine(db: Database, signal_id: int, reason: str, *, actor: str = "trust") -> bool:
    """Quarantine a signal instance-wide (idempotent): an audit entry, a metric and an alert log line.
    Returns False if it already was."""
    with db.write() as session:
        done = quarantine_in(session, signal_id, reason, actor=actor)
    return done


def quarantine_in(session: Session, signal_id: int, reason: str, *, actor: str = "trust") -> bool:
    row = session.get(SignalQuarantine, signal_id)
    now = utcnow()
    if row is None:
        row = SignalQuarantine(signal_id=signal_id, rejections=0)
        session.add(row)
    elif row.quarantined_at is not None and row.released_at is None:
        return False
    row.quarantined_at, row.released_at, row.reason, row.updated_at = now, None, reason[:500], now
    session.flush()
    audit.append(session, tenant_id=None, actor=actor, action="signal.quarantined", subject=f"signal:{signal_id}",
                 details={"reason": reason[:500]})
    QUARANTINES["total"] += 1
    log.warning("ALERT signal quarantined", extra={"signal_id": signal_id, "reason": reason})
    return True


__all__ = [
    "ACTIONS",
    "POLICIES",
    "TRUST_LEVELS",
    "Assessment",
    "BankTrust",
    "OverMatchWatch",
    "Thresholds",
    "TrustPolicy",
    "quarantine",
]
