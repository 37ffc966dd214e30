"""Per-tenant review-priority rules (issue 19, item 4): stored per tenant, read by the one upload
pipeline from memory, changed over HTTP and with the CLI, refused with clear errors when they would
do what a rule may not (remove, touch a minor's hash, hide a registered person's findings).

In-process on SQLite and on a fresh PostgreSQL database; over real HTTP against a live server on
both; the CLI as a real process. Images are synthetic (tests/scan_helpers.py, tests/marks_scenes.py).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import event

from ncii_shield.core import Shield
from ncii_shield.errors import InvalidRequest, PermissionDenied
from ncii_shield.services import audit
from ncii_shield.services.banks import SignalInput
from ncii_shield.services.hashing import hash_photo_bytes
from ncii_shield.services.policy_rules import PolicyRules
from ncii_shield.services.uploads.derivative_flags import DerivativeFlag
from ncii_shield.services.uploads.detectors import DecodedUpload, Findings, Scope
from ncii_shield.services.uploads.hash_matches import HashMatches
from ncii_shield.services.uploads.pipeline import CheckOptions, UploadPipeline
from ncii_shield.services.uploads.policy import Policy
from tests.derivative_scenes import jpeg
from tests.integration.test_api import make_bank, new_key
from tests.marks_scenes import paste, png, text_mark
from tests.marks_scenes import photo as scene_photo
from tests.scan_helpers import photo
from tests.servers import cli, create_pg_database, drop_pg_database

MARK = text_mark("NUDIFY")


@pytest.fixture(params=["sqlite", "postgres"])
def shield(request, tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'p.db'}" if request.param == "sqlite" else create_pg_database()
    s = Shield.open(url)
    yield s
    s.close()
    if request.param == "postgres":
        drop_pg_database(url)


def bank_with(shield: Shield, tenant: str, bank: str, seeds: list[int], *, shared: bool = False):
    admin = shield.local_principal(tenant)
    shield.banks.create(admin, bank, shared=shared)
    shield.banks.add(admin, bank, [SignalInput("md5", hash_photo_bytes(photo(s)).md5) for s in seeds])
    shield.follower.catch_up()
    return admin


def queued(shield: Shield, tenant_id: int, item_id: int | None):
    assert item_id is not None
    return next(i for i in shield.review.queue(tenant_id, minors=True) if i.id == item_id)


def test_a_tenants_rule_sets_the_priority_of_the_pipelines_item_and_no_one_elses(shield: Shield) -> None:
    a = bank_with(shield, "forum", "forum-hashes", [7], shared=True)
    b = shield.local_principal("dating-app")
    upload = photo(7)
    before = shield.uploads.check(a, upload, CheckOptions(content_id="a-1", review=True))
    assert (before.review.priority, before.review.rule) == (60, "default")

    shield.policy_rules.replace(a, [{"when": [{"kind": "match", "bank": "forum-hashes", "max_distance": 0}],
                                     "priority": 33, "reason": "our own exact hashes: the usual queue"}])
    after = shield.uploads.check(a, upload, CheckOptions(content_id="a-2", review=True))
    assert (after.review.kind, after.review.priority, after.review.rule) == ("match", 33, "tenant rule 1")
    assert after.review.reasons[0] == "our own exact hashes: the usual queue"
    item = queued(shield, a.tenant_id, after.review_item)
    assert (item.kind, item.priority, item.content_id) == ("match", 33, "a-2")
    assert item.details["reasons"][0] == "our own exact hashes: the usual queue"

    other = shield.uploads.check(b, upload, CheckOptions(content_id="b-1", review=True))  # the shared bank
    assert [m.bank for m in other.matches] == ["forum-hashes"]
    assert (other.review.priority, other.review.rule) == (60, "default")
    assert queued(shield, b.tenant_id, other.review_item).priority == 60

    shield.policy_rules.reset(a)
    assert shield.uploads.check(a, upload).review.priority == 60


def test_a_monitors_item_takes_the_priority_the_tenants_rules_gave_the_scan(shield: Shield) -> None:
    """Scans and monitors check through the same pipeline; the monitor's queue item keeps its decision."""
    from ncii_shield.services.scanning.items import BytesItem
    from ncii_shield.services.scanning.scanner import ScanSettings, Scanner

    who = bank_with(shield, "default", "victims", [7])
    shield.policy_rules.replace(who, ["match@victims -> 44: found on a watched site"])
    data = photo(7)
    result = Scanner(ScanSettings(shield.db.url, who), shield.uploads).scan(BytesItem(0, 0, "https://site.example/a.jpg",
                                                                                       len(data), data))
    assert result["status"] == "exact" and result["review"]["priority"] == 44
    item = shield.review.enqueue_scan_result(who.tenant_id, "monitor:1", result)
    assert (item.kind, item.priority) == ("match", 44)
    shield.policy_rules.reset(who)
    again = Scanner(ScanSettings(shield.db.url, who), shield.uploads).scan(BytesItem(0, 0, "https://site.example/b.jpg",
                                                                                      len(data), data))
    assert shield.review.enqueue_scan_result(who.tenant_id, "monitor:1", again).priority == 60
    # a finding the tenant's rules observe only (the pipeline decided not to queue it) stays out of the
    # queue: a real mark, found by the scan in a re-encoded photo, under "mark@stamps -> observe"
    from ncii_shield.services.marks import MarkService

    shield.banks.create(who, "stamps")
    MarkService(shield.banks).add(who, "stamps", "logo.png", png(MARK), label="a stamp we ignore")
    shield.follower.catch_up()
    marked = jpeg(paste(scene_photo(41), MARK, 300, 380, scale=0.6, opacity=0.75)[0], 80)
    scan = Scanner(ScanSettings(shield.db.url, who), shield.uploads)
    flagged = scan.scan(BytesItem(0, 0, "https://site.example/c.jpg", len(marked), marked))
    assert flagged["marks"] and flagged["review"]["queue"] is True, flagged
    shield.policy_rules.replace(who, ["mark@stamps -> observe: a stamp we ignore"])
    observed = scan.scan(BytesItem(0, 0, "https://site.example/d.jpg", len(marked), marked))
    assert observed["marks"] and observed["review"]["queue"] is False, observed
    before = len(shield.review.queue(who.tenant_id))
    assert shield.review.enqueue_scan_result(who.tenant_id, "monitor:1", observed) is None
    assert len(shield.review.queue(who.tenant_id)) == before
    assert shield.review.enqueue_scan_result(who.tenant_id, "monitor:1", flagged) is not None


