"""Checking a candidate place for a mark in an upload, and the upload's prepared frame.

An upload is brought once to a *frame* (longer side at most :data:`FRAME_SIDE`): its colour
pixels for checking and its upright keypoints for the index's candidate search
(:mod:`ncii_shield.index.marks`). A candidate (a mark, a place and a size) is checked by
correlating the mark's contrast with the frame around that place, at up to :data:`FINE_SIDE`
pixels a side, over a small range of positions and sizes (:func:`verify`); the best normalised
cross-correlation is the score.

Both sides are high-passed first (less their blur at :data:`FINE_SIGMA` pixels), so a photo's
shading and smooth gradients do not hide a faint mark, and colour channels are correlated
together, so a red mark on a grey photo counts as much as a white one. Correlating with what the
mark adds to a photo (its contrast) rather than with its colours makes the score independent of
opacity on a plain background; on a busy one it falls as opacity falls. Other text or logos
correlate weakly, since their strokes do not fall where the mark's do::

    frame = UploadFrame.from_rgb(rgb)
    score, box = verify(Prepared.of(template), frame, (x, y, w, h))   # frame pixels
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ncii_shield.signals.marks.features import upload_keypoints
from ncii_shield.signals.marks.template import MarkTemplate

FRAME_SIDE = 1024
WIDE_SIDE = (32, 10)  # the check's resolution: the mark's longer side, or its shorter side if that is more
WIDE_SCALES = (0.72, 0.83, 0.94, 1.06, 1.2, 1.36)
FINE_SIDE = (48, 18)
MAX_SIDE = 160  # but never more than this on the longer side
FINE_SIGMA = 2.0
FINE_SCALES = (0.96, 0.98, 1.0, 1.02, 1.04)
PARTS = 4
MIN_SPREAD = 1.5  # a window flatter than this (grey levels, after the high-pass) cannot hold a mark
THRESHOLD = 0.65  # weakest part correlation for a mark to be reported (negatives scored at most 0.61 in the benchmark)

cv2.setNumThreads(1)


@dataclass
class UploadFrame:
    """An upload brought to the frame: float32 colour pixels, grey uint8, and its keypoints."""

    rgb: np.ndarray
    grey: np.ndarray
    to_upload: float  # upload pixels per frame pixel
    _keypoints: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    @classmethod
    def from_rgb(cls, rgb: np.ndarray) -> UploadFrame:
        frame = np.ascontiguousarray(rgb[:, :, :3])
        h, w = frame.shape[:2]
        factor = min(1.0, FRAME_SIDE / max(h, w))
        if factor < 1.0:
            frame = cv2.resize(frame, (max(1, round(w * factor)), max(1, round(h * factor))),
                               interpolation=cv2.INTER_AREA)
        return cls(frame.astype(np.float32), cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), 1.0 / factor)

    @property
    def keypoints(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(positions (n, 2), sizes (n,), descriptors (n, 32)) in frame pixels, computed once."""
        if self._keypoints is None:
            self._keypoints = upload_keypoints(self.grey)
        return self._keypoints

    def to_upload_box(self, box: tuple[int, int, int, int]) -> list[int]:
        return [int(round(v * self.to_upload)) for v in box]


@dataclass
class Prepared:
    """A template ready to check: its contrast (h, w, 3) float32."""

    template: MarkTemplate
    contrast: np.ndarray
    alpha: np.ndarray  # (h, w) float32 0..1
    colour: np.ndarray  # (h, w, 3) float32

    @classmethod
    def of(cls, template: MarkTemplate) -> Prepared:
        return cls(template, template.contrast, template.alpha.astype(np.float32) / 255.0,
                   template.colour.astype(np.float32))


