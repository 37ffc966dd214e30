"""Mark signatures (template + keypoints from a mark image) and finding them in photos."""

from __future__ import annotations

import numpy as np
import pytest

from ncii_shield.errors import InvalidSignal, UnsupportedMedia
from ncii_shield.index.marks import MarkIndex
from ncii_shield.signals.marks import template as T
from ncii_shield.signals.marks.search import THRESHOLD, UploadFrame
from ncii_shield.signals.marks.signal import MarkSignal
from tests.derivative_scenes import scene
from tests.marks_scenes import box_overlap, paste, photo, png, reencoded, text_mark

MARK = text_mark("NUDIFY")


def test_signature_round_trips_and_keeps_label_template_and_keypoints():
    template = T.template_from_rgba(MARK, "  nudify.example watermark ")
    assert template.label == "nudify.example watermark"
    assert max(template.alpha.shape) == T.TEMPLATE_SIDE and len(template.keypoints.descriptors) >= 40
    value = T.encode(template)
    assert value.startswith("m1:") and MarkSignal.validate(value) == value
    back = T.decode(value)
    assert back.label == template.label and (back.width, back.height) == (template.width, template.height)
    assert np.array_equal(back.alpha, template.alpha) and np.array_equal(back.colour, template.colour)
    assert np.array_equal(back.keypoints.descriptors, template.keypoints.descriptors)
    assert np.allclose(back.keypoints.points, template.keypoints.points, atol=2e-3)


def test_a_mark_without_transparency_is_cut_from_its_plain_border():
    rgba = MARK.copy()
    flat = np.full(MARK.shape[:2] + (3,), 30, np.uint8)  # the logo on a plain dark background, no alpha
    a = MARK[:, :, 3:4] / 255
    flat = (flat * (1 - a) + MARK[:, :, :3] * a).astype(np.uint8)
    with_alpha, without = T.template_from_rgba(rgba, "x"), T.template_from_rgba(flat, "x")
    assert abs(with_alpha.aspect - without.aspect) < 0.1
    assert (without.alpha > 128).mean() < 0.6  # the background is not part of the mark


@pytest.mark.parametrize("rgba, why", [
    (np.zeros((40, 80, 4), np.uint8), "transparent"),
    (np.dstack([np.full((40, 80, 3), 90, np.uint8), np.full((40, 80), 255, np.uint8)]), "plain colour"),
    (np.dstack([np.full((40, 80, 3), 128, np.uint8), text_mark("MID", ring=False)[:40, :80, 3]]), "faint"),
    (np.pad(np.full((5, 60, 4), 255, np.uint8), ((4, 4), (4, 4), (0, 0))), "8 pixels"),  # a 5-pixel line
])
def test_empty_faint_and_thin_marks_are_refused_with_the_reason(rgba, why):
    with pytest.raises(InvalidSignal, match=why):
        T.template_from_rgba(rgba, "x")


@pytest.mark.parametrize("label", ["", "   ", "x" * 201])
def test_a_label_is_required(label):
    with pytest.raises(InvalidSignal, match="label"):
        T.template_from_rgba(MARK, label)


def test_malformed_values_say_what_is_expected():
    value = T.encode(T.template_from_rgba(MARK, "x"))
    for bad in (value[:-8], "m1:" + "A" * 40, "m2:" + value[3:], value + "AAAA"):
        with pytest.raises(InvalidSignal, match="expected"):
            MarkSignal.validate(bad)


def test_mark_files_are_read_with_their_alpha_and_non_images_refused():
    assert T.decode_mark_image(png(MARK)).shape == MARK.shape
    with pytest.raises(UnsupportedMedia, match="accepted"):
        T.decode_mark_image(b"%PDF-1.4 not an image")


@pytest.fixture(scope="module")
def index() -> MarkIndex:
    index = MarkIndex()
    index.add(T.encode(T.template_from_rgba(MARK, "nudify.example")), 7)
    index.add(T.encode(T.template_from_rgba(text_mark("DEEPFAKE", fill=(255, 40, 40)), "deepfake.example")), 9)
    return index


def test_a_half_opacity_half_scale_mark_in_a_reencoded_photo_is_found_with_its_box(index):
    marked, box = paste(photo(3), MARK, 380, 410, scale=0.5, opacity=0.5)
    found = index.find(UploadFrame.from_rgb(reencoded(marked, 75)))
    assert [f.id for f in found] == [7] and found[0].label == "nudify.example"
    assert box_overlap(found[0].box, box) > 0.6 and THRESHOLD <= found[0].score <= 1


def test_the_box_is_in_the_uploads_pixels_when_the_upload_is_large(index):
    big = np.kron(scene(4), np.ones((2, 2, 1), np.uint8))  # 1600 x 1200: the frame is half that
    marked, box = paste(big, MARK, 900, 300, opacity=0.8)
    found = index.find(UploadFrame.from_rgb(reencoded(marked, 85)))
    assert [f.id for f in found] == [7] and box_overlap(found[0].box, box) > 0.6


def test_other_text_in_the_same_font_and_a_plain_photo_are_not_flagged(index):
    for text in ("HOLIDAY", "NUDITY?", "SUNSET"):
        marked, _ = paste(scene(5), text_mark(text), 200, 250, scale=0.6, opacity=0.8)
        assert index.find(UploadFrame.from_rgb(reencoded(marked))) == [], text
    assert index.find(UploadFrame.from_rgb(reencoded(scene(6)))) == []


