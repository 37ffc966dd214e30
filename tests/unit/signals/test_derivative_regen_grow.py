"""Issue 20's "regen" kind, 2026-12-07 #5: the recoloured-block check (``verify._recoloured``).

- A regenerated region whose colours moved little near its outline (a hue turned on little colour)
  leaves the block found at :data:`verify.RECOLOUR` smaller than the region: the rest of the region is
  its ring and the ring two cells out, and the edge test fails. The block is grown into the connected
  cells off by :data:`verify.RECOLOUR_GROW` and tested again, every bar on the other cells at that share.
- The offsets still partly the region's own shift: every cell outside the block sits off by a little,
  the ring two cells out fails. With :data:`verify.RECOLOUR_REST` the colours are re-centred once on the
  cells away from the block.
- A graduated filter's band (a tint fading out by mid-height) ends as sharply as a recolouring where its
  ramp is short, but its change rises steadily from its edge towards the side it comes from
  (:func:`verify._ramp`, :data:`verify.RECOLOUR_RAMP`): not a recolouring.

Cells are 16 x 16 profiles as :func:`verify._judge` hands them over (brightness, cb, cr offsets),
over registered colours that recur down each column (a recolouring is told from a filter by the same
colours left unchanged elsewhere), and a pixel scene of tests/derivative_scenes.py."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative import verify as V
from ncii_shield.signals.derivative.verify import Outcome, Upload, verify
from tests.derivative_scenes import reshared
from tests.unit.signals.test_derivative_weak_kinds import assert_recoloured_at, jpeg_rgb, repeating


def _cells() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    registered = np.zeros((16, 16, 3))
    registered[..., 0] = np.arange(16)[None, :] * 12.0  # brightness grows to the right: colours recur down a column
    return np.zeros((16, 16, 3)), registered, np.ones((16, 16), bool)


def _with_rim() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A core of 4 x 6 cells moved by 0.71 of the chroma tolerance, inside a rim two cells wide moved by
    0.25 (the region's part where the hue turned on little colour), nothing beyond."""
    colour, registered, visible = _cells()
    colour[3:13, 3:13, 2] = 3.5
    colour[5:11, 5:11, 2] = 10.0
    return colour, registered, visible


def test_a_block_whose_rim_moved_little_is_grown_into_it(monkeypatch):
    colour, registered, visible = _with_rim()
    block = V._recoloured(colour, registered, visible)
    assert block is not None and block[3:13, 3:13].all() and block.sum() == 100
    # the core alone: its ring two cells out moved by 0.25, over the bar (0.1)
    monkeypatch.setattr(V, "RECOLOUR_GROW", 0.0)
    assert V._recoloured(colour, registered, visible) is None


def test_a_grown_block_holds_the_other_cells_to_the_lower_bar(monkeypatch):
    """Cells off by 0.25 elsewhere too (a tenth of the rest, scattered): at the grown block's share they
    are scattered differences, so the grown block is not kept."""
    colour, registered, visible = _with_rim()
    for y, x in ((0, 0), (0, 4), (0, 8), (0, 12), (15, 0), (15, 4), (15, 8), (15, 12), (1, 15), (5, 15), (9, 15),
                 (13, 15), (14, 1)):
        colour[y, x, 2] = -3.5
    assert V._recoloured(colour, registered, visible) is None


def test_offsets_left_at_the_blocks_shift_are_recentred_on_the_cells_away_from_it(monkeypatch):
    """Every cell outside a block moved by 0.7 of the tolerance sits off by 0.18 (the offsets taken
    partly at the block's own shift): its ring two cells out fails the partial edge's bar and the cells
    there are under :data:`verify.RECOLOUR_GROW`; re-centred on the cells away from the block, the edge
    is sharp."""
    colour, registered, visible = _cells()
    colour[..., 2] = 2.5
    colour[4:11, 4:11, 2] = 12.5
    block = V._recoloured(colour, registered, visible)
    assert block is not None and block[4:11, 4:11].all() and block.sum() == 49
    monkeypatch.setattr(V, "RECOLOUR_REST", 0)
    assert V._recoloured(colour, registered, visible) is None


