"""The check's letters' test (search.LETTERS; issue 19, 2026-12-07 #6): a word one letter off a registered word
mark, drawn in the mark's font and colour, is not that mark, though the check's parts (coarser than a letter)
pass it; the registered word itself still passes, with the same score."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ncii_shield.signals.marks import search as S
from ncii_shield.signals.marks import template as T
from tests.marks_scenes import paste, photo, reencoded, text_mark
from tests.unit.signals.test_mark_check import textured

BLUE = (30, 90, 230)


def _word(word: str, tall: bool = False) -> np.ndarray:
    rgba = text_mark(word, 72, BLUE, outline=None, ring=False)
    return np.ascontiguousarray(np.rot90(rgba)) if tall else rgba


def _registered(tall: bool = False) -> S.Prepared:
    return S.Prepared.of(T.template_from_rgba(_word("SUNSET", tall), "SUNSET"))


def _upload(word: str, seed: int, opacity: float, busy: bool, tall: bool = False):
    """``word`` in the registered mark's font and colour on a photo (``busy``: the grey texture of
    test_mark_cand_view_layers.py, where the check's chroma view sees the blue word), re-encoded; ``tall``: the
    word and the registered mark turned upright."""
    if busy:
        g = cv2.equalizeHist(cv2.cvtColor(textured(seed), cv2.COLOR_RGB2GRAY))
        base = np.dstack([g, g, g])
    else:
        base = photo(seed)
    marked, box = paste(base, _word(word, tall), 240 if tall else 150, 150 if tall else 240, opacity=opacity)
    return S.UploadFrame.from_rgb(reencoded(marked, 80)), box


SCENES = [(8, 0.35, True), (13, 0.35, True), (3, 1.0, True), (13, 1.0, False), (3, 0.6, False)]


@pytest.mark.parametrize("word", ["SUBSET", "SANSET", "SUNSAT", "SUNNSET"])  # N->B, U->A, E->A, an N inserted
@pytest.mark.parametrize("seed,opacity,busy", SCENES)
def test_a_word_one_letter_off_passes_the_parts_but_not_the_letters(monkeypatch, word, seed, opacity, busy):
    mark = _registered()
    frame, box = _upload(word, seed, opacity, busy)
    monkeypatch.setattr(S, "LETTERS", False)
    assert S.verify(mark, frame, box)[0] >= S.THRESHOLD  # the limit: the parts alone pass it
    monkeypatch.setattr(S, "LETTERS", True)
    assert S.verify(mark, frame, box)[0] < S.THRESHOLD


@pytest.mark.parametrize("seed,opacity,busy", SCENES + [(3, 0.35, False), (13, 0.6, True)])
def test_the_registered_word_still_passes_with_its_score(monkeypatch, seed, opacity, busy):
    mark = _registered()
    frame, box = _upload("SUNSET", seed, opacity, busy)
    monkeypatch.setattr(S, "LETTERS", False)
    plain = S.verify(mark, frame, box)
    monkeypatch.setattr(S, "LETTERS", True)
    lettered = S.verify(mark, frame, box)
    assert lettered[0] >= S.THRESHOLD
    assert lettered[0] >= plain[0]  # a pass keeps its score (or, refused in colour, passes in its chroma view)


@pytest.mark.parametrize("seed,opacity", [(3, 1.0), (13, 0.35)])
def test_a_tall_mark_is_read_along_its_height(monkeypatch, seed, opacity):
    mark = _registered(tall=True)
    monkeypatch.setattr(S, "LETTERS", True)
    for word in ("SUBSET", "SANSET"):
        frame, box = _upload(word, seed, opacity, True, tall=True)
        assert S.verify(mark, frame, box)[0] < S.THRESHOLD
    frame, box = _upload("SUNSET", seed, opacity, True, tall=True)
    assert S.verify(mark, frame, box)[0] >= S.THRESHOLD


def test_a_squarish_mark_has_no_letter_windows():
    t = np.ones((20, 24, 2), np.float32)
    c = np.ones((20, 24, 3), np.float32)
    frame = S.UploadFrame.from_rgb(np.zeros((64, 64, 3), np.uint8))
    assert S._letter_windows(t, t, c, c, frame, (10, 10, 24, 20)) == []
