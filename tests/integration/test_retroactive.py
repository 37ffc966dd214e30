"""Retroactive matching (issue 23, item 1): a hash added after the uploads finds them, on SQLite and
PostgreSQL, with two replicas following the change log at once (no duplicate items)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from ncii_shield.services.banks import SignalInput
from ncii_shield.services.content import ContentInput, ContentService
from ncii_shield.services.retroactive import RetroactiveFollower
from ncii_shield.services.signal_controls import SignalControls
from ncii_shield.services.trust import Thresholds, TrustPolicy
from ncii_shield.store.models import ReviewItem

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def flip(hex_value: str, bits: int) -> str:
    """``hex_value`` with its first ``bits`` bits inverted (PDQ distance ``bits``)."""
    n = int(hex_value, 16) ^ (((1 << bits) - 1) << (256 - bits))
    return f"{n:064x}"


def items(shield, tenant_id: int, *, status: str | None = None) -> list[ReviewItem]:
    with shield.db.read() as session:
        query = select(ReviewItem).where(ReviewItem.tenant_id == tenant_id).order_by(ReviewItem.content_id)
        if status:
            query = query.where(ReviewItem.status == status)
        return list(session.scalars(query))


def wait_for(check, timeout: float = 5.0) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if check():
            return time.perf_counter() - started
        time.sleep(0.01)
    raise AssertionError("not within the time allowed")


@pytest.fixture
def replicas(data_shield):
    """Two retroactive followers on the same database, each with its own content-index cache."""
    s = data_shield
    policy = TrustPolicy(s.db, thresholds=Thresholds(ttl=0.2))
    followers = [RetroactiveFollower(s.db, ContentService(s.db), policy=policy, poll_interval=0.02) for _ in range(2)]
    for f in followers:
        f.catch_up()  # takes the shared cursor: only what is added from now on is swept
        f.start()
    yield followers
    for f in followers:
        f.stop()


def test_a_new_hash_finds_three_past_uploads_once_and_withdrawal_closes_them(data_shield, replicas):
    s = data_shield
    a = s.local_principal("a")
    s.content.register(a.tenant_id, [
        ContentInput("past-0", pdq=PDQ), ContentInput("past-1", pdq=flip(PDQ, 6)), ContentInput("past-2", pdq=flip(PDQ, 20)),
        ContentInput("far", pdq=flip(PDQ, 90)), ContentInput("other", md5="e" * 32)])
    s.banks.create(a, "victims-a")
    started = time.perf_counter()
    (added,) = s.banks.add(a, "victims-a", [SignalInput("pdq", PDQ)])
    wait_for(lambda: len(items(s, a.tenant_id)) == 3)
    assert time.perf_counter() - started < 2.0
    time.sleep(0.5)  # both replicas have seen the change by now
    found = items(s, a.tenant_id)
    assert [i.content_id for i in found] == ["past-0", "past-1", "past-2"], "one item each, no duplicates"
    assert all(i.kind == "match" and i.status == "open" for i in found)
    assert found[1].details["matches"][0]["signal_id"] == added.id
    assert found[1].details["action"] == "review" and found[1].details["matches"][0]["distance"] == 6
    assert sum(f.items_made for f in replicas) == 3

    s.review.decide(a.tenant_id, found[0].id, "remove", "published without consent", actor="reviewer")
    s.banks.withdraw(a, "victims-a", added.id)
    wait_for(lambda: len(items(s, a.tenant_id, status="closed")) == 2)
    assert [i.status for i in items(s, a.tenant_id)] == ["decided", "closed", "closed"], "decided stays decided"

    s.banks.add(a, "victims-a", [SignalInput("pdq", PDQ)])  # added again: the open uploads are found again
    wait_for(lambda: len(items(s, a.tenant_id, status="open")) == 2)


def test_private_banks_sweep_their_tenant_shared_banks_every_tenant(data_shield, replicas):
    s = data_shield
    a, b = s.local_principal("a"), s.local_principal("b")
    s.content.register(a.tenant_id, [ContentInput("a-1", md5="a" * 32)])
    s.content.register(b.tenant_id, [ContentInput("b-1", md5="a" * 32, sha256="b" * 64)])
    s.banks.create(a, "private")
    s.banks.add(a, "private", [SignalInput("md5", "a" * 32)])
    wait_for(lambda: len(items(s, a.tenant_id)) == 1)
    s.banks.create(a, "shared", shared=True)
    s.banks.add(a, "shared", [SignalInput("sha256", "b" * 64)])
    wait_for(lambda: len(items(s, b.tenant_id)) == 1)
    time.sleep(0.3)
    assert [i.content_id for i in items(s, b.tenant_id)] == ["b-1"], "b's upload found only by the shared hash"
    assert len(items(s, a.tenant_id)) == 1


def test_policy_applies_minors_go_to_mandatory_report_floods_are_quarantined(data_shield, replicas):
    s = data_shield
    admin = s.local_principal("default")
    s.content.register(admin.tenant_id, [ContentInput(f"meme-{n}", md5="c" * 32) for n in range(30)]
                       + [ContentInput("minor-1", md5="d" * 32), ContentInput("benign-1", md5="f" * 32)])
    s.banks.create(admin, "ok")
    SignalControls(s.db).set_bank(admin, "ok", kind="allow")
    s.banks.add(admin, "ok", [SignalInput("md5", "f" * 32)])  # an allow bank's hash makes no item
    s.cases.open_case([SignalInput("md5", "d" * 32)], age="guardian", consent=True)
    wait_for(lambda: any(i.kind == "mandatory_report" for i in items(s, admin.tenant_id)))
    (minor,) = items(s, admin.tenant_id)
    assert minor.content_id == "minor-1" and minor.preview_url is None
    assert minor.id not in [i.id for i in s.review.queue(admin.tenant_id)]

    s.banks.create(admin, "feed")
    SignalControls(s.db).set_bank(admin, "feed", trust="unverified")
    (flood,) = s.banks.add(admin, "feed", [SignalInput("md5", "c" * 32)])  # 30 uploads > 20: quarantined at once
    wait_for(lambda: len(items(s, admin.tenant_id)) == 2)
    time.sleep(0.3)
    made = [i for i in items(s, admin.tenant_id) if i.kind == "match"]
    assert len(made) == 1 and made[0].details["action"] == "quarantined" and made[0].details["matched"] == 30
    assert len(made[0].details["content_ids"]) == 20
    policy = TrustPolicy(s.db)
    assert policy.assess(admin.tenant_id, [("feed", flood.id, "md5")])[0].action == "quarantined"


def test_signals_added_while_no_replica_ran_are_swept_at_the_next_start(data_shield):
    s = data_shield
    a = s.local_principal("a")
    first = RetroactiveFollower(s.db, s.content)
    first.catch_up()  # the cursor exists from now on
    s.content.register(a.tenant_id, [ContentInput("x-1", md5="9" * 32)])
    s.banks.create(a, "later")
    s.banks.add(a, "later", [SignalInput("md5", "9" * 32)])
    assert len(items(s, a.tenant_id)) == 0
    assert RetroactiveFollower(s.db, ContentService(s.db)).catch_up() == 1
    assert [i.content_id for i in items(s, a.tenant_id)] == ["x-1"]
    with s.db.read() as session:
        assert session.scalar(select(func.count()).select_from(ReviewItem)) == 1


def test_a_tenants_priority_rules_set_the_priority_of_past_uploads_found_later(data_shield):
    """A past upload found by a newly banked hash is queued under the tenant's rules (services/
    uploads/policy.py), as an upload's match is; another tenant keeps the default (60)."""
    from ncii_shield.services.uploads.policy import Policy

    s = data_shield
    a, b = s.local_principal("a"), s.local_principal("b")
    for principal, bank in ((a, "urgent-a"), (b, "urgent-b")):
        s.content.register(principal.tenant_id, [ContentInput("near", pdq=flip(PDQ, 4)),
                                                 ContentInput("far", pdq=flip(PDQ, 25))])
        s.banks.create(principal, bank)
    s.policy_rules.replace(a, [{"when": [{"kind": "match", "bank": "urgent-a", "max_distance": 10}],
                                "action": "review", "priority": 88, "reason": "our own victims' hashes first"}])
    follower = RetroactiveFollower(s.db, ContentService(s.db), policy=TrustPolicy(s.db),
                                   rules=Policy(tenant_rules=s.policy_rules.rules_for))
    follower.catch_up()  # takes the cursor: what is banked from now on is swept
    for principal, bank in ((a, "urgent-a"), (b, "urgent-b")):
        s.banks.add(principal, bank, [SignalInput("pdq", PDQ)])
    assert follower.catch_up() == 4
    found = {(i.tenant_id, i.content_id): i for i in items(s, a.tenant_id) + items(s, b.tenant_id)}
    near, far = found[(a.tenant_id, "near")], found[(a.tenant_id, "far")]
    assert near.priority == 88 and near.details["review"]["rule"] == "tenant rule 1"
    assert far.priority == 60 and far.details["review"]["rule"] == "default", "beyond the rule's distance"
    assert {found[(b.tenant_id, c)].priority for c in ("near", "far")} == {60}, "tenant b has no rules"
