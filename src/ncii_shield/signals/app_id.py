"""An app's identity in a store: an Android package name, an iOS bundle id, or an App Store id.

Canonical forms, lower case:

* Android package / iOS bundle id: reverse-DNS, two segments or more, e.g. ``com.example.undress``
  (a-z, 0-9, ``_`` and ``-``; the first segment starts with a letter). Android's package names are
  case-sensitive in principle but no store lists two that differ only in case: lower case catches
  the re-upload that changes case.
* Apple App Store id: ``id`` and 5-12 digits, e.g. ``id1234567890``.

Store links are read too: ``https://play.google.com/store/apps/details?id=com.example.app``,
``market://details?id=...``, ``https://apps.apple.com/us/app/name/id1234567890`` (and
``itunes.apple.com``).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from ncii_shield.signals.indicator import MAX_DOMAIN, IndicatorSignal, canonical_host, split_url

_PACKAGE = re.compile(r"[a-z][a-z0-9_-]*(?:\.[a-z0-9_][a-z0-9_-]*)+")
_APPLE = re.compile(r"id(\d{5,12})")
PLAY_HOSTS = frozenset({"play.google.com", "market.android.com"})
APPLE_HOSTS = frozenset({"apps.apple.com", "itunes.apple.com"})


def app_id_from_url(text: str) -> str | None:
    """The app a store link points at, in canonical form, or None when it is not a store link."""
    try:
        parts = split_url(text)
        host = canonical_host(parts.hostname or "") if parts.hostname else None
    except ValueError:
        return None
    if parts.scheme.lower() == "market" or host in PLAY_HOSTS:
        if host in PLAY_HOSTS and "/store/apps/details" not in parts.path.lower() and "/details" not in parts.path:
            return None
        ids = parse_qs(parts.query).get("id", [])
        return package_or_none(ids[0]) if ids else None
    if host in APPLE_HOSTS:
        for segment in reversed([s for s in parts.path.split("/") if s]):
            found = _APPLE.fullmatch(segment.lower())
            if found:
                return "id" + found.group(1)
        return None
    return None


def package_or_none(text: str) -> str | None:
    name = text.strip().lower()
    if len(name) > MAX_DOMAIN or not _PACKAGE.fullmatch(name):
        return None
    return name


class AppIdSignal(IndicatorSignal):
    name = "app_id"
    accepted = ("an app id: a package or bundle id such as com.example.app, an App Store id such as "
                "id1234567890, or a Google Play or App Store link")
    examples = ("com.example.undress", "id1234567890", "ai.nudify-example.ios")
    description = "an app store id (Android package, iOS bundle id, or App Store idNNN); exact match, lower case"

    @classmethod
    def validate(cls, value: str) -> str:
        text = cls._text(value)
        lowered = text.lower()
        found = _APPLE.fullmatch(lowered)
        if found:
            return "id" + found.group(1)
        if "/" in text or ":" in text:
            app = app_id_from_url(text)
        else:
            app = package_or_none(text)
        if app is None:
            raise cls.refuse(text)
        return app
