"""Reference implementations of the marks candidate stage's exact speed-ups (issue 19, 2026-12-07 #7, HA): the code
before each speed-up, kept out of ``src`` for the tests (tests/unit/signals/test_mark_locate_fast.py) and
bench/marks_check/ha_alt.py, which compare the code's paths with them bit for bit. Each reads the module's constants at
call time, as the code does, so that a test's monkeypatch reaches both."""

from __future__ import annotations

import cv2
import numpy as np

from ncii_shield.signals.marks import describe as D
from ncii_shield.signals.marks import locate as L


def colour_labels_numpy(rgb: np.ndarray) -> np.ndarray:
    """``locate.colour_labels`` as numpy passes (its definition before 2026-12-07 #7)."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    h, s, v = cv2.split(hsv)
    label = cv2.LUT(h, L._HUES)  # red (from 340 degrees), yellow, ...
    label = np.where(s < 60, np.where(v < 150, np.uint8(1), np.uint8(2)), label)
    return np.where(v < 64, np.uint8(0), label)


def rects_numpy(contours: tuple) -> np.ndarray:
    """``locate._rects`` as numpy passes (its code before 2026-12-07 #7)."""
    n = np.fromiter(map(len, contours), np.int64, len(contours))
    points = np.concatenate(contours).reshape(-1, 2)
    starts = np.zeros(len(n), np.int64)
    np.cumsum(n[:-1], out=starts[1:])
    x0, x1 = np.minimum.reduceat(points[:, 0], starts), np.maximum.reduceat(points[:, 0], starts)
    y0, y1 = np.minimum.reduceat(points[:, 1], starts), np.maximum.reduceat(points[:, 1], starts)
    return np.stack([x0, y0, x1 - x0 + 1, y1 - y0 + 1], axis=1).astype(np.float64)


def join_parts_numpy(rects: np.ndarray) -> np.ndarray:
    """``locate.join_parts`` as numpy passes (its definition before 2026-12-07 #7)."""
    r = rects[rects[:, 3] >= L.JOIN_MIN_H]
    if len(r) < 2:
        return np.zeros((0, 4))
    if len(r) > L.JOIN_MAX_PARTS:
        r = r[np.argsort(-(r[:, 2] * r[:, 3]), kind="stable")[:L.JOIN_MAX_PARTS]]
    x0, y0, w, h = r[:, 0], r[:, 1], r[:, 2], r[:, 3]
    x1, y1 = x0 + w, y0 + h
    lo = np.minimum(h[:, None], h[None, :])
    row = np.minimum(y1[:, None], y1[None, :]) - np.maximum(y0[:, None], y0[None, :])
    gap = np.maximum(x0[:, None], x0[None, :]) - np.minimum(x1[:, None], x1[None, :])
    link = ((row >= L.JOIN_ROW * lo) & (gap <= L.JOIN_GAP * lo)
            & (np.maximum(h[:, None], h[None, :]) <= L.JOIN_HEIGHTS * lo))
    i, j = np.nonzero(np.triu(link, 1))
    if not len(i):
        return np.zeros((0, 4))
    group = np.arange(len(r))  # each part's group: the least part number it is joined to, spread along the links
    while True:
        least = np.minimum(group[i], group[j])
        before = group.copy()
        np.minimum.at(group, i, least)
        np.minimum.at(group, j, least)
        group = group[group]
        if np.array_equal(group, before):
            break
    ids, group, count = np.unique(group, return_inverse=True, return_counts=True)
    gx0 = np.full(len(ids), np.inf)
    gy0 = np.full(len(ids), np.inf)
    gx1 = np.full(len(ids), -np.inf)
    gy1 = np.full(len(ids), -np.inf)
    np.minimum.at(gx0, group, x0)
    np.minimum.at(gy0, group, y0)
    np.maximum.at(gx1, group, x1)
    np.maximum.at(gy1, group, y1)
    out = np.stack([gx0, gy0, gx1 - gx0, gy1 - gy0], axis=1)[count >= 2]
    return out[out[:, 2] <= L.JOIN_ASPECT * out[:, 3]]


def proposals_loops(rgb: np.ndarray, strengths: dict | None = None) -> np.ndarray:
    """``locate.proposals`` with each level's edges closed apart (its code before 2026-12-07 #7), the same tail
    (``locate._distinct``)."""
    out: list[np.ndarray] = []
    for f in L.SCALES:
        _, strength = L._strength_at(rgb, f, strengths)
        for level in L.GRADIENT_LEVELS:
            edges = cv2.threshold(strength, level, 1, cv2.THRESH_BINARY)[1]
            for k in L.CLOSE_WIDTHS:
                closed = cv2.morphologyEx(edges, cv2.MORPH_CLOSE,
                                          cv2.getStructuringElement(cv2.MORPH_RECT, (k, max(1, k // 2))))
                out.append(L._boxes(closed, f))
    return L._distinct(out)


def chosen_loops(named: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]], count: int) -> list[list]:
    """``describe._chosen`` as it was written before 2026-12-07 #7 (the pool as Python tuples, every class's
    well-named windows by mark first)."""
    pool: list[tuple[float, int, int, np.ndarray]] = []
    named_well: dict[tuple[int, int], np.ndarray] = {}  # (class, row) -> its windows (n, 4) named at least REFINE_UNTIL
    for k, (top, rows, windows) in named.items():
        well = np.flatnonzero(top[:, 0] >= D.REFINE_UNTIL)
        for row in np.unique(rows[well, 0]).tolist():
            named_well[(k, row)] = windows[well[rows[well, 0] == row]]
        for j in range(top.shape[1]):  # the best mark of the window and the second (off the mark, a window
            # may name another first)
            sel = np.flatnonzero((top[:, j] >= D.REFINE_FROM) & (top[:, j] < D.REFINE_UNTIL) & (rows[:, j] >= 0))
            sel = sel[np.argsort(-top[sel, j])][:4 * count]
            pool += [(float(top[i, j]), k, int(rows[i, j]), windows[i]) for i in sel.tolist()]
    pool.sort(key=lambda p: -p[0])
    chosen: list[list] = []  # [value, class, row, window]
    for value, k, row, window in pool:
        if any(c[1] == k and c[2] == row and D._iou(c[3], window) > 0.5 for c in chosen):
            continue
        well = named_well.get((k, row))
        if well is not None and bool((D._ious(well, window) > 0.3).any()):
            continue
        chosen.append([value, k, row, np.asarray(window, np.float64)])
        if len(chosen) == count:
            break
    return chosen
