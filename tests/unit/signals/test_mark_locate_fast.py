"""The candidate stage's exact speed-ups of 2026-12-07 #7 (HA): each gives what the code before it gave, bit for bit
(signals/marks/locate.py, index/marks.py), against the code before them (tests/unit/signals/_marks_reference.py)."""

from __future__ import annotations

import numpy as np

from ncii_shield.signals.marks import locate as L
from ncii_shield.signals.marks.search import UploadFrame
from tests.marks_scenes import paste, photo, reencoded, text_mark
from tests.unit.signals import _marks_reference as R


def _scenes() -> list[np.ndarray]:
    out = []
    for seed, (x, y), scale, opacity in ((3, (420, 90), 0.35, 0.6), (5, (60, 470), 0.5, 0.9), (11, (200, 260), 0.6, 0.4)):
        marked, _ = paste(photo(seed), text_mark("NUDIFY", ring=seed == 5), x, y, scale=scale, opacity=opacity)
        out.append(UploadFrame.from_rgb(reencoded(marked, 70)).rgb)
    return out


def test_colour_labels_compiled_are_numpys():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (97, 131, 3), dtype=np.uint8)] + _scenes()
    # every HSV corner the rule tells apart: the value's 63 / 64 and 149 / 150, saturation's 59 / 60, every hue
    grid = np.stack(np.meshgrid(np.arange(0, 256, 1), np.arange(0, 256, 3), indexing="ij"), -1).reshape(-1, 2)
    images.append(np.concatenate([grid, grid[:, :1]], 1).astype(np.uint8).reshape(256, -1, 3))
    for rgb in images:
        fast, slow = L.colour_labels(rgb), R.colour_labels_numpy(rgb)
        assert fast.dtype == slow.dtype == np.uint8 and fast.shape == slow.shape
        assert np.array_equal(fast, slow)


def test_edge_strengths_made_once_give_the_same_boxes():
    for rgb in _scenes() + [np.full((300, 400, 3), 90, np.uint8)]:
        strengths = L.edge_strengths(rgb)
        assert set(strengths) == set(L.SCALES) | set(L.COLOUR_SCALES)
        blobs = L.proposals(rgb)
        assert np.array_equal(L.proposals(rgb, strengths), blobs)
        assert np.array_equal(L.layer_boxes(rgb, blobs, strengths), L.layer_boxes(rgb, blobs))


def test_join_parts_compiled_are_numpys():
    rng = np.random.default_rng(1)
    cases = []
    for n in (0, 1, 2, 3, 8, 40, 150, 500):  # 500: past JOIN_MAX_PARTS, the largest 400 joined
        for _ in range(6):
            x = rng.integers(0, 600, n).astype(np.float64)
            y = rng.choice([100.0, 104.0, 200.0, 330.0], n) + rng.integers(-6, 7, n)
            w = rng.integers(4, 60, n).astype(np.float64)
            h = rng.choice([4.0, 8.0, 20.0, 40.0, 60.0, 61.0], n)
            cases.append(np.stack([x, y, w, h], 1))
    # words: letters in a row at letter-like gaps, a long row (past JOIN_ASPECT once joined), duplicates
    cases.append(np.array([[10 + 45 * k, 100, 40, 60] for k in range(5)], np.float64))
    cases.append(np.array([[10 + 12 * k, 100, 10, 8] for k in range(30)], np.float64))
    cases.append(np.array([[10, 100, 40, 60]] * 3 + [[50, 100, 40, 60]], np.float64))
    for rects in cases:
        fast, slow = L.join_parts(rects), R.join_parts_numpy(rects)
        assert fast.dtype == slow.dtype and fast.shape == slow.shape, len(rects)
        assert np.array_equal(fast, slow), len(rects)
    assert any(len(L.join_parts(r)) > 1 for r in cases)


def _same_choice(a: list[list], b: list[list]) -> bool:
    return len(a) == len(b) and all(x[:3] == y[:3] and np.array_equal(x[3], y[3]) for x, y in zip(a, b))


