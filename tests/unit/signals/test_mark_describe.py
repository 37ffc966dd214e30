"""Mark descriptors: which of many marks is at a place, compared all at once (signals/marks/describe.py)."""

from __future__ import annotations

import cv2
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


def _window(box, k):
    """A window of class ``k``'s aspect with ``box``'s centre and area."""
    a = D.class_aspect(k)
    x, y, w, h = box
    ww = (w * h * a) ** 0.5
    return np.array([x + w / 2 - ww / 2, y + h / 2 - ww / a / 2, ww, ww / a])


def test_a_window_a_cell_off_the_mark_is_refined_onto_it_and_named_there():
    marks = _marks()
    names = D.Descriptors.of([(i, Prepared.of(T.template_from_rgba(rgba, str(i)))) for i, rgba in marks])
    marked, box = paste(scene(7), marks[4][1], 150, 220, scale=0.5, opacity=0.6)
    pyramid = D.FieldPyramid(UploadFrame.from_rgb(reencoded(marked, 75)).grey)
    k, row = names.position[4]
    right = _window(box, k)
    gw, gh = D.grid(k)
    off = right + np.array([-0.8 * right[2] / gw, 0.3 * right[3] / gh, 0.0, 0.0])  # a blob's box, off it
    named = {k: (*names.best_two(pyramid, {k: off[None]})[k], off[None])}
    at_right = float(names.scores(pyramid, {k: right[None]})[k][0, row])
    assert D.REFINE_FROM <= named[k][0][0, 0] < at_right - 0.1  # the window off the mark names it weakly
    assert D.refine(pyramid, names, named, count=0) is named  # off: unchanged
    out = D.refine(pyramid, names, named, count=4)
    top, rows, windows = out[k]
    # the window as it was, then one refined for each of its two best marks (it names another mark first)
    assert len(windows) == 3 and np.array_equal(windows[0], off)
    assert names.ids[k][rows[0, 0]] != 4
    ours = [n for n in (1, 2) if names.ids[k][rows[n, 0]] == 4]
    assert len(ours) == 1 and top[ours[0], 0] >= at_right - 0.05 > named[k][0][0, 0]
    assert D._iou(windows[ours[0]], right) > 0.7


def test_refining_leaves_plain_areas_and_well_named_marks_alone_and_refines_a_place_once():
    marks = _marks()
    names = D.Descriptors.of([(i, Prepared.of(T.template_from_rgba(rgba, str(i)))) for i, rgba in marks])
    flat = np.full((400, 600, 3), 120, np.uint8)
    pyramid = D.FieldPyramid(UploadFrame.from_rgb(flat).grey)
    k = next(iter(names.ids))
    windows = np.array([_window((100.0, 100.0, 120.0, 40.0), k)] * 3)
    named = {k: (*names.best_two(pyramid, {k: windows})[k], windows)}
    assert D.refine(pyramid, names, named, count=8) is named  # a plain area: nothing to refine
    marked, box = paste(scene(9), marks[3][1], 200, 150, scale=0.5, opacity=0.9)
    pyramid = D.FieldPyramid(UploadFrame.from_rgb(marked).grey)
    k = names.position[3][0]
    gw, gh = D.grid(k)
    right = _window(box, k)
    off = right + np.array([0.8 * right[2] / gw, 0.0, 0.0, 0.0])
    top, rows = names.best_two(pyramid, {k: np.array([right, off])})[k]
    assert (names.ids[k][rows[:, 0]] == 3).all()
    assert top[0, 0] >= D.REFINE_UNTIL > top[1, 0] >= D.REFINE_FROM  # named well at its place, weakly off it
    for windows, refined in ((np.array([right] * 2), 0),  # named well: left as it is
                             (np.array([off] * 3), 1),  # the same window off the mark 3 times: refined once
                             (np.array([right, off]), 0)):  # off, but the mark is named well beside it
        named = {k: (*names.best_two(pyramid, {k: windows})[k], windows)}
        assert D.refine(pyramid, names, named, count=8)[k][2].shape == (len(windows) + refined, 4)


def test_a_window_descriptor_is_its_fields_mean_over_each_grid_cell():
    """The compiled cell sums (``_cell_means``) against the field averaged by plain slicing: windows of
    several classes and sizes (so several pyramid levels), some running off the frame (cells clipped to it)."""
    rng = np.random.default_rng(3)
    grey = (rng.random((150, 210)) * 255).astype(np.uint8)
    pyramid = D.FieldPyramid(grey)
    for k in (-6, 0, 3, 9):
        gw, gh = D.grid(k)
        n = 40
        w = rng.uniform(8, 260, n)
        windows = np.stack([rng.uniform(-30, 200, n), rng.uniform(-30, 140, n), w,
                            w / D.class_aspect(k) * rng.uniform(0.8, 1.2, n)], axis=1)
        got = pyramid.describe(windows, k)
        for i, (x, y, ww, hh) in enumerate(windows):
            level = int(np.clip(np.floor(np.log2(max(ww / gw, 1e-3) / D.MIN_CELL)), 0, len(pyramid.images) - 1))
            f, img = pyramid.images[level]
            field = D.field(img).astype(np.float64)
            H, W = img.shape
            xs = np.clip(np.round(x * f + ww * f * np.arange(gw + 1) / gw), 0, W).astype(int)
            ys = np.clip(np.round(y * f + hh * f * np.arange(gh + 1) / gh), 0, H).astype(int)
            cells = np.zeros((gh, gw, 2))
            for r in range(gh):
                for c in range(gw):
                    block = field[ys[r]:ys[r + 1], xs[c]:xs[c + 1]]
                    cells[r, c] = block.sum(axis=(0, 1)) / max(block.shape[0] * block.shape[1], 1)
            v = cells.reshape(-1)
            want = v / np.sqrt((v * v).sum() + gw * gh * D.FLOOR ** 2)
            assert np.allclose(got[i], want, atol=2e-5), (k, i)


