"""Verification under overlays and edits that keep a photo's structure (issue 20, item 2): a fake under
censor bars and a meme caption is still flagged (the caption's lines of text are an overlay, not
scattered differences), a region recoloured with its structure kept is flagged (its keypoints still
match, so they cannot set the colour offsets alone), and a picture cropped to fill a collage's cell
is not "edited" where its outline reaches into the next picture. Synthetic scenes
(tests/derivative_scenes.py), real verification."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative import verify as V
from ncii_shield.signals.derivative.verify import Outcome, Upload, verify

from tests.derivative_scenes import edit, scene

BOX = (250, 150, 300, 250)


def jpeg_rgb(img: np.ndarray, quality: int = 85) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def captioned(img: np.ndarray) -> np.ndarray:
    pil = Image.fromarray(img)
    d = ImageDraw.Draw(pil)
    h, w = img.shape[:2]
    size = h // 12
    for y, text in ((int(h * 0.03), "WHEN SHE THINKS"), (int(h * 0.85), "NOBODY WILL SEE IT")):
        d.text((w // 10, y), text, font=ImageFont.load_default(size=size), fill=(255, 255, 255),
               stroke_width=max(1, size // 12), stroke_fill=(0, 0, 0))
    return np.asarray(pil)


def test_a_fake_under_censor_bars_and_a_caption_is_flagged():
    reg = F.photo_features(scene(1))
    fake = edit("noise", scene(1), BOX, seed=3)
    x, y, w, h = BOX
    fake[y + 60:y + 85, x - 30:x + w + 30] = 0  # a censor bar across the edit, reaching past it
    upload = Upload.from_rgb(jpeg_rgb(captioned(fake)))
    v = verify(reg, upload)
    assert v.outcome is Outcome.DERIVATIVE, v.reason
    rx, ry, rw, rh = v.edited_region  # holds the edit (the caption's lines may join it)
    assert rx <= x + w / 2 <= rx + rw and ry <= y + h / 2 <= ry + rh, v.edited_region


def test_a_captioned_unedited_photo_stays_a_reshare():
    v = verify(F.photo_features(scene(2)), Upload.from_rgb(jpeg_rgb(captioned(scene(2)))))
    assert v.outcome is Outcome.RESHARE, v.reason


def test_a_region_recoloured_with_its_structure_kept_is_flagged():
    img = scene(4)
    x, y, w, h = 150, 100, 450, 380  # 36 %: many of its keypoints still match after the recolouring
    part = cv2.edgePreservingFilter(img[y:y + h, x:x + w], flags=cv2.RECURS_FILTER, sigma_s=40, sigma_r=0.3)
    hsv = cv2.cvtColor(part, cv2.COLOR_RGB2HSV).astype(np.int16)
    hsv[..., 0] = (hsv[..., 0] + 60) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] * 1.3 + 20, 0, 255)
    fake = img.copy()
    fake[y:y + h, x:x + w] = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
    v = verify(F.photo_features(img), Upload.from_rgb(jpeg_rgb(fake)))
    assert v.outcome is Outcome.DERIVATIVE, v.reason


def test_a_photo_cropped_to_fill_a_cell_is_not_edited_where_it_meets_the_next_picture(monkeypatch):
    photo = scene(5, 1067, 600)  # 16:9, cropped to a 600 x 600 cell: its outline reaches 233 px past each side
    cell = photo[:, 233:833]
    neighbour = scene(31)[:, :400]
    upload = Upload.from_rgb(jpeg_rgb(np.concatenate([neighbour, cell], axis=1)), panels=False)
    reg = F.photo_features(photo)
    v = verify(reg, upload)
    assert v.outcome is Outcome.RESHARE, (v.reason, v.edited_region)
    monkeypatch.setattr(V, "_beyond_edge", lambda differs, visible: np.zeros_like(visible))
    assert verify(reg, upload).outcome is Outcome.DERIVATIVE  # what the next picture looked like before


def test_a_caption_line_three_cells_thick_is_an_overlay_but_a_block_is_not():
    # a caption in large letters on a tall photo (a twelfth of its height, with a stroke) spans three
    # rows of cells along most of the width: an overlay, not scattered differences; a compact
    # block of differences as thick (a second thing changed) is not
    cells = np.zeros((16, 16), bool)
    cells[13:16, 1:15] = True  # the caption's line
    cells[3:6, 2:7] = True  # a block 3 x 5
    bands = V._bands(cells)
    assert bands[13:16, 1:15].all()
    assert not bands[3:6, 2:7].any()
    thin = np.zeros((16, 16), bool)
    thin[8:10, 3:9] = True  # two cells thick: an overlay, as before
    assert V._bands(thin)[8:10, 3:9].all()
