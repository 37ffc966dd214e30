"""Keypoints of a mark, for finding candidate places in an upload whatever the number of marks.

A mark is drawn at several sizes over several backgrounds (plain grey, dark, light, two textures)
at full and half opacity, and upright ORB keypoints are taken from each drawing: the descriptors
that the mark's corners and strokes give in an upload, whatever lies under it. Each keypoint keeps
its place in the mark and its size, both in units of the mark's longer side, so one keypoint
matched in an upload says where the whole mark would be and how large (see
:mod:`ncii_shield.index.marks`). The upload's keypoints come from :func:`upload_keypoints`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

DRAW_SIDES = (24, 32, 44, 60, 84, 120, 170)  # the mark's longer side in each drawing, pixels
BACKGROUNDS = ("grey", "dark", "light", "fine", "coarse")
OPACITIES = (1.0, 0.5)
MAX_KEYPOINTS = 400  # per mark
UPLOAD_KEYPOINTS = 3000
# FAST's threshold for the upload's corners (the marks' own keep 6): 8 since 2026-12-07 #5, ORB ~23 -> ~20 ms an
# upload with the same caught targets, landings, negatives and stress on the benchmark's cache (6 before; 10 saved
# ~4 ms but lost a landing: docs/benchmarks-history.md "the check's and the keypoints' time, 2026-12-07 #5 (HB)")
UPLOAD_FAST_THRESHOLD = 8
_PAD = 16

cv2.setNumThreads(1)


@dataclass(frozen=True)
class MarkKeypoints:
    """``points`` (n, 2) place in the mark and ``sizes`` (n,), in units of its longer side, from its
    top-left corner; ``descriptors`` (n, 32) uint8 upright ORB."""

    points: np.ndarray
    sizes: np.ndarray
    descriptors: np.ndarray


_ORB_MARK = None
_ORB_UPLOAD = None


def _orb_mark() -> cv2.ORB:
    global _ORB_MARK
    if _ORB_MARK is None:
        _ORB_MARK = cv2.ORB_create(nfeatures=200, scaleFactor=1.2, nlevels=2, edgeThreshold=11, patchSize=11,
                                   fastThreshold=6)
    return _ORB_MARK


def _orb_upload() -> cv2.ORB:
    global _ORB_UPLOAD
    if _ORB_UPLOAD is None:
        _ORB_UPLOAD = cv2.ORB_create(nfeatures=UPLOAD_KEYPOINTS, scaleFactor=1.2, nlevels=10, edgeThreshold=11,
                                     patchSize=11, fastThreshold=UPLOAD_FAST_THRESHOLD)
    return _ORB_UPLOAD


def upright(orb: cv2.ORB, grey: np.ndarray) -> tuple[list, np.ndarray | None]:
    """ORB keypoints with their orientation set to 0: marks are stamped upright."""
    found = orb.detect(grey, None)
    for k in found:
        k.angle = 0.0
    return orb.compute(grey, found)


def _background(kind: str, h: int, w: int) -> np.ndarray:
    if kind == "grey":
        return np.full((h, w), 128.0, np.float32)
    if kind == "dark":
        return np.full((h, w), 40.0, np.float32)
    if kind == "light":
        return np.full((h, w), 215.0, np.float32)
    rng = np.random.default_rng(1 if kind == "fine" else 2)
    cell = 3 if kind == "fine" else 9
    noise = rng.normal(0.0, 1.0, (h // cell + 2, w // cell + 2)).astype(np.float32)
    noise = cv2.resize(noise, (noise.shape[1] * cell, noise.shape[0] * cell), interpolation=cv2.INTER_CUBIC)[:h, :w]
    return 128.0 + 35.0 * noise / max(float(noise.std()), 1e-3)


def mark_keypoints(alpha: np.ndarray, grey: np.ndarray) -> MarkKeypoints:
    """Keypoints of a mark given its coverage ``alpha`` (0..1) and grey level, both (h, w) float32,
    cut to the mark."""
    h, w = alpha.shape
    side = max(h, w)
    points, sizes, descs = [], [], []
    for draw in DRAW_SIDES:
        f = draw / side
        size = (max(1, round(w * f)), max(1, round(h * f)))
        interp = cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR
        a = cv2.resize(alpha, size, interpolation=interp)
        g = cv2.resize(grey, size, interpolation=interp)
        H, W = a.shape[0] + 2 * _PAD, a.shape[1] + 2 * _PAD
        for kind in BACKGROUNDS:
            bg = _background(kind, H, W)
            for opacity in OPACITIES:
                img = bg.copy()
                inner = img[_PAD:_PAD + a.shape[0], _PAD:_PAD + a.shape[1]]
                inner[:] = inner * (1 - a * opacity) + g * a * opacity
                found, d = upright(_orb_mark(), np.clip(img + 0.5, 0, 255).astype(np.uint8))
                if d is None:
                    continue
                for k, row in zip(found, d):
                    u, v = (k.pt[0] - _PAD) / (f * side), (k.pt[1] - _PAD) / (f * side)
                    if -0.05 <= u <= w / side + 0.05 and -0.05 <= v <= h / side + 0.05:
                        points.append((u, v))
                        sizes.append(k.size / (f * side))
                        descs.append(row)
    if not descs:
        return MarkKeypoints(np.zeros((0, 2), np.float32), np.zeros(0, np.float32), np.zeros((0, 32), np.uint8))
    pts, sz, ds = np.array(points, np.float32), np.array(sizes, np.float32), np.array(descs, np.uint8)
    if len(ds) > MAX_KEYPOINTS:  # drop near-duplicates first (the same corner drawn many times)
        _, first = np.unique(ds, axis=0, return_index=True)
        first = np.sort(first)
        pts, sz, ds = pts[first], sz[first], ds[first]
    if len(ds) > MAX_KEYPOINTS:
        keep = np.sort(np.random.default_rng(0).choice(len(ds), MAX_KEYPOINTS, replace=False))
        pts, sz, ds = pts[keep], sz[keep], ds[keep]
    return MarkKeypoints(pts, sz, ds)


def upload_keypoints(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An upload frame's upright ORB keypoints: positions (n, 2), sizes (n,), descriptors (n, 32)."""
    found, d = upright(_orb_upload(), grey)
    if d is None or not found:
        return np.zeros((0, 2), np.float32), np.zeros(0, np.float32), np.zeros((0, 32), np.uint8)
    # the positions by OpenCV (float32 as the keypoints hold them), the sizes without a list
    return (cv2.KeyPoint_convert(found).reshape(-1, 2), np.fromiter((k.size for k in found), np.float32, len(found)), d)
