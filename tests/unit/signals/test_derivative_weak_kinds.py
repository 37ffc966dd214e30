"""Issue 20, item 2: edit kinds the first design missed. A region recoloured in place (regenerated
from its own content: layout and detail kept, colour changed), and most of a photo replaced by
another photo that ends where the photo ends (inside a screenshot the replaced part looks like a
picture of its own)."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from ncii_shield.index.derivative import DerivativeIndex
from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative import verify as V
from ncii_shield.signals.derivative.instances import find_instances
from ncii_shield.signals.derivative.verify import Outcome, Upload, verify
from tests.derivative_scenes import jpeg, reshared, scene, screenshot

BOX = (250, 40, 300, 230)  # x, y, w, h: 14 % of the 800 x 600 picture, in its upper half


def repeating() -> np.ndarray:
    """A scene whose colours recur: its upper half, then that half mirrored below it (a recolouring
    is told from a filter by the same colours left unchanged elsewhere)."""
    top = scene(1)[:300]
    return np.ascontiguousarray(np.concatenate([top, top[:, ::-1]], axis=0))


@pytest.fixture(scope="module")
def registered() -> F.PhotoFeatures:
    return F.decode(F.encode(F.photo_features(repeating())))


@pytest.fixture(scope="module")
def index() -> DerivativeIndex:
    idx = DerivativeIndex()
    idx.add_features_many([(F.photo_features(scene(seed)), seed) for seed in (1, 2, 3)])
    return idx


def jpeg_rgb(img: np.ndarray, quality: int = 88) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg(img, quality))).convert("RGB"))


def recoloured(img: np.ndarray, box: tuple[int, int, int, int], cb: int = -8, cr: int = 9) -> np.ndarray:
    """The box's chroma shifted (a mild hue change), its brightness and detail untouched."""
    x, y, w, h = box
    ycc = cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb).astype(np.int16)
    ycc[y:y + h, x:x + w, 1] += cr
    ycc[y:y + h, x:x + w, 2] += cb
    return cv2.cvtColor(np.clip(ycc, 0, 255).astype(np.uint8), cv2.COLOR_YCrCb2RGB)


def assert_recoloured_at(verdict, box: tuple[int, int, int, int], slack: int = 60) -> None:  # noqa: ANN001
    """A derivative verdict for a recolouring whose edited region is ``box`` within ``slack`` pixels on each edge."""
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason
    assert "recoloured" in verdict.reason
    x, y, w, h = verdict.edited_region
    assert abs(x - box[0]) <= slack and abs(y - box[1]) <= slack
    assert abs(x + w - box[0] - box[2]) <= slack and abs(y + h - box[1] - box[3]) <= slack


@pytest.mark.parametrize("transform", ["none", "jpeg", "resize", "mirror", "crop"])
def test_a_region_recoloured_in_place_is_flagged(registered, transform, monkeypatch):
    upload = Upload.from_rgb(reshared(transform, recoloured(repeating(), BOX)))
    verdict = verify(registered, upload)
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason
    assert "recoloured" in verdict.reason
    x, y, w, h = verdict.edited_region
    assert x <= BOX[0] + 60 and y <= BOX[1] + 60 and x + w >= BOX[0] + BOX[2] - 60 and y + h >= BOX[1] + BOX[3] - 60
    assert w * h < 2.5 * BOX[2] * BOX[3]
    # the structure comparison alone calls it a re-share: the change is under its tolerances
    monkeypatch.setattr(V, "_recoloured", lambda *a, **k: None)
    assert verify(registered, upload).outcome is Outcome.RESHARE


def _filters() -> dict:
    def f32(a: np.ndarray) -> np.ndarray:
        return a.astype(np.float32) / 255

    def u8(a: np.ndarray) -> np.ndarray:
        return np.clip(a * 255, 0, 255).astype(np.uint8)

    def graduated(img: np.ndarray) -> np.ndarray:  # warmer at the top, fading out downwards
        t = np.linspace(1, 0, img.shape[0])[:, None, None]
        return u8(f32(img) * (1 + 0.15 * t * np.array([1, 0, -1])))

    return {"gamma": lambda i: u8(f32(i) ** 1.3), "gains": lambda i: u8(f32(i) * [1.1, 1.0, 0.85]),
            "graduated tint": graduated,
            "whole photo shifted": lambda i: recoloured(i, (0, 0, i.shape[1], i.shape[0]))}


