"""Most of a photo replaced by a large part of another registered photo: the pasted photo out-votes the
one it was pasted into (or the other way round), and the weaker must still be verified when its votes
line up; and a candidate's votes line up even when several voters land on one spot."""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from ncii_shield.index import derivative as D
from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative.verify import Outcome, Upload
from tests.derivative_scenes import reshared, scene


@pytest.fixture(scope="module")
def photos() -> dict[int, str]:
    return {i: F.encode(F.photo_features(scene(100 + i))) for i in range(1, 13)}


def test_a_candidate_far_below_the_verified_one_is_verified_when_its_votes_line_up(photos, monkeypatch):
    index = D.DerivativeIndex()
    index.add_many([(v, i) for i, v in photos.items()])
    upload = scene(105).copy()
    pasted = cv2.resize(scene(108), (1000, 750), interpolation=cv2.INTER_AREA)
    upload[0:450, 0:600] = pasted[100:550, 100:700]  # 56 % of photo 5 replaced by an enlarged part of photo 8
    prepared = Upload.from_rgb(reshared("jpeg", upload))
    votes = {c.id: c.votes for c in index.candidates(prepared)}
    assert votes[5] > votes[8] >= D.STRONG_VOTES
    # photo 8's votes under SKIP_BELOW of photo 5's (as a pasted photo's 60-100 drown the 5-15 of the
    # photo around the patch in the benchmark's large kind)
    monkeypatch.setattr(D, "SKIP_BELOW", (votes[8] + 1) / votes[5])
    found = {h.id: h.verdict.outcome for h in index.check(prepared)}
    assert found.get(5) is Outcome.DERIVATIVE, found
    assert found.get(8) is Outcome.RESHARE, found  # the pasted part: a re-share of part of photo 8
    assert set(found) == {5, 8}, found


def test_voters_landing_on_one_spot_do_not_hide_a_consistent_fit(photos):
    reg = F.decode(photos[5])
    far = np.argsort(-np.linalg.norm(reg.points - reg.points.mean(axis=0), axis=1))
    true = far[:3]  # three spread keypoints, seen where they are (identity)
    spot = far[-1]  # a keypoint that four unrelated upload keypoints, scattered, land on
    rng = np.random.default_rng(1)
    points = np.concatenate([reg.points[true], rng.uniform(50, 590, (4, 2)).astype(np.float32)])
    descriptors = np.concatenate([reg.descriptors[true], np.repeat(reg.descriptors[spot][None], 4, axis=0)])
    upload = SimpleNamespace(points=points, descriptors=descriptors, mirrored_points=points[:0],
                             mirrored_descriptors=descriptors[:0])
    candidate = D.Candidate(5, 7, False, 0, (np.arange(7), np.zeros(0, np.int64)))
    # each signature keypoint partners one voter: the four count once, the three line up
    assert D.consistent_votes(reg, upload, candidate) >= D.QUICK_CONSISTENT
