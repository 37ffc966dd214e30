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


def parse_hex_many(values: list[str], *, digits: int, kind: str) -> list[str]:
    """:func:`parse_hex` for a batch: when every value is already ``digits`` hex digits (the usual
    case: a platform sends its hashes as it computed them), one check over the joined string
    instead of one per value; otherwise value by value, so the error is the same."""
    try:
        text = "".join(values).lower()
    except TypeError:  # a value is not a string
        text = ""
    if len(text) == digits * len(values) and all(len(v) == digits for v in values):
        try:
            raw = bytes.fromhex(text)  # raises on anything but hex digits and spaces between pairs
        except ValueError:
            raw = b""
        if 2 * len(raw) == len(text):  # no spaces either
            return [text[i:i + digits] for i in range(0, len(text), digits)]
    return [parse_hex(v, digits=digits, kind=kind) for v in values]
