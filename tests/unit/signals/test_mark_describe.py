"""Mark descriptors: which of many marks is at a place, compared all at once (signals/marks/describe.py)."""

from __future__ import annotations

import numpy as np

from ncii_shield.index.marks import MarkIndex
from ncii_shield.signals.marks import describe as D
from ncii_shield.signals.marks import template as T
from ncii_shield.signals.marks.search import Prepared, UploadFrame
from tests.derivative_scenes import scene
from tests.marks_scenes import paste, reencoded, text_mark

WORDS = ("NUDIFY", "DEEPFAKE", "HOLIDAY", "SUNSET", "STUDIO", "PHOTOS", "UNDRESS", "GALLERY", "XRAY.AI",
         "FAKEBOT", "CLOTHOFF", "NUDES")


def _marks() -> list[tuple[int, np.ndarray]]:
    return [(i, text_mark(word, ring=i % 2 == 0)) for i, word in enumerate(WORDS)]


def test_the_stamped_mark_scores_best_among_a_dozen_marks_at_its_place():
    marks = _marks()
    names = D.Descriptors.of([(i, Prepared.of(T.template_from_rgba(rgba, str(i)))) for i, rgba in marks])
    for i in (1, 4, 10):
        marked, box = paste(scene(7), marks[i][1], 150, 220, scale=0.5, opacity=0.6)
        frame = UploadFrame.from_rgb(reencoded(marked, 75))
        pyramid = D.FieldPyramid(frame.grey)
        best = []
        for k, ids in names.ids.items():
            a = D.class_aspect(k)
            x, y, w, h = box  # a window of this class's aspect, with the box's centre and area
            ww = (w * h * a) ** 0.5
            window = np.array([[x + w / 2 - ww / 2, y + h / 2 - ww / a / 2, ww, ww / a]])
            scores = D.Descriptors.scores(names, pyramid, {k: window})[k][0]
            best += list(zip(scores.tolist(), ids.tolist()))
        ranked = [m for _, m in sorted(best, reverse=True)]
        assert ranked[0] == i, (WORDS[i], [WORDS[m] for m in ranked[:3]])


def test_a_plain_area_is_like_no_mark():
    names = D.Descriptors.of([(i, Prepared.of(T.template_from_rgba(rgba, str(i)))) for i, rgba in _marks()])
    flat = np.full((400, 600, 3), 120, np.uint8)
    pyramid = D.FieldPyramid(UploadFrame.from_rgb(flat).grey)
    for k in names.ids:
        a = D.class_aspect(k)
        scores = D.Descriptors.scores(names, pyramid, {k: np.array([[100.0, 100.0, 60 * a, 60.0]])})[k]
        assert np.abs(scores).max() < 0.05


def test_the_index_derives_descriptors_from_stored_values_and_finds_a_mark():
    # the index holds every mark's descriptor, derived from the stored value (no new field in it)
    index = MarkIndex()
    marks = _marks()
    for i, rgba in marks:
        index.add(T.encode(T.template_from_rgba(rgba, WORDS[i])), i)
    assert all(e.descriptor.shape == (2 * np.prod(D.grid(e.k)),) for e in index._entries.values())
    marked, box = paste(scene(8), marks[8][1], 300, 180, scale=0.45, opacity=0.7)
    found = index.find(UploadFrame.from_rgb(reencoded(marked, 80)))
    assert [f.id for f in found] == [8]


def test_the_two_best_marks_of_every_window_are_those_of_the_full_products():
    marks = _marks()
    names = D.Descriptors.of([(i, Prepared.of(T.template_from_rgba(rgba, str(i)))) for i, rgba in marks])
    marked, _ = paste(scene(9), marks[3][1], 200, 150, scale=0.5, opacity=0.8)
    pyramid = D.FieldPyramid(UploadFrame.from_rgb(reencoded(marked, 80)).grey)
    rng = np.random.default_rng(0)
    windows = {}
    for k in names.ids:
        a = D.class_aspect(k)
        h = rng.uniform(10, 80, 40)
        windows[k] = np.stack([rng.uniform(0, 500, 40), rng.uniform(0, 350, 40), h * a, h], axis=1)
    full, two = names.scores(pyramid, windows), names.best_two(pyramid, windows)
    assert set(full) == set(two)
    for k, score in full.items():
        values, rows = two[k]
        assert np.allclose(score[np.arange(len(score)), rows[:, 0]], values[:, 0], atol=1e-5)
        assert np.allclose(values[:, 0], score.max(axis=1), atol=1e-5)
        if score.shape[1] > 1:
            assert np.allclose(values[:, 1], np.sort(score, axis=1)[:, -2], atol=1e-5)
        else:
            assert np.all(rows[:, 1] == -1) and np.all(np.isinf(values[:, 1]))
