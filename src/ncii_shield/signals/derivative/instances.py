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
   border and caption bands, a screenshot's bars: ``Upload.picture``), that picture on its own; a
   picture of a composite at least :data:`WIDE` times wider than high (two pictures of a row cut
   along no visible line) also half by half, when something was found in the upload; and up to
   :data:`~.panels.MAX_UNITS` boxes of the cut that may be one picture cut along its edit's edges
   (:func:`.panels.units`) as one;
3. every re-share found by a pass at a fraction of the resolution its box has in the upload (at
   most :data:`MAX_RECHECKS`: a collage whose pictures the cut missed, a picture in a frame the cut
   did not trim) cropped at its box and checked again, with the crop's own panels cut;
4. when no picture was cut: the other half of the upload, or the part beside an instance found by
   the whole pass (the other picture of a collage cut along no visible line), once; when nothing
   was found at all and the upload is at least :data:`WIDE` times wider than high (or higher than
   wide), both halves (two pictures side by side, each too small in the whole upload's frame).
5. when the upload is a composite and something was found in it: each of its pictures verified
   directly (no candidate search: :class:`Part`) against the registered photos found in its other
   pictures and not in it, at most :data:`MAX_SIBLING_CHECKS` verifications (:func:`_siblings`): a
   picture's own search can miss the photo a fake beside it was found from (a large patch leaves it
   a few votes). An upload where nothing was found pays nothing.

Instances of the same registered photo whose boxes overlap are one instance; a derivative verdict
wins over a re-share (the finer pass sees an edit the coarser one missed). In a wide region cut
nowhere, a derivative whose fit lies mostly in one half and whose edit lies in the other is a
re-share: the fit reached into the neighbouring picture (:func:`_across`).

Usage::

    for inst in find_instances(rgb, Upload.from_rgb(rgb), search):   # search: Upload -> [(tag, hit)]
        inst.verdict.outcome, inst.verdict.instance_box, inst.verdict.edited_outline
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace

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
TAKEN = 0.8  # a part of the upload this much inside an instance's box (or a part checked already) is not checked
ONE_SIDE = 0.6  # a fit with this share of its width in one half of a region cut nowhere belongs to that half
MAX_SIBLING_CHECKS = 6  # verifications of a composite's pictures against the photos found in its other pictures
SIBLING_PHOTOS = 3  # ... of them per picture
MAX_PICTURE_HALVES = 4  # halves of wide pictures of a composite checked on their own
WIDE = 1.9  # an upload this many times wider than high (or higher than wide), cut nowhere and where the whole
# pass found nothing, is checked half by half: two pictures side by side, each compared at under a third of
# the frame in the whole pass (too small for the candidate search's coarse keypoints)


