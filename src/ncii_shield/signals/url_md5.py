"""MD5 of a normalised URL, as python-threatexchange's ``url_md5`` signal type exchanges it.

``hash_url`` is pytx's ``UrlMD5Signal.hash_from_str``: the MD5 of the UTF-8 bytes of
:func:`~ncii_shield.signals.url.normalize_url` (lower case, scheme removed), 32 hex digits.
"""

from __future__ import annotations

import hashlib

from ncii_shield.errors import InvalidSignal
from ncii_shield.signals._hex import parse_hex, parse_hex_many
from ncii_shield.signals.indicator import IndicatorSignal
from ncii_shield.signals.url import normalize_url


def hash_url(url: str) -> str:
    """The ``url_md5`` of a URL; raises InvalidSignal where urllib refuses the URL."""
    try:
        normal = normalize_url(url)
    except ValueError as exc:
        raise InvalidSignal(f"cannot normalise the URL {url[:80]!r}: {exc}") from None
    return hashlib.md5(normal.encode("utf-8"), usedforsecurity=False).hexdigest()


class UrlMd5Signal(IndicatorSignal):
    name = "url_md5"
    accepted = "32 hexadecimal digits, the MD5 of a normalised URL"
    examples = (hash_url("https://developers.facebook.com/docs/threat-exchange/reference/apis/"),
                hash_url("https://nudify.example/pricing"))
    description = "MD5 of a URL normalised as python-threatexchange does (32 hex digits); exact match only"

    @classmethod
    def validate(cls, value: str) -> str:
        return parse_hex(value, digits=32, kind="url_md5")

    @classmethod
    def validate_many(cls, values: list[str]) -> list[str]:
        return parse_hex_many(values, digits=32, kind="url_md5")
