"""Query-side frame hashes of an upload: mirrored, border-cropped and zoomed-out readings.

The banked side of vPDQ stays the reference values exchanged with others; these hashes are computed
only for the *upload* being checked, so that the usual ways a video is re-edited before re-upload
still land within PDQ distance 31 of the banked frames:

* ``mirrored``: the frame flipped left-right (the reference's dihedral computation gives it at the
  cost of one hash; with ``dihedral=True`` all eight rotations/flips are kept);
* ``border-cropped``: the part of the frame that changes over time, when it is clearly smaller than
  the frame: black or coloured bars (letterbox, pillarbox, a landscape video in a vertical frame)
  and a static frame around a video (picture-in-picture on a still background); failing that, a
  rectangle whose sides are edges that stay put while both sides move (picture-in-picture over
  moving footage);
* ``zoomed-out``: the frame shrunk to 90 % with its edge pixels repeated around it — the banked frame
  as it looked before a centred ~10 % crop and zoom (a crop removes content, so this is a reading,
  not a reconstruction; verified by temporal alignment, never alone).

Pure: frames in (``(seconds, HxWx3 uint8 RGB)``), :class:`~ncii_shield.signals.vpdq.VpdqFrame`\\ s
out, each with its ``variant``. Decoding is :func:`ncii_shield.media.video.sample_frames`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from ncii_shield.signals.vpdq import VpdqFrame

ORIGINAL, MIRRORED = "original", "mirrored"
#: The reference's dihedral order; index 5 ("flipy" in :data:`~ncii_shield.signals.pdq.DIHEDRAL_VARIANTS`) is the left-right mirror.
DIHEDRAL_NAMES = ("", "rotate90", "rotate180", "rotate270", "flipx", "mirrored", "flip_plus1", "flip_minus1")
ZOOM_OUT = (0.9,)
#: Corner readings: the frame shrunk to 90 % into one corner (a ~10 % crop cut from that corner). The
#: mirrored hash of each comes free from the dihedral computation (the opposite corner, mirrored).
CORNERS = {"top-left": (0.0, 0.0), "top-right": (1.0, 0.0), "bottom-left": (0.0, 1.0), "bottom-right": (1.0, 1.0)}
CORNER_ZOOM = 0.9
CHUNK_FRAMES = 32  # frames whose temporal change decides a border box (16 s at 2 frames/s)
_MOVING = 6.0  # temporal standard deviation (grey levels) of a pixel that belongs to the video
_SMALLER = 0.9  # crop only when the moving box is smaller than this share of the frame area
_SIDES = 8  # strongest edge columns and rows tried as the sides of a framed video
_FRAMED = 0.5  # share of a framed video's sides that must be persistent edges


def moving_box(frames: list[np.ndarray]) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the part of ``frames`` that changes over time, or None when
    it is (nearly) the whole frame or nothing moves. Bars and still surroundings do not change."""
    if len(frames) < 4:
        return None
    grey = np.stack([f.mean(axis=2, dtype=np.float32) for f in frames])
    moving = grey.std(axis=0) > _MOVING
    rows = np.flatnonzero(moving.mean(axis=1) > 0.2)
    cols = np.flatnonzero(moving.mean(axis=0) > 0.2)
    if len(rows) < 16 or len(cols) < 16:
        return None
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    h, w = moving.shape
    if (bottom - top) * (right - left) >= _SMALLER * h * w:
        return None
    return top, bottom, left, right