@pytest.mark.parametrize("name", list(_filters()))
def test_a_filter_over_the_whole_photo_is_not_a_recolouring(registered, name):
    verdict = verify(registered, Upload.from_rgb(jpeg_rgb(_filters()[name](repeating()))))
    assert verdict.outcome is Outcome.RESHARE, verdict.reason


def test_a_recolouring_needs_the_same_colours_left_unchanged_elsewhere():
    """A block whose colours occur nowhere else could as well be a filter that touches only those
    colours: not flagged as recoloured. With its colours also elsewhere, unchanged, it is."""
    colour = np.zeros((16, 16, 3))
    registered = np.zeros((16, 16, 3))
    registered[..., 0] = np.arange(16)[None, :] * 12.0  # brightness grows to the right
    visible = np.ones((16, 16), bool)
    colour[4:10, 4:10, 2] = 10.0  # a chroma shift in a 6 x 6 block
    twinned = registered.copy()
    assert V._recoloured(colour, twinned, visible) is not None
    unique = registered.copy()
    unique[4:10, 4:10, 1] = 200.0  # the block's colour is found nowhere else
    assert V._recoloured(colour, unique, visible) is None


def replaced(photo: np.ndarray, other: np.ndarray, share: float = 0.6) -> np.ndarray:
    """The lower ``share`` of the photo's rows replaced by the top of ``other`` (full width)."""
    out = photo.copy()
    rows = round(photo.shape[0] * share)
    out[-rows:] = other[:rows]
    return out


def test_a_photo_mostly_replaced_by_another_photo_is_flagged_inside_a_screenshot(index):
    """60 % of the photo replaced by another harmless photo, then screenshotted: the replaced part
    ends where the photo ends, so it looks like a picture of its own in the screenshot; it is still
    part of the photo (the photo's outline runs along the screenshot's edge of the picture)."""
    fake = replaced(scene(1), scene(7))  # scene 7: not registered
    rgb = jpeg_rgb(screenshot(fake))
    found = find_instances(rgb, Upload.from_rgb(rgb), lambda u: [(None, h) for h in index.check(u)])
    flags = [i for i in found if i.verdict.outcome is Outcome.DERIVATIVE]
    assert [i.id for i in flags] == [1], [(i.id, i.verdict.outcome, i.verdict.reason) for i in found]
    assert flags[0].verdict.edited_share > 0.45


def test_the_photo_that_filled_the_replaced_part_is_not_flagged_against_the_other(index):
    """The harmless photo pasted in (registered too, scene 2), uploaded alone, is its own re-share
    and no derivative of the photo it was pasted into; the fake itself is not flagged against an
    unrelated registered photo (scene 3)."""
    rgb = jpeg_rgb(screenshot(scene(2)))
    found = find_instances(rgb, Upload.from_rgb(rgb), lambda u: [(None, h) for h in index.check(u)])
    assert {(i.id, i.verdict.outcome) for i in found} == {(2, Outcome.RESHARE)}
    rgb = jpeg_rgb(screenshot(replaced(scene(1), scene(2))))
    found = find_instances(rgb, Upload.from_rgb(rgb), lambda u: [(None, h) for h in index.check(u)])
    assert 1 in {i.id for i in found if i.verdict.outcome is Outcome.DERIVATIVE}
    assert 3 not in {i.id for i in found}


def test_a_photo_cropped_beside_another_in_a_screenshot_does_not_take_in_the_other(index, monkeypatch):
    """The photo cropped to fill the upper half of a screenshotted two-picture post, an unrelated
    photo below: the photo's outline reaches into the lower picture, but no edge of the upload runs
    along it there, so that picture is not kept as part of the photo (a replaced part); in the
    large edit above, the same test keeps it."""
    decisions: list[bool] = []
    real = V._ends_at_edge

    def record(grey, quad, panel):  # noqa: ANN001, ANN202
        decisions.append(real(grey, quad, panel))
        return decisions[-1]

    monkeypatch.setattr(V, "_ends_at_edge", record)
    top = cv2.resize(scene(1)[150:450], (800, 300), interpolation=cv2.INTER_AREA)
    rgb = jpeg_rgb(screenshot(np.concatenate([top, scene(7)[:300]], axis=0)))
    find_instances(rgb, Upload.from_rgb(rgb), lambda u: [(None, h) for h in index.check(u)])
    assert decisions and not any(decisions)
    decisions.clear()
    rgb = jpeg_rgb(screenshot(replaced(scene(1), scene(7))))
    find_instances(rgb, Upload.from_rgb(rgb), lambda u: [(None, h) for h in index.check(u)])
    assert any(decisions)
