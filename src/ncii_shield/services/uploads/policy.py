"""The tenant's policy over a verdict: whether a person must look, how urgently, and why.

A verdict never removes anything by itself: the policy says which review queue item an upload's
findings make (kind and priority) and gives the reasons a reviewer reads. Rules are checked in
order; the first that holds sets kind and priority, and every rule that holds adds its reason.

    ====================================  ===========  ========
    findings                              kind         priority
    ====================================  ===========  ========
    AI-made (provenance) + a derivative   derivative   95
    a service's mark                      mark         90
    an enrolled person's face (likeness)  likeness     85
    an edited derivative                  derivative   70
    a hash match or a re-share            match        60
    ====================================  ===========  ========
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


def _ai_made(v: Verdict) -> bool:
    provenance = v.summaries.get("provenance")
    return bool(provenance) and getattr(provenance, "ai_generated", None) is True


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("derivative", 95, "an AI-made edit of a registered photo",
         lambda v: _ai_made(v) and bool(v.items.get("derivatives"))),
    Rule("mark", 90, "a known nudify or deepfake service's mark", lambda v: bool(v.items.get("marks"))),
    Rule("likeness", 85, "an enrolled person's face in sexual content: check the platform's consent records",
         lambda v: bool(v.items.get("likeness"))),
    Rule("derivative", 70, "an edited copy of a registered photo", lambda v: bool(v.items.get("derivatives"))),
    Rule("match", 60, "a banked hash or a re-share of a registered photo", lambda v: bool(v.matches)),
)


@dataclass(frozen=True)
class ReviewDecision:
    """``queue``: whether the findings call for a person at all; ``kind`` and ``priority`` of the
    review item; ``reasons`` in words a reviewer reads."""

    queue: bool
    kind: str = "match"
    priority: int = 0
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"queue": self.queue, "kind": self.kind, "priority": self.priority, "reasons": self.reasons}


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...] = DEFAULT_RULES

    def decide(self, verdict: Verdict) -> ReviewDecision:
        held = [r for r in self.rules if r.holds(verdict)]
        if not held:
            return ReviewDecision(False)
        first = held[0]
        reasons = list(dict.fromkeys(r.reason for r in held))
        return ReviewDecision(True, first.kind, first.priority, reasons)
