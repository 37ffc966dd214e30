"""A band along one side of a registered photo replaced (15-30 % of the picture) is a derivative (issue 20; found by
the review of 2026-12-07 #6, R's N1, fixed in #7). `verify._beyond_edge` takes a band along a side that differs over
its whole length for the next picture of a collage (a photo cropped to fill a cell, its neighbour not cut apart) and
leaves it out as if cropped; `verify._replaced_band` gives the band back to the photo when it keeps the photo's
structure (recoloured, regenerated) or is a flat fill reaching the upload's border exactly where the photo's own side
lies. A photo cropped to its cell beside a flat bar (an app's bar, a layout's margin) that goes on past the photo's
side is still not edited there. Synthetic scenes only (tests/derivative_scenes.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative import verify as V
from ncii_shield.signals.derivative.verify import Outcome, Upload, verify
from tests.derivative_scenes import scene
from tests.unit.signals.test_derivative_weak_kinds import jpeg_rgb

FILL = (180, 120, 140)


def _band(img: np.ndarray, side: str, share: float, fill=FILL) -> np.ndarray:
    h, w = img.shape[:2]
    out = img.copy()
    part = {"right": np.s_[:, int(w * (1 - share)):], "left": np.s_[:, : int(w * share)],
            "bottom": np.s_[int(h * (1 - share)):], "top": np.s_[: int(h * share)]}[side]
    if fill == "recolour":  # the band's own content, hue turned and smoothed: its structure kept
        hsv = cv2.cvtColor(cv2.bilateralFilter(img, 9, 50, 7), cv2.COLOR_RGB2HSV).astype(np.int16)
        hsv[..., 0] = (hsv[..., 0] + 60) % 180
        hsv[..., 1] = np.clip(hsv[..., 1] * 1.3 + 30, 0, 255)
        out[part] = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[part]
    else:
        out[part] = fill
    return out


@pytest.fixture(scope="module")
def registered():
    img = scene(1)
    return img, F.decode(F.encode(F.photo_features(img)))


@pytest.mark.parametrize("share", [0.3, 0.2])
@pytest.mark.parametrize("side", ["right", "bottom", "left", "top"])
def test_a_band_along_a_side_replaced_is_a_derivative(registered, side, share):
    img, reg = registered
    verdict = verify(reg, Upload.from_rgb(jpeg_rgb(_band(img, side, share), 88)))
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason


@pytest.mark.parametrize("side", ["right", "bottom"])
def test_without_the_band_test_it_is_taken_for_the_next_picture(registered, side, monkeypatch):
    """The limit as it was (BEYOND_OWN off): the band left out as if cropped, the upload a re-share."""
    monkeypatch.setattr(V, "BEYOND_OWN", False)
    img, reg = registered
    verdict = verify(reg, Upload.from_rgb(jpeg_rgb(_band(img, side, 0.3), 88)))
    assert verdict.outcome is Outcome.RESHARE, verdict.reason


def test_a_mirrored_copy_with_a_band_replaced_is_a_derivative(registered):
    img, reg = registered
    verdict = verify(reg, Upload.from_rgb(jpeg_rgb(np.ascontiguousarray(_band(img, "right", 0.3)[:, ::-1]), 88)))
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason


def test_a_recoloured_band_along_a_side_is_a_derivative(registered):
    """Its structure is the photo's: not the next picture, whatever its colours."""
    img, reg = registered
    verdict = verify(reg, Upload.from_rgb(jpeg_rgb(_band(img, "right", 0.3, "recolour"), 88)))
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason


@pytest.mark.parametrize("bar", [(255, 255, 255), (0, 0, 0), FILL])
@pytest.mark.parametrize("panels", [False, True])
def test_a_photo_cropped_beside_a_flat_bar_is_a_reshare(registered, bar, panels):
    """The photo cropped to 70 % of its width, a flat bar beside it as wide as 40 % of the photo (an app's bar,
    a layout's margin): the photo's outline reaches into the bar and ends inside it, short of the upload's border."""
    img, reg = registered
    h, w = img.shape[:2]
    upload = np.concatenate([img[:, : int(w * 0.7)], np.full((h, int(w * 0.4), 3), bar, np.uint8)], axis=1)
    verdict = verify(reg, Upload.from_rgb(jpeg_rgb(upload, 88), panels=panels))
    assert verdict.outcome is Outcome.RESHARE, verdict.reason


def test_the_same_band_inside_the_picture_is_a_derivative(registered):
    """The same flat block a little way in from the edge was always flagged."""
    img, reg = registered
    h, w = img.shape[:2]
    edited = img.copy()
    edited[int(h * 0.2):int(h * 0.8), int(w * 0.55):int(w * 0.85)] = FILL
    verdict = verify(reg, Upload.from_rgb(jpeg_rgb(edited, 88)))
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason
