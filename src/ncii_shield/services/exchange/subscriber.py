"""Following another instance's feed into a local bank: verify every page, apply it exactly once.

A page is applied only if (1) its signature verifies with the publisher key pinned at subscription,
(2) it is a page of the subscribed feed in this format, (3) its ``cursor`` is our checkpoint (so a
replayed or out-of-order page is refused) and (4) every entry is a valid signal. Then all its
entries and the new checkpoint are written in one transaction: a crash at any point loses nothing
and applies nothing twice. A rejected page changes nothing and is reported with its reason.

``ncii-shield serve`` runs a :class:`FeedFollower` per subscription; it long-polls the publisher
(``wait``), so a change on the publisher arrives within about a second without inbound connections.

Whoever can subscribe chooses a URL the instance will call, so a subscription goes through the same
address guard as scans and monitors (:mod:`ncii_shield.services.netguard`): public addresses only,
checked when subscribing and again before every request (pinned to the checked address, so a name
that later resolves to a private address is refused at connect time). ``allow_private_address``,
stored with the subscription, is the operator's override for a feed on a private network. The access
token is sealed at rest (:mod:`ncii_shield.services.sealing`).
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select

from ncii_shield.errors import Conflict, FetchFailed, InvalidRequest, NciiShieldError, NotFound, RefusedSource
from ncii_shield.services import netguard
from ncii_shield.services.banks import SignalInput, canonical
from ncii_shield.services.exchange import flood, signing
from ncii_shield.services.exchange.publisher import FORMAT
from ncii_shield.services.keys import Principal
from ncii_shield.services.sealing import is_sealed, seal, unseal
from ncii_shield.store import banks as bank_store
from ncii_shield.store.database import Database
from ncii_shield.store.models import Subscription, utcnow

log = logging.getLogger("ncii_shield.feeds")


class PageRejected(InvalidRequest):
    """A feed page that was refused; nothing of it was applied."""


@dataclass(frozen=True)
class PullResult:
    pages: int
    applied: int
    cursor: str
    caught_up: bool


def subscribe(db: Database, principal: Principal, *, name: str, url: str, feed: str, publisher_key: str,
              token: str, bank: str, allow_private_address: bool = False) -> None:
    """Record a subscription (scope admin); the local bank is created if missing.

    ``url`` must reach a public address unless ``allow_private_address`` (the operator's override for
    a feed on a private network; link-local addresses stay refused)."""
    principal.require("admin")
    try:
        if len(base64.b64decode(publisher_key, validate=True)) != 32:
            raise ValueError
    except (ValueError, binascii.Error) as exc:
        raise InvalidRequest("the publisher key must be a base64 Ed25519 public key (32 bytes)") from exc
    url = check_url(url, allow_private_address)
    with db.write() as session:
        if session.scalar(select(Subscription.id).where(Subscription.name == name)):
            raise Conflict(f"a subscription called {name!r} already exists")
        bank_row = bank_store.get_or_create_bank(session, principal.tenant_id, bank,
                                                 description=f"subscribed from feed {feed!r} at {url}",
                                                 trust="unverified")  # until the operator confirms the publisher
        session.add(Subscription(name=name, url=url, feed=feed, publisher_key=publisher_key, token=seal(token),
                                 bank_id=bank_row.id, cursor="start", applied=0,
                                 allow_private_address=allow_private_address))


def set_private_address(db: Database, principal: Principal, name: str, allowed: bool) -> None:
    """The operator's override on an existing subscription (scope admin); checked again at every pull."""
    principal.require("admin")
    with db.write() as session:
        sub = session.scalar(select(Subscription).where(Subscription.name == name))
        if sub is None:
            raise NotFound(f"no subscription called {name!r}; `ncii-shield feed status` lists them")
        sub.allow_private_address = allowed
        _reseal(sub)


