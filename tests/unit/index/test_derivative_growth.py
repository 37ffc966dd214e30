"""The derivative index as it grows towards a million photos: the inverted file is rebuilt with more
lists as it grows, its centres go into an inverted file of their own past a number of lists, every
photo stays findable and removable throughout, memory per photo stays within 4 KB, and one ORB
detection serves both orientations of an upload."""

from __future__ import annotations

import numpy as np
import pytest

from ncii_shield.index import derivative as D
from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative.verify import Upload
from tests.derivative_scenes import edit, reshared, scene


@pytest.fixture(scope="module")
def photos() -> dict[int, F.PhotoFeatures]:
    return {i: F.photo_features(scene(300 + i)) for i in range(1, 5)}


def filler(n: int, seed: int = 0) -> list[tuple[F.PhotoFeatures, int]]:
    """``n`` photos of random descriptors (ids from 10,000): the crowd the real photos hide in."""
    rng = np.random.default_rng(seed)
    empty = np.zeros((0, 2), np.float32)
    return [(F.PhotoFeatures(0, 0, 0, 0, empty, rng.integers(0, 256, (D.SAMPLE, 32), dtype=np.uint8), None),  # type: ignore[arg-type]
             10_000 + k) for k in range(n)]


def small_ivf(photos: dict, monkeypatch, two_level: bool) -> D.DerivativeIndex:  # noqa: ANN001
    """The registered photos and 300 fillers in an inverted file of 8 descriptors a list (two-level
    centres or flat), searched on one thread."""
    # faiss's global search statistics (read by the tests) are added to without a lock: one thread
    monkeypatch.setattr(D, "CHECK_THREADS", 1)
    monkeypatch.setattr(D, "IVF_FROM", 2_000)
    monkeypatch.setattr(D, "LIST_SIZE", 8)
    monkeypatch.setattr(D, "MIN_LISTS", 16)
    monkeypatch.setattr(D, "TWO_LEVEL_FROM", 512 if two_level else 1 << 20)
    monkeypatch.setattr(D, "TOP_SHARE", 16)
    index = D.DerivativeIndex()
    index.add_features_many([(f, i) for i, f in photos.items()] + filler(300))
    assert index._ivf and isinstance(index._quantizer, D.faiss.IndexBinaryIVF) == two_level
    return index


def flagged(index: D.DerivativeIndex, seed: int) -> list[tuple[int, str]]:
    upload = Upload.from_rgb(reshared("crop", edit("noise", scene(seed), (200, 100, 300, 300))))
    return [(h.id, h.verdict.outcome.value) for h in index.check(upload)]


def test_rebuilt_with_more_lists_as_it_grows(photos, monkeypatch):
    monkeypatch.setattr(D, "IVF_FROM", 2_000)
    monkeypatch.setattr(D, "LIST_SIZE", 16)
    monkeypatch.setattr(D, "MIN_LISTS", 16)
    index = D.DerivativeIndex()
    index.add_features_many([(f, i) for i, f in photos.items()])  # 4 x 64 descriptors: still exact
    assert not index._ivf
    index.add_features_many(filler(40))  # past IVF_FROM: an inverted file
    assert index._ivf
    first = index._faiss.nlist
    index.add_features_many(filler(200, seed=1)[40:])  # more than doubled: rebuilt with more lists
    assert index._faiss.nlist > first
    assert index._faiss.ntotal == (4 + 200) * D.SAMPLE  # nothing lost in the rebuild
    assert flagged(index, 302) == [(2, "derivative")]
    index.remove(2)
    assert flagged(index, 302) == []
    assert len(index) == 203


def small_two_level(monkeypatch) -> None:
    """Settings under which a few hundred photos make an inverted file whose centres have lists of their own."""
    monkeypatch.setattr(D, "IVF_FROM", 2_000)
    monkeypatch.setattr(D, "LIST_SIZE", 8)
    monkeypatch.setattr(D, "MIN_LISTS", 16)
    monkeypatch.setattr(D, "TWO_LEVEL_FROM", 512)
    monkeypatch.setattr(D, "TOP_SHARE", 16)


