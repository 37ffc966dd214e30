"""Issue 20, the large kind in screenshots (verify.py WHOLE_CONTENT, 2026-12-08): a screenshot of a photo most
of which was replaced keeps too few keypoints for any fit, and the cut splits its picture along the pasted
part's edges; the picture inside the screenshot's bars (``Upload.content``, :func:`verify._content_box`) is
compared as the photo's whole frame. Images are synthetic scenes (tests/derivative_scenes.py)."""

from __future__ import annotations

import cv2
import pytest

from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative import verify as V
from ncii_shield.signals.derivative.verify import Outcome, Upload, verify
from tests.derivative_scenes import scene, screenshot
from tests.unit.signals.test_derivative_kinds import jpeg_rgb
from tests.unit.signals.test_derivative_large_verification import brighter_part, soft

@pytest.fixture(autouse=True)
def _on(monkeypatch):
    """WHOLE_CONTENT is off by default (the 2026-12-08 review, R2: unedited zoom-cropped re-shares inside screenshots
    were flagged); these tests describe the comparison itself, so they turn it on."""
    monkeypatch.setattr(V, "WHOLE_CONTENT", True)


def test_the_content_box_is_the_screenshots_picture():
    shot = screenshot(scene(31))  # the picture: 680 x 510 at (20, 130) of 720 x 840
    upload = Upload.from_rgb(shot)
    x, y, w, h = upload.content
    s = upload.frame.grey.shape[1] / shot.shape[1]  # frame pixels per upload pixel
    assert abs(x - 20 * s) <= 2 and abs(y - 130 * s) <= 2
    assert abs(w - 680 * s) <= 2 and abs(h - 510 * s) <= 2
    assert Upload.from_rgb(scene(31)).content is None  # a photo: no bars of one colour around it


def test_a_screenshot_of_a_photo_mostly_replaced_is_flagged_by_its_picture(monkeypatch):
    photo = F.photo_features(soft(31))
    fake = brighter_part(soft(31), 600)  # three quarters of the photo replaced; its remainder: few corners
    image = jpeg_rgb(screenshot(fake), 85)
    verdict = verify(photo, Upload.from_rgb(image))
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason
    assert verdict.inliers == 0 and verdict.details["dense"] >= V.DENSE_WHOLE
    bx, by, bw, bh = verdict.instance_box  # the picture, in the upload's pixels
    assert abs(bx - 20) <= 4 and abs(by - 130) <= 4 and abs(bw - 680) <= 6 and abs(bh - 510) <= 6
    # an unrelated photo's screenshot is not flagged, nor the same fake with the comparison off
    assert verify(F.photo_features(soft(40)), Upload.from_rgb(image)).outcome is Outcome.NONE
    monkeypatch.setattr(V, "WHOLE_CONTENT", False)
    assert verify(photo, Upload.from_rgb(image)).outcome is Outcome.NONE


def test_a_picture_of_another_shape_is_not_compared(monkeypatch):
    """The box must have the photo's shape (within WHOLE_ASPECT): a cropped picture in a screenshot is not
    compared as the whole frame (no comparison is made at all)."""
    photo = F.photo_features(soft(31))
    fake = brighter_part(soft(31), 600)[:, :700]  # cropped: 700 x 600 against the photo's 800 x 600
    upload = Upload.from_rgb(jpeg_rgb(screenshot(fake), 85))
    calls = []
    monkeypatch.setattr(V, "_compare", lambda *a, **k: calls.append(a) or (_ for _ in ()).throw(AssertionError))
    monkeypatch.setattr(V, "WHOLE_PRETEST", 0)  # the pre-test would stop it too: here only the shape may (review R3)
    assert V._whole_frame(photo, upload, None) is None
    assert not calls
    # the control: with any shape allowed a comparison is made, so the spy would see one
    monkeypatch.setattr(V, "WHOLE_ASPECT", 10.0)
    with pytest.raises(AssertionError):
        V._whole_frame(photo, upload, None)
    assert calls
