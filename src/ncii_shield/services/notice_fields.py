"""What a removal request must carry (US TAKE IT DOWN Act, section 3(a)(2)(B)), checked all at once,
and its deadline: receipt converted to UTC + 48 hours.

    validate(NoticeSubmission(...))   # the cleaned submission, or IncompleteNotice naming every problem
    deadline_for(received_at)         # (receipt, deadline) in UTC; a naive time is refused
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from ncii_shield.errors import InvalidRequest

DEADLINE = timedelta(hours=48)
ROLES = ("depicted_person", "authorized_representative")
MAX_LOCATIONS = 100

FIELD_HELP = {
    "requester_role": 'who is asking: "depicted_person" (the person shown) or "authorized_representative"',
    "signature": "your full name, typed: it is your electronic signature",
    "content_description": "what the image or video is, so that it can be identified",
    "locations": "where it is: at least one URL (urls) or platform content id (content_ids)",
    "good_faith": "your statement that you believe in good faith it was published without consent",
    "contact": "at least one way to reach you: contact_email, contact_phone or contact_address",
    "authorization": "how you are authorised to act for the person shown (required for a representative)",
}


class IncompleteNotice(InvalidRequest):
    """A request that lacks what the law asks for; ``fields`` names every problem."""

    def __init__(self, missing: list[str], invalid: dict[str, str]) -> None:
        parts = [f"{name} ({FIELD_HELP[name]})" for name in missing]
        parts += [f"{name}: {why}" for name, why in invalid.items()]
        head = "the removal request is incomplete; missing: " if missing else "the removal request is not valid: "
        super().__init__(head + "; ".join(parts))
        self.fields = missing + list(invalid)
        self.missing = missing


@dataclass
class NoticeSubmission:
    requester_role: str | None = None
    signature: str | None = None
    content_description: str | None = None
    urls: list[str] = field(default_factory=list)
    content_ids: list[str] = field(default_factory=list)
    good_faith: bool | None = None
    statement: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    contact_address: str | None = None
    authorization: str | None = None
    synthetic: bool = False


def _clean(text: str | None, limit: int) -> str:
    return (text or "").strip()[:limit]


def validate(sub: NoticeSubmission) -> NoticeSubmission:
    """Every missing or invalid field at once (raises :class:`IncompleteNotice`)."""
    missing: list[str] = []
    invalid: dict[str, str] = {}
    role = _clean(sub.requester_role, 40)
    if not role:
        missing.append("requester_role")
    elif role not in ROLES:
        invalid["requester_role"] = f"{role!r} is not accepted; use {' or '.join(ROLES)}"
    if not _clean(sub.signature, 200):
        missing.append("signature")
    if not _clean(sub.content_description, 2000):
        missing.append("content_description")
    urls = [u.strip() for u in (sub.urls or []) if u and u.strip()]
    content_ids = [c.strip() for c in (sub.content_ids or []) if c and c.strip()]
    if not urls and not content_ids:
        missing.append("locations")
    if len(urls) + len(content_ids) > MAX_LOCATIONS:
        invalid["locations"] = f"{len(urls) + len(content_ids)} given; at most {MAX_LOCATIONS} per request"
    for i, url in enumerate(urls):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2048 or any(c.isspace() for c in url):
            invalid[f"urls[{i}]"] = "not an http(s) URL (up to 2,048 characters)"
    for i, cid in enumerate(content_ids):
        if len(cid) > 200:
            invalid[f"content_ids[{i}]"] = "longer than 200 characters"
    if sub.good_faith is not True:
        missing.append("good_faith")
    email, phone, address = (_clean(sub.contact_email, 254), _clean(sub.contact_phone, 40),
                             _clean(sub.contact_address, 500))
    if not (email or phone or address):
        missing.append("contact")
    if email and ("@" not in email or " " in email):
        invalid["contact_email"] = "does not look like an e-mail address"
    if role == "authorized_representative" and not _clean(sub.authorization, 1000):
        missing.append("authorization")
    if missing or invalid:
        raise IncompleteNotice(missing, invalid)
    return NoticeSubmission(role, _clean(sub.signature, 200), _clean(sub.content_description, 2000),
                            list(dict.fromkeys(urls)), list(dict.fromkeys(content_ids)), True,
                            _clean(sub.statement, 5000) or None, email or None, phone or None, address or None,
                            _clean(sub.authorization, 1000) or None, bool(sub.synthetic))


def deadline_for(received_at: datetime, *, now: datetime | None = None) -> tuple[datetime, datetime]:
    """(receipt, deadline), both in UTC. A receipt time must carry its UTC offset and lie between
    2000 and now (a few minutes of clock skew allowed): a receipt in the future would move the legal
    deadline, and one near the end of the calendar has no deadline at all."""
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise InvalidRequest("received_at must carry a time zone (for example 2026-03-08T01:30:00-05:00)")
    received = checked_moment(received_at, "received_at", not_after=(now or datetime.now(UTC)) + CLOCK_SKEW)
    return received, received + DEADLINE


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(minutes=5)


def checked_moment(moment: datetime, name: str, *, not_after: datetime, earliest: datetime = EARLIEST) -> datetime:
    """``moment`` in UTC if it lies between ``earliest`` and ``not_after`` (a naive one is read as
    UTC); otherwise a 4xx naming the field and the accepted range, never an overflow (9999-12-31T20:00-05:00
    is past the end of the calendar in UTC, and a deadline 48 hours after 9999-12-31T23:00Z too)."""
    try:
        utc = moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not earliest <= utc <= not_after:
        raise InvalidRequest(f"{name} must be between {earliest:%Y-%m-%d} and {not_after:%Y-%m-%dT%H:%MZ} (UTC), "
                             "with a time zone; got " + moment.isoformat())
    return utc