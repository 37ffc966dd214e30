"""E-mails to a case's contact address (issue 23, item 8), on SQLite and PostgreSQL, through an SMTP
server on loopback standing in for the mail relay: the withdrawal confirmation and coarse, delayed
outcomes ("removed on N platforms"), each sent once, with nothing else about the case."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from ncii_shield.services.banks import SignalInput
from ncii_shield.services.case_mail import CaseMail
from ncii_shield.store.models import CaseMessage, CaseSignal, Feed, FeedSubscriber, FeedVerdict, utcnow
from tests.integration.test_requester_mail import relay  # noqa: F401 - the loopback SMTP fixture

MD5 = "5d41402abc4b2a76b9719d911017c592"


def report_removal(shield, signal_id: int, subscriber: str, *, days_ago: float) -> None:
    """What a feed subscriber's verdict report leaves at the publisher (services/exchange/verdicts.py)."""
    with shield.db.write() as session:
        feed = session.scalar(select(Feed).where(Feed.name == "victims"))
        if feed is None:
            from ncii_shield.store.models import Bank

            bank_id = session.scalar(select(Bank.id).where(Bank.name == "victims"))
            feed = Feed(name="victims", bank_id=bank_id)
            session.add(feed)
            session.flush()
        row = FeedSubscriber(feed_id=feed.id, name=subscriber, prefix=subscriber[:10].ljust(10, "x"), secret_hash="0")
        session.add(row)
        session.flush()
        session.add(FeedVerdict(subscriber_id=row.id, signal_id=signal_id, confirm=0, deconfirm=0, dispute=0,
                                removed_at=utcnow() - timedelta(days=days_ago), updated_at=utcnow()))


def test_the_withdrawal_confirmation_is_sent_once_and_the_address_then_erased(data_shield, relay):  # noqa: F811
    s = data_shield
    case = s.cases.open_case([SignalInput("md5", MD5)], age="adult", consent=True, contact_email="sam@example.org")
    mail = CaseMail(s.db)
    assert mail.deliver() == 0, "nothing owed yet"
    s.cases.withdraw(case.case_number, case.pin)
    assert mail.deliver() == 1 and mail.deliver() == 0
    (message,) = relay.inbox.messages
    assert message["To"] == "sam@example.org" and "withdrawn" in message["Subject"]
    body = message.get_content()
    assert case.case_number[-4:] in message["Subject"] and case.case_number not in body + message["Subject"]
    with s.db.read() as session:
        row = session.scalars(select(CaseMessage)).one()
    assert row.sent_at is not None and row.address_encrypted is None


def test_coarse_outcomes_are_sent_when_the_delayed_count_rises_and_never_per_upload(data_shield, relay):  # noqa: F811
    s = data_shield
    case = s.cases.open_case([SignalInput("md5", MD5)], age="adult", consent=True, contact_email="kim@example.org")
    quiet = s.cases.open_case([SignalInput("md5", "1" * 32)], age="adult", consent=True)  # no address: no news
    with s.db.read() as session:
        signal_id = session.scalar(select(CaseSignal.signal_id))
    mail = CaseMail(s.db)
    report_removal(s, signal_id, "platform-b", days_ago=0.1)  # too recent to tell
    assert mail.record_outcomes() == 0
    report_removal(s, signal_id, "platform-c", days_ago=2)
    assert mail.record_outcomes() == 1 and mail.record_outcomes() == 0
    assert mail.deliver() == 1
    (message,) = relay.inbox.messages
    assert message["To"] == "kim@example.org"
    body = message.get_content()
    assert "removed on 1 platform." in body
    for private in ("platform-c", "platform-b", case.case_number):
        assert private not in body + message["Subject"]
    assert s.cases.status(case.case_number, case.pin).removed_on_platforms == 1
    assert s.cases.status(quiet.case_number, quiet.pin).removed_on_platforms == 0
    assert mail.record_outcomes(delay=timedelta(0)) == 1, "the other report, once old enough"
    assert mail.deliver() == 1 and "removed on 2 platforms" in relay.inbox.messages[1].get_content()


def test_nothing_is_recorded_or_sent_without_a_relay(data_shield, monkeypatch):
    monkeypatch.delenv("NCII_SHIELD_SMTP_URL", raising=False)
    s = data_shield
    case = s.cases.open_case([SignalInput("md5", MD5)], age="adult", consent=True, contact_email="lee@example.org")
    s.cases.withdraw(case.case_number, case.pin)
    mail = CaseMail(s.db)
    assert mail.record_outcomes() == 0 and mail.deliver() == 0
    with s.db.read() as session:  # and the address is not kept for a message that cannot go
        assert session.scalars(select(CaseMessage)).all() == []
