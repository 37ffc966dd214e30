"""The tenant's policy over a verdict: whether a person must look, how urgently, and why.

A verdict never removes anything by itself: the policy says which review queue item an upload's
findings make (kind and priority) and gives the reasons a reviewer reads. A rule is data: ``when``
(terms that must all hold), then ``review`` at a priority or ``observe`` (report, do not queue)::

    Rule.from_json({"when": [{"kind": "mark", "bank": "nudify-services"}], "priority": 95,
                    "reason": "a nudify service we see daily"})
    Rule.parse("ai_made + derivative>=80 -> 97")        # the same, as the CLI writes it

Order of evaluation for one upload:

1. a hash registered for a minor is always a ``mandatory_report`` item at priority 100; no rule of a
   tenant can lower, reorder or silence it (rules may use priorities 1-99 only);
2. the tenant's own rules (services/policy_rules.py), in their order;
3. the defaults below, for every finding no rule of the tenant covered.

The first ``review`` rule that holds sets kind and priority; every rule that holds adds its reason.
An ``observe`` rule that holds takes the findings it covers out of every later rule (they stay in
the verdict, nobody is asked to look): only marks and AI-made provenance may be observed. Hash
matches, derivative flags and likeness flags protect people who registered: a rule changes how
urgent they are, never whether a person sees them (per-signal disables and source trust are the
trust policy's, docs/trust.md).

    ====================================  ================  ========
    findings (defaults)                   kind              priority
    ====================================  ================  ========
    a hash registered for a minor         mandatory_report  100 (fixed)
    AI-made (provenance) + a derivative   derivative        95
    a service's mark                      mark              90
    an enrolled person's face (likeness)  likeness          85
    an edited derivative                  derivative        70
    a hash match or a re-share            match             60
    ====================================  ================  ========

Hits the trust policy (:mod:`ncii_shield.services.trust`) mutes — suppressed by an allow-list bank,
disabled or deconfirmed for this tenant, or in a bank that only observes — count for no rule. The
decision recommends ``act`` only for hash matches whose every source may act, whatever the rules say:
a rule has no way to ask for removal, and a mark, a face or provenance never removes anything.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ncii_shield.errors import InvalidRequest

if TYPE_CHECKING:
    from ncii_shield.services.uploads.pipeline import Verdict

#: What a rule's term can name: a detector's finding that counts after the trust policy.
TERM_KINDS = ("match", "derivative", "mark", "likeness", "ai_made")
_ITEMS = {"derivative": "derivatives", "mark": "marks", "likeness": "likeness"}  # term -> the verdict's items
SCORE_RANGES = {"derivative": (0.0, 100.0), "mark": (0.0, 100.0), "likeness": (0.0, 1.0)}  # min_score scales
BANKED = frozenset({"match", "derivative", "mark", "likeness"})  # terms whose findings name a bank
OBSERVABLE = frozenset({"mark", "ai_made"})  # the only findings a rule may keep out of the queue
ACTIONS = ("review", "observe")
MANDATORY_PRIORITY = 100
MIN_PRIORITY, MAX_PRIORITY = 1, 99  # tenants' rules: never level with or above a mandatory report
MAX_RULES = 50
MAX_TERMS = 4
MAX_REASON = 300
MAX_BANK = 100
REFUSED_ACTIONS = frozenset({"act", "remove", "removal", "delete", "takedown", "block", "report",
                             "mandatory_report"})
_TERM_TEXT = re.compile(r"^\s*([a-z_]+)\s*(?:@\s*([^\s>=<+]+))?\s*(?:(>=|<=)\s*([0-9.]+))?\s*$")


@dataclass(frozen=True)
class Term:
    """One condition: a live finding of ``kind`` (in ``bank``, with at least ``min_score``, or a
    match within ``max_distance``)."""

    kind: str
    bank: str | None = None
    min_score: float | None = None  # mark, derivative: score 0-100; likeness: similarity 0-1
    max_distance: float | None = None  # match: the distance the match reports (PDQ: bits, MD5/SHA-256: 0)

    def to_json(self) -> dict:
        return {k: v for k, v in (("kind", self.kind), ("bank", self.bank), ("min_score", self.min_score),
                                  ("max_distance", self.max_distance)) if v is not None}

    def __str__(self) -> str:
        out = self.kind + (f"@{self.bank}" if self.bank else "")
        if self.min_score is not None:
            out += f">={self.min_score:g}"
        if self.max_distance is not None:
            out += f"<={self.max_distance:g}"
        return out

    def fits(self, finding: Any) -> bool:
        inner = getattr(finding, "flag", finding)  # a video frame's flag (pipeline.InFrame)
        if self.bank is not None and getattr(inner, "bank", None) != self.bank:
            return False
        if self.min_score is not None:
            score = getattr(inner, "similarity" if self.kind == "likeness" else "score", None)
            if not isinstance(score, (int, float)) or score < self.min_score:
                return False
        if self.max_distance is not None:
            distance = getattr(inner, "distance", None)
            if not isinstance(distance, (int, float)) or distance > self.max_distance:
                return False
        return True


@dataclass(frozen=True)
class Rule:
    """``when`` all hold: review at ``priority`` (``None``: observe). ``kind`` is the review item's
    kind: the first term that names a detector's finding (``ai_made`` aside)."""

    when: tuple[Term, ...]
    priority: int | None
    reason: str
    source: str = "default"  # "default" | "tenant rule N": said in the decision, so a reviewer sees why

    @property
    def action(self) -> str:
        return "observe" if self.priority is None else "review"

    @property
    def kind(self) -> str:
        return next((t.kind for t in self.when if t.kind != "ai_made"), "match")

    def to_json(self) -> dict:
        out: dict[str, Any] = {"when": [t.to_json() for t in self.when], "action": self.action}
        if self.priority is not None:
            out["priority"] = self.priority
        out["reason"] = self.reason
        return out

    def text(self) -> str:
        """The rule as :meth:`parse` reads it: ``mark@nudify-services -> 95: reason``."""
        then = "observe" if self.priority is None else str(self.priority)
        return f"{' + '.join(str(t) for t in self.when)} -> {then}: {self.reason}"

    def holds(self, found: dict[str, list], muted: set[tuple[str, int]]) -> list[tuple[str, int]] | None:
        """The findings this rule covers (``(term kind, id)``), or None if a term has none."""
        covered: list[tuple[str, int]] = []
        for term in self.when:
            hits = [(term.kind, id(f)) for f in found.get(term.kind, ()) if (term.kind, id(f)) not in muted
                    and term.fits(f)]
            if not hits:
                return None
            covered += hits
        return covered

    # -- reading rules (the API's JSON, the CLI's text) -------------------------------------------

    @classmethod
    def from_json(cls, data: Any, *, where: str = "rule") -> Rule:
        """Validate one rule as the API and the store give it; every refusal says what is accepted."""
        if not isinstance(data, dict):
            raise InvalidRequest(f"{where}: a rule is an object {{when, priority | action: observe, reason}}")
        unknown = sorted(set(data) - {"when", "action", "priority", "reason"})
        if unknown:
            raise InvalidRequest(f"{where}: unknown field(s) {', '.join(unknown)}; a rule has when, action, "
                                 "priority and reason")
        action = data.get("action", "review" if data.get("priority") is not None else None)
        if isinstance(action, str) and action.strip().lower() in REFUSED_ACTIONS:
            raise InvalidRequest(
                f"{where}: action {action!r} is not something a rule can do. A rule only sets review priority "
                "(action review) or keeps a mark or AI-made provenance out of the queue (action observe); no "
                "finding is ever removed or reported without a person, and a mark, a face or provenance never "
                "removes anything (acting on trusted hash matches is the trust policy's, docs/trust.md)")
        if action not in ACTIONS:
            raise InvalidRequest(f"{where}: action must be review (with a priority {MIN_PRIORITY}-{MAX_PRIORITY}) "
                                 f"or observe; got {action!r}")
        when = data.get("when")
        if isinstance(when, (str, dict)):
            when = [when]
        if not isinstance(when, list) or not when:
            raise InvalidRequest(f"{where}: when must list 1-{MAX_TERMS} terms, e.g. [{{\"kind\": \"mark\", "
                                 "\"bank\": \"nudify-services\"}] or [\"ai_made\", \"derivative\"]")
        if len(when) > MAX_TERMS:
            raise InvalidRequest(f"{where}: at most {MAX_TERMS} terms in one rule")
        terms = tuple(_term(t, f"{where}.when[{i}]") for i, t in enumerate(when))
        if len(set(terms)) != len(terms):
            raise InvalidRequest(f"{where}: a term is listed twice")
        priority = data.get("priority")
        if action == "observe":
            if priority is not None:
                raise InvalidRequest(f"{where}: an observe rule queues nothing, so it takes no priority")
            kept = [t.kind for t in terms if t.kind not in OBSERVABLE]
            if kept:
                raise InvalidRequest(
                    f"{where}: only marks and AI-made provenance may be observed (reported, not queued); "
                    f"{' and '.join(sorted(set(kept)))} findings protect people who registered, so a rule may lower "
                    f"their priority (down to {MIN_PRIORITY}) but not hide them. To stop acting on one signal, "
                    "disable it "
                    "(PUT /v1/review/signals/{id}/disable, docs/trust.md)")
        else:
            if isinstance(priority, bool) or not isinstance(priority, int):
                raise InvalidRequest(f"{where}: priority must be a whole number {MIN_PRIORITY}-{MAX_PRIORITY} "
                                     "(higher is looked at first)")
            if priority > MAX_PRIORITY:
                raise InvalidRequest(f"{where}: priority {priority} is above {MAX_PRIORITY}: {MANDATORY_PRIORITY} "
                                     "belongs to mandatory reports (a minor's hash) alone; use 1-99")
            if priority < MIN_PRIORITY:
                raise InvalidRequest(f"{where}: priority must be {MIN_PRIORITY}-{MAX_PRIORITY}; to keep a mark or "
                                     "AI-made provenance out of the queue use action observe")
            if all(t.kind == "ai_made" for t in terms):
                raise InvalidRequest(
                    f"{where}: ai_made alone says nothing about a person, so it makes no review item; combine it "
                    "with match, derivative, mark or likeness (e.g. [\"ai_made\", \"derivative\"]), or observe it")
        reason = data.get("reason")
        if reason is None:
            reason = ""
        if not isinstance(reason, str):
            raise InvalidRequest(f"{where}: reason must be text (what a reviewer reads)")
        reason = " ".join(reason.split())
        if len(reason) > MAX_REASON:
            raise InvalidRequest(f"{where}: reason is {len(reason)} characters; at most {MAX_REASON}")
        if not reason.isprintable():
            raise InvalidRequest(f"{where}: reason must be printable text")
        rule = cls(terms, priority, reason)
        return rule if reason else cls(terms, priority, f"your rule: {' + '.join(str(t) for t in terms)}")

    @classmethod
    def parse(cls, text: str, *, where: str = "rule") -> Rule:
        """``TERM [+ TERM...] -> PRIORITY|observe [: REASON]``; a TERM is ``KIND[@BANK][>=SCORE][<=DISTANCE]``,
        e.g. ``mark@nudify-services>=70 -> 95: nudify service`` or ``ai_made + derivative -> 97``."""
        if not isinstance(text, str) or len(text) > 1000:
            raise InvalidRequest(f"{where}: a rule's text is at most 1000 characters")
        if "->" not in text:
            raise InvalidRequest(f"{where}: {text!r} has no '->'; write TERM [+ TERM] -> PRIORITY|observe [: REASON], "
                                 "e.g. 'mark@nudify-services -> 95: a nudify service'")
        when_text, then = text.split("->", 1)
        then, _, reason = then.partition(":")
        then = then.strip().lower()
        data: dict[str, Any] = {"when": [_term_text(t, where) for t in when_text.split("+")], "reason": reason}
        if then in ("observe", "review") or then in REFUSED_ACTIONS or not then.lstrip("-").isdigit():
            data["action"] = then
        else:
            data["priority"] = int(then)
        return cls.from_json(data, where=where)