@dataclass
class Part(Upload):
    """A picture of a composite to be verified against ``only`` these registered photos (found in
    another picture of the same upload), without a candidate search: see ``DerivativeIndex.check``."""

    only: tuple[int, ...] = field(default=())

    @classmethod
    def of(cls, upload: Upload, only: tuple[int, ...]) -> Part:
        return cls(**{f.name: getattr(upload, f.name) for f in fields(Upload) if f.init}, only=only)


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

    def look(part: Upload) -> list:
        # once an edit is flagged in the upload, a part's check does not search the rest of its query
        # descriptors for want of any hit (index/derivative.py REST_TEXT: a caption band, a meme's picture)
        part.rest_text = not any(i.verdict.outcome is Outcome.DERIVATIVE for i, _ in found)
        return search(part)

    pictures = upload.panels[:MAX_PANEL_CHECKS] if len(upload.panels) >= 2 else []
    composite = bool(pictures)
    units = upload.units if composite else []
    if not pictures and upload.picture:
        pictures = [upload.picture]
    checked = []
    uncut = [[0, 0, width, height]] if not pictures and _wide([0, 0, width, height]) else []
    halves = 0
    parts = []  # the composite's pictures checked on their own: (box in the upload's pixels, part)
    for box in pictures:
        px = upload.to_pixels(box)
        part = _part(rgb, px, panels=False)
        if part is None:
            continue
        got = _collect(look(part), px[0], px[1], part.scale)
        found += got
        checked.append(px)
        parts.append((px, part))
        if not composite or not _wide(px) or not found or any(
                _inside(px, i.verdict.instance_box) >= TAKEN for i, _ in found):
            continue
        # a picture of the cut that is itself two pictures side by side, cut along no visible line (a
        # collage's row of two photos scaled to its width, no gutter): each half on its own, unless an
        # instance found in the picture lies there already. Not for one picture in a frame (a photo
        # between a screenshot's bars), nor for a part of a photo that a cut took off it (a strip below
        # a horizon: the whole pass's instance covers it), nor when nothing of any registered photo
        # was found in the upload so far (an upload related to no registered photo, the common case,
        # pays no extra searches)
        uncut.append(px)
        for half in _halves_of(px):
            if halves >= MAX_PICTURE_HALVES or any(_overlap(half, i.verdict.instance_box) >= SAME_INSTANCE
                                                   for i, _ in got):
                continue
            halves += 1
            part = _part(rgb, half, panels=True)
            if part is not None:
                found += _collect(look(part), half[0], half[1], part.scale)
                checked.append(half)
    for box in units:
        # a picture cut along an edit's own edges (a patch replacing most of it, a censor bar across it:
        # lines no other part of the layout continues), checked as one: each piece alone is a crop of
        # the photo or a piece of another. Not when an edit was flagged in it already
        px = upload.to_pixels(box)
        if any(_iou(px, c) >= SAME_BOX for c in checked) or any(
                i.verdict.outcome is Outcome.DERIVATIVE and _inside(i.verdict.instance_box, px) >= TAKEN
                for i, _ in found):
            continue
        part = _part(rgb, px, panels=True)
        if part is not None:
            found += _collect(look(part), px[0], px[1], part.scale)
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
            found += _collect(look(part), box[0], box[1], part.scale)
    if composite and found:
        found += _siblings(parts, found, search)
    if not pictures and not found and uncut:
        for box in _halves_of(uncut[0]):  # across the longer side
            part = _part(rgb, box, panels=True)
            if part is not None:
                found += _collect(look(part), box[0], box[1], part.scale)
    elif not pictures:  # the part beside an instance: the other picture of a collage cut along no visible line
        halves_first, others = [], []
        for inst, s in found:
            if s == upload.scale:
                near, far = _rests([inst.verdict.instance_box], width, height)
                halves_first += [(b, inst.id) for b in near]
                others += [(b, inst.id) for b in far]
        others.sort(key=lambda p: -p[0][2] * p[0][3])
        for box, photo in halves_first + others:
            if any(_inside(box, c) >= TAKEN for c in checked + [i.verdict.instance_box for i, _ in found]):
                continue  # already seen on its own, or an instance fills it already
            if any(i.id == photo and _overlap(box, i.verdict.instance_box) >= SAME_INSTANCE for i, _ in found):
                continue  # an instance of the same photo lies there already
            # (a smaller instance of another photo there, e.g. the patch source of a fake in that half, or
            # a smaller part checked on its own, leaves room for the other picture: checked)
            part = _part(rgb, box, panels=True)
            if part is not None:
                found += _collect(look(part), box[0], box[1], part.scale)
            break  # one at most
    return _merge([_across(inst, uncut) for inst, _ in found])


