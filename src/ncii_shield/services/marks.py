"""Registering a service's visible mark (logo, watermark) in a bank: its signature is computed in
memory from the mark image, and uploads showing the mark anywhere are then flagged.

A mark is a service's own logo or watermark, never a person's image: a cut-out with transparency
(PNG, WebP) works best; without transparency the mark is taken to be what differs from a plain
border, or the whole image when the border is not plain::

    result = MarkService(shield.banks).add(principal, "nudify-services", "logo.png", data,
                                           label="nudify.example free-tier watermark")
    result.signal_id, result.keypoints
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ncii_shield.services.banks import BankService, SignalInput
from ncii_shield.services.keys import Principal
from ncii_shield.signals.marks import template as T
from ncii_shield.signals.marks.signal import MarkSignal


@dataclass
class MarkRegistration:
    """A registered mark. ``name`` (the file's name) is only echoed back, never stored."""

    name: str
    signal_id: int
    label: str
    width: int  # the mark's covered part in the image given, pixels
    height: int
    keypoints: int

    def to_json(self) -> dict:
        return asdict(self)


def mark_signature(data: bytes, label: str) -> T.MarkTemplate:
    """The template of a mark file held in memory; raises a MediaError or InvalidSignal saying why."""
    return T.template_from_rgba(T.decode_mark_image(data), label)


class MarkService:
    def __init__(self, banks: BankService) -> None:
        self.banks = banks

    def add(self, principal: Principal, bank: str, name: str, data: bytes, *, label: str) -> MarkRegistration:
        """Register one mark into ``bank`` (scope ``bank:write``; the bank must be the caller's).
        Registering the same mark with the same label again is idempotent."""
        principal.require("bank:write")
        template = mark_signature(data, label)
        meta = {"label": template.label, "width": template.width, "height": template.height,
                "keypoints": len(template.keypoints.descriptors)}
        (row,) = self.banks.add(principal, bank, [SignalInput(MarkSignal.name, T.encode(template), meta)])
        return MarkRegistration(name, row.id, template.label, template.width, template.height, meta["keypoints"])