def test_a_minors_hash_stays_a_mandatory_report_whatever_the_rules(shield: Shield) -> None:
    from ncii_shield.services.cases import MINOR_BANK

    admin = bank_with(shield, "default", MINOR_BANK, [55])
    bank_with(shield, "default", "adults", [55])
    shield.policy_rules.replace(admin, ["match -> 1: lowest", "match@" + MINOR_BANK + " -> 2"])
    verdict = shield.uploads.check(admin, photo(55), CheckOptions(content_id="m-1", review=True))
    assert (verdict.review.kind, verdict.review.priority, verdict.review.rule) == (
        "mandatory_report", 100, "mandatory report")
    assert verdict.review.reasons[0].startswith("matches a hash registered for a minor")
    assert queued(shield, admin.tenant_id, verdict.mandatory_report_item).priority == 100
    for rule in (["mandatory_report -> 10"], [{"when": ["minor"], "priority": 5}], ["match -> 100"],
                 [{"when": ["match"], "action": "observe"}]):
        with pytest.raises(InvalidRequest):
            shield.policy_rules.replace(admin, rule)
    assert [r["position"] for r in shield.policy_rules.table(admin)["rules"]] == [1, 2]  # refused: unchanged


class AiMade:
    """Provenance as the detector reports it (its JSON summary): made by a generative model."""

    name = "provenance"
    media = frozenset({"photo"})
    requires: frozenset[str] = frozenset()

    def detect(self, upload: DecodedUpload, scope: Scope) -> Findings:
        return Findings(summary={"ai_generated": True, "evidence": [{"kind": "c2pa_ai", "detail": "test"}]})


