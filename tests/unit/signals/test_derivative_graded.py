"""Graduated filters (a colour blended in from a side or a corner, strength 0.3-0.35) are re-shares, not
recoloured or replaced regions; a local edit under the same filter is still a derivative, and so is a region
regenerated at a corner or along a side, whose edge is hard (verify.GRADED, grading.py, grading.RAMP). Synthetic
scenes only (tests/derivative_scenes.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative import grading as G
from ncii_shield.signals.derivative import verify as V
from ncii_shield.signals.derivative.verify import Outcome, Upload, verify
from tests.derivative_scenes import scene
from tests.unit.signals.test_derivative_weak_kinds import jpeg_rgb


def _graded(img: np.ndarray, t: np.ndarray, full: float, zero: float, colour, strength: float) -> np.ndarray:
    """Blended towards ``colour`` at ``strength`` up to ``t`` = ``full``, fading to nothing at ``zero``."""
    ramp = np.clip((zero - t) / max(zero - full, 1e-6), 0, 1)[..., None]
    f = img.astype(np.float32) / 255.0
    return np.clip((f * (1 - strength * ramp) + strength * ramp * np.array(colour)) * 255, 0, 255).astype(np.uint8)


def _coords(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    return xx / (w - 1), yy / (h - 1)


def test_the_model_is_on_by_default():
    """On since 2026-12-07 #7 (the fade test, grading.RAMP); these tests are of the model as shipped."""
    assert V.GRADED is True and G.RAMP is True


TINTS = {  # as bench/derivative_large.py's "plateau tint" and "corner tint"
    "plateau": lambda i: _graded(i, _coords(i)[1], 0.3, 0.5, (1.0, 0.55, 0.1), 0.35),
    "corner": lambda i: _graded(i, np.hypot(*_coords(i)) / np.sqrt(2), 0.1, 0.6, (0.25, 0.45, 1.0), 0.3),
}


def _edited(img: np.ndarray, kind: str) -> np.ndarray:
    """A flat or recoloured ellipse (a clothing-like region, about a fifth of the picture) in the lower middle."""
    h, w = img.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, (w // 2, int(h * 0.65)), (w // 5, h // 4), 10, 0, 360, 1, -1)
    out = img.copy()
    if kind == "flat":
        out[mask > 0] = (180, 120, 140)
    else:
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV).astype(np.int16)
        hsv[..., 0] = (hsv[..., 0] + 90) % 180
        hsv[..., 2] = np.clip(hsv[..., 2] * 0.6 + 60, 0, 255)
        out[mask > 0] = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[mask > 0]
    return out


@pytest.fixture(scope="module", params=[1, 2])
def photo(request) -> tuple[np.ndarray, F.PhotoFeatures]:  # noqa: ANN001
    img = scene(request.param)
    return img, F.decode(F.encode(F.photo_features(img)))


@pytest.mark.parametrize("tint", sorted(TINTS))
def test_a_graduated_filter_is_a_reshare(photo, tint):
    img, reg = photo
    verdict = verify(reg, Upload.from_rgb(jpeg_rgb(TINTS[tint](img), 88)))
    assert verdict.outcome is Outcome.RESHARE, verdict.reason


@pytest.mark.parametrize("tint", sorted(TINTS))
def test_without_the_model_a_graduated_filter_is_called_an_edit(photo, tint, monkeypatch):
    monkeypatch.setattr(V, "GRADED", False)
    img, reg = photo
    assert verify(reg, Upload.from_rgb(jpeg_rgb(TINTS[tint](img), 88))).outcome is Outcome.DERIVATIVE


@pytest.mark.parametrize("tint", sorted(TINTS))
@pytest.mark.parametrize("kind", ["flat", "recolour"])
def test_a_local_edit_under_a_graduated_filter_is_a_derivative(photo, tint, kind):
    img, reg = photo
    verdict = verify(reg, Upload.from_rgb(jpeg_rgb(TINTS[tint](_edited(img, kind)), 88)))
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason


