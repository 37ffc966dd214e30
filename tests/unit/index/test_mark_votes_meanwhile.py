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
        def counted(first):  # noqa: ANN001
            begun.append(len(first))
            begin(first)
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
    monkeypatch.setattr(index_marks._Shared, "finished", lambda self: False)
    one = index.candidates(_upload(5))
    monkeypatch.setattr(index_marks, "VOTES_MEANWHILE", False)
    assert index.candidates(_upload(5)) == one and one
