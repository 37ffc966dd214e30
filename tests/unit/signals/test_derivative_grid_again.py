"""A grid's line that continues a cut made later, in a column cut after it (the cut goes depth first),
and a grid's line with an edit's edge a few pixels beside it, are cut as grid lines (issue 20: 3 x 3
grids whose fake cell was left joined to the cell above it, or cut along its flat patch's edge)."""

from __future__ import annotations

import numpy as np
import pytest

from ncii_shield.signals.derivative import panels as P
from tests.unit.signals.test_derivative_grid_seams import two_pictures


def stacked(width: int, alike: bool) -> np.ndarray:
    """Two pictures one above the other, meeting between rows 99 and 100 (gradients across and
    down); ``alike``: with no step along the middle quarter of the line, ramped in and out
    so that no column line is a seam (a seam along 6 of SEAM_PARTS parts: cut only where it continues
    a cut); else a step all along."""
    rng = np.random.default_rng(width)
    across = np.linspace(40, 120, width)[None, :] + rng.integers(0, 3, (1, width))
    img = np.repeat(across, 200, axis=0) + np.linspace(0, 30, 200)[:, None]  # and down: no line of one colour
    step = np.full(width, 70.0)
    if alike:
        x = np.arange(width) / width
        step *= np.clip(np.abs(x - 0.5) * 16 - 2, 0, 1)  # 0 along the middle quarter, ramped over 1/16 each side
    img[100:] += step[None, :]
    return np.clip(img, 0, 255).astype(np.uint8)


def grid() -> np.ndarray:
    """Two columns and a white gutter: the left column's join a seam along 6 parts of 8, the right
    column's join a clear seam."""
    return np.concatenate([stacked(200, True), np.full((200, 6), 255, np.uint8), stacked(200, False)], axis=1)


def test_a_column_cut_before_its_neighbour_is_looked_at_again(monkeypatch: pytest.MonkeyPatch) -> None:
    grey = grid()
    tex = np.ones((grey.shape[0] // 8, grey.shape[1] // 8), bool)  # every block structured: no cut refused for flatness
    boxes = P.panel_boxes(grey, tex=tex)
    want = [(0, 0, 200, 100), (0, 100, 200, 100), (206, 0, 200, 100), (206, 100, 200, 100)]
    assert len(boxes) == 4 and all(min(max(abs(a - b) for a, b in zip(box, w)) for box in boxes) <= 1 for w in want), boxes
    monkeypatch.setattr(P, "AGAIN", False)
    before = P.panel_boxes(grey, tex=tex)
    assert (0, 0, 200, 200) in before, before  # depth first: the left column was judged with no cut beside it


def test_a_single_picture_is_not_cut_again() -> None:
    one = stacked(300, True)  # a line along 6 parts of 8, and no cut for it to continue
    assert P.panel_boxes(one, tex=np.ones((25, 37), bool)) == [(0, 0, 300, 200)]


def test_a_grid_line_beside_an_edits_edge_is_still_a_grid_line(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = two_pictures(alike_parts=0).astype(int)
    lines[96:] += 40  # an edit's edge all along, 4 lines before the grid line
    lines = np.clip(lines, 0, 255).astype(np.uint8)
    found = P._seams(lines, 20, aligned=[100])
    assert any(abs(s[0] - 100) <= 1 and s[2] > P.ALIGNED_RANK for s in found), found
    monkeypatch.setattr(P, "ALIGNED_RING", False)
    assert not any(abs(s[0] - 100) <= 1 and s[2] > P.ALIGNED_RANK for s in P._seams(lines, 20, aligned=[100]))