def framed_box(frames: list[np.ndarray]) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of a rectangle whose four sides are edges that stay put while the
    picture moves on both sides of them: a video overlaid on other moving footage
    (picture-in-picture), which :func:`moving_box` cannot see. None when no such rectangle is clear."""
    if len(frames) < 4:
        return None
    grey = np.stack([f.mean(axis=2, dtype=np.float32) for f in frames])
    h, w = grey.shape[1:]
    # persistent edges: where the picture steps by > 8 grey levels in > 60 % of the frames
    across = (np.abs(np.diff(grey, axis=2)) > 8).mean(axis=0) > 0.6  # between columns x and x + 1
    down = (np.abs(np.diff(grey, axis=1)) > 8).mean(axis=0) > 0.6  # between rows y and y + 1
    cols = np.sort(np.argsort(across.mean(axis=0))[-_SIDES:])
    rows = np.sort(np.argsort(down.mean(axis=1))[-_SIDES:])
    best, best_score = None, _FRAMED
    for i, x0 in enumerate(cols):
        for x1 in cols[i + 1:]:
            if x1 - x0 < 0.25 * w:
                continue
            for j, y0 in enumerate(rows):
                for y1 in rows[j + 1:]:
                    if y1 - y0 < 0.25 * h or (x1 - x0) * (y1 - y0) > _SMALLER * h * w:
                        continue
                    score = min(across[y0 + 1:y1, x0].mean(), across[y0 + 1:y1, x1].mean(),
                                down[y0, x0 + 1:x1].mean(), down[y1, x0 + 1:x1].mean())
                    if score > best_score:
                        best, best_score = (int(y0) + 1, int(y1) + 1, int(x0) + 1, int(x1) + 1), score
    return best


def zoom_out(rgb: np.ndarray, scale: float, anchor: tuple[float, float] = (0.5, 0.5)) -> np.ndarray:
    """``rgb`` shrunk to ``scale`` and placed at ``anchor`` (x, y: 0 left/top, 0.5 centred, 1
    right/bottom), its edge pixels repeated to the original size."""
    import cv2

    h, w = rgb.shape[:2]
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
    if anchor == (0.5, 0.5):
        top, left = (h - nh) // 2, (w - nw) // 2
    else:
        top, left = round((h - nh) * anchor[1]), round((w - nw) * anchor[0])
    return cv2.copyMakeBorder(small, top, h - nh - top, left, w - nw - left, cv2.BORDER_REPLICATE)


def _hashes(rgb: np.ndarray, prefix: str, keep: tuple[int, ...]) -> Iterator[tuple[str, str, int]]:
    import pdqhash

    from ncii_shield.signals.pdq import bits_to_hex

    vectors, quality = pdqhash.compute_dihedral(np.ascontiguousarray(rgb))
    for k in keep:
        yield " ".join(p for p in (prefix, DIHEDRAL_NAMES[k]) if p) or ORIGINAL, bits_to_hex(vectors[k]), int(quality)


def hash_query_frames(samples: Iterable[tuple[float, np.ndarray]], *, mirrored: bool = True,
                      dihedral: bool = False, borders: bool = True,
                      zoom: tuple[float, ...] = ZOOM_OUT, corners: bool = True) -> list[VpdqFrame]:
    """Every reading of every sampled frame, as frames tagged with their ``variant``."""
    keep = tuple(range(8)) if dihedral else (0, 5) if mirrored else (0,)
    out: list[VpdqFrame] = []
    chunk: list[tuple[float, np.ndarray]] = []
    n = 0

    def flush() -> None:
        nonlocal n
        box = (moving_box([f for _, f in chunk]) or framed_box([f for _, f in chunk])) if borders else None
        for t, rgb in chunk:
            readings = [("", rgb)]
            if box is not None:
                top, bottom, left, right = box
                readings.append(("border-cropped", rgb[top:bottom, left:right]))
            for prefix, image in list(readings):
                readings += [(f"{prefix} zoomed-out".strip(), zoom_out(image, s)) for s in zoom]
            if corners:  # of the whole frame only
                readings += [(f"corner-{name}", zoom_out(rgb, CORNER_ZOOM, anchor)) for name, anchor in CORNERS.items()]
            for prefix, image in readings:
                for variant, pdq, quality in _hashes(image, prefix, keep):
                    out.append(VpdqFrame(n, t, pdq, quality, variant))
            n += 1
        chunk.clear()

    for sample in samples:
        chunk.append(sample)
        if len(chunk) == CHUNK_FRAMES:
            flush()
    if chunk:
        flush()
    return out
