"""E-mails to the senders of removal requests (receipt, decision), on SQLite and PostgreSQL, through an
SMTP server on loopback (aiosmtpd) standing in for the platform's mail relay, which tests cannot reach."""

from __future__ import annotations

import time
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import Message

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from ncii_shield.services.outbox import LEASE
from ncii_shield.services.requester_mail import RequesterMail
from ncii_shield.store.models import Notice, RequesterMessage, utcnow
from tests.integration.test_notices import complete
from tests.servers import free_port, start_server


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802, ANN001
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


class Relay:
    """An SMTP server on a fixed loopback port that can go away and come back."""

    def __init__(self) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self.controller: Controller | None = None
        self.start()

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def relay(monkeypatch):
    server = Relay()
    monkeypatch.setenv("NCII_SHIELD_SMTP_URL", f"smtp://127.0.0.1:{server.port}")
    monkeypatch.setenv("NCII_SHIELD_MAIL_FROM", "removals@platform.example")
    monkeypatch.setenv("NCII_SHIELD_PUBLIC_URL", "https://platform.example/")
    yield server
    server.stop()


def text(message: Message) -> str:
    return message.get_content()


def test_receipt_and_decisions_are_sent_once_each_and_hold_no_other_personal_data(data_shield, relay):
    shield = data_shield
    t = shield.local_principal().tenant_id
    mail = RequesterMail(shield.db)
    removed = shield.notices.submit(complete(contact_phone="+1 555 0100"), channel="api").notice.reference
    assert mail.deliver() == 1 and mail.deliver() == 0  # once
    receipt = relay.inbox.messages[0]
    assert receipt["To"] == "alex@example.org" and receipt["From"] == "removals@platform.example"
    assert removed in receipt["Subject"] and "received" in receipt["Subject"]
    body = text(receipt)
    assert "https://platform.example/removal/status" in body and "48 hours" in body
    for private in ("Alex Example", "a photo of me", "forum.example", "img-42", "555 0100"):
        assert private not in body, private

    shield.notices.transition(t, removed, "in_review", actor="key:rev")
    assert mail.deliver() == 0  # in review: nothing to say yet
    shield.notices.transition(t, removed, "removed", actor="key:rev")
    rejected = shield.notices.submit(complete(signature="Sam Example", contact_email="sam@example.org"),
                                     channel="api").notice.reference
    shield.notices.transition(t, rejected, "in_review", actor="key:rev")
    shield.notices.transition(t, rejected, "rejected", actor="key:rev", reason="the photo shows a landscape")
    assert mail.deliver() == 3 and mail.deliver() == 0
    by_subject = {m["Subject"]: m for m in relay.inbox.messages[1:]}
    done = by_subject[f"Removal request {removed}: removed"]
    assert done["To"] == "alex@example.org"
    refusal = by_subject[f"Removal request {rejected}: not removed"]
    assert refusal["To"] == "sam@example.org"
    assert "the photo shows a landscape" in text(refusal) and "dispute settlement" in text(refusal)

    # no address given (a phone number only): nothing owed; withdrawn by the requester: nothing either
    phone_only = shield.notices.submit(complete(signature="Kim", contact_email=None, contact_phone="+44 20 7946 0000"),
                                       channel="api").notice.reference
    with shield.db.read() as session:
        owed = session.scalars(select(RequesterMessage.kind).join(Notice, Notice.id == RequesterMessage.notice_id)
                               .where(Notice.reference == phone_only)).all()
    assert owed == []


def test_a_relay_outage_is_retried_and_a_purged_address_is_never_used(data_shield, relay):
    shield = data_shield
    mail = RequesterMail(shield.db)
    relay.stop()
    reference = shield.notices.submit(complete(), channel="api").notice.reference
    shield.notices.submit(complete(signature="Two"), channel="api")
    shield.notices.submit(complete(signature="Three"), channel="api")
    assert mail.deliver() == 0
    with shield.db.read() as session:
        rows = session.scalars(select(RequesterMessage).order_by(RequesterMessage.id)).all()
    # the relay is away: the pass stops at the first failure instead of trying each message in turn
    assert [r.attempts for r in rows] == [1, 0, 0] and rows[0].sent_at is None
    assert "Connection" in rows[0].last_error and "alex@example.org" not in rows[0].last_error
    relay.start()
    assert mail.deliver() == 2  # the first waits out its backoff (a minute); the others go now
    assert mail.deliver(now=utcnow() + timedelta(minutes=2)) == 1 and mail.deliver() == 0
    assert len(relay.inbox.messages) == 3
    assert any(reference in m["Subject"] for m in relay.inbox.messages)
    # a worker that claimed a message holds it for a lease: another does not send it meanwhile
    shield.notices.submit(complete(signature="Four"), channel="api")
    with shield.db.write() as session:
        session.execute(update(RequesterMessage).where(RequesterMessage.sent_at.is_(None)).values(
            attempts=1, next_attempt_at=utcnow() + LEASE))
    assert mail.deliver() == 0 and mail.deliver(now=utcnow() + LEASE + timedelta(seconds=1)) == 1
    relay.inbox.messages.clear()

    # the personal data is purged before the message goes: it is dropped, not sent
    other = shield.notices.submit(complete(signature="Lee"), channel="api").notice.reference
    with shield.db.write() as session:
        session.execute(update(Notice).where(Notice.reference == other).values(personal_encrypted=None))
    assert mail.deliver() == 0 and relay.inbox.messages == []
    with shield.db.read() as session:
        dropped = session.scalar(select(RequesterMessage).join(Notice, Notice.id == RequesterMessage.notice_id)
                                 .where(Notice.reference == other))
    assert dropped.sent_at is not None and "purged" in dropped.last_error


