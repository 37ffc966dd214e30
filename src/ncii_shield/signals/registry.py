"""The explicit list of signal types. Adding a type: one module and one line here."""

from __future__ import annotations

from ncii_shield.errors import UnknownSignalType
from ncii_shield.signals.app_id import AppIdSignal
from ncii_shield.signals.base import SignalType
from ncii_shield.signals.derivative.signal import DerivativeSignal
from ncii_shield.signals.domain import DomainSignal
from ncii_shield.signals.marks.signal import MarkSignal
from ncii_shield.signals.md5 import Md5Signal
from ncii_shield.signals.pdq import PdqSignal
from ncii_shield.signals.sha256 import Sha256Signal
from ncii_shield.signals.telegram import TelegramSignal
from ncii_shield.signals.url import UrlSignal
from ncii_shield.signals.url_md5 import UrlMd5Signal
from ncii_shield.signals.vpdq import VpdqSignal

SIGNAL_TYPES: tuple[type[SignalType], ...] = (
    PdqSignal, VpdqSignal, Md5Signal, Sha256Signal, DerivativeSignal,
    UrlSignal, UrlMd5Signal, DomainSignal, TelegramSignal, AppIdSignal,  # service indicators
    MarkSignal,  # service marks (visible logos and watermarks)
)


def _by_name(types: tuple[type[SignalType], ...]) -> dict[str, type[SignalType]]:
    names = [t.name for t in types]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"signal type names must be unique; repeated: {sorted(duplicates)}")
    return {t.name: t for t in types}


_BY_NAME = _by_name(SIGNAL_TYPES)


def names() -> list[str]:
    return list(_BY_NAME)


def get(name: str) -> type[SignalType]:
    """The signal type called ``name``; raises UnknownSignalType listing the accepted names."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise UnknownSignalType(
            f"unknown signal type {name!r}; accepted: {', '.join(_BY_NAME)}"
        ) from None
