"""The votes chosen while the other thread ends its last naming job (index/marks.py VOTES_MEANWHILE, 2026-12-07 #7):
the same candidates and checks as when they are chosen after it, the first places' checks begun once."""

from __future__ import annotations

import time

from ncii_shield.index import marks as index_marks
from ncii_shield.signals.marks import locate as L
from tests.unit.index.test_mark_candidates import WORDS, _index, _upload


def test_votes_chosen_meanwhile_give_the_same_candidates_and_checks(monkeypatch):
    index = _index()
    finished, begun = [], []
    real_finished, real_candidates, real_layers = index_marks._Shared.finished, index._candidates, L.layer_boxes

    def spy_finished(self):  # noqa: ANN001
        finished.append(real_finished(self))
        return finished[-1]

    def spy_candidates(frame, allowed=None, limit=index_marks.CANDIDATES, begin=None):  # noqa: ANN001
        def counted(first, **kwargs):  # noqa: ANN001, ANN003
            begun.append(len(first))
            begin(first, **kwargs)
        return real_candidates(frame, allowed, limit, counted if begin is not None else None)

    def slow_layers(*args, **kwargs):  # noqa: ANN002, ANN003 - the search surely done when this thread's jobs end
        time.sleep(0.2)
        return real_layers(*args, **kwargs)

    monkeypatch.setattr(index_marks._Shared, "finished", spy_finished)
    monkeypatch.setattr(index, "_candidates", spy_candidates)
    monkeypatch.setattr(L, "layer_boxes", slow_layers)
    for seed in (21, 5):
        results = {}
        for on in (False, True):
            monkeypatch.setattr(index_marks, "VOTES_MEANWHILE", on)
            before = len(begun)
            results[on] = (index._checked(_upload(seed), None, index_marks.CANDIDATES), index.candidates(_upload(seed)))
            assert len(begun) == before + 1  # the first places' checks begun once an upload (candidates(): none)
        assert results[False] == results[True]
        assert results[True][0] and results[True][1]
        assert index._readers == 0
    assert True in finished  # the votes were chosen meanwhile at least once
    assert [f.id for f in index.find(_upload())] == [WORDS.index("STUDIO")]


def test_a_search_not_finished_leaves_the_votes_for_after(monkeypatch):
    index = _index()
    monkeypatch.setattr(index_marks, "VOTES_MEANWHILE", True)
    monkeypatch.setattr(index_marks._Shared, "finished", lambda self: False)
    one = index.candidates(_upload(5))
    monkeypatch.setattr(index_marks, "VOTES_MEANWHILE", False)
    assert index.candidates(_upload(5)) == one and one


def test_a_registration_during_an_upload_check_does_not_deadlock(monkeypatch):
    """A writer (add) arriving while an upload's candidate stage reads faiss outside the lock waits for it in
    _quiet() with the lock held; the checks begun meanwhile must not then wait for that lock (the review of
    2026-12-07 #7, R1: both threads hung before the fix)."""
    import threading

    from ncii_shield.signals.marks import template as T
    from tests.marks_scenes import text_mark

    index = _index()
    index._checked(_upload(21), None, index_marks.CANDIDATES)  # warm
    monkeypatch.setattr(index_marks, "VOTES_MEANWHILE", True)
    real_layers = L.layer_boxes

    def slow_layers(*args, **kwargs):  # noqa: ANN002, ANN003 - time for the writer to arrive inside the stage
        time.sleep(0.5)
        return real_layers(*args, **kwargs)

    monkeypatch.setattr(L, "layer_boxes", slow_layers)
    value = T.encode(T.template_from_rgba(text_mark("PHOTOBOX", ring=False), "PHOTOBOX"))
    done: dict = {}

    def upload() -> None:
        done["upload"] = index._checked(_upload(21), None, index_marks.CANDIDATES)

    def writer() -> None:
        deadline = time.monotonic() + 20
        while index._readers == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        done["reader_seen"] = index._readers > 0
        index.add(value, 99)
        done["writer"] = True

    threads = [threading.Thread(target=upload, daemon=True), threading.Thread(target=writer, daemon=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert done.get("reader_seen")  # the writer arrived inside the reader section
    assert "upload" in done and done.get("writer"), "an upload's check and a registration deadlocked"
    assert index._readers == 0
