"""Matching: hash strings against every bank a tenant can see (uploads go through the one upload
pipeline, :mod:`ncii_shield.services.uploads`, whose hash-match detector looks up here).

In-process use (no HTTP)::

    shield = Shield.open("sqlite:///data/ncii-shield.db")
    who = shield.local_principal("default")
    shield.matcher.match(who, [SignalInput("pdq", "f8f8f0ce...")])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from ncii_shield.errors import InvalidRequest
from ncii_shield.index.follower import BankInfo, Hit, IndexFollower
from ncii_shield.services.banks import SignalInput, canonical, check_batch
from ncii_shield.services.keys import Principal
from ncii_shield.signals import registry

if TYPE_CHECKING:
    from ncii_shield.services.uploads.detectors import Scope


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
    matched_seconds: float | None = None  # video uploads: upload seconds showing the banked video
    segments: list | None = None  # video uploads: [{"upload": [t0, t1], "banked": [t0, t1], ...}]

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

    def lookup_visible(self, scope: Scope, signal_type: str, value: str, *,
                       variant: str | None = None) -> list[Match]:
        """One hash of an upload looked up in the banks ``scope`` can see (the upload pipeline's
        hash-match detector), at the signal type's default threshold."""
        limit = self._limit(signal_type, None)
        found = [Match(0, hit.bank.name, hit.signal_id, hit.signal_type, hit.distance,
                       shared=scope.shared(hit.bank), variant=variant)
                 for hit in self.follower.query(signal_type, value, limit) if scope.visible(hit.bank)]
        if signal_type == "vpdq":
            found = [self._with_shares(m, value) for m in found]
        return found

    @staticmethod
    def _visible_bank(bank: BankInfo, principal: Principal) -> bool:
        return bank.enabled and (bank.tenant_id == principal.tenant_id or bank.shared)
