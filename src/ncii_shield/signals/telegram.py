"""A public Telegram username: a bot, channel, group or user, as ``@name`` or a ``t.me`` link.

Usernames are case-insensitive; the canonical form is the lower-case name without ``@``. Accepted
spellings: ``@Name``, ``Name``, ``t.me/Name``, ``https://t.me/s/Name`` (the web preview),
``https://t.me/Name/123`` (a post), ``telegram.me/Name``, ``telegram.dog/Name``, ``Name.t.me`` and
``tg://resolve?domain=Name``. A name is 5-32 characters of a-z, 0-9 and ``_``, starting with a
letter and not ending with ``_`` (Telegram's rule). Invite links (``t.me/+...``, ``t.me/joinchat/``)
and Telegram's own paths (``t.me/share``, ``t.me/addstickers``, ...) name no username.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from ncii_shield.signals.indicator import IndicatorSignal, canonical_host, split_url

_NAME = re.compile(r"[a-z][a-z0-9_]{3,30}[a-z0-9]")
HOSTS = frozenset({"t.me", "telegram.me", "telegram.dog", "www.t.me", "www.telegram.me", "www.telegram.dog"})
#: first path segments of t.me that are Telegram's own pages, not usernames
RESERVED = frozenset({"joinchat", "addstickers", "addemoji", "addtheme", "addlist", "share", "proxy", "socks",
                      "setlanguage", "login", "confirmphone", "iv", "bg", "invoice", "boost", "contact", "giftcode",
                      "privatepost", "s", "c"})


def handle_from_url(text: str) -> str | None:
    """The username a Telegram link points at (``t.me/name``, ``name.t.me``, ``tg://resolve``), or None."""
    try:
        parts = split_url(text)
        host = canonical_host(parts.hostname or "")
    except ValueError:
        return None
    if parts.scheme.lower() == "tg":
        if (parts.netloc or "").lower() != "resolve":
            return None
        names = parse_qs(parts.query).get("domain", [])
        return _name(names[0]) if names else None
    if host is None:
        return None
    if host in HOSTS:
        segments = [s for s in parts.path.split("/") if s]
        if segments and segments[0].lower() == "s":  # the web preview of a channel
            segments = segments[1:]
        if not segments or segments[0].lower() in RESERVED:
            return None
        return _name(segments[0])
    if host.endswith(".t.me") and host.count(".") == 2:
        return _name(host.split(".")[0])
    return None


def _name(text: str) -> str | None:
    name = text.lower()
    return name if _NAME.fullmatch(name) and name not in RESERVED else None


class TelegramSignal(IndicatorSignal):
    name = "telegram"
    accepted = "a Telegram username (5-32 of a-z, 0-9, '_', starting with a letter) as @name or t.me/name"
    examples = ("nudify_example_bot", "undressexamplechannel")
    description = "a public Telegram username (bot, channel, group), case-insensitive, stored as lower-case name"

    @classmethod
    def validate(cls, value: str) -> str:
        text = cls._text(value)
        if text.startswith("@"):
            name = _name(text[1:])
        elif "/" in text or "." in text or ":" in text:
            name = handle_from_url(text)
        else:
            name = _name(text)
        if name is None:
            raise cls.refuse(text)
        return name
