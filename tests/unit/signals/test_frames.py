"""Query-side readings of an upload's frames: border box, zoom-out, mirrored hashes (pure, no ffmpeg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pdqhash

from ncii_shield.index.bits import hexes_to_words
from ncii_shield.signals.frames import (
    CROP_LUMA,
    cell_variant,
    coarse_cells,
    crop_cell,
    crop_readings,
    crop_variant,
    framed_box,
    hash_query_frames,
    luma_copy,
    moving_box,
    zoom_out,
)
from ncii_shield.signals.pdq import bits_to_hex


def moving_frames(n: int, h: int = 90, w: int = 160, seed: int = 0) -> list[np.ndarray]:
    """Smooth random pictures (random 9 x 16 colours, enlarged), a new one per frame."""
    import cv2

    rng = np.random.default_rng(seed)
    return [cv2.resize(rng.integers(0, 256, (9, 16, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
            for _ in range(n)]


BRIDGE = Path(__file__).parents[2] / "data" / "pdq-reference" / "bridge-mods" / "aaa-orig.jpg"  # BSD, see its LICENSE-NOTE.md


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def letterboxed(frames: list[np.ndarray], bar: int) -> list[np.ndarray]:
    out = []
    for f in frames:
        boxed = np.zeros((f.shape[0] + 2 * bar, f.shape[1], 3), dtype=np.uint8)
        boxed[bar:bar + f.shape[0]] = f
        out.append(boxed)
    return out


def test_moving_box_finds_bars_and_ignores_full_frames():
    frames = moving_frames(8)
    assert moving_box(frames) is None  # the whole frame moves: nothing to crop
    assert moving_box(letterboxed(frames, 30)) == (30, 120, 0, 160)
    assert moving_box(frames[:3]) is None  # too few frames to tell
    still = [frames[0]] * 8
    assert moving_box(still) is None  # nothing moves


def test_zoom_out_keeps_the_size_and_repeats_the_edges():
    frame = moving_frames(1)[0]
    out = zoom_out(frame, 0.9)
    assert out.shape == frame.shape
    assert (out[0, 8:-8] == out[4, 8:-8]).all()  # top rows repeat the shrunk frame's first row


def test_readings_are_named_and_the_mirrored_one_is_the_flipped_frame():
    import cv2

    bridge = cv2.imread(str(BRIDGE))[:, :, ::-1]
    frames = [cv2.resize(bridge[i * 40:i * 40 + 800, i * 60:i * 60 + 1280], (320, 200)) for i in range(5)]
    readings = hash_query_frames([(i / 2, f) for i, f in enumerate(frames)])
    assert {r.variant for r in readings} == {"original", "mirrored"}  # crops are read later, from luma copies
    assert readings.crops is not None and readings.crops.luma.shape == (5, CROP_LUMA, CROP_LUMA)
    assert readings.crops.times.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0] and not readings.crops.part.any()
    first = {r.variant: r.pdq for r in readings if r.timestamp == 0}
    assert first["original"] == bits_to_hex(pdqhash.compute(np.ascontiguousarray(frames[0]))[0])
    flipped = bits_to_hex(pdqhash.compute(np.ascontiguousarray(frames[0][:, ::-1]))[0])
    assert distance(first["mirrored"], flipped) <= 16 < distance(first["original"], flipped)
    boxed = hash_query_frames([(i / 2, f) for i, f in enumerate(letterboxed(frames, 30))], zoom=(), corners=False)
    assert {r.variant for r in boxed} == {"original", "mirrored", "border-cropped", "border-cropped mirrored"}
    assert boxed.crops is None
    with_crops = hash_query_frames([(i / 2, f) for i, f in enumerate(letterboxed(frames, 30))])
    assert with_crops.crops.part.tolist() == [0, 1] * 5  # the frame and its border-cropped part
    assert (with_crops.crops.luma[1] == luma_copy(frames[0])).all()
    cropped = next(r for r in boxed if r.variant == "border-cropped" and r.timestamp == 0)
    assert cropped.pdq == first["original"]  # the bars removed, the reading is the frame itself
    assert {r.variant for r in hash_query_frames([(0.0, frames[0])], mirrored=False, zoom=(), corners=False)} == {"original"}


def test_framed_box_finds_a_video_over_moving_footage():
    background, inner = moving_frames(8, seed=2), moving_frames(8, 40, 70, seed=3)
    framed = []
    for b, i in zip(background, inner):  # a darker video over brighter footage: its sides are edges
        f = (b // 2 + 128).astype(np.uint8)
        f[20:60, 40:110] = i // 3
        framed.append(f)
    assert moving_box(framed) is None  # everything moves
    assert framed_box(framed) == (20, 60, 40, 110)
    assert framed_box(background) is None


def test_crop_readings_are_named_by_place_and_scale_and_read_back():
    assert crop_variant("centre", 0.9) == "zoomed-out" and crop_variant("top-left", 0.87) == "corner-top-left-87"
    assert crop_variant("bottom-right", 0.95, "border-cropped") == "border-cropped corner-bottom-right-95"
    assert crop_cell("corner-top-left-87 mirrored") == ("corner-top-left mirrored", 87)
    assert crop_cell("border-cropped zoomed-out") == ("border-cropped zoomed-out", 90)
    assert crop_cell("border-cropped") is None and crop_cell("mirrored") is None and crop_cell("original") is None


def soft(words: np.ndarray, mask: np.ndarray, whole: np.ndarray) -> int:
    return int(np.bitwise_count((words ^ whole) & mask).sum())


def test_reading_a_luma_copy_uncropped_gives_the_reference_hash_and_mirrors_are_flips():
    import cv2

    bridge = cv2.imread(str(BRIDGE))[:, :, ::-1]
    for i in range(3):
        frame = np.ascontiguousarray(cv2.resize(bridge[i * 60:i * 60 + 700, i * 90:], (320, 180), interpolation=cv2.INTER_AREA))
        whole = hexes_to_words([bits_to_hex(pdqhash.compute(frame)[0])])[0]
        words, masks = crop_readings(luma_copy(frame)[None], np.zeros((1, 4)))
        # the same arithmetic from 96 pixels: close, and the same on the bits far from the median
        assert int(np.bitwise_count(words[0, 0] ^ whole).sum()) <= 24
        assert soft(words[0, 0], masks[0, 0], whole) <= 2 and int(np.bitwise_count(masks[0, 0]).sum()) >= 128
        flipped, _ = crop_readings(luma_copy(frame[:, ::-1])[None], np.zeros((1, 4)), mirrored=True)
        assert (flipped == words).all()


def test_a_crop_anywhere_is_read_at_its_own_cut_and_place_on_its_reliable_bits():
    """A crop cut 12 % from the width and height, 3 % from the left and 9 % from the top (between the
    corners and the centre), enlarged back: read at its own cut and place, its reliable bits are
    those of the uncropped frame's hash, almost all; read at a corner, or uncropped, they are not."""
    import cv2

    bridge = cv2.imread(str(BRIDGE))[:, :, ::-1]
    frame = np.ascontiguousarray(cv2.resize(bridge, (640, 400), interpolation=cv2.INTER_AREA))
    h, w = frame.shape[:2]
    crop = cv2.resize(frame[round(0.09 * h):round(0.97 * h), round(0.03 * w):round(0.91 * w)], (320, 200),
                      interpolation=cv2.INTER_AREA)
    whole = hexes_to_words([bits_to_hex(pdqhash.compute(frame)[0])])[0]
    cells = np.array([[0.12, 0.09, 0.12, 0.03], [0.12, 0.12, 0.12, 0.0], [0.12, 0.06, 0.12, 0.06], [0, 0, 0, 0]])
    words, masks = crop_readings(luma_copy(crop)[None], cells)
    own, corner, near, uncropped = (soft(words[0, i], masks[0, i], whole) for i in range(4))
    assert own <= 12 < min(corner, uncropped)
    assert own < near
    assert cell_variant(cells[0]) == "cropped-88-at-3-9"
    assert cell_variant((0.1, 0.02, 0.12, 0.05), "border-cropped", mirrored=True) == \
        "border-cropped cropped-88x90-at-5-2 mirrored"