def _band(rising: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The top 6 rows, across the whole width, moved in chroma; nothing below. ``rising``: by 0.35 of the
    tolerance in the row next to the unchanged part, a quarter more in each row up to 1.6 at the top (a
    graduated tint fading out by mid-height); else by 0.7 in every row (a band recoloured alike)."""
    colour, registered, visible = _cells()
    for row in range(6):
        colour[row, :, 2] = 14.0 * ((0.35 + 0.25 * (5 - row)) if rising else 0.7)
    return colour, registered, visible


def test_a_band_rising_towards_the_side_it_comes_from_is_a_graduated_filter(monkeypatch):
    colour, registered, visible = _band(rising=True)
    assert V._recoloured(colour, registered, visible) is None
    monkeypatch.setattr(V, "RECOLOUR_RAMP", ())
    block = V._recoloured(colour, registered, visible)  # its edge is sharp, its colours unchanged elsewhere
    assert block is not None and block[:6].all()


def test_a_band_recoloured_alike_or_a_rising_block_inside_is_no_ramp():
    colour, registered, visible = _band(rising=False)
    block = V._recoloured(colour, registered, visible)
    assert block is not None and block[:6].all() and block.sum() == 96
    # the same rise away from every side: a region whose change grows inwards, not a filter's band
    colour, registered, visible = _cells()
    for depth in range(4):
        colour[3 + depth:13 - depth, 3 + depth:13 - depth, 2] = 14.0 * (0.4 + 0.25 * depth)
    assert not V._ramp((np.abs(colour) / V._COLOUR_TOLERANCE).max(axis=-1), colour[..., 2] > 0, visible)
    assert V._recoloured(colour, registered, visible) is not None


def test_the_layers_of_a_ramp(monkeypatch):
    colour, _, visible = _band(rising=True)
    worst = (np.abs(colour) / V._COLOUR_TOLERANCE).max(axis=-1)
    band = colour[..., 2] > 0
    assert V._ramp(worst, band, visible)
    # a rise of under RECOLOUR_RAMP's third (2): 0.9 -> 1.6 over the 6 rows
    assert not V._ramp(np.where(band, 0.9 + (worst - 0.35) * 0.56, worst), band, visible)
    # a row lower than the one before: no steady rise
    dip = worst.copy()
    dip[2] = 0.5
    assert not V._ramp(dip, band, visible)
    # fewer than 3 layers
    monkeypatch.setattr(V, "RECOLOUR_RAMP", (7, 0.75, 2.0))
    assert not V._ramp(worst, band, visible)


# -- pixels ---------------------------------------------------------------------------------------

RIM_BOX = (200, 112, 400, 300)  # x, y, w, h in the 800 x 600 picture: every side on a cell line (50 x 37.5)


def rimmed(img: np.ndarray) -> np.ndarray:
    """:func:`test_derivative_weak_kinds.recoloured`'s chroma shift, strong in the middle of RIM_BOX and
    weak (cr + 3) in its outer 75 pixels: a hue turned on little colour near the region's outline."""
    x, y, w, h = RIM_BOX
    ycc = cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb).astype(np.int16)
    ycc[y:y + h, x:x + w, 1] += 3
    ycc[y + 75:y + h - 75, x + 100:x + w - 100, 1] += 9
    ycc[y + 75:y + h - 75, x + 100:x + w - 100, 2] -= 9
    return cv2.cvtColor(np.clip(ycc, 0, 255).astype(np.uint8), cv2.COLOR_YCrCb2RGB)


@pytest.fixture(scope="module")
def registered() -> F.PhotoFeatures:
    return F.decode(F.encode(F.photo_features(repeating())))


@pytest.mark.parametrize("transform", ["none", "jpeg", "resize", "mirror"])
def test_a_recoloured_region_with_a_weak_rim_is_flagged(registered, transform):
    verdict = verify(registered, Upload.from_rgb(reshared(transform, rimmed(repeating()))))
    assert_recoloured_at(verdict, RIM_BOX, slack=80)


def test_the_weak_rim_needs_the_grown_block(registered, monkeypatch):
    upload = Upload.from_rgb(jpeg_rgb(rimmed(repeating())))
    monkeypatch.setattr(V, "RECOLOUR_GROW", 0.0)
    assert verify(registered, upload).outcome is Outcome.RESHARE


def test_a_graduated_tint_of_the_photo_is_a_reshare(registered):
    tinted = repeating().astype(np.float32)
    ramp = np.clip(1.0 - np.linspace(0, 2, tinted.shape[0]), 0, 1)[:, None, None]
    tinted = tinted * (1 - 0.35 * ramp) + 0.35 * ramp * np.array([255.0, 140.0, 25.0])
    verdict = verify(registered, Upload.from_rgb(jpeg_rgb(np.clip(tinted, 0, 255).astype(np.uint8), 85)))
    assert verdict.outcome is Outcome.RESHARE, verdict.reason


def plateau_tint(img: np.ndarray, full: float, zero: float, colour: tuple, strength: float, side: str) -> np.ndarray:
    """A graduated filter as photo editors make it: full ``strength`` of ``colour`` from ``side`` down to
    ``full`` of the picture, fading linearly to nothing at ``zero`` (a plateau and a feather)."""
    n = img.shape[0] if side in ("top", "bottom") else img.shape[1]
    p = np.clip((zero - np.linspace(0, 1, n)) / (zero - full), 0, 1)
    p = p if side in ("top", "left") else p[::-1]
    ramp = p[:, None, None] if side in ("top", "bottom") else p[None, :, None]
    x = img.astype(np.float32) / 255.0
    x = x * (1 - strength * ramp) + strength * ramp * np.array(colour, np.float32)
    return np.clip(x * 255.0, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("full, zero, colour, strength, side", [
    (0.4, 0.5, (1.0, 0.55, 0.1), 0.11, "top"),      # orange over the top 40 %, faded out by half height
    (0.3, 0.45, (0.0, 0.0, 0.0), 0.14, "top"),      # darkened sky
    (0.3, 0.5, (1.0, 0.55, 0.1), 0.11, "bottom"),
])
def test_a_graduated_filter_with_a_plateau_is_a_reshare(registered, monkeypatch, full, zero, colour, strength, side):
    """The review of 2026-12-07 #5: grown into its feather (RECOLOUR_GROW) or re-centred on the rest
    (RECOLOUR_REST), a plateau band across the picture passed every test of a recolouring, and its layers
    do not rise as :func:`verify._ramp` asks. Such a block reaching across what is visible is not kept
    (:data:`verify.RECOLOUR_WIDE_ACROSS`); without that rule each of these filtered re-shares is called
    recoloured in place."""
    upload = Upload.from_rgb(jpeg_rgb(plateau_tint(repeating(), full, zero, colour, strength, side), 85))
    verdict = verify(registered, upload)
    assert verdict.outcome is Outcome.RESHARE, verdict.reason
    monkeypatch.setattr(V, "RECOLOUR_WIDE_ACROSS", False)
    monkeypatch.setattr(V, "GRADED", False)  # the graduated model (2026-12-07 #6) calls them re-shares as well
    verdict = verify(registered, upload)
    assert verdict.outcome is Outcome.DERIVATIVE and "recoloured in place" in verdict.reason