def _term_text(text: str, where: str) -> dict:
    m = _TERM_TEXT.match(text)
    if not m:
        raise InvalidRequest(f"{where}: cannot read the term {text.strip()!r}; write KIND[@BANK][>=SCORE] "
                             f"(KIND one of {', '.join(TERM_KINDS)}), or match[@BANK][<=DISTANCE]")
    kind, bank, op, number = m.groups()
    out: dict[str, Any] = {"kind": kind}
    if bank:
        out["bank"] = bank
    if op:
        try:
            value = float(number)
        except ValueError:
            raise InvalidRequest(f"{where}: {number!r} is not a number") from None
        out["min_score" if op == ">=" else "max_distance"] = value
    return out


def _term(data: Any, where: str) -> Term:
    if isinstance(data, str):
        data = _term_text(data, where)
    if not isinstance(data, dict):
        raise InvalidRequest(f"{where}: a term is an object {{kind, bank?, min_score?, max_distance?}} or a "
                             "string like \"mark@nudify-services\"")
    unknown = sorted(set(data) - {"kind", "bank", "min_score", "max_distance"})
    if unknown:
        raise InvalidRequest(f"{where}: unknown field(s) {', '.join(unknown)}; a term has kind, bank, min_score, "
                             "max_distance")
    kind = data.get("kind")
    if kind in ("mandatory_report", "minor", "under_18"):
        raise InvalidRequest(f"{where}: a minor's hash is always a mandatory report at priority "
                             f"{MANDATORY_PRIORITY}, before every rule; it is not a tenant's to set, lower or disable")
    if kind in ("provenance", "ai-made", "ai_generated"):
        kind = "ai_made"
    if kind not in TERM_KINDS:
        raise InvalidRequest(f"{where}: kind must be one of {', '.join(TERM_KINDS)}; got {kind!r}")
    bank = data.get("bank")
    if bank is not None:
        if kind not in BANKED:
            raise InvalidRequest(f"{where}: {kind} names no bank (provenance is read from the file itself)")
        if not isinstance(bank, str) or not bank.strip() or len(bank) > MAX_BANK or not bank.isprintable():
            raise InvalidRequest(f"{where}: bank must be a bank's name (1-{MAX_BANK} printable characters)")
        bank = bank.strip()
    min_score = _number(data.get("min_score"), f"{where}.min_score")
    if min_score is not None:
        if kind not in SCORE_RANGES:
            raise InvalidRequest(f"{where}: min_score applies to {', '.join(SCORE_RANGES)} (a match has "
                                 "max_distance)")
        low, high = SCORE_RANGES[kind]
        if not low <= min_score <= high:
            raise InvalidRequest(f"{where}: {kind} min_score must be {low:g}-{high:g} "
                                 f"({'similarity' if kind == 'likeness' else 'score'} as the verdict reports it)")
    max_distance = _number(data.get("max_distance"), f"{where}.max_distance")
    if max_distance is not None:
        if kind != "match":
            raise InvalidRequest(f"{where}: max_distance applies to match only")
        if not 0 <= max_distance <= 256:
            raise InvalidRequest(f"{where}: max_distance must be 0-256 (PDQ bits; 0 for MD5 and SHA-256)")
    return Term(kind, bank, min_score, max_distance)


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidRequest(f"{where} must be a number")
    return float(value)


