"""One check on two threads (``CHECK_THREADS``): the faiss search's rows split between the calling thread
and a pool thread, and the candidates sure to be verified verified two at a time. The output must be
that of one thread, bit for bit; both threads must really work; a pool busy with other checks must not
hold a check up; an error on the pool thread must reach the caller."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from ncii_shield.index import derivative as D
from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative.instances import Part
from ncii_shield.signals.derivative.verify import Upload
from tests.derivative_scenes import edit, reshared, scene
from tests.unit.index.test_derivative_growth import filler, small_two_level


@pytest.fixture(scope="module")
def photos() -> dict[int, F.PhotoFeatures]:
    out = {i: F.photo_features(scene(300 + i)) for i in range(1, 7)}
    # photo 2 again, as a crop (its own keypoints, its own signature): an upload of photo 2 has two strong
    # candidates, both verified whatever the other's verdict
    out[20] = F.photo_features(np.ascontiguousarray(scene(302)[40:-40, 60:-60]))
    return out


def two_level(photos: dict[int, F.PhotoFeatures], monkeypatch) -> D.DerivativeIndex:
    small_two_level(monkeypatch)
    index = D.DerivativeIndex()
    index.add_features_many(list((f, i) for i, f in photos.items()) + filler(300))
    assert index._ivf and isinstance(index._quantizer, D.faiss.IndexBinaryIVF)
    return index


def uploads() -> list[Upload]:
    return [Upload.from_rgb(reshared(kind, edit("noise", scene(seed), (200, 100, 300, 300))))
            for kind, seed in (("crop", 302), ("mirror", 302), ("jpeg", 304), ("crop", 999))]


def outputs(index: D.DerivativeIndex, ups: list[Upload]) -> list:
    return [[(h.id, h.votes, h.verdict.to_json()) for h in index.check(u)] for u in ups]


@pytest.mark.parametrize("flat", [False, True], ids=["two-level", "flat"])
def test_two_threads_give_the_output_of_one(photos, monkeypatch, flat):
    monkeypatch.setattr(D, "SPLIT_VERIFY", True)  # off by default; both splits must keep the output
    index = D.DerivativeIndex() if flat else two_level(photos, monkeypatch)
    if flat:
        index.add_features_many(list((f, i) for i, f in photos.items()))
        monkeypatch.setattr(D, "SPLIT_FROM", 1)
    ups = uploads()
    monkeypatch.setattr(D, "CHECK_THREADS", 1)
    one = outputs(index, ups)
    searches = []
    for u in ups:
        queries = np.ascontiguousarray(np.concatenate([u.descriptors[:D.QUERY_DESCRIPTORS],
                                                       u.mirrored_descriptors[:D.QUERY_DESCRIPTORS]]))
        mirrored = np.arange(len(queries)) >= len(u.descriptors[:D.QUERY_DESCRIPTORS])
        with index._lock:
            searches.append((queries, mirrored, None if flat else index._staged(queries, mirrored)))
    assert {h[0] for h in one[0]} == {2, 20}  # both copies of photo 2 verified
    assert one[3] == []  # not registered
    monkeypatch.setattr(D, "CHECK_THREADS", 2)
    assert outputs(index, ups) == one
    for queries, mirrored, staged in searches:
        if staged is None:
            continue
        with index._lock:
            split = index._staged(queries, mirrored)
        np.testing.assert_array_equal(split[0], staged[0])
        np.testing.assert_array_equal(split[1], staged[1])


@pytest.mark.parametrize(("settings", "parallel"), [
    ({}, True),  # two strong candidates
    ({"STRONG_VOTES": 10_000}, True),  # every candidate weak: those whose votes line up
    ({"STRONG_VOTES": 10_000, "MAX_WEAK": 1}, False),  # ... but only one may be verified: serial
], ids=["strong", "weak-lined-up", "weak-budget"])
def test_sure_candidates_are_verified_on_both_threads_once_each(photos, monkeypatch, settings, parallel):
    monkeypatch.setattr(D, "SPLIT_VERIFY", True)  # off by default (GIL-bound), still a setting
    index = two_level(photos, monkeypatch)
    for name, value in settings.items():
        monkeypatch.setattr(D, name, value)
    upload = uploads()[0]
    real_verify = D.verify
    calls: list[tuple[int, int, bool | None]] = []
    meet = threading.Barrier(2, timeout=20)  # two threads: the first two verifications run at the same time

    def counted(reg, upload, *, mirrored=None):  # noqa: ANN001, ANN202
        calls.append((threading.get_ident(), id(reg), mirrored))
        if parallel and D.CHECK_THREADS > 1 and len(calls) <= 2:
            meet.wait()
        return real_verify(reg, upload, mirrored=mirrored)

    monkeypatch.setattr(D, "verify", counted)
    monkeypatch.setattr(D, "CHECK_THREADS", 1)
    serial = outputs(index, [upload])
    serial_calls = sorted((r, m) for _, r, m in calls)
    assert len({ident for ident, _, _ in calls}) == 1 and len(calls) >= (2 if parallel else 1)
    calls.clear()
    monkeypatch.setattr(D, "CHECK_THREADS", 2)
    assert outputs(index, [upload]) == serial
    assert len({ident for ident, _, _ in calls}) == (2 if parallel else 1)  # on two threads, or the caller's
    assert sorted((r, m) for _, r, m in calls) == serial_calls  # the same verifications, once each


def test_a_busy_pool_holds_no_check_up(photos, monkeypatch):
    index = two_level(photos, monkeypatch)
    ups = uploads()[:2]
    monkeypatch.setattr(D, "CHECK_THREADS", 1)
    serial = outputs(index, ups)
    monkeypatch.setattr(D, "CHECK_THREADS", 2)
    release = threading.Event()
    busy = [D._pool().submit(release.wait, 30) for _ in range(D._pool()._max_workers)]
    try:
        t0 = time.perf_counter()
        assert outputs(index, ups) == serial  # the calling thread did all of it
        assert time.perf_counter() - t0 < 20
        assert not any(b.done() for b in busy)
    finally:
        release.set()


def test_an_error_on_the_pool_thread_reaches_the_caller(monkeypatch):
    monkeypatch.setattr(D, "CHECK_THREADS", 2)
    started = threading.Event()

    def slow() -> int:
        started.set()
        time.sleep(0.2)
        return 1

    def fails() -> int:
        started.wait(5)
        raise ValueError("job failed")

    with pytest.raises(ValueError, match="job failed"):
        D._shared([slow, fails])
    assert D._shared([lambda: 1, lambda: 2, lambda: 3]) == [1, 2, 3]


def test_a_composite_picture_naming_its_photos_gets_the_verdicts_of_one_thread(photos, monkeypatch):
    index = D.DerivativeIndex()
    index.add_features_many(list((f, i) for i, f in photos.items()))
    part = Part.of(uploads()[0], only=(2, 20, 4))
    monkeypatch.setattr(D, "CHECK_THREADS", 1)
    one = [(h.id, h.verdict.to_json()) for h in index.check(part)]
    assert {i for i, _ in one} == {2, 20}
    monkeypatch.setattr(D, "CHECK_THREADS", 2)
    assert [(h.id, h.verdict.to_json()) for h in index.check(part)] == one
