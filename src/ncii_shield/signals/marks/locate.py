"""Where an overlay may be, whatever mark it is: boxes for the descriptor to name.

The keypoint votes (:mod:`ncii_shield.index.marks`) find small and faint marks badly: an upload's
3,000 ORB corners are mostly the photo's, and a 40-pixel mark often gets none. An overlay is
drawn, not photographed: its strokes have sharp edges against whatever lies under them, close
together, and little else of the same strength around them. :func:`proposals` finds such
*extents*: the upload's colour edges (a 3 x 3 morphological gradient, the strongest channel) above
a few strengths (the highest for busy photos, where the weaker edges join into one blob), closed
over letter gaps (a few kernel widths), at full and half size; each blob's outer contour of a
plausible shape gives a box. A photo gives many boxes too (a few hundred); they are cheap to
name, since the descriptor of any box is a few hundred look-ups
(:mod:`ncii_shield.signals.marks.describe`).

A mark stamped on a busy part of a photo closes into one blob with the photo's edges it touches,
at every strength, and the descriptor (sharp to a cell) names another mark at that blob's windows.
:func:`layer_boxes` cuts such blobs by colour: an overlay's strokes are one or two colours, the
photo's edges beside them mostly others, so the edges next to pixels of one coarse colour
(:func:`colour_labels`), closed apart from the rest, give the mark's own extent (2026-12-07 #3). A large thin word
stays apart letter by letter there: a layer's parts in a row are joined (:func:`join_parts`); and a word of the
photo's own coarse colour (a red word on skin) is cut by its chroma view's edges (:func:`view_boxes`, 2026-12-07 #6).

A box named by the descriptor is not yet evidence (round things in photos name ring marks well):
the check decides, with its own colour bar (:func:`ncii_shield.signals.marks.search.verify`).
:func:`colour_agreement` (the located candidates' colour gate until 2026-12-06 #4, now off by
default) asks whether the upload there changes *the way the mark would change it*. An
alpha-blended mark pulls the photo towards its own colours: brighter where the mark is light,
darker where it is dark (its outline), whatever the photo under it. So the upload's detail at the
box (its colour minus a local blur) correlates *with sign* with the mark's contrast over mid-grey,
where the check's orientation score is sign-free. A dark circular edge named as a white ring
mark correlates negatively or not at all.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np
from numba import njit

# edge strength (0-255, strongest channel) of an overlay's strokes; 140 (2026-12-06 #4): on a busy photo the
# weaker levels close into blobs over the whole picture, an opaque mark's outline still stands out at 140
GRADIENT_LEVELS = (40, 80, 140)
CLOSE_WIDTHS = (3, 7, 13)  # letter gaps closed, pixels at the level (height: half of it)
SCALES = (1.0, 0.5)  # the frame and its half
MIN_W, MIN_H, MIN_AREA = 6, 4, 60  # frame pixels at the level
MAX_ASPECT = 13.0
MAX_BOXES = 600  # the largest blobs first beyond this
# Colour layers (2026-12-07 #3): an edge blob often runs past the mark into the photo's edges it touches, and
# the descriptor, sharp to a cell, names another mark there. An overlay's strokes are one or two colours, the
# photo's edges beside it others: the edges next to pixels of one coarse colour (colour_labels: dark, grey,
# light, 6 hues), closed apart from the rest, give the blob of that colour alone (layer_boxes; the index names
# them under its own bars, index/marks.py LAYERS_*). Benchmark: 473 -> 497 of 776 targets (+24 -0), in the
# issue's scale range 337 -> 354 of 472, 0 / 387 false flags, best negative 0.694 -> 0.692
# (docs/benchmarks.md, "Service marks: the candidate boxes cut to the mark, 2026-12-07 #3").
COLOUR_LAYERS = True
COLOUR_LEVELS = (40,)  # edge strengths of the layers (GRADIENT_LEVELS' lowest: the colour keeps them apart)
COLOUR_WIDTHS = (7, 13)
COLOUR_SCALES = (1.0, 0.5)
# At full size the colour layers are closed at 7 only (2026-12-07 #4): 13 there is about the half size's 7.
# Benchmark (cands.py, 1,409 cached uploads, the check of f3593d3): candidate lists change on 38 uploads, the same
# 513 / 776 targets caught (368 / 472 in scope), 0 / 387 false flags, 0 wrong marks, best negative 0.723 and wrong
# mark 0.742 as before; ~11 ms less CPU an upload (alternated, loaded machine). At half size only (COLOUR_SCALES
# (0.5,)): 503 / 776 (364 / 472), 8 targets lost, dropped.
COLOUR_FULL_WIDTHS = (7,)  # the colour layers' widths at full size
COLOUR_MAX_BOXES = 400  # the largest layer blobs first beyond this (besides the MAX_BOXES edge blobs)
# Parts joined (2026-12-07 #6): a large, thin, outline-less coloured word (a red FAKE, a cyan AIGEN at 40-80 %
# opacity, 1.4-3x) stays apart letter by letter in its colour layer at every closing width, so no box has its
# extent. The parts of one layer (one colour, one width, one scale) that stand in a row (their rows overlap by
# JOIN_ROW of the lower one, heights within JOIN_HEIGHTS) with a letter-like gap between them (at most JOIN_GAP of
# the lower one's height) are joined, transitively; each group of 2+ parts gives its box (at most JOIN_ASPECT wide
# for its height), besides the parts' own (join_parts; named with the layers). Benchmark (cands.py, 1,409 cached
# uploads, the check of 634151c): 529 -> 535 of 776 targets (+6 -0), 384 -> 390 of 472 in scope, 0 / 387 false
# flags, best negative 0.740 and best wrong mark 0.742 as before (docs/benchmarks-history.md, 2026-12-07 #6).
JOIN_PARTS = True
JOIN_ROW = 0.6
JOIN_HEIGHTS = 2.0
JOIN_GAP = 0.8
JOIN_MIN_H = 8  # parts lower than this (pixels at the level) are not joined
JOIN_ASPECT = 13.0
JOIN_MAX_BOXES = 100  # the largest joined boxes first beyond this (besides the layers' COLOUR_MAX_BOXES)
JOIN_MAX_PARTS = 400  # the largest parts of a layer first beyond this: the join compares every pair (n x n), so a
# hostile upload of thousands of small parts costs bounded memory and time (the review of 2026-12-07 #6: 5,780 parts
# took 5.8 s and 1.3 GB); the benchmark's uploads have at most 322 (p99 141, every 8th photo's cached uploads)

# Chroma views' blobs (2026-12-07 #6): a translucent coloured word on a photo of its own hue (a red FAKE on skin or
# cork) shares its coarse colour with the photo, so its colour layer runs into the photo; seen through its chroma view
# (describe.projected: the colour less brightness) its strokes are the strongest edges there. The view's edges (a
# 3 x 3 morphological gradient of the projected frame) above VIEW_LEVELS, closed, give boxes (view_boxes), with their
# parts joined (JOIN_PARTS); the index names them in that view (index/marks.py VIEW_BLOBS).
VIEW_LEVELS = (64,)  # edge strength in the view (its units: search.projected's, 1.7 x a colour's projection)
VIEW_WIDTHS = (7, 13)
VIEW_FULL_WIDTHS = (7,)  # at full size (13 there is about the half size's 7)
VIEW_SCALES = (1.0, 0.5)
VIEW_MAX_BOXES = 200  # the largest first beyond this

cv2.setNumThreads(1)


def colour_labels(rgb: np.ndarray) -> np.ndarray:
    """A coarse colour of every pixel (uint8 0-8): dark (value < 64), grey and light (saturation < 60 of
    255, value under / over 150), else one of 6 hues of 60 degrees: red, yellow, green, cyan, blue, magenta
    (each centred on it; orange with red). From OpenCV's HSV in one compiled pass (:func:`_labels`; numpy's
    three ``np.where`` passes cost ~3 ms a 1024 x 768 frame, 2026-12-07 #7: the same labels as those passes', kept for
    the tests in tests/unit/signals/_marks_reference.py)."""
    hsv = np.ascontiguousarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV))
    out = np.empty(hsv.shape[:2], np.uint8)
    _labels(hsv, _HUES, out)
    return out


@njit(nogil=True, cache=True)
def _labels(hsv: np.ndarray, hues: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``out`` (h, w) uint8: :func:`colour_labels` of an (h, w, 3) uint8 HSV image (OpenCV's 0-180 hue)."""
    for y in range(hsv.shape[0]):
        for x in range(hsv.shape[1]):
            s, v = hsv[y, x, 1], hsv[y, x, 2]
            if v < 64:
                out[y, x] = 0
            elif s < 60:
                out[y, x] = 1 if v < 150 else 2
            else:
                out[y, x] = hues[hsv[y, x, 0]]


