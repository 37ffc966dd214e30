"""Crops of cached uploads around a stamped mark, with the colour layers' parts and their joined boxes drawn
(issue 19, 2026-12-07 #6, HA): for looking at why no box has a mark's extent.

    python bench/marks_check/ha_view.py W.pkl /tmp/mk/all OUTDIR [--reason "no fitting"] [--mark N]

W.pkl: why_missed.py run's rows. Per row a PNG: the upload around the stamped box (green), the layers' parts of
the colour layer with most edges inside the stamped box (blue), the joined boxes near it (red).
"""

from __future__ import annotations

import argparse
import glob
import pickle
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from ncii_shield.signals.marks import locate as L  # noqa: E402


def _parts(rgb: np.ndarray, box) -> tuple[int, list, list]:
    """The colour (0-8) whose layer has most edges in ``box``, its parts (half size, width 13: the widest
    closing) and their joined boxes, in frame pixels."""
    x, y, w, h = (int(round(v)) for v in box)
    best = None
    for f in L.COLOUR_SCALES[-1:]:
        img, strength = L._edge_strength(rgb, f)
        label = L.colour_labels(img)
        edges = cv2.threshold(strength, L.COLOUR_LEVELS[0], 1, cv2.THRESH_BINARY)[1]
        for c in range(9):
            near = cv2.bitwise_and(cv2.dilate(cv2.compare(label, c, cv2.CMP_EQ), np.ones((3, 3), np.uint8)), edges)
            inside = int(near[int(y * f):int((y + h) * f), int(x * f):int((x + w) * f)].sum())
            if best is None or inside > best[0]:
                k = L.COLOUR_WIDTHS[-1]
                closed = cv2.morphologyEx(near, cv2.MORPH_CLOSE,
                                          cv2.getStructuringElement(cv2.MORPH_RECT, (k, max(1, k // 2))))
                contours, _ = cv2.findContours(closed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
                rects = L._rects(contours) if contours else np.zeros((0, 4))
                best = (inside, c, (rects / f).tolist(), (L.join_parts(rects) / f).tolist())
    return best[1], best[2], best[3]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("rows")
    p.add_argument("dir")
    p.add_argument("out")
    p.add_argument("--reason", default="")
    p.add_argument("--mark", type=int, default=-1)
    a = p.parse_args()
    rows = [r for r in pickle.load(open(a.rows, "rb"))["rows"]
            if r["reason"].startswith(a.reason) and (a.mark < 0 or r["mark"] == a.mark)]
    files = sorted(glob.glob(str(Path(a.dir) / "*.pkl")))
    for r in rows:
        n, _, k = r["key"]
        data = pickle.load(open(files[n], "rb"))
        rgb = data["pos"][k]["rgb"]
        x, y, w, h = r["stamped"]
        c, parts, joined = _parts(rgb, r["stamped"])
        x0, y0 = int(max(0, x - w / 2)), int(max(0, y - h))
        x1, y1 = int(min(rgb.shape[1], x + 1.5 * w)), int(min(rgb.shape[0], y + 2 * h))
        view = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR).copy()
        for b, colour in [(b, (255, 0, 0)) for b in parts] + [(b, (0, 0, 255)) for b in joined] + [(r["stamped"], (0, 255, 0))]:
            bx, by, bw, bh = (int(round(v)) for v in b)
            if bx + bw < x0 or bx > x1 or by + bh < y0 or by > y1:
                continue
            cv2.rectangle(view, (bx, by), (bx + bw, by + bh), colour, 1)
        crop = view[y0:y1, x0:x1]
        name = f"{r['photo'].split('.')[0]}_{r['mark']}_{k}_c{c}.png"
        cv2.imwrite(str(Path(a.out) / name), crop)
        print(name, r["reason"][:30], r["scale"], r["opacity"])


if __name__ == "__main__":
    main()
