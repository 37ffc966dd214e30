"""Shared shape of the service indicators: strings that name a service, matched exactly.

Hosting providers and app stores know a nudify service by its URLs, its domain, its Telegram bot
and its app. Each is a signal type (``url``, ``url_md5``, ``domain``, ``telegram``, ``app_id``)
with a canonical string form, exact matching and an exact index; none is hashed from media, so
``content_types`` is empty. Parsing is bounded: a value longer than :data:`MAX_LENGTH` characters
is refused before any work is done on it.

:func:`host_of` is the one place a URL's host is read (lower case, IDNA A-labels, no port, no
trailing dot); :func:`domain_or_none` checks a host name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import ClassVar
from urllib.parse import urlsplit

from ncii_shield.errors import InvalidSignal
from ncii_shield.index.base import SignalIndex
from ncii_shield.index.exact import KeyedExactIndex
from ncii_shield.signals.base import SignalType

MAX_LENGTH = 4096  # characters; the longest URL browsers and CDNs commonly pass is 2-8 KB
MAX_DOMAIN = 253
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_TLD = re.compile(r"(?:[a-z][a-z0-9-]*[a-z0-9]|[a-z])|xn--[a-z0-9-]+")
SPACE = re.compile(r"[\s\x00-\x1f\x7f]")


class IndicatorSignal(SignalType):
    """A service indicator: exact match on the canonical string (see the module docstring)."""

    content_types = frozenset()
    default_threshold = 0
    #: what ``validate`` accepts, for its error messages ("a domain name such as example.com")
    accepted: ClassVar[str]

    @classmethod
    def distance(cls, a: str, b: str) -> float:
        return 0 if a == b else 1

    @classmethod
    def index_factory(cls) -> Callable[[], SignalIndex]:
        return KeyedExactIndex

    @classmethod
    def _text(cls, value: object) -> str:
        """``value`` stripped, refused when it is not a string, empty, too long or holds spaces."""
        if not isinstance(value, str):
            raise InvalidSignal(f"a {cls.name} signal must be a string, got {type(value).__name__}; "
                                f"expected {cls.accepted}")
        text = value.strip()
        if not text:
            raise InvalidSignal(f"an empty {cls.name} signal; expected {cls.accepted}")
        if len(text) > MAX_LENGTH:
            raise InvalidSignal(f"a {cls.name} signal of {len(text):,} characters; expected {cls.accepted} "
                                f"of at most {MAX_LENGTH:,} characters")
        if SPACE.search(text):
            raise InvalidSignal(f"{shorten(text)!r} holds spaces or control characters; expected {cls.accepted}")
        return text

    @classmethod
    def accepts(cls, value: str) -> bool:
        try:
            cls.validate(value)
        except InvalidSignal:
            return False
        return True

    @classmethod
    def refuse(cls, text: str, why: str = "") -> InvalidSignal:
        return InvalidSignal(f"{shorten(text)!r} is not a {cls.name} signal{': ' + why if why else ''}; "
                             f"expected {cls.accepted}")


def shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def split_url(text: str):
    """``urlsplit`` of a URL with or without its scheme (``example.com/a`` reads as ``//example.com/a``).
    Raises ValueError for what urllib refuses (a bad IPv6 literal, a bad port)."""
    return urlsplit(text if _SCHEME.match(text) or text.startswith("//") else "//" + text)


def host_of(text: str) -> str | None:
    """The host of a URL in canonical form, or None when it has none we can read."""
    try:
        parts = split_url(text)
        host = parts.hostname
        parts.port
    except ValueError:
        return None
    if not host:
        return None
    return canonical_host(host)


def canonical_host(host: str) -> str | None:
    """Lower case, no trailing dot, internationalised labels as IDNA A-labels (``xn--...``)."""
    host = host.strip().rstrip(".").lower()
    if not host or len(host) > 4 * MAX_DOMAIN:
        return None
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return host


def domain_or_none(host: str | None) -> str | None:
    """``host`` if it is a domain name of two labels or more (not an IP address), else None."""
    if not host or len(host) > MAX_DOMAIN:
        return None
    labels = host.split(".")
    if len(labels) < 2 or not _TLD.fullmatch(labels[-1]):
        return None
    if not all(_LABEL.fullmatch(label) for label in labels):
        return None
    return host


def parents(domain: str) -> list[str]:
    """The domain and every parent of two labels or more: ``a.b.example.com`` gives
    ``a.b.example.com``, ``b.example.com``, ``example.com``."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]
