"""Matching: hash strings or uploaded media against every bank a tenant can see.

In-process use (no HTTP)::

    shield = Shield.open("sqlite:///data/ncii-shield.db")
    who = shield.local_principal("default")
    shield.matcher.match(who, [SignalInput("pdq", "f8f8f0ce...")])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ncii_shield.errors import InvalidRequest
from ncii_shield.index.follower import Hit, IndexFollower
from ncii_shield.services.banks import SignalInput, canonical, check_batch
from ncii_shield.services.hashing import HashOptions, PhotoHashes, VideoHashes, hash_bytes
from ncii_shield.services.keys import Principal
from ncii_shield.signals import registry
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
        return {k: v for k, v in asdict(self).items() if v is not None}


class Matcher:
    def __init__(self, follower: IndexFollower) -> None:
        self.follower = follower

    def match(self, principal: Principal, queries: list[SignalInput], *, threshold: float | None = None) -> list[Match]:
        principal.require("match")
        check_batch(queries)
        batch = len(queries) > 1
        canon = [canonical(q, i if batch else None) for i, q in enumerate(queries)]
        if not batch:
            return self._lookup(principal, 0, canon[0].signal_type, canon[0].value, threshold)
        by_type: dict[str, list[int]] = {}
        for i, q in enumerate(canon):
            by_type.setdefault(q.signal_type, []).append(i)
        matches: list[Match] = []
        for signal_type, positions in by_type.items():  # one vectorised pass per type
            limit = self._limit(signal_type, threshold)
            found = self.follower.query_many(signal_type, [canon[i].value for i in positions], limit)
            for i, hits in zip(positions, found):
                for h in hits:
                    if self._visible(h, principal):
                        m = self._to_match(i, h, principal, None)
                        matches.append(self._with_shares(m, canon[i].value) if signal_type == "vpdq" else m)
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
                 for hit in self.follower.query(signal_type, value, limit) if self._visible(hit, principal)]
        if signal_type == "vpdq":
            found = [self._with_shares(m, value) for m in found]
        return found

    def _with_shares(self, match: Match, value: str) -> Match:
        from dataclasses import replace

        index = self.follower.indexes.get("vpdq")
        query_share, compared_share = index.shares(value, match.signal_id)  # type: ignore[union-attr]
        return replace(match, query_share=round(query_share, 2), compared_share=round(compared_share, 2))

    @staticmethod
    def _visible(hit: Hit, principal: Principal) -> bool:
        return hit.bank.enabled and (hit.bank.tenant_id == principal.tenant_id or hit.bank.shared)

    @staticmethod
    def _to_match(query: int, hit: Hit, principal: Principal, variant: str | None) -> Match:
        return Match(query, hit.bank.name, hit.signal_id, hit.signal_type, hit.distance,
                     shared=hit.bank.tenant_id != principal.tenant_id, variant=variant)

    def match_media(self, principal: Principal, data: bytes, *, dihedral: bool = False,
                    options: HashOptions | None = None) -> tuple[PhotoHashes | VideoHashes, list[Match]]:
        """Hash an upload in memory (it is dropped afterwards) and match its hashes."""
        principal.require("match")
        options = options or HashOptions()
        if dihedral:
            options = HashOptions(options.apply_orientation, True, options.photo_limits, options.video_limits)
        hashes = hash_bytes(data, options)
        found: list[Match] = []
        if isinstance(hashes, PhotoHashes):
            found += self._lookup(principal, 0, "pdq", hashes.pdq, None)
            seen = {m.signal_id for m in found}
            for variant, value in hashes.dihedral.items():
                if variant == "original":
                    continue
                for m in self._lookup(principal, 0, "pdq", value, None, variant):
                    if m.signal_id not in seen:
                        seen.add(m.signal_id)
                        found.append(m)
        else:
            found += self._lookup(principal, 0, "vpdq", hashes.vpdq, None)
        found += self._lookup(principal, 0, "md5", hashes.md5, None)
        found += self._lookup(principal, 0, "sha256", hashes.sha256, None)
        return hashes, found


def weak(hashes: PhotoHashes | VideoHashes) -> bool:
    return isinstance(hashes, PhotoHashes) and is_weak(hashes.pdq_quality)
