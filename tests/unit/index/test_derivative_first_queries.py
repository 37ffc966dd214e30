"""The inverted file's first stage by query descriptors (FIRST_QUERIES, index/derivative.py's
_few_first): the first FIRST_QUERIES descriptors of each orientation in all NPROBE lists, the rest only
when some photo has FIRST_VOTES votes. When both stages run the result is that of one search; an upload
whose photo has too few votes in the first rows (however many past them) searches only those; check's
candidates go through it by default."""

from __future__ import annotations

import numpy as np
import pytest

from ncii_shield.index import derivative as D
from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative.verify import Upload
from tests.derivative_scenes import edit, reshared, scene
from tests.unit.index.test_derivative_growth import filler, small_ivf


@pytest.fixture(scope="module")
def photos() -> dict[int, F.PhotoFeatures]:
    return {i: F.photo_features(scene(300 + i)) for i in range(1, 5)}



def related_queries(per_side: int) -> tuple[np.ndarray, np.ndarray]:
    upload = Upload.from_rgb(reshared("crop", edit("noise", scene(302), (200, 100, 300, 300))))
    parts = [upload.descriptors[:per_side], upload.mirrored_descriptors[:per_side]]
    queries = np.ascontiguousarray(np.concatenate(parts))
    return queries, np.arange(len(queries)) >= len(parts[0])


def lists_scanned(two_level: bool, rows: int) -> int:
    """The inverted lists faiss scanned since the last reset, less the centres' own lists."""
    return D.faiss.cvar.indexIVF_stats.nlist - (rows * D.TOP_NPROBE if two_level else 0)


@pytest.mark.parametrize("two_level", [False, True], ids=["flat-centres", "two-level"])
@pytest.mark.parametrize("per_side", [D.QUERY_DESCRIPTORS, 120], ids=["full", "all-rows-first"])
def test_first_stage_by_rows_gives_the_result_of_one_search(photos, monkeypatch, two_level, per_side):
    monkeypatch.setattr(D, "FIRST_QUERIES", 150)
    index = small_ivf(photos, monkeypatch, two_level)
    queries, mirrored = related_queries(per_side)
    assert (~mirrored).sum() > 150 if per_side > 150 else (~mirrored).sum() <= 150
    one = index._faiss.search(queries, D.NEIGHBOURS)
    D.faiss.cvar.indexIVF_stats.reset()
    with index._lock:
        found = index._few_first(queries, mirrored)
    assert found is not None
    np.testing.assert_array_equal(found[0], one[0])
    np.testing.assert_array_equal(found[1], one[1])
    assert lists_scanned(two_level, len(queries)) == len(queries) * D.NPROBE
    hit, keys = D._votes(*found, mirrored)
    assert np.unique(keys[hit], return_counts=True)[1].max() > 20


@pytest.mark.parametrize("two_level", [False, True], ids=["flat-centres", "two-level"])
def test_only_the_first_rows_votes_open_the_second_stage(photos, monkeypatch, two_level):
    """Random descriptors (no vote) carrying exact copies of photo 1's indexed descriptors: two in the
    first rows and ten past them stop after the first rows; three in the first rows search them all."""
    monkeypatch.setattr(D, "FIRST_QUERIES", 150)
    index = small_ivf(photos, monkeypatch, two_level)
    copies = photos[1].descriptors[:D.SAMPLE]
    mirrored = np.arange(2 * D.QUERY_DESCRIPTORS) >= D.QUERY_DESCRIPTORS
    for first, later, opens in ((2, 10, False), (3, 0, True)):
        queries = np.random.default_rng(5).integers(0, 256, (2 * D.QUERY_DESCRIPTORS, 32), dtype=np.uint8)
        queries[10:10 + first] = copies[:first]
        queries[400:400 + later] = copies[first:first + later]
        one = index._faiss.search(queries, D.NEIGHBOURS)
        hit, keys = D._votes(*one, mirrored)
        assert (keys[hit] == 2).sum() == first + later  # photo 1, as uploaded: each copy one vote, no other
        D.faiss.cvar.indexIVF_stats.reset()
        with index._lock:
            found = index._few_first(queries, mirrored)
        if opens:
            assert found is not None
            np.testing.assert_array_equal(found[0], one[0])
            np.testing.assert_array_equal(found[1], one[1])
        else:
            assert found is None
            assert lists_scanned(two_level, 2 * 150) == 2 * 150 * D.NPROBE


def test_check_searches_by_rows_by_default_with_the_candidates_of_one_search(photos, monkeypatch):
    assert D.FIRST_QUERIES < D.QUERY_DESCRIPTORS  # the default: the stages by rows
    index = small_ivf(photos, monkeypatch, two_level=True)
    calls = []
    real = D.DerivativeIndex._few_first
    monkeypatch.setattr(D.DerivativeIndex, "_few_first",
                        lambda self, q, m: calls.append(len(q)) or real(self, q, m))
    upload = Upload.from_rgb(reshared("crop", edit("noise", scene(302), (200, 100, 300, 300))))
    staged = [(c.id, c.votes, c.mirrored) for c in index.candidates(upload)]
    assert calls and staged[0][0] == 2
    monkeypatch.setattr(D, "FIRST_PROBES", D.NPROBE)
    monkeypatch.setattr(D, "FIRST_QUERIES", D.QUERY_DESCRIPTORS)  # one search over every list
    calls.clear()
    assert [(c.id, c.votes, c.mirrored) for c in index.candidates(upload)] == staged
    assert not calls
