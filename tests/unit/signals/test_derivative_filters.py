"""Issue 20: a registered photo re-shared through a whole-photo filter (an app's sepia, black and
white, contrast, channel gains, CLAHE or vignette) is a re-share, not an edited copy; the same filter
over a photo with a local edit (a flat patch, a recoloured region) is still flagged."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative.verify import Outcome, Upload, verify
from tests.derivative_scenes import jpeg, scene

BOX = (220, 150, 360, 280)  # x, y, w, h: 21 % of the 800 x 600 scene


def _f32(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32) / 255.0


def _u8(img: np.ndarray) -> np.ndarray:
    return np.clip(img * 255.0, 0, 255).astype(np.uint8)


def sepia(img: np.ndarray) -> np.ndarray:
    m = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])
    return _u8(_f32(img) @ m.T)


def grey(img: np.ndarray) -> np.ndarray:
    return np.repeat(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)


def clahe(img: np.ndarray) -> np.ndarray:
    lab = cv2.cvtColor(img, cv2.COLOR_RGB2LAB)
    lab[..., 0] = cv2.createCLAHE(2.0, (8, 8)).apply(np.ascontiguousarray(lab[..., 0]))
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def vignette(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot((xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2)) / np.sqrt(2)
    return _u8(_f32(img) * (1 - 0.6 * r[..., None] ** 2))


def contrast(img: np.ndarray) -> np.ndarray:
    return _u8((_f32(img) - 0.5) * 1.4 + 0.5)


def warm(img: np.ndarray) -> np.ndarray:
    """Channel gains: red up, blue down (a "warm" preset)."""
    return _u8(_f32(img) * np.array([1.12, 1.0, 0.82]))


FILTERS = {"sepia": sepia, "grey": grey, "clahe": clahe, "vignette": vignette, "contrast": contrast,
           "warm": warm}


def shared(img: np.ndarray) -> np.ndarray:
    """As an app would post it: re-encoded as JPEG."""
    return np.asarray(Image.open(io.BytesIO(jpeg(img, 85))).convert("RGB"))


def flat_patch(img: np.ndarray) -> np.ndarray:
    x, y, w, h = BOX
    out = img.copy()
    out[y:y + h, x:x + w] = (180, 120, 90)
    return out


def recoloured(img: np.ndarray) -> np.ndarray:
    """The box's hue turned by about 90 degrees, its brightness and detail kept."""
    x, y, w, h = BOX
    out = img.copy()
    hsv = cv2.cvtColor(out[y:y + h, x:x + w], cv2.COLOR_RGB2HSV).astype(np.int16)
    hsv[..., 0] = (hsv[..., 0] + 45) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] + 40, 0, 255)
    out[y:y + h, x:x + w] = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
    return out


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return scene(1)


@pytest.fixture(scope="module")
def registered(photo) -> F.PhotoFeatures:
    return F.decode(F.encode(F.photo_features(photo)))


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_a_whole_photo_filter_is_a_reshare(registered, photo, name):
    verdict = verify(registered, Upload.from_rgb(shared(FILTERS[name](photo))))
    assert verdict.outcome is Outcome.RESHARE, verdict.reason


# a strong vignette darkens the corners enough to flip the fine-structure bits of their weakly
# textured cells: with the patch in the middle, the rest is mostly corners and fails the
# fine-structure test (1.24 of 16 bits per cell against 1.2): "neither", not a flag (known limit)
VIGNETTE_LIMIT = pytest.mark.xfail(reason="vignette: the rest fails the fine-structure test", strict=True)


@pytest.mark.parametrize("name", [pytest.param(n, marks=VIGNETTE_LIMIT) if n == "vignette" else n
                                  for n in sorted(FILTERS)])
def test_a_flat_patch_under_a_filter_is_flagged(registered, photo, name):
    verdict = verify(registered, Upload.from_rgb(shared(FILTERS[name](flat_patch(photo)))))
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason
    x, y, w, h = verdict.edited_region
    bx, by, bw, bh = BOX
    assert x < bx + bw and bx < x + w and y < by + bh and by < y + h  # where the patch is


def test_a_region_recoloured_in_place_is_still_flagged(registered, photo):
    verdict = verify(registered, Upload.from_rgb(shared(recoloured(photo))))
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason
