"""The same photo registered twice (two people share it, a person and a platform both register it, or
it is registered again in another tenant; byte-identical or re-encoded differently): each copy's
descriptors are the other's nearest, so a plain ratio test would cancel every vote and neither copy
would be found. Both must be found, an unrelated photo must still find nothing, and a copy outside
``allowed`` must neither hide the other copy nor be reported. Three or four registrations likewise."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ncii_shield.index import derivative as D
from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative.verify import Outcome, Upload
from tests.derivative_scenes import edit, jpeg, reshared, scene

PHOTO = 105  # the scene registered twice
SAME, OTHER_ENCODING = 1, 2  # the two ids it is registered under


def _decoded(data: bytes) -> np.ndarray:
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _registered(rgb: np.ndarray) -> str:
    return F.encode(F.photo_features(rgb))


@pytest.fixture(scope="module")
def entries() -> dict[int, str]:
    photo = scene(PHOTO)
    first = _registered(_decoded(jpeg(photo, 92)))
    resized = cv2.resize(photo, (752, 564), interpolation=cv2.INTER_AREA)  # 94 %
    out = {SAME: first, OTHER_ENCODING: _registered(_decoded(jpeg(resized, 70)))}
    out |= {10 + i: _registered(scene(200 + i)) for i in range(10)}  # unrelated photos
    return out


def _index(entries: dict[int, str], ids=None, *, ivf: bool = False, monkeypatch=None) -> D.DerivativeIndex:
    if ivf:
        monkeypatch.setattr(D, "IVF_FROM", 200)
    index = D.DerivativeIndex()
    index.add_many([(v, i) for i, v in entries.items() if ids is None or i in ids])
    assert index._ivf == ivf
    return index


def _check(index: D.DerivativeIndex, rgb: np.ndarray, allowed=None) -> dict[int, Outcome]:
    return {h.id: h.verdict.outcome for h in index.check(Upload.from_rgb(rgb), allowed)}


@pytest.mark.parametrize("ivf", [False, True], ids=["flat", "inverted-file"])
@pytest.mark.parametrize("twice", [(SAME, SAME + 100), (SAME, OTHER_ENCODING)],
                         ids=["identical", "re-encoded"])
def test_a_photo_registered_twice_is_found_under_both_ids(entries, twice, ivf, monkeypatch):
    entries = dict(entries)
    entries[SAME + 100] = entries[SAME]  # byte-identical second registration
    keep = set(twice) | {i for i in entries if 10 <= i < 100}  # the two and the unrelated photos
    _found_under_every_id(_index(entries, keep, ivf=ivf, monkeypatch=monkeypatch), set(twice))


@pytest.mark.parametrize("ivf", [False, True], ids=["flat", "inverted-file"])
@pytest.mark.parametrize("n", [3, 4])
def test_a_photo_registered_three_or_four_times_is_found_under_every_id(entries, n, ivf, monkeypatch):
    """Every copy's descriptors lie next to all the others': neither the ratio test nor a tie between
    two photos lets any of them vote; the copies vote as a group (three identical, one re-encoded)."""
    copies = [entries[SAME]] * 3 + [entries[OTHER_ENCODING]]
    ids = list(range(101, 101 + n))
    kept = {i: v for i, v in entries.items() if 10 <= i < 100} | dict(zip(ids, copies[:n]))
    _found_under_every_id(_index(kept, ivf=ivf, monkeypatch=monkeypatch), set(ids))


def _found_under_every_id(index: D.DerivativeIndex, ids: set[int]) -> None:
    photo = scene(PHOTO)
    # (a) an unedited re-share
    found = _check(index, reshared("jpeg", photo))
    assert set(found) == ids, found
    assert all(o is Outcome.RESHARE for o in found.values()), found
    # (b) an edited copy: a flat-colour rectangle over 25 % of the photo (400 x 300 of 800 x 600)
    found = _check(index, reshared("resize", edit("flat", photo, (200, 150, 400, 300))))
    assert set(found) == ids, found
    assert all(o is Outcome.DERIVATIVE for o in found.values()), found
    # (c) an unrelated photo finds nothing
    assert _check(index, reshared("jpeg", scene(999))) == {}


@pytest.mark.parametrize("ivf", [False, True], ids=["flat", "inverted-file"])
@pytest.mark.parametrize("second", [SAME + 100, OTHER_ENCODING], ids=["identical", "re-encoded"])
def test_a_copy_outside_allowed_neither_hides_nor_leaks(entries, second, ivf, monkeypatch):
    entries = {i: v for i, v in entries.items() if i not in (SAME, OTHER_ENCODING)} | {
        SAME: entries[SAME], second: entries[SAME if second == SAME + 100 else second]}
    index = _index(entries, ivf=ivf, monkeypatch=monkeypatch)
    upload = reshared("crop", edit("flat", scene(PHOTO), (200, 150, 400, 300)))
    assert set(_check(index, upload, allowed=lambda i: i != second)) == {SAME}  # the other tenant's copy
    assert set(_check(index, upload, allowed=lambda i: i != SAME)) == {second}
    assert _check(index, upload, allowed=lambda i: i not in (SAME, second)) == {}
    assert set(_check(index, upload)) == {SAME, second}


def test_one_registration_is_still_found_as_before(entries):
    index = _index(entries, {SAME} | set(range(10, 20)))
    assert _check(index, reshared("jpeg", scene(PHOTO))) == {SAME: Outcome.RESHARE}
    assert _check(index, reshared("resize", edit("flat", scene(PHOTO), (200, 150, 400, 300)))) == {
        SAME: Outcome.DERIVATIVE}


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
