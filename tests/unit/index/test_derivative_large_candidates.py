"""Issue 20, the large kind's candidate stage: when the hits explain only part of the upload's frame (a
large pasted part of another registered photo), the photos are ranked again on all the upload's query
descriptors (``REST_SHARE``, index/derivative.py ``check``); the photo around the part, absent from the
first ranking, is verified there when its votes line up. A whole re-share and an unrelated upload (no hit)
search nothing more, and the rest search of a part pasted into an unregistered photo flags no chance
candidate. Synthetic scenes; the first candidate search is replaced by a fixed ranking, the rest search is
the index's own."""

from __future__ import annotations

import numpy as np

from ncii_shield.index import derivative as D
from ncii_shield.index.derivative import Candidate, DerivativeIndex
from ncii_shield.signals.derivative.verify import Outcome, Upload
from tests.derivative_scenes import scene
from tests.unit.index.test_derivative_large_part import OTHERS, index  # noqa: F401  (the fixture: the same index)
from tests.unit.index.test_derivative_whole_candidates import CENTRE, shrunk, soft
from tests.unit.signals.test_derivative_kinds import replaced

CROP = slice(60, 740)  # another shape than the photos': no whole-frame comparison can reach the photo


def at_one_spot(votes: int) -> tuple[np.ndarray, np.ndarray]:
    """Voters that are one upload keypoint: they cannot line up (the pass skips such a weak candidate)."""
    return np.zeros(votes, int), np.zeros(0, int)


def first_ranking(index: DerivativeIndex, monkeypatch, ranked: list[Candidate]) -> list[int]:  # noqa: ANN001
    """The first candidate search returns ``ranked``; returns a list that records each rest search's size."""
    monkeypatch.setattr(index, "candidates", lambda upload, allowed=None, limit=D.CANDIDATES: ranked[:limit])
    calls: list[int] = []
    real = index._rest_candidates
    monkeypatch.setattr(index, "_rest_candidates", lambda *a: calls.append(1) or real(*a))
    return calls


def test_the_photo_around_a_pasted_part_absent_from_the_first_ranking_is_found_by_the_rest_search(index, monkeypatch):
    upload = Upload.from_rgb(shrunk(replaced(scene(31), scene(81), CENTRE)[:, CROP]))
    # the part's photo, then chance candidates whose votes do not line up; the photo itself not among them
    calls = first_ranking(index, monkeypatch, [Candidate(4, 40, False, 0)]
                          + [Candidate(id, 4, False, 0, at_one_spot(4)) for id in OTHERS])
    found = {h.id: h.verdict for h in index.check(upload)}
    assert calls == [1]
    assert found[4].outcome is Outcome.RESHARE
    assert found[1].outcome is Outcome.DERIVATIVE and found[1].inliers >= D.MIN_INLIERS
    assert not set(found) & set(OTHERS), found
    monkeypatch.setattr(D, "REST_CHECKS", 0)  # off: the crop is another shape, nothing else reaches the photo
    assert 1 not in {h.id for h in index.check(upload)}


def test_the_part_alone_explains_under_the_rest_share(index, monkeypatch):
    upload = Upload.from_rgb(shrunk(replaced(scene(31), scene(81), CENTRE)[:, CROP]))
    first_ranking(index, monkeypatch, [Candidate(4, 40, False, 0)])
    monkeypatch.setattr(D, "REST_CHECKS", 0)
    hits = index.check(upload)
    assert [h.id for h in hits] == [4]
    share = D._explained(hits, index._signatures([4]), upload)
    assert 0.4 < share < D.REST_SHARE  # 560 x 470 of the 680 x 600 frame pasted: about 0.65


def test_a_whole_reshare_and_an_unrelated_upload_search_nothing_more(index, monkeypatch):
    calls = first_ranking(index, monkeypatch, [Candidate(4, 40, False, 0)]
                          + [Candidate(id, 4, False, 0, at_one_spot(4)) for id in OTHERS])
    whole = Upload.from_rgb(shrunk(scene(81)))
    hits = index.check(whole)
    assert [(h.id, h.verdict.outcome) for h in hits] == [(4, Outcome.RESHARE)]
    assert D._explained(hits, index._signatures([4]), whole) >= D.REST_SHARE and calls == []
    calls = first_ranking(index, monkeypatch, [Candidate(id, 4, False, 0, at_one_spot(4)) for id in OTHERS])
    assert index.check(Upload.from_rgb(shrunk(soft(70)))) == [] and calls == []  # no hit: no rest search


def test_a_whole_photo_inside_a_screenshots_bars_searches_nothing_more(index, monkeypatch):
    calls = first_ranking(index, monkeypatch, [Candidate(4, 40, False, 0)]
                          + [Candidate(id, 4, False, 0, at_one_spot(4)) for id in OTHERS])
    photo = scene(81)
    h, w = photo.shape[:2]
    shot = np.full((2 * h, w, 3), 240, np.uint8)  # a phone screenshot: the photo between two plain bars
    shot[h // 2:h // 2 + h] = photo
    upload = Upload.from_rgb(shrunk(shot))
    hits = index.check(upload)
    assert [(h.id, h.verdict.outcome) for h in hits] == [(4, Outcome.RESHARE)]
    assert D._explained(hits, index._signatures([4]), upload) < D.REST_SHARE  # half the frame is bars ...
    assert hits[0].verdict.details["covered"] >= D.PART_COVERED and calls == []  # ... but the photo is whole


def test_the_rest_search_of_a_part_pasted_into_an_unregistered_photo_flags_no_chance_candidate(index, monkeypatch):
    upload = Upload.from_rgb(shrunk(replaced(scene(90), scene(81), CENTRE)))  # scene 90: not registered
    calls = first_ranking(index, monkeypatch, [Candidate(4, 40, False, 0)])
    checked: list[int] = []
    real = D.consistent_votes
    monkeypatch.setattr(D, "consistent_votes", lambda reg, up, c: checked.append(c.id) or real(reg, up, c))
    hits = index.check(upload)
    assert calls == [1] and set(checked) & set(OTHERS)  # chance candidates ranked and looked at
    assert [h.id for h in hits] == [4], [(h.id, h.verdict.outcome) for h in hits]


def test_the_rest_ranking_is_one_search_over_all_the_query_descriptors(index, monkeypatch):
    upload = Upload.from_rgb(shrunk(replaced(scene(31), scene(81), CENTRE)[:, CROP]))
    assert len(upload.descriptors) > D.QUERY_DESCRIPTORS

    def key(cands: list[Candidate]) -> list:
        return [(c.id, c.votes, c.mirrored, c.other_votes, c.voters[0].tolist(), c.voters[1].tolist()) for c in cands]

    index.candidates(upload, limit=30)  # this thread's first search: its rows are not searched again
    reused = index._rest_candidates(upload, None, 30)
    again = index._rest_candidates(upload, None, 30)  # no first search kept: every row searched
    monkeypatch.setattr(D, "QUERY_DESCRIPTORS", 10 ** 6)
    one = index.candidates(upload, limit=30)
    assert key(reused) == key(again) == key(one)
    assert next(c.votes for c in one if c.id == 1) > 3