class EditedCopy:
    """A derivative flag of score 64 in bank "photos" (the derivative detector's own flag type)."""

    name = "derivatives"
    media = frozenset({"photo"})
    requires: frozenset[str] = frozenset()

    def detect(self, upload: DecodedUpload, scope: Scope) -> Findings:
        return Findings(items=[DerivativeFlag("photos", 9, 64.0, [0, 0, 8, 8], False, [[1, 0, 0], [0, 1, 0]], 0.2)])


def test_ai_made_with_a_derivative_and_score_thresholds(shield: Shield) -> None:
    who = shield.local_principal("default", ("match", "policy", "bank:write"))
    shield.banks.create(who, "photos")
    p = UploadPipeline(shield.matcher, shield.follower, review=shield.review, trust=shield.trust,
                       detectors=[HashMatches(shield.matcher), AiMade(), EditedCopy()],
                       policy=Policy(tenant_rules=shield.policy_rules.rules_for))
    default = p.check(who, photo(3))
    assert (default.review.kind, default.review.priority) == ("derivative", 95)  # AI-made + derivative
    shield.policy_rules.replace(who, ["ai_made + derivative@photos>=80 -> 98: confident AI edit",
                                      "derivative>=60 -> 75: a fair edit"])
    assert (p.check(who, photo(3)).review.priority, p.check(who, photo(3)).review.rule) == (75, "tenant rule 2")
    shield.policy_rules.replace(who, ["ai_made -> observe: we do not weigh provenance"])
    muted = p.check(who, photo(3))
    assert muted.review.priority == 70  # the AI-made default no longer holds; the derivative's does
    assert "observed, not queued: we do not weigh provenance" in muted.review.reasons


def test_rules_are_read_from_memory_and_a_change_reaches_another_replica(shield: Shield) -> None:
    admin = bank_with(shield, "default", "victims", [7])
    replica = PolicyRules(shield.db, ttl=0.3)  # another process's cache of the same table
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # noqa: ANN001
        if "policy_rules" in statement:
            statements.append(statement)

    event.listen(shield.db.engine, "before_cursor_execute", count)
    try:
        started = time.monotonic()
        for _ in range(30):
            shield.uploads.check(admin, photo(7))
        snapshots = 1 + int((time.monotonic() - started) / shield.policy_rules.ttl)
        assert 1 <= len(statements) <= snapshots < 30  # one read per 2 s snapshot, not one per upload
        assert replica.rules_for(admin.tenant_id) == ()
        shield.policy_rules.replace(admin, ["match -> 12"])
        assert shield.uploads.check(admin, photo(7)).review.priority == 12  # this process: at once
        deadline = time.monotonic() + 5
        while replica.rules_for(admin.tenant_id) == () and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [r.priority for r in replica.rules_for(admin.tenant_id)] == [12]
    finally:
        event.remove(shield.db.engine, "before_cursor_execute", count)


def test_changes_are_audited_and_need_the_policy_scope(shield: Shield) -> None:
    bank_with(shield, "default", "victims", [7])
    owner = shield.local_principal("default", ("policy",))
    reviewer = shield.local_principal("default", ("reviewer",))
    matcher = shield.local_principal("default", ("match", "bank:write"))
    shield.policy_rules.replace(owner, ["mark@victims -> 91: a reason"])
    shield.policy_rules.reset(owner)
    assert shield.policy_rules.table(reviewer)["uses_defaults_only"] is True
    with pytest.raises(PermissionDenied):
        shield.policy_rules.replace(reviewer, ["match -> 50"])
    with pytest.raises(PermissionDenied):
        shield.policy_rules.table(matcher)
    entries = [json.loads(line) for line in audit.export_lines(shield.db, tenant_id=owner.tenant_id)]
    mine = [e for e in entries if str(e.get("action", "")).startswith("policy.")]
    assert [e["action"] for e in mine] == ["policy.rules_set", "policy.rules_reset"]
    assert mine[0]["details"]["after"][0]["reason"] == "a reason" and mine[0]["details"]["before"] == []
    assert mine[1]["details"]["before"][0]["priority"] == 91 and mine[1]["details"]["after"] == []
    assert audit.verify(shield.db).ok


