"""The marks index's candidate stage (index/marks.py): the keypoint search shared by two threads
gives what one thread gives, and changes wait for a search outside the lock."""

from __future__ import annotations

import threading

import numpy as np

from ncii_shield.index import marks as index_marks
from ncii_shield.index.marks import MarkIndex
from ncii_shield.signals.marks import template as T
from ncii_shield.signals.marks.search import UploadFrame
from tests.marks_scenes import paste, photo, reencoded, text_mark

WORDS = ("NUDIFY", "HOLIDAY", "SUNSET", "STUDIO", "XRAY.AI", "GALLERY")


def _index() -> MarkIndex:
    index = MarkIndex()
    for i, word in enumerate(WORDS):
        index.add(T.encode(T.template_from_rgba(text_mark(word, ring=False), word)), i)
    return index


def _upload(seed: int = 21) -> UploadFrame:
    marked, _ = paste(photo(seed), text_mark("STUDIO", ring=False), 300, 200, scale=0.8, opacity=0.8)
    return UploadFrame.from_rgb(reencoded(marked, 80))


def test_the_shared_search_gives_the_candidates_and_finds_of_one_thread(monkeypatch):
    index = _index()
    monkeypatch.setattr(index_marks, "SEARCH_CHUNK", 100)  # several chunks, taken by both threads
    for seed in (21, 5):
        monkeypatch.setattr(index_marks, "OVERLAP", False)
        one = (index.candidates(_upload(seed)), index.find(_upload(seed)))
        monkeypatch.setattr(index_marks, "OVERLAP", True)
        two = (index.candidates(_upload(seed)), index.find(_upload(seed)))
        assert one == two
        assert one[0]  # not trivially equal
        assert index._readers == 0
    assert [f.id for f in index.find(_upload())] == [WORDS.index("STUDIO")]


def test_the_chunks_put_back_in_order_are_one_search(monkeypatch):
    index = _index()
    frame = _upload()
    monkeypatch.setattr(index_marks, "SEARCH_CHUNK", 77)
    shared = index_marks._Shared(frame, index._faiss, index._geometry())
    shared.run()
    distances, labels, _ = shared.result()
    whole = index._faiss.search(np.ascontiguousarray(frame.keypoints[2]), index_marks.NEIGHBOURS)
    assert len(frame.keypoints[2]) > 77
    assert np.array_equal(distances, whole[0]) and np.array_equal(labels, whole[1])


def test_a_change_waits_for_a_search_outside_the_lock():
    index = _index()
    with index._idle:
        index._readers += 1  # as _candidates does while its two threads search faiss
    done = threading.Event()
    value = T.encode(T.template_from_rgba(text_mark("PHOTOBOX", ring=False), "PHOTOBOX"))
    worker = threading.Thread(target=lambda: (index.add(value, 99), done.set()))
    worker.start()
    assert not done.wait(0.5)  # the change waits ...
    assert 99 not in index._entries
    with index._idle:
        index._readers -= 1
        index._idle.notify_all()
    assert done.wait(20)  # ... until the search has ended
    worker.join()
    assert 99 in index._entries


def test_a_pool_busy_with_other_uploads_does_not_hold_up_the_candidate_stage():
    """The pool thread's half is dropped when the pool never started it: the calling thread has done it all."""
    index = _index()
    frame = _upload()
    expected = index.candidates(frame)
    release = threading.Event()
    pool = index_marks._pool()
    blockers = [pool.submit(release.wait, 30) for _ in range(index_marks.CHECK_THREADS)]
    try:
        took = threading.Event()
        got: list = []

        def run() -> None:
            got.append(index.candidates(_upload()))
            took.set()

        worker = threading.Thread(target=run)
        worker.start()
        assert took.wait(10), "the candidate stage waited for the busy pool"
        worker.join()
        assert got[0] == expected
        assert index._readers == 0
    finally:
        release.set()
        for b in blockers:
            b.result(timeout=30)
