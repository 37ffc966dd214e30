"""The same photo registered three or four times (several people, platforms or tenants register it,
identical or re-encoded): every copy's descriptors lie next to all the others', so neither the ratio
test nor a tie between two photos lets any of them vote. Each copy must be found, while an unrelated
photo still finds nothing and an edit of one photo registered once is found as before."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ncii_shield.index import derivative as D
from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative.verify import Outcome, Upload
from tests.derivative_scenes import edit, jpeg, reshared, scene

PHOTO = 105


def _decoded(data: bytes) -> np.ndarray:
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def copies() -> list[str]:
    photo = scene(PHOTO)
    first = F.encode(F.photo_features(_decoded(jpeg(photo, 92))))
    resized = cv2.resize(photo, (752, 564), interpolation=cv2.INTER_AREA)
    other = F.encode(F.photo_features(_decoded(jpeg(resized, 70))))
    return [first, first, first, other]  # three identical, one re-encoded at another size


@pytest.fixture(scope="module")
def unrelated() -> dict[int, str]:
    return {10 + i: F.encode(F.photo_features(scene(200 + i))) for i in range(10)}


def _check(index: D.DerivativeIndex, rgb: np.ndarray) -> dict[int, Outcome]:
    return {h.id: h.verdict.outcome for h in index.check(Upload.from_rgb(rgb))}


@pytest.mark.parametrize("ivf", [False, True], ids=["flat", "inverted-file"])
@pytest.mark.parametrize("n", [3, 4])
def test_a_photo_registered_three_or_four_times_is_found_under_every_id(copies, unrelated, n, ivf, monkeypatch):
    if ivf:
        monkeypatch.setattr(D, "IVF_FROM", 200)
    index = D.DerivativeIndex()
    ids = [1, 2, 3, 4][:n]
    index.add_many([(copies[k], i) for k, i in enumerate(ids)] + [(v, i) for i, v in unrelated.items()])
    assert index._ivf == ivf
    photo = scene(PHOTO)
    found = _check(index, reshared("jpeg", photo))
    assert set(found) == set(ids), found
    assert all(o is Outcome.RESHARE for o in found.values()), found
    found = _check(index, reshared("resize", edit("flat", photo, (200, 150, 400, 300))))
    assert set(found) == set(ids), found
    assert all(o is Outcome.DERIVATIVE for o in found.values()), found
    assert _check(index, reshared("jpeg", scene(999))) == {}


def test_a_group_filling_every_neighbour_does_not_vote():
    """As many near-identical neighbours as are looked up: nothing beyond them to test against."""
    k = D.NEIGHBOURS
    distances = np.array([[2] * k, [2] * (k - 1) + [60]], np.int32)
    labels = np.array([list(range(1, k + 1)), list(range(1, k + 1))], np.int64)
    labels = np.repeat(labels, D.TIE_VOTES, axis=0)
    distances = np.repeat(distances, D.TIE_VOTES, axis=0)
    hit, keys = D._votes(distances, labels, np.zeros(len(labels), bool))
    full, short = hit[:D.TIE_VOTES], hit[D.TIE_VOTES:]  # rows repeated TIE_VOTES times each
    assert not full.any()
    assert short[:, :k - 1].all() and not short[:, k - 1].any()
    assert (keys[D.TIE_VOTES:][short] // 2).tolist() == list(range(1, k)) * D.TIE_VOTES


def test_ties_under_tie_votes_do_not_vote():
    distances = np.array([[4, 4, 5, 90, 90]] * (D.TIE_VOTES - 1), np.int32)[:, :D.NEIGHBOURS]
    labels = np.array([[1, 2, 3, 4, 5]] * (D.TIE_VOTES - 1), np.int64)[:, :D.NEIGHBOURS]
    hit, _ = D._votes(distances, labels, np.zeros(len(labels), bool))
    assert not hit.any()
