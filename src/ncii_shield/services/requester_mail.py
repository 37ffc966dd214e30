"""E-mails to the people who send removal requests: confirmation of receipt and the decision.

The EU DSA asks a platform to confirm a notice's receipt and to tell its sender the decision, with
the ways to contest it (Art. 16(4)-(5)); a person asking for their intimate images to come down
should not have to keep checking a page. With ``NCII_SHIELD_SMTP_URL`` set, a request submitted with
an e-mail address gets an outbox row ``received`` in the transaction that stores it, and one
``decided`` in the transaction that removes or rejects it (``requester_messages``, unique per
request and kind). :meth:`RequesterMail.deliver` (on the deadline watch's thread) sends them:

* it is delivered as every outbox is (services/outbox.py): each message once across workers and
  replicas, retried for about a day, the password only after STARTTLS; the address is decrypted
  only to send and never logged; a request whose personal data was purged, or that has no e-mail
  address, is marked done without sending (``last_error`` says why);
* the message holds the reference, the status, the deadline or the decision and its reason, the
  status page's address and the ways to contest: never the content's description or locations;
* it carries the ``Date`` and ``Message-ID`` headers RFC 5322 (3.6) asks for, which relays and spam
  filters expect; the Message-ID is made of the request's reference (80 random bits) and the message
  kind at the sender's domain, so a message sent again after a lost answer keeps its id and mail
  programs show it once.

Settings: ``NCII_SHIELD_SMTP_URL``, ``NCII_SHIELD_MAIL_FROM``, ``NCII_SHIELD_PUBLIC_URL`` (see
services/outbox.py).
"""

from __future__ import annotations

import json
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from ncii_shield.services import outbox
from ncii_shield.services.sealing import contact_cipher
from ncii_shield.services.notices import iso
from ncii_shield.store.database import Database
from ncii_shield.store.models import Notice, RequesterMessage, utcnow


class RequesterMail:
    def __init__(self, db: Database, *, smtp_url: str | None = None, sender: str | None = None,
                 public_url: str | None = None, timeout: float = 10.0) -> None:
        self.db = db
        self.relay = outbox.Relay(smtp_url=smtp_url, sender=sender, public_url=public_url, timeout=timeout)

    def deliver(self, now: datetime | None = None) -> int:
        """Send every message that is due; return how many were sent."""
        return outbox.deliver(self.db, RequesterMessage, self.relay, self._compose, what="requester", now=now)

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
        email["From"] = self.relay.sender
        email["To"] = address
        email["Date"] = format_datetime(utcnow())
        # unique (the reference is random) and the same on every attempt to send this message
        email["Message-ID"] = f"<{reference.lower()}.{kind}@{self.relay.domain}>"
        public = self.relay.public_url
        status_page = f"{public}/removal/status" if public else "the removal-request status page"
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
