"""Hash and match one item; every outcome, including failure, is a result.

    scanner = Scanner.open(ScanSettings(db_url, principal, banks=("victims",)))
    scanner.scan(item)   # {"key", "status": "exact"|"near"|"derivative"|"no_match"|"error", ...}

A worker (a process of the local pool or a Ray actor) opens one :class:`Scanner`: it builds the
indexes from a snapshot of the store (no migration, no following) and keeps them for every item.

Each item goes through the one upload pipeline (:mod:`ncii_shield.services.uploads`), as an API
upload does. Status: ``exact`` when the bytes' MD5 or SHA-256 is banked; ``near`` when a
perceptual hash (PDQ, its rotations with ``dihedral``, or vPDQ) is within the signal type's
threshold; ``derivative`` when neither, but the photo is an edited copy of a registered photo (or
the extra check, a hook, see :data:`DerivativeCheck`, says so); ``flagged`` when only another
detector found something (a service's mark, an enrolled face in explicit content); ``no_match``;
``error`` (unreadable, refused, corrupt, undecodable: the message says why). Results hold hashes,
bank references and findings, never the media.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from ncii_shield.errors import NciiShieldError
from ncii_shield.services.hashing import HashOptions, PhotoHashes, VideoHashes
from ncii_shield.services.keys import Principal
from ncii_shield.services.matching import Match
from ncii_shield.services.uploads.pipeline import CheckOptions, UploadPipeline
from ncii_shield.services.scanning.items import DEFAULT_SOURCE_LIMITS, Item, SourceLimits
from ncii_shield.signals.pdq import is_weak

log = logging.getLogger("ncii_shield.scan")

STATUSES = ("exact", "near", "derivative", "flagged", "no_match", "error")
FOUND = ("exact", "near", "derivative", "flagged")  # statuses a person should look at
_EXACT_TYPES = ("md5", "sha256")

#: Derivative flags of registered photos (``ncii-shield protect add``) come from the upload pipeline. An extra check can be plugged in: ``(photo bytes, their hashes) -> matches`` as
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
    explicit: bool = False  # the source holds sexual content: enrolled faces are searched (likeness)

    def fingerprint(self) -> dict:
        from dataclasses import asdict

        out = {"tenant_id": self.principal.tenant_id, "banks": sorted(self.banks), "dihedral": self.dihedral,
               "derivative": self.derivative, "limits": asdict(self.limits)}
        if self.explicit:  # only when set, so checkpoints written before the flag existed still resume
            out["explicit"] = True
        return out


@dataclass
class Scanner:
    settings: ScanSettings
    pipeline: UploadPipeline
    close_hook: Callable[[], None] | None = None
    derivative: DerivativeCheck | None = None
    _options: CheckOptions = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        self._options = CheckOptions(dihedral=s.dihedral, explicit=s.explicit, banks=s.banks,
                                     hash_options=HashOptions(dihedral=s.dihedral))

    @classmethod
    def open(cls, settings: ScanSettings, derivative: DerivativeCheck | None = None) -> Scanner:
        from ncii_shield.core import Shield

        shield = Shield.open(settings.db_url, migrate=False)
        if derivative is None and settings.derivative:
            derivative = _import(settings.derivative)
        return cls(settings, shield.uploads, shield.close, derivative)

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
            verdict = self.pipeline.check(self.settings.principal, data, self._options)
        except NciiShieldError as exc:
            return {**result, "error_type": type(exc).__name__, "error": str(exc)}
        except OSError as exc:
            return {**result, "error_type": "OSError", "error": f"could not read the item ({exc.strerror or exc})"}
        except Exception as exc:  # a bug or a library failure must not stop the scan; it is logged
            log.exception("scan item failed", extra={"key": item.key})
            return {**result, "error_type": type(exc).__name__, "error": f"unexpected failure: {exc}"}
        hashes = verdict.hashes
        # unedited re-shares of registered public photos are reported, but are not matches
        reshares = self._unique([m for m in verdict.matches if m.signal_type == "derivative"])
        found = self._unique([m for m in verdict.matches if m.signal_type != "derivative"])
        result.update(_hash_fields(hashes))
        derivatives = [d.to_json() for d in verdict.derivatives]  # flags of registered photos' edited copies
        checked_apart = False  # derivative flags from the separate check: the pipeline's decision did not see them
        if not found and not derivatives and self.derivative is not None and isinstance(hashes, PhotoHashes):
            try:
                derivatives = [d for d in self.derivative(data, hashes)
                               if not self.settings.banks or d.get("bank") in self.settings.banks]
                checked_apart = bool(derivatives)
            except Exception as exc:  # the photo's hashes stand; the check's failure is reported
                result["derivative_error"] = f"{type(exc).__name__}: {exc}"
        flags = {name: [f.to_json() for f in items] for name, items in verdict.items.items()
                 if name != "derivatives" and items}
        result["status"] = _status(found, derivatives, flags)
        result["matches"] = [_match_json(m) for m in found] + [{"signal_type": "derivative", **d} for d in derivatives]
        if reshares:
            result["reshares"] = [_match_json(m) for m in reshares]
        result.update(flags)
        for name, summary in verdict.summaries.items():
            result[name] = summary.to_json() if hasattr(summary, "to_json") else summary
        # the pipeline's decision under the tenant's rules, also when it was not to queue (a mark the
        # tenant observes only): a monitor queues what the scan found only as that decision says
        if verdict.review.queue or (result["status"] != "no_match" and not checked_apart):
            result["review"] = verdict.review.to_json()
        return result

    @staticmethod
    def _unique(found: list[Match]) -> list[Match]:
        unique: dict[tuple, Match] = {}
        for m in found:
            unique.setdefault((m.signal_id, m.variant), m)
        return sorted(unique.values(), key=lambda m: (m.signal_type, m.distance, m.signal_id, m.variant or ""))


def _status(found: list[Match], derivatives: list[dict], flags: dict[str, list]) -> str:
    if any(m.signal_type in _EXACT_TYPES for m in found):
        return "exact"
    if found:
        return "near"
    if derivatives:
        return "derivative"
    return "flagged" if flags else "no_match"


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