def test_the_field_is_the_gradients_strength_times_its_doubled_angle_and_the_pyramid_sums_it():
    rng = np.random.default_rng(4)
    grey = (rng.random((60, 80)) * 255).astype(np.float32)
    grey[20:30, 30:40] = 100.0  # a flat patch: no gradient, no field
    got = D.field(grey)
    gx, gy = D._gradients(grey)
    t = np.arctan2(gy.astype(np.float64), gx.astype(np.float64))
    m = np.hypot(gx.astype(np.float64), gy.astype(np.float64))
    assert np.allclose(got[:, :, 0], m * np.cos(2 * t), rtol=1e-5, atol=1e-3)
    assert np.allclose(got[:, :, 1], m * np.sin(2 * t), rtol=1e-5, atol=1e-3)
    assert np.all(got[22:28, 32:38] == 0)
    pyramid = D.FieldPyramid(grey)
    whole = pyramid.integral(0).reshape(61, 81, 2)
    assert np.allclose(whole[1:, 1:], np.cumsum(np.cumsum(got.astype(np.float64), axis=0), axis=1), atol=1e-6)
    assert np.all(whole[0] == 0) and np.all(whole[:, 0] == 0)


def test_a_pyramid_from_half_size_describes_windows_as_the_half_size_frame_does():
    """``FieldPyramid(grey, skip=1)`` (the chroma views' pyramid, index/marks.py VIEW_SKIP): no full-size level;
    every window, small ones included, read as the pyramid of the frame at half size reads the halved window."""
    rng = np.random.default_rng(6)
    grey = cv2.GaussianBlur((rng.random((200, 264)) * 255).astype(np.float32), (0, 0), 1.5)
    skipped = D.FieldPyramid(grey, skip=1)
    half = D.FieldPyramid(cv2.resize(grey, (132, 100), interpolation=cv2.INTER_AREA))
    assert skipped.shapes == half.shapes and skipped.images[0][0] == 0.5
    for k in (-3, 0, 4):
        w = rng.uniform(10, 200, 60)
        windows = np.stack([rng.uniform(0, 200, 60), rng.uniform(0, 150, 60), w, w / D.class_aspect(k)], axis=1)
        assert np.array_equal(skipped.describe(windows, k), half.describe(windows / 2, k))
    full = D.FieldPyramid(grey)
    small = np.array([[40.0, 40.0, 24.0, 24.0]])  # cells of 3 pixels: the full size level, where there is one
    assert not np.array_equal(full.describe(small, 0), skipped.describe(small, 0))


def test_windows_that_are_not_finite_are_refused_before_the_compiled_reads():
    pyramid = D.FieldPyramid(np.zeros((120, 160), np.uint8))
    assert pyramid.describe(np.array([[0.0, 0.0, 40.0, 20.0]]), 0).shape[0] == 1
    for bad in ([0.0, 0.0, np.nan, 10.0], [np.nan, 0.0, 10.0, 10.0], [0.0, 0.0, np.inf, 10.0]):
        try:
            pyramid.describe(np.array([bad]), 0)
        except ValueError:
            continue
        raise AssertionError(f"{bad} was described")


def test_the_warm_up_loads_the_kernels_once_and_an_index_calls_it(monkeypatch):
    calls = []
    monkeypatch.setattr(D, "warm_up", lambda: calls.append(1))
    MarkIndex()
    assert calls == [1]
    monkeypatch.undo()
    D.warm_up()
    assert D._warmed


def test_the_exact_angle_field_is_opencvs_polar_round_trip_within_its_rounding(monkeypatch):
    """EXACT_ANGLES (the doubled angle from the gradient, in the compiled pass) against the OpenCV path it
    replaced (cartToPolar / polarToCart): the same descriptors within OpenCV's angle rounding."""
    grey = (np.random.default_rng(5).random((150, 210)) * 255).astype(np.uint8)
    windows = np.array([[10.0, 12.0, 60.0, 30.0], [40.0, 20.0, 120.0, 60.0], [0.0, 0.0, 200.0, 140.0]])
    got = {}
    for exact in (True, False):
        monkeypatch.setattr(D, "EXACT_ANGLES", exact)
        got[exact] = D.FieldPyramid(grey).describe(windows, 0)
    assert np.abs(got[True]).max() > 0.1
    assert np.allclose(got[True], got[False], atol=1e-3)
