"""The marks check's faster steps (signals/marks/search.py, 2026-12-07 #5) give what the plain steps gave, bit
for bit: the compiled orientation field, drawing and edge strength (COMPILED_FIELD, COMPILED_DRAW), each search
size's best place, colour and coverage resized at once, the evidence at a find without broadcasts, the median of
the candidate's surround, the whole check and inspect on marked photos; and the upload keypoints' arrays
(signals/marks/features.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import ncii_shield.signals.marks.search as S
from ncii_shield.signals.marks import template as T
from tests.marks_scenes import paste, photo, reencoded, text_mark


def _marks() -> list[S.Prepared]:
    shapes = np.zeros((90, 90, 4), np.uint8)
    cv2.circle(shapes, (45, 45), 30, (40, 200, 90, 255), 6)
    cv2.rectangle(shapes, (20, 20), (50, 70), (250, 250, 250, 160), -1)
    return [S.Prepared.of(T.template_from_rgba(m, "x")) for m in (
        text_mark("FAKE", 56, (230, 20, 20), outline=None, ring=False),
        text_mark("nudify.example", 40, (255, 255, 255)),
        shapes)]


@pytest.fixture
def plain(monkeypatch):
    def set_plain() -> None:
        monkeypatch.setattr(S, "COMPILED_FIELD", False)
        monkeypatch.setattr(S, "COMPILED_DRAW", False)
    return set_plain


def _bytes(*arrays) -> bytes:
    return b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)


SIZES = [(64, 17), (48, 14), (55, 20), (3, 9), (1, 5), (160, 43), (97, 101), (30, 30)]
BACKGROUNDS = [(128.0, 128.0, 128.0), (12.0, 250.5, 99.25), (np.float64(3.5), 200.0, 17.0)]


def test_the_mark_drawn_and_its_field_are_the_plain_steps_bit_for_bit(plain) -> None:
    view = np.array([[0.8, -0.2, -0.56]], np.float32)
    fast = [(p.drawn(size, bg), p.field(size, bg), p.field(size, bg, view), S.edge_support(p.field(size, bg)))
            for p in _marks() for size in SIZES for bg in BACKGROUNDS]
    plain()
    slow = [(p.drawn(size, bg), p.field(size, bg), p.field(size, bg, view), S.edge_support(p.field(size, bg)))
            for p in _marks() for size in SIZES for bg in BACKGROUNDS]
    assert all(f[0].shape == s[0].shape and f[0].dtype == s[0].dtype == np.float32 for f, s in zip(fast, slow))
    assert all(_bytes(*f) == _bytes(*s) for f, s in zip(fast, slow))


def test_the_orientation_field_of_photos_is_the_plain_steps_bit_for_bit(plain) -> None:
    rng = np.random.default_rng(4)
    images = [photo(s).astype(np.float32)[100:220, 50:330] for s in (1, 2)]
    images += [cv2.cvtColor(photo(3), cv2.COLOR_RGB2GRAY).astype(np.float32)[:90, :70],
               (rng.random((5, 3, 3)) * 255).astype(np.float32), np.zeros((1, 1, 3), np.float32)]
    view = np.array([[0.1, 0.7, -0.7]], np.float32)
    fast = [S.orientation_field(i) for i in images] + [S.orientation_field(images[0], view)]
    plain()
    slow = [S.orientation_field(i) for i in images] + [S.orientation_field(images[0], view)]
    assert [f.shape for f in fast] == [s.shape for s in slow]
    assert all(f.tobytes() == s.tobytes() for f, s in zip(fast, slow))


def test_colour_and_coverage_resized_at_once_are_the_two_resized_apart() -> None:
    rng = np.random.default_rng(5)
    for p in _marks():
        four = p.floats
        for _ in range(40):
            size = (int(rng.integers(1, 170)), int(rng.integers(1, 170)))
            both = cv2.resize(four, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], 4)
            assert both[:, :, 3].tobytes() == cv2.resize(p.alpha_f, size, interpolation=cv2.INTER_AREA).tobytes()
            assert np.ascontiguousarray(both[:, :, :3]).tobytes() == \
                cv2.resize(p.colour_f, size, interpolation=cv2.INTER_AREA).tobytes()


def test_the_float_template_is_the_last_marks_own() -> None:
    a, b = _marks()[:2]
    fa, fb = a.floats, b.floats
    assert fa.shape[:2] == a.template.alpha.shape and fb.shape[:2] == b.template.alpha.shape
    assert a.floats.tobytes() == fa.tobytes() and b.floats is not fa
    assert np.array_equal(a.floats[:, :, 3], a.alpha_f) and np.array_equal(a.floats[:, :, :3], a.colour_f)


def test_the_surrounds_median_is_numpys() -> None:
    rng = np.random.default_rng(6)
    for n in list(range(1, 30)) + [2303, 2304]:
        for spread in (256, 3):
            cut = rng.integers(0, spread, (n, 3)).astype(np.uint8)
            want = tuple(float(v) for v in np.median(cut, axis=0))
            got = S._median_u8(cut)
            assert got == want and all(type(v) is float for v in got), (n, got, want)
    frame = S.UploadFrame.from_rgb(photo(7))
    assert S._background(frame, (10, 20, 300, 260)) == tuple(
        float(v) for v in np.median(frame.rgb[20:260:6, 10:300:6].reshape(-1, 3), axis=0))


def test_the_check_on_marked_photos_is_the_plain_checks_bit_for_bit(plain) -> None:
    marks = _marks()
    cases = []
    for k, (p, mark) in enumerate(zip(marks[:2], (text_mark("FAKE", 56, (230, 20, 20), outline=None, ring=False),
                                                   text_mark("nudify.example", 40, (255, 255, 255))))):
        marked, box = paste(photo(10 + k), mark, 150, 200, opacity=0.6)
        frame = S.UploadFrame.from_rgb(reencoded(marked, 80))
        x, y, w, h = box
        for q in (marks[0], marks[1], marks[2]):
            for b in (box, (x + 7, y - 5, w * 1.1, h * 0.9), (400, 100, w, h)):
                cases.append((q, frame, b))
    fast = [(S.verify(*c), S.inspect(*c)) for c in cases]
    assert sum(1 for f in fast if f[0] and f[0][0] >= S.THRESHOLD) >= 2  # the stamped marks pass
    plain()
    slow = [(S.verify(*c), S.inspect(*c)) for c in cases]
    assert repr(fast) == repr(slow)


def _evidence_before(prepared, frame, box, size, view=None):
    """search._evidence as it was written before 2026-12-07 #5 (numpy broadcasts of the (h, w, 1) coverage)."""
    tw, th = size
    pad = 2
    region = S._padded(frame, box, size, pad)
    if region is None:
        return None
    u = S._upload_cut(frame, region, size, pad)
    a = cv2.resize(prepared.alpha_f, (tw, th), interpolation=cv2.INTER_AREA)
    c = cv2.resize(prepared.colour_f, (tw, th), interpolation=cv2.INTER_AREA)
    a = cv2.copyMakeBorder(a, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)[:, :, None]
    c = cv2.copyMakeBorder(c, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    sigma = max(2.0, S.BACKGROUND_SIGMA * min(tw, th))
    free = 1.0 - a
    wsum = cv2.GaussianBlur(free, (0, 0), sigma)[:, :, None]
    bg = cv2.GaussianBlur(u * free, (0, 0), sigma) / np.maximum(wsum, 1e-3)
    share = np.clip(wsum / 0.2, 0.0, 1.0)
    bg = share * bg + (1 - share) * np.median(u.reshape(-1, 3), axis=0).astype(np.float32)
    t = np.ascontiguousarray(S.orientation_field(a * c + free * bg, view)[pad:pad + th, pad:pad + tw])
    change = (a * (c - bg))[pad:pad + th, pad:pad + tw]
    detail = max(1.5, S.COLOUR_SIGMA * min(tw, th))
    change = change - cv2.GaussianBlur(change, (0, 0), detail)
    return t, change, S._detail(u, size, pad), u, a, bg


def test_the_evidence_at_a_find_is_what_its_broadcasts_gave() -> None:
    mark = text_mark("FAKE", 56, (230, 20, 20), outline=None, ring=False)
    marked, (x, y, w, h) = paste(photo(12), mark, 150, 200, opacity=0.5)
    frame = S.UploadFrame.from_rgb(reencoded(marked, 80))
    view = np.array([[0.8, -0.2, -0.56]], np.float32)
    for p in _marks():
        for box, size in (((x, y, w, h), (64, 17)), ((x - 3, y + 2, w, h), (61, 19)), ((5, 5, 40, 40), (20, 20)),
                          ((780, 590, 60, 30), (64, 32)), ((-10, 100, 200, 180), (160, 144))):
            for v in (None, view):
                got, want = S._evidence(p, frame, box, size, v), _evidence_before(p, frame, box, size, v)
                assert [g.shape for g in got] == [w_.shape for w_ in want]
                assert all(g.tobytes() == w_.tobytes() for g, w_ in zip(got, want))


def test_the_upload_keypoints_arrays_are_the_keypoints_own_values() -> None:
    from ncii_shield.signals.marks import features as F

    for seed in (1, 2):
        marked, _ = paste(photo(seed, 1024, 768), text_mark("nudify.example", 48, (255, 255, 255)), 200, 300)
        grey = cv2.cvtColor(reencoded(marked, 70), cv2.COLOR_RGB2GRAY)
        found, d = F.upright(F._orb_upload(), grey)
        points, sizes, descriptors = F.upload_keypoints(grey)
        assert len(found) > 300 and points.shape == (len(found), 2) and sizes.shape == (len(found),)
        assert points.dtype == sizes.dtype == np.float32
        assert points.tobytes() == np.array([k.pt for k in found], np.float32).tobytes()
        assert sizes.tobytes() == np.array([k.size for k in found], np.float32).tobytes()
        assert descriptors.tobytes() == d.tobytes()
    empty = F.upload_keypoints(np.full((64, 64), 90, np.uint8))
    assert [a.shape for a in empty] == [(0, 2), (0,), (0, 32)]


def test_the_best_normalised_correlation_is_numpys_and_minmaxlocs() -> None:
    frame = S.UploadFrame.from_rgb(photo(13))
    p = _marks()[0]
    crop = S._field_crop(frame, (100, 100, 260, 160), 0.5)
    energy = S._channel_sum(crop * crop)
    for size in ((48, 13), (30, 9), (64, 17)):
        t = p.field(size)
        support = S.edge_support(t)
        r = cv2.matchTemplate(crop, t, cv2.TM_CCORR)
        e = cv2.matchTemplate(energy, support, cv2.TM_CCORR)
        floor, et = float(support.sum()) * S.ORIENT_FLOOR ** 2, float((t * t).sum())
        _, want, _, (wx, wy) = cv2.minMaxLoc(r / np.sqrt((e + floor) * et))
        score, y, x, ties = S._normalised_best(r, e, floor, et)
        assert (score, x, y, ties) == (want, wx, wy, 1)
    flat = np.zeros((5, 7), np.float32)  # every place ties: the caller falls back to minMaxLoc
    assert S._normalised_best(flat, flat, 1.0, 1.0)[3] == 35
    nan = flat.copy()
    nan[2, 3] = np.nan
    assert S._normalised_best(nan, flat, 1.0, 1.0)[3] == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_edge_support_is_its_formula_for_any_field(dtype) -> None:
    rng = np.random.default_rng(8)
    for h, w in ((20, 30), (3, 3), (64, 17)):
        t = (rng.standard_normal((h, w, 2)) * 30).astype(dtype)
        m = np.sqrt(cv2.transform(np.ascontiguousarray(t * t), np.ones((1, 2), np.float64)))
        q = float(np.percentile(m, 95))
        want = cv2.dilate(np.clip(m / max(S.SUPPORT_SHARE * q, 1e-6), 0.0, 1.0).astype(np.float32),
                          np.ones((3, 3), np.uint8))
        got = S.edge_support(t)
        assert got.dtype == np.float32 and got.tobytes() == want.tobytes()


def _squares(delta: int) -> np.ndarray:
    """A grey frame with squares ``delta`` grey levels brighter than it: their corners' contrast."""
    img = np.full((300, 400), 120, np.uint8)
    for y in range(20, 280, 40):
        for x in range(20, 380, 40):
            img[y:y + 20, x:x + 20] = 120 + delta
    return img


def test_the_uploads_corners_need_a_contrast_over_8_grey_levels() -> None:
    # FAST's threshold for uploads is 8 (6 before 2026-12-07 #5: ORB ~3 ms cheaper an upload, the benchmark's
    # caught targets, landings, negatives and stress the same); the registered marks' own keypoints keep 6
    from ncii_shield.signals.marks import features as F

    assert len(F.upload_keypoints(_squares(8))[0]) == 0
    assert len(F.upload_keypoints(_squares(9))[0]) > 100
    assert len(F.upload_keypoints(_squares(12))[0]) > 1000
    assert F._orb_mark().getFastThreshold() == 6