def parse_rules(data: Any) -> tuple[Rule, ...]:
    """A tenant's whole table (a list of rules, in order), validated."""
    if not isinstance(data, list):
        raise InvalidRequest("rules must be a list (the table, in the order the rules are checked)")
    if len(data) > MAX_RULES:
        raise InvalidRequest(f"{len(data)} rules; a tenant has at most {MAX_RULES}")
    return tuple(Rule.from_json(r, where=f"rules[{i}]") for i, r in enumerate(data))


def _rule(text: str, reason: str) -> Rule:
    r = Rule.parse(text)
    return Rule(r.when, r.priority, reason)


DEFAULT_RULES: tuple[Rule, ...] = (
    _rule("ai_made + derivative -> 95", "an AI-made edit of a registered photo"),
    _rule("mark -> 90", "a known nudify or deepfake service's mark"),
    _rule("likeness -> 85", "an enrolled person's face in sexual content: check the platform's consent records"),
    _rule("derivative -> 70", "an edited copy of a registered photo"),
    _rule("match -> 60", "a banked hash or a re-share of a registered photo"),
)
MANDATORY_REASON = "matches a hash registered for a minor: a mandatory report"
ACTIONABLE_TYPES = frozenset({"pdq", "vpdq", "md5", "sha256"})  # only a hash match may ever be acted on unreviewed


