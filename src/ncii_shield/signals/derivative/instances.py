"""Every instance of a registered photo in an upload: each picture of a collage, a grid, a meme frame.

An upload can hold several pictures: a before/after collage (the registered photo beside a fake
made from it), a grid, a chat screenshot, a meme around a picture. Each instance is verified on its
own, and each edited one is flagged, even when another instance in the same upload is the
unedited photo. Two passes, merged:

1. the whole upload: :func:`~.verify.verify` fits the registered photo, sets aside the part of the
   upload that fit covers and fits again (several instances of one photo), keeping each fit to the
   pictures of a composite that hold its inliers;
2. when the upload is a composite (:mod:`.panels` found two pictures or more), each picture on its
   own, at the upload's full resolution (a 2 x 2 grid's cells are a quarter of the upload: checked
   as part of the whole they would be compared at a quarter of the frame), at most
   :data:`MAX_PANEL_CHECKS` of them.

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
from ncii_shield.signals.derivative.verify import Outcome, Upload, Verdict

MAX_PANEL_CHECKS = 9  # pictures of a composite checked on their own (largest first; panels.MAX_PANELS)
SAME_INSTANCE = 0.5  # boxes overlapping by this share of the smaller one are one instance


@dataclass(frozen=True)
class Instance:
    """One instance of registered photo ``id`` in the upload (``tag``: the caller's, e.g. its bank)."""

    id: int
    tag: object
    votes: int
    verdict: Verdict  # instance_box, edited_outline and transform in the upload's own pixels


Search = Callable[[Upload], list]  # an upload -> [(tag, hit with .id, .votes, .verdict)]


def find_instances(rgb: np.ndarray, upload: Upload, search: Search) -> list[Instance]:
    """Every instance found (re-shares and derivatives), derivatives first, then by score."""
    found = _collect(search(upload), 0, 0)
    if len(upload.panels) >= 2:
        for box in upload.panels[:MAX_PANEL_CHECKS]:
            x, y, w, h = upload.to_pixels(box)
            try:
                part = Upload.from_rgb(np.ascontiguousarray(rgb[y:y + h, x:x + w]), panels=False)
            except InvalidSignal:  # too small to compare
                continue
            found += _collect(search(part), x, y)
    return _merge(found)


def _collect(hits: list, dx: int, dy: int) -> list[Instance]:
    out = []
    for tag, hit in hits:
        for v in hit.verdict.instances or [hit.verdict]:
            if v.outcome is not Outcome.NONE:
                out.append(Instance(hit.id, tag, hit.votes, _shifted(v, dx, dy) if dx or dy else v))
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
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    return inter / max(1, min(a[2] * a[3], b[2] * b[3]))


def _merge(found: list[Instance]) -> list[Instance]:
    rank = sorted(found, key=lambda i: (i.verdict.outcome is not Outcome.DERIVATIVE, -i.verdict.score))
    kept: list[Instance] = []
    for inst in rank:
        if not any(k.id == inst.id and _overlap(k.verdict.instance_box, inst.verdict.instance_box) >= SAME_INSTANCE
                   for k in kept):
            kept.append(inst)
    return kept
