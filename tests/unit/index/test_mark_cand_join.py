"""The parts of one coloured word joined (locate.JOIN_PARTS; issue 19, 2026-12-07 #6): a large, thin, outline-less
red word at half opacity on black-and-white texture stays apart letter by letter in its colour layer, so no edge blob
and no layer box has its extent; the layer's parts in a row, joined, have it, and the index finds the word there."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ncii_shield.index import marks as index_marks
from ncii_shield.index.marks import MarkIndex
from ncii_shield.signals.marks import locate as L
from ncii_shield.signals.marks import template as T
from ncii_shield.signals.marks.search import UploadFrame
from tests.marks_scenes import box_overlap, paste, reencoded, text_mark
from tests.unit.signals.test_mark_check import textured

RED = (230, 20, 20)
WORDS = [("FAKE", RED), ("FARE", RED), ("TAKE", RED), ("HOLIDAY", (220, 30, 30)), ("SUNSET", (30, 90, 230)),
         ("AIGEN", (0, 220, 255)), ("GALLERY", (255, 255, 255))]


def _index() -> MarkIndex:
    index = MarkIndex()
    for i, (word, colour) in enumerate(WORDS):
        index.add(T.encode(T.template_from_rgba(text_mark(word, 72, colour, outline=None, ring=False), word)), i)
    return index


def _stamped(seed: int, word: str = "FAKE", colour=RED, scale: float = 2.5, opacity: float = 0.5):
    g = cv2.equalizeHist(cv2.cvtColor(textured(seed), cv2.COLOR_RGB2GRAY))
    marked, box = paste(np.dstack([g, g, g]), text_mark(word, 72, colour, outline=None, ring=False), 100, 200,
                        scale=scale, opacity=opacity)
    return UploadFrame.from_rgb(reencoded(marked, 80)), box


def _no_keypoint_help(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(index_marks, "VOTE_KEEP", 0)
    monkeypatch.setattr(index_marks, "VOTE_POOL", 0)
    monkeypatch.setattr(MarkIndex, "_votes", lambda self, frame, allowed, limit, searched=None: [])


def test_parts_in_a_row_are_joined_and_others_not():
    rects = np.array([[10, 100, 40, 60], [60, 102, 38, 58], [110, 98, 42, 62],  # three letters in a row
                      [400, 100, 40, 60],  # one too far off
                      [10, 300, 40, 60], [52, 330, 40, 60],  # rows apart by half a letter
                      [600, 100, 40, 60], [645, 100, 40, 20]], np.float64)  # heights 3:1
    joined = L.join_parts(rects)
    assert joined.tolist() == [[10.0, 98.0, 142.0, 62.0]]


@pytest.mark.parametrize("seed", [8, 13, 21])
def test_a_large_thin_red_word_on_texture_is_found_through_its_parts_joined(monkeypatch, seed):
    index = _index()
    frame, box = _stamped(seed)
    blobs = L.proposals(frame.rgb)
    monkeypatch.setattr(L, "JOIN_PARTS", False)
    layers = L.layer_boxes(frame.rgb, blobs)
    assert max(box_overlap(tuple(b), box) for b in np.concatenate([blobs, layers]).tolist()) < 0.8
    monkeypatch.setattr(L, "JOIN_PARTS", True)
    assert max(box_overlap(tuple(b), box) for b in L.layer_boxes(frame.rgb, blobs).tolist()) > 0.9
    _no_keypoint_help(monkeypatch)
    monkeypatch.setattr(L, "JOIN_PARTS", False)
    assert index.find(frame) == []
    monkeypatch.setattr(L, "JOIN_PARTS", True)
    found = index.find(frame)
    assert [f.id for f in found] == [0]
    assert box_overlap(found[0].box, box) > 0.85


@pytest.mark.parametrize("word,colour", [("FAKE", (128, 128, 128)), ("FADE", RED), ("TAKE", RED)])
def test_a_grey_copy_or_another_red_word_is_not_found_as_the_word(monkeypatch, word, colour):
    index = _index()
    frame, _ = _stamped(8, word, colour, opacity=0.6)
    _no_keypoint_help(monkeypatch)
    monkeypatch.setattr(L, "JOIN_PARTS", True)
    assert 0 not in [f.id for f in index.find(frame)]


def _warm(seed: int, word: str = "FAKE", colour=RED, opacity: float = 0.5):
    """A word on a warm (skin- or cork-coloured) textured photo: its red shares the photo's coarse colour."""
    g = cv2.equalizeHist(cv2.cvtColor(textured(seed), cv2.COLOR_RGB2GRAY)).astype(np.float32)
    warm = np.clip(np.dstack([g * 0.55 + 110, g * 0.45 + 50, g * 0.35 + 25]), 0, 255).astype(np.uint8)
    marked, box = paste(warm, text_mark(word, 72, colour, outline=None, ring=False), 100, 200, scale=1.5,
                        opacity=opacity)
    return UploadFrame.from_rgb(reencoded(marked, 80)), box


