"""Issue 20, the large kind end to end: the cell search (index/derivative.py ``CELL_CANDIDATES``). Most of a
photo replaced leaves its remainder too few keypoints to make it a candidate at all, while the remainder's
cells, seen in place in an upload of the photo's shape, are still the photo's: the photos whose textured
cells are identical to the upload's own go to the whole-frame comparison. Synthetic scenes."""

from __future__ import annotations

import numpy as np
import pytest

from ncii_shield.index import derivative as D
from ncii_shield.index.derivative import Candidate, DerivativeIndex, _CellKeys
from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative.verify import Outcome, Upload
from tests.derivative_scenes import scene
from tests.unit.index.test_derivative_whole_candidates import CENTRE, shrunk, soft
from tests.unit.signals.test_derivative_kinds import replaced


@pytest.fixture(scope="module")
def features() -> dict[int, F.PhotoFeatures]:
    return {id: F.photo_features(img) for id, img in ((1, soft(31)), (2, soft(32)), (3, soft(40)), (4, scene(81)))}


@pytest.fixture
def index(features) -> DerivativeIndex:  # noqa: ANN001
    idx = DerivativeIndex()
    idx.add_features_many(list((f, id) for id, f in features.items()))
    return idx


def only(index: DerivativeIndex, monkeypatch, ids: list[int]) -> None:  # noqa: ANN001
    """The keypoint search ranks ``ids`` only, as weak candidates the check's pass skips (MAX_WEAK 0)."""
    monkeypatch.setattr(index, "candidates", lambda upload, allowed=None, limit=D.CANDIDATES: [
        Candidate(id, 3, False, 0) for id in ids])
    monkeypatch.setattr(D, "MAX_WEAK", 0)


def fake() -> Upload:
    return Upload.from_rgb(shrunk(replaced(soft(31), scene(81), CENTRE)))


def test_a_photo_no_keypoint_search_ranks_is_found_by_its_cells(index, monkeypatch):
    only(index, monkeypatch, [2])  # an unrelated photo ranked; the photo around the pasted part nowhere
    hits = index.check(fake())
    assert [h.id for h in hits] == [1]
    assert hits[0].verdict.outcome is Outcome.DERIVATIVE and hits[0].verdict.inliers == 0
    monkeypatch.setattr(D, "CELL_CANDIDATES", 0)
    assert index.check(fake()) == []  # without the cell search: nothing


def test_no_cell_search_when_nothing_was_ranked(index, monkeypatch):
    only(index, monkeypatch, [])
    calls: list[int] = []
    real = _CellKeys.lookup
    monkeypatch.setattr(_CellKeys, "lookup", lambda self, *a: calls.append(1) or real(self, *a))
    assert index.check(fake()) == [] and not calls


def test_the_cell_keys_of_the_uploads_shape_only(features):
    keys = _CellKeys()
    keys.add(list((f, id) for id, f in features.items()))
    up = fake()
    own = (up.whole_cells(False), up.whole_cells(True))
    fh, fw = up.frame.grey.shape
    found = dict(keys.lookup(own, fw / fh))
    assert 1 in found and found[1] >= D.CELL_VOTES
    assert found[1] == max(found.values())  # the photo around the part has the most identical cells
    assert keys.lookup(own, 1.2 * fw / fh) == []  # another shape: none (the whole-frame comparison needs it)


def test_a_withdrawn_photo_is_not_found_and_counts_once_when_added_again(features):
    keys = _CellKeys()
    keys.add([(features[1], 1)])
    keys.add([(features[2], 2)])
    up = fake()
    own = (up.whole_cells(False), up.whole_cells(True))
    fh, fw = up.frame.grey.shape
    before = dict(keys.lookup(own, fw / fh))
    keys.remove(1)
    assert 1 not in dict(keys.lookup(own, fw / fh))
    keys.add([(features[1], 1)])
    assert dict(keys.lookup(own, fw / fh))[1] == before[1]
    assert sum(len(run) for run in keys._runs) == sum(
        int((f.cells.std >= F.TEXTURE_STD).sum()) for f in (features[1], features[2]))
    assert all(np.all(np.diff(run.keys().astype(np.int64)) >= 0) for run in keys._runs)  # each run sorted


def test_a_photo_found_by_its_cells_needs_a_larger_block(index, monkeypatch):
    only(index, monkeypatch, [2])
    dense = index.check(fake())[0].verdict.details["dense"]
    assert dense >= D.CELL_DENSE
    monkeypatch.setattr(D, "CELL_DENSE", dense + 1)
    assert index.check(fake()) == []  # chosen for its cells: held to CELL_DENSE
    only(index, monkeypatch, [1])  # the same photo ranked by the keypoint search: the whole frame's own bar
    assert [h.id for h in index.check(fake())] == [1]
