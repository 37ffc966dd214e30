"""Derivative signatures on synthetic scenes: every edit and re-share transform family is handled;
unrelated photos and a second shot of the same scene are not flagged; plain photos are reported;
malformed signatures are refused with a clear error."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from ncii_shield.errors import InvalidSignal
from ncii_shield.signals import registry
from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative.verify import Outcome, Upload, verify
from tests.derivative_scenes import EDITS, TRANSFORMS, edit, reshared, scene

BOX = (250, 150, 300, 250)  # x, y, w, h: 16 % of the 800 x 600 scene


@pytest.fixture(scope="module")
def registered() -> F.PhotoFeatures:
    return F.decode(F.encode(F.photo_features(scene(1))))  # through the stored form, as the server does


def overlap(a: list[int], b: tuple[int, int, int, int]) -> float:
    """Share of box ``b`` covered by box ``a``."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    return max(0, x1 - x0) * max(0, y1 - y0) / (b[2] * b[3])


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("kind", EDITS)
def test_edited_derivative_is_flagged_with_its_region(registered, kind, transform):
    upload = reshared(transform, edit(kind, scene(1), BOX, seed=3))
    verdict = verify(registered, Upload.from_rgb(upload))
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason
    assert overlap(verdict.edited_region, BOX) > 0.6, verdict.edited_region
    assert verdict.edited_region[2] * verdict.edited_region[3] < 3 * BOX[2] * BOX[3]
    assert verdict.mirrored == (transform in ("mirror", "chain"))
    assert 0 < verdict.score <= 100


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_unedited_reshare_is_a_reshare_not_a_flag(registered, transform):
    verdict = verify(registered, Upload.from_rgb(reshared(transform, scene(1))))
    assert verdict.outcome is Outcome.RESHARE, verdict.reason
    assert verdict.edited_region is None


def test_transform_maps_upload_pixels_to_registered_pixels(registered):
    upload = reshared("resize", edit("flat", scene(1), BOX))  # half size
    verdict = verify(registered, Upload.from_rgb(upload))
    m = np.array(verdict.transform)
    assert m[0, 0] == pytest.approx(2.0, abs=0.05) and m[1, 1] == pytest.approx(2.0, abs=0.05)
    assert abs(m[0, 2]) < 4 and abs(m[1, 2]) < 4


@pytest.mark.parametrize("seed", range(2, 8))
def test_unrelated_scenes_are_not_matched(registered, seed):
    assert verify(registered, Upload.from_rgb(scene(seed))).outcome is Outcome.NONE
    assert verify(registered, Upload.from_rgb(edit("flat", scene(seed), BOX))).outcome is Outcome.NONE


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_second_shot_of_the_same_scene_is_not_flagged(seed):
    reg = F.photo_features(scene(seed))
    verdict = verify(reg, Upload.from_rgb(scene(seed, moved=True)))
    assert verdict.outcome is not Outcome.DERIVATIVE, verdict.reason


def test_overlay_alone_is_not_an_edit(registered):
    for transform in ("watermark", "screenshot"):
        verdict = verify(registered, Upload.from_rgb(reshared(transform, scene(1))))
        assert verdict.outcome is Outcome.RESHARE


@pytest.mark.parametrize("image", [
    np.full((600, 800, 3), 128, np.uint8),
    np.tile(np.linspace(0, 255, 800, dtype=np.uint8)[None, :, None], (600, 1, 3)),
], ids=["flat", "gradient"])
def test_plain_photos_are_reported(image):
    reason = F.plain_reason(F.photo_features(image))
    assert reason is not None and "too" in reason