def _regenerated(img: np.ndarray, region: str, edge: float = 4.0) -> np.ndarray:
    """A region at a corner or along a side regenerated from itself (bilateral smoothing x 3, darkened to 0.7,
    warmed, re-noised; edge softened by a 4-pixel Gaussian), as bench/hc_graded_real.py makes them: its change is
    close to a blend towards a dark warm colour, with a plateau shaped like a graduated filter's, but a hard edge."""
    h, w = img.shape[:2]
    mask = np.zeros((h, w), np.float32)
    if region == "top-right corner":
        mask[: int(h * 0.42), w - int(w * 0.42):] = 1
    elif region == "bottom band":
        mask[int(h * 0.72):] = 1
    elif region == "top band":
        mask[: int(h * 0.28)] = 1
    elif region == "left band":
        mask[:, : int(w * 0.28)] = 1
    elif region == "lower half":
        mask[int(h * 0.5):] = 1
    mask = cv2.GaussianBlur(mask, (0, 0), edge)[..., None]
    smooth = img
    for _ in range(3):
        smooth = cv2.bilateralFilter(smooth, 9, 50, 7)
    regen = smooth.astype(np.float32) * 0.7 * np.array([1.08, 1.0, 0.86], np.float32)
    noise = cv2.GaussianBlur(np.random.default_rng(7).normal(0, 6, (h, w)).astype(np.float32), (0, 0), 1.0)[..., None]
    return np.clip(img * (1 - mask) + np.clip(regen + noise, 0, 255) * mask, 0, 255).astype(np.uint8)


REGENERATED = [(1, "top-right corner"), (2, "bottom band"), (2, "lower half"), (3, "top band"), (3, "left band")]


@pytest.mark.parametrize("scene_id, region", REGENERATED)
def test_a_region_regenerated_at_a_corner_or_side_is_a_derivative(scene_id, region):
    """Its hard edge is no fade: the model does not take it for a graduated filter (grading.RAMP)."""
    img = scene(scene_id)
    reg = F.decode(F.encode(F.photo_features(img)))
    verdict = verify(reg, Upload.from_rgb(jpeg_rgb(_regenerated(img, region), 88)))
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason


@pytest.mark.parametrize("scene_id, region", REGENERATED)
def test_without_the_fade_test_such_a_region_is_cleared(scene_id, region, monkeypatch):
    """The same uploads with the fade not required (as 2026-12-07 #6): the model clears them as re-shares."""
    monkeypatch.setattr(G, "RAMP", False)
    img = scene(scene_id)
    reg = F.decode(F.encode(F.photo_features(img)))
    verdict = verify(reg, Upload.from_rgb(jpeg_rgb(_regenerated(img, region), 88)))
    assert verdict.outcome is Outcome.RESHARE, verdict.reason


FEATHERED = [(5, "lower half", 24.0), (7, "lower half", 24.0), (6, "bottom band", 32.0)]


@pytest.mark.parametrize("scene_id, region, edge", FEATHERED)
def test_a_regenerated_region_with_a_wide_feather_is_told_by_its_lost_texture(scene_id, region, edge, monkeypatch):
    """Feathered over 2 cells or more, a regenerated region fades like a filter; its plateau was smoothed, which a
    blend does not do (grading.RAMP_TEXTURE): a derivative, and without the texture test a re-share (the review of
    2026-12-07 #7, R3: no test failed without it)."""
    img = scene(scene_id)
    reg = F.decode(F.encode(F.photo_features(img)))
    upload = Upload.from_rgb(jpeg_rgb(_regenerated(img, region, edge), 88))
    verdict = verify(reg, upload)
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason
    monkeypatch.setattr(G, "RAMP_TEXTURE", (10.0, G.RAMP_TEXTURE[1]))  # the texture test never refuses
    assert verify(reg, upload).outcome is Outcome.RESHARE


def test_the_fade_width_of_a_hard_edge_is_one_cell_and_of_a_ramp_its_own():
    x = np.repeat(np.arange(16) + 0.5, 4)  # cells' positions along the profile, four cells a row
    hard = np.clip(8.3 - x + 0.5, 0.0, 1.0)  # an edge through row 8: that row partly covered
    ramp = np.clip((9.0 - x) / 3.0 + 0.5, 0.0, 1.0)  # a fade over three cells
    assert G._fade_width(x, 0.8 * hard) <= 1.25
    assert 2.75 <= G._fade_width(x, 0.8 * ramp) <= 3.25