def verify(prepared: Prepared, frame: UploadFrame, box: tuple[float, float, float, float],
           ) -> tuple[float, tuple[int, int, int, int]] | None:
    """The mark's score near ``box`` (x, y, w, h in frame pixels: its place and size as a candidate
    says): ``(score, box)``, or None when the place lies outside the frame.

    A wide search (sizes within :data:`WIDE_SCALES` of the candidate's, places within a third of
    the mark) at :data:`WIDE_SIDE` pixels, then a close one at :data:`FINE_SIDE`. The score is the
    weakest correlation among the mark's parts (:data:`PARTS` along its longer side, or 2 x 2 for a
    squarish mark) at the best place: other text in the same font and colour shares letters with
    the mark, but not all of them in the same places."""
    x, y, w, h = box
    if w < 4 or h < 4:
        return None
    wide = _search(prepared, frame, box, WIDE_SIDE, WIDE_SCALES, 0.3)
    if wide is None:
        return None
    found = _search(prepared, frame, wide[1], FINE_SIDE, FINE_SCALES, 0.05)
    if found is None:
        return None
    return max(_part_score(found[2], found[3]), _part_score(found[2], _adapted(prepared, found[4]))), found[1]


def _adapted(prepared: Prepared, raw: np.ndarray) -> np.ndarray:
    """The mark's contrast against the upload's own local colour at the found place (the raw patch,
    not high-passed), instead of against mid-grey: on a light area a white mark's fill fades and its
    dark outline carries it, on a dark area the other way round."""
    th, tw = raw.shape[:2]
    a = cv2.resize(prepared.alpha, (tw, th), interpolation=cv2.INTER_AREA)[:, :, None]
    c = cv2.resize(prepared.colour, (tw, th), interpolation=cv2.INTER_AREA)
    background = cv2.GaussianBlur(raw, (0, 0), max(2.0, min(tw, th) / 3), borderType=cv2.BORDER_REFLECT)
    expected = a * (c - background)
    pad = int(3 * FINE_SIGMA) + 1
    padded = cv2.copyMakeBorder(expected, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    padded = padded - cv2.GaussianBlur(padded, (0, 0), FINE_SIGMA, borderType=cv2.BORDER_CONSTANT)
    return np.ascontiguousarray(padded[pad:pad + th, pad:pad + tw])


def _crop(frame: UploadFrame, region: tuple[int, int, int, int], factor: float) -> tuple[np.ndarray, np.ndarray]:
    """A region of the frame at ``factor``, high-passed with its surroundings, and as it is."""
    x0, y0, x1, y1 = region
    fh, fw = frame.rgb.shape[:2]
    context = 3 * FINE_SIGMA / factor + 2
    cx0, cy0 = max(0, int(x0 - context)), max(0, int(y0 - context))
    cx1, cy1 = min(fw, int(x1 + context)), min(fh, int(y1 + context))
    wide = frame.rgb[cy0:cy1, cx0:cx1]
    if factor < 1.0:
        wide = cv2.resize(wide, (max(1, round(wide.shape[1] * factor)), max(1, round(wide.shape[0] * factor))),
                          interpolation=cv2.INTER_AREA)
    ox, oy = round((x0 - cx0) * factor), round((y0 - cy0) * factor)
    cut = (slice(oy, oy + max(1, round((y1 - y0) * factor))), slice(ox, ox + max(1, round((x1 - x0) * factor))))
    return high_pass(wide, FINE_SIGMA)[cut], wide[cut]


def _factor(w: float, h: float, side: tuple[int, int]) -> float:
    """Scale of a check: the mark's longer side at side[0] or its shorter at side[1], whichever is more."""
    return min(1.0, max(side[0] / max(w, h), side[1] / min(w, h)), MAX_SIDE / max(w, h))


def _search(prepared: Prepared, frame: UploadFrame, box: tuple[float, float, float, float], side: tuple[int, int],
            scales: tuple[float, ...], reach: float,
            ) -> tuple[float, tuple[int, int, int, int], np.ndarray, np.ndarray, np.ndarray] | None:
    """Best correlation for sizes ``box`` x ``scales`` and places within ``reach`` of the mark's size:
    (score, frame box, the upload's patch there (high-passed), the template, and the raw patch, all at
    the check's scale)."""
    x, y, w, h = box
    factor = _factor(w, h, side)
    fh, fw = frame.rgb.shape[:2]
    mx, my = reach * w + 2, reach * h + 2
    x0, y0 = max(0, int(x - mx - w * (max(scales) - 1) / 2)), max(0, int(y - my - h * (max(scales) - 1) / 2))
    x1 = min(fw, int(np.ceil(x + w * (1 + max(scales)) / 2 + mx)))
    y1 = min(fh, int(np.ceil(y + h * (1 + max(scales)) / 2 + my)))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    crop, raw = _crop(frame, (x0, y0, x1, y1), factor)
    best: tuple[float, tuple[int, int, int, int], np.ndarray, np.ndarray, np.ndarray] | None = None
    for m in scales:
        tw, th = round(w * factor * m), round(h * factor * m)
        if min(tw, th) < 3 or tw > crop.shape[1] or th > crop.shape[0]:
            continue
        t = _template_at(prepared.contrast, (tw, th), FINE_SIGMA)
        if float(t.std()) < 1e-3:
            continue
        r = cv2.matchTemplate(crop, t, cv2.TM_CCOEFF_NORMED)
        r[_window_spread(crop, tw, th) < MIN_SPREAD] = 0.0  # flat windows' correlation is noise
        _, score, _, (px, py) = cv2.minMaxLoc(r)
        if best is None or score > best[0]:
            best = (float(score), (int(round(x0 + px / factor)), int(round(y0 + py / factor)),
                                   int(round(tw / factor)), int(round(th / factor))), crop[py:py + th, px:px + tw], t,
                    raw[py:py + th, px:px + tw])
    return best


def _part_score(crop: np.ndarray, t: np.ndarray) -> float:
    """The weakest correlation among the mark's parts (and the whole mark's, if lower)."""
    scores = [_ncc(crop, t)]
    th, tw = t.shape[:2]
    if tw >= 1.6 * th:
        n = int(min(PARTS, max(2, round(tw / th))))
        edges = np.linspace(0, tw, n + 1).round().astype(int)
        parts = [(slice(None), slice(a, b)) for a, b in zip(edges[:-1], edges[1:])]
    elif th >= 1.6 * tw:
        n = int(min(PARTS, max(2, round(th / tw))))
        edges = np.linspace(0, th, n + 1).round().astype(int)
        parts = [(slice(a, b), slice(None)) for a, b in zip(edges[:-1], edges[1:])]
    else:
        parts = [(slice(a, b), slice(c, d)) for a, b in ((0, th // 2), (th // 2, th)) for c, d in ((0, tw // 2), (tw // 2, tw))]
    total = float((t * t).sum())
    for part in parts:
        tp = t[part]
        if float((tp * tp).sum()) < 0.08 * total:  # a part with little of the mark (a gap) says little
            continue
        scores.append(_ncc(crop[part], tp))
    return float(min(scores))


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean(axis=(0, 1))
    b = b - b.mean(axis=(0, 1))
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum()) / denominator if denominator > 1e-6 else 0.0


def _window_spread(image: np.ndarray, tw: int, th: int) -> np.ndarray:
    """Standard deviation of every tw x th window (by its top-left corner), over all channels."""
    total, squares = cv2.integral2(image, sdepth=cv2.CV_64F)
    n = tw * th * (image.shape[2] if image.ndim == 3 else 1)

    def windows(table: np.ndarray) -> np.ndarray:
        summed = table[th:, tw:] - table[:-th, tw:] - table[th:, :-tw] + table[:-th, :-tw]
        return summed.sum(axis=2) if summed.ndim == 3 else summed

    mean = windows(total) / n
    return np.sqrt(np.maximum(windows(squares) / n - mean * mean, 0.0))


def high_pass(image: np.ndarray, sigma: float) -> np.ndarray:
    """``image`` less its Gaussian blur: shading and gradients go, edges and strokes stay."""
    return image - cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def _template_at(contrast: np.ndarray, size: tuple[int, int], sigma: float) -> np.ndarray:
    """The mark's contrast at ``size`` (w, h), high-passed as if stamped on a plain photo."""
    small = cv2.resize(contrast, size, interpolation=cv2.INTER_AREA)
    pad = int(3 * sigma) + 1
    padded = cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    padded = padded - cv2.GaussianBlur(padded, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
    return np.ascontiguousarray(padded[pad:pad + size[1], pad:pad + size[0]])


def overlap(a: tuple[float, ...] | list, b: tuple[float, ...] | list) -> float:
    """Intersection over union of two boxes (x, y, w, h)."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    union = a[2] * a[3] + b[2] * b[3] - ix * iy
    return ix * iy / union if union > 0 else 0.0