def test_little_detail_is_protected_with_a_warning_and_still_flags_an_edit():
    """A plain backdrop with one detailed part (~15 % of the area): registered, with a warning that
    protection is limited; an edit of its detailed part is still flagged, an unrelated scene is not."""
    image = np.full((600, 800, 3), 120, np.uint8)
    image[200:440, 280:560] = scene(5)[200:440, 280:560]
    features = F.photo_features(image)
    assert F.plain_reason(features) is None
    warning = F.weak_reason(features)
    assert warning is not None and warning.startswith("protected, but")
    upload = image.copy()
    upload[230:380, 310:480] = (200, 40, 40)  # 5 % of the photo, inside its detailed part
    assert verify(features, Upload.from_rgb(upload)).outcome is Outcome.DERIVATIVE
    assert verify(features, Upload.from_rgb(scene(6))).outcome is Outcome.NONE


@pytest.mark.parametrize("seed", [1, 2])
def test_smoothing_detail_between_plain_areas_is_an_edit_but_overlays_are_not(seed):
    """Bands of detail one cell high, three plain cell rows between them (640 x 480: cells of 40 x 30).
    Smoothing the detail inside a box (each band cell becomes its own mean colour; the plain rows
    look the same before and after, as with inpainting) differs only in the bands: lines too far
    apart for the 3 x 3 closing to join. Only because the plain cells between smoothed ones count
    with the edit is it one block, flagged with the box as its region. A watermark or a screenshot
    frame over the same photo sharpens cells instead and stays a re-share."""
    import cv2

    image = np.full((480, 640, 3), 110, np.uint8)
    detail = cv2.resize(scene(seed), (640, 480), interpolation=cv2.INTER_AREA)
    for row in range(0, 16, 4):
        grain = np.random.default_rng(seed * 100 + row).normal(0, 30, (30, 640, 1))
        image[row * 30:row * 30 + 30] = np.clip(detail[row * 30:row * 30 + 30] + grain, 0, 255).astype(np.uint8)
    features = F.photo_features(image)
    upload = image.copy()
    for row in range(4, 13, 4):  # the bands inside columns 4-11 (x 160-480, y 120-390)
        for col in range(4, 12):
            cell = upload[row * 30:row * 30 + 30, col * 40:col * 40 + 40]
            cell[:] = cell.reshape(-1, 3).mean(axis=0).astype(np.uint8)
    verdict = verify(features, Upload.from_rgb(upload))
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason
    assert overlap(verdict.edited_region, (160, 120, 320, 270)) > 0.8, verdict.edited_region
    for transform in ("watermark", "screenshot"):
        assert verify(features, Upload.from_rgb(reshared(transform, image))).outcome is Outcome.RESHARE


def test_textured_scene_is_not_plain(registered):
    assert F.plain_reason(registered) is None and F.weak_reason(registered) is None
    assert len(registered.points) == F.MAX_KEYPOINTS


def test_tiny_photo_is_refused_with_the_minimum():
    with pytest.raises(InvalidSignal, match="at least 96 pixels"):
        F.photo_features(np.zeros((40, 60, 3), np.uint8))


def test_round_trip_keeps_what_verification_needs(registered):
    again = F.decode(F.encode(registered))
    assert np.array_equal(again.descriptors, registered.descriptors)
    assert np.allclose(again.points, registered.points, atol=1 / 16)
    assert np.array_equal(again.cells.pattern, registered.cells.pattern)


def test_signal_type_is_registered_and_validates():
    kind = registry.get("derivative")
    value = F.encode(F.photo_features(scene(5)))
    assert kind.validate("  " + value + "\n") == value
    assert kind.distance(value, value) == 0 and kind.distance(value, kind.examples[0]) == 100


def _blob(value: str) -> bytes:
    return base64.b64decode(value[3:])


@pytest.mark.parametrize("mangle", [
    lambda v: v[:-8],  # truncated
    lambda v: "d2:" + v[3:],  # unknown version prefix
    lambda v: v[:100] + "!!" + v[102:],  # not base64
    lambda v: "d1:" + base64.b64encode(_blob(v)[:10]).decode(),  # header cut
    lambda v: "d1:" + base64.b64encode(b"\x01" + b"\xff" * 13 + _blob(v)[14:]).decode(),  # absurd header
    lambda v: "d1:" + "A" * 300_000,  # oversized
], ids=["truncated", "prefix", "base64", "header", "absurd", "oversized"])
def test_malformed_signatures_are_refused(registered, mangle):
    with pytest.raises(InvalidSignal, match="derivative signature"):
        F.decode(mangle(F.encode(registered)))


