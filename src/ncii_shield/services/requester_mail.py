"""E-mails to the people who send removal requests: confirmation of receipt and the decision.

The EU DSA asks a platform to confirm a notice's receipt and to tell its sender the decision, with
the ways to contest it (Art. 16(4)-(5)); a person asking for their intimate images to come down
should not have to keep checking a page. With ``NCII_SHIELD_SMTP_URL`` set, a request submitted with
an e-mail address gets an outbox row ``received`` in the transaction that stores it, and one
``decided`` in the transaction that removes or rejects it (``requester_messages``, unique per
request and kind). :meth:`RequesterMail.deliver` (on the deadline watch's thread) sends them:

* the address is decrypted only to send, never logged; a request whose personal data was purged,
  or that has no e-mail address, is marked done without sending (``last_error`` says why);
* each attempt is claimed with a compare-and-set on ``attempts`` and a lease on ``next_attempt_at``,
  so workers and replicas send each message once; a failed attempt is retried after 1, 2, 4 ...
  minutes, then hourly, for about a day (30 attempts); when the relay cannot be reached the pass
  stops at the first failure instead of waiting out a timeout per message;
* with credentials in ``smtp://``, the password is sent only after STARTTLS (a relay that does not
  offer it is an error), never in the clear;
* the message holds the reference, the status, the deadline or the decision and its reason, the
  status page's address and the ways to contest: never the content's description or locations;
* it carries the ``Date`` and ``Message-ID`` headers RFC 5322 (3.6) asks for, which relays and spam
  filters expect; the Message-ID is made of the request's reference (80 random bits) and the message
  kind at the sender's domain, so a message sent again after a lost answer keeps its id and mail
  programs show it once.

Settings: ``NCII_SHIELD_SMTP_URL`` (``smtp://[user:password@]host[:port]`` with STARTTLS when the
server offers it, ``smtps://`` for TLS from the start), ``NCII_SHIELD_MAIL_FROM`` (default
``ncii-shield@localhost``), ``NCII_SHIELD_PUBLIC_URL`` (the site's address, for the status link).
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import ssl
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import unquote, urlsplit

from sqlalchemy import select, update

from ncii_shield.services.cases import contact_cipher
from ncii_shield.services.notices import iso
from ncii_shield.store.database import Database
from ncii_shield.store.models import Notice, RequesterMessage, utcnow

log = logging.getLogger("ncii_shield.requester_mail")
MAX_ATTEMPTS = 30  # with the backoff below: about a day of trying
LEASE = timedelta(minutes=5)  # a claimed attempt is not claimed again by another worker before this


def backoff(attempts: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: 1, 2, 4 ... minutes, then hourly."""
    return timedelta(minutes=min(60, 2 ** (attempts - 1)))


