"""The derivative detector: is a photo an unedited re-share, or an edited copy, of a registered photo?

Registered photos (``ncii-shield protect add``, ``POST /v1/banks/{bank}/photos``) are searched by
their local features; each candidate is verified by alignment. An unedited re-share comes back as a
match (``signal_type`` "derivative", distance = 100 - score); an edited copy as a
:class:`DerivativeFlag` with the replaced region in the registered photo's pixels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ncii_shield.errors import InvalidSignal
from ncii_shield.services.matching import Match
from ncii_shield.services.uploads.detectors import DecodedUpload, Findings, Scope
from ncii_shield.signals.derivative.verify import Outcome, Upload


@dataclass(frozen=True)
class DerivativeFlag:
    """An upload that is an edited derivative of a registered photo: a part of it was replaced.

    ``edited_region`` is ``[x, y, w, h]`` in the registered photo's pixels; ``transform`` the 2 x 3
    similarity from the upload's pixels to the registered photo's; ``score`` 0-100 (confidence that
    the unedited part is the registered photo)."""

    bank: str
    signal_id: int
    score: float
    edited_region: list[int]
    mirrored: bool
    transform: list[list[float]]
    edited_share: float
    shared: bool = False

    def to_json(self) -> dict:
        return asdict(self)


class Derivatives:
    name = "derivatives"
    media = frozenset({"photo"})
    requires: frozenset[str] = frozenset()

    @staticmethod
    def wants(scope: Scope) -> bool:
        """Whether there is anything to search (a video's frames are decoded only then)."""
        index = scope.follower.indexes.get("derivative")
        return index is not None and len(index) > 0

    def detect(self, upload: DecodedUpload, scope: Scope) -> Findings:
        index = scope.follower.indexes.get("derivative")
        if index is None or len(index) == 0 or upload.photo is None:
            return Findings()
        try:
            prepared = Upload.from_rgb(upload.photo.rgb)
        except InvalidSignal:  # too small to compare: nothing can be a derivative of it
            return Findings()
        reshares, flags = [], []
        for bank, hit in scope.follower.derivative_hits(prepared, scope.visible):
            v = hit.verdict
            shared = scope.shared(bank)
            if v.outcome is Outcome.DERIVATIVE:
                flags.append(DerivativeFlag(bank.name, hit.id, round(v.score, 1), v.edited_region or [0, 0, 0, 0],
                                            v.mirrored, v.transform or [], round(v.edited_share, 3), shared))
            else:
                reshares.append(Match(0, bank.name, hit.id, "derivative", round(100.0 - v.score, 1), shared=shared,
                                      variant="mirrored" if v.mirrored else None))
        return Findings(matches=reshares, items=flags)
