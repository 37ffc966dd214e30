"""Reading an ncii-shield feed from outside ncii-shield: fetch a page, verify it, hand back its entries.

This is the part of :mod:`ncii_shield.pytx` that knows nothing of python-threatexchange. It reuses
our own signature check (:func:`ncii_shield.services.exchange.signing.verify`, the one our
subscriber uses) and repeats the subscriber's page checks (:func:`ncii_shield.services.exchange.
subscriber.check_page`) without its database: the subscriber module pulls in SQLAlchemy, the store
and the signal registry (OpenCV), which an extension that python-threatexchange loads on every
command must not. A page is accepted only if

1. its Ed25519 signature verifies with the publisher key pinned in the collaboration's config;
2. it is a page of the configured feed, in :data:`FORMAT`;
3. it answers the cursor we asked for (so a replayed or out-of-order page is refused);
4. every entry is an ``add`` or a ``withdraw``.

Anything else raises :class:`FeedRejected` and nothing of the page is used. Signal values are not
checked against our own signal types here; python-threatexchange validates each value with its own
signal type before indexing, and the publisher only ever signs values it validated.

The HTTP client is deliberately plain (no address guard): the URL is the one the adopter typed into
their own collaboration config, not one a remote party chose for us.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from ncii_shield.services.exchange import signing

if TYPE_CHECKING:  # httpx is imported when a fetch starts, not when the extension loads
    import httpx

#: The page format this reader accepts; equal to ``publisher.FORMAT`` (a test holds them together).
FORMAT = "ncii-shield-feed/1"
PAGE_SIZE = 1000


class FeedRejected(Exception):
    """A page (or an answer) refused; nothing of it was used. The message says why."""


class FeedConfigError(ValueError):
    """A collaboration config that cannot work: the message names the field and what is accepted."""


@dataclass(frozen=True)
class Entry:
    op: str  # "add" | "withdraw"
    signal_type: str  # ncii-shield's name: pdq, md5, sha256, vpdq, ...
    value: str


@dataclass(frozen=True)
class Page:
    cursor: str
    next_cursor: str
    more: bool
    entries: list[Entry]


def check_config(url: str, feed: str, token: str, publisher_key: str) -> str:
    """Validate the four config fields; returns the URL without a trailing slash."""
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FeedConfigError("url must be the publishing instance's base URL, e.g. https://helpline.example, "
                              f"not {url!r}")
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise FeedConfigError("url must not carry credentials, a query or a fragment; "
                              "the access token goes in `token`")
    if not feed or not isinstance(feed, str):
        raise FeedConfigError("feed must name the published feed (`ncii-shield feed publish BANK` prints it)")
    if not token or not isinstance(token, str) or not token.startswith("nsf_"):
        raise FeedConfigError("token must be the feed access token the publisher gave you (nsf_...)")
    publisher_fingerprint(publisher_key)
    return url.strip().rstrip("/")


def publisher_fingerprint(publisher_key: str) -> str:
    """The pinned key's fingerprint (as pages name their publisher); FeedConfigError if not a key."""
    try:
        if len(base64.b64decode(publisher_key or "", validate=True)) != 32:
            raise ValueError
    except (ValueError, binascii.Error) as exc:
        raise FeedConfigError("publisher_key must be the publisher's Ed25519 public key: 32 bytes in base64, "
                              "as `ncii-shield feed publish` prints it") from exc
    return signing.fingerprint(publisher_key)


def verify_page(envelope: object, *, publisher_key: str, feed: str, cursor: str) -> Page:
    """The page in ``envelope`` if it passes every check in the module docstring; else FeedRejected."""
    try:
        page = signing.verify(publisher_key, envelope)
    except signing.BadSignature as exc:
        raise FeedRejected(f"{exc}: the page was altered, or it was not signed by the pinned publisher key") from exc
    if page.get("format") != FORMAT or page.get("feed") != feed:
        raise FeedRejected(f"not a page of feed {feed!r} in format {FORMAT}")
    if page.get("cursor") != cursor:
        raise FeedRejected(f"the page answers cursor {str(page.get('cursor'))[:40]!r} but we asked for {cursor!r}: "
                           "a replayed or out-of-order page")
    next_cursor, entries = page.get("next_cursor"), page.get("entries")
    if not isinstance(next_cursor, str) or not isinstance(entries, list):
        raise FeedRejected("page without next_cursor or entries")
    out = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or entry.get("op") not in ("add", "withdraw"):
            raise FeedRejected(f"entry {i} is not an add or a withdraw")
        if entry["op"] == "withdraw" and entry.get("value") is None:
            continue  # a withdrawal of a value this publisher never sent: nothing to do
        if not isinstance(entry.get("signal_type"), str) or not isinstance(entry.get("value"), str):
            raise FeedRejected(f"entry {i} has no signal_type and value")
        out.append(Entry(entry["op"], entry["signal_type"], entry["value"]))
    return Page(cursor, next_cursor, bool(page.get("more")), out)


class FeedReader:
    """Walk a feed from a cursor: one verified page per step, until the publisher says caught up."""

    def __init__(self, url: str, feed: str, token: str, publisher_key: str, *, timeout: float = 30,
                 page_size: int = PAGE_SIZE, client: httpx.Client | None = None) -> None:
        self.url = check_config(url, feed, token, publisher_key)
        self.feed, self.publisher_key, self.page_size = feed, publisher_key, page_size
        self.fingerprint = publisher_fingerprint(publisher_key)
        self._token, self._timeout, self._client = token, timeout, client

    def pages(self, cursor: str) -> Iterator[Page]:
        import httpx

        own = self._client is None
        client = self._client or httpx.Client(timeout=self._timeout, follow_redirects=False)
        try:
            while True:
                page = self._fetch(client, cursor)
                yield page
                if not page.more:
                    return
                if page.next_cursor == cursor:
                    raise FeedRejected(f"the publisher says there is more but its next cursor is {cursor!r} again")
                cursor = page.next_cursor
        finally:
            if own:
                client.close()

    def _fetch(self, client: httpx.Client, cursor: str) -> Page:
        import httpx

        address = f"{self.url}/v1/feeds/{quote(self.feed, safe='')}/pages"
        try:
            response = client.get(address, params={"cursor": cursor, "limit": self.page_size, "wait": 0},
                                  headers={"Authorization": f"Bearer {self._token}"})
        except httpx.HTTPError as exc:
            raise FeedRejected(f"publisher unreachable at {self.url}: {exc}") from exc
        if response.status_code != 200:
            raise FeedRejected(f"publisher answered {response.status_code}: {response.text[:200]}")
        try:
            envelope = response.json()
        except ValueError as exc:
            raise FeedRejected("publisher sent a page that is not JSON") from exc
        return verify_page(envelope, publisher_key=self.publisher_key, feed=self.feed, cursor=cursor)