def test_the_lookup_grid_reaches_every_place_of_a_cut():
    grid = coarse_cells()
    assert len(grid) == 38 and (grid[:, 0] == grid[:, 2]).all()
    for cut in np.unique(grid[:, 0]):
        places = np.unique(grid[grid[:, 0] == cut, 1])
        assert places[0] == 0 and places[-1] == cut and np.diff(places).max() <= 0.06 + 1e-9


def test_a_corner_crop_is_read_closest_at_its_own_place_and_scale():
    """A 12 % crop cut from the bottom-right corner and enlarged: of the lookup grid's readings, the
    one into the bottom-right corner at a cut next to 12 % lands nearest the uncropped frame's hash."""
    import cv2

    bridge = cv2.imread(str(BRIDGE))[:, :, ::-1]
    frame = np.ascontiguousarray(cv2.resize(bridge, (320, 200), interpolation=cv2.INTER_AREA))
    h, w = frame.shape[:2]
    crop = cv2.resize(frame[round(0.12 * h):, round(0.12 * w):], (w, h), interpolation=cv2.INTER_AREA)
    whole = hexes_to_words([bits_to_hex(pdqhash.compute(frame)[0])])[0]
    grid = coarse_cells()
    words, masks = crop_readings(luma_copy(crop)[None], grid)
    scores = [soft(words[0, i], masks[0, i], whole) for i in range(len(grid))]
    best = grid[int(np.argmin(scores))]
    assert best[0] in (0.10, 0.13) and best[1] == best[3] == best[0]  # the bottom-right corner, a cut either side
    original = hexes_to_words([bits_to_hex(pdqhash.compute(crop)[0])])[0]
    assert int(np.bitwise_count(words[0, int(np.argmin(scores))] ^ whole).sum()) < \
        int(np.bitwise_count(original ^ whole).sum())
