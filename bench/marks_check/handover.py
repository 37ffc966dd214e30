"""What the candidate stage would have to hand the check (issue 19, 2026-12-07 #4, H3).

For every in-scope target (>= 4 % wide, >= 40 % opaque, scale 0.3-3x) that the check passes at its stamped
place (the oracle, as ``cands.py check --oracle``) but that no candidate of ``cands.py collect``'s lists
reaches (no candidate of the stamped mark whose check lands on a stamped box, IoU > 0.3), three questions:

- *the boxes it has*: the candidate boxes (any mark) overlapping a stamped box most (IoU), and whether the
  check of the *stamped* mark from that box passes (a box the candidate stage has, named as another mark);
- *the check's reach*: from the stamped box moved by ``dx``, ``dy`` (shares of the mark's width / height)
  and sized by ``s``, whether the check of the stamped mark still passes and lands (the tolerance a candidate
  needs: the wide search reaches 0.3 of the size and sizes 0.72-1.36);
- the rank of the stamped mark among the candidates' marks at that box is not measured here
  (``landing.py`` does the naming).

::

    python bench/marks_check/handover.py C.pkl CHECK.json DIR --values V.json --out H.pkl
    python bench/marks_check/handover.py --summary H.pkl
"""

from __future__ import annotations

import argparse
import glob
import json
import pickle
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

import marks_bench as MB  # noqa: E402
from ncii_shield.signals.marks import search as S  # noqa: E402
from ncii_shield.signals.marks import template as T  # noqa: E402

SHIFTS = (0.0, 0.15, 0.3, 0.45)
SIZES = (0.6, 0.75, 1.0, 1.33, 1.66)


def run(args) -> None:
    values = {int(v[1]): v[0] for v in json.loads(Path(args.values).read_text())}
    cands = pickle.load(open(args.cands, "rb"))["cands"]
    checked = json.loads(Path(args.check).read_text())["positives"]
    wanted = {tuple(r["key"]): r for r in checked
              if r["rel"] >= 0.04 and r["opacity"] >= 0.4 and MB.in_scope(r["scale"])
              and r["oracle"] is not None and r["oracle"] >= S.THRESHOLD and not r["lands"]}
    files = sorted(glob.glob(str(Path(args.dir) / "*.pkl")))
    rows = []
    for n, path in enumerate(files):
        keys = [k for k in wanted if k[0] == n]
        if not keys:
            continue
        data = pickle.load(open(path, "rb"))
        for key in keys:
            r = data["pos"][key[2]]
            frame = S.UploadFrame.from_rgb(r["rgb"])
            frame.to_upload = r["to_upload"]
            p = S.Prepared.of(T.decode(values[r["mark"]]))
            stamped = [tuple(v / frame.to_upload for v in t) for t in r["upload_boxes"][:4]]
            row = dict(key=key, photo=r["photo"], mark=r["mark"], transform=r["transform"], tiled=r["tiled"],
                       opacity=r["opacity"], scale=wanted[key]["scale"], oracle=wanted[key]["oracle"])
            # the boxes it has: best-overlapping candidates, and the stamped mark checked from them
            near = sorted(((max(MB.iou(b, t) for t in stamped), i, b, located) for i, b, located in cands.get(key, [])),
                          key=lambda x: -x[0])[:3]
            row["near"] = []
            for o, i, b, located in near:
                v = S.verify(p, frame, tuple(b))
                ok = v is not None and v[0] >= S.THRESHOLD and any(MB.iou(v[1], t) > 0.3 for t in stamped)
                row["near"].append(dict(iou=round(o, 3), mark=i, located=located, right_mark=i == r["mark"],
                                        passes_as_stamped=ok, score=round(v[0], 3) if v else None))
            # the check's reach from the first stamped box (the one the oracle's best is usually at)
            x, y, w, h = stamped[0]
            reach = {}
            for s in SIZES:
                for dx in SHIFTS:
                    for dy in (0.0, dx):
                        nw, nh = w * s, h * s
                        b = (x + w / 2 - nw / 2 + dx * w, y + h / 2 - nh / 2 + dy * h, nw, nh)
                        v = S.verify(p, frame, b)
                        reach[(s, dx, dy)] = bool(v is not None and v[0] >= S.THRESHOLD
                                                  and any(MB.iou(v[1], t) > 0.3 for t in stamped))
            row["reach"] = reach
            rows.append(row)
            print(len(rows), "/", len(wanted), file=sys.stderr, end="\r")
    pickle.dump(rows, open(args.out, "wb"))
    summary(rows)


def summary(rows) -> None:
    print(f"\n{len(rows)} in-scope targets the check passes at their place, no candidate landing")
    best = Counter()
    for r in rows:
        n0 = r["near"][0] if r["near"] else None
        if n0 is None:
            best["no candidate at all"] += 1
        elif n0["iou"] <= 0.3:
            best["no candidate box overlapping (IoU <= 0.3)"] += 1
        elif n0["passes_as_stamped"]:
            best["a candidate box overlaps; the stamped mark checked from it passes"] += 1
        else:
            best["a candidate box overlaps; the stamped mark checked from it fails"] += 1
    for k, v in best.most_common():
        print(f"  {v:3d}  {k}")
    named = Counter((n["right_mark"], n["located"]) for r in rows for n in r["near"][:1] if n["iou"] > 0.3)
    print("  of the overlapping best boxes: (right mark, located) ->", dict(named))
    print("the check's reach from the stamped box (targets passing and landing, of", len(rows), ")")
    keys = sorted(rows[0]["reach"]) if rows else []
    for s in SIZES:
        line = [f"size x{s:<5}"]
        for dx in SHIFTS:
            for dy in (0.0, dx):
                if (s, dx, dy) in keys and (dy == 0.0 or dx > 0):
                    line.append(f"d({dx},{dy}) {sum(r['reach'][(s, dx, dy)] for r in rows):3d}")
        print("  " + "  ".join(line))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cands", nargs="?")
    parser.add_argument("check", nargs="?")
    parser.add_argument("dir", nargs="?")
    parser.add_argument("--values")
    parser.add_argument("--out")
    parser.add_argument("--summary")
    args = parser.parse_args()
    if args.summary:
        summary(pickle.load(open(args.summary, "rb")))
    else:
        run(args)


if __name__ == "__main__":
    main()