def test_only_allowed_marks_are_reported_and_removed_marks_are_gone(index):
    marked, _ = paste(photo(3), MARK, 200, 150, scale=0.7, opacity=0.8)
    frame = UploadFrame.from_rgb(reencoded(marked))
    assert [f.id for f in index.find(frame, lambda i: i != 7)] == []
    assert [f.id for f in index.find(frame)] == [7]
    index.remove(7)
    try:
        assert index.find(frame) == [] and len(index) == 1
    finally:
        index.add(T.encode(T.template_from_rgba(MARK, "nudify.example")), 7)


def test_mutated_signatures_are_refused_or_read_never_crash():
    import base64

    blob = bytearray(base64.b64decode(T.encode(T.template_from_rgba(MARK, "x"))[3:]))
    rng = np.random.default_rng(0)
    for _ in range(300):
        mutated = bytearray(blob)
        for at in rng.integers(0, len(blob), int(rng.integers(1, 6))):
            mutated[at] = int(rng.integers(0, 256))
        cut = bytes(mutated[: int(rng.integers(1, len(mutated) + 1))] if rng.random() < 0.3 else mutated)
        try:
            MarkSignal.validate("m1:" + base64.b64encode(cut).decode())
        except InvalidSignal:
            pass


def test_orientation_fields_do_not_depend_on_an_edges_polarity_or_colour():
    from ncii_shield.signals.marks.search import orientation_field

    bar = np.full((40, 40, 3), 60.0, np.float32)
    bar[:, 20:] = 200.0  # dark to light, left to right
    flipped = 260.0 - bar  # light to dark: the same edge, the other polarity
    red = bar.copy()
    red[:, :, 1:] = 60.0  # only the red channel changes
    a, b, c = orientation_field(bar), orientation_field(flipped), orientation_field(red)
    assert np.allclose(a, b, atol=1e-3)
    assert a[20, 20, 0] > 50 and abs(a[20, 20, 1]) < 1e-3  # a vertical edge: cos 2t = 1, sin 2t = 0
    assert np.allclose(np.sign(c[20, 18:22]), np.sign(a[20, 18:22]))  # a colour-only edge has the same direction
    across = np.full((40, 40, 3), 60.0, np.float32)
    across[20:] = 200.0  # a horizontal edge points the other way: cos 2t = -1
    assert orientation_field(across)[20, 20, 0] < -50


def test_a_white_mark_on_a_light_area_is_found_by_its_outline(index):
    light = np.clip(photo(7).astype(np.int16) // 4 + 190, 0, 255).astype(np.uint8)  # a pale, washed-out photo
    marked, box = paste(light, MARK, 260, 300, scale=0.6, opacity=0.7)  # white fill barely shows, the outline does
    found = index.find(UploadFrame.from_rgb(reencoded(marked, 80)))
    assert [f.id for f in found] == [7] and box_overlap(found[0].box, box) > 0.6


def test_the_index_keeps_a_mark_in_a_few_tens_of_kilobytes(index):
    per_mark = index.nbytes() / len(index)
    assert 1_000 < per_mark < 40_000, per_mark  # codes 40 B and geometry 6 B a keypoint, the template's bytes
    for entry in index._entries.values():  # the descriptors live only in faiss, not in the entries' templates
        assert len(entry.prepared.template.keypoints.descriptors) == 0


@pytest.mark.parametrize("scale", [0.5, 0.62, 0.74, 0.86, 1.0])
def test_a_long_mark_checked_at_its_own_place_clears_the_threshold_at_any_size(scale):
    # The wide search steps sizes by ~13 %, so its best can be ~6 % off the mark's size; the close
    # search must reach that far (at +-3 % a long mark's far letters missed and it scored 0.54-0.67).
    from ncii_shield.signals.marks.search import Prepared, verify

    mark = text_mark("DEEPFAKE.AI", ring=False, fill=(255, 40, 40))
    marked, box = paste(photo(3), mark, 40, 150, scale=scale)
    score, found = verify(Prepared.of(T.template_from_rgba(mark, "x")), UploadFrame.from_rgb(reencoded(marked, 85)), box)
    assert score >= THRESHOLD and box_overlap(found, box) > 0.7, (score, found, box)



def test_an_outlined_mark_over_busy_texture_is_not_held_back_by_the_photo_inside_it():
    # Fur, grass or whiskers inside a mark's empty areas are the photo's, not the mark's: only the
    # places where the mark has edges count. (Correlating the whole window, texture included,
    # scored this 0.72, under the threshold; over the mark's edges it scores 0.88.)
    import cv2
    from PIL import Image, ImageDraw

    from ncii_shield.signals.marks.search import Prepared, verify

    busy = photo(3).copy()
    rng = np.random.default_rng(3)
    for _ in range(2500):  # thin strokes of every colour in every direction
        x, y, angle, length = int(rng.integers(0, 800)), int(rng.integers(0, 600)), rng.uniform(0, np.pi), rng.uniform(10, 40)
        cv2.line(busy, (x, y), (int(x + length * np.cos(angle)), int(y + length * np.sin(angle))),
                 tuple(int(v) for v in rng.integers(0, 256, 3)), 1, cv2.LINE_AA)
    image = Image.new("RGBA", (168, 168), (0, 0, 0, 0))  # a triangle outline with a dot: mostly empty inside
    draw = ImageDraw.Draw(image)
    draw.polygon([(84, 4), (164, 164), (4, 164)], outline=(255, 255, 255, 255), width=8)
    draw.ellipse([68, 92, 100, 124], fill=(255, 255, 255, 255))
    mark = np.asarray(image)
    marked, box = paste(busy, mark, 250, 150, scale=1.2, opacity=0.7)
    score, found = verify(Prepared.of(T.template_from_rgba(mark, "x")), UploadFrame.from_rgb(reencoded(marked, 85)), box)
    assert score >= THRESHOLD and box_overlap(found, box) > 0.7, (score, found, box)
