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


def test_the_aspect_classes_at_once_are_describes_classes():
    from ncii_shield.signals.marks import describe as D

    rng = np.random.default_rng(3)
    w, h = rng.integers(1, 1200, 20000).astype(np.float64), rng.integers(1, 1200, 20000).astype(np.float64)
    aspect = np.concatenate([w / h, w / 2 / h, [1.0, 13.5, 1 / 13.5, 40.0, 1 / 40.0, D.ASPECT_STEP ** 2.5]])
    assert np.array_equal(index_marks._aspect_classes(aspect), [D.aspect_class(a) for a in aspect.tolist()])


def test_the_vote_groups_boxes_at_once_are_each_groups_median_and_geometric_mean():
    rng = np.random.default_rng(4)
    counts = np.array([1, 2, 3, 4, 7, 8, 9, 16, 33, 1, 2], np.int64)
    total = int(counts.sum()) + 5
    order = rng.permutation(total)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[::-1].copy()  # groups not in order
    counts = counts[::-1].copy()
    side = rng.uniform(20, 200, total)
    aw, ah = rng.uniform(0.1, 1, total), rng.uniform(0.1, 1, total)
    cx, cy = rng.uniform(-50, 1000, total), rng.uniform(-50, 1000, total)
    cx[order[starts[0]:starts[0] + counts[0]]] = 7.0  # ties
    lead, boxes = index_marks._group_boxes(order, starts, counts, side, aw, ah, cx, cy)
    for g, (start, n) in enumerate(zip(starts.tolist(), counts.tolist())):
        members = order[start:start + n]
        s = float(np.exp(np.log(side[members]).mean()))
        a, b = float(aw[members[0]]), float(ah[members[0]])
        x, y = float(np.median(cx[members])), float(np.median(cy[members]))
        want = (x - a * s / 2, y - b * s / 2, a * s, b * s)
        assert lead[g] == members[0]
        assert np.allclose(boxes[g], want, rtol=0, atol=1e-9), (g, n)
    assert index_marks._group_boxes(order, starts[:0], counts[:0], side, aw, ah, cx, cy)[1].shape == (0, 4)


def test_the_vote_places_checked_early_give_the_finds_of_one_thread(monkeypatch):
    index = _index()
    begun = []
    real = index._candidates

    def spy(frame, allowed=None, limit=index_marks.CANDIDATES, begin=None):
        def counted(first, **kwargs):  # noqa: ANN003 - begin(reading=True) inside the reader section (VOTES_MEANWHILE)
            begun.append(len(first))
            begin(first, **kwargs)
        return real(frame, allowed, limit, counted if begin is not None else None)

    monkeypatch.setattr(index, "_candidates", spy)
    pool, checks_begun = index_marks._pool(), []

    class Counting:  # the pool, counting the checks submitted one by one (the early ones)
        def submit(self, fn, *args):
            if fn is index_marks.verify:
                checks_begun.append(args[2])
            return pool.submit(fn, *args)

        def map(self, *args):
            return pool.map(*args)

    monkeypatch.setattr(index_marks, "_pool", Counting)
    for seed in (21, 5):
        monkeypatch.setattr(index_marks, "CHECK_THREADS", 1)
        one = index._checked(_upload(seed), None, index_marks.CANDIDATES)
        monkeypatch.setattr(index_marks, "CHECK_THREADS", 2)
        monkeypatch.setattr(index_marks, "EARLY_CHECKS", False)
        two = index._checked(_upload(seed), None, index_marks.CANDIDATES)
        monkeypatch.setattr(index_marks, "EARLY_CHECKS", True)
        early = index._checked(_upload(seed), None, index_marks.CANDIDATES)
        assert one == two == early
        assert one  # something was checked
    assert begun and all(n == index_marks.VOTE_KEEP for n in begun)
    assert len(checks_begun) == 2 * index_marks.VOTE_KEEP  # only with EARLY_CHECKS and 2 threads
    assert [f.id for f in index.find(_upload())] == [WORDS.index("STUDIO")]


