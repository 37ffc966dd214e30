"""Issue 20, the large kind in verification (verify.py, 2026-12-07 #3): the whole-frame comparison's
colour offsets taken from the photo's remainder (:func:`_whole_anchors`), a strong fit allowed to have
replaced more of the photo (:data:`LARGE_EXTRA_EDIT`), a fit of :data:`MIDDLE_INLIERS` points with a
block of :data:`DENSE_CELLS` standing for a strong one in the large-edit floors. Images are synthetic
scenes (tests/derivative_scenes.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative import verify as V
from ncii_shield.signals.derivative.verify import Outcome, Upload, verify
from tests.derivative_scenes import scene
from tests.unit.signals.test_derivative_kinds import jpeg_rgb, large_and_cropped, replaced


def soft(seed: int) -> np.ndarray:
    """A scene with soft detail: structure in every cell, few corners (ORB keypoints)."""
    return cv2.GaussianBlur(scene(seed), (0, 0), 7)


def brighter_part(img: np.ndarray, width: int) -> np.ndarray:
    """The left ``width`` columns replaced by a much brighter, grainy picture of other structure (three
    quarters of the frame at 600): most cells then move by about one offset, which the photo's remainder
    does not share."""
    grain = cv2.GaussianBlur(np.random.default_rng(5).normal(0, 1, (img.shape[0], width)).astype(np.float32), (0, 0), 4)
    out = img.astype(np.float32)
    out[:, :width] = out[:, :width] * 0.5 + 114 + (grain / grain.std() * 40)[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


def test_the_whole_frame_comparison_takes_its_offsets_from_the_remainder(monkeypatch):
    photo = F.photo_features(soft(31))
    upload = Upload.from_rgb(jpeg_rgb(cv2.resize(brighter_part(soft(31), 600), None, fx=0.6, fy=0.6,
                                                 interpolation=cv2.INTER_AREA), 85))
    verdict = verify(photo, upload)
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason
    assert verdict.inliers == 0 and verdict.details["dense"] >= V.DENSE_WHOLE  # the whole frame, by its cells
    x, y, w, h = verdict.edited_region
    assert x <= 20 and x + w >= 560 and w <= 680  # the part replaced, not the strip left
    # the offsets of every cell (the pasted part's) make the unchanged strip differ: nothing is left
    monkeypatch.setattr(V, "WHOLE_ANCHORS", False)
    assert verify(photo, upload).outcome is Outcome.NONE


def test_the_anchors_are_the_pre_tests_block():
    photo = F.photo_features(soft(31))
    upload = Upload.from_rgb(brighter_part(soft(31), 600))
    block = V._whole_precise(photo, upload, False)
    assert block.sum() == V._whole_pretest(photo, upload, False) >= V.WHOLE_PRETEST
    anchors = V._whole_anchors(photo, upload, False)
    assert len(anchors) == block.sum()
    cols = (anchors[:, 0] * F.GRID / photo.frame_w).astype(int)
    assert cols.min() >= 11  # the strip left of the photo (columns 600-800 of 800: cells 12-15, give or take one)
    assert V._whole_precise(photo, Upload.from_rgb(soft(40)), False).sum() < V.WHOLE_PRETEST  # another photo


@pytest.fixture(scope="module")
def photo() -> F.PhotoFeatures:
    return F.photo_features(scene(31))


def test_a_strong_fit_may_have_replaced_more_than_max_edit(photo, monkeypatch):
    """The upper 83 % of the photo replaced: more than MAX_EDIT of its cells differ; the strip left holds a
    fit of LARGE_INLIERS points and a block of DENSE_LARGE precisely matching cells."""
    upload = Upload.from_rgb(jpeg_rgb(replaced(scene(31), scene(32), (0, 0, 800, 500))))
    verdict = verify(photo, upload)
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason
    assert verdict.inliers >= V.LARGE_INLIERS and verdict.details["dense"] >= V.DENSE_LARGE
    assert verdict.edited_share > V.MAX_EDIT
    assert verdict.edited_share <= V.MAX_EDIT + V.LARGE_EXTRA_EDIT
    monkeypatch.setattr(V, "LARGE_EXTRA_EDIT", 0.0)
    assert verify(photo, upload).outcome is Outcome.NONE
    monkeypatch.setattr(V, "LARGE_EXTRA_EDIT", 0.1)
    monkeypatch.setattr(V, "DENSE_LARGE", verdict.details["dense"] + 1)  # a fit not confirmed by a dense block
    assert verify(photo, upload).outcome is Outcome.NONE


def test_replacing_more_than_max_edit_of_a_plain_backdrop_is_not_an_edit(monkeypatch):
    """A detailed part registered on a plain backdrop (the right 15 % of it), seen again beside other
    content: the "edit" replaced only the backdrop (no detail there in the registered photo), however
    strong the fit."""
    image = np.full((600, 800, 3), 120, np.uint8)
    image[0:600, 680:800] = scene(14)[0:600, 680:800]
    registered = F.photo_features(image)
    upload = Upload.from_rgb(jpeg_rgb(replaced(image, scene(32), (0, 0, 680, 600))))
    verdict = verify(registered, upload)
    assert verdict.outcome is not Outcome.DERIVATIVE, verdict.reason
    assert verdict.inliers >= V.LARGE_INLIERS  # a strong fit on the part
    monkeypatch.setattr(V, "_detailed", lambda *_: True)  # the condition is what holds it back
    assert verify(registered, upload).outcome is Outcome.DERIVATIVE


def test_a_middle_fit_with_a_dense_block_stands_for_a_strong_one_in_the_floors(photo, monkeypatch):
    """The large-edit floors (_large_edit) for a fit of MIDDLE_INLIERS points whose cells hold a block of
    DENSE_CELLS: the upload of test_derivative_kinds (a strip of 14 % left), with the strong bars set
    above what it has."""
    upload = Upload.from_rgb(large_and_cropped())
    verdict = verify(photo, upload)
    assert verdict.outcome is Outcome.DERIVATIVE and verdict.shared_share < V.MIN_SHARED
    inliers, dense = verdict.inliers, verdict.details["dense"]
    assert inliers >= V.MIDDLE_INLIERS and dense >= V.DENSE_CELLS
    monkeypatch.setattr(V, "LARGE_INLIERS", 10 ** 6)  # (the guided pass, tried when the plain fit is not
    monkeypatch.setattr(V, "DENSE_LARGE", 10 ** 6)    # judged, finds more points: the bars set out of reach)
    assert verify(photo, upload).outcome is Outcome.DERIVATIVE
    monkeypatch.setattr(V, "MIDDLE_INLIERS", 10 ** 6)
    assert verify(photo, upload).outcome is Outcome.NONE
    monkeypatch.setattr(V, "MIDDLE_INLIERS", inliers)
    monkeypatch.setattr(V, "DENSE_CELLS", 10 ** 6)
    assert verify(photo, upload).outcome is Outcome.NONE


def test_a_picture_the_warp_enlarges_in_an_upload_larger_than_the_frame_is_allowed_its_loss(monkeypatch):
    """The fine-structure allowance counts the warp's enlargement of the frame (FRAME_ENLARGED): three
    800 x 300 pictures side by side (2400 x 300, the fake first), brought to the 640-pixel frame, leave
    the fake's picture 213 pixels wide, which the warp enlarges 3 x. Its cells' patterns then differ by
    more than MAX_IMPRECISION bits, as an upscaled upload's do; counting the upload's own 2400 pixels
    as resolution (the frame shrank it first) would hold it to the plain bar."""
    from tests.derivative_scenes import edit
    from tests.unit.signals.test_derivative_instances import BOX

    photo = F.photo_features(scene(1))
    pictures = [edit("noise", scene(1), BOX, seed=3)[150:450], scene(40)[150:450], scene(41)[150:450]]
    upload = Upload.from_rgb(jpeg_rgb(np.concatenate(pictures, axis=1)), panels=False)
    verdict = verify(photo, upload)
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason
    assert verdict.details["precision"] > V.MAX_IMPRECISION  # within the allowance only
    monkeypatch.setattr(V, "FRAME_ENLARGED", False)
    assert verify(photo, upload).outcome is Outcome.NONE


def test_a_large_edit_half_over_a_plain_part_is_still_an_edit_of_detail(monkeypatch):
    """The upper 70 % of the photo replaced, of which the left 380 columns were plain in the registered
    photo, the bottom cropped to a strip of 100 rows: the edited block had structure in 55 % of its cells
    (LARGE_DETAIL 0.5; the whole scene around a detailed part registered on a plain backdrop: about 10 %,
    test_derivative_kinds), and the strip holds a strong fit."""
    image = scene(31).copy()
    image[0:420, 0:380] = 128
    photo = F.photo_features(image)
    upload = Upload.from_rgb(jpeg_rgb(replaced(image, scene(32), (0, 0, 800, 420))[0:520]))
    verdict = verify(photo, upload)
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason
    assert verdict.shared_share < V.MIN_SHARED and verdict.inliers >= V.LARGE_INLIERS  # the large-edit floors
    monkeypatch.setattr(V, "LARGE_DETAIL", 0.6)
    assert verify(photo, upload).outcome is Outcome.NONE
