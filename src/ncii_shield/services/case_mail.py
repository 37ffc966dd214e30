"""E-mails to a case's contact address (issue 23, item 8): "news about your case".

The protect page offers an optional e-mail address for news about a case. Two kinds of news, each
an outbox row (``case_messages``, unique per case and kind) written in the transaction that makes
it due, and sent by :meth:`CaseMail.deliver` as every outbox is (services/outbox.py): the address
decrypted only to send and never logged; each message once across replicas; retries for about a
day; STARTTLS before any password.

* ``withdrawn``: the confirmation that a case was withdrawn. The case drops its address at
  withdrawal, so the row keeps it sealed until the message is sent or given up, then erases it.
* ``outcome:<n>``: copies were removed on ``n`` platforms. :meth:`CaseMail.record_outcomes` counts
  them as a case's status does (feed subscribers' removal reports older than
  ``NCII_SHIELD_OUTCOME_DELAY``, a day by default: services/exchange/verdicts.py) and writes one row
  each time the count rises. Coarse and late: never which platform, which upload or when.

No message holds more than the case number's last four characters, the news, and the status page's
address.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ncii_shield.services import outbox
from ncii_shield.services.sealing import contact_cipher
from ncii_shield.services.exchange.verdicts import removed_on_platforms
from ncii_shield.store.database import Database
from ncii_shield.store.models import Case, CaseMessage, CaseSignal, utcnow


class CaseMail:
    def __init__(self, db: Database, *, smtp_url: str | None = None, sender: str | None = None,
                 public_url: str | None = None, timeout: float = 10.0) -> None:
        self.db = db
        self.relay = outbox.Relay(smtp_url=smtp_url, sender=sender, public_url=public_url, timeout=timeout)

    # -- what is owed -------------------------------------------------------------------------

    def record_outcomes(self, *, delay: timedelta | None = None, batch: int = 1000) -> int:
        """Write an ``outcome:<n>`` row for each case with an address whose removal count rose;
        returns the rows written."""
        if not self.relay.smtp_url:
            return 0
        written, last = 0, 0
        while True:
            with self.db.read() as session:
                cases = list(session.scalars(select(Case.id).where(
                    Case.id > last, Case.status == "active", Case.contact_encrypted.is_not(None))
                    .order_by(Case.id).limit(batch)))
                counts = {}
                for case_id in cases:
                    ids = list(session.scalars(select(CaseSignal.signal_id).where(CaseSignal.case_id == case_id)))
                    counts[case_id] = removed_on_platforms(session, ids, delay)
                told = {}
                for case_id, kind in session.execute(select(CaseMessage.case_id, CaseMessage.kind).where(
                        CaseMessage.case_id.in_(cases), CaseMessage.kind.like("outcome:%"))):
                    told[case_id] = max(told.get(case_id, 0), int(kind.split(":", 1)[1]))
            for case_id, n in counts.items():
                if n > told.get(case_id, 0):
                    try:
                        with self.db.write() as session:
                            session.add(CaseMessage(case_id=case_id, kind=f"outcome:{n}", attempts=0,
                                                    created_at=utcnow(), next_attempt_at=utcnow()))
                        written += 1
                    except IntegrityError:  # another replica wrote it first
                        pass
            if len(cases) < batch:
                return written
            last = cases[-1]

    # -- sending ------------------------------------------------------------------------------

    def deliver(self, now: datetime | None = None) -> int:
        """Send every message that is due; return how many were sent (nothing without a relay).
        A message sent or given up drops the address it kept (a withdrawal's confirmation)."""
        return outbox.deliver(self.db, CaseMessage, self.relay, self._compose, what="case",
                              on_final=lambda: {"address_encrypted": None}, now=now)

    def _compose(self, message_id: int) -> tuple[EmailMessage | None, str | None]:
        with self.db.read() as session:
            row = session.get(CaseMessage, message_id)
            case = session.get(Case, row.case_id)
            sealed = row.address_encrypted if row.kind == "withdrawn" else case.contact_encrypted
            if row.kind != "withdrawn" and case.status != "active":
                return None, "case withdrawn: no news sent"
            if not sealed:
                return None, "no e-mail address"
            address = contact_cipher().decrypt(sealed.encode()).decode()
            kind, number = row.kind, case.case_number
        tail = number[-4:]
        sender = self.relay.sender
        public = self.relay.public_url
        email = EmailMessage()
        email["From"] = sender
        email["To"] = address
        email["Date"] = format_datetime(utcnow())
        email["Message-ID"] = f"<case-{message_id}.{kind.replace(':', '-')}@{self.relay.domain}>"
        status_page = f"{public}/protect/status" if public else "the case status page"
        if kind == "withdrawn":
            email["Subject"] = f"Your case ending {tail}: withdrawn"
            body = [(f"Your case ending {tail} is withdrawn. Its hashes no longer match anything, on this "
                     "service and, within minutes, on the platforms that follow it."),
                    "We no longer keep this e-mail address. If you did not withdraw the case, open a new one."]
        else:
            n = int(kind.split(":", 1)[1])
            email["Subject"] = f"Your case ending {tail}: news"
            body = [f"Copies matching your case ending {tail} were removed on {n} platform{'s' if n != 1 else ''}.",
                    ("We tell you this a day or more after it happened, and never which platform or which copy, "
                     "so that this message says nothing about a single upload."),
                    f"You can see your case at {status_page} with your case number and PIN."]
        email.set_content("\n\n".join(body) + "\n\nThis message was sent because you gave this address for news "
                          "about your case. It holds no other personal data.\n")
        return email, None


def outcome_interval() -> float:
    """Seconds between outcome counts (``NCII_SHIELD_OUTCOME_EVERY``, 600 by default)."""
    return float(os.environ.get("NCII_SHIELD_OUTCOME_EVERY", "600"))
