"""Issue 20's "regen" kind, 2026-12-06 #8: a regenerated region that holds most of the upload's
keypoints sets the colour offsets (:func:`verify._offset`), so every other cell looks recoloured and
the block comes out too large; it is looked for once more about the visible cells' median colour
(:data:`verify.RECOLOUR_RECENTRE`), not when it then reaches across the picture (a graduated tint).
Also the looser bars of the same session: edge cells moved by :data:`verify.RECOLOUR_PARTIAL`'s first
share (0.2), and :data:`verify.RECOLOUR_SCATTER` (0.05) of the other cells off; and, when no cells off by
:data:`verify.RECOLOUR` make a block at all, the block looked for at :data:`verify.RECOLOUR_FINE` of the
tolerances, kept only when it moved as one (:data:`verify.RECOLOUR_FINE_SHIFT`)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative import verify as V
from ncii_shield.signals.derivative.verify import Outcome, Upload, verify
from tests.derivative_scenes import reshared
from tests.unit.signals.test_derivative_weak_kinds import assert_recoloured_at, jpeg_rgb, recoloured, repeating

BOX = (250, 40, 300, 230)  # x, y, w, h in the 800 x 600 picture


def detail_in_box() -> np.ndarray:
    """:func:`repeating` with everything outside BOX blurred: the box holds nearly all the keypoints
    (and so the inliers whose cells set the offsets), the colours outside it stay the photo's."""
    img = repeating()
    soft = cv2.GaussianBlur(img, (0, 0), 12)
    x, y, w, h = BOX
    mask = np.zeros(img.shape[:2], bool)
    mask[y:y + h, x:x + w] = True
    return np.where(mask[..., None], img, soft)


@pytest.fixture(scope="module")
def registered() -> F.PhotoFeatures:
    return F.decode(F.encode(F.photo_features(detail_in_box())))


@pytest.mark.parametrize("transform", ["none", "jpeg", "resize", "mirror", "crop"])
def test_a_recoloured_region_holding_the_keypoints_is_flagged(registered, transform, monkeypatch):
    upload = Upload.from_rgb(reshared(transform, recoloured(detail_in_box(), BOX, cb=-6, cr=6)))
    verdict = verify(registered, upload)
    assert_recoloured_at(verdict, BOX)
    # the offsets taken at the box's own shift: every other cell off, no block
    monkeypatch.setattr(V, "RECOLOUR_RECENTRE", False)
    assert verify(registered, upload).outcome is Outcome.RESHARE


def test_the_same_photo_reshared_or_tinted_is_not_flagged(registered):
    for transform in ("none", "jpeg", "resize", "mirror", "crop"):
        verdict = verify(registered, Upload.from_rgb(reshared(transform, detail_in_box())))
        assert verdict.outcome is Outcome.RESHARE, (transform, verdict.reason)
    tinted = detail_in_box().astype(np.float32)
    ramp = np.clip(1.0 - np.linspace(0, 2, tinted.shape[0]), 0, 1)[:, None, None]
    tinted = tinted * (1 - 0.2 * ramp) + 0.2 * ramp * np.array([255.0, 140.0, 25.0])  # orange, gone by mid-height
    verdict = verify(registered, Upload.from_rgb(jpeg_rgb(np.clip(tinted, 0, 255).astype(np.uint8))))
    assert verdict.outcome is Outcome.RESHARE, verdict.reason


