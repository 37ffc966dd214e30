"""Issue 20: a meme caption's letters are left out of verification's fine-structure test
(verify._precision), so that a captioned fake is not taken for another photo of the same scene, while
a captioned second shot of the scene still is."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative import verify as V
from ncii_shield.signals.derivative.verify import Outcome, Upload, verify
from tests.derivative_scenes import edit, scene
from tests.unit.signals.test_derivative_kinds import captioned, jpeg_rgb


@pytest.fixture(scope="module")
def photo() -> F.PhotoFeatures:
    return F.photo_features(scene(31))


def shrunk(img: np.ndarray, factor: float = 0.6) -> np.ndarray:
    return cv2.resize(img, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)


def test_caption_cells_are_left_out_of_the_fine_structure_test(photo, monkeypatch):
    """A captioned fake, shrunk: the letters' cells make the unedited part look imprecise. With the
    fine-structure limit set between the two measures, only the rule keeps it a derivative."""
    upload = Upload.from_rgb(jpeg_rgb(shrunk(captioned(edit("flat", scene(31), (100, 100, 560, 380)))), 80))
    verdict = verify(photo, upload)
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason
    monkeypatch.setattr(V, "TEXT_PRECISION", False)
    without = verify(photo, upload)
    assert without.details["precision"] > 4 * verdict.details["precision"]
    monkeypatch.setattr(V, "MAX_IMPRECISION", 0.25)
    assert verify(photo, upload).outcome is Outcome.NONE
    monkeypatch.setattr(V, "TEXT_PRECISION", True)
    assert verify(photo, upload).outcome is Outcome.DERIVATIVE


def test_precision_without_text_is_the_plain_mean():
    dp = np.arange(F.GRID * F.GRID, dtype=np.int32).reshape(F.GRID, F.GRID) % 5
    compared = np.ones((F.GRID, F.GRID), bool)
    assert V._precision(dp, compared, None) == pytest.approx(dp.mean())
    assert V._precision(dp, compared, np.zeros_like(compared)) == pytest.approx(dp.mean())
    assert V._precision(dp, np.zeros_like(compared), None) == 0.0


def test_text_and_its_neighbours_are_left_out_only_when_enough_cells_remain():
    dp = np.zeros((F.GRID, F.GRID), np.int32)
    text = np.zeros((F.GRID, F.GRID), bool)
    text[0, 2:12] = True
    dp[0:2, 1:13] = 9  # the caption's cells and the row under them
    compared = np.ones((F.GRID, F.GRID), bool)
    assert V._precision(dp, compared, text) == 0.0
    few = np.zeros_like(compared)
    few[0:2, 1:13] = True
    few[5, 0:4] = True  # 4 cells away from the text: under MIN_COMPARED, so the text cells stay in
    assert V._precision(dp, few, text) == pytest.approx(dp[few].mean())


@pytest.mark.parametrize("seed, factor", [(3, 1.0), (31, 0.6), (40, 1.0)])
def test_a_captioned_second_shot_of_the_scene_is_not_flagged(seed, factor):
    reg = F.photo_features(scene(seed))
    image = captioned(scene(seed, moved=True))
    verdict = verify(reg, Upload.from_rgb(jpeg_rgb(shrunk(image, factor) if factor < 1 else image, 85)))
    assert verdict.outcome is Outcome.NONE, verdict.reason


@pytest.mark.parametrize("seed", [3, 31])
def test_the_rule_engaged_still_rejects_a_captioned_second_shot_for_its_fine_structure(seed, monkeypatch):
    """Not only some other test rejecting it: the caption rule lowers the measure here, and what is
    left still differs in fine structure."""
    reg = F.photo_features(scene(seed))
    upload = Upload.from_rgb(jpeg_rgb(shrunk(captioned(scene(seed, moved=True)), 0.6), 85))
    verdict = verify(reg, upload)
    monkeypatch.setattr(V, "TEXT_PRECISION", False)
    plain = verify(reg, upload)
    assert verdict.details["precision"] < plain.details["precision"]  # the rule applied
    assert verdict.outcome is Outcome.NONE
    assert "fine structure" in verdict.reason