def test_refines_choice_is_the_loops():
    """describe._chosen (which windows refine moves) against the loops it replaced, on random namings with ties (values
    on a coarse grid), rows of one-mark classes (-1) and windows named well (overlapping the others or not)."""
    from ncii_shield.signals.marks import describe as D

    rng = np.random.default_rng(2)
    tried = 0
    for trial in range(60):
        named = {}
        for k in rng.choice(np.arange(-6, 7), rng.integers(1, 8), replace=False).tolist():
            n = int(rng.integers(0, 120))
            top = np.sort(np.round(rng.uniform(0.3, 0.9, (n, 2)) * 20) / 20, axis=1)[:, ::-1].astype(np.float32)
            marks = int(rng.integers(1, 6))
            rows = rng.integers(0, marks, (n, 2))
            if marks == 1:
                rows[:, 1], top[:, 1] = -1, -np.inf
            xy = rng.integers(0, 30, (n, 2)) * 10.0
            windows = np.concatenate([xy, np.full((n, 2), 40.0) + rng.integers(0, 3, (n, 2)) * 10], 1)
            named[k] = (top, rows.astype(np.int64), windows)
        for count in (1, 4, 12):
            fast, slow = D._chosen(named, count), R.chosen_loops(named, count)
            assert _same_choice(fast, slow), (trial, count)
            tried += bool(fast)
    assert tried > 100


def test_refine_on_an_upload_is_the_same_with_the_loops(monkeypatch):
    from ncii_shield.index.marks import MarkIndex
    from ncii_shield.signals.marks import describe as D
    from ncii_shield.signals.marks import template as T

    index = MarkIndex()
    for i, word in enumerate(("NUDIFY", "NUDES", "FAKE", "UNDRESS", "AIGEN")):
        index.add(T.encode(T.template_from_rgba(text_mark(word, ring=i % 2 == 0), word)), i)
    for rgb in _scenes():
        frame = UploadFrame.from_rgb(rgb)
        names = index._descriptors()
        pyramid = D.FieldPyramid(frame.grey)
        named = index._named(L.proposals(frame.rgb), pyramid, names, 0)
        fast = D.refine(pyramid, names, named)
        monkeypatch.setattr(D, "_chosen", R.chosen_loops)
        slow = D.refine(pyramid, names, named)
        monkeypatch.undo()
        assert fast.keys() == slow.keys()
        assert all(all(np.array_equal(x, y) for x, y in zip(fast[k], slow[k])) for k in fast)


def test_proposals_closed_once_for_all_levels_are_the_loops(monkeypatch):
    rng = np.random.default_rng(3)
    noisy = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    for rgb in _scenes() + [noisy, np.full((300, 400, 3), 90, np.uint8)]:
        assert np.array_equal(L.proposals(rgb), R.proposals_loops(rgb))
        assert np.array_equal(L.proposals(rgb, L.edge_strengths(rgb)), R.proposals_loops(rgb))
    monkeypatch.setattr(L, "GRADIENT_LEVELS", (140, 30, 80))  # any order of levels
    for rgb in _scenes()[:1] + [noisy]:
        assert np.array_equal(L.proposals(rgb), R.proposals_loops(rgb))


def test_a_views_projection_and_pyramid_without_copies_are_the_same():
    from ncii_shield.signals.marks import describe as D
    from ncii_shield.signals.marks import search as S

    windows = np.array([[10.0, 20.0, 80.0, 30.0], [100.0, 50.0, 160.0, 60.0], [0.0, 0.0, 30.0, 30.0]])
    for rgb in _scenes():
        for axis in D.chroma_axes():
            view = D.projected(rgb, axis)
            before = S.projected(rgb, axis.reshape(1, 3)) + 128.0  # the old expression
            assert view.dtype == before.dtype == np.float32 and np.array_equal(view, before)
            kept = view.copy()
            for skip in (0, 1):
                a = D.FieldPyramid(view, skip)
                b = D.FieldPyramid(view.copy(), skip)
                assert np.array_equal(a.describe(windows, 2), b.describe(windows, 2))
                assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(a.images, b.images))
            assert np.array_equal(view, kept)  # the pyramid left the view as it was


def test_contours_bounds_compiled_are_numpys():
    import cv2

    rng = np.random.default_rng(4)
    masks = [(rng.random((120, 160)) > p).astype(np.uint8) for p in (0.5, 0.9, 0.99)]
    for rgb in _scenes():
        strength = L._edge_strength(rgb, 1.0)[1]
        masks.append(cv2.threshold(strength, 40, 1, cv2.THRESH_BINARY)[1])
    masks.append(np.pad(np.ones((1, 1), np.uint8), 3))  # a one-pixel contour
    for mask in masks:
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        fast, slow = L._rects(contours), R.rects_numpy(contours)
        assert fast.dtype == slow.dtype == np.float64 and np.array_equal(fast, slow)
        assert np.array_equal(fast, np.array([cv2.boundingRect(c) for c in contours], np.float64).reshape(-1, 4))
