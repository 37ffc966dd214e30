"""Issue 20's "regen" kind (a region regenerated from its own content: layout kept, colour replaced)
whose outline runs through the comparison's cells rather than along the grid's lines: the recoloured
block's edge cells are then only partly recoloured, and so is the ring of cells around it
(``verify._sharp``, :data:`verify.RECOLOUR_PARTIAL`). A band reaching across the whole picture with
the same profile (a graduated filter whose ramp is short) is still not taken for a recolouring."""

from __future__ import annotations

import numpy as np
import pytest

from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative import verify as V
from ncii_shield.signals.derivative.verify import Outcome, Upload, verify
from tests.derivative_scenes import reshared
from tests.unit.signals.test_derivative_weak_kinds import assert_recoloured_at, recoloured, repeating

# x, y, w, h in the 800 x 600 picture: every side inside a cell of the 16 x 16 grid (50 x 37.5 pixels),
# 60 %, 40 %, 80 % and 87 % of the way across it
BOX = (280, 60, 290, 220)
OFF = ()  # RECOLOUR_PARTIAL off: only the sharp-edge test of before


@pytest.fixture(scope="module")
def registered() -> F.PhotoFeatures:
    return F.decode(F.encode(F.photo_features(repeating())))


@pytest.mark.parametrize("transform", ["none", "jpeg", "resize", "mirror", "crop"])
def test_a_recoloured_region_whose_edge_runs_through_cells_is_flagged(registered, transform, monkeypatch):
    upload = Upload.from_rgb(reshared(transform, recoloured(repeating(), BOX)))
    verdict = verify(registered, upload)
    assert_recoloured_at(verdict, BOX)
    monkeypatch.setattr(V, "RECOLOUR_PARTIAL", OFF)
    assert verify(registered, upload).outcome is Outcome.RESHARE


def _profile(across: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells (16 x 16) of a chroma shift of 10 (0.71 of the tolerance) over a block whose edge cells moved
    by 5 (0.36: partly inside) and the ring around it by 3 (0.21), nothing further out; ``across``: the
    block a band over the whole width."""
    registered = np.zeros((16, 16, 3))
    registered[..., 0] = np.arange(16)[None, :] * 12.0  # brightness grows to the right: colours recur down a column
    colour = np.zeros((16, 16, 3))
    x0, x1 = (0, 16) if across else (4, 11)
    colour[3:10, max(0, x0 - 1):x1 + 1, 2] = 3.0
    colour[4:9, x0:x1, 2] = 5.0
    colour[5:8, x0 + (0 if across else 1):x1 - (0 if across else 1), 2] = 10.0
    return colour, registered, np.ones((16, 16), bool)


def test_partly_recoloured_edge_cells_make_a_sharp_edge(monkeypatch):
    colour, registered, visible = _profile(across=False)
    block = V._recoloured(colour, registered, visible)
    assert block is not None
    assert block[4:9, 4:11].all() and block.sum() == 35
    monkeypatch.setattr(V, "RECOLOUR_PARTIAL", OFF)
    assert V._recoloured(colour, registered, visible) is None


def test_a_band_across_the_picture_with_that_edge_is_not_a_recolouring(monkeypatch):
    colour, registered, visible = _profile(across=True)
    assert V._recoloured(colour, registered, visible) is None
    # the same band a little short of one side is a block like any other
    short = visible.copy()
    short[:, 15] = False
    colour[:, 14:] = 0.0
    assert V._recoloured(colour, registered, short) is not None
    # with the ring two cells out moving as much as the ring around it, no edge for the block found at
    # RECOLOUR: a ramp ...
    ramp, registered, visible = _profile(across=False)
    ramp[2:11, 2:13, 2] = np.maximum(ramp[2:11, 2:13, 2], 2.0)
    with monkeypatch.context() as m:
        m.setattr(V, "RECOLOUR_GROW", 0.0)
        assert V._recoloured(ramp, registered, visible) is None
    # ... but grown into the ring around it (moved by 0.21, over RECOLOUR_GROW: 2026-12-07 #5) the block
    # ends within a cell: a compact region recoloured in place whose colour fades over a cell (a
    # filter's band reaching a side with a rising profile is not: test_derivative_regen_grow.py)
    block = V._recoloured(ramp, registered, visible)
    assert block is not None and block[3:10, 3:12].all() and block.sum() == 63
