"""The chroma views of the located candidates' naming (index/marks.py, describe.CHROMA_AXES; issue 19,
2026-12-07 #3): a translucent coloured stamp on black-and-white texture is named through its colour
direction, where the grey naming field has the texture's edges over it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ncii_shield.index.marks import MarkIndex
from ncii_shield.signals.marks import describe as D
from ncii_shield.signals.marks import template as T
from ncii_shield.signals.marks.search import UploadFrame
from tests.marks_scenes import box_overlap, paste, reencoded, text_mark
from tests.unit.signals.test_mark_check import textured

WORDS = [("SAMPLE", (220, 30, 30)), ("HOLIDAY", (220, 30, 30)), ("SUNSET", (30, 90, 230)),
         ("STUDIO", (30, 200, 60)), ("XRAY.AI", (230, 200, 0)), ("GALLERY", (255, 255, 255))]


def _index(monkeypatch, axes: int) -> MarkIndex:
    monkeypatch.setattr(D, "CHROMA_AXES", axes)  # read when the index is made
    index = MarkIndex()
    for i, (word, colour) in enumerate(WORDS):
        index.add(T.encode(T.template_from_rgba(text_mark(word, 72, colour, outline=None, ring=False), word)), i)
    return index


def _stamped(word: str = "SAMPLE", colour=(220, 30, 30), opacity: float = 0.35):
    g = cv2.equalizeHist(cv2.cvtColor(textured(8), cv2.COLOR_RGB2GRAY))
    marked, box = paste(np.dstack([g, g, g]), text_mark(word, 72, colour, outline=None, ring=False), 150, 240,
                        opacity=opacity)
    return UploadFrame.from_rgb(reencoded(marked, 80)), box


def _located(index: MarkIndex, frame: UploadFrame, box) -> list:
    """The located candidates when the stamped box is the only overlay extent (no vote groups)."""
    names = index._descriptors()
    pyramid = D.FieldPyramid(frame.grey)
    boxes = np.array([box], np.float64)
    views = []
    for a, view_names in index._chroma_names():
        view = D.FieldPyramid(D.projected(frame.rgb, index._axes[a]))
        views.append((view, view_names, index._named(boxes, view, view_names), {}))  # no colour layers named
    return index._located(pyramid, names, index._named(boxes, pyramid, names), {}, views, [], [], None)


def test_only_coloured_marks_get_a_chroma_view(monkeypatch):
    index = _index(monkeypatch, 4)
    views = {id: a for a, names in index._chroma_names() for id in names.position}
    assert set(views) == {0, 1, 2, 3, 4}  # GALLERY is white
    assert views[0] == views[1]  # the two red words share a view
    assert len(index._axes) == 4


def test_a_translucent_red_stamp_on_black_and_white_texture_is_named_only_through_its_colour(monkeypatch):
    frame, box = _stamped()
    grey = _located(_index(monkeypatch, 0), frame, box)
    assert not [m for m, b in grey if m == 0]
    found = _located(_index(monkeypatch, 4), frame, box)
    assert [m for m, b in found if m == 0 and box_overlap(b, box) > 0.5], found


@pytest.mark.parametrize("word,colour", [("SAMPLE", (128, 128, 128)), ("SIMPLY", (220, 30, 30))])
def test_a_grey_copy_or_another_red_word_is_not_named_as_the_stamp(monkeypatch, word, colour):
    frame, box = _stamped(word, colour, 0.6)
    assert not [m for m, b in _located(_index(monkeypatch, 4), frame, box) if m == 0]


def test_with_no_chroma_directions_no_mark_has_a_view_and_no_upload_is_projected(monkeypatch):
    index = _index(monkeypatch, 0)
    assert index._chroma_names() == []
    frame, _ = _stamped()
    pyramid = D.FieldPyramid(frame.grey)
    assert index._extents(frame, pyramid, index._descriptors(), index._chroma_names())[2] == []

