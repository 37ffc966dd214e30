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
* crop readings (``zoomed-out``, ``corner-top-left``, ...): the frame shrunk with its edge pixels
  repeated around it, centred or into one corner — the banked frame as it looked before a crop of
  that size cut from that place and enlarged (a crop removes content, so this is a reading, not a
  reconstruction; verified by temporal alignment, never alone). PDQ is very sensitive to the scale
  (a reading 2 % off the crop's is ~15-25 bits further), so crops are read on a grid:
  :data:`CROP_SCALES` (0.85-0.96 in steps of 0.01: crops of ~4-15 %) x centre and the four corners,
  each also mirrored, on a :data:`CROP_SIDE`-pixel copy of the frame (and of the border-cropped
  part when bars are found). Named ``zoomed-out`` / ``corner-<corner>`` at 0.9 and
  ``zoomed-out-87`` / ``corner-<corner>-87`` at 0.87 (:func:`crop_cell` reads the name back).

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
#: Corner readings: the frame shrunk into one corner (a crop cut from that corner). The mirrored hash
#: of each comes free from the dihedral computation (the opposite corner, mirrored).
CORNERS = {"top-left": (0.0, 0.0), "top-right": (1.0, 0.0), "bottom-left": (0.0, 1.0), "bottom-right": (1.0, 1.0)}
CORNER_ZOOM = 0.9
#: Crop readings: these scales (a crop of 1 - scale), centred and into each corner.
CROP_SCALES = tuple(round(0.85 + 0.01 * i, 2) for i in range(12))
CROP_ANCHORS = {"centre": (0.5, 0.5), **CORNERS}
#: Crop readings are hashed from a copy of the frame this wide (PDQ reads 64 x 64 anyway; 4x cheaper than 320).
CROP_SIDE = 160
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


def crop_variant(anchor: str, scale: float, prefix: str = "") -> str:
    """The name of a crop reading: ``zoomed-out`` / ``corner-top-left`` at 0.9, else with the scale in
    percent (``corner-top-left-87``); ``prefix``: what was read before (``border-cropped``)."""
    base = "zoomed-out" if anchor == "centre" else f"corner-{anchor}"
    name = base if round(scale * 100) == round(CORNER_ZOOM * 100) else f"{base}-{round(scale * 100)}"
    return f"{prefix} {name}".strip()


def crop_cell(variant: str) -> tuple[str, int] | None:
    """(the reading's place, e.g. ``"border-cropped corner-top-left mirrored"``, scale in percent) of a
    crop reading's variant name; None for other readings."""
    words = variant.split()
    for i, word in enumerate(words):
        for base in ("zoomed-out", *(f"corner-{c}" for c in CORNERS)):
            if word == base:
                pct = round(CORNER_ZOOM * 100)
            elif word.startswith(base + "-") and word[len(base) + 1:].isdigit():
                pct = int(word[len(base) + 1:])
            else:
                continue
            return " ".join([*words[:i], base, *words[i + 1:]]), pct
    return None


def _hashes(rgb: np.ndarray, prefix: str, keep: tuple[int, ...]) -> Iterator[tuple[str, str, int]]:
    import pdqhash

    from ncii_shield.signals.pdq import bits_to_hex

    vectors, quality = pdqhash.compute_dihedral(np.ascontiguousarray(rgb))
    for k in keep:
        yield " ".join(p for p in (prefix, DIHEDRAL_NAMES[k]) if p) or ORIGINAL, bits_to_hex(vectors[k]), int(quality)


def _small(rgb: np.ndarray, side: int) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    if max(h, w) <= side:
        return rgb
    f = side / max(h, w)
    return cv2.resize(rgb, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


def hash_query_frames(samples: Iterable[tuple[float, np.ndarray]], *, mirrored: bool = True,
                      dihedral: bool = False, borders: bool = True,
                      zoom: tuple[float, ...] = ZOOM_OUT, corners: bool = True,
                      crop_scales: tuple[float, ...] = CROP_SCALES) -> list[VpdqFrame]:
    """Every reading of every sampled frame, as frames tagged with their ``variant``.

    ``corners`` (default): the crop readings, ``crop_scales`` x centre and corners, of the frame and of
    its border-cropped part. Without ``corners``: only centred ``zoom`` readings (the former readings)."""
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
            if corners:
                for prefix, image in list(readings):
                    small = _small(image, CROP_SIDE)
                    readings += [(crop_variant(name, s, prefix), zoom_out(small, s, anchor))
                                 for s in crop_scales for name, anchor in CROP_ANCHORS.items()]
            else:
                for prefix, image in list(readings):
                    readings += [(f"{prefix} zoomed-out".strip(), zoom_out(image, s)) for s in zoom]
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
