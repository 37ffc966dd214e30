"""E-mail outboxes: one relay and one delivery loop for every kind of message we owe someone.

A message owed is an outbox row written in the transaction that makes it due (a removal request's
receipt and decision: services/requester_mail.py; news about a case: services/case_mail.py). Rows
of every outbox have ``id``, ``attempts``, ``next_attempt_at``, ``sent_at`` and ``last_error``;
:func:`deliver` sends the due ones the same way for all:

* each attempt is claimed with a compare-and-set on ``attempts`` and a lease on ``next_attempt_at``,
  so workers and replicas send each message once;
* the outbox composes the message (decrypting the address only then, never logging it), or says
  why nothing is to be sent (the row is then done, ``last_error`` says why);
* a failed attempt is retried after 1, 2, 4 ... minutes, then hourly, for about a day
  (:data:`MAX_ATTEMPTS`); when the relay cannot be reached the pass stops at the first failure
  instead of waiting out a timeout per message; errors are described without the address.

:class:`Relay` sends: ``smtp://[user:password@]host[:port]`` with STARTTLS when the server offers it
(a password is sent only after STARTTLS), ``smtps://`` for TLS from the start.
Settings: ``NCII_SHIELD_SMTP_URL``, ``NCII_SHIELD_MAIL_FROM`` (default ``ncii-shield@localhost``),
``NCII_SHIELD_PUBLIC_URL`` (the site's address, for status links).
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from urllib.parse import unquote, urlsplit

from sqlalchemy import select, update

from ncii_shield.store.database import Database
from ncii_shield.store.models import utcnow

log = logging.getLogger("ncii_shield.outbox")
MAX_ATTEMPTS = 30  # with the backoff below: about a day of trying
LEASE = timedelta(minutes=5)  # a claimed attempt is not claimed again by another worker before this

# (message id) -> (the e-mail, None) or (None, why nothing is sent)
Compose = Callable[[int], tuple[EmailMessage | None, str | None]]


def backoff(attempts: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: 1, 2, 4 ... minutes, then hourly."""
    return timedelta(minutes=min(60, 2 ** (attempts - 1)))


class Relay:
    """The SMTP relay and the sender's identity (from the settings unless given)."""

    def __init__(self, *, smtp_url: str | None = None, sender: str | None = None, public_url: str | None = None,
                 timeout: float = 10.0) -> None:
        self.smtp_url = smtp_url if smtp_url is not None else os.environ.get("NCII_SHIELD_SMTP_URL", "")
        self.sender = sender or os.environ.get("NCII_SHIELD_MAIL_FROM", "ncii-shield@localhost")
        self.public_url = (public_url if public_url is not None else os.environ.get("NCII_SHIELD_PUBLIC_URL", "")).rstrip("/")
        self.timeout = timeout

    @property
    def domain(self) -> str:
        """The sender's domain, for Message-IDs."""
        return parseaddr(self.sender)[1].rpartition("@")[2] or "localhost"

    def send(self, email: EmailMessage) -> None:
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


def deliver(db: Database, model: type, relay: Relay, compose: Compose, *, what: str,
            on_final: Callable[[], dict] | None = None, now: datetime | None = None) -> int:
    """Send every row of ``model`` that is due; return how many were sent (nothing without a relay).
    ``what`` names the outbox in the log; ``on_final()`` gives extra column values for a row that is
    sent or given up (e.g. erasing the address it kept)."""
    if not relay.smtp_url:
        return 0
    now = now or utcnow()
    with db.read() as session:
        due = session.execute(select(model.id, model.attempts).where(
            model.sent_at.is_(None), model.attempts < MAX_ATTEMPTS, model.next_attempt_at <= now)
            .order_by(model.id)).all()
    sent = 0
    for message_id, attempts in due:
        with db.write() as session:  # claim this attempt for a lease: no other worker sends it meanwhile
            claimed = session.execute(update(model).where(
                model.id == message_id, model.attempts == attempts, model.sent_at.is_(None))
                .values(attempts=attempts + 1, next_attempt_at=utcnow() + LEASE)).rowcount
        if not claimed:
            continue
        unreachable = False
        try:
            email, skipped = compose(message_id)
        except Exception as exc:  # e.g. the personal-data key changed: this message only, retried
            email, skipped = None, None
            error = f"could not compose the message: {type(exc).__name__}"
        else:
            error = skipped
        if email is not None:
            try:
                relay.send(email)
                sent += 1
            except (OSError, smtplib.SMTPException) as exc:
                error = describe(exc)
                # no connection (refused, timeout, DNS), not a refusal of this message
                unreachable = (not isinstance(exc, smtplib.SMTPException)
                               or isinstance(exc, (smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected)))
        done = error is None or error == skipped
        values = {"sent_at": utcnow() if done else None, "last_error": error,
                  "next_attempt_at": utcnow() + (timedelta(0) if done else backoff(attempts + 1))}
        if on_final is not None and (done or attempts + 1 >= MAX_ATTEMPTS):
            values.update(on_final())
        with db.write() as session:
            session.execute(update(model).where(model.id == message_id).values(**values))
        if not done:
            log.warning("%s e-mail failed; retried later", what,
                        extra={"message_id": message_id, "error": error, "attempt": attempts + 1})
        if unreachable:  # the relay is away: the others wait for the next pass, not a timeout each
            break
    return sent


def describe(exc: Exception) -> str:
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