def test_without_a_relay_nothing_is_owed(data_shield, monkeypatch):
    monkeypatch.delenv("NCII_SHIELD_SMTP_URL", raising=False)
    data_shield.notices.submit(complete(), channel="api")
    with data_shield.db.read() as session:
        assert session.scalars(select(RequesterMessage)).all() == []
    assert RequesterMail(data_shield.db).deliver() == 0


def test_the_server_sends_the_receipt_at_once(tmp_path, relay):
    """A request through the public API of a running server: the receipt arrives within seconds
    (the deadline watch is woken; its own period is a minute)."""
    env = {"NCII_SHIELD_SMTP_URL": f"smtp://127.0.0.1:{relay.port}", "NCII_SHIELD_DEADLINE_INTERVAL": "60"}
    server = start_server(f"sqlite:///{tmp_path / 's.db'}", tmp_path, env=env)
    try:
        sent = httpx.post(f"{server.url}/v1/notices", json={
            "requester_role": "depicted_person", "signature": "Alex Example", "content_description": "a photo",
            "urls": ["https://forum.example/p/1"], "good_faith": True, "contact_email": "alex@example.org"})
        assert sent.status_code == 201, sent.text
        deadline = time.monotonic() + 10
        while not relay.inbox.messages and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [m["To"] for m in relay.inbox.messages] == ["alex@example.org"]
        assert sent.json()["reference"] in relay.inbox.messages[0]["Subject"]
        assert "alex@example.org" not in server.log()  # the address is never logged
    finally:
        server.stop()


def test_a_refused_address_is_not_written_into_the_error(data_shield, relay):
    """The relay refuses the recipient: its error text names the address, which must not reach the
    database or the log."""

    class Refusing:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # noqa: N802, ANN001
            return "550 5.1.1 <" + address + "> no such user"

    relay.stop()
    relay.controller = Controller(Refusing(), hostname="127.0.0.1", port=relay.port)
    relay.controller.start()
    data_shield.notices.submit(complete(), channel="api")
    assert RequesterMail(data_shield.db).deliver() == 0
    with data_shield.db.read() as session:
        row = session.scalar(select(RequesterMessage))
    assert row.sent_at is None and "refused the address" in row.last_error and "alex@" not in row.last_error


def test_a_password_is_never_sent_without_starttls(data_shield, relay, monkeypatch):
    """The stand-in relay offers no STARTTLS: with credentials in the URL nothing is sent (a relay
    stripped of STARTTLS by someone on the path would otherwise receive the password in clear)."""
    monkeypatch.setenv("NCII_SHIELD_SMTP_URL", f"smtp://mailer:s3cret@127.0.0.1:{relay.port}")
    data_shield.notices.submit(complete(), channel="api")
    assert RequesterMail(data_shield.db).deliver() == 0 and relay.inbox.messages == []
    with data_shield.db.read() as session:
        row = session.scalar(select(RequesterMessage))
    assert "no STARTTLS" in row.last_error and "s3cret" not in row.last_error


def test_every_message_has_the_date_and_message_id_rfc_5322_requires(data_shield, relay):
    """RFC 5322 3.6: ``Date`` is required and ``Message-ID`` should be there; relays and spam filters
    downgrade mail without them. The id stays the same when a message is sent again (a retry after a
    lost answer), so the requester's mail program shows it once."""
    from email.utils import parsedate_to_datetime

    mail = RequesterMail(data_shield.db)
    data_shield.notices.submit(complete(), channel="api")
    data_shield.notices.submit(complete(signature="Two"), channel="api")
    before = utcnow()
    assert mail.deliver() == 2
    ids = []
    for message in relay.inbox.messages:
        assert len(message.get_all("Date")) == 1 and len(message.get_all("Message-ID")) == 1
        sent = parsedate_to_datetime(message["Date"])
        assert sent.tzinfo is not None and abs((sent - before).total_seconds()) < 60
        ids.append(str(message["Message-ID"]))
    assert all(i.startswith("<") and i.endswith("@platform.example>") for i in ids) and len(set(ids)) == 2
    # sent again (the relay's answer was lost): the same Message-ID
    with data_shield.db.write() as session:
        session.execute(update(RequesterMessage).values(sent_at=None, attempts=1, next_attempt_at=utcnow()))
    relay.inbox.messages.clear()
    assert mail.deliver() == 2
    assert sorted(str(m["Message-ID"]) for m in relay.inbox.messages) == sorted(ids)
