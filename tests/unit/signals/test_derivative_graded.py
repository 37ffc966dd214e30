"""Graduated filters (a colour blended in from a side or a corner, strength 0.3-0.35) are re-shares, not
recoloured or replaced regions; a local edit under the same filter is still a derivative (verify.GRADED,
grading.py). Synthetic scenes only (tests/derivative_scenes.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ncii_shield.signals.derivative import features as F
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


@pytest.fixture(autouse=True)
def _graded_on(monkeypatch):
    """The model is off by default (verify.GRADED: it also clears some regenerated corner and side regions);
    these tests are of the model itself."""
    monkeypatch.setattr(V, "GRADED", True)


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