def check_url(url: str, allow_private_address: bool) -> str:
    """The publisher's base URL, refused unless http(s) without credentials, query or fragment, on an
    address the guard admits. Returns it without a trailing slash."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest(f"the feed URL must be an http(s) URL such as https://helpline.example, not {url[:100]!r}")
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise InvalidRequest("the feed URL must not carry credentials, a query or a fragment: give the publishing "
                             "instance's base URL (e.g. https://helpline.example) and the access token with --token")
    netguard.pin_feed(url, allow_private_address)
    return url.strip().rstrip("/")


def check_page(envelope: object, subscription: Subscription) -> tuple[dict, list[tuple[str, str, str]]]:
    """Verify a page for ``subscription``; returns it with its entries as (op, type, value)."""
    page = signing.verify(subscription.publisher_key, envelope)
    if page.get("format") != FORMAT or page.get("feed") != subscription.feed:
        raise PageRejected(f"not a page of feed {subscription.feed!r} in format {FORMAT}")
    if page.get("cursor") != subscription.cursor:
        raise PageRejected(f"page answers cursor {str(page.get('cursor'))[:40]!r} but the checkpoint is "
                           f"{subscription.cursor!r}: a replayed or out-of-order page")
    if not isinstance(page.get("next_cursor"), str) or not isinstance(page.get("entries"), list):
        raise PageRejected("page without next_cursor or entries")
    entries = []
    for i, entry in enumerate(page["entries"]):
        if not isinstance(entry, dict) or entry.get("op") not in ("add", "withdraw"):
            raise PageRejected(f"entry {i} is not an add or withdraw")
        if entry["op"] == "withdraw" and entry.get("value") is None:
            continue  # a withdrawal of a value this publisher never sent: nothing to do
        try:
            signal = canonical(SignalInput(str(entry.get("signal_type")), str(entry.get("value"))))
        except NciiShieldError as exc:
            raise PageRejected(f"entry {i}: {exc}") from exc
        entries.append((entry["op"], signal.signal_type, signal.value))
    return page, entries


def apply_page(db: Database, subscription_id: int, envelope: object) -> int:
    """Verify and apply one page, with its checkpoint, in one transaction. Returns entries applied."""
    try:
        return _apply(db, subscription_id, envelope)
    except NciiShieldError as exc:  # rolled back: record why, outside the failed transaction
        _record_error(db, subscription_id, str(exc))
        if isinstance(exc.__cause__, flood.FeedFlood) and exc.__cause__.flag:
            with db.read() as session:
                sub = session.get(Subscription, subscription_id)
                name, tenant_id = sub.name, session.get(bank_store.Bank, sub.bank_id).tenant_id
            flood.record_flag(db, name, tenant_id, exc.__cause__)
        raise


def _apply(db: Database, subscription_id: int, envelope: object) -> int:
    with db.write() as session:
        sub = session.get(Subscription, subscription_id, with_for_update=db.is_postgres)
        page, entries = check_page(envelope, sub)
        bank = session.get(bank_store.Bank, sub.bank_id)
        if not str(page["cursor"]).startswith(("start", "snap:")):  # a flood after the snapshot: refused
            try:
                flood.GUARD.admit(sub.id, sum(1 for op, _, _ in entries if op == "add"))
            except flood.FeedFlood as exc:
                raise PageRejected(str(exc)) from exc
        adds: list[bank_store.NewSignal] = []

        def flush_adds() -> None:
            if adds:
                bank_store.add_signals(session, bank, adds)
                adds.clear()

        for op, signal_type, value in entries:  # in order: an add then a withdraw of the same value
            if op == "add":
                adds.append(bank_store.NewSignal(signal_type, value, {"feed": sub.feed}))
            else:
                flush_adds()
                bank_store.withdraw_by_value(session, bank, signal_type, value)
        flush_adds()
        sub.cursor = page["next_cursor"]
        _reseal(sub)
        sub.applied += len(entries)
        sub.last_pull_at = utcnow()
        sub.last_error = None
        return len(entries)


def pull(db: Database, name: str, *, wait: float = 0, limit: int = 1000, client: httpx.Client | None = None,
         max_pages: int | None = None, on_page=None) -> PullResult:  # noqa: ANN001
    """Pull pages until caught up (or ``max_pages``); each page verified and applied on its own.

    Every request is checked by the address guard and pinned to the checked address first."""
    with db.read() as session:
        sub = session.scalar(select(Subscription).where(Subscription.name == name))
        if sub is None:
            raise NotFound(f"no subscription called {name!r}")
        sub_id, url, feed, cursor = sub.id, sub.url, sub.feed, sub.cursor
        stored_token, allow_private = sub.token, bool(sub.allow_private_address)
    token = unseal(stored_token)
    own = client is None
    client = client or httpx.Client(timeout=httpx.Timeout(30 + wait), follow_redirects=False)
    pages = applied = 0
    try:
        while True:
            try:
                target = netguard.pin_feed(f"{url}/v1/feeds/{feed}/pages", allow_private)
            except (RefusedSource, FetchFailed) as exc:
                _record_error(db, sub_id, str(exc))
                raise
            response = client.get(target.url, params={"cursor": cursor, "limit": limit, "wait": wait},
                                  headers={"Host": target.host_header, "Authorization": f"Bearer {token}"},
                                  extensions=target.extensions)
            if response.status_code != 200:
                message = f"publisher answered {response.status_code}: {response.text[:200]}"
                _record_error(db, sub_id, message)
                raise PageRejected(message)
            try:
                envelope = response.json()
            except ValueError as exc:
                _record_error(db, sub_id, "publisher sent a page that is not JSON")
                raise PageRejected("publisher sent a page that is not JSON") from exc
            applied += apply_page(db, sub_id, envelope)
            pages += 1
            page = envelope["page"]
            cursor = page["next_cursor"]
            if on_page:
                on_page(pages, applied)
            if not page.get("more") or (max_pages is not None and pages >= max_pages):
                return PullResult(pages, applied, cursor, not page.get("more"))
            wait = 0
    finally:
        if own:
            client.close()


def _record_error(db: Database, subscription_id: int, message: str) -> None:
    with db.write() as session:
        sub = session.get(Subscription, subscription_id)
        sub.last_error = message[:500]
        sub.last_pull_at = utcnow()
        _reseal(sub)


def _reseal(sub: Subscription) -> None:
    """A token written in clear by an older version is sealed at the subscription's next write."""
    if not is_sealed(sub.token):
        sub.token = seal(sub.token)


