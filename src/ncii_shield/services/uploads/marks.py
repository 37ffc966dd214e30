"""The marks detector: does a photo show a known service's visible mark (logo, watermark)?

Marks are registered with ``ncii-shield marks add`` or ``POST /v1/banks/{bank}/marks``; every
visible bank's marks are searched at once through :class:`~ncii_shield.index.marks.MarkIndex`.
A flag says the image went through that service; it never says who is shown, and a missing mark
proves nothing (see docs/marks.md). The policy sends a mark to review, never to removal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ncii_shield.index.follower import BankInfo, IndexFollower
from ncii_shield.services.uploads.detectors import DecodedUpload, Findings, Scope
from ncii_shield.signals.marks.search import UploadFrame


@dataclass(frozen=True)
class MarkFlag:
    """A registered mark seen in an upload. ``box`` is ``[x, y, w, h]`` in the upload's pixels,
    ``score`` 0-100 (the weakest correlation of the mark's edge orientations with the upload's
    among the mark's parts, there)."""

    bank: str
    signal_id: int
    label: str
    score: float
    box: list[int]
    shared: bool = False

    def to_json(self) -> dict:
        return asdict(self)


class Marks:
    name = "marks"
    media = frozenset({"photo"})
    requires: frozenset[str] = frozenset()

    def detect(self, upload: DecodedUpload, scope: Scope) -> Findings:
        index = scope.follower.indexes.get("mark")
        if index is None or len(index) == 0 or upload.photo is None:
            return Findings()
        follower = scope.follower

        def bank_of(signal_id: int) -> BankInfo | None:
            bank_id = follower.bank_id_of(signal_id)
            return None if bank_id is None else follower.banks.get(bank_id)

        def allowed(signal_id: int) -> bool:
            bank = bank_of(signal_id)
            return bank is not None and scope.visible(bank)

        flags = []
        for found in index.find(UploadFrame.from_rgb(upload.photo.rgb), allowed):  # type: ignore[attr-defined]
            bank = bank_of(found.id)
            if bank is None:  # withdrawn while searching
                continue
            flags.append(MarkFlag(bank.name, found.id, found.label, round(100 * found.score, 1), found.box,
                                  scope.shared(bank)))
        return Findings(items=flags)


def detector(follower: IndexFollower) -> Marks:
    """The pipeline's plug-in entry point: marks are searched whenever any are registered."""
    return Marks()