def test_two_level_centres_still_find_the_photo(photos, monkeypatch):
    small_two_level(monkeypatch)
    index = D.DerivativeIndex()
    index.add_features_many([(f, i) for i, f in photos.items()] + filler(300))
    assert index._ivf and isinstance(index._quantizer, D.faiss.IndexBinaryIVF)
    assert index._faiss.nlist >= 512
    assert flagged(index, 303) == [(3, "derivative")]
    assert flagged(index, 999) == []  # not registered
    # later adds go to the lists of their nearest centres too
    index.add_features_many([(scene_features, 7) for scene_features in [F.photo_features(scene(307))]])
    assert flagged(index, 307) == [(7, "derivative")]


def test_memory_per_photo_within_4_kb():
    index = D.DerivativeIndex()
    index.add_features_many(filler(1_000))
    assert index._ivf
    assert index.memory_bytes() / len(index) <= 4096


def test_one_detection_serves_both_orientations():
    grey = F.to_frame(scene(311)).grey
    pts, desc, mpts, mdesc = F.keypoints_both(grey, 1000)
    plain = F.keypoints(grey, 1000)
    flipped = F.keypoints(np.ascontiguousarray(grey[:, ::-1]), 1000)
    assert len(pts) == len(mpts) > 500
    np.testing.assert_array_equal(pts, plain[0])  # as uploaded: the very same keypoints and descriptors
    np.testing.assert_array_equal(desc, plain[1])
    # mirrored: the keypoints that detecting on the flipped frame finds, with the same descriptors
    gap = np.abs(mpts[:, None, :] - flipped[0][None, :, :]).max(axis=2)
    matched = gap.min(axis=1) <= 0.01
    assert matched.mean() > 0.9
    assert (mdesc[matched] == flipped[1][gap.argmin(axis=1)[matched]]).all(axis=1).mean() > 0.95


@pytest.mark.parametrize(("two_level", "first_top"), [(False, 0), (True, 0), (True, 1)])
def test_staged_search_casts_the_votes_of_one_search(photos, monkeypatch, two_level, first_top):
    """The lists searched in two stages: for an upload of a registered photo the second stage runs and
    every vote is the one a single search over all NPROBE lists casts; an upload of no registered photo
    stops after each query descriptor's nearest list. ``first_top``: the first stage's nearest list
    found through that many of the centres' own lists (FIRST_TOP_NPROBE), the votes still those of one
    search."""
    monkeypatch.setattr(D, "FIRST_TOP_NPROBE", first_top or D.TOP_NPROBE)
    # (one thread: two threads' searches could lose a count of faiss's statistics; test_derivative_threads.py
    # checks the two-thread search)
    index = small_ivf(photos, monkeypatch, two_level)
    related = Upload.from_rgb(reshared("crop", edit("noise", scene(302), (200, 100, 300, 300))))
    # descriptors of nothing registered (the synthetic scenes share their shapes, so they would vote)
    unrelated = np.random.default_rng(5).integers(0, 256, (2 * D.QUERY_DESCRIPTORS, 32), dtype=np.uint8)
    for upload in (related, unrelated):
        if upload is related:
            queries = np.ascontiguousarray(np.concatenate([upload.descriptors[:D.QUERY_DESCRIPTORS],
                                                           upload.mirrored_descriptors[:D.QUERY_DESCRIPTORS]]))
        else:
            queries = unrelated
        mirrored = np.arange(len(queries)) >= len(queries) // 2
        one = D._votes(*index._faiss.search(queries, D.NEIGHBOURS), mirrored)
        D.faiss.cvar.indexIVF_stats.reset()
        with index._lock:
            staged = index._staged(queries, mirrored)
        top = first_top or D.TOP_NPROBE
        lists = D.faiss.cvar.indexIVF_stats.nlist - (len(queries) * top if two_level else 0)  # less the centres' own
        if upload is related:
            assert staged is not None
            if not first_top:
                assert lists == len(queries) * D.NPROBE
            hit, keys = D._votes(*staged, mirrored)
            np.testing.assert_array_equal(hit, one[0])
            np.testing.assert_array_equal(keys[hit], one[1][one[0]])
            assert one[0].sum() > 20
        else:
            assert staged is None and lists <= len(queries) * D.FIRST_PROBES
    assert [c.id for c in index.candidates(related)][:1] == [2]
    monkeypatch.setattr(D, "FIRST_PROBES", D.NPROBE)  # one search: the same candidates
    assert [c.id for c in index.candidates(related)][:1] == [2]
