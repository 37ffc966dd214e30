"""Matching: hash strings or uploaded media against every bank a tenant can see.

In-process use (no HTTP)::

    shield = Shield.open("sqlite:///data/ncii-shield.db")
    who = shield.local_principal("default")
    shield.matcher.match(who, [SignalInput("pdq", "f8f8f0ce...")])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

from ncii_shield.errors import InvalidRequest, InvalidSignal
from ncii_shield.index.follower import BankInfo, Hit, IndexFollower
from ncii_shield.media.decode import DecodedPhoto, decode_photo
from ncii_shield.media.sniff import ContentType, sniff_content_type
from ncii_shield.services.banks import SignalInput, canonical, check_batch
from ncii_shield.services.hashing import HashOptions, PhotoHashes, VideoHashes, hash_bytes, hash_decoded_photo
from ncii_shield.services.keys import Principal
from ncii_shield.signals import registry
from ncii_shield.signals.derivative.verify import Outcome, Upload
from ncii_shield.signals.pdq import is_weak


@dataclass(frozen=True)
class Match:
    query: int
    bank: str
    signal_id: int
    signal_type: str
    distance: float
    shared: bool = False
    variant: str | None = None
    query_share: float | None = None  # vPDQ: % of the query's frames found in the stored video
    compared_share: float | None = None  # vPDQ: % of the stored video's frames found in the query

    def to_json(self) -> dict:
        return {k: v for k in _MATCH_FIELDS if (v := getattr(self, k)) is not None}


_MATCH_FIELDS = tuple(f.name for f in fields(Match))


class Matcher:
    def __init__(self, follower: IndexFollower) -> None:
        self.follower = follower

    def match(self, principal: Principal, queries: Sequence[SignalInput], *,
              threshold: float | None = None) -> list[Match]:
        """Match hash strings (anything with ``signal_type`` and ``value``) against every bank the
        key can see; each match names the query (its position in ``queries``) it answers."""
        return self.match_values(principal, [q.signal_type for q in queries], [q.value for q in queries],
                                 threshold=threshold)

    def match_values(self, principal: Principal, signal_types: Sequence[str], values: Sequence[str], *,
                     threshold: float | None = None) -> list[Match]:
        """:meth:`match` for queries given as two parallel lists. A batch is validated and searched
        per signal type in one pass, without an object per query."""
        principal.require("match")
        check_batch(values)
        if len(values) == 1:
            q = canonical(SignalInput(signal_types[0], values[0]))
            return self._lookup(principal, 0, q.signal_type, q.value, threshold)
        by_type: dict[str, Sequence[int]] = {}
        if len(set(signal_types)) == 1:
            by_type[signal_types[0]] = range(len(values))
        else:
            for i, signal_type in enumerate(signal_types):
                by_type.setdefault(signal_type, []).append(i)  # type: ignore[attr-defined]
        batches = []
        try:
            for signal_type, positions in by_type.items():
                kind = registry.get(signal_type)
                batches.append((kind.name, positions, kind.validate_many([values[i] for i in positions])))
        except Exception:  # name the first bad query, as checking them one by one does
            for i, (signal_type, value) in enumerate(zip(signal_types, values)):
                canonical(SignalInput(signal_type, value), i)
            raise
        matches: list[Match] = []
        for signal_type, positions, checked in batches:
            limit = self._limit(signal_type, threshold)
            query, ids, distance, bank_ids = self.follower.query_arrays(signal_type, checked, limit)
            banks = self.follower.banks
            for q, signal_id, d, bank_id in zip(query.tolist(), ids.tolist(), distance.tolist(), bank_ids.tolist()):
                bank = banks.get(bank_id)
                if bank is not None and self._visible_bank(bank, principal):
                    m = Match(positions[q], bank.name, signal_id, signal_type, d,
                              shared=bank.tenant_id != principal.tenant_id)
                    matches.append(self._with_shares(m, checked[q]) if signal_type == "vpdq" else m)
        matches.sort(key=lambda m: (m.query, m.distance, m.signal_id))
        return matches

    @staticmethod
    def _limit(signal_type: str, threshold: float | None) -> float:
        kind = registry.get(signal_type)
        limit = kind.default_threshold if threshold is None else threshold
        if limit < 0 or limit > kind.threshold_limit():
            raise InvalidRequest(
                f"threshold {threshold} is out of range for {signal_type}; accepted: 0 to {kind.threshold_limit()}"
            )
        return limit

    def _lookup(self, principal: Principal, query: int, signal_type: str, value: str,
                threshold: float | None, variant: str | None = None) -> list[Match]:
        limit = self._limit(signal_type, threshold)
        found = [self._to_match(query, hit, principal, variant)
                 for hit in self.follower.query(signal_type, value, limit) if self._visible_bank(hit.bank, principal)]
        if signal_type == "vpdq":
            found = [self._with_shares(m, value) for m in found]
        return found

    def _with_shares(self, match: Match, value: str) -> Match:
        from dataclasses import replace

        index = self.follower.indexes.get("vpdq")
        query_share, compared_share = index.shares(value, match.signal_id)  # type: ignore[union-attr]
        return replace(match, query_share=round(query_share, 2), compared_share=round(compared_share, 2))

    @staticmethod
    def _to_match(query: int, hit: Hit, principal: Principal, variant: str | None) -> Match:
        return Match(query, hit.bank.name, hit.signal_id, hit.signal_type, hit.distance,
                     shared=hit.bank.tenant_id != principal.tenant_id, variant=variant)

    def match_media(self, principal: Principal, data: bytes, *, dihedral: bool = False,
                    options: HashOptions | None = None) -> tuple[PhotoHashes | VideoHashes, list[Match]]:
        """Hash an upload in memory (it is dropped afterwards) and match its hashes."""
        checked = self.check_media(principal, data, dihedral=dihedral, options=options)
        return checked.hashes, checked.matches

    def check_media(self, principal: Principal, data: bytes, *, dihedral: bool = False,
                    options: HashOptions | None = None) -> MediaCheck:
        """Hash an upload in memory and match it; a photo is also checked against registered photos'
        derivative signatures: re-shares come back as matches (``signal_type`` "derivative"),
        edited derivatives as :class:`DerivativeFlag`\\ s."""
        principal.require("match")
        options = options or HashOptions()
        if dihedral:
            options = HashOptions(options.apply_orientation, True, options.photo_limits, options.video_limits)
        derivatives: list[DerivativeFlag] = []
        if sniff_content_type(data[:512]) is ContentType.VIDEO:
            hashes: PhotoHashes | VideoHashes = hash_bytes(data, options)
            found = self._lookup(principal, 0, "vpdq", hashes.vpdq, None)
        else:
            photo = decode_photo(data, apply_orientation=options.apply_orientation, limits=options.photo_limits)
            hashes = hash_decoded_photo(data, photo, options)
            found = self._lookup(principal, 0, "pdq", hashes.pdq, None)
            seen = {m.signal_id for m in found}
            for variant, value in hashes.dihedral.items():
                if variant == "original":
                    continue
                for m in self._lookup(principal, 0, "pdq", value, None, variant):
                    if m.signal_id not in seen:
                        seen.add(m.signal_id)
                        found.append(m)
            reshares, derivatives = self._derivatives(principal, photo)
            found += reshares
        found += self._lookup(principal, 0, "md5", hashes.md5, None)
        found += self._lookup(principal, 0, "sha256", hashes.sha256, None)
        return MediaCheck(hashes, found, derivatives)

    def _derivatives(self, principal: Principal, photo: DecodedPhoto) -> tuple[list[Match], list[DerivativeFlag]]:
        index = self.follower.indexes.get("derivative")
        if index is None or len(index) == 0:
            return [], []
        try:
            upload = Upload.from_rgb(photo.rgb)
        except InvalidSignal:  # too small to compare: nothing can be a derivative of it
            return [], []
        reshares, flags = [], []
        for bank, hit in self.follower.derivative_hits(upload, lambda b: self._visible_bank(b, principal)):
            v = hit.verdict
            shared = bank.tenant_id != principal.tenant_id
            if v.outcome is Outcome.DERIVATIVE:
                flags.append(DerivativeFlag(bank.name, hit.id, round(v.score, 1), v.edited_region or [0, 0, 0, 0],
                                            v.mirrored, v.transform or [], round(v.edited_share, 3), shared))
            else:
                reshares.append(Match(0, bank.name, hit.id, "derivative", round(100.0 - v.score, 1), shared=shared,
                                      variant="mirrored" if v.mirrored else None))
        return reshares, flags

    @staticmethod
    def _visible_bank(bank: BankInfo, principal: Principal) -> bool:
        return bank.enabled and (bank.tenant_id == principal.tenant_id or bank.shared)


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


@dataclass
class MediaCheck:
    hashes: PhotoHashes | VideoHashes
    matches: list[Match]
    derivatives: list[DerivativeFlag]


def weak(hashes: PhotoHashes | VideoHashes) -> bool:
    return isinstance(hashes, PhotoHashes) and is_weak(hashes.pdq_quality)
