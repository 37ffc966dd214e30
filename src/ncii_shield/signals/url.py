"""A URL, as python-threatexchange's ``url`` signal type exchanges it.

The value is kept as its sender wrote it, stripped (pytx's ``validate_signal_str``), so it goes back
out unchanged; it *matches* by :func:`normalize_url`, the normalisation pytx's ``url_md5`` hashes:
lower case, the scheme and its ``://`` removed, then urllib's re-assembly (an empty ``?`` or ``#``
dropped). ``https://Example.com/A`` and ``http://example.com/a`` are therefore one entry's matches.
A value must name a host (a domain name or an IP address); other text is refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import urlparse

from ncii_shield.index.base import SignalIndex
from ncii_shield.index.exact import KeyedExactIndex
from ncii_shield.signals.indicator import IndicatorSignal, domain_or_none, host_of


def normalize_url(url: str) -> str:
    """python-threatexchange's ``common.normalize_url`` (1.2.x), as text (pytx returns its UTF-8
    bytes): line for line the same steps, so its quirks are ours too (only the first ``scheme://``
    is removed, wherever it is). Raises ValueError where urllib does (a bad IPv6 literal)."""
    url = url.lower()
    parsed = urlparse(url)
    scheme = "%s://" % parsed.scheme  # noqa: UP031 - pytx's own line
    return parsed.geturl().replace(scheme, "", 1)


@lru_cache(maxsize=1 << 16)
def normal_or_none(url: str) -> str | None:
    """:func:`normalize_url`, or None where urllib refuses the URL. Cached (65,536 URLs at most): a
    scan normalises each form of a URL once to build its lookups, and the ``url`` index normalises
    the same strings again when it is queried."""
    try:
        return normalize_url(url)
    except ValueError:
        return None


def url_key(url: str) -> str:
    """The index key of a URL: :func:`normalize_url`, or the lower-cased text where urllib refuses it."""
    normal = normal_or_none(url)
    return url.lower() if normal is None else normal


def _has_host(text: str) -> bool:
    host = host_of(text)
    if host is None:
        return False
    if domain_or_none(host):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class UrlSignal(IndicatorSignal):
    name = "url"
    accepted = "a URL with a host, such as https://example.com/path or example.com/path"
    examples = ("https://developers.facebook.com/docs/threat-exchange/reference/apis/", "www.facebook.com",
                "HTTPS://Nudify.Example/Pricing?ref=tg")
    description = "a URL as python-threatexchange's url type; matches by its normal form (lower case, no scheme)"

    @classmethod
    def validate(cls, value: str) -> str:
        text = cls._text(value)
        if not _has_host(text):
            raise cls.refuse(text, "no host name or IP address in it")
        try:
            normalize_url(text)
        except ValueError as exc:
            raise cls.refuse(text, str(exc)) from None
        return text

    @classmethod
    def index_factory(cls) -> Callable[[], SignalIndex]:
        return lambda: KeyedExactIndex(url_key)
