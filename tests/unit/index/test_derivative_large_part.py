"""Issue 20, the large kind end to end: the photo around a large pasted part of another registered photo,
when the upload is a crop (another shape: no whole-frame comparison) and the photo's few votes sit at one
spot (they cannot line up, ``consistent_votes``), is skipped by the check's pass once the part's photo has
verified; after re-shares only, each of part of its photo (``PART_COVERED``), the next ``PART_CHECKS``
candidates are verified (index/derivative.py ``check``). A whole re-share pays nothing more, and a crop
re-share's extra verifications flag no chance candidate. Synthetic scenes; the candidate search is replaced
by a fixed ranking."""

from __future__ import annotations

import numpy as np
import pytest

from ncii_shield.index import derivative as D
from ncii_shield.index.derivative import Candidate, DerivativeIndex
from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative.verify import Outcome, Upload
from tests.derivative_scenes import scene
from tests.unit.index.test_derivative_large_past import CENTRE, shrunk, soft
from tests.unit.signals.test_derivative_kinds import replaced

OTHERS = list(range(10, 21))  # 11 unrelated photos
CROP = slice(60, 740)  # 680 of the 800 columns: another shape than the photos'


@pytest.fixture(scope="module")
def index() -> DerivativeIndex:
    idx = DerivativeIndex()
    idx.add_features(F.photo_features(scene(31)), 1)  # the registered photo
    idx.add_features(F.photo_features(scene(81)), 4)  # the photo the pasted part comes from
    for k, id in enumerate(OTHERS):
        idx.add_features(F.photo_features(soft(40 + k)), id)
    return idx


def ranked_as(index: DerivativeIndex, monkeypatch, ranked: list[Candidate]) -> list[int]:  # noqa: ANN001
    """The candidate search returns ``ranked`` (cut at the limit); returns the ids verified, in order."""
    monkeypatch.setattr(index, "candidates", lambda upload, allowed=None, limit=D.CANDIDATES: ranked[:limit])
    verified: list[int] = []
    ids = {id(index._signatures([c.id])[c.id]): c.id for c in ranked}
    real = D.verify
    monkeypatch.setattr(D, "verify", lambda reg, up, **kw: verified.append(ids.get(id(reg))) or real(reg, up, **kw))
    return verified


def at_one_spot(votes: int) -> tuple[np.ndarray, np.ndarray]:
    """Voters that are one upload keypoint (found at several pyramid levels): they cannot line up."""
    return np.zeros(votes, int), np.zeros(0, int)


def test_the_photo_around_a_pasted_part_of_a_crop_is_verified_after_the_parts_reshare(index, monkeypatch):
    upload = Upload.from_rgb(shrunk(replaced(scene(31), scene(81), CENTRE)[:, CROP]))
    own = Candidate(1, 6, False, 0, at_one_spot(6))
    ranked = [Candidate(4, 40, False, 0), own] + [Candidate(id, 4, False, 0, at_one_spot(4)) for id in OTHERS]
    assert D.consistent_votes(index._signatures([1])[1], upload, own) < D.QUICK_CONSISTENT
    verified = ranked_as(index, monkeypatch, ranked)
    found = {h.id: h.verdict for h in index.check(upload)}
    assert found[4].outcome is Outcome.RESHARE and found[4].details["covered"] < D.PART_COVERED
    assert found[1].outcome is Outcome.DERIVATIVE and found[1].inliers >= D.MIN_INLIERS
    assert not set(found) & set(OTHERS), found
    assert verified[:1 + D.PART_CHECKS] == [4, 1] + OTHERS[:D.PART_CHECKS - 1]
    monkeypatch.setattr(D, "PART_CHECKS", 0)  # as before: skipped once the part's photo has verified
    monkeypatch.setattr(D, "REST_CHECKS", 0)  # (the rest search, which finds it too: test_derivative_large_candidates)
    assert 1 not in {h.id for h in index.check(upload)}


def test_a_whole_reshare_verifies_nothing_more_and_a_crop_reshare_flags_no_chance_candidate(index, monkeypatch):
    ranked = [Candidate(4, 40, False, 0)] + [Candidate(id, 5, False, 0, at_one_spot(5)) for id in OTHERS]
    verified = ranked_as(index, monkeypatch, ranked)
    whole = index.check(Upload.from_rgb(shrunk(scene(81))))
    assert [(h.id, h.verdict.outcome) for h in whole] == [(4, Outcome.RESHARE)]
    assert whole[0].verdict.details["covered"] >= D.PART_COVERED and verified == [4]
    verified.clear()
    part = index.check(Upload.from_rgb(shrunk(scene(81)[:, CROP])))
    assert [(h.id, h.verdict.outcome) for h in part] == [(4, Outcome.RESHARE)]
    assert verified[:1 + D.PART_CHECKS] == [4] + OTHERS[:D.PART_CHECKS]