@pytest.mark.parametrize("seed", [8, 13])
def test_a_red_word_on_a_warm_photo_is_found_through_its_views_own_blobs(monkeypatch, seed):
    """(index/marks.py VIEW_BLOBS, locate.view_boxes): the red layer runs into the photo, the red view's edges do not."""
    from ncii_shield.signals.marks import describe as D

    index = _index()
    frame, box = _warm(seed)
    blobs = L.proposals(frame.rgb)
    assert max(box_overlap(tuple(b), box) for b in np.concatenate([blobs, L.layer_boxes(frame.rgb, blobs)])) < 0.6
    view = L.view_boxes(D.projected(frame.rgb, index._axes[index._entries[0].axis]))
    assert max(box_overlap(tuple(b), box) for b in view.tolist()) > 0.9
    _no_keypoint_help(monkeypatch)
    monkeypatch.setattr(index_marks, "VIEW_BLOBS", False)
    assert index.find(frame) == []
    monkeypatch.setattr(index_marks, "VIEW_BLOBS", True)
    found = index.find(frame)
    assert [f.id for f in found] == [0]
    assert box_overlap(found[0].box, box) > 0.85


@pytest.mark.parametrize("word,colour", [("FAKE", (128, 128, 128)), ("FADE", RED), ("TAKE", RED), ("", RED)])
def test_a_grey_copy_another_red_word_or_none_on_a_warm_photo_is_not_found_as_the_word(monkeypatch, word, colour):
    index = _index()
    frame, _ = _warm(13, word or "FAKE", colour, opacity=0.6 if word else 0.0)
    _no_keypoint_help(monkeypatch)
    monkeypatch.setattr(index_marks, "VIEW_BLOBS", True)
    assert 0 not in [f.id for f in index.find(frame)]


def test_thousands_of_small_parts_cost_bounded_memory_and_the_large_ones_still_join():
    """A hostile upload of thousands of small parts (the review of 2026-12-07 #6: 5,780 bars took 1.3 GB in the join's
    pair matrices): only the largest JOIN_MAX_PARTS are joined; a word's letters among them still are."""
    import tracemalloc

    ys, xs = np.mgrid[0:1024:12, 0:1024:15]
    small = np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, 2), np.full(xs.size, 8)], axis=1).astype(np.float64)
    letters = np.array([[100, 500, 40, 60], [150, 505, 40, 55], [200, 500, 40, 60]], np.float64)
    rects = np.concatenate([small, letters])
    assert len(rects) > 10 * L.JOIN_MAX_PARTS
    tracemalloc.start()
    try:
        joined = L.join_parts(rects)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, peak  # uncapped: ~1.3 GB
    assert any(abs(b[0] - 100) < 1 and abs(b[1] - 500) < 1 and abs(b[0] + b[2] - 240) < 1 for b in joined.tolist())