@dataclass(frozen=True)
class ReviewDecision:
    """``queue``: whether the findings call for a person at all; ``kind`` and ``priority`` of the
    review item; ``reasons`` in words a reviewer reads; ``rule``: which rule set the priority."""

    queue: bool
    kind: str = "match"
    priority: int = 0
    reasons: list[str] = field(default_factory=list)
    recommended: str = "none"  # act (a trusted source's hash: the platform may act before review) | review | none
    rule: str | None = None  # "mandatory report" | "default" | "tenant rule N"

    def to_json(self) -> dict:
        out = {"queue": self.queue, "kind": self.kind, "priority": self.priority, "reasons": self.reasons,
               "recommended": self.recommended}
        if self.rule is not None:
            out["rule"] = self.rule
        return out


def _live(v: Verdict, name: str) -> list:
    """A detector's flags that still count after the trust policy."""
    return [f for f in v.items.get(name, []) if v.live(getattr(f, "signal_id", -1))]


_AI_MADE = object()  # the one "finding" an ai_made term covers


@dataclass(frozen=True)
class _Found:
    """A match as a rule's terms read it (bank, distance), when there is no upload's verdict."""

    bank: str
    distance: float


def ai_made(v: Verdict) -> bool:
    """Provenance said the file was made or edited by a generative model (the detector's summary is
    its JSON: ``{"ai_generated": true, ...}``)."""
    p = v.summaries.get("provenance")
    said = p.get("ai_generated") if isinstance(p, dict) else getattr(p, "ai_generated", None)
    return said is True