class RequesterMail:
    def __init__(self, db: Database, *, smtp_url: str | None = None, sender: str | None = None,
                 public_url: str | None = None, timeout: float = 10.0) -> None:
        self.db = db
        self.smtp_url = smtp_url if smtp_url is not None else os.environ.get("NCII_SHIELD_SMTP_URL", "")
        self.sender = sender or os.environ.get("NCII_SHIELD_MAIL_FROM", "ncii-shield@localhost")
        self.public_url = (public_url if public_url is not None else os.environ.get("NCII_SHIELD_PUBLIC_URL", "")).rstrip("/")
        self.timeout = timeout

    def deliver(self, now: datetime | None = None) -> int:
        """Send every message that is due; return how many were sent."""
        if not self.smtp_url:
            return 0
        now = now or utcnow()
        with self.db.read() as session:
            due = session.execute(select(RequesterMessage.id, RequesterMessage.attempts).where(
                RequesterMessage.sent_at.is_(None), RequesterMessage.attempts < MAX_ATTEMPTS,
                RequesterMessage.next_attempt_at <= now).order_by(RequesterMessage.id)).all()
        sent = 0
        for message_id, attempts in due:
            with self.db.write() as session:  # claim this attempt for a lease: no other worker sends it meanwhile
                claimed = session.execute(update(RequesterMessage).where(
                    RequesterMessage.id == message_id, RequesterMessage.attempts == attempts,
                    RequesterMessage.sent_at.is_(None)).values(
                    attempts=attempts + 1, next_attempt_at=utcnow() + LEASE)).rowcount
            if not claimed:
                continue
            unreachable = False
            try:
                email, skipped = self._compose(message_id)
            except Exception as exc:  # e.g. the personal-data key changed: this message only, retried
                email, skipped = None, None
                error = f"could not read the request: {type(exc).__name__}"
            else:
                error = skipped
            if email is not None:
                try:
                    self._send(email)
                    sent += 1
                except (OSError, smtplib.SMTPException) as exc:
                    error = _describe(exc)
                    # no connection (refused, timeout, DNS), not a refusal of this message
                    unreachable = (not isinstance(exc, smtplib.SMTPException)
                                   or isinstance(exc, (smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected)))
            done = error is None or error == skipped
            with self.db.write() as session:
                session.execute(update(RequesterMessage).where(RequesterMessage.id == message_id).values(
                    sent_at=utcnow() if done else None, last_error=error,
                    next_attempt_at=utcnow() + (timedelta(0) if done else backoff(attempts + 1))))
            if not done:
                log.warning("requester e-mail failed; retried later",
                            extra={"message_id": message_id, "error": error, "attempt": attempts + 1})
            if unreachable:  # the relay is away: the others wait for the next pass, not a timeout each
                break
        return sent

    def _compose(self, message_id: int) -> tuple[EmailMessage | None, str | None]:
        """The message, or None and why nothing is to be sent."""
        with self.db.read() as session:
            row = session.get(RequesterMessage, message_id)
            notice = session.get(Notice, row.notice_id)
            if notice.personal_encrypted is None:
                return None, "personal data purged: no address"
            address = json.loads(contact_cipher().decrypt(notice.personal_encrypted.encode())).get("contact_email")
            if not address:
                return None, "no e-mail address given"
            kind, reference, status = row.kind, notice.reference, notice.status
            deadline, reason = notice.deadline_at, notice.reject_reason
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = address
        email["Date"] = format_datetime(utcnow())
        email["Message-ID"] = message_id_for(reference, kind, self.sender)
        status_page = f"{self.public_url}/removal/status" if self.public_url else "the removal-request status page"
        if kind == "received":
            email["Subject"] = f"Removal request {reference}: received"  # short: no folded header
            body = [f"We received your removal request {reference}.",
                    f"We will decide on it by {iso(deadline)} (48 hours after we received it).",
                    f"You can check it, or withdraw it, at {status_page} with the reference and the token you "
                    "were given when you sent it. We will write again when it is decided."]
        elif status == "removed":
            email["Subject"] = f"Removal request {reference}: removed"
            body = [f"We reviewed your removal request {reference} and removed the content it named.",
                    "We also block new uploads that match it, and remove identical copies we find.",
                    f"Its record stays at {status_page}."]
        else:
            email["Subject"] = f"Removal request {reference}: not removed"
            body = [f"We reviewed your removal request {reference} and did not remove the content.",
                    f"The reason: {reason or 'not given'}",
                    "You can contest this decision: ask us for another review (send a new request with what we "
                    "missed), turn to a certified out-of-court dispute settlement body, or go to court.",
                    f"Its record stays at {status_page}."]
        email.set_content("\n\n".join(body) + "\n\nThis message was sent because you gave this address with your "
                          "request. It holds no other personal data.\n")
        return email, None

    def _send(self, email: EmailMessage) -> None:
        url = urlsplit(self.smtp_url)
        secure = url.scheme == "smtps"
        port = url.port or (465 if secure else 25)
        context = ssl.create_default_context()
        client = (smtplib.SMTP_SSL(url.hostname, port, timeout=self.timeout, context=context) if secure
                  else smtplib.SMTP(url.hostname, port, timeout=self.timeout))
        with client:
            if not secure:
                client.ehlo()
                if client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
                elif url.username:
                    raise smtplib.SMTPNotSupportedError("the relay offers no STARTTLS: the password is not sent in clear")
            if url.username:
                client.login(unquote(url.username), unquote(url.password or ""))
            client.send_message(email)


def message_id_for(reference: str, kind: str, sender: str) -> str:
    """``<td-xxxx-xxxx-xxxx-xxxx.received@sender.domain>``: unique (the reference is random), the
    same on every attempt to send that message."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"<{reference.lower()}.{kind}@{domain}>"


def _describe(exc: Exception) -> str:
    """What went wrong, without the address (a refused recipient's error text holds it)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "SMTPRecipientsRefused: the relay refused the address"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"SMTPNotSupportedError: {exc}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__}: SMTP {exc.smtp_code}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return type(exc).__name__