# -- over HTTP, against a live server (SQLite and PostgreSQL) ----------------------------------------


@pytest.fixture(scope="module")
def tenants(server):
    keys = {t: new_key(server, t, "bank:write", "match", "policy", "reviewer") for t in ("pol-forum", "pol-dating")}
    banks = {}
    for tenant, key in keys.items():
        with server.client(key) as c:
            banks[tenant] = make_bank(c)
            r = c.post(f"/v1/banks/{banks[tenant]}/marks", files={"file": ("logo.png", png(MARK), "image/png")},
                       data={"label": "nudify.example watermark"})
            assert r.status_code == 201, r.text
    return keys, banks


def upload(c, data: bytes, content_id: str) -> dict:
    r = c.post("/v1/match/media", params={"content_id": content_id, "review": "true"},
               files={"file": ("upload.jpg", data, "image/jpeg")})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_rule_over_http_changes_a_marks_review_item_for_its_tenant_only(server, tenants) -> None:
    keys, banks = tenants
    marked = jpeg(paste(scene_photo(41), MARK, 300, 380, scale=0.6, opacity=0.75)[0], 80)
    forum, dating = keys["pol-forum"], keys["pol-dating"]
    with server.client(forum) as c:
        assert upload(c, marked, "f-1")["review"]["priority"] == 90
        put = c.put("/v1/policy/rules", json={"rules": [
            {"when": [{"kind": "mark", "bank": banks["pol-forum"], "min_score": 10}], "priority": 97,
             "reason": "the nudify service our users report most"}]})
        assert put.status_code == 200, put.text
        assert put.json()["rules"][0]["text"].startswith(f"mark@{banks['pol-forum']}>=10 -> 97")
        out = upload(c, marked, "f-2")
        assert [m["bank"] for m in out["marks"]] == [banks["pol-forum"]]
        assert (out["review"]["kind"], out["review"]["priority"], out["review"]["rule"]) == ("mark", 97, "tenant rule 1")
        assert out["review"]["recommended"] == "review"  # a mark never removes anything
        item = c.get(f"/v1/review/items/{out['review_item']}").json()
        assert (item["kind"], item["priority"]) == ("mark", 97)
        assert item["details"]["reasons"][0] == "the nudify service our users report most"

        observe = c.put("/v1/policy/rules", json={"rules": [f"mark@{banks['pol-forum']} -> observe: a stamp we ignore"]})
        assert observe.status_code == 200, observe.text
        quiet = upload(c, marked, "f-3")
        assert quiet["marks"] and quiet["review"]["queue"] is False and quiet["review_item"] is None
        assert quiet["review"]["reasons"] == ["observed, not queued: a stamp we ignore"]
    with server.client(dating) as c:
        assert c.get("/v1/policy/rules").json()["uses_defaults_only"] is True
        theirs = upload(c, marked, "d-1")
        assert (theirs["review"]["kind"], theirs["review"]["priority"], theirs["review"]["rule"]) == ("mark", 90, "default")
    with server.client(forum) as c:
        assert c.delete("/v1/policy/rules").json()["uses_defaults_only"] is True
        assert upload(c, marked, "f-4")["review"]["priority"] == 90