def _siblings(parts: list, found: list[tuple[Instance, float]], search: Search) -> list[tuple[Instance, float]]:
    """The composite's pictures, each verified directly against the registered photos found in its
    other pictures and not in it (at most :data:`MAX_SIBLING_CHECKS` verifications
    in all, the photos found most often first): a before/after's fake half, the other fake beside a
    found one. A small picture's own candidate search can miss its photo (a fake cropped to fill a
    square cell, a large edit: 0-3 votes), where the fit itself, given the photo, still holds."""
    count: dict[int, int] = {}
    for inst, _ in found:
        count[inst.id] = count.get(inst.id, 0) + 1
    photos = sorted(count, key=lambda i: (-count[i], i))
    out, budget = [], MAX_SIBLING_CHECKS

    def filled(px: list[int]) -> bool:
        return any(_inside(px, i.verdict.instance_box) >= TAKEN for i, _ in found)

    # pictures where nothing fills the picture first; then the others (an instance of another photo
    # can fill a fake's picture: the source of a patch replacing most of it)
    for px, part in sorted(parts, key=lambda p: filled(p[0])):
        if budget <= 0:
            break
        here = {i.id for i, _ in found if _overlap(px, i.verdict.instance_box) >= SAME_INSTANCE}
        only = tuple(p for p in photos if p not in here)[:min(budget, SIBLING_PHOTOS)]
        if not only:
            continue
        budget -= len(only)
        out += _collect(search(Part.of(part, only)), px[0], px[1], part.scale)
    return out


def _wide(box: list[int]) -> bool:
    """Whether a box is at least :data:`WIDE` times wider than high (or higher than wide)."""
    return max(box[2], box[3]) >= WIDE * max(1, min(box[2], box[3]))


def _halves_of(box: list[int]) -> tuple[list[int], list[int]]:
    """A box's two halves across its longer side."""
    x, y, w, h = box
    if w >= h:
        return [x, y, w // 2, h], [x + w // 2, y, w - w // 2, h]
    return [x, y, w, h // 2], [x, y + h // 2, w, h - h // 2]


def _across(inst: Instance, uncut: list[list[int]]) -> Instance:
    """``inst``, a re-share when it is a derivative whose fit lies mostly in one half of a wide region
    cut nowhere (two pictures side by side along no visible line: the whole upload, or a picture of
    the cut) and whose edit lies in the other half: the registered photo's outline, wider than the
    picture it was fitted to, reached across into the neighbouring picture, and what differs there is
    that picture (two copies of a photo cropped to fill square cells: the strip of the other copy shows
    another part of the photo), not an edit of this one."""
    v = inst.verdict
    if v.outcome is not Outcome.DERIVATIVE or not v.instance_box or not v.edited_outline:
        return inst
    for region in uncut:
        if _inside(v.instance_box, region) < TAKEN:
            continue
        axis = 0 if region[2] >= region[3] else 1
        mid = region[axis] + region[axis + 2] / 2
        lo, hi = v.instance_box[axis], v.instance_box[axis] + v.instance_box[axis + 2]
        if not lo < mid < hi or max(mid - lo, hi - mid) < ONE_SIDE * (hi - lo):
            continue
        edit = float(np.mean([p[axis] for p in v.edited_outline]))
        if (edit - mid) * ((lo + hi) / 2 - mid) < 0:
            return replace(inst, verdict=replace(
                v, outcome=Outcome.RESHARE, edited_region=None, edited_share=0.0, edited_outline=None,
                reason=f"same photo; the differences ({v.reason}) lie in the picture beside it"))
    return inst


def _inside(a: list[int] | None, b: list[int] | None) -> float:
    """The share of box ``a`` inside box ``b``."""
    if not a or not b:
        return 0.0
    return _inter(a, b) / max(1, a[2] * a[3])


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


def _rests(boxes: list[list[int] | None], width: int, height: int) -> tuple[list[list[int]], list[list[int]]]:
    """The parts of the upload beside an instance's box: the other half of the upload when the box lies
    in one half (a two-picture collage: a photo cropped to fill its half reaches past it, so its box
    does), and what lies beside the box across the whole upload (left, right, above, below), each
    large enough to hold a picture, largest first."""
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
    return halves, out


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