_HUES = (3 + np.minimum((np.arange(256) + 10) % 180 // 30, 5)).astype(np.uint8)  # colour_labels' hue labels
_WARM = threading.Lock()
_warmed = False


def warm_up() -> None:
    """Load the compiled kernel (numba's on-disk cache, or a compile) once per process, where a mark index is made."""
    global _warmed
    with _WARM:
        if not _warmed:
            colour_labels(np.zeros((2, 2, 3), np.uint8))
            join_parts(np.array([[0.0, 0.0, 10.0, 10.0], [12.0, 0.0, 10.0, 10.0]]))
            _rects((np.zeros((1, 1, 2), np.int32),))
            _warmed = True


def _rects(contours: tuple) -> np.ndarray:
    """``cv2.boundingRect`` of each contour, (n, 4) float64 x, y, w, h, all at once (a few thousand contours an
    upload: a Python call each cost ~1 us and a tuple); the bounds in one compiled pass (:func:`_bounds`; numpy's
    four ``reduceat`` and a stack cost ~1 ms an upload more, 2026-12-07 #7: the same boxes as the numpy passes'
    before it, kept for the tests in tests/unit/signals/_marks_reference.py)."""
    n = np.fromiter(map(len, contours), np.int64, len(contours))
    points = np.concatenate(contours).reshape(-1, 2)
    out = np.empty((len(n), 4), np.float64)
    _bounds(points, n, out)
    return out


@njit(nogil=True, cache=True)
def _bounds(points: np.ndarray, counts: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``out[i]``: x, y, w, h of the ``counts[i]`` points (int32 x, y) of contour ``i`` (every contour has one or more)."""
    k = 0
    for i in range(len(counts)):
        x0 = x1 = points[k, 0]
        y0 = y1 = points[k, 1]
        for j in range(k + 1, k + counts[i]):
            x, y = points[j, 0], points[j, 1]
            x0, x1 = min(x0, x), max(x1, x)
            y0, y1 = min(y0, y), max(y1, y)
        k += counts[i]
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = x0, y0, x1 - x0 + 1, y1 - y0 + 1


def join_parts(rects: np.ndarray) -> np.ndarray:
    """The boxes of groups of 2+ ``rects`` (n, 4) x, y, w, h standing in a row with letter-like gaps (see
    :data:`JOIN_PARTS`): (m, 4), in the order of each group's first part. The pairs' test and the groups in one
    compiled pass (:func:`_joined`; ~20 numpy calls a layer cost ~2 ms an upload, 2026-12-07 #7); the same boxes as
    the numpy passes' before it (tests/unit/signals/_marks_reference.py)."""
    r = rects[rects[:, 3] >= JOIN_MIN_H]
    if len(r) < 2:
        return np.zeros((0, 4))
    if len(r) > JOIN_MAX_PARTS:
        r = r[np.argsort(-(r[:, 2] * r[:, 3]), kind="stable")[:JOIN_MAX_PARTS]]
    out = np.empty((len(r) // 2, 4), np.float64)
    m = _joined(np.ascontiguousarray(r, np.float64), float(JOIN_ROW), float(JOIN_GAP), float(JOIN_HEIGHTS),
                float(JOIN_ASPECT), out)
    return out[:m]


@njit(nogil=True, cache=True)
def _joined(r: np.ndarray, row_share: float, gap_share: float, heights: float, aspect: float,
            out: np.ndarray) -> int:  # pragma: no cover - compiled
    """:func:`join_parts` of ``r`` (n, 4), at most :data:`JOIN_MAX_PARTS`, each at least :data:`JOIN_MIN_H` high:
    the groups' boxes written to ``out`` (at most n // 2 groups of 2+), their count returned. The pairs' test in
    numpy's float operations; each group is labelled by its least part (the label numpy's spreading gives), the
    groups in that order."""
    n = r.shape[0]
    group = np.arange(n)
    for i in range(n):
        x0i, y0i, hi = r[i, 0], r[i, 1], r[i, 3]
        x1i, y1i = x0i + r[i, 2], y0i + hi
        for j in range(i + 1, n):
            x0j, y0j, hj = r[j, 0], r[j, 1], r[j, 3]
            x1j, y1j = x0j + r[j, 2], y0j + hj
            lo = min(hi, hj)
            if (min(y1i, y1j) - max(y0i, y0j) >= row_share * lo and max(x0i, x0j) - min(x1i, x1j) <= gap_share * lo
                    and max(hi, hj) <= heights * lo):
                a, b = i, j  # union: the root of each is its least part
                while group[a] != a:
                    a = group[a]
                while group[b] != b:
                    b = group[b]
                if a < b:
                    group[b] = a
                elif b < a:
                    group[a] = b
    count = np.zeros(n, np.int64)
    for i in range(n):
        a = i
        while group[a] != a:
            a = group[a]
        group[i] = a
        count[a] += 1
    m = 0
    for g in range(n):
        if count[g] < 2:
            continue
        gx0, gy0, gx1, gy1 = np.inf, np.inf, -np.inf, -np.inf
        for i in range(g, n):
            if group[i] == g:
                gx0 = min(gx0, r[i, 0])
                gy0 = min(gy0, r[i, 1])
                gx1 = max(gx1, r[i, 0] + r[i, 2])
                gy1 = max(gy1, r[i, 1] + r[i, 3])
        w, h = gx1 - gx0, gy1 - gy0
        if w <= aspect * h:
            out[m, 0], out[m, 1], out[m, 2], out[m, 3] = gx0, gy0, w, h
            m += 1
    return m


def _boxes(closed: np.ndarray, f: float, joined: list | None = None) -> np.ndarray:
    """The boxes of ``closed``'s blobs of a plausible shape, at ``f`` of the frame's size (in frame pixels); with
    ``joined``, the boxes of its parts joined (:func:`join_parts`) appended to it."""
    contours, _ = cv2.findContours(closed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return np.zeros((0, 4))
    s = _rects(contours)
    if joined is not None:
        joined.append(join_parts(s) / f)
    w, h = s[:, 2], s[:, 3]
    ok = (w >= MIN_W) & (h >= MIN_H) & (w * h >= MIN_AREA)
    ok &= np.maximum(w, h) <= MAX_ASPECT * np.minimum(w, h)
    return s[ok] / f


def _unique(boxes: np.ndarray, cap: int, known: np.ndarray | None = None) -> np.ndarray:
    key = np.round(boxes / 2).astype(np.int64)
    _, first = np.unique(key, axis=0, return_index=True)
    first = np.sort(first)
    if known is not None and len(known):
        seen = {tuple(k) for k in np.round(known / 2).astype(np.int64).tolist()}
        first = np.array([i for i in first.tolist() if tuple(key[i].tolist()) not in seen], np.int64)
    boxes = boxes[first].reshape(-1, 4)
    if len(boxes) > cap:
        boxes = boxes[np.argsort(-(boxes[:, 2] * boxes[:, 3]), kind="stable")[:cap]]
    return boxes


def _edge_strength(rgb: np.ndarray, f: float) -> tuple[np.ndarray, np.ndarray]:
    """The frame at ``f`` of its size and its colour edges' strength there: a 3 x 3 morphological gradient,
    the strongest channel (uint8)."""
    img = rgb if f == 1.0 else cv2.resize(rgb, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    b, g, r = cv2.split(cv2.morphologyEx(img, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)))
    return img, cv2.max(cv2.max(b, g), r)  # (numpy's max over the channel axis costs 20 times more)


def edge_strengths(rgb: np.ndarray) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """:func:`_edge_strength` at every scale :func:`proposals` and :func:`colour_layer_boxes` read (:data:`SCALES`,
    :data:`COLOUR_SCALES`), made once for both (2026-12-07 #7; each made its own before: the same arrays)."""
    return {f: _edge_strength(rgb, f) for f in dict.fromkeys(tuple(SCALES) + tuple(COLOUR_SCALES))}


def _strength_at(rgb: np.ndarray, f: float, strengths: dict | None) -> tuple[np.ndarray, np.ndarray]:
    made = strengths.get(f) if strengths is not None else None
    return made if made is not None else _edge_strength(rgb, f)


def colour_layer_boxes(rgb: np.ndarray, joined: list | None = None, strengths: dict | None = None) -> np.ndarray:
    """Blobs of the edges next to one coarse colour (:func:`colour_labels`), each colour apart: (n, 4); with
    ``joined``, each layer's parts joined (:func:`join_parts`) appended to it; ``strengths``: :func:`edge_strengths`
    made already."""
    out: list[np.ndarray] = []
    kernel = np.ones((3, 3), np.uint8)
    for f in COLOUR_SCALES:
        img, strength = _strength_at(rgb, f, strengths)
        label = colour_labels(img)
        for level in COLOUR_LEVELS:
            edges = cv2.threshold(strength, level, 1, cv2.THRESH_BINARY)[1]
            for c in range(9):
                near = cv2.bitwise_and(cv2.dilate(cv2.compare(label, c, cv2.CMP_EQ), kernel), edges)
                if cv2.countNonZero(near) < MIN_AREA // 4:
                    continue
                for k in COLOUR_FULL_WIDTHS if f == 1.0 else COLOUR_WIDTHS:
                    closed = cv2.morphologyEx(near, cv2.MORPH_CLOSE,
                                              cv2.getStructuringElement(cv2.MORPH_RECT, (k, max(1, k // 2))))
                    out.append(_boxes(closed, f, joined))
    return np.concatenate(out) if out else np.zeros((0, 4))


def layer_boxes(rgb: np.ndarray, known: np.ndarray | None = None, strengths: dict | None = None) -> np.ndarray:
    """The colour layers' blobs (:func:`colour_layer_boxes`) not among ``known`` (:func:`proposals`' boxes,
    to within 2 pixels), the largest :data:`COLOUR_MAX_BOXES`, then with :data:`JOIN_PARTS` their parts joined
    (:func:`join_parts`) not among those, the largest :data:`JOIN_MAX_BOXES`: (n, 4) float64 x, y, w, h.
    ``strengths``: :func:`edge_strengths` made already."""
    joined: list[np.ndarray] | None = [] if JOIN_PARTS else None
    boxes = colour_layer_boxes(rgb, joined, strengths)
    boxes = _unique(boxes, COLOUR_MAX_BOXES, known) if len(boxes) else boxes.reshape(0, 4)
    if joined:
        parts = np.concatenate(joined)
        if len(parts):
            seen = boxes if known is None or not len(known) else np.concatenate([known, boxes])
            boxes = np.concatenate([boxes, _unique(parts, JOIN_MAX_BOXES, seen)])
    return boxes


def view_boxes(projected: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
    """Blobs of a chroma view's edges (``projected``: (h, w) float32, :func:`describe.projected`), with their parts
    joined (:data:`JOIN_PARTS`), not among ``known`` (to within 2 pixels): (n, 4) float64 x, y, w, h. The view is
    brought to uint8 at half its contrast first (from -128 to 382 kept: a gradient of float32 cost 6 times more)."""
    out: list[np.ndarray] = []
    joined: list[np.ndarray] | None = [] if JOIN_PARTS else None
    half = cv2.convertScaleAbs(projected, alpha=0.5, beta=64.0)
    for f in VIEW_SCALES:
        img = half if f == 1.0 else cv2.resize(half, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        strength = cv2.morphologyEx(img, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
        for level in VIEW_LEVELS:
            edges = cv2.threshold(strength, level / 2, 1, cv2.THRESH_BINARY)[1]
            for k in VIEW_FULL_WIDTHS if f == 1.0 else VIEW_WIDTHS:
                closed = cv2.morphologyEx(edges, cv2.MORPH_CLOSE,
                                          cv2.getStructuringElement(cv2.MORPH_RECT, (k, max(1, k // 2))))
                out.append(_boxes(closed, f, joined))
    boxes = np.concatenate(out + (joined or []))
    return _unique(boxes, VIEW_MAX_BOXES, known) if len(boxes) else boxes.reshape(0, 4)


def proposals(rgb: np.ndarray, strengths: dict | None = None) -> np.ndarray:
    """Candidate extents of overlays in an (h, w, 3) uint8 frame: (n, 4) float64 x, y, w, h; ``strengths``:
    :func:`edge_strengths` made already."""
    out: list[np.ndarray] = []
    levels = sorted(set(GRADIENT_LEVELS))
    passed = np.array([sum(v > level for level in levels) for v in range(256)], np.uint8)
    for f in SCALES:
        _, strength = _strength_at(rgb, f, strengths)
        # the levels' edges are nested (an edge above 140 is above 80 and 40), so a closing of how many levels each
        # pixel passes, thresholded at a level, is that level's edges closed (a closing is a max then a min, and both
        # commute with a threshold): one closing a width for all the levels (2026-12-07 #7; the same masks)
        count = cv2.LUT(strength, passed)
        closed = {k: cv2.morphologyEx(count, cv2.MORPH_CLOSE,
                                      cv2.getStructuringElement(cv2.MORPH_RECT, (k, max(1, k // 2))))
                  for k in CLOSE_WIDTHS}
        for level in GRADIENT_LEVELS:
            for k in CLOSE_WIDTHS:
                out.append(_boxes(cv2.compare(closed[k], levels.index(level) + 1, cv2.CMP_GE), f))
    return _distinct(out)


def _distinct(out: list[np.ndarray]) -> np.ndarray:
    """The boxes of :func:`proposals`' passes, the same blob found at several strengths and widths kept once (in
    the order first found), at most :data:`MAX_BOXES` (the largest)."""
    boxes = np.concatenate(out) if out else np.zeros((0, 4))
    if not len(boxes):
        return boxes.reshape(0, 4)
    key = np.round(boxes / 2).astype(np.int64)
    _, first = np.unique(key, axis=0, return_index=True)
    boxes = boxes[np.sort(first)]
    if len(boxes) > MAX_BOXES:
        boxes = boxes[np.argsort(-(boxes[:, 2] * boxes[:, 3]), kind="stable")[:MAX_BOXES]]
    return boxes


def colour_agreement(contrast: np.ndarray, rgb: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Signed correlation (-1..1) of the upload's colour detail at ``box`` (x, y, w, h, frame pixels)
    with a mark's ``contrast`` (its template's colour minus mid-grey times its coverage, (h, w, 3)),
    the upload brought down to the template's size, both less a blur of a third of the shorter side.
    About 0 where the box shows something else, negative for the mark's shapes in other colours."""
    x, y, w, h = (int(round(v)) for v in box)
    H, W = rgb.shape[:2]
    th, tw = contrast.shape[:2]
    if x < -w // 4 or y < -h // 4 or x + w > W + w // 4 or y + h > H + h // 4 or w < 4 or h < 4:
        return -1.0
    if x < 0 or y < 0 or x + w > W or y + h > H:  # a box at the frame's edge: the edge's colours carried on
        crop = cv2.copyMakeBorder(rgb, h, h, w, w, cv2.BORDER_REPLICATE)[y + h:y + 2 * h, x + w:x + 2 * w]
    else:
        crop = rgb[y:y + h, x:x + w]
    # the upload brought to the template's size (at most 64 pixels a side): compare like with like
    f = min(1.0, max(tw / w, th / h))
    size = (max(4, round(w * f)), max(4, round(h * f)))
    u = cv2.resize(crop.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    c = cv2.resize(contrast.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    s = max(1.0, min(size) / 3)
    u = u - cv2.GaussianBlur(u, (0, 0), s)
    c = c - cv2.GaussianBlur(c, (0, 0), s)
    den = float(np.sqrt(float((u * u).sum()) * float((c * c).sum())))
    return float((u * c).sum()) / den if den > 1e-6 else 0.0
