"""Hash and match one item; every outcome, including failure, is a result.

    scanner = Scanner.open(ScanSettings(db_url, principal, banks=("victims",)))
    scanner.scan(item)   # {"key", "status": "exact"|"near"|"derivative"|"no_match"|"error", ...}

A worker (a process of the local pool or a Ray actor) opens one :class:`Scanner`: it builds the
indexes from a snapshot of the store (no migration, no following) and keeps them for every item.

Status: ``exact`` when the bytes' MD5 or SHA-256 is banked; ``near`` when a perceptual hash (PDQ,
its rotations with ``dihedral``, or vPDQ) is within the signal type's threshold; ``derivative``
when neither, but the derivative check (a hook, see :data:`DerivativeCheck`) finds the photo
edited from a banked one; ``no_match``; ``error`` (unreadable, refused, corrupt, undecodable: the
message says why). Results hold hashes and bank references, never the media.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from ncii_shield.errors import NciiShieldError
from ncii_shield.services.hashing import HashOptions, PhotoHashes, VideoHashes
from ncii_shield.services.keys import Principal
from ncii_shield.services.matching import Match
from ncii_shield.services.scanning.items import DEFAULT_SOURCE_LIMITS, Item, SourceLimits
from ncii_shield.signals.pdq import is_weak

log = logging.getLogger("ncii_shield.scan")

STATUSES = ("exact", "near", "derivative", "no_match", "error")
_EXACT_TYPES = ("md5", "sha256")

#: Derivative flags of registered photos (``ncii-shield protect add``) come from the matcher's
#: ``check_media``. An extra check can be plugged in: ``(photo bytes, their hashes) -> matches`` as
#: dicts with at least ``bank`` and ``signal_id``; set :attr:`Scanner.derivative` (or pass
#: ``derivative=`` to :meth:`Scanner.open`). It is asked only when nothing else matched.
DerivativeCheck = Callable[[bytes, PhotoHashes], list[dict]]


@dataclass(frozen=True)
class ScanSettings:
    """Everything a worker needs to scan; picklable, so process pools and Ray actors receive it."""

    db_url: str
    principal: Principal
    banks: tuple[str, ...] = ()  # empty: every bank the tenant can see
    dihedral: bool = False
    limits: SourceLimits = DEFAULT_SOURCE_LIMITS
    derivative: str | None = None  # "module:function" of a DerivativeCheck, imported by each worker

    def fingerprint(self) -> dict:
        from dataclasses import asdict

        return {"tenant_id": self.principal.tenant_id, "banks": sorted(self.banks), "dihedral": self.dihedral,
                "derivative": self.derivative, "limits": asdict(self.limits)}


@dataclass
class Scanner:
    settings: ScanSettings
    matcher: object  # services.matching.Matcher
    close_hook: Callable[[], None] | None = None
    derivative: DerivativeCheck | None = None
    _options: HashOptions = field(init=False)

    def __post_init__(self) -> None:
        self._options = HashOptions(dihedral=self.settings.dihedral)

    @classmethod
    def open(cls, settings: ScanSettings, derivative: DerivativeCheck | None = None) -> Scanner:
        from ncii_shield.core import Shield

        shield = Shield.open(settings.db_url, migrate=False)
        if derivative is None and settings.derivative:
            derivative = _import(settings.derivative)
        return cls(settings, shield.matcher, shield.close, derivative)

    def close(self) -> None:
        if self.close_hook:
            self.close_hook()

    def scan_many(self, items: list[Item]) -> list[dict]:
        return [self.scan(item) for item in items]

    def scan(self, item: Item) -> dict:
        result: dict = {"source": item.source, "member": item.member, "key": item.key, "status": "error",
                        "size": item.size}
        try:
            data = item.read()
            result["size"] = len(data)
            checked = self.matcher.check_media(self.settings.principal, data,  # type: ignore[attr-defined]
                                               dihedral=self.settings.dihedral, options=self._options)
        except NciiShieldError as exc:
            return {**result, "error_type": type(exc).__name__, "error": str(exc)}
        except OSError as exc:
            return {**result, "error_type": "OSError", "error": f"could not read the item ({exc.strerror or exc})"}
        except Exception as exc:  # a bug or a library failure must not stop the scan; it is logged
            log.exception("scan item failed", extra={"key": item.key})
            return {**result, "error_type": type(exc).__name__, "error": f"unexpected failure: {exc}"}
        hashes = checked.hashes
        # unedited re-shares of registered public photos are reported, but are not matches
        reshares = self._in_banks([m for m in checked.matches if m.signal_type == "derivative"])
        found = self._in_banks([m for m in checked.matches if m.signal_type != "derivative"])
        result.update(_hash_fields(hashes))
        derivatives = [d.to_json() for d in checked.derivatives  # flags of registered photos' edited copies
                       if not self.settings.banks or d.bank in self.settings.banks]
        if not found and not derivatives and self.derivative is not None and isinstance(hashes, PhotoHashes):
            try:
                derivatives = [d for d in self.derivative(data, hashes)
                               if not self.settings.banks or d.get("bank") in self.settings.banks]
            except Exception as exc:  # the photo's hashes stand; the check's failure is reported
                result["derivative_error"] = f"{type(exc).__name__}: {exc}"
        result["status"] = _status(found, derivatives)
        result["matches"] = [_match_json(m) for m in found] + [{"signal_type": "derivative", **d} for d in derivatives]
        if reshares:
            result["reshares"] = [_match_json(m) for m in reshares]
        return result

    def _in_banks(self, found: list[Match]) -> list[Match]:
        wanted = set(self.settings.banks)
        unique: dict[tuple, Match] = {}
        for m in found:
            if not wanted or m.bank in wanted:
                unique.setdefault((m.signal_id, m.variant), m)
        return sorted(unique.values(), key=lambda m: (m.signal_type, m.distance, m.signal_id, m.variant or ""))


def _status(found: list[Match], derivatives: list[dict]) -> str:
    if any(m.signal_type in _EXACT_TYPES for m in found):
        return "exact"
    if found:
        return "near"
    return "derivative" if derivatives else "no_match"


def _hash_fields(hashes: PhotoHashes | VideoHashes) -> dict:
    if isinstance(hashes, PhotoHashes):
        out = {"content_type": "photo", "md5": hashes.md5, "sha256": hashes.sha256, "pdq": hashes.pdq,
               "pdq_quality": hashes.pdq_quality}
        if is_weak(hashes.pdq_quality):
            out["weak"] = True
        return out
    return {"content_type": "video", "md5": hashes.md5, "sha256": hashes.sha256, "vpdq_frames": len(hashes.frames)}


def _import(path: str) -> DerivativeCheck:
    import importlib

    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _match_json(match: Match) -> dict:
    out = match.to_json()
    out.pop("query", None)
    return out
