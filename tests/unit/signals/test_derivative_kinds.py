"""Issue 20, item 2: most of a photo replaced (the rest partly cropped away) and a fake under a meme
caption, judged in verification (signals/derivative/verify.py): the small unedited remainder of a
strong fit is enough when the edit replaced the photo's own detail, and a caption's lines of text
are set aside like a crop instead of joining the edit."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative import verify as V
from ncii_shield.signals.derivative.verify import Outcome, Upload, verify
from tests.derivative_scenes import edit, jpeg, scene


def jpeg_rgb(img: np.ndarray, quality: int = 90) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg(img, quality))).convert("RGB"))


def replaced(img: np.ndarray, other: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    out = img.copy()
    out[y:y + h, x:x + w] = other[:h, :w]
    return out


def captioned(img: np.ndarray) -> np.ndarray:
    """A two-line meme caption: white letters in a black outline, h/12 high, at the top and bottom."""
    h, w = img.shape[:2]
    pil = Image.fromarray(img)
    draw = ImageDraw.Draw(pil)
    size = max(14, h // 12)
    for y, text in ((int(h * 0.03), "WHEN SHE THINKS"), (int(h * 0.85), "NOBODY WILL SEE IT")):
        draw.text((w // 10, y), text, font=ImageFont.load_default(size=size), fill=(255, 255, 255),
                  stroke_width=max(1, size // 12), stroke_fill=(0, 0, 0))
    return np.asarray(pil)


def little_detail(seed: int) -> np.ndarray:
    """A plain backdrop with one detailed part (14 % of the area), as in the integration tests."""
    image = np.full((600, 800, 3), 120, np.uint8)
    image[200:440, 280:560] = scene(seed)[200:440, 280:560]
    return image


@pytest.fixture(scope="module")
def photo() -> F.PhotoFeatures:
    return F.photo_features(scene(31))


def large_and_cropped() -> np.ndarray:
    """The upper 83 % of the photo replaced by another scene, then the top and the sides cropped:
    what is left of the photo is a strip of 14 % of it."""
    return jpeg_rgb(replaced(scene(31), scene(32), (0, 0, 800, 500))[60:600, 40:760])


def test_most_of_the_photo_replaced_and_the_rest_cropped_is_flagged(photo, monkeypatch):
    upload = Upload.from_rgb(large_and_cropped())
    verdict = verify(photo, upload)
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason
    assert verdict.inliers >= V.LARGE_INLIERS and verdict.shared_share < V.MIN_SHARED
    x, y, w, h = verdict.edited_region
    assert y <= 100 and y + h >= 440  # the replaced part (its visible rows 60-500), not the strip left
    # without the rule for strong fits, the strip is under the 15 % floor
    monkeypatch.setattr(V, "_large_edit", lambda *a, **k: False)
    assert verify(photo, upload).outcome is Outcome.NONE


def test_a_detailed_part_on_a_plain_backdrop_inside_its_whole_scene_is_not_an_edit(monkeypatch):
    """The whole scene a registered photo's detailed part was cut from (the backdrop plain in the
    registered photo): a strong fit on the part, the "edit" only where the registered photo was plain."""
    registered = F.photo_features(little_detail(14))
    upload = Upload.from_rgb(jpeg_rgb(scene(14)))
    verdict = verify(registered, upload)
    assert verdict.outcome is not Outcome.DERIVATIVE, verdict.reason
    # the condition that the edit replaced the photo's own detail is what holds it back
    monkeypatch.setattr(V, "LARGE_DETAIL", 0.0)
    assert verify(registered, upload).outcome is Outcome.DERIVATIVE


@pytest.mark.parametrize("kind, box", [("flat", (60, 60, 520, 400)), ("noise", (100, 40, 560, 460))])
def test_a_caption_along_an_edit_does_not_join_it(photo, kind, box, monkeypatch):
    upload = Upload.from_rgb(jpeg_rgb(captioned(edit(kind, scene(31), box))))
    verdict = verify(photo, upload)
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason
    top = verdict.edited_region[1]
    assert top >= 37  # the edit starts at the box, not at the caption's top line (cells are 37.5 pixels)
    monkeypatch.setattr(V, "_text_cells", lambda grey: np.zeros((F.GRID, F.GRID), bool))
    without = verify(photo, upload)
    assert without.edited_region is not None and without.edited_region[1] < top


def test_a_captioned_reshare_is_not_flagged(photo):
    verdict = verify(photo, Upload.from_rgb(jpeg_rgb(captioned(scene(31)))))
    assert verdict.outcome is Outcome.RESHARE, verdict.reason


def test_caption_text_cells():
    grey = np.full((600, 800), 128, np.uint8)
    assert not V._text_cells(grey).any()
    text = np.asarray(Image.fromarray(captioned(np.full((600, 800, 3), 128, np.uint8))).convert("L"))
    cells = V._text_cells(text)
    assert cells[:3].sum() >= 5 and cells[12:].sum() >= 5 and not cells[4:11].any()
    noise = np.random.default_rng(0).integers(0, 256, (600, 800, 3), dtype=np.uint8)  # a noise fill is not text
    assert not V._text_cells(np.asarray(Image.fromarray(noise).convert("L"))).any()


def test_the_edit_size_limit_counts_the_cells_that_differ(photo, monkeypatch):
    """MAX_EDIT bounds what the edit replaced (its differing cells), not the cells closed into its
    block around them: set between the two, a 70 % replacement stays a derivative."""
    upload = Upload.from_rgb(jpeg_rgb(replaced(scene(31), scene(32), (0, 0, 800, 420))))
    verdict = verify(photo, upload)
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason
    differing = 1.0 - verdict.shared_share  # at most this share of the cells differs
    assert differing < verdict.edited_share  # the block holds cells that do not differ
    monkeypatch.setattr(V, "MAX_EDIT", (differing + verdict.edited_share) / 2)
    assert verify(photo, upload).outcome is Outcome.DERIVATIVE
    monkeypatch.setattr(V, "MAX_EDIT", differing / 2)
    assert verify(photo, upload).outcome is Outcome.NONE


def test_a_narrow_unedited_strip_beside_the_edit_is_compared(photo, monkeypatch):
    """The photo's top quarter cropped away (the instance's area, as :func:`_instance_area` gives it)
    and all but its bottom 70 pixels replaced: the cells next to the edit are all that is left to
    compare, and are compared (with NARROW_REST off there is too little away from the edit)."""
    frame = Upload.from_rgb(jpeg_rgb(replaced(scene(31), scene(32), (0, 0, 800, 530)))).frame
    area = np.zeros(frame.grey.shape, np.uint8)
    area[120:, :] = 255  # frame rows: the upload's top 150 of 600 pixels are not part of the instance
    identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    anchors = photo.points[photo.points[:, 1] > 530 * 0.8 + 5]  # consistent points in the strip left

    def judged():  # noqa: ANN202
        return V._compare(photo, frame, identity, 60, False, anchors, area)

    verdict = judged()
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason
    monkeypatch.setattr(V, "NARROW_REST", False)
    assert "too little of the photo outside" in judged().reason


def test_a_captioned_fake_in_a_screenshot_keeps_keypoints_on_the_photo(photo, monkeypatch):
    """Caption letters and a screenshot's text hold the strongest corners of an upload: detected as
    they are, they take nearly all its keypoints. Filled in before detection (``_without_text``),
    the photo keeps its keypoints and the fake is found."""
    from tests.derivative_scenes import screenshot

    image = jpeg_rgb(screenshot(captioned(edit("flat", scene(31), (100, 60, 500, 400)))))
    verdict = verify(photo, Upload.from_rgb(image))
    assert verdict.outcome is Outcome.DERIVATIVE, verdict.reason
    monkeypatch.setattr(V, "_without_text", lambda grey: grey)
    # (the keypoints' part alone: the picture inside the screenshot's bars, compared as the photo's whole frame
    # with no fit, V.WHOLE_CONTENT, finds this fake too)
    monkeypatch.setattr(V, "WHOLE_CONTENT", False)
    without = verify(photo, Upload.from_rgb(image))
    assert without.outcome is Outcome.NONE and without.inliers < verdict.inliers / 4


def test_text_is_filled_in_only_in_lines_of_text():
    """A colour noise fill (the noise edit: its brightness rarely reaches pure white or black) and a
    photo without text are left as they are; a caption is filled in. (Grey salt-and-pepper noise is
    filled in too: its keypoints match nothing anyway.)"""
    noise = F.to_frame(np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)).grey
    assert np.array_equal(V._without_text(noise), noise)
    plain = F.to_frame(scene(31)).grey
    assert np.array_equal(V._without_text(plain), plain)
    text = F.to_frame(captioned(scene(31))).grey
    filled = V._without_text(text)
    changed = filled != text
    rows = changed.mean(axis=1)
    assert rows[:60].max() > 0.2 and rows[400:].max() > 0.2 and changed[100:380].mean() < 0.01