def _shifted(rows: slice, cols: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells (16 x 16) whose offsets were taken at a block's chroma shift (0.5 of the tolerance): the
    block reads unchanged, every other visible cell shifted back by as much."""
    registered = np.zeros((16, 16, 3))
    registered[..., 0] = np.arange(16)[None, :] * 12.0  # brightness grows to the right: colours recur down a column
    colour = np.zeros((16, 16, 3))
    colour[..., 2] = -7.0
    colour[rows, cols, 2] = 0.0
    return colour, registered, np.ones((16, 16), bool)


def test_a_block_is_looked_for_about_the_median_when_the_offsets_were_its_own(monkeypatch):
    colour, registered, visible = _shifted(slice(4, 10), slice(4, 10))
    block = V._recoloured(colour, registered, visible)
    assert block is not None and block[4:10, 4:10].all() and block.sum() == 36
    monkeypatch.setattr(V, "RECOLOUR_RECENTRE", False)
    assert V._recoloured(colour, registered, visible) is None


def test_a_recentred_band_across_the_picture_is_told_by_its_profile(monkeypatch):
    """A band across the top quarter, recoloured alike (re-centred): since 2026-12-07 #5 a block like any
    other (:data:`verify.RECOLOUR_RECENTRED_ACROSS` off: the same band, found without re-centring, was
    flagged by the sharp-edge test all along); a band whose change rises towards the top is a graduated
    filter (:func:`verify._ramp`)."""
    colour, registered, visible = _shifted(slice(0, 4), slice(0, 16))  # the top quarter
    block = V._recoloured(colour, registered, visible)
    assert block is not None and block[:4].all() and block.sum() == 64
    with monkeypatch.context() as m:
        m.setattr(V, "RECOLOUR_RECENTRED_ACROSS", True)
        assert V._recoloured(colour, registered, visible) is None
        m.setattr(V, "_across", lambda block, visible: False)
        assert V._recoloured(colour, registered, visible) is not None
    rising = colour.copy()
    rising[:4, :, 2] = -7.0 + 14.0 * np.array([1.1, 0.85, 0.6, 0.35])[:, None]  # re-centred: 0.35 ... 1.1 of the tolerance
    assert V._recoloured(rising, registered, visible) is None
    monkeypatch.setattr(V, "RECOLOUR_RAMP", ())
    assert V._recoloured(rising, registered, visible) is not None


def test_edge_cells_a_fifth_of_the_way_recoloured_make_a_partial_edge(monkeypatch):
    """The block's outline running through its edge cells: one in three of them moved by 0.36 of the
    tolerance (they make the block), the others by 0.25 (closed into it); the ring around by 0.21,
    nothing further out. Its edge cells' median is 0.25: a partial edge at 0.2, none at 0.3."""
    registered = np.zeros((16, 16, 3))
    registered[..., 0] = np.arange(16)[None, :] * 12.0
    colour = np.zeros((16, 16, 3))
    colour[2:13, 2:14, 2] = 3.0  # the ring around
    colour[3:12, 3:13, 2] = 3.5  # the edge cells ...
    edge = [(y, x) for y in range(3, 12) for x in range(3, 13) if y in (3, 11) or x in (3, 12)]
    for y, x in edge[::3]:
        colour[y, x, 2] = 5.0  # ... one in three further
    colour[4:11, 4:12, 2] = 10.0  # inside: 0.71
    visible = np.ones((16, 16), bool)
    block = V._recoloured(colour, registered, visible)
    assert block is not None and block[4:11, 4:12].all()
    monkeypatch.setattr(V, "RECOLOUR_PARTIAL", (0.3, 0.1))
    assert V._recoloured(colour, registered, visible) is None


def test_four_percent_of_the_other_cells_off_is_quiet_enough(monkeypatch):
    registered = np.zeros((16, 16, 3))
    registered[..., 0] = np.arange(16)[None, :] * 12.0
    colour = np.zeros((16, 16, 3))
    colour[4:10, 4:10, 2] = 10.0
    # scattered single cells off by 0.5 the other way, away from the block: 8 of the 192 cells beyond its ring (4 %)
    for y, x in ((0, 0), (0, 15), (15, 0), (15, 15), (0, 8), (15, 8), (12, 13), (13, 1)):
        colour[y, x, 2] = -7.0
    visible = np.ones((16, 16), bool)
    assert V._recoloured(colour, registered, visible) is not None
    monkeypatch.setattr(V, "RECOLOUR_SCATTER", 0.03)
    assert V._recoloured(colour, registered, visible) is None


@pytest.fixture(scope="module")
def registered_repeating() -> F.PhotoFeatures:
    return F.decode(F.encode(F.photo_features(repeating())))


WEAK = (250, 40, 300, 230)


@pytest.mark.parametrize("transform", ["none", "jpeg", "resize", "mirror", "crop"])
def test_a_region_recoloured_by_less_than_a_third_of_the_tolerance_is_flagged(registered_repeating, transform,
                                                                               monkeypatch):
    """A chroma shift of 4 (0.29 of the tolerance: a hue turned on little colour) is no block at
    :data:`verify.RECOLOUR`; at :data:`verify.RECOLOUR_FINE` it is."""
    upload = Upload.from_rgb(reshared(transform, recoloured(repeating(), WEAK, cb=0, cr=4)))
    verdict = verify(registered_repeating, upload)
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason
    assert "recoloured" in verdict.reason
    monkeypatch.setattr(V, "RECOLOUR_FINE", 0.0)
    assert verify(registered_repeating, upload).outcome is Outcome.RESHARE


def test_the_whole_photo_shifted_as_little_is_a_reshare(registered_repeating):
    img = repeating()
    for shifted in (recoloured(img, (0, 0, img.shape[1], img.shape[0]), cb=0, cr=4),
                    recoloured(img, (0, 0, img.shape[1], img.shape[0] // 2), cb=0, cr=4)):  # the top half
        verdict = verify(registered_repeating, Upload.from_rgb(jpeg_rgb(shifted)))
        assert verdict.outcome is Outcome.RESHARE, verdict.reason


def test_a_block_under_a_third_of_the_tolerance_is_found_at_the_finer_share(monkeypatch):
    registered = np.zeros((16, 16, 3))
    registered[..., 0] = np.arange(16)[None, :] * 12.0
    colour = np.zeros((16, 16, 3))
    colour[4:10, 4:10, 2] = 3.5  # 0.25 of the chroma tolerance
    visible = np.ones((16, 16), bool)
    block = V._recoloured(colour, registered, visible)
    assert block is not None and block.sum() == 36
    monkeypatch.setattr(V, "RECOLOUR_FINE", 0.0)
    assert V._recoloured(colour, registered, visible) is None
    # under the finer share too: nothing
    monkeypatch.setattr(V, "RECOLOUR_FINE", 0.2)
    colour[4:10, 4:10, 2] = 2.5  # 0.18
    assert V._recoloured(colour, registered, visible) is None


def test_a_block_at_the_finer_share_must_have_moved_as_one(monkeypatch):
    """Cells crossing the finer bar each their own way (chance differences: half up, half down) make a
    block there, but not one that moved: not a recolouring (test_derivative_siblings' unedited picture
    beside a second shot of its scene is such a case)."""
    registered = np.zeros((16, 16, 3))
    registered[..., 0] = np.arange(16)[None, :] * 12.0
    colour = np.zeros((16, 16, 3))
    colour[4:10, 4:10, 2] = 3.5
    colour[4:10, 4:10, 2][::2, ::2] = -3.5
    colour[4:10, 4:10, 2][1::2, 1::2] = -3.5
    visible = np.ones((16, 16), bool)
    assert V._recoloured(colour, registered, visible) is None
    monkeypatch.setattr(V, "RECOLOUR_FINE_SHIFT", 0.0)
    assert V._recoloured(colour, registered, visible) is not None
