"""Removal requests against the real database (SQLite and PostgreSQL): validation naming every missing
field, 48-hour deadlines in UTC across DST changes, the state machine, idempotent resubmission,
personal data encrypted and purged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from ncii_shield.core import Shield
from ncii_shield.errors import Conflict, InvalidRequest, PermissionDenied
from ncii_shield.services import audit
from ncii_shield.services.notices import FIELD_HELP, IncompleteNotice, NoticeSubmission
from ncii_shield.store.models import Notice

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def shield(data_shield):
    return data_shield


def complete(**overrides) -> NoticeSubmission:
    fields = dict(requester_role="depicted_person", signature="Alex Example",
                  content_description="a photo of me taken in 2021", urls=["https://forum.example/p/123"],
                  content_ids=["img-42"], good_faith=True, contact_email="alex@example.org")
    fields.update(overrides)
    return NoticeSubmission(**fields)


def tenant_id(shield: Shield) -> int:
    return shield.local_principal().tenant_id


BLANKS = {
    "requester_role": {"requester_role": None},
    "signature": {"signature": "   "},
    "content_description": {"content_description": ""},
    "locations": {"urls": [], "content_ids": []},
    "good_faith": {"good_faith": None},
    "contact": {"contact_email": None},
    "authorization": {"requester_role": "authorized_representative"},
}


@pytest.mark.parametrize("field", list(BLANKS))
def test_a_request_missing_a_field_is_refused_naming_it(shield, field):
    with pytest.raises(IncompleteNotice) as err:
        shield.notices.submit(complete(**BLANKS[field]), channel="api")
    assert err.value.missing == [field]
    assert field in str(err.value) and FIELD_HELP[field] in str(err.value)
    with shield.db.read() as session:  # nothing stored
        assert session.scalar(select(Notice.id)) is None


def test_an_empty_request_names_every_missing_field(shield):
    with pytest.raises(IncompleteNotice) as err:
        shield.notices.submit(NoticeSubmission(), channel="web")
    assert err.value.missing == ["requester_role", "signature", "content_description", "locations", "good_faith", "contact"]
    with pytest.raises(IncompleteNotice) as err:
        shield.notices.submit(complete(urls=["javascript:alert(1)", "https://ok.example/x"], contact_email="nope",
                                       requester_role="bystander"), channel="web")
    assert set(err.value.fields) == {"requester_role", "urls[0]", "contact_email"}


RECEIPTS = [  # local New York times on and around the 2026 DST switches
    datetime(2026, 3, 8, 1, 30, tzinfo=NEW_YORK),   # 30 minutes before clocks go forward (EST, -05:00)
    datetime(2026, 3, 8, 3, 30, tzinfo=NEW_YORK),   # just after (EDT, -04:00)
    datetime(2026, 3, 7, 12, 0, tzinfo=NEW_YORK),   # the deadline falls after the switch
    datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK),  # the repeated hour, first time (EDT)
    datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NEW_YORK),  # the repeated hour, second time (EST)
    datetime(2026, 10, 31, 12, 0, tzinfo=NEW_YORK),
]


@pytest.mark.parametrize("received", RECEIPTS, ids=lambda d: d.isoformat() + f"-fold{d.fold}")
def test_deadline_is_receipt_plus_48_hours_in_utc_across_dst(shield, received):
    sub = shield.notices.submit(complete(signature=f"A {received.isoformat()} {received.fold}"), channel="api",
                                received_at=received)
    view = shield.notices.get(tenant_id(shield), sub.notice.reference)
    assert view.received_at.tzinfo == UTC and view.deadline_at.tzinfo == UTC
    assert view.received_at == received.astimezone(UTC)
    assert view.deadline_at - view.received_at == timedelta(hours=48)
    # 48 elapsed hours, which on a switch weekend is 47 or 49 hours on New York's wall clock
    local = view.deadline_at.astimezone(NEW_YORK)
    wall = local.replace(tzinfo=None) - received.replace(tzinfo=None)
    assert wall in (timedelta(hours=47), timedelta(hours=48), timedelta(hours=49))


def test_dst_examples_by_hand(shield):
    spring = shield.notices.submit(complete(signature="spring"), channel="api", received_at=RECEIPTS[0]).notice
    assert spring.deadline_at == datetime(2026, 3, 10, 6, 30, tzinfo=UTC)  # 01:30 EST = 06:30Z
    assert spring.deadline_at.astimezone(NEW_YORK).hour == 2  # 02:30 EDT: 47 wall-clock hours later
    autumn = shield.notices.submit(complete(signature="autumn"), channel="api", received_at=RECEIPTS[4]).notice
    assert autumn.deadline_at == datetime(2026, 11, 3, 6, 30, tzinfo=UTC)  # 01:30 EST = 06:30Z
    with pytest.raises(InvalidRequest, match="time zone"):
        shield.notices.submit(complete(signature="naive"), channel="api", received_at=datetime(2026, 3, 8, 1, 30))


def test_state_machine_refuses_illegal_transitions(shield):
    t = tenant_id(shield)
    ref = shield.notices.submit(complete(), channel="api").notice.reference
    for bad in ("removed", "rejected", "received"):
        with pytest.raises(Conflict, match="cannot become"):
            shield.notices.transition(t, ref, bad, actor="key:rev")
    shield.notices.transition(t, ref, "in_review", actor="key:rev")
    with pytest.raises(Conflict):
        shield.notices.transition(t, ref, "in_review", actor="key:rev")
    with pytest.raises(InvalidRequest, match="reason"):
        shield.notices.transition(t, ref, "rejected", actor="key:rev", reason="  ")
    view = shield.notices.transition(t, ref, "rejected", actor="key:rev", reason="the content is not intimate imagery")
    assert view.status == "rejected" and view.reject_reason == "the content is not intimate imagery"
    for bad in ("in_review", "removed", "withdrawn", "received"):
        with pytest.raises(Conflict, match="closed"):
            shield.notices.transition(t, ref, bad, actor="key:rev")
    assert [(e["from"], e["to"], e["actor"]) for e in view.events] == [
        (None, "received", "requester"), ("received", "in_review", "key:rev"), ("in_review", "rejected", "key:rev")]
    assert all(datetime.fromisoformat(e["at"]).tzinfo is not None for e in view.events)
    actions = [json_line["action"] for json_line in map(__import__("json").loads,
                                                         audit.export_lines(shield.db, operator=True))]
    assert actions == ["notice.received", "notice.transition", "notice.transition"]
    assert audit.verify(shield.db).ok


def test_duplicate_submission_is_idempotent_and_withdrawal_needs_the_token(shield):
    retry = "form-token-of-this-browser"
    first = shield.notices.submit(complete(), channel="web", retry_key=retry)
    again = shield.notices.submit(complete(signature="  alex   EXAMPLE "), channel="web", retry_key=retry)
    assert first.created and not again.created and again.withdraw_token is None
    assert again.notice.reference == first.notice.reference
    assert len(shield.notices.list(tenant_id(shield))) == 1
    # someone else sending the same request is told nothing about the first: a request of their own
    other = shield.notices.submit(complete(), channel="web")
    assert other.created and other.notice.reference != first.notice.reference
    shield.notices.withdraw(other.notice.reference, other.withdraw_token)
    with pytest.raises(PermissionDenied):
        shield.notices.withdraw(first.notice.reference, "wrong")
    assert shield.notices.withdraw(first.notice.reference, first.withdraw_token).status == "withdrawn"
    # once closed, the same request may be sent again and is a new request
    third = shield.notices.submit(complete(), channel="web", retry_key=retry)
    assert third.created and third.notice.reference != first.notice.reference


def test_personal_data_is_encrypted_at_rest_and_purged_after_retention(shield):
    t = tenant_id(shield)
    sub = shield.notices.submit(complete(contact_phone="+1 555 0100"), channel="api")
    with shield.db.read() as session:
        raw = " ".join(str(v) for v in session.execute(text("SELECT * FROM notices")).one())
        assert "Alex" not in raw and "alex@example.org" not in raw and "555 0100" not in raw  # not "555": hex digests hold it by chance
    shown = shield.notices.personal_view(t, sub.notice.reference, viewer="key:rev")  # audited
    assert shown.personal["contact_email"] == "alex@example.org"
    assert shield.notices.purge_expired(keep=timedelta(0)) == 0  # open requests are never purged
    shield.notices.transition(t, sub.notice.reference, "in_review", actor="key:rev")
    shield.notices.transition(t, sub.notice.reference, "removed", actor="key:rev")
    assert shield.notices.purge_expired() == 0  # closed just now: kept for the retention period
    later = datetime.now(UTC) + timedelta(days=181)
    assert shield.notices.purge_expired(now=later) == 1
    view = shield.notices.personal_view(t, sub.notice.reference, viewer="key:rev")
    assert view.purged and view.personal is None and view.status == "removed"
    assert shield.notices.purge_expired(now=later) == 0
    text_log = "".join(audit.export_lines(shield.db, operator=True))
    assert "notice.purged" in text_log and "Alex" not in text_log and "alex@" not in text_log
    assert audit.verify(shield.db).ok


def test_a_request_through_a_case_counts_as_a_removal_of_that_case(shield):
    from ncii_shield.services.banks import SignalInput

    case = shield.cases.open_case([SignalInput("md5", "c" * 32)], age="adult", consent=True)
    with pytest.raises(PermissionDenied):
        shield.notices.submit(complete(requester_role=None), channel="case", case=(case.case_number, "00000000"))
    sub = shield.notices.submit(complete(requester_role=None), channel="case", case=(case.case_number, case.pin))
    assert sub.notice.channel == "case" and sub.notice.requester_role == "depicted_person"
    assert shield.cases.status(case.case_number, case.pin).removals == 0
    t = tenant_id(shield)
    shield.notices.transition(t, sub.notice.reference, "in_review", actor="key:rev")
    shield.notices.transition(t, sub.notice.reference, "removed", actor="key:rev")
    assert shield.cases.status(case.case_number, case.pin).removals == 1


def test_cli_lists_and_purges(shield, tmp_path):
    import json

    from tests.servers import cli

    t = tenant_id(shield)
    ref = shield.notices.submit(complete(), channel="api").notice.reference
    url = shield.db.url.replace("+psycopg", "")
    env = {"NCII_SHIELD_DATA": str(tmp_path)}
    listed = json.loads(cli("notices", "list", "--db", url, "--json", env=env).stdout)
    assert [n["reference"] for n in listed] == [ref] and listed[0]["personal"] is None
    assert "Alex" not in cli("notices", "list", "--db", url, env=env).stdout
    shield.notices.transition(t, ref, "in_review", actor="key:rev")
    shield.notices.transition(t, ref, "withdrawn", actor="key:rev")
    purged = cli("notices", "purge", "--db", url, "--json", env={**env, "NCII_SHIELD_NOTICE_RETENTION_DAYS": "0"})
    assert json.loads(purged.stdout) == {"purged": 1}, purged.stderr
    assert shield.notices.get(t, ref).purged


def test_queue_order_escalation_and_decisions_need_reasons(shield):
    t = tenant_id(shield)
    now = datetime.now(UTC)
    late = shield.notices.submit(complete(signature="late"), channel="api", received_at=now - timedelta(hours=40))
    early = shield.notices.submit(complete(signature="early"), channel="api", received_at=now - timedelta(hours=1))
    low = shield.review.enqueue(t, "match", actor="key:m", priority=10, summary="low")
    high = shield.review.enqueue(t, "derivative", actor="key:m", priority=90, summary="high")
    soon = shield.review.enqueue(t, "match", actor="key:m", priority=0, deadline_at=now + timedelta(hours=1))
    order = [(q.kind, q.reference or q.summary) for q in shield.review.queue(t)]
    assert order == [("match", ""), ("notice", late.notice.reference), ("notice", early.notice.reference),
                     ("derivative", "high"), ("match", "low")]
    assert shield.review.queue(t)[0].id == soon.id and shield.review.queue(t)[0].due == "due_soon"
    item = next(q for q in shield.review.queue(t) if q.reference == late.notice.reference)
    with pytest.raises(InvalidRequest, match="reason"):
        shield.review.decide(t, item.id, "remove", "  ", actor="key:r")
    with pytest.raises(InvalidRequest, match="decision"):
        shield.review.decide(t, item.id, "delete", "x", actor="key:r")
    escalated = shield.review.decide(t, item.id, "escalate", "unsure: needs a senior reviewer", actor="key:r")
    assert escalated.status == "escalated" and escalated.priority == 90
    assert shield.notices.get(t, late.notice.reference).status == "in_review"
    kept = shield.review.decide(t, item.id, "keep", "not intimate imagery", actor="key:senior")
    assert kept.status == "decided" and shield.notices.get(t, late.notice.reference).reject_reason == "not intimate imagery"
    with pytest.raises(Conflict, match="already decided"):
        shield.review.decide(t, item.id, "remove", "x", actor="key:r")
    with pytest.raises(Conflict, match="no removal decision"):
        shield.review.statement(t, item.id)
    removed = shield.review.decide(t, high.id, "remove", "an edited derivative", actor="key:r")
    [s] = shield.review.statement(t, removed.id)["statements"]
    assert s["source_type"] == "SOURCE_VOLUNTARY" and s["automated_detection"] == "Yes"
    assert "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE" in s["category_specification"]
    assert low.id in {q.id for q in shield.review.queue(t)}
    assert audit.verify(shield.db).ok