@pytest.mark.parametrize(("rules", "says"), [
    ([{"when": ["mark"], "action": "act"}], "not something a rule can do"),
    ([{"when": ["mark"], "action": "remove", "priority": 90}], "not something a rule can do"),
    (["mark -> takedown"], "not something a rule can do"),
    ([{"when": ["mark"], "priority": 100}], "mandatory reports"),
    ([{"when": ["mandatory_report"], "priority": 10}], "not a tenant's to set"),
    ([{"when": ["match"], "action": "observe"}], "only marks and AI-made provenance may be observed"),
    ([{"when": ["likeness"], "action": "observe"}], "protect people who registered"),
    ([{"when": ["ai_made"], "priority": 50}], "says nothing about a person"),
    ([{"when": [{"kind": "faces"}], "priority": 50}], "kind must be one of match, derivative, mark"),
    ([{"when": [{"kind": "mark", "min_score": 150}], "priority": 50}], "min_score must be 0-100"),
    ([{"when": [{"kind": "likeness", "min_score": 80}], "priority": 50}], "min_score must be 0-1"),
    ([{"when": [{"kind": "mark", "bank": "no-such-bank"}], "priority": 50}], "no bank called 'no-such-bank'"),
    ([{"when": ["mark"]}], "action must be review (with a priority 1-99) or observe"),
    ([{"when": ["mark"], "priority": 0}], "priority must be 1-99"),
    (["mark 90"], "has no '->'"),
    ([{"when": ["mark"], "priority": 50, "recommended": "act"}], "Extra inputs are not permitted"),
    ([{"when": ["mark"], "priority": 50}] * 51, "at most 50"),
])
def test_invalid_rules_are_refused_with_what_is_accepted(server, tenants, rules, says) -> None:
    keys, _ = tenants
    with server.client(keys["pol-dating"]) as c:
        before = c.get("/v1/policy/rules").json()
        got = c.put("/v1/policy/rules", json={"rules": rules})
        assert got.status_code == 422, got.text
        assert says in got.json()["error"]["message"], got.json()
        assert c.get("/v1/policy/rules").json() == before


@pytest.mark.slow  # four CLI runs
def test_cli_policy_rules_set_list_reset(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    env = {"NCII_SHIELD_DATA": str(tmp_path)}
    assert cli("bank", "create", "nudify-services", "--db", db, env=env).returncode == 0
    done = cli("policy", "rules", "set", "-r", "mark@nudify-services -> 95: reported most",
               "-r", "ai_made + derivative>=80 -> 97", "--json", "--db", db, env=env)
    assert done.returncode == 0, done.stderr
    table = json.loads(done.stdout)
    assert [(r["position"], r["priority"]) for r in table["rules"]] == [(1, 95), (2, 97)]
    assert table["mandatory"]["priority"] == 100
    (tmp_path / "rules.json").write_text(json.dumps({"rules": [{"when": ["mark"], "action": "act"}]}))
    refused = cli("policy", "rules", "set", "--file", str(tmp_path / "rules.json"), "--db", db, env=env)
    assert refused.returncode == 1 and "not something a rule can do" in refused.stderr.replace("\n", " ")
    listed = cli("policy", "rules", "list", "--db", db, env=env)
    assert listed.returncode == 0 and "1. mark@nudify-services -> 95: reported most" in listed.stdout
    reset = cli("policy", "rules", "reset", "--json", "--db", db, env=env)
    assert reset.returncode == 0 and json.loads(reset.stdout)["uses_defaults_only"] is True


def test_concurrent_changes_from_two_replicas_leave_one_whole_table(shield: Shield) -> None:
    import threading

    other = Shield.open(shield.db.url, migrate=False, load_index=False)  # a second replica on the same database
    try:
        errors: list[str] = []

        def work(s: Shield, priority: int) -> None:
            try:  # both replicas create the tenant at the same moment (a race that once raised here)
                who = s.local_principal("race", ("policy",))
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(repr(exc))
                return
            for _ in range(15):
                try:
                    s.policy_rules.replace(who, [f"match -> {priority}", f"mark -> {priority}", "derivative -> 5"])
                except Exception as exc:  # noqa: BLE001 - any failure is the finding
                    errors.append(repr(exc))

        threads = [threading.Thread(target=work, args=(s, p)) for s, p in ((shield, 11), (other, 22))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        table = shield.policy_rules.table(shield.local_principal("race", ("policy",)))
        assert [r["position"] for r in table["rules"]] == [1, 2, 3]
        assert table["rules"][0]["priority"] == table["rules"][1]["priority"] in (11, 22)
    finally:
        other.close()
