"""Rows for a finer letters' test (issue 19, 2026-12-08, HB): every target of a cached benchmark (marks_cached.py
cache; width >= 4 %, opacity >= 40 %) checked at its stamped places, and every look-alike negative's registered mark
at the look-alike's place, as ``search.verify`` does; for each view that passes before the letters' test, the frame
cut around the found box (a margin of half the mark's thickness each side) at a fixed resolution (the box's shorter
side 32 pixels) and the mark's coverage and colour at the box's size there, for offline statistics
(``hb2_explore.py``).

    python bench/marks_check/hb2_rows.py DIR --out R.pkl [--skip N] [--limit N] [--set search.NAME=VALUE]
"""

from __future__ import annotations

import argparse
import glob
import pickle
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

import marks_bench as MB  # noqa: E402
from ncii_shield.signals.marks import search as S  # noqa: E402
from ncii_shield.signals.marks import template as T  # noqa: E402

SIDE = 32  # the found box's shorter side in the stored cut


def cut_around(frame, box, prepared, side: int = SIDE, margin: float = 0.5):
    """The frame around ``box`` (x, y, w, h), ``margin`` of its shorter side each side, resized so that the
    box's shorter side is ``side``; the mark's coverage (0-1) and colour at the box there; and the box's
    place in the cut (x0, y0, w, h)."""
    x, y, w, h = box
    f = side / min(w, h)
    m = margin * min(w, h)
    fh, fw = frame.rgb.shape[:2]
    x0, y0, x1, y1 = int(np.floor(x - m)), int(np.floor(y - m)), int(np.ceil(x + w + m)), int(np.ceil(y + h + m))
    cut = frame.rgb[max(0, y0):min(fh, y1), max(0, x0):min(fw, x1)]
    cut = cv2.copyMakeBorder(cut, max(0, -y0), max(0, y1 - fh), max(0, -x0), max(0, x1 - fw), cv2.BORDER_REPLICATE)
    cw, ch = max(4, round((x1 - x0) * f)), max(4, round((y1 - y0) * f))
    cut = cv2.resize(cut, (cw, ch), interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    bw, bh = max(2, round(w * f)), max(2, round(h * f))
    bx, by = round((x - x0) * f), round((y - y0) * f)
    a = cv2.resize(prepared.alpha_f, (bw, bh), interpolation=cv2.INTER_AREA)
    c = cv2.resize(prepared.colour_f, (bw, bh), interpolation=cv2.INTER_AREA)
    return cut, a, c, (bx, by, bw, bh)


def _decided(prepared, frame, box, view):
    found_letters: list = []
    m = S._measured(prepared, frame, box, view, letters=found_letters)
    if m is None:
        return None
    shape, colour, found, context = m
    null = None
    if S.LOCAL_CHANCE and S.JOINT and context is not None and \
            S.decide(shape, colour, found, prepared.complexity, S._LATER) >= S.LOCAL_FROM:
        null = S._surround(prepared, frame, found, *context, view=view)
    score = S.decide(shape, colour, found, prepared.complexity, null)
    letters = found_letters[0] if found_letters else None
    row = dict(score=score, found=found, view=view is not None, shape=shape, colour=colour)
    if letters is not None and score >= S.THRESHOLD:
        row["drop"] = S._letter_drop(*letters)
        row["windows"] = S._letter_windows(*letters)
        row["letterbox"] = letters[5]
        cut, a, c, at = cut_around(frame, letters[5], prepared)
        row.update(cut=cut, alpha=a, colour_img=c, at=at,
                   small=tuple(np.asarray(v).copy() for v in letters[:4]))
    return row


def collect(args) -> None:
    MB.apply_settings(args.set)
    marks = MB.registered_marks()
    prepared = [S.Prepared.of(T.template_from_rgba(rgba, name)) for name, _, rgba in marks]
    visible = [MB.visible_width(rgba) for _, _, rgba in marks]
    rows = []
    for path in sorted(glob.glob(str(Path(args.dir) / "*.pkl")))[args.skip: args.limit or None]:
        data = pickle.load(open(path, "rb"))
        cases = [("pos", k, r) for k, r in enumerate(data["pos"]) if r["rel"] >= 0.04 and r["opacity"] >= 0.4]
        cases += [("alike", k, r) for k, r in enumerate(data["neg"]) if "mark" in r]
        for kind, k, r in cases:
            frame = S.UploadFrame.from_rgb(r["rgb"])
            frame.to_upload = r["to_upload"]
            mi = r["mark"]
            for j, t in enumerate(r["upload_boxes"][:4]):
                box = tuple(v / frame.to_upload for v in t)
                for view in (None, prepared[mi].chroma):
                    if view is not None and prepared[mi].chroma is None:
                        continue
                    d = _decided(prepared[mi], frame, box, view)
                    if d is None:
                        continue
                    d.update(file=Path(path).name, kind=kind, case=k, place=j, mark=mi, name=marks[mi][0],
                             word=r.get("word"), opacity=r["opacity"] if kind == "pos" else None,
                             transform=r.get("transform"), mkind=r.get("kind"),
                             scale=round(max(b[2] for b in r["upload_boxes"]) / visible[mi], 3))
                    rows.append(d)
        print(Path(path).name, len(rows), file=sys.stderr, end="\r")
    pickle.dump(rows, open(args.out, "wb"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dir")
    parser.add_argument("--out", required=True)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--skip", type=int, default=0)
    parser.add_argument("--set", action="append", metavar="NAME=VALUE")
    collect(parser.parse_args())


if __name__ == "__main__":
    main()
