"""Issue 20, the large kind's crops (verify.py, 2026-12-07 #4): when neither the plain nor the guided fit
holds, a crop's transform (no rotation, a narrow range of scales, the upload inside the photo) is voted
for by keypoint pairs (:func:`_level_seed`) and refined by guided matching, then judged as the guided
pass's fits are. Images are synthetic scenes (tests/derivative_scenes.py)."""

from __future__ import annotations

import cv2
import numpy as np

from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative import verify as V
from ncii_shield.signals.derivative.verify import Outcome, Upload, verify
from tests.derivative_scenes import scene
from tests.unit.signals.test_derivative_kinds import jpeg_rgb, replaced


def test_a_crops_shift_is_voted_for_among_random_pairs():
    """Ten pairs of a crop (scale 0.9, shift 40, 30) among 400 random ones: the seed is the crop's; turned
    by 12 degrees, they vote for no crop."""
    rng = np.random.default_rng(3)
    photo = F.photo_features(scene(31))
    true_up = rng.uniform(0, 600, (10, 2)).astype(np.float32)
    up = np.r_[true_up, rng.uniform(0, 640, (400, 2))].astype(np.float32)
    points = np.r_[true_up * 0.9 + [40, 30], rng.uniform(0, 640, (400, 2))].astype(np.float32)
    reg = F.PhotoFeatures(photo.width, photo.height, photo.frame_w, photo.frame_h, points,
                          photo.descriptors[:1].repeat(len(points), 0), photo.cells)
    good = [cv2.DMatch(k, k, 0, 0.0) for k in range(len(points))]
    votes, seed = V._level_seed(up, reg, good)
    assert votes >= V.LEVEL_VOTES and seed is not None
    assert abs(seed[0, 0] - 0.9) <= 0.011 and seed[0, 1] == seed[1, 0] == 0
    assert abs(seed[0, 2] - 40) <= V.LEVEL_BIN and abs(seed[1, 2] - 30) <= V.LEVEL_BIN
    turn = cv2.getRotationMatrix2D((300, 300), 12, 1.0)
    points[:10] = true_up @ turn[:, :2].T + turn[:, 2]
    votes, seed = V._level_seed(up, reg, good)
    assert seed is None and votes < V.LEVEL_VOTES


def turned_pieces(img: np.ndarray, box: tuple[int, int, int, int], angles: tuple[float, ...]) -> np.ndarray:
    """``box`` (x, y, w, h) of ``img`` (800 x 600) filled with four pieces of the photo itself, each turned by
    one of ``angles`` about the centre: the pasted part makes consistent keypoint pairs of its own, four
    clusters of implausible rotation, each larger than the rest's."""
    x, y, w, h = box
    out = img.copy()
    for k, angle in enumerate(angles):
        turned = cv2.warpAffine(img, cv2.getRotationMatrix2D((400, 300), angle, 1.0), (800, 600),
                                borderMode=cv2.BORDER_REFLECT)
        px, py = x + (k % 2) * (w // 2), y + (k // 2) * (h // 2)
        out[py:py + h // 2, px:px + w // 2] = turned[150:150 + h // 2, 200:200 + w // 2]
    return out


def test_a_crop_of_a_photo_mostly_replaced_is_flagged_by_the_voted_fit(monkeypatch):
    """Rows 80-600 of the left 640 columns replaced by turned pieces of the photo, then 40 / 30 pixels
    cropped off each side: RANSAC's best fits are the pieces' (refitted twice, the next is still one of
    them: an implausible rotation), the guided pass's too; the crop's fit, voted for at no rotation, is the
    rest's, and the cells confirm it."""
    base = cv2.GaussianBlur(scene(31), (0, 0), 2)
    photo = F.photo_features(base)
    upload = Upload.from_rgb(jpeg_rgb(turned_pieces(base, (0, 80, 640, 520), (-40, 40, 90, 180))[30:570, 40:760]))
    verdict = verify(photo, upload)
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason
    assert abs(verdict.transform[0][1]) < 0.02  # no rotation
    x, y, w, h = verdict.edited_region
    assert x <= 60 and y <= 120 and x + w >= 600 and y + h >= 560  # the turned pieces (of the cropped upload)
    monkeypatch.setattr(V, "LEVEL_FIT", False)
    verdict = verify(photo, upload)
    assert verdict.outcome is Outcome.NONE and "rotation" in verdict.reason
