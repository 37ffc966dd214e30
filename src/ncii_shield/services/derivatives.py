"""Registering photos for derivative protection: a signature is computed in memory, the photo dropped.

A support organisation (a key with ``bank:write``) or the CLI registers the public photos a person
fears will be abused; uploads that are edited derivatives of them are then flagged by the matcher
(:meth:`~ncii_shield.services.matching.Matcher.check_media`). Photos too plain to recognise at all
(flat, blurred, tiny) are reported and not stored; photos with little detail are stored with a
``warning`` that their protection is limited::

    results = shield.derivatives.register(principal, "protected", [("me.jpg", data)])
    results[0].status   # "registered" | "too_plain" | "error"
    results[0].warning  # None, or why edited copies of this photo may be missed
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ncii_shield.errors import InvalidRequest, InvalidSignal, MediaError, TooLarge
from ncii_shield.media.decode import DEFAULT_LIMITS, PhotoLimits, decode_photo
from ncii_shield.media.sniff import ContentType, sniff_content_type
from ncii_shield.services.banks import BankService, SignalInput
from ncii_shield.services.cases import MAX_CASE_ITEMS, CaseRef, CaseService
from ncii_shield.services.keys import Principal
from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative.signal import DerivativeSignal

MAX_PHOTOS = 50  # per call


@dataclass
class Registration:
    """What became of one photo. ``name`` is only echoed back, never stored."""

    name: str
    status: str  # registered | too_plain | error
    signal_id: int | None = None
    reason: str | None = None
    keypoints: int | None = None
    warning: str | None = None  # registered, but little detail: edited copies may be missed

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Signature:
    value: str
    keypoints: int
    plain: str | None  # why it is too plain to protect, or None
    weak: str | None = None  # why its protection is limited, or None


def signature_of(data: bytes, *, limits: PhotoLimits = DEFAULT_LIMITS) -> Signature:
    """The derivative signature of a photo held in memory; raises a MediaError or InvalidSignal."""
    if sniff_content_type(data[:512]) is ContentType.VIDEO:
        raise InvalidRequest("derivative protection takes photos, not videos")
    photo = decode_photo(data, limits=limits)
    features = F.photo_features(photo.rgb)
    return Signature(F.encode(features), len(features.points), F.plain_reason(features), F.weak_reason(features))


class DerivativeService:
    def __init__(self, banks: BankService) -> None:
        self.banks = banks

    def register(self, principal: Principal, bank: str, photos: list[tuple[str, bytes]], *,
                 limits: PhotoLimits = DEFAULT_LIMITS) -> list[Registration]:
        """Register photos into ``bank`` (scope ``bank:write``). Each photo gets its own result; the
        valid ones are stored together (all or nothing), re-registering a photo is idempotent."""
        principal.require("bank:write")

        def store(items: list[SignalInput]) -> list[int]:
            return [row.id for row in self.banks.add(principal, bank, items)]

        return self._register(photos, limits, store)

    @staticmethod
    def check_case_room(case: CaseRef, photos: int) -> None:
        """Before reading or decoding anything: the photos must fit in the case (each photo is an item)."""
        if photos > MAX_PHOTOS:
            raise TooLarge(f"{photos} photos in one call; at most {MAX_PHOTOS} are accepted")
        if case.items + photos > MAX_CASE_ITEMS:
            raise TooLarge(f"a case holds at most {MAX_CASE_ITEMS} items (hashes and photos, over every request); "
                           f"the case holds {case.items} and this adds {photos} photos")

    def register_for_case(self, cases: CaseService, case: CaseRef, photos: list[tuple[str, bytes]],
                          *, limits: PhotoLimits = DEFAULT_LIMITS) -> list[Registration]:
        """Register a person's photos into their own case, authorised first (:meth:`CaseService.authorise`:
        a wrong PIN costs no decoding); they are withdrawn with the case."""
        self.check_case_room(case, len(photos))

        def store(items: list[SignalInput]) -> list[None]:
            cases.add_to(case, items)
            return [None] * len(items)

        return self._register(photos, limits, store)

    def _register(self, photos: list[tuple[str, bytes]], limits: PhotoLimits, store) -> list[Registration]:  # noqa: ANN001
        if not photos:
            raise InvalidRequest("no photos given; send one or more photo files")
        if len(photos) > MAX_PHOTOS:
            raise TooLarge(f"{len(photos)} photos in one call; at most {MAX_PHOTOS} are accepted")
        results: list[Registration] = []
        to_store: list[tuple[Registration, Signature]] = []
        for name, data in photos:
            try:
                sig = signature_of(data, limits=limits)
            except (MediaError, InvalidSignal, InvalidRequest) as exc:
                results.append(Registration(name, "error", reason=str(exc)))
                continue
            if sig.plain:
                results.append(Registration(name, "too_plain", reason=sig.plain, keypoints=sig.keypoints))
                continue
            result = Registration(name, "registered", keypoints=sig.keypoints, warning=sig.weak)
            results.append(result)
            to_store.append((result, sig))
        if to_store:
            ids = store([SignalInput(DerivativeSignal.name, sig.value, {"keypoints": sig.keypoints})
                         for _, sig in to_store])
            for (result, _), signal_id in zip(to_store, ids):
                result.signal_id = signal_id
        return results
