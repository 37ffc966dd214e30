"""Issue 20, the large kind: most of a photo replaced, its remainder holding too few keypoints for a
fit (verify.py: :func:`_whole_frame`, the weak fits of the guided pass and :func:`_dense`). The cells
must confirm such an upload densely; unrelated photos of the same shape and a second shot of the scene
must not pass. Images are synthetic scenes (tests/derivative_scenes.py)."""

from __future__ import annotations

from dataclasses import replace

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


def _counted(monkeypatch, name: str) -> list[bool]:
    """``verify.<name>`` replaced by itself, noting each call in the list returned."""
    calls: list[bool] = []
    real = getattr(V, name)

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(True)
        return real(*args, **kwargs)

    monkeypatch.setattr(V, name, spy)
    return calls


@pytest.mark.parametrize("other", [32, 40, 7])
def test_an_unrelated_photo_of_the_same_shape_is_not_flagged(photo, other, monkeypatch):
    judged = _counted(monkeypatch, "_whole_frame")
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


def test_the_pre_test_on_the_uploads_own_cells_gates_the_whole_frame_comparison(photo, monkeypatch):
    """The whole-frame comparison runs only when the upload's own cells (no warp) hold a block of
    WHOLE_PRETEST cells whose structure matches: a flagged upload's block passes it, an unrelated
    photo of the same shape is turned away before the warp and the cell comparison."""
    upload = Upload.from_rgb(shrunk(replaced(soft(31), scene(81), CENTRE)))
    pre = V._whole_pretest(photo, upload, False)
    verdict = V.whole_frame(photo, upload)
    assert verdict is not None and verdict.outcome is Outcome.DERIVATIVE, pre
    assert pre >= V.WHOLE_PRETEST and verdict.instances == [replace(verdict, instances=[])]
    compared = _counted(monkeypatch, "_compare")
    for other in (32, 40, 7):
        unrelated = Upload.from_rgb(shrunk(replaced(soft(other), scene(81), CENTRE)))
        assert V._whole_pretest(photo, unrelated, False) < V.WHOLE_PRETEST
        assert V.whole_frame(photo, unrelated) is None
    assert not compared  # turned away by the pre-test
    monkeypatch.setattr(V, "WHOLE_PRETEST", pre + 1)
    assert V.whole_frame(photo, upload) is None and not compared  # the pre-test decides whether to compare
    monkeypatch.setattr(V, "WHOLE_PRETEST", 0)
    assert V.whole_frame(photo, upload) is not None and compared


def test_whole_frame_needs_the_photos_shape(photo):
    img = replaced(soft(31), scene(81), CENTRE)
    assert V.whole_frame(photo, Upload.from_rgb(shrunk(img[:, :700]))) is None  # cropped: another shape


def test_the_uploads_own_cells_are_those_of_its_frame_and_mirrored_frame():
    upload = Upload.from_rgb(shrunk(soft(31)))
    plain, mirrored = upload.whole_cells(False), upload.whole_cells(True)
    assert upload.whole_cells(False) is plain and upload.whole_cells(True) is mirrored  # computed once
    frame = upload.frame
    expected = F.cell_summaries(frame.grey, frame.cb, frame.cr)[0]
    assert np.array_equal(expected.pattern, plain.pattern) and np.array_equal(expected.mean, plain.mean)
    # the mirrored cells derived from these are those of the mirrored frame
    flipped = F.cell_summaries(*(np.ascontiguousarray(p[:, ::-1]) for p in (frame.grey, frame.cb, frame.cr)))[0]
    assert np.allclose(flipped.mean, mirrored.mean, atol=0.5) and np.allclose(flipped.cr, mirrored.cr, atol=0.5)
    textured = flipped.std >= F.TEXTURE_STD
    assert (V._popcount16(flipped.pattern ^ mirrored.pattern)[textured] <= 1).mean() >= 0.95
    assert V._MIRROR_BITS[0b0000_0000_0000_0001] == 0b0000_0000_0000_1000  # row 0, column 0 -> column 3