def test_keypoints_outside_the_frame_are_refused(registered):
    bad = F.PhotoFeatures(registered.width, registered.height, 100, 100, registered.points,
                          registered.descriptors, registered.cells)
    with pytest.raises(InvalidSignal, match="outside the frame"):
        F.decode(F.encode(bad))


@pytest.mark.parametrize("shape", [(30, 4000, 3), (4000, 30, 3), (97, 97, 3), (1, 2000, 3)])
def test_odd_shapes_give_a_clear_answer_not_a_crash(registered, shape):
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    try:
        features = F.photo_features(image)
    except InvalidSignal as exc:
        assert "pixels" in str(exc)
        return
    assert F.plain_reason(features) is not None or len(features.points) > 0
    assert verify(registered, Upload.from_rgb(image)).outcome is Outcome.NONE


def test_guided_fit_pairs_one_to_one_and_finds_more_than_the_ratio_test(registered):
    """The second try: on a small, soft copy, guided matching finds partners the ratio test dropped,
    and never gives one registered keypoint two partners."""
    import cv2

    from ncii_shield.signals.derivative.verify import _fit, _guided_pairs, _pairs

    small = cv2.resize(edit("flat", scene(1), BOX), (240, 180), interpolation=cv2.INTER_AREA)
    up = Upload.from_rgb(cv2.GaussianBlur(small, (0, 0), 0.8))
    good = _pairs(up.descriptors, registered)
    plain = _fit(up.points, up.descriptors, registered, good)
    guided = _fit(up.points, up.descriptors, registered, good, guided=True)
    assert plain is not None and guided is not None
    assert guided[1] > plain[1]  # more consistent points
    _src, dst = _guided_pairs(up.points, up.descriptors, registered, guided[0])
    assert len(np.unique(dst, axis=0)) == len(dst)
    assert verify(registered, up).outcome is Outcome.DERIVATIVE


def test_many_upload_points_sent_to_one_registered_point_cannot_make_a_fit(registered):
    """Repeated text or UI elements all matching one registered keypoint are one pair, not a fit."""
    import cv2

    from ncii_shield.signals.derivative.verify import _fit

    rng = np.random.default_rng(0)
    points = rng.uniform(0, 600, (40, 2)).astype(np.float32)
    collapse = [cv2.DMatch(i, 7, 10.0) for i in range(40)]  # every upload point -> registered point 7
    assert _fit(points, np.zeros((40, 32), np.uint8), registered, collapse, guided=True) is None


def test_index_sample_comes_from_coarse_scales_first(registered):
    """The first INDEX_KEYPOINTS keypoints (the candidate index's sample) are found at coarser
    pyramid levels, which survive shrinking and blurring; the signature still holds the fine ones."""
    frame = F.to_frame(scene(1))
    pts, _ = F.keypoints(frame.grey, F.MAX_KEYPOINTS, coarse_first=F.INDEX_KEYPOINTS)
    levels: dict[tuple[float, float], set[int]] = {}
    for k in F._orb().detect(frame.grey, None):
        levels.setdefault((round(k.pt[0], 2), round(k.pt[1], 2)), set()).add(k.octave & 0xFF)
    found = [levels[(round(float(x), 2), round(float(y), 2))] for x, y in pts]
    assert all(max(o) >= 1 for o in found[:F.INDEX_KEYPOINTS])
    assert any(o == {0} for o in found[F.INDEX_KEYPOINTS:])
    assert len(pts) == len(registered.points)  # the same keypoints, reordered
