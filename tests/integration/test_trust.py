"""The trust policy (issue 23): single signals disabled per tenant, allow-list banks, source trust and
policy. Real databases (SQLite and PostgreSQL), the policy as the upload pipeline calls it."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from ncii_shield.errors import InvalidRequest, NotFound, PermissionDenied
from ncii_shield.services.banks import SignalInput
from ncii_shield.services.signal_controls import SignalControls
from ncii_shield.services.trust import Thresholds, TrustPolicy
from ncii_shield.store.models import AuditEntry, utcnow

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
MD5 = "0" * 31 + "1"


@pytest.fixture
def world(data_shield):
    """Tenants a and b; a has bank "own" (one PDQ, one MD5); b shares bank "partner" (the same PDQ)."""
    s = data_shield
    a = s.local_principal("a")
    b = s.local_principal("b")
    s.banks.create(a, "own")
    pdq, md5 = s.banks.add(a, "own", [SignalInput("pdq", PDQ), SignalInput("md5", MD5)])
    s.banks.create(b, "partner", shared=True)
    (shared,) = s.banks.add(b, "partner", [SignalInput("pdq", PDQ)])
    policy = TrustPolicy(s.db, thresholds=Thresholds(ttl=60.0))
    return {"s": s, "a": a, "b": b, "pdq": pdq.id, "md5": md5.id, "shared": shared.id, "policy": policy,
            "controls": SignalControls(s.db, policy)}


def actions(policy: TrustPolicy, tenant_id: int, hits: list) -> dict[int, str]:
    return {x.signal_id: x.action for x in policy.assess(tenant_id, hits)}


# -- item 6: one signal disabled for one tenant ---------------------------------------------------


def test_a_signal_disabled_for_one_tenant_still_acts_for_the_other(world):
    w = world
    s, a, b, policy, controls = w["s"], w["a"], w["b"], w["policy"], w["controls"]
    s.banks.update(a, "own", shared=True)
    controls.set_bank(a, "own", policy="act")
    hits = [("own", w["pdq"], "pdq")]
    assert actions(policy, a.tenant_id, hits) == {w["pdq"]: "act"}
    reviewer_b = b  # local principals hold every scope
    assert actions(policy, b.tenant_id, hits)[w["pdq"]] == "review"  # shared by another tenant: capped

    controls.disable(a, w["pdq"], reason="a widely shared news photo")
    assert actions(policy, a.tenant_id, hits) == {w["pdq"]: "disabled"}
    assert actions(policy, b.tenant_id, hits) == {w["pdq"]: "review"}, "b is not affected"
    assert controls.state(a, w["pdq"])["disabled"] is True
    assert controls.state(reviewer_b, w["pdq"])["disabled"] is False
    with s.db.read() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "signal.disabled")).one()
        assert entry.tenant_id == a.tenant_id and entry.subject == f"signal:{w['pdq']}"

    controls.enable(a, w["pdq"])
    assert actions(policy, a.tenant_id, hits) == {w["pdq"]: "act"}


def test_a_disable_with_an_expiry_ends_by_itself(world):
    w = world
    controls, policy, a = w["controls"], w["policy"], w["a"]
    controls.set_bank(a, "own", policy="act")
    soon = utcnow() + timedelta(seconds=1.5)
    out = controls.disable(a, w["md5"], reason="pending investigation", until=soon)
    assert out["disabled"] is True and out["disabled_until"] is not None
    hits = [("own", w["md5"], "md5")]
    assert actions(policy, a.tenant_id, hits) == {w["md5"]: "disabled"}
    time.sleep(1.6)
    assert actions(policy, a.tenant_id, hits) == {w["md5"]: "act"}, "expired in the cached state too"
    policy.invalidate()
    assert actions(policy, a.tenant_id, hits) == {w["md5"]: "act"}


def test_disabling_needs_a_reason_a_future_expiry_and_a_visible_signal(world):
    w = world
    controls, a, b = w["controls"], w["a"], w["b"]
    with pytest.raises(InvalidRequest, match="reason"):
        controls.disable(a, w["pdq"], reason=" ")
    with pytest.raises(InvalidRequest, match="future"):
        controls.disable(a, w["pdq"], reason="x", until=utcnow() - timedelta(minutes=1))
    with pytest.raises(NotFound):  # a's bank is private: b cannot even name its signals
        controls.disable(b, w["pdq"], reason="x")
    with pytest.raises(NotFound):
        controls.disable(a, 10**12, reason="x")
    match_only = type(a)(a.key_id, a.key_prefix, a.tenant_id, frozenset({"match"}))
    with pytest.raises(PermissionDenied):
        controls.disable(match_only, w["pdq"], reason="x")


# -- item 5: allow-list banks ------------------------------------------------------------------------


def test_an_allow_listed_image_is_never_acted_on_and_the_suppression_is_audited(world):
    w = world
    s, a, policy, controls = w["s"], w["a"], w["policy"], w["controls"]
    controls.set_bank(a, "own", policy="act")
    s.banks.create(a, "benign")
    (benign,) = s.banks.add(a, "benign", [SignalInput("pdq", PDQ)])
    controls.set_bank(a, "benign", kind="allow")
    out = policy.assess(a.tenant_id, [("own", w["pdq"], "pdq"), ("benign", benign.id, "pdq"),
                                      ("partner", w["shared"], "pdq")], content_id="upload-7")
    got = {x.bank: x.action for x in out}
    assert got == {"own": "suppressed", "benign": "observe", "partner": "suppressed"}
    assert all(x.action != "act" for x in out)
    with s.db.read() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "trust.suppressed")).one()
    assert entry.tenant_id == a.tenant_id and entry.subject == "content:upload-7"
    assert "benign" in entry.details and str(w["pdq"]) in entry.details
    # the allow bank suppresses only for its own tenant: b's view of the shared bank is unaffected
    assert actions(policy, w["b"].tenant_id, [("partner", w["shared"], "pdq")])[w["shared"]] == "review"


# -- item 2: source trust and policy --------------------------------------------------------------


def test_untrusted_sources_never_act_whatever_their_policy(world):
    w = world
    controls, policy, a = w["controls"], w["policy"], w["a"]
    hits = [("own", w["pdq"], "pdq")]
    assert actions(policy, a.tenant_id, hits)[w["pdq"]] == "review", "default policy: review first"
    for trust, expected in (("trusted", "act"), ("partner", "act"), ("unverified", "review"),
                            ("anonymous", "review")):
        controls.set_bank(a, "own", trust=trust, policy="act")
        assert actions(policy, a.tenant_id, hits)[w["pdq"]] == expected, trust
    controls.set_bank(a, "own", trust="trusted", policy="observe")
    assert actions(policy, a.tenant_id, hits)[w["pdq"]] == "observe"
    with pytest.raises(InvalidRequest, match="trust must be one of"):
        controls.set_bank(a, "own", trust="gold")


def test_case_intake_and_feed_banks_default_to_untrusted(data_shield, tmp_path):
    s = data_shield
    from ncii_shield.services.exchange.subscriber import subscribe
    from ncii_shield.store.models import Bank

    s.cases.open_case([SignalInput("pdq", PDQ)], age="adult", consent=True)
    admin = s.local_principal("default")
    subscribe(s.db, admin, name="other", url="http://127.0.0.1:9", feed="f",
              publisher_key="A" * 43 + "=", token="t", bank="from-feed", allow_private_address=True)
    with s.db.read() as session:
        banks = {b.name: b for b in session.scalars(select(Bank))}
    assert banks["from-feed"].trust == "unverified"
    assert banks["victims"].trust == "anonymous"
    controls = SignalControls(s.db, TrustPolicy(s.db, thresholds=Thresholds(ttl=60)))
    controls.set_bank(admin, "from-feed", policy="act", trust="trusted")
    (sig,) = s.banks.add(admin, "from-feed", [SignalInput("md5", MD5)])
    policy = TrustPolicy(s.db, thresholds=Thresholds(ttl=60))
    # the subscription is still unverified: it bounds the bank's own settings
    assert actions(policy, admin.tenant_id, [("from-feed", sig.id, "md5")])[sig.id] == "review"
    controls.set_subscription(admin, "other", trust="partner", policy="act")
    policy.invalidate()
    assert actions(policy, admin.tenant_id, [("from-feed", sig.id, "md5")])[sig.id] == "act"


def test_an_assessment_costs_well_under_a_millisecond(world):
    w = world
    policy, a = w["policy"], w["a"]
    hits = [("own", w["pdq"], "pdq"), ("own", w["md5"], "md5"), ("partner", w["shared"], "pdq")]
    policy.assess(a.tenant_id, hits)  # loads the state
    runs = 2000
    started = time.perf_counter()
    for _ in range(runs):
        policy.assess(a.tenant_id, hits)
    per_call = (time.perf_counter() - started) / runs
    assert per_call < 0.0003, f"{per_call * 1e6:.0f} us per assessment of 3 hits"


# -- item 4: over-match quarantine ------------------------------------------------------------------


def test_a_feed_sending_a_common_image_is_quarantined_after_n_distinct_uploads(world):
    """N = 20 distinct uploads in an hour (set; the default is 500): the 21st distinct upload quarantines it."""
    from ncii_shield.services.trust_metrics import TrustCollector

    w = world
    s, a, controls = w["s"], w["a"], w["controls"]
    policy = TrustPolicy(s.db, thresholds=Thresholds(over_match_contents=20, ttl=60.0))  # 20 in 3,600 s
    controls.set_bank(a, "own", trust="partner", policy="act")
    hits = [("own", w["pdq"], "pdq")]
    for n in range(20):
        assert actions(policy, a.tenant_id, hits) == {w["pdq"]: "act"}
        policy.assess(a.tenant_id, hits, content_id=f"meme-{n}")
        policy.assess(a.tenant_id, hits, content_id=f"meme-{n}")  # the same upload again counts once
    assert actions(policy, a.tenant_id, hits) == {w["pdq"]: "act"}, "20 distinct uploads: not yet"
    out = policy.assess(a.tenant_id, hits, content_id="meme-20")
    assert out[0].action == "act", "the upload that crossed the line was assessed before it"
    assert actions(policy, a.tenant_id, hits) == {w["pdq"]: "quarantined"}
    other = TrustPolicy(s.db, thresholds=Thresholds(ttl=60.0))  # another replica reads it from the store
    assert actions(other, a.tenant_id, hits) == {w["pdq"]: "quarantined"}
    assert controls.state(a, w["pdq"])["quarantined"] is True
    with s.db.read() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "signal.quarantined")).one()
    assert entry.subject == f"signal:{w['pdq']}" and "20 distinct uploads" in entry.details
    metrics = {m.name: m.samples[0].value for m in TrustCollector(s.db).collect()}
    assert metrics["ncii_trust_quarantined_signals"] == 1
    assert controls.release(w["pdq"], actor="operator") is True
    policy.invalidate()
    assert actions(policy, a.tenant_id, hits) == {w["pdq"]: "act"}
    assert {m.name: m.samples[0].value for m in TrustCollector(s.db).collect()}["ncii_trust_quarantined_signals"] == 0


def test_a_signal_whose_matches_reviewers_keep_rejecting_is_quarantined(world):
    w = world
    s, a, controls = w["s"], w["a"], w["controls"]
    policy = TrustPolicy(s.db, thresholds=Thresholds(ttl=0.0))
    controls.set_bank(a, "own", policy="act")
    hits = [("own", w["md5"], "md5")]
    for n in range(3):  # the default: 3 rejections
        assert actions(policy, a.tenant_id, hits) == {w["md5"]: "act"}
        item = s.review.enqueue(a.tenant_id, "match", actor="upload", content_id=f"c{n}",
                                details={"matches": [{"bank": "own", "signal_id": w["md5"], "signal_type": "md5"}]})
        s.review.decide(a.tenant_id, item.id, "keep", "a stock photo, not the person", actor="reviewer")
    assert actions(policy, a.tenant_id, hits) == {w["md5"]: "quarantined"}
    assert actions(policy, a.tenant_id, [("own", w["pdq"], "pdq")]) == {w["pdq"]: "act"}, "only that signal"


@pytest.mark.slow
def test_a_thousand_cases_registering_one_harmless_image_cannot_make_it_act(data_shield, monkeypatch):
    """Anyone can open a case: a thousand cases naming one popular image still only ever reach review."""
    from argon2 import PasswordHasher

    from ncii_shield.services import cases

    monkeypatch.setattr(cases, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))  # PINs: not the point
    s = data_shield
    for _ in range(1000):
        s.cases.open_case([SignalInput("pdq", PDQ)], age="adult", consent=True)
    admin = s.local_principal("default")
    controls = SignalControls(s.db)
    controls.set_bank(admin, "victims", policy="act")  # even with a platform asking for automatic action
    found = s.matcher.match(admin, [SignalInput("pdq", PDQ)])
    assert len(found) == 1, "one signal, however many cases"
    policy = TrustPolicy(s.db, thresholds=Thresholds(ttl=60.0))
    out = policy.assess(admin.tenant_id, found)
    assert [x.action for x in out] == ["review"] and "anonymous" in out[0].reason


# -- item 7: minors ------------------------------------------------------------------------------------


def test_a_minors_hash_match_becomes_a_mandatory_report_at_the_top_hidden_from_other_reviewers(data_shield, monkeypatch):
    from ncii_shield.services.content import ContentInput
    from ncii_shield.services.mandatory_reports import MandatoryReports

    monkeypatch.setenv("NCII_SHIELD_MANDATORY_REPORT_ORG", "Example Child Helpline")
    s = data_shield
    s.cases.open_case([SignalInput("md5", MD5)], age="guardian", consent=True)
    admin = s.local_principal("default")
    s.content.register(admin.tenant_id, [ContentInput("upload-9", md5=MD5, url="https://forum.example/p/9")])
    overdue = s.review.enqueue(admin.tenant_id, "match", actor="upload", content_id="other", priority=99,
                               deadline_at=utcnow() - timedelta(hours=1))
    found = s.matcher.match(admin, [SignalInput("md5", MD5)])
    out = TrustPolicy(s.db, thresholds=Thresholds(ttl=60)).assess(admin.tenant_id, found, content_id="upload-9")
    assert [(x.action, x.mandatory_report) for x in out] == [("review", True)]
    item_id = MandatoryReports(s.db).enqueue_assessed(admin.tenant_id, "upload-9", out, actor="upload")

    full = s.review.queue(admin.tenant_id, minors=True)
    assert [i.id for i in full][:2] == [item_id, overdue.id], "above an overdue item of the highest priority"
    assert full[0].kind == "mandatory_report" and full[0].preview_url is None
    assert "NC-" not in str(full[0].details), "no case number in the item"
    assert item_id not in [i.id for i in s.review.queue(admin.tenant_id)], "hidden from reviewers without the scope"
    with pytest.raises(NotFound):
        s.review.get(admin.tenant_id, item_id)
    with pytest.raises(NotFound):
        s.review.decide(admin.tenant_id, item_id, "keep", "x", actor="r")

    draft = MandatoryReports(s.db).draft(admin.tenant_id, item_id, actor="r")
    assert draft["status"].startswith("draft: not sent")
    assert draft["report"]["incidentSummary"]["incidentType"].startswith("Child Pornography")
    assert {"hashType": "MD5", "value": MD5} in draft["files"][0]["originalFileHash"]
    assert draft["report"]["internetDetails"] == [{"webPageIncident": {"url": "https://forum.example/p/9"}}]
    assert draft["handoff"]["organisation"] == "Example Child Helpline"
    with pytest.raises(NotFound):  # another tenant's mandatory report is not found
        MandatoryReports(s.db).draft(s.local_principal("b").tenant_id, item_id, actor="r")
    decided = s.review.decide(admin.tenant_id, item_id, "remove", "reported to the CyberTipline", actor="r", minors=True)
    assert decided.status == "decided"


def test_an_allow_list_never_suppresses_a_minors_hash(data_shield):
    s = data_shield
    s.cases.open_case([SignalInput("md5", MD5)], age="guardian", consent=True)
    admin = s.local_principal("default")
    s.banks.create(admin, "benign")
    s.banks.add(admin, "benign", [SignalInput("md5", MD5)])
    SignalControls(s.db).set_bank(admin, "benign", kind="allow")
    out = TrustPolicy(s.db, thresholds=Thresholds(ttl=60)).assess(admin.tenant_id,
                                                                  s.matcher.match(admin, [SignalInput("md5", MD5)]))
    got = {x.bank: (x.action, x.mandatory_report) for x in out}
    assert got == {"benign": ("observe", False), "victims-under-18": ("review", True)}


# -- item 3: verdicts ----------------------------------------------------------------------------------


def test_a_deconfirmed_signal_stops_acting_for_that_tenant_a_confirmed_one_lifts_the_cap(world):
    w = world
    a, b, controls, policy = w["a"], w["b"], w["controls"], w["policy"]
    controls.set_bank(b, "partner", trust="unverified", policy="act")
    hits = [("partner", w["shared"], "pdq")]
    assert actions(policy, a.tenant_id, hits)[w["shared"]] == "review"
    controls.feedback(a, w["shared"], "confirm", "our reviewer checked it against the report")
    assert actions(policy, a.tenant_id, hits)[w["shared"]] == "act", "a person here vouched for it"
    assert actions(policy, b.tenant_id, hits)[w["shared"]] == "review", "b's own view is unchanged"
    controls.feedback(a, w["shared"], "deconfirm", "a stock photo")
    assert actions(policy, a.tenant_id, hits)[w["shared"]] == "disabled"
    assert controls.state(a, w["shared"])["verdict"] == "deconfirm"
    with pytest.raises(InvalidRequest, match="verdict must be one of"):
        controls.feedback(a, w["shared"], "maybe", "x")
    with pytest.raises(NotFound):
        controls.feedback(b, w["pdq"], "confirm", "not b's to judge: a's private bank")