def status(db: Database) -> list[dict]:
    with db.read() as session:
        return [{"name": s.name, "url": s.url, "feed": s.feed, "publisher": signing.fingerprint(s.publisher_key),
                 "cursor": s.cursor, "applied": s.applied, "last_pull_at": s.last_pull_at, "last_error": s.last_error}
                for s in session.scalars(select(Subscription).order_by(Subscription.name))]


class FeedFollower:
    """Background thread: long-poll a subscription forever; back off on errors."""

    def __init__(self, db: Database, name: str, *, wait: float = 10.0, on_applied=None) -> None:  # noqa: ANN001
        self.db, self.name, self.wait = db, name, wait
        self.on_applied = on_applied
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"feed-{name}", daemon=True)
        # the return channel: verdicts back to the publisher (services/exchange/verdicts.py)
        self._verdicts = threading.Event()
        self._reporter = threading.Thread(target=self._report, name=f"feed-{name}-verdicts", daemon=True)

    def start(self) -> None:
        from ncii_shield.services.exchange import verdicts

        verdicts.listen(self._verdicts)
        self._thread.start()
        self._reporter.start()

    def stop(self) -> None:
        from ncii_shield.services.exchange import verdicts

        verdicts.unlisten(self._verdicts)
        self._stop.set()
        self._verdicts.set()
        self._thread.join(timeout=5)
        self._reporter.join(timeout=5)

    def _report(self, every: float = 60.0) -> None:
        """Push the verdict report at once when one changed here, else every ``every`` seconds."""
        from ncii_shield.services.exchange import verdicts

        from ncii_shield.services.exchange.signing import default_key_path, load_or_create_key

        backoff, key = 1.0, None
        while not self._stop.is_set():
            self._verdicts.wait(every)
            self._verdicts.clear()
            if self._stop.is_set():
                return
            try:
                key = key or load_or_create_key(default_key_path())
                verdicts.push(self.db, self.name, key=key)
                backoff = 1.0
            except Exception as exc:  # the publisher may be away or older (no verdict route): retry later
                log.warning("verdict report failed", extra={"subscription": self.name, "error": str(exc)[:200]})
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 60.0)

    def _run(self) -> None:
        backoff = 1.0
        with httpx.Client(timeout=httpx.Timeout(30 + self.wait), follow_redirects=False) as client:
            while not self._stop.is_set():
                try:
                    result = pull(self.db, self.name, wait=self.wait, client=client)
                    if result.applied and self.on_applied:
                        self.on_applied()
                    backoff = 1.0
                except Exception as exc:  # keep following; the error is recorded on the subscription
                    log.warning("feed pull failed", extra={"subscription": self.name, "error": str(exc)[:200]})
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 30.0)