def test_the_windows_of_located_boxes_are_each_class_and_size_of_each_box_in_loop_order():
    """``_windows`` (all at once) against the loop it replaced: per class held, the boxes of that class or one
    beside it at each size, in the order (class step, size, box), the classes in first-met order."""
    from ncii_shield.signals.marks import describe as D

    rng = np.random.default_rng(5)
    n = 300
    w = rng.uniform(10, 400, n)
    boxes = np.stack([rng.uniform(0, 900, n), rng.uniform(0, 700, n), w, w / np.exp(rng.uniform(-3, 3, n))], axis=1)
    held = {k: np.zeros((1, 4), np.float32) for k in (-15, -7, -1, 0, 1, 2, 5, 9, 15)}
    names = D.Descriptors({k: np.array([k]) for k in held}, held, {k: (k, 0) for k in held})
    want: dict[int, list[np.ndarray]] = {}
    cx, cy, area = boxes[:, 0] + boxes[:, 2] / 2, boxes[:, 1] + boxes[:, 3] / 2, boxes[:, 2] * boxes[:, 3]
    k0 = np.array([D.aspect_class(a) for a in (boxes[:, 2] / boxes[:, 3]).tolist()])
    for dk in index_marks.LOCATE_CLASSES:
        for k in np.unique(k0 + dk).tolist():
            if k not in held:
                continue
            sel = np.flatnonzero(k0 + dk == k)
            a = D.class_aspect(k)
            for f in index_marks.LOCATE_SIZES:
                ww, hh = np.sqrt(area[sel] * a) * f, np.sqrt(area[sel] / a) * f
                want.setdefault(k, []).append(np.stack([cx[sel] - ww / 2, cy[sel] - hh / 2, ww, hh], axis=1))
    got = index_marks._windows(boxes, names)
    assert list(got) == list(want)
    for k in want:
        assert np.array_equal(got[k], np.concatenate(want[k])), k


def test_naming_jobs_shared_by_two_threads_run_once_each_and_come_back_in_order():
    tasks = index_marks._Tasks()
    ran: list[int] = []
    started = threading.Event()

    def job(k: int):
        def run():
            ran.append(k)
            if k == 0:  # the other thread takes the rest while this one is busy
                started.set()
                assert later.wait(10)
            return k * 10
        return run

    later = threading.Event()
    helper = threading.Thread(target=tasks.work, kwargs={"wait": True})
    helper.start()  # waits for the jobs to be posted
    tasks.post([job(k) for k in range(6)])
    assert started.wait(10)
    caller = threading.Thread(target=lambda: out.append(tasks.results()))
    out: list = []
    caller.start()
    later.set()
    caller.join(10)
    helper.join(10)
    assert out == [[0, 10, 20, 30, 40, 50]]
    assert sorted(ran) == list(range(6))  # each once


def test_a_failing_naming_job_raises_in_the_caller_and_closing_frees_a_waiting_thread():
    tasks = index_marks._Tasks()

    def boom():
        raise ValueError("job")

    tasks.post([lambda: 1, boom])
    try:
        tasks.results()
        raise AssertionError("no error")
    except ValueError:
        pass
    idle = index_marks._Tasks()
    helper = threading.Thread(target=idle.work, kwargs={"wait": True})
    helper.start()
    idle.close()  # nothing posted: the pool thread waiting for jobs returns
    helper.join(10)
    assert not helper.is_alive()


def test_the_candidates_are_the_same_with_the_naming_shared_or_not(monkeypatch):
    index = _index()
    for seed in (21, 5):
        monkeypatch.setattr(index_marks, "SHARE_NAMING", False)
        one = index.candidates(_upload(seed))
        monkeypatch.setattr(index_marks, "SHARE_NAMING", True)
        two = index.candidates(_upload(seed))
        assert one == two and one
        assert index._readers == 0


def test_an_upload_too_thin_to_hold_a_mark_finds_nothing_without_failing(monkeypatch):
    """A 1- or 2-pixel-high (or wide) upload: no mark, no error (the candidate stage's resizes fail on it)."""
    index = _index()
    thin = [(1, 600), (600, 1), (2, 600), (1, 1)]
    for h, w in thin:
        rgb = (np.random.default_rng(h * w).random((h, w, 3)) * 255).astype(np.uint8)
        assert index.find(UploadFrame.from_rgb(rgb)) == []
    monkeypatch.setattr(index_marks, "MIN_FRAME_SIDE", 0)  # the guard is what keeps them from failing
    failed = 0
    for h, w in thin:
        rgb = (np.random.default_rng(h * w).random((h, w, 3)) * 255).astype(np.uint8)
        try:
            index.find(UploadFrame.from_rgb(rgb))
        except Exception:  # noqa: BLE001 - OpenCV's assertion
            failed += 1
    assert failed


def test_no_boxes_or_no_marks_give_no_windows():
    from ncii_shield.signals.marks import describe as D

    names = D.Descriptors.group([(0, 0, np.ones(8, np.float32))])
    box = np.array([[10.0, 10.0, 40.0, 40.0]])
    assert index_marks._windows(box, names)  # a square box is named at class 0
    assert index_marks._windows(np.zeros((0, 4)), names) == {}
    assert index_marks._windows(box, D.Descriptors.group([])) == {}
