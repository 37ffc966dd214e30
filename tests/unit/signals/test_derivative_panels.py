"""The cut of a composite upload into pictures (panels.py): a gutter is one colour in every plane,
and a picture cut along its own edit's edges is kept as one unit beside its pieces, while a grid's
aligned cuts are not (issue 20: a fake cut by a censor bar or by a patch across its whole width)."""

from __future__ import annotations

import cv2
import numpy as np

from ncii_shield.signals.derivative.features import to_frame
from ncii_shield.signals.derivative.instances import find_instances
from ncii_shield.signals.derivative.panels import picture_panels, picture_units
from ncii_shield.signals.derivative.verify import Upload

from tests.derivative_scenes import scene


def test_a_line_of_one_grey_but_many_colours_is_not_one_colour():
    """The chroma planes are read only where the grey is one level along a line; they still decide."""
    from ncii_shield.signals.derivative.panels import _Lines

    rng = np.random.default_rng(5)
    grey = rng.integers(0, 256, (60, 200), dtype=np.uint8)
    cb = np.full((60, 200), 128, np.uint8)
    cr = np.full((60, 200), 128, np.uint8)
    grey[20:30] = 128  # rows 20-29: one grey level
    cr[25:30] = rng.integers(60, 200, (5, 200), dtype=np.uint8)  # rows 25-29: the colour changes along them
    rows = _Lines([grey, cb, cr]).uniform((0, 0, 200, 60), axis=1)
    assert rows.tolist() == [20 <= k < 25 for k in range(60)]
    assert not _Lines([grey, cb, cr]).uniform((0, 0, 200, 60), axis=0).any()


