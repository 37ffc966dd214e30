"""The candidate stage's exact speed-ups of 2026-12-07 #7 (HA): each gives what the code before it gave, bit for bit
(signals/marks/locate.py, index/marks.py)."""

from __future__ import annotations

import numpy as np

from ncii_shield.signals.marks import locate as L
from ncii_shield.signals.marks.search import UploadFrame
from tests.marks_scenes import paste, photo, reencoded, text_mark


def _scenes() -> list[np.ndarray]:
    out = []
    for seed, (x, y), scale, opacity in ((3, (420, 90), 0.35, 0.6), (5, (60, 470), 0.5, 0.9), (11, (200, 260), 0.6, 0.4)):
        marked, _ = paste(photo(seed), text_mark("NUDIFY", ring=seed == 5), x, y, scale=scale, opacity=opacity)
        out.append(UploadFrame.from_rgb(reencoded(marked, 70)).rgb)
    return out


def test_colour_labels_compiled_are_numpys():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (97, 131, 3), dtype=np.uint8)] + _scenes()
    # every HSV corner the rule tells apart: the value's 63 / 64 and 149 / 150, saturation's 59 / 60, every hue
    grid = np.stack(np.meshgrid(np.arange(0, 256, 1), np.arange(0, 256, 3), indexing="ij"), -1).reshape(-1, 2)
    images.append(np.concatenate([grid, grid[:, :1]], 1).astype(np.uint8).reshape(256, -1, 3))
    for rgb in images:
        fast, slow = L.colour_labels(rgb), L._colour_labels_numpy(rgb)
        assert fast.dtype == slow.dtype == np.uint8 and fast.shape == slow.shape
        assert np.array_equal(fast, slow)


def test_edge_strengths_made_once_give_the_same_boxes():
    for rgb in _scenes() + [np.full((300, 400, 3), 90, np.uint8)]:
        strengths = L.edge_strengths(rgb)
        assert set(strengths) == set(L.SCALES) | set(L.COLOUR_SCALES)
        blobs = L.proposals(rgb)
        assert np.array_equal(L.proposals(rgb, strengths), blobs)
        assert np.array_equal(L.layer_boxes(rgb, blobs, strengths), L.layer_boxes(rgb, blobs))