def findings(v: Verdict) -> dict[str, list]:
    """What rules' terms can cover: every live finding by term kind."""
    out: dict[str, list] = {"match": [m for m in v.matches if v.live(m.signal_id)]}
    for term, name in _ITEMS.items():
        out[term] = _live(v, name)
    out["ai_made"] = [_AI_MADE] if ai_made(v) else []
    return out


@dataclass(frozen=True)
class Policy:
    """The defaults, and (``tenant_rules``) a lookup of a tenant's own rules, checked before them."""

    rules: tuple[Rule, ...] = DEFAULT_RULES
    tenant_rules: Callable[[int], Sequence[Rule]] | None = None

    def rules_for(self, tenant_id: int | None) -> list[Rule]:
        own = list(self.tenant_rules(tenant_id)) if self.tenant_rules is not None and tenant_id is not None else []
        return own + list(self.rules)

    def decide(self, verdict: Verdict, tenant_id: int | None = None) -> ReviewDecision:
        mandatory = any(getattr(a, "mandatory_report", False) for a in verdict.assessments.values())
        return self._decide(findings(verdict), tenant_id, mandatory, lambda: self._recommended(verdict))

    def decide_match(self, tenant_id: int | None, bank: str, distance: float, *, action: str) -> ReviewDecision:
        """The decision for one hash match found outside an upload's check (a past upload that a newly
        banked hash matches: services/retroactive.py), under the same rules; ``action`` is the trust
        policy's for that match."""
        found: dict[str, list] = {kind: [] for kind in TERM_KINDS}
        found["match"] = [_Found(bank, distance)]
        return self._decide(found, tenant_id, False, lambda: "act" if action == "act" else "review")

    def _decide(self, found: dict[str, list], tenant_id: int | None, mandatory: bool,
                recommended: Callable[[], str]) -> ReviewDecision:
        muted: set[tuple[str, int]] = set()
        first: Rule | None = None
        reasons: list[str] = [MANDATORY_REASON] if mandatory else []
        observed: list[str] = []
        for rule in self.rules_for(tenant_id):
            covered = rule.holds(found, muted)
            if covered is None:
                continue
            if rule.priority is None:
                muted.update(covered)
                observed.append(f"observed, not queued: {rule.reason}")
                continue
            first = first or rule
            reasons.append(rule.reason)
        reasons = list(dict.fromkeys(reasons + observed))
        if mandatory:
            return ReviewDecision(True, "mandatory_report", MANDATORY_PRIORITY, reasons, "review", "mandatory report")
        if first is None:
            return ReviewDecision(False, reasons=reasons, rule=observed and "observe" or None)
        return ReviewDecision(True, first.kind, first.priority or 0, reasons, recommended(), first.source)

    @staticmethod
    def _recommended(verdict: Verdict) -> str:
        """``act`` only where the trust policy lets every hash match act and nothing else asks for a
        person (no flag of any detector: a mark, a face or a derivative alone never removes anything).
        Independent of the rules: no rule can make anything act."""
        if any(verdict.items.values()):
            return "review"
        acting = [m for m in verdict.matches if m.signal_type in ACTIONABLE_TYPES and verdict.live(m.signal_id)]
        if acting and all(
                getattr(verdict.assessments.get(m.signal_id), "action", None) == "act" for m in acting):
            return "act"
        return "review"
