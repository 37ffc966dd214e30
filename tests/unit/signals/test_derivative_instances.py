"""Every instance of a registered photo in one upload (issue 20, item 1): a before/after collage of a
registered photo and a fake made from it flags the fake's half, two unedited copies side by side are
a re-share only, and a grid holding one fake among unrelated photos flags that cell. Real candidate
search (DerivativeIndex) and verification; images are synthetic scenes (tests/derivative_scenes.py)."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from ncii_shield.index.derivative import DerivativeIndex
from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative.instances import find_instances
from ncii_shield.signals.derivative.verify import Outcome, Upload

from tests.derivative_scenes import edit, jpeg, scene

BOX = (250, 150, 300, 250)  # x, y, w, h in the 800 x 600 scene: 16 %
GUTTER = 12


@pytest.fixture(scope="module")
def index() -> DerivativeIndex:
    idx = DerivativeIndex()
    idx.add_features_many([(F.photo_features(scene(seed)), seed) for seed in (1, 2)])
    return idx


def jpeg_rgb(img: np.ndarray, quality: int) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg(img, quality))).convert("RGB"))


def check(index: DerivativeIndex, rgb: np.ndarray):  # noqa: ANN201
    return find_instances(rgb, Upload.from_rgb(rgb), lambda u: [(None, h) for h in index.check(u)])


def side_by_side(*pictures: np.ndarray, gutter: int = GUTTER) -> np.ndarray:
    h = 480
    parts = [cv2.resize(p, (round(p.shape[1] * h / p.shape[0]), h), interpolation=cv2.INTER_AREA) for p in pictures]
    out = np.full((h, sum(p.shape[1] for p in parts) + gutter * (len(parts) - 1), 3), 255, np.uint8)
    x = 0
    for p in parts:
        out[:, x:x + p.shape[1]] = p
        x += p.shape[1] + gutter
    return out


def inside(box: list[int], area: tuple[int, int, int, int]) -> float:
    """Share of ``box`` inside ``area``."""
    x0, y0 = max(box[0], area[0]), max(box[1], area[1])
    x1, y1 = min(box[0] + box[2], area[0] + area[2]), min(box[1] + box[3], area[1] + area[3])
    return max(0, x1 - x0) * max(0, y1 - y0) / (box[2] * box[3])


@pytest.mark.parametrize("gutter", [GUTTER, 0])
@pytest.mark.parametrize("fake_first", [False, True])
def test_a_before_after_collage_flags_the_edited_half(index, gutter, fake_first):
    fake = edit("noise", scene(1), BOX, seed=3)
    pictures = (fake, scene(1)) if fake_first else (scene(1), fake)
    collage = jpeg_rgb(side_by_side(*pictures, gutter=gutter), 85)
    found = check(index, collage)
    flags = [i for i in found if i.verdict.outcome is Outcome.DERIVATIVE]
    assert [i.id for i in flags] == [1], [(i.id, i.verdict.outcome, i.verdict.instance_box) for i in found]
    half = (0, 0, 640, 480) if fake_first else (640 + gutter, 0, 640, 480)
    assert inside(flags[0].verdict.instance_box, half) > 0.9, flags[0].verdict.instance_box
    # the edited region, carried into the upload, lies on the fake's noise box (scaled 0.8 into its half)
    outline = np.array(flags[0].verdict.edited_outline)
    bx, by, bw, bh = (v * 0.8 for v in BOX)
    centre = outline.mean(axis=0) - [half[0], 0]
    assert abs(centre[0] - (bx + bw / 2)) < 40 and abs(centre[1] - (by + bh / 2)) < 40, outline
    # the unedited half is found too, as a re-share of the same photo
    reshares = [i for i in found if i.verdict.outcome is Outcome.RESHARE]
    assert [i.id for i in reshares] == [1]
    other = (640 + gutter, 0, 640, 480) if fake_first else (0, 0, 640, 480)
    assert inside(reshares[0].verdict.instance_box, other) > 0.9


def test_two_unedited_copies_are_a_reshare_only(index):
    collage = jpeg_rgb(side_by_side(scene(1), cv2.resize(scene(1), (640, 480))), 85)
    found = check(index, collage)
    assert found and {i.verdict.outcome for i in found} == {Outcome.RESHARE}
    assert {i.id for i in found} == {1}
    assert len(found) == 2  # both copies, each with its own box


def test_a_grid_with_one_fake_among_unrelated_photos_flags_that_cell(index):
    cells = [scene(11), scene(12), edit("flat", scene(2), BOX, seed=4), scene(13)]
    side = 600
    grid = np.full((2 * side + GUTTER, 2 * side + GUTTER, 3), 255, np.uint8)
    for k, c in enumerate(cells):
        y, x = (k // 2) * (side + GUTTER), (k % 2) * (side + GUTTER)
        grid[y:y + side, x:x + side] = cv2.resize(c[:, 100:700], (side, side), interpolation=cv2.INTER_AREA)
    found = check(index, jpeg_rgb(grid, 85))
    flags = [i for i in found if i.verdict.outcome is Outcome.DERIVATIVE]
    assert [i.id for i in flags] == [2], [(i.id, i.verdict.outcome, i.verdict.instance_box) for i in found]
    assert inside(flags[0].verdict.instance_box, (0, side + GUTTER, side, side)) > 0.9, flags[0].verdict.instance_box
    assert [i for i in found if i.id != 2] == []  # the unrelated photos match nothing


def test_one_photo_is_one_instance(index):
    found = check(index, jpeg_rgb(edit("noise", scene(1), BOX, seed=3), 85))
    assert [(i.id, i.verdict.outcome) for i in found] == [(1, Outcome.DERIVATIVE)]
    assert found[0].verdict.instance_box == [0, 0, 800, 600]


def test_panel_cutting_is_bounded_on_hostile_layouts():
    from ncii_shield.signals.derivative.features import to_frame
    from ncii_shield.signals.derivative.panels import MAX_PANELS, panel_boxes, picture_panels

    stripes = np.random.default_rng(1).integers(0, 256, (1000, 1000, 3), dtype=np.uint8)
    stripes[::20] = 255  # a one-colour line every 20 pixels, both ways: a hundred possible gutters
    stripes[:, ::20] = 255
    frame = to_frame(stripes)
    assert 1 <= len(panel_boxes(frame.grey, frame.cb, frame.cr)) <= MAX_PANELS
    thin = to_frame(np.random.default_rng(2).integers(0, 256, (30, 4000, 3), dtype=np.uint8))  # 5 px high
    assert picture_panels(thin.grey, thin.cb, thin.cr) == []


def grid_of(cells: list[np.ndarray], side: int, rows: int, cols: int, gutter: int = GUTTER,
            height: int | None = None) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Pictures in a grid on white, each resized to side x (height or side); the image and the boxes."""
    h = height or side
    out = np.full((rows * h + (rows - 1) * gutter, cols * side + (cols - 1) * gutter, 3), 255, np.uint8)
    boxes = []
    for k, c in enumerate(cells):
        y, x = (k // cols) * (h + gutter), (k % cols) * (side + gutter)
        out[y:y + h, x:x + side] = cv2.resize(c, (side, h), interpolation=cv2.INTER_AREA)
        boxes.append((x, y, side, h))
    return out, boxes


def test_an_instance_found_at_a_fraction_of_the_resolution_is_checked_again_on_its_own(index):
    """When no cut is found, the whole upload is compared at a third of a cell's resolution; a re-share
    found there is cropped at its box and checked again at full resolution (an edit the coarse look
    missed shows there). The second look does not turn the unedited copy into an edit where its box
    meets the next pictures."""
    cells = [scene(s) for s in (11, 12, 13, 14)] + [scene(1)] + [scene(s) for s in (15, 16, 17, 18)]
    grid, boxes = grid_of(cells, 400, 3, 3, height=300)
    rgb = jpeg_rgb(grid, 85)
    seen = []

    def search(u: Upload) -> list:
        seen.append((u.frame.width, u.frame.height))
        return [(None, h) for h in index.check(u)]

    found = find_instances(rgb, Upload.from_rgb(rgb, panels=False), search)  # as if no cut were found
    assert [(i.id, i.verdict.outcome) for i in found] == [(1, Outcome.RESHARE)], [
        (i.id, i.verdict.outcome, i.verdict.instance_box, i.verdict.reason) for i in found]
    assert inside(found[0].verdict.instance_box, boxes[4]) > 0.9, found[0].verdict.instance_box
    assert seen[0] == (rgb.shape[1], rgb.shape[0])
    assert any(abs(w - 400) <= 8 and abs(h - 300) <= 8 for w, h in seen[1:]), seen  # the cell, on its own


def test_a_fake_inside_a_meme_frame_is_checked_on_its_own(index):
    from PIL import ImageDraw, ImageFont

    picture = cv2.resize(edit("noise", scene(1), BOX, seed=3), (640, 480), interpolation=cv2.INTER_AREA)
    # border, caption, picture, caption, border
    canvas = Image.new("RGB", (700, 30 + 260 + 480 + 160 + 30), (255, 255, 255))
    canvas.paste(Image.fromarray(picture), (30, 290))
    draw = ImageDraw.Draw(canvas)
    for y, text in ((60, "me: posts one photo"), (150, "the internet:"), (800, "#sorrynotsorry")):
        draw.text((40, y), text, font=ImageFont.load_default(size=48), fill=(0, 0, 0))
    rgb = jpeg_rgb(np.asarray(canvas), 85)
    upload = Upload.from_rgb(rgb)
    assert upload.panels == [] and upload.picture is not None
    box = upload.to_pixels(upload.picture)  # the picture (the bottom caption may stay with it), not the frame
    assert inside([30, 290, 640, 480], tuple(box)) > 0.95, box
    assert box[2] * box[3] < 0.6 * rgb.shape[0] * rgb.shape[1], box
    found = find_instances(rgb, upload, lambda u: [(None, h) for h in index.check(u)])
    flags = [i for i in found if i.verdict.outcome is Outcome.DERIVATIVE]
    assert [i.id for i in flags] == [1], [(i.id, i.verdict.outcome, i.verdict.instance_box) for i in found]
    assert inside(flags[0].verdict.instance_box, (30, 290, 640, 480)) > 0.9


def test_a_grid_of_wide_photos_is_cut_into_every_cell():
    """Nine 16:9 pictures in a 3 x 3 grid: each is 6 % of the upload and 19 % of its side high."""
    from ncii_shield.signals.derivative.features import to_frame
    from ncii_shield.signals.derivative.panels import picture_panels

    grid, boxes = grid_of([scene(s) for s in range(21, 30)], 400, 3, 3, gutter=10, height=225)
    canvas = np.full((1220, 1220, 3), 255, np.uint8)  # on a square white page, as a collage app lays it out
    canvas[:grid.shape[0], :grid.shape[1]] = grid
    frame = to_frame(jpeg_rgb(canvas, 85))
    s = canvas.shape[1] / frame.grey.shape[1]
    found = [tuple(round(v * s) for v in b) for b in picture_panels(frame.grey, frame.cb, frame.cr)]
    assert len(found) == 9, found
    for box in boxes:
        assert max(inside(list(box), f) for f in found) > 0.9, (box, found)


def test_when_no_cut_is_found_the_other_half_is_checked_on_its_own(index):
    """A fake beside an unrelated picture, as if the cut between them were missed: after the whole
    upload's fit, the other half is checked once on its own; it holds nothing, and nothing is made up."""
    rgb = jpeg_rgb(side_by_side(edit("noise", scene(1), BOX, seed=3), scene(40), gutter=0), 85)
    seen = []

    def search(u: Upload) -> list:
        seen.append((u.frame.width, u.frame.height))
        return [(None, h) for h in index.check(u)]

    found = find_instances(rgb, Upload.from_rgb(rgb, panels=False), search)
    assert [(i.id, i.verdict.outcome) for i in found] == [(1, Outcome.DERIVATIVE)]
    assert inside(found[0].verdict.instance_box, (0, 0, 640, 480)) > 0.9
    assert (640, 480) in seen[1:], seen  # the right half, on its own


@pytest.mark.parametrize("fake_first", [True, False])
def test_a_wide_upload_where_nothing_is_found_is_checked_half_by_half(index, fake_first):
    """Four wide pictures side by side, the cuts between them not seen: in the whole upload's frame
    each is a quarter of it (160 x 60 pixels) and nothing is found; the half holding the fake is
    checked on its own, and the fake is flagged there. (Three such pictures are too few: the whole
    frame's fit then finds the fake, its picture enlarged 3 x by the warp, which the fine-structure
    allowance counts, verify.FRAME_ENLARGED.)"""
    pictures = [edit("noise", scene(1), BOX, seed=3)[150:450]] + [scene(s)[150:450] for s in (40, 41, 42)]  # 800 x 300
    rgb = jpeg_rgb(np.concatenate(pictures if fake_first else pictures[::-1], axis=1), 85)  # 3200 x 300
    calls = []

    def search(u: Upload) -> list:
        hits = index.check(u)
        calls.append(((u.frame.width, u.frame.height), [h.id for h in hits]))
        return [(None, h) for h in hits]

    found = find_instances(rgb, Upload.from_rgb(rgb, panels=False), search)
    assert calls[0] == ((3200, 300), []), calls  # the whole upload: nothing
    assert [(i.id, i.verdict.outcome) for i in found] == [(1, Outcome.DERIVATIVE)], calls
    assert inside(found[0].verdict.instance_box, (0 if fake_first else 2400, 0, 800, 300)) > 0.9, found[0].verdict.instance_box


def test_a_grid_cell_is_cut_at_its_gutter_not_at_the_neighbours_edge():
    """A 3 x 3 grid (gutter 10) whose middle row holds a full-height picture beside a wide one with
    white below it: the edge of the full-height picture against the gutter is itself a sharp line
    (picture to white along the whole row); the cut is made at the gutter, so the wide picture's
    panel holds no strip of its neighbour (issue 20: a grid's fake was not found in its cell)."""
    from ncii_shield.signals.derivative.features import to_frame
    from ncii_shield.signals.derivative.panels import picture_panels

    side, gutter = 400, 10
    canvas = np.full((3 * side + 2 * gutter, 3 * side + 2 * gutter, 3), 255, np.uint8)
    cells = {}
    for k in range(9):
        r, q = divmod(k, 3)
        x, y = q * (side + gutter), r * (side + gutter)
        h = 225 if k in (3, 5) else side  # two 16:9 pictures scaled to the cell's width, white below
        picture = scene(31 + k) // 4 if k == 4 else scene(31 + k)  # a dark picture: its edge is a sharp line
        canvas[y:y + h, x:x + side] = cv2.resize(picture, (side, h), interpolation=cv2.INTER_AREA)
        cells[k] = (x, y, side, h)
    frame = to_frame(jpeg_rgb(canvas, 85))
    s = canvas.shape[1] / frame.grey.shape[1]
    found = [[round(v * s) for v in b] for b in picture_panels(frame.grey, frame.cb, frame.cr)]
    for k in (3, 5):
        best = max(found, key=lambda f: inside(f, cells[k]))
        assert inside(best, cells[k]) > 0.9, (k, best, found)  # the cell's panel is its picture, no sliver beside


def test_a_wide_picture_of_the_cut_is_checked_half_by_half(index):
    """A 2 x 2 collage whose top row (the photo and a fake made from it, scaled to the row's width, no
    gutter) the cut leaves as one wide picture: each half of that picture is checked on its own and
    the fake's half is flagged; the unedited copy stays a re-share."""
    top = side_by_side(scene(1)[75:525], edit("noise", scene(1), BOX, seed=3)[75:525], gutter=0)  # 16:9 each
    top = cv2.resize(top, (1120, 315), interpolation=cv2.INTER_AREA)
    bottom = np.concatenate([cv2.resize(scene(s)[:, 100:700], (560, 560), interpolation=cv2.INTER_AREA)
                             for s in (2, 41)], axis=1)  # another registered photo, and an unregistered one
    rgb = jpeg_rgb(np.concatenate([top, bottom]), 85)
    upload = Upload.from_rgb(rgb)
    # as if the cut had missed the line between the top row's two pictures (as it does on dark photos)
    s = upload.frame.grey.shape[1] / rgb.shape[1]
    upload._pictures = ([(0, 0, round(1120 * s), round(315 * s)), (0, round(315 * s), round(560 * s), round(560 * s)),
                         (round(560 * s), round(315 * s), round(560 * s), round(560 * s))], None, [])
    seen = []

    def search(u: Upload) -> list:
        # a candidate search that finds photo 1 only near its own resolution (a real photo with little
        # detail, compared at half its size in the wide picture's frame, is not found there); photo 2
        # (bottom left) is found anywhere
        seen.append((u.frame.width, u.frame.height))
        return [(None, h) for h in index.check(u) if h.id == 2 or u.frame.width <= 640]

    found = find_instances(rgb, upload, search)
    flags = [i for i in found if i.verdict.outcome is Outcome.DERIVATIVE]
    assert [i.id for i in flags] == [1], ([(i.id, i.verdict.outcome, i.verdict.instance_box) for i in found], seen)
    assert inside(flags[0].verdict.instance_box, (560, 0, 560, 315)) > 0.9, flags[0].verdict.instance_box
    reshares = [i for i in found if i.verdict.outcome is Outcome.RESHARE and i.id == 1]
    assert len(reshares) == 1 and inside(reshares[0].verdict.instance_box, (0, 0, 560, 315)) > 0.9


def test_a_fit_reaching_across_the_middle_into_the_other_picture_is_no_edit():
    """Two copies side by side cut nowhere: a fit of the photo mostly in the right half whose outline
    reaches into the left copy, where the 'edit' lies, is a re-share (that strip is the neighbouring
    picture); an edit on the fit's own side stays a derivative."""
    from ncii_shield.signals.derivative.instances import Instance, _across
    from ncii_shield.signals.derivative.verify import Verdict

    def inst(outline_x: float) -> Instance:
        outline = [[outline_x, 175.0], [outline_x + 250, 175.0], [outline_x + 250, 350.0], [outline_x, 350.0]]
        return Instance(1, None, 18, Verdict(Outcome.DERIVATIVE, 88.0, instance_box=[343, 0, 777, 560],
                                             edited_outline=outline, reason="8% of the photo replaced"))

    whole = [[0, 0, 1120, 560]]
    assert _across(inst(342.0), whole).verdict.outcome is Outcome.RESHARE  # edit centred at x 467, left half
    assert _across(inst(342.0), whole).verdict.edited_outline is None
    assert _across(inst(700.0), whole).verdict.outcome is Outcome.DERIVATIVE  # edit in the fit's own half
    assert _across(inst(342.0), []).verdict.outcome is Outcome.DERIVATIVE  # a region that was cut: no change
    centred = Instance(1, None, 18, Verdict(Outcome.DERIVATIVE, 88.0, instance_box=[0, 0, 1120, 560],
                                            edited_outline=[[100, 100], [300, 100], [300, 300], [100, 300]]))
    assert _across(centred, whole).verdict.outcome is Outcome.DERIVATIVE  # one wide picture: its edit stays


@pytest.mark.parametrize("gutter", [0, 4])
def test_two_copies_cropped_to_fill_square_cells_are_a_reshare_only(index, gutter):
    cell = cv2.resize(scene(1)[:, 100:700], (560, 560), interpolation=cv2.INTER_AREA)
    rgb = np.full((560, 1120 + gutter, 3), 255, np.uint8)
    rgb[:, :560], rgb[:, 560 + gutter:] = cell, cell
    found = check(index, jpeg_rgb(rgb, 85))
    assert found and {i.verdict.outcome for i in found} == {Outcome.RESHARE}, \
        [(i.id, i.verdict.outcome, i.verdict.instance_box, i.verdict.reason) for i in found]
