"""The tenant's policy over a verdict: whether a person must look, how urgently, and why.

A verdict never removes anything by itself: the policy says which review queue item an upload's
findings make (kind and priority) and gives the reasons a reviewer reads. Rules are checked in
order; the first that holds sets kind and priority, and every rule that holds adds its reason.

    ====================================  ================  ========
    findings                              kind              priority
    ====================================  ================  ========
    a hash registered for a minor         mandatory_report  100
    AI-made (provenance) + a derivative   derivative        95
    a service's mark                      mark              90
    an enrolled person's face (likeness)  likeness          85
    an edited derivative                  derivative        70
    a hash match or a re-share            match             60
    ====================================  ================  ========

Hits the trust policy (:mod:`ncii_shield.services.trust`) mutes — suppressed by an allow-list bank,
disabled or deconfirmed for this tenant, or in a bank that only observes — count for no rule. The
decision recommends ``act`` only for hash matches whose every source may act; every other finding
waits for a person.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ncii_shield.services.uploads.pipeline import Verdict


@dataclass(frozen=True)
class Rule:
    kind: str
    priority: int
    reason: str
    holds: Callable[[Verdict], bool]


def _live(v: Verdict, name: str) -> list:
    """A detector's flags that still count after the trust policy."""
    return [f for f in v.items.get(name, []) if v.live(getattr(f, "signal_id", -1))]


def _ai_made(v: Verdict) -> bool:
    provenance = v.summaries.get("provenance")
    return bool(provenance) and getattr(provenance, "ai_generated", None) is True


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("mandatory_report", 100, "matches a hash registered for a minor: a mandatory report",
         lambda v: any(getattr(a, "mandatory_report", False) for a in v.assessments.values())),
    Rule("derivative", 95, "an AI-made edit of a registered photo", lambda v: _ai_made(v) and bool(_live(v, "derivatives"))),
    Rule("mark", 90, "a known nudify or deepfake service's mark", lambda v: bool(_live(v, "marks"))),
    Rule("likeness", 85, "an enrolled person's face in sexual content: check the platform's consent records",
         lambda v: bool(_live(v, "likeness"))),
    Rule("derivative", 70, "an edited copy of a registered photo", lambda v: bool(_live(v, "derivatives"))),
    Rule("match", 60, "a banked hash or a re-share of a registered photo",
         lambda v: any(v.live(m.signal_id) for m in v.matches)),
)
ACTIONABLE_TYPES = frozenset({"pdq", "vpdq", "md5", "sha256"})  # only a hash match may ever be acted on unreviewed


@dataclass(frozen=True)
class ReviewDecision:
    """``queue``: whether the findings call for a person at all; ``kind`` and ``priority`` of the
    review item; ``reasons`` in words a reviewer reads."""

    queue: bool
    kind: str = "match"
    priority: int = 0
    reasons: list[str] = field(default_factory=list)
    recommended: str = "none"  # act (a trusted source's hash: the platform may act before review) | review | none

    def to_json(self) -> dict:
        return {"queue": self.queue, "kind": self.kind, "priority": self.priority, "reasons": self.reasons,
                "recommended": self.recommended}


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...] = DEFAULT_RULES

    def decide(self, verdict: Verdict) -> ReviewDecision:
        held = [r for r in self.rules if r.holds(verdict)]
        if not held:
            return ReviewDecision(False)
        first = held[0]
        reasons = list(dict.fromkeys(r.reason for r in held))
        return ReviewDecision(True, first.kind, first.priority, reasons, self._recommended(verdict, first.kind))

    @staticmethod
    def _recommended(verdict: Verdict, kind: str) -> str:
        """``act`` only where the trust policy lets a hash match act and nothing else asks for a person
        (no flag of any detector: a mark, a face or a derivative alone never removes anything)."""
        if kind != "match" or any(verdict.items.values()):
            return "review"
        acting = [m for m in verdict.matches if m.signal_type in ACTIONABLE_TYPES and verdict.live(m.signal_id)]
        if acting and all(getattr(verdict.assessments.get(m.signal_id), "action", None) == "act" for m in acting):
            return "act"
        return "review"
