"""The located candidates' naming, 2026-12-08 (HA; issue 19): the vote groups' boxes of a coloured mark named in its
chroma view (index/marks.py CHROMA_VOTES_OWN), and the views' refined windows kept only where named well
(VIEW_REFINED_MIN_VALUE)."""

from __future__ import annotations

import numpy as np

from ncii_shield.index import marks as IM
from ncii_shield.signals.marks import describe as D
from tests.marks_scenes import box_overlap
from tests.unit.index.test_mark_chroma_views import _index, _stamped


def _located_from_votes(index, frame, votes) -> list:
    """The located candidates when the only boxes are the vote groups' (no blobs, no layers)."""
    names = index._descriptors()
    pyramid = D.FieldPyramid(frame.grey)
    views = [(D.FieldPyramid(D.projected(frame.rgb, index._axes[a]), IM.VIEW_SKIP), view_names, {}, {})
             for a, view_names in index._chroma_names()]
    return index._located(pyramid, names, {}, {}, views, votes, [], None)


def test_a_vote_for_a_coloured_mark_is_named_in_its_view(monkeypatch):
    index = _index(monkeypatch, 2)
    frame, box = _stamped()  # a translucent red SAMPLE (mark 0) on black-and-white texture
    votes = [(0, tuple(float(v) for v in box))]
    monkeypatch.setattr(IM, "CHROMA_VOTES_OWN", False)
    assert not [m for m, b in _located_from_votes(index, frame, votes) if m == 0]  # in grey the texture buries it
    monkeypatch.setattr(IM, "CHROMA_VOTES_OWN", True)
    found = _located_from_votes(index, frame, votes)
    assert [m for m, b in found if m == 0 and box_overlap(b, box) > 0.5], found


def test_a_vote_for_a_mark_of_another_view_is_not_named_there(monkeypatch):
    index = _index(monkeypatch, 2)
    views = {id: a for a, names in index._chroma_names() for id in names.position}
    other = next(i for i, a in views.items() if a != views[0])  # a mark of the other view (blue SUNSET or green)
    frame, box = _stamped()
    monkeypatch.setattr(IM, "CHROMA_VOTES_OWN", True)
    assert _located_from_votes(index, frame, [(other, tuple(float(v) for v in box))]) == []
    monkeypatch.setattr(IM, "CHROMA_VOTES", True)  # every vote box in every view: the red view names it
    assert [m for m, b in _located_from_votes(index, frame, [(other, tuple(float(v) for v in box))]) if m == 0]


def test_a_views_refined_windows_are_kept_only_where_named_well(monkeypatch):
    index = _index(monkeypatch, 2)
    frame, box = _stamped()
    a, view_names = index._chroma_names()[0]
    view = D.FieldPyramid(D.projected(frame.rgb, index._axes[a]), IM.VIEW_SKIP)
    boxes = np.array([box], np.float64)
    plain = index._named(boxes, view, view_names, 0)

    def refine(pyramid, names, named, count=None):  # three refined windows appended to each class, named 0.7-0.9
        out = {}
        for k, (top, rows, windows) in named.items():
            extra = np.array([[0.7, 0.1], [0.8, 0.1], [0.9, 0.1]], np.float32)
            out[k] = (np.concatenate([top, extra]), np.concatenate([rows, np.zeros((3, 2), rows.dtype)]),
                      np.concatenate([windows, np.tile(windows[:1], (3, 1))]))
        return out

    monkeypatch.setattr(D, "refine", refine)
    kept = index._named(boxes, view, view_names, 4, 0.8)
    every = index._named(boxes, view, view_names, 4)
    for k, (top, rows, windows) in kept.items():
        n = len(plain[k][0])
        assert np.array_equal(top[:n], plain[k][0]) and np.array_equal(windows[:n], plain[k][2])
        assert top[n:, 0].tolist() == [np.float32(0.8), np.float32(0.9)]  # the 0.7 one left out
        assert len(every[k][0]) == n + 3
