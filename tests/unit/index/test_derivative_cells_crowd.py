"""Issue 20 point 3 at scale: a photo the cell search finds must stand out from the crowd that chance gives the
upload's cells in the registry (index/derivative.py ``CELL_CROWD``, ``CELL_MARGIN``): at 1M photos a lookup finds
up to ~160 photos with CELL_VOTES identical cells, and one of them, barely above the others, was flagged by its
whole frame. A lookup finding fewer than CELL_CROWD photos (a small registry: the benchmark's 129) is unchanged."""

from __future__ import annotations

import pytest

from ncii_shield.index import derivative as D
from ncii_shield.index.derivative import Candidate, DerivativeIndex
from ncii_shield.signals.derivative import features as F
from tests.unit.index.test_derivative_cells_hc import fake
from tests.unit.index.test_derivative_whole_candidates import soft


@pytest.fixture(scope="module")
def features() -> dict[int, F.PhotoFeatures]:
    return {id: F.photo_features(soft(40 + id)) for id in range(1, 10)}


def compared(features, monkeypatch, found: list[tuple[int, int]]) -> list[int]:  # noqa: ANN001
    """The photos the check compares as the whole frame when the cell lookup finds ``found`` and the keypoint
    search ranked photo 9 only."""
    index = DerivativeIndex()
    index.add_features_many([(f, id) for id, f in features.items()])
    monkeypatch.setattr(index, "candidates", lambda upload, allowed=None, limit=D.CANDIDATES: [
        Candidate(9, 3, False, 0)])
    monkeypatch.setattr(D, "MAX_WEAK", 0)
    monkeypatch.setattr(index._cells, "lookup", lambda cells, aspect: found)
    by_reg: dict[int, int] = {id(f): i for i, f in features.items()}
    seen: list[int] = []
    monkeypatch.setattr(D, "whole_frame", lambda reg, upload, mirrored=None: seen.append(by_reg[id(reg)]))
    assert index.check(fake()) == []
    return [i for i in seen if i != 9]


def test_a_photo_in_the_crowd_is_not_compared(features, monkeypatch):
    crowd = [(1, 40), (2, 16), (3, 15), (4, 14), (5, 14), (6, 13), (7, 12)]  # the 5th: 14; 1.5 x 14 = 21
    assert compared(features, monkeypatch, crowd) == [1]
    monkeypatch.setattr(D, "CELL_MARGIN", 0)  # off: as before, the best CELL_CANDIDATES
    assert compared(features, monkeypatch, crowd) == [1, 2, 3, 4, 5, 6, 7]


def test_fewer_than_the_crowd_found_is_as_before(features, monkeypatch):
    few = [(1, 40), (2, 16), (3, 15), (4, 10)]  # under CELL_CROWD (5) photos: no crowd to stand out from
    assert compared(features, monkeypatch, few) == [1, 2, 3, 4]


def test_the_crowd_counts_the_photos_the_search_ranked_too(features, monkeypatch):
    # photo 9 (ranked by the keypoint search) is the crowd's 5th with 20: 1.5 x 20 = 30
    found = [(1, 40), (2, 30), (3, 24), (4, 21), (9, 20), (5, 20)]
    assert compared(features, monkeypatch, found) == [1, 2]


def test_the_own_photo_registered_five_times_is_still_compared(features, monkeypatch):
    """The same photo in several banks (or re-encoded copies registered apart) is its own crowd: every copy at the
    own photo's count, above CELL_SURE, so compared however many (the review of 2026-12-07 #7, R2: hits none)."""
    copies = [(1, 82), (2, 81), (3, 80), (4, 79), (5, 77), (6, 14), (7, 13), (10, 13), (11, 12), (12, 12)]  # crowd 12
    assert compared(features, monkeypatch, copies) == [1, 2, 3, 4, 5]
    # the crowd is taken under CELL_SURE: the copies do not raise it over a photo that stands out from chance
    assert compared(features, monkeypatch, copies[:5] + [(6, 30), (7, 14), (8, 13), (10, 12), (11, 11), (12, 11)]) \
        == [1, 2, 3, 4, 5, 6]
    monkeypatch.setattr(D, "CELL_SURE", 10**6)  # without it: the copies are the crowd, and all left out
    assert compared(features, monkeypatch, copies) == []


def test_copies_of_the_own_photo_in_a_real_index_reach_the_check(monkeypatch):
    """The review's probe (R2) as a test: the pasted part's photo (soft(31)) registered five times, exact and
    re-encoded, with photos the keypoint search ranks; the fake of it is flagged against its copies."""
    import cv2
    import numpy as np

    from tests.derivative_scenes import scene

    def jpeg(img: np.ndarray, q: int) -> np.ndarray:
        ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
        return cv2.imdecode(buf, 1)[..., ::-1].copy()

    base = soft(31)
    regs = [(F.photo_features(base), 1), (F.photo_features(soft(32)), 2), (F.photo_features(scene(81)), 4)]
    regs += [(F.photo_features(jpeg(base, q)), 11 + k) for k, q in enumerate((95, 90, 85, 80))]
    index = DerivativeIndex()
    index.add_features_many(regs)
    monkeypatch.setattr(index, "candidates", lambda upload, allowed=None, limit=D.CANDIDATES: [
        Candidate(2, 3, False, 0)])
    monkeypatch.setattr(D, "MAX_WEAK", 0)
    flagged = {h.id for h in index.check(fake()) if h.verdict.outcome.value == "derivative"}
    assert 1 in flagged and len(flagged & {1, 11, 12, 13, 14}) == 5
