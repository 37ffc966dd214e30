"""Issue 20, the large kind end to end: the photo around a large pasted part can rank past the check's
CANDIDATES (3-5 votes, out-voted by the part's own photo and by chance candidates); the whole-frame
comparison of the candidates the check does not verify (index/derivative.py ``check``,
``WHOLE_CANDIDATES``) reaches it there, and an unrelated upload with as many candidates is not flagged.
Synthetic scenes; the candidate search is replaced by a fixed ranking (honouring ``limit``)."""

from __future__ import annotations

import pytest

from ncii_shield.index import derivative as D
from ncii_shield.index.derivative import Candidate, DerivativeIndex
from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative.verify import Outcome, Upload
from tests.derivative_scenes import scene
from tests.unit.index.test_derivative_whole_candidates import CENTRE, shrunk, soft  # 55 % of the photo replaced
from tests.unit.signals.test_derivative_kinds import replaced

OTHERS = list(range(10, 32))  # 22 unrelated photos of the same shape


@pytest.fixture(scope="module")
def index() -> DerivativeIndex:
    idx = DerivativeIndex()
    idx.add_features(F.photo_features(soft(31)), 1)  # the registered photo
    idx.add_features(F.photo_features(scene(81)), 4)  # the photo the pasted part comes from
    unrelated = [F.photo_features(soft(40 + k)) for k in range(11)]
    for k, id in enumerate(OTHERS):  # 11 photos, each registered twice (two ids)
        idx.add_features(unrelated[k % len(unrelated)], id)
    return idx


def ranking(index: DerivativeIndex, monkeypatch, ranked: list[Candidate]) -> list[int]:  # noqa: ANN001
    """The candidate search returns ``ranked`` cut at the limit asked for; the limits asked are recorded."""
    limits: list[int] = []

    def candidates(upload, allowed=None, limit=D.CANDIDATES):  # noqa: ANN001, ANN202
        limits.append(limit)
        return ranked[:limit]

    monkeypatch.setattr(index, "candidates", candidates)
    return limits


def whole_frames(monkeypatch) -> list[int]:  # noqa: ANN001
    """One entry per registered signature the hook compares as the upload's whole frame."""
    ids: list[int] = []
    real = D.whole_frame
    monkeypatch.setattr(D, "whole_frame", lambda reg, up, *a: ids.append(id(reg)) or real(reg, up, *a))
    return ids


def test_a_large_edit_whose_photo_ranks_past_the_candidates_is_flagged(index, monkeypatch):
    upload = Upload.from_rgb(shrunk(replaced(soft(31), scene(81), CENTRE)))
    # the pasted part's photo first, then chance candidates with as many votes, the photo itself 12th
    ranked = [Candidate(4, 40, False, 0)] + [Candidate(id, 4, False, 0) for id in OTHERS[:10]] + [Candidate(1, 3, False, 0)]
    assert ranked.index(ranked[-1]) >= D.CANDIDATES
    limits = ranking(index, monkeypatch, ranked)
    found = {h.id: h.verdict for h in index.check(upload)}
    assert limits == [max(D.CANDIDATES, D.WHOLE_CANDIDATES)]  # one search, cut for the check's pass
    assert found[1].outcome is Outcome.DERIVATIVE and found[1].inliers == 0  # the whole frame, no fit
    assert not set(found) & set(OTHERS), found  # no chance candidate flagged
    # the hook over the check's candidates alone (as before): the photo is lost
    monkeypatch.setattr(D, "CELL_CANDIDATES", 0)  # and no cell search (2026-12-07 #6): it finds the photo too
    monkeypatch.setattr(D, "WHOLE_CANDIDATES", D.CANDIDATES)
    assert 1 not in {h.id for h in index.check(upload)}


def test_an_unrelated_upload_with_many_candidates_is_not_flagged(index, monkeypatch):
    upload = Upload.from_rgb(shrunk(soft(60)))  # the registered photos' shape, none of them
    ranked = [Candidate(id, 5 if k < 4 else 3, False, 0) for k, id in enumerate(OTHERS + [1])]
    assert len(ranked) >= D.WHOLE_CANDIDATES - 1
    ranking(index, monkeypatch, ranked)
    compared = whole_frames(monkeypatch)
    assert index.check(upload) == []
    # every candidate the pass did not verify, past CANDIDATES too, was compared (and none flagged)
    assert len(compared) >= min(len(ranked), D.WHOLE_CANDIDATES) - D.CANDIDATES
