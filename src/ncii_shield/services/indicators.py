"""Service indicators: check URLs, domains, Telegram names and app ids against the banks.

A hosting provider checks its customers' domains or a crawl's URLs, an app store its listings;
each line of the input is one indicator, and every match names the bank and the entry::

    service = IndicatorService(shield.follower, shield.db)
    scope = Scope(principal, shield.follower)
    for result in service.check(scope, ["https://cdn.nudify.example/p?id=1", "@NudifyExampleBot"]):
        result.to_json()   # {"line": 1, "input": ..., "status": "match", "matches": [{"bank", "signal_id",
                           #   "signal_type", "via", "matched", "shared"}]}

What a line is looked up as (:func:`candidates`):

* a URL (with or without its scheme): ``url`` and ``url_md5`` of the URL as given, without its
  ``#fragment`` and with its trailing ``/`` toggled (the same page); ``domain`` of its host and of
  every parent of two labels or more (``via`` "domain" or "parent_domain"); ``telegram`` when it is
  a t.me link; ``app_id`` when it is a Google Play or App Store link;
* a bare host name (``nudify.example``): as a URL, and also as an ``app_id`` (``com.example.app``);
* ``@name`` and ``tg://resolve?domain=name``: ``telegram``; ``id1234567890``: ``app_id``;
* ``TYPE VALUE`` (python-threatexchange's local-file shape, e.g. ``domain nudify.example``) or any
  line with ``as_type``: that type only (a ``domain`` still matches its parents).

A key sees only the banks it may match against (its tenant's, and those shared); a key with
``bank:read`` also gets the stored value and metadata (its label) of matched entries in its own
tenant's banks (never of another tenant's shared bank).
"""

from __future__ import annotations

import csv
import hashlib
import io
import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from ncii_shield.errors import InvalidRequest, InvalidSignal
from ncii_shield.index.follower import BankInfo, IndexFollower
from ncii_shield.services.uploads.detectors import Scope
from ncii_shield.signals import registry
from ncii_shield.signals.app_id import _APPLE, APPLE_HOSTS, PLAY_HOSTS, app_id_from_url, package_or_none
from ncii_shield.signals.domain import is_public_suffix
from ncii_shield.signals.indicator import MAX_LENGTH, SPACE, domain_or_none, host_of, parents, shorten
from ncii_shield.signals.telegram import HOSTS as TELEGRAM_HOSTS
from ncii_shield.signals.telegram import handle_from_url
from ncii_shield.signals.url import normal_or_none
from ncii_shield.store.database import Database

TYPES = ("url", "url_md5", "domain", "telegram", "app_id")
BATCH = 10_000  # lines looked up together


@dataclass(frozen=True)
class Candidate:
    """One lookup of a line: ``key`` is queried in ``signal_type``'s index; ``matched`` is what a
    match reports (the normal form of the URL, the MD5, the domain or parent, the name)."""

    signal_type: str
    key: str
    via: str
    matched: str


@dataclass(frozen=True)
class IndicatorMatch:
    bank: str
    signal_id: int
    signal_type: str
    via: str  # url | url_md5 | domain | parent_domain | telegram | app_id
    matched: str
    shared: bool = False
    value: str | None = None  # the entry as stored (keys with bank:read)
    metadata: dict | None = None

    def to_json(self) -> dict:
        out = {"bank": self.bank, "signal_id": self.signal_id, "signal_type": self.signal_type, "via": self.via,
               "matched": self.matched, "shared": self.shared}
        if self.value is not None:
            out["value"] = self.value
            out["metadata"] = self.metadata
        return out


@dataclass
class IndicatorResult:
    line: int
    input: str
    status: str  # match | no_match | error
    matches: list[IndicatorMatch] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict:
        out: dict = {"line": self.line, "input": self.input, "status": self.status}
        if self.error is not None:
            out["error"] = self.error
        else:
            out["matches"] = [m.to_json() for m in self.matches]
        return out


# -- what a line is looked up as ------------------------------------------------------------------