def _grid(cells: list[np.ndarray], side: int = 400, gutter: int = 10) -> tuple[np.ndarray, list[tuple]]:
    out = np.full((3 * side + 2 * gutter, 3 * side + 2 * gutter, 3), 255, np.uint8)
    boxes = []
    for k, c in enumerate(cells):
        y, x = (k // 3) * (side + gutter), (k % 3) * (side + gutter)
        out[y:y + side, x:x + side] = cv2.resize(c[:, 100:700], (side, side), interpolation=cv2.INTER_AREA)
        boxes.append((x, y, side, side))
    return out, boxes


def _barred(img: np.ndarray, y: int) -> np.ndarray:
    """A censor bar across the whole width of the picture (a uniform band: cut like a gutter)."""
    out = img.copy()
    out[y:y + 14] = 0
    return out


def test_a_picture_cut_by_a_bar_across_it_is_a_unit_and_a_grid_has_none():
    plain, _ = _grid([scene(s) for s in range(21, 30)])
    frame = to_frame(plain)
    assert len(picture_panels(frame.grey, frame.cb, frame.cr)) == 9
    assert picture_units(frame.grey, frame.cb, frame.cr) == []  # rows and columns line up: no unit
    cells = [scene(s) for s in range(21, 30)]
    cells[4] = _barred(cells[4], 290)  # the middle cell, cut near half its height: no other cut there
    barred, boxes = _grid(cells)
    frame = to_frame(barred)
    s = barred.shape[1] / frame.grey.shape[1]
    assert len(picture_panels(frame.grey, frame.cb, frame.cr)) == 10  # its two pieces and the 8 others
    units = [[round(v * s) for v in b] for b in picture_units(frame.grey, frame.cb, frame.cr)]
    assert len(units) == 1, units
    assert all(abs(a - b) <= 8 for a, b in zip(units[0], boxes[4])), (units, boxes[4])


def test_the_unit_is_searched_on_its_own():
    cells = [scene(s) for s in range(21, 30)]
    cells[4] = _barred(cells[4], 290)
    barred, boxes = _grid(cells)
    seen = []

    def search(u: Upload) -> list:
        seen.append((u.frame.width, u.frame.height))
        return []

    find_instances(barred, Upload.from_rgb(barred), search)
    assert any(abs(w - 400) <= 8 and abs(h - 400) <= 8 for w, h in seen[1:]), seen  # the whole cell
    assert sum(abs(w - 400) <= 8 and h < 300 for w, h in seen) >= 1, seen  # besides its pieces


def _column_grid(cells: list[np.ndarray], side: int = 400, gutter: int = 10) -> tuple[np.ndarray, list[tuple]]:
    """A 3-column grid of pictures scaled to the column's width, aspect kept (a collage app's "fit"
    off): each row as high as its highest picture, white below the shorter ones."""
    scaled = [cv2.resize(c, (side, round(c.shape[0] * side / c.shape[1])), interpolation=cv2.INTER_AREA) for c in cells]
    rows = [max(c.shape[0] for c in scaled[r:r + 3]) for r in range(0, len(scaled), 3)]
    out = np.full((sum(rows) + gutter * (len(rows) - 1), 3 * side + 2 * gutter, 3), 255, np.uint8)
    boxes = []
    for k, c in enumerate(scaled):
        x, y = (k % 3) * (side + gutter), sum(rows[:k // 3]) + gutter * (k // 3)
        out[y:y + c.shape[0], x:x + c.shape[1]] = c
        boxes.append((x, y, c.shape[1], c.shape[0]))
    return out, boxes


def test_a_panorama_in_a_tall_grid_is_a_picture_and_a_caption_strip_is_not():
    """A wide photo scaled to a grid column's width in a tall grid is about a tenth of the upload's
    height: under PICTURE_SIDE, yet shaped like a photo, so it is a picture of the cut (issue 20:
    grid-9 fakes of 16:9 and panoramic photos were never checked on their own). A caption band of
    text across a column, as high but seven times wider than high, stays out."""
    from ncii_shield.signals.derivative import panels

    cells = [scene(s)[:, 100:700] for s in range(31, 40)]
    cells[3] = scene(40)[150:450]  # 800 x 300: scaled to 400 x 150 in its cell
    caption = np.full((60, 400, 3), 255, np.uint8)
    cv2.putText(caption, "me: posts one photo", (8, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2)
    cells[5] = caption
    grid, boxes = _column_grid(cells)
    frame = to_frame(grid)
    s = grid.shape[0] / frame.grey.shape[0]

    def found() -> list[list[int]]:
        return [[round(v * s) for v in b] for b in picture_panels(frame.grey, frame.cb, frame.cr)]

    def near(box: tuple, got: list[list[int]]) -> bool:
        return any(all(abs(a - b) <= 10 for a, b in zip(g, box)) for g in got)

    now = found()
    assert near(boxes[3], now), (boxes[3], now)
    assert not near(boxes[5], now), (boxes[5], now)
    assert sum(near(b, now) for k, b in enumerate(boxes) if k not in (3, 5)) >= 6, now
    old = panels.PICTURE_STRIP
    try:
        panels.PICTURE_STRIP = 0.0  # the bars before: the panorama's cell is too thin to be a picture
        assert not near(boxes[3], found())
    finally:
        panels.PICTURE_STRIP = old


def _jpeg(img: np.ndarray, quality: int = 90) -> np.ndarray:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def test_a_thin_gutter_blurred_by_the_frame_and_jpeg_still_cuts_the_grid(monkeypatch):
    """A 4-pixel gutter of a tall 3 x 3 grid is 1.6 lines of the 640-pixel frame, blurred into the pictures
    beside it by the resize and the upload's JPEG: no line of it is one colour, and its two edges hide each
    other from the seam test, so the grid was left uncut (issue 20: grid-9 fakes checked only at a ninth of
    the frame). Its nearly plain lines between busy ones are a thin gutter (THIN_GUTTER)."""
    from ncii_shield.signals.derivative import panels

    cells = [scene(s)[:, 100:700] if k % 2 else scene(s, 600, 800) for k, s in enumerate(range(41, 50))]
    grid, boxes = _column_grid(cells, gutter=4)  # portrait and landscape cells: rows of two heights
    grid = _jpeg(grid)
    frame = to_frame(grid)
    s = grid.shape[1] / frame.grey.shape[1]

    def near() -> int:
        got = [[round(v * s) for v in b] for b in picture_panels(frame.grey, frame.cb, frame.cr)]
        return sum(any(all(abs(a - b) <= 8 for a, b in zip(g, box)) for g in got) for box in boxes)

    assert near() == 9
    monkeypatch.setattr(panels, "THIN_GUTTER", False)
    assert near() <= 1


def test_a_thin_plain_band_inside_a_photo_is_not_a_gutter():
    """A band of nearly one colour as thin as a gutter but inside one picture's plain area (a sky) is not cut:
    the lines beside it are as plain."""
    from ncii_shield.signals.derivative.panels import _Lines, _thin_gutters

    rng = np.random.default_rng(3)
    grey = rng.normal(128, 40, (300, 200)).clip(0, 255).astype(np.uint8)
    grey[140:160] = rng.normal(200, 3, (20, 200)).clip(0, 255).astype(np.uint8)  # a plain band, 20 lines
    grey[150] = 230  # one line of one colour within it
    flat = np.full_like(grey, 128)
    assert _thin_gutters(_Lines([grey, flat, flat]), (0, 0, 200, 300), 1, 36) == []
    grey[100] = 250  # a thin line between busy lines: a gutter
    assert [g[:2] for g in _thin_gutters(_Lines([grey, flat, flat]), (0, 0, 200, 300), 1, 36)] == [(100, 101)]


def test_a_dark_line_in_a_dark_area_is_not_a_gutter(monkeypatch):
    """A calm dark line between busy but as dark lines (a shadow in one photo: two-fakes of the benchmark cut
    there) is not a gutter: its colour is that of the lines beside it (THIN_STEP)."""
    from ncii_shield.signals.derivative import panels
    from ncii_shield.signals.derivative.panels import _Lines, _thin_gutters

    rng = np.random.default_rng(4)
    grey = rng.normal(45, 25, (300, 200)).clip(0, 255).astype(np.uint8)  # dark, busy: spread about 25
    grey[100] = rng.normal(38, 2, 200).clip(0, 255).astype(np.uint8)  # calm, and as dark
    flat = np.full_like(grey, 128)
    assert _thin_gutters(_Lines([grey, flat, flat]), (0, 0, 200, 300), 1, 36) == []
    monkeypatch.setattr(panels, "THIN_STEP", 0.0)
    assert [g[:2] for g in _thin_gutters(_Lines([grey, flat, flat]), (0, 0, 200, 300), 1, 36)] == [(100, 101)]


def test_a_mostly_blurred_cell_beside_a_grid_line_is_a_picture(monkeypatch):
    """A cell blurred over all but a strip (12 % of its blocks structured, under MIN_TEXTURE) in a grid
    without gutters: the line between it and its neighbour continues the grid's column line, so it is cut
    with less structure beside it (ALIGNED_TEXTURE) and the cell is a picture of its own (issue 20: the
    blurred fake's cell was checked joined to its neighbour, or not at all)."""
    from ncii_shield.signals.derivative import panels

    cells = [scene(s) for s in range(21, 30)]
    blurred = cells[8].copy()
    blurred[:, 120:] = cv2.GaussianBlur(blurred, (0, 0), 30)[:, 120:]
    cells[8] = blurred
    grid, boxes = _grid(cells, gutter=0)
    frame = to_frame(grid)
    s = grid.shape[1] / frame.grey.shape[1]

    def found() -> bool:
        got = [[round(v * s) for v in b] for b in picture_panels(frame.grey, frame.cb, frame.cr)]
        return any(all(abs(a - b) <= 8 for a, b in zip(g, boxes[8])) for g in got)

    assert found()
    monkeypatch.setattr(panels, "ALIGNED_TEXTURE", panels.MIN_TEXTURE)
    assert not found()
