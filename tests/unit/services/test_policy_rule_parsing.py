"""Rules as data (services/uploads/policy.py): the text form and the JSON form read the same rule,
a rule's text reads back as itself, and the decision follows the order and the observe semantics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ncii_shield.errors import InvalidRequest
from ncii_shield.services.uploads.policy import DEFAULT_RULES, Policy, Rule, Term


@dataclass(frozen=True)
class Flag:
    bank: str
    signal_id: int
    score: float = 50.0


@dataclass
class FakeVerdict:
    """What the policy reads of a verdict: matches, flags by detector, summaries, trust assessments."""

    matches: list = field(default_factory=list)
    items: dict[str, list] = field(default_factory=dict)
    summaries: dict[str, Any] = field(default_factory=dict)
    assessments: dict[int, Any] = field(default_factory=dict)

    def live(self, signal_id: int) -> bool:
        a = self.assessments.get(signal_id)
        return a is None or a.action not in ("suppressed", "disabled", "observe")


def test_text_and_json_read_the_same_rule() -> None:
    text = Rule.parse("ai_made + mark@nudify-services>=70 -> 95: a nudify service's AI output")
    data = Rule.from_json({"when": ["ai_made", {"kind": "mark", "bank": "nudify-services", "min_score": 70}],
                           "priority": 95, "reason": "a nudify service's AI output"})
    assert text == data and text.kind == "mark" and text.action == "review"
    assert Rule.parse(text.text()) == text


terms = st.builds(
    Term,
    kind=st.sampled_from(["match", "derivative", "mark", "likeness"]),
    bank=st.one_of(st.none(), st.from_regex(r"[a-z][a-z0-9_-]{0,20}", fullmatch=True)),
)


@given(st.lists(terms, min_size=1, max_size=4, unique=True), st.integers(1, 99))
def test_every_rule_reads_back_from_its_text(when: list[Term], priority: int) -> None:
    rule = Rule(tuple(when), priority, "a reason")
    assert Rule.parse(rule.text()) == rule
    assert Rule.from_json(rule.to_json()) == rule


def test_defaults_decide_as_documented() -> None:
    policy = Policy()
    marked = FakeVerdict(items={"marks": [Flag("services", 1)]})
    assert (policy.decide(marked).kind, policy.decide(marked).priority) == ("mark", 90)
    ai_edit = FakeVerdict(items={"derivatives": [Flag("photos", 2)]}, summaries={"provenance": {"ai_generated": True}})
    assert policy.decide(ai_edit).priority == 95
    unknown = FakeVerdict(items={"derivatives": [Flag("photos", 2)]}, summaries={"provenance": {"ai_generated": None}})
    assert policy.decide(unknown).priority == 70
    assert [r.priority for r in DEFAULT_RULES] == [95, 90, 85, 70, 60]


def test_tenant_rules_come_first_and_observe_takes_findings_out_of_later_rules() -> None:
    mine = (Rule.parse("mark@noisy -> observe: a noisy stamp"), Rule.parse("mark@nudify>=80 -> 97"))
    policy = Policy(tenant_rules=lambda tenant: mine if tenant == 1 else ())
    noisy = FakeVerdict(items={"marks": [Flag("noisy", 1)]})
    quiet = policy.decide(noisy, 1)
    assert not quiet.queue and quiet.reasons == ["observed, not queued: a noisy stamp"]
    assert policy.decide(noisy, 2).priority == 90  # another tenant: the defaults
    both = FakeVerdict(items={"marks": [Flag("noisy", 1), Flag("nudify", 2, 85.0)]})
    decided = policy.decide(both, 1)
    assert decided.priority == 97 and decided.reasons[-1] == "observed, not queued: a noisy stamp"
    weak = FakeVerdict(items={"marks": [Flag("noisy", 1), Flag("nudify", 2, 60.0)]})
    assert policy.decide(weak, 1).priority == 90  # under the rule's score: the default for the nudify mark


@pytest.mark.parametrize("text", [
    "mark -> act", "mark -> 100", "mark -> 0", "match -> observe", "derivative -> observe", "likeness -> observe",
    "ai_made -> 40", "minor -> 10", "mark@ -> 50", "mark>=101 -> 50", "likeness>=2 -> 50", "match>=3 -> 50",
    "mark<=3 -> 50", "ai_made@bank -> observe", "mark + mark -> 50", "mark 50", "-> 50", "mark -> ",
])
def test_what_a_rule_may_not_say_is_refused(text: str) -> None:
    with pytest.raises(InvalidRequest):
        Rule.parse(text)