def candidates(text: str, as_type: str | None = None) -> list[Candidate]:
    """The lookups for one line (see the module docstring); raises InvalidSignal saying what is accepted."""
    text = text.strip()
    if as_type is None:
        head, _, rest = text.partition(" ")
        if head.lower() in TYPES and rest.strip():
            as_type, text = head.lower(), rest.strip()
    if as_type is not None:
        return _typed(as_type, text)
    if not text or len(text) > MAX_LENGTH:
        raise InvalidSignal(f"a line of {len(text):,} characters; expected 1 to {MAX_LENGTH:,}")
    if text.startswith("@") or text[:5].lower() == "tg://":
        return _typed("telegram", text)
    if _APPLE.fullmatch(text.lower()):
        return _typed("app_id", text)
    found = url_candidates(text)
    if not found:
        raise InvalidSignal(f"{shorten(text)!r} is not a URL, domain, @telegram name or app id; prefix the line "
                            f"with its type ({', '.join(TYPES)}) or give --as")
    if "/" not in text and ":" not in text:
        app = package_or_none(text)
        if app is not None:
            found.append(Candidate("app_id", app, "app_id", app))
    return found


def _typed(signal_type: str, text: str) -> list[Candidate]:
    if signal_type not in TYPES:
        raise InvalidRequest(f"unknown indicator type {signal_type!r}; accepted: {', '.join(TYPES)}")
    value = registry.get(signal_type).validate(text)
    if signal_type == "url":
        return url_candidates(value)
    if signal_type == "domain":
        return _domains(value)
    return [Candidate(signal_type, value, signal_type, value)]


def url_candidates(text: str) -> list[Candidate]:
    """Lookups of a URL (empty when it has no host we can read). The forms of one URL share its
    host, so the host is read once and each form only normalised (once) for ``url`` and ``url_md5``."""
    host = host_of(text) if len(text) <= MAX_LENGTH and not SPACE.search(text) else None
    if host is None:
        return []
    domain = domain_or_none(host)
    if domain is None and not _is_ip(host):
        return []
    forms = [text]
    bare = text.split("#", 1)[0]
    if bare != text:
        forms.append(bare)
    if "?" not in bare and bare:
        forms.append(bare[:-1] if bare.endswith("/") else bare + "/")
    out: list[Candidate] = []
    seen: set[str] = set()
    for form in forms:
        normal = normal_or_none(form)
        if normal is None or normal in seen or not normal:
            continue
        seen.add(normal)
        digest = hashlib.md5(normal.encode("utf-8"), usedforsecurity=False).hexdigest()
        out += [Candidate("url", form, "url", normal), Candidate("url_md5", digest, "url_md5", digest)]
    if domain is not None:
        out += _domains(domain)
    if host in TELEGRAM_HOSTS or host.endswith(".t.me"):
        handle = handle_from_url(text)
        if handle is not None:
            out.append(Candidate("telegram", handle, "telegram", handle))
    if host in PLAY_HOSTS or host in APPLE_HOSTS:
        app = app_id_from_url(text)
        if app is not None:
            out.append(Candidate("app_id", app, "app_id", app))
    return out


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _domains(domain: str) -> list[Candidate]:
    # A public suffix (co.uk, github.io) is never banked (DomainSignal refuses it): not looked up.
    return [Candidate("domain", d, "domain" if i == 0 else "parent_domain", d)
            for i, d in enumerate(parents(domain)) if i == 0 or not is_public_suffix(d)]


# -- reading an input safely ----------------------------------------------------------------------


def read_lines(handle: io.TextIOBase, limit: int = MAX_LENGTH, column: int | None = None) -> Iterator[tuple[int, str | None]]:
    """``(line number, text)`` of each line that is not blank or a ``#`` comment; text is None for a
    line over ``limit`` characters, which is skipped without being held in memory. With ``column``
    (1-based) a line is a CSV row (a customer list: ``id,domain,plan``) and its text that field
    ("" when the row is shorter, which reads as an error)."""
    number = 0
    while True:
        line = handle.readline(limit + 2)
        if not line:
            return
        number += 1
        if len(line.rstrip("\r\n")) > limit:
            while line and not line.endswith("\n"):  # the rest of the long line, in bounded pieces
                line = handle.readline(1 << 16)
            yield number, None
            continue
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if column is not None:
            try:
                fields = next(csv.reader([text]))
            except csv.Error:
                fields = []
            text = fields[column - 1].strip() if len(fields) >= column else ""
        yield number, text


