"""The derivative detector: is a photo an unedited re-share, or an edited copy, of a registered photo?

Registered photos (``ncii-shield protect add``, ``POST /v1/banks/{bank}/photos``) are searched by
their local features; each candidate is verified by alignment. An unedited re-share comes back as a
match (``signal_type`` "derivative", distance = 100 - score); an edited copy as a
:class:`DerivativeFlag` with the replaced region in the registered photo's pixels.

An upload can hold several pictures (a before/after collage, a grid, a meme frame): every
instance of a registered photo is verified on its own (:mod:`ncii_shield.signals.derivative.instances`)
and every edited instance is flagged with its box in the upload, even when the unedited photo is
beside it. A registered photo with no edited instance is one re-share match.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ncii_shield.errors import InvalidSignal
from ncii_shield.services.matching import Match
from ncii_shield.services.uploads.detectors import DecodedUpload, Findings, Scope
from ncii_shield.signals.derivative.instances import find_instances
from ncii_shield.signals.derivative.verify import Outcome, Upload


@dataclass(frozen=True)
class DerivativeFlag:
    """An upload that is an edited derivative of a registered photo: a part of it was replaced.

    ``edited_region`` is ``[x, y, w, h]`` in the registered photo's pixels; ``transform`` the 2 x 3
    similarity from the upload's pixels to the registered photo's; ``score`` 0-100 (confidence that
    the unedited part is the registered photo).

    Evidence for a reviewer, in the upload's own pixels (``upload_size`` = [width, height] of the
    photo that was checked): ``instance_box`` [x, y, w, h], where in the upload the edited instance
    lies (one picture of a collage, or the whole photo); ``edited_outline``, the edited region's
    four corners; ``unedited_boxes``, other instances of the same registered photo that are
    unedited (the original beside its fake)."""

    bank: str
    signal_id: int
    score: float
    edited_region: list[int]
    mirrored: bool
    transform: list[list[float]]
    edited_share: float
    shared: bool = False
    instance_box: list[int] | None = None
    edited_outline: list[list[float]] | None = None
    upload_size: list[int] | None = None
    unedited_boxes: list[list[int]] | None = None

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
        rgb = upload.photo.rgb
        found = find_instances(rgb, prepared, lambda part: scope.follower.derivative_hits(part, scope.visible))
        size = [int(rgb.shape[1]), int(rgb.shape[0])]
        flagged = {inst.id for inst in found if inst.verdict.outcome is Outcome.DERIVATIVE}
        reshares, flags, seen = [], [], set()
        for inst in found:
            v, bank = inst.verdict, inst.tag
            shared = scope.shared(bank)
            if v.outcome is Outcome.DERIVATIVE:
                unedited = [i.verdict.instance_box for i in found if i.id == inst.id and i.verdict.instance_box
                            and i.verdict.outcome is Outcome.RESHARE]
                flags.append(DerivativeFlag(bank.name, inst.id, round(v.score, 1), v.edited_region or [0, 0, 0, 0],
                                            v.mirrored, v.transform or [], round(v.edited_share, 3), shared,
                                            v.instance_box, v.edited_outline, size, unedited))
            elif inst.id not in flagged and inst.id not in seen:  # one re-share match per registered photo
                seen.add(inst.id)
                reshares.append(Match(0, bank.name, inst.id, "derivative", round(100.0 - v.score, 1), shared=shared,
                                      variant="mirrored" if v.mirrored else None))
        return Findings(matches=reshares, items=flags)
