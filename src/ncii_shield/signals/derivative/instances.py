"""Every instance of a registered photo in an upload: each picture of a collage, a grid, a meme frame.

An upload can hold several pictures: a before/after collage (the registered photo beside a fake
made from it), a grid, a chat screenshot, a meme around a picture. Each instance is verified on its
own, and each edited one is flagged, even when another instance in the same upload is the
unedited photo. Passes, merged:

1. the whole upload: :func:`~.verify.verify` fits the registered photo, sets aside the part of the
   upload that fit covers and fits again (several instances of one photo), keeping each fit to the
   pictures of a composite that hold its inliers;
2. when the upload is a composite (:mod:`.panels` found two pictures or more), each picture on its
   own, at the upload's full resolution (a 2 x 2 grid's cells are a quarter of the upload: checked
   as part of the whole they would be compared at a quarter of the frame), at most
   :data:`MAX_PANEL_CHECKS` of them; when it holds one picture inside a much larger frame (a meme's
   border and caption bands, a screenshot's bars: ``Upload.picture``), that picture on its own;
3. every re-share found by a pass at a fraction of the resolution its box has in the upload (at
   most :data:`MAX_RECHECKS`: a collage whose pictures the cut missed, a picture in a frame the cut
   did not trim) cropped at its box and checked again, with the crop's own panels cut;
4. when no picture was cut: the other half of the upload, or the part beside an instance found by
   the whole pass (the other picture of a collage cut along no visible line), once; when nothing
   was found at all and the upload is at least :data:`WIDE` times wider than high (or higher than
   wide), both halves (two pictures side by side, each too small in the whole upload's frame).

Instances of the same registered photo whose boxes overlap are one instance; a derivative verdict
wins over a re-share (the finer pass sees an edit the coarser one missed).

Usage::

    for inst in find_instances(rgb, Upload.from_rgb(rgb), search):   # search: Upload -> [(tag, hit)]
        inst.verdict.outcome, inst.verdict.instance_box, inst.verdict.edited_outline
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ncii_shield.errors import InvalidSignal
from ncii_shield.signals.derivative.features import FRAME_SIDE
from ncii_shield.signals.derivative.verify import Outcome, Upload, Verdict

MAX_PANEL_CHECKS = 9  # pictures of a composite checked on their own (largest first; panels.MAX_PANELS)
SAME_INSTANCE = 0.5  # boxes overlapping by this share of the smaller one are one instance
MAX_RECHECKS = 3  # instances found at a fraction of the upload's resolution, checked again on their own
RECHECK_GAIN = 1.3  # ... when a crop at their box gives this many times the resolution they were compared at
SAME_BOX = 0.8  # IoU with a picture already checked on its own above which a box is not checked again
REST_SHARE = 0.25  # the part of the upload beside an instance is checked on its own when this share of it
REST_SIDE = 0.35  # ... and at least this share of the upload's side across
HALF_BOX = 0.7  # a box at most this share of the upload's side, in one half of it: the other half is checked
WIDE = 1.9  # an upload this many times wider than high (or higher than wide), cut nowhere and where the whole
# pass found nothing, is checked half by half: two pictures side by side, each compared at under a third of
# the frame in the whole pass (too small for the candidate search's coarse keypoints)


@dataclass(frozen=True)
class Instance:
    """One instance of registered photo ``id`` in the upload (``tag``: the caller's, e.g. its bank)."""

    id: int
    tag: object
    votes: int
    verdict: Verdict  # instance_box, edited_outline and transform in the upload's own pixels


Search = Callable[[Upload], list]  # an upload -> [(tag, hit with .id, .votes, .verdict)]


def find_instances(rgb: np.ndarray, upload: Upload, search: Search) -> list[Instance]:
    """Every instance found (re-shares and derivatives), derivatives first, then by score.

    Passes: the whole upload; each picture of a composite (or the one picture inside a frame much
    larger than it: a meme, a screenshot) on its own; then every instance that a pass compared at
    a fraction of the resolution it has in the upload (a collage whose pictures were not cut
    apart: the whole upload is brought to 640 pixels, so a quarter of it is compared at half its
    own resolution) is cropped at its box and checked again, as is the part of the upload beside
    it when no picture was cut (a second picture of a collage cut along no visible line)."""
    height, width = rgb.shape[:2]
    found = _collect(search(upload), 0, 0, upload.scale)
    pictures = upload.panels[:MAX_PANEL_CHECKS] if len(upload.panels) >= 2 else []
    if not pictures and upload.picture:
        pictures = [upload.picture]
    checked = []
    for box in pictures:
        px = upload.to_pixels(box)
        part = _part(rgb, px, panels=False)
        if part is not None:
            found += _collect(search(part), px[0], px[1], part.scale)
            checked.append(px)
    rechecks = [(inst, scale) for inst, scale in found if inst.verdict.outcome is Outcome.RESHARE]
    rechecks.sort(key=lambda p: -_gain(p[0].verdict.instance_box, p[1], width, height))
    done = 0
    for inst, scale in rechecks:
        box = _clip(inst.verdict.instance_box, width, height)
        if done >= MAX_RECHECKS or box is None or _gain(box, scale, width, height) < RECHECK_GAIN:
            continue
        if any(_iou(box, c) >= SAME_BOX for c in checked):
            continue
        part = _part(rgb, box, panels=True)
        done += 1
        checked.append(box)
        if part is not None:
            found += _collect(search(part), box[0], box[1], part.scale)
    if not pictures and not found and max(width, height) >= WIDE * min(width, height):
        left, right, top, bottom = _halves(width, height)
        for box in ((left, right) if width >= height else (top, bottom)):  # across the longer side
            part = _part(rgb, box, panels=True)
            if part is not None:
                found += _collect(search(part), box[0], box[1], part.scale)
    elif not pictures:  # the part beside an instance: the other picture of a collage cut along no visible line
        for box in _rests([i.verdict.instance_box for i, s in found if s == upload.scale], width, height):
            taken = checked + [i.verdict.instance_box for i, _ in found]
            if any(_overlap(box, c) >= SAME_INSTANCE for c in taken):
                continue  # already seen on its own, or an instance lies there already
            part = _part(rgb, box, panels=True)
            if part is not None:
                found += _collect(search(part), box[0], box[1], part.scale)
            break  # one at most
    return _merge([inst for inst, _ in found])


def _part(rgb: np.ndarray, box: list[int], *, panels: bool) -> Upload | None:
    x, y, w, h = box
    try:
        return Upload.from_rgb(np.ascontiguousarray(rgb[y:y + h, x:x + w]), panels=panels)
    except InvalidSignal:  # too small to compare
        return None


def _clip(box: list[int] | None, width: int, height: int) -> list[int] | None:
    if not box:
        return None
    x0, y0 = max(0, box[0]), max(0, box[1])
    x1, y1 = min(width, box[0] + box[2]), min(height, box[1] + box[3])
    return [x0, y0, x1 - x0, y1 - y0] if x1 > x0 and y1 > y0 else None


def _gain(box: list[int] | None, scale: float, width: int, height: int) -> float:
    """How many times finer a crop at ``box`` would compare it than the pass at ``scale`` did."""
    box = _clip(box, width, height)
    if box is None:
        return 0.0
    own = min(1.0, FRAME_SIDE / max(box[2], box[3]))
    return own / min(1.0, scale)


def _rests(boxes: list[list[int] | None], width: int, height: int) -> list[list[int]]:
    """The parts of the upload beside an instance's box: first the other half of the upload when the
    box lies in one half (a two-picture collage: a photo cropped to fill its half reaches past it, so
    its box does), then what lies beside the box across the whole upload (left, right, above,
    below); each large enough to hold a picture, largest first."""
    halves, out = [], []
    for box in boxes:
        box = _clip(box, width, height)
        if box is None:
            continue
        x, y, w, h = box
        cx, cy = x + w / 2, y + h / 2
        left, right, top, bottom = _halves(width, height)
        if w <= HALF_BOX * width:
            halves.append(right if cx < width / 2 else left)
        if h <= HALF_BOX * height:
            halves.append(bottom if cy < height / 2 else top)
        for rest in ([0, 0, x, height], [x + w, 0, width - x - w, height], [0, 0, width, y],
                     [0, y + h, width, height - y - h]):
            across = rest[2] / width if rest[3] == height else rest[3] / height
            if rest[2] * rest[3] >= REST_SHARE * width * height and across >= REST_SIDE:
                out.append(rest)
    out.sort(key=lambda b: -b[2] * b[3])
    return halves + out


def _halves(width: int, height: int) -> tuple[list[int], list[int], list[int], list[int]]:
    """The upload's left, right, top and bottom halves as boxes."""
    return ([0, 0, width // 2, height], [width // 2, 0, width - width // 2, height],
            [0, 0, width, height // 2], [0, height // 2, width, height - height // 2])


def _inter(a: list[int], b: list[int]) -> int:
    """The area two [x, y, w, h] boxes share."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    return max(0, x1 - x0) * max(0, y1 - y0)


def _iou(a: list[int], b: list[int]) -> float:
    inter = _inter(a, b)
    return inter / max(1, a[2] * a[3] + b[2] * b[3] - inter)


def _collect(hits: list, dx: int, dy: int, scale: float) -> list[tuple[Instance, float]]:
    """The instances of a pass, in the whole upload's pixels, each with the pass's scale."""
    out = []
    for tag, hit in hits:
        for v in hit.verdict.instances or [hit.verdict]:
            if v.outcome is not Outcome.NONE:
                out.append((Instance(hit.id, tag, hit.votes, _shifted(v, dx, dy) if dx or dy else v), scale))
    return out


def _shifted(v: Verdict, dx: int, dy: int) -> Verdict:
    """A verdict on a part of the upload cut at (dx, dy), in the whole upload's pixels."""
    box = [v.instance_box[0] + dx, v.instance_box[1] + dy, *v.instance_box[2:]] if v.instance_box else None
    outline = [[a + dx, b + dy] for a, b in v.edited_outline] if v.edited_outline else None
    transform = None
    if v.transform:
        t = np.array(v.transform, np.float64)
        t[:, 2] -= t[:, :2] @ np.array([dx, dy], np.float64)
        transform = [[round(float(c), 4) for c in row] for row in t]
    return replace(v, instance_box=box, edited_outline=outline, transform=transform, instances=[])


def _overlap(a: list[int] | None, b: list[int] | None) -> float:
    if not a or not b:
        return 1.0  # without a box, the same photo is the same instance
    return _inter(a, b) / max(1, min(a[2] * a[3], b[2] * b[3]))


def _merge(found: list[Instance]) -> list[Instance]:
    rank = sorted(found, key=lambda i: (i.verdict.outcome is not Outcome.DERIVATIVE, -i.verdict.score))
    kept: list[Instance] = []
    for inst in rank:
        if not any(k.id == inst.id and _overlap(k.verdict.instance_box, inst.verdict.instance_box) >= SAME_INSTANCE
                   for k in kept):
            kept.append(inst)
    return kept