# -- the service ----------------------------------------------------------------------------------


class IndicatorService:
    """Looks indicators up in the follower's exact indexes (see the module docstring)."""

    def __init__(self, follower: IndexFollower, db: Database | None = None) -> None:
        self.follower = follower
        self.db = db

    def visible_banks(self, scope: Scope) -> list[str]:
        return sorted({b.name for b in self.follower.banks.values() if scope.visible(b)})

    def check(self, scope: Scope, lines: Iterable[str | tuple[int, str | None]], *,
              as_type: str | None = None) -> Iterator[IndicatorResult]:
        """One result per line, in order; ``lines`` are texts (numbered from 1) or ``(number, text)``
        pairs as :func:`read_lines` gives (text None: a line over the length limit)."""
        scope.principal.require("match")
        if as_type is not None and as_type not in TYPES:
            raise InvalidRequest(f"unknown indicator type {as_type!r}; accepted: {', '.join(TYPES)}")
        batch: list[tuple[int, str | None]] = []
        for i, line in enumerate(lines, start=1):
            batch.append(line if isinstance(line, tuple) else (i, line))
            if len(batch) == BATCH:
                yield from self._check_batch(scope, batch, as_type)
                batch = []
        if batch:
            yield from self._check_batch(scope, batch, as_type)

    def _check_batch(self, scope: Scope, batch: list[tuple[int, str | None]],
                     as_type: str | None) -> list[IndicatorResult]:
        results: list[IndicatorResult] = []
        queries: dict[str, tuple[list[str], list[tuple[int, Candidate]]]] = {t: ([], []) for t in TYPES}
        for number, text in batch:
            if text is None:
                results.append(IndicatorResult(number, "", "error", error=f"a line over {MAX_LENGTH:,} characters"))
                continue
            try:
                found = candidates(text, as_type)
            except (InvalidSignal, InvalidRequest) as exc:
                results.append(IndicatorResult(number, shorten(text, 200), "error", error=str(exc)))
                continue
            results.append(IndicatorResult(number, text, "no_match"))
            for candidate in found:
                keys, owners = queries[candidate.signal_type]
                keys.append(candidate.key)
                owners.append((len(results) - 1, candidate))
        banks = self.follower.banks
        for signal_type, (keys, owners) in queries.items():
            if not keys:
                continue
            query, ids, _distance, bank_ids = self.follower.query_arrays(signal_type, keys, 0)
            for q, signal_id, bank_id in zip(query.tolist(), ids.tolist(), bank_ids.tolist()):
                bank = banks.get(bank_id)
                if bank is None or not scope.visible(bank):
                    continue
                position, candidate = owners[q]
                result = results[position]
                if any(m.signal_id == signal_id for m in result.matches):
                    continue  # one entry reached by two forms of the URL
                result.status = "match"
                result.matches.append(_match(bank, signal_id, candidate, scope))
        if self.db is not None and scope.principal.allows("bank:read"):
            self._describe([r for r in results if r.matches])
        return results

    def _describe(self, matched: list[IndicatorResult]) -> None:
        """Add the stored value and metadata of each matched entry of the key's own tenant (one query
        per batch): ``bank:read`` reads one's own banks back, never another tenant's shared bank."""
        from dataclasses import replace

        from sqlalchemy import select

        from ncii_shield.store.models import Signal

        ids = sorted({m.signal_id for r in matched for m in r.matches if not m.shared})
        if not ids or self.db is None:
            return
        rows: dict[int, tuple[str, dict | None]] = {}
        with self.db.read() as session:
            for start in range(0, len(ids), 1000):
                for signal_id, value, meta in session.execute(
                        select(Signal.id, Signal.value, Signal.meta).where(Signal.id.in_(ids[start:start + 1000]))):
                    rows[int(signal_id)] = (value, meta)
        for result in matched:
            result.matches = [replace(m, value=rows[m.signal_id][0], metadata=rows[m.signal_id][1])
                              if m.signal_id in rows else m for m in result.matches]


def _match(bank: BankInfo, signal_id: int, candidate: Candidate, scope: Scope) -> IndicatorMatch:
    return IndicatorMatch(bank.name, signal_id, candidate.signal_type, candidate.via, candidate.matched,
                          shared=scope.shared(bank))
