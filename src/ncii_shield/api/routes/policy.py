"""/v1/policy/rules: a tenant's review-priority rules (issue 19, item 4; services/policy_rules.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ncii_shield.api.deps import PrincipalDep, ShieldDep
from ncii_shield.api.schemas import ErrorOut
from ncii_shield.services.uploads.policy import MAX_REASON, MAX_RULES, MAX_TERMS

TermText = Annotated[str, Field(max_length=200)]
RuleText = Annotated[str, Field(max_length=1000)]
ERRORS = {code: {"model": ErrorOut} for code in (401, 403, 413, 422)}
router = APIRouter(prefix="/v1/policy", tags=["policy"], responses=ERRORS)


class TermIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(max_length=32, description="match, derivative, mark, likeness or ai_made (provenance says a "
                                                 "generative model made or edited the file)")
    bank: str | None = Field(None, max_length=100, description="only findings in this bank (a bank the tenant "
                                                               "can see); not for ai_made")
    min_score: float | None = Field(None, description="mark and derivative: score 0-100; likeness: similarity 0-1")
    max_distance: float | None = Field(None, description="match: at most this distance (PDQ bits; 0 = exact)")


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    when: list[TermIn | TermText] = Field(
        min_length=1, max_length=MAX_TERMS,
        description="terms that must all hold; a term is an object or the text KIND[@BANK][>=SCORE][<=DISTANCE]")
    action: str | None = Field(None, max_length=32, description="review (the default with a priority) or observe "
                                                                "(marks and ai_made only: reported, not queued)")
    priority: int | None = Field(None, description="review priority 1-99 (100 belongs to mandatory reports)")
    reason: str | None = Field(None, max_length=MAX_REASON, description="what a reviewer reads on the item")


class RulesIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"rules": [
        {"when": [{"kind": "mark", "bank": "nudify-services"}], "priority": 95,
         "reason": "the nudify service our users report most"},
        {"when": ["ai_made", "derivative"], "priority": 97, "reason": "an AI-made edit of a registered photo"},
        {"when": [{"kind": "mark", "bank": "generic-ai-stamps"}], "action": "observe",
         "reason": "a stamp many harmless generators add"}]}]})
    rules: list[RuleIn | RuleText] = Field(
        max_length=MAX_RULES,
        description="the whole table, in the order the rules are checked ([] = the defaults alone); a rule may also "
                    "be the text TERM [+ TERM] -> PRIORITY|observe: REASON")


class TermOut(BaseModel):
    kind: str
    bank: str | None = None
    min_score: float | None = None
    max_distance: float | None = None


class RuleOut(BaseModel):
    position: int | None = Field(None, description="the tenant's rules: 1 is checked first")
    when: list[TermOut]
    action: str = Field(description="review | observe")
    priority: int | None = None
    reason: str
    text: str = Field(description="the rule as `ncii-shield policy rules set --rule` reads it")


class PolicyTableOut(BaseModel):
    mandatory: dict[str, Any] = Field(description="the fixed first rule: a minor's hash, always a mandatory report")
    rules: list[RuleOut] = Field(description="this tenant's rules, checked in order before the defaults")
    defaults: list[RuleOut] = Field(description="checked after the tenant's rules, for every finding they left")
    uses_defaults_only: bool
    updated_at: str | None = None
    updated_by: str | None = None


@router.get("/rules", response_model=PolicyTableOut)
async def get_rules(shield: ShieldDep, principal: PrincipalDep) -> dict:
    """The tenant's review-priority rules, the defaults after them and the fixed first rule (scope
    policy or reviewer; own tenant only). See docs/policy.md."""
    return await run_in_threadpool(shield.policy_rules.table, principal)


@router.put("/rules", response_model=PolicyTableOut)
async def put_rules(body: RulesIn, shield: ShieldDep, principal: PrincipalDep) -> dict:
    """Replace the tenant's whole rule table (scope policy; admin implies it). A rule sets review priority
    1-99 or observes a mark or AI-made provenance; it never removes anything, and a minor's hash stays a
    mandatory report at 100. One invalid rule refuses the whole change (422 naming it). Applied to the
    next upload in this process, within 2 s on every other replica; recorded in the audit log."""
    rules = [r if isinstance(r, str) else r.model_dump(exclude_none=True) for r in body.rules]
    return await run_in_threadpool(shield.policy_rules.replace, principal, rules)


@router.delete("/rules", response_model=PolicyTableOut)
async def reset_rules(shield: ShieldDep, principal: PrincipalDep) -> dict:
    """Drop the tenant's rules: the defaults alone apply (scope policy; recorded in the audit log)."""
    return await run_in_threadpool(shield.policy_rules.reset, principal)
