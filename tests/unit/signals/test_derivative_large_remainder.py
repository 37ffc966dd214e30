"""Issue 20, the large kind: most of a photo replaced, its remainder holding too few keypoints for a
fit (verify.py: :func:`_whole_frame`, the weak fits of the guided pass and :func:`_dense`). The cells
must confirm such an upload densely; unrelated photos of the same shape and a second shot of the scene
must not pass. Images are synthetic scenes (tests/derivative_scenes.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative import verify as V
from ncii_shield.signals.derivative.verify import Outcome, Upload, Verdict, verify
from tests.derivative_scenes import scene
from tests.unit.signals.test_derivative_kinds import jpeg_rgb, replaced

CENTRE = (120, 80, 560, 470)  # 55 % of the 800 x 600 scene: the subject replaced, the margins left


def soft(seed: int, **kwargs) -> np.ndarray:
    """A scene with soft detail: structure in every cell, few corners (ORB keypoints)."""
    return cv2.GaussianBlur(scene(seed, **kwargs), (0, 0), 7)


@pytest.fixture(scope="module")
def photo() -> F.PhotoFeatures:
    return F.photo_features(soft(31))


def shrunk(img: np.ndarray) -> np.ndarray:
    return jpeg_rgb(cv2.resize(img, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA), 85)


def test_a_large_edit_whose_remainder_holds_no_fit_is_flagged_on_its_cells(photo, monkeypatch):
    upload = Upload.from_rgb(shrunk(replaced(soft(31), scene(81), CENTRE)))
    verdict = verify(photo, upload)
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason
    assert verdict.inliers == 0 and verdict.details["dense"] >= V.DENSE_WHOLE  # no keypoint fit: the cells
    x, y, w, h = verdict.edited_region
    assert x <= 130 and y <= 90 and x + w >= 670 and y + h >= 540  # the replaced centre
    assert verdict.instance_box == [0, 0, upload.frame.width, upload.frame.height]
    monkeypatch.setattr(V, "WHOLE_FRAME", False)
    assert verify(photo, upload).outcome is Outcome.NONE  # no fit of 10 points without it
    monkeypatch.setattr(V, "WHOLE_FRAME", True)
    monkeypatch.setattr(V, "DENSE_WHOLE", verdict.details["dense"] + 1)
    assert verify(photo, upload).outcome is Outcome.NONE  # the block of matching cells is what decides


@pytest.mark.parametrize("other", [32, 40, 7])
def test_an_unrelated_photo_of_the_same_shape_is_not_flagged(photo, other, monkeypatch):
    judged: list[Verdict] = []
    whole = V._whole_frame

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        judged.append(True)
        return whole(*args, **kwargs)

    monkeypatch.setattr(V, "_whole_frame", spy)
    for img in (soft(other), replaced(soft(other), scene(81), CENTRE)):
        verdict = verify(photo, Upload.from_rgb(shrunk(img)))
        assert verdict.outcome is Outcome.NONE, verdict.reason
    assert judged  # the whole frame was compared (same shape, no fit), and rejected


def test_a_second_shot_of_the_scene_with_the_same_edit_is_not_flagged(photo):
    """The scene shot again a moment later (camera a few pixels off, slightly zoomed, things moved): its
    cells line up with the photo's nowhere precisely, whatever was replaced."""
    for img in (soft(31, moved=True), replaced(soft(31, moved=True), scene(81), CENTRE)):
        verdict = verify(photo, Upload.from_rgb(shrunk(img)))
        assert verdict.outcome is not Outcome.DERIVATIVE, verdict.reason


def test_a_weak_fit_stands_only_as_a_derivative_its_cells_confirm():
    flagged = Verdict(Outcome.DERIVATIVE, score=20.0, inliers=7, edited_region=[0, 0, 10, 10],
                      details={"dense": V.DENSE_CELLS})
    assert V._dense(flagged) is flagged
    weak = V._dense(Verdict(Outcome.DERIVATIVE, inliers=7, details={"dense": V.DENSE_CELLS - 1}))
    assert weak.outcome is Outcome.NONE and "not confirmed" in weak.reason
    # a re-share needs the usual fit of MIN_INLIERS points
    assert V._dense(Verdict(Outcome.RESHARE, inliers=7, details={"dense": 200})).outcome is Outcome.NONE
