"""Parsing of fixed-length hexadecimal hash strings, shared by PDQ, MD5 and SHA-256."""

from __future__ import annotations

import string

from ncii_shield.errors import InvalidSignal

_HEX = frozenset(string.hexdigits)


def parse_hex(value: object, *, digits: int, kind: str) -> str:
    """Return ``value`` stripped and lower-cased, or raise InvalidSignal saying what is accepted."""
    if not isinstance(value, str):
        raise InvalidSignal(f"a {kind} hash must be a string of {digits} hex digits, got {type(value).__name__}")
    text = value.strip().lower()
    if len(text) != digits or not _HEX.issuperset(text):
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise InvalidSignal(
            f"{shown!r} is not a {kind} hash; expected exactly {digits} hexadecimal digits (0-9, a-f)"
        )
    return text
