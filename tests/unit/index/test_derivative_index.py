"""The derivative candidate index: finds the registered photo among many, follows adds and
withdrawals, switches to an inverted file as it grows, and can read signatures through a lookup."""

from __future__ import annotations

import numpy as np
import pytest

from ncii_shield.errors import InvalidRequest
from ncii_shield.index import derivative as D
from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative.verify import Outcome, Upload, Verdict
from tests.derivative_scenes import edit, reshared, scene


@pytest.fixture(scope="module")
def photos() -> dict[int, str]:
    return {i: F.encode(F.photo_features(scene(100 + i))) for i in range(1, 13)}


def flagged(index: D.DerivativeIndex, seed: int) -> list[tuple[int, str]]:
    upload = Upload.from_rgb(reshared("crop", edit("noise", scene(seed), (200, 100, 300, 300))))
    return [(h.id, h.verdict.outcome.value) for h in index.check(upload)]


def test_finds_the_registered_photo_among_others(photos):
    index = D.DerivativeIndex()
    index.add_many([(v, i) for i, v in photos.items()])
    assert len(index) == 12
    assert flagged(index, 105) == [(5, "derivative")]
    assert flagged(index, 999) == []  # not registered


def test_withdrawal_and_re_add(photos):
    index = D.DerivativeIndex()
    index.add_many([(v, i) for i, v in photos.items()])
    index.remove(5)
    index.remove(5)  # unknown now: nothing happens
    assert flagged(index, 105) == []
    index.add(photos[5], 5)
    assert flagged(index, 105) == [(5, "derivative")]


def test_allowed_filters_before_verification(photos):
    index = D.DerivativeIndex()
    index.add_many([(v, i) for i, v in photos.items()])
    upload = Upload.from_rgb(reshared("jpeg", scene(105)))
    assert [h.id for h in index.check(upload, allowed=lambda i: i != 5)] == []
    hits = index.check(upload)
    assert [(h.id, h.verdict.outcome) for h in hits] == [(5, Outcome.RESHARE)]


def test_inverted_file_keeps_finding_after_growth(photos, monkeypatch):
    monkeypatch.setattr(D, "IVF_FROM", 600)  # 12 photos x 128 descriptors cross it
    index = D.DerivativeIndex()
    for i, v in photos.items():
        index.add(v, i)
    assert index._ivf
    assert flagged(index, 107) == [(7, "derivative")]
    index.remove(7)
    assert flagged(index, 107) == []


def test_lookup_reads_signatures_on_demand(photos):
    calls = []

    def lookup(ids):
        calls.append(list(ids))
        return {i: photos[i] for i in ids if i in photos}

    index = D.DerivativeIndex(lookup)
    index.add_many([(v, i) for i, v in photos.items()])
    assert flagged(index, 103) == [(3, "derivative")]
    assert flagged(index, 103) == [(3, "derivative")]
    assert sum(3 in c for c in calls) == 1  # the second check used the cache


def test_signature_strings_are_not_matched_as_strings(photos):
    with pytest.raises(InvalidRequest, match="check the photo"):
        D.DerivativeIndex().query(photos[1], 0)


def test_votes_of_the_source_photo_line_up_and_chance_votes_do_not(photos):
    index = D.DerivativeIndex()
    index.add_many([(v, i) for i, v in photos.items()])
    upload = Upload.from_rgb(reshared("crop", edit("noise", scene(105), (200, 100, 300, 300))))
    best = index.candidates(upload)[0]
    assert best.id == 5
    assert D.consistent_votes(F.decode(photos[5]), upload, best) >= D.QUICK_CONSISTENT
    # the same number of "votes" from keypoints of a photo that is not registered: no transform explains them
    other = Upload.from_rgb(reshared("jpeg", scene(999)))
    chance = D.Candidate(5, best.votes, False, 0, (np.arange(best.votes), np.arange(0)))
    assert D.consistent_votes(F.decode(photos[5]), other, chance) < D.QUICK_CONSISTENT


def test_weak_candidates_whose_votes_do_not_line_up_are_not_verified(photos, monkeypatch):
    index = D.DerivativeIndex()
    index.add_many([(v, i) for i, v in photos.items()])
    calls = []
    monkeypatch.setattr(D, "verify", lambda reg, up, **kw: calls.append(kw) or Verdict(Outcome.NONE))
    other = Upload.from_rgb(reshared("jpeg", scene(999)))
    weak = [D.Candidate(i, 5, False, 0, (np.arange(5 * i, 5 * i + 5), np.arange(0))) for i in (1, 2, 3, 4, 6, 7)]
    monkeypatch.setattr(index, "candidates", lambda *a, **kw: weak)
    assert index.check(other) == []
    assert len(calls) == D.QUICK_FALLBACK < len(weak)  # the fallback only: the best weak ones, nothing verified
    monkeypatch.setattr(D, "QUICK_FALLBACK", 0)
    calls.clear()
    assert index.check(other) == [] and calls == []
    # a weak candidate of the photo the upload was made from is verified (and flagged)
    monkeypatch.undo()
    upload = Upload.from_rgb(reshared("crop", edit("noise", scene(105), (200, 100, 300, 300))))
    monkeypatch.setattr(D, "STRONG_VOTES", 10_000)  # every candidate weak
    monkeypatch.setattr(D, "QUICK_FALLBACK", 0)
    assert [(h.id, h.verdict.outcome.value) for h in index.check(upload)] == [(5, "derivative")]


@pytest.mark.parametrize("once", [True, False])
def test_entries_with_identical_signatures_are_verified_once_with_the_same_verdict(photos, monkeypatch, once):
    monkeypatch.setattr(D, "VERIFY_ONCE", once)
    calls = []
    real_verify = D.verify

    def counted(reg, upload, *, mirrored=None):  # noqa: ANN001, ANN202
        calls.append(mirrored)
        return real_verify(reg, upload, mirrored=mirrored)

    monkeypatch.setattr(D, "verify", counted)
    # entry 50 is indexed by a crop's keypoints but stores photo 5's signature, as the scale run's windows do
    # (two entries indexed by identical descriptors would fail each other's ratio test)
    index = D.DerivativeIndex(lambda ids: {i: photos[5 if i == 50 else i] for i in ids})
    crop = F.encode(F.photo_features(np.ascontiguousarray(scene(105)[40:-40, 60:-60])))
    index.add_many([(v, i) for i, v in photos.items()] + [(crop, 50)])
    upload = Upload.from_rgb(reshared("crop", edit("noise", scene(105), (200, 100, 300, 300))))
    hits = {h.id: h for h in index.check(upload)}
    assert set(hits) == {5, 50}
    assert hits[5].verdict.to_json() == hits[50].verdict.to_json()
    assert hits[5].verdict is not hits[50].verdict  # copies: a caller may annotate one
    assert len(calls) == (1 if once else 2)
