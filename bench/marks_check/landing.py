"""Why a candidate does not land on the stamped mark (issue 19, the candidate stage; 2026-12-06 #4).

On the cached frames of ``bench/marks_cached.py cache`` (the uploads of ``marks_bench.py``, seed 7), every
*target* positive (mark >= 4 % of the width, >= 40 % opaque) is followed through the candidate stage of
``ncii_shield/index/marks.py`` and the check:

- ``oracle``: the stamped mark checked at its stamped places (as ``marks_bench.py --oracle``: the first 4
  boxes of a tiled mark), its best score on the place;
- ``oracle_gate``: :func:`locate.colour_agreement` of the stamped mark at the oracle check's box (the
  located candidates' ``COLOUR_GATE``);
- ``kp_in_box``: the upload's keypoints inside the stamped box(es);
- ``vote_any`` / ``vote_rank``: whether any of the ``VOTE_POOL`` keypoint vote groups' boxes overlaps the
  stamped box (IoU > 0.3), and the rank of the first group of the stamped mark that does;
- ``place`` / ``located``: the index of the candidate (of the 6 places, of the ``LOCATED``) that names the
  stamped mark at the stamped place, -1 if none;
- ``prop_iou``: the best IoU of an edge blob of ``locate.proposals`` with the stamped box;
- ``name_at_stamp``: the stamped mark's descriptor correlation at the stamped box itself, the best other
  mark's of its class there, and the stamped mark's rank in its class (does the descriptor name it when
  the place is right?);
- ``loc_right``: over every located window (no value or lead condition, any number), the best (value,
  lead, rank) of a window naming the stamped mark at the stamped place;
- ``checked``: the candidates' check, as ``_checked`` reports them (score, mark, box), and ``lands`` /
  ``caught`` as ``marks_cached.py`` counts them.

Usage::

    python bench/marks_check/landing.py DIR --values V.json [--limit N] [--step S --offset O] [--set NAME=VALUE] out.pkl
    python bench/marks_check/landing.py --summary out.pkl [out2.pkl ...]
"""

from __future__ import annotations

import argparse
import glob
import json
import pickle
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

import marks_bench as MB  # noqa: E402
from ncii_shield.index import marks as IM  # noqa: E402
from ncii_shield.signals.marks import describe as D  # noqa: E402
from ncii_shield.signals.marks import locate as L  # noqa: E402
from ncii_shield.signals.marks.search import THRESHOLD, UploadFrame, verify  # noqa: E402


def _iou_any(box, targets) -> float:
    return max((MB.iou(tuple(box), tuple(t)) for t in targets), default=0.0)


def follow(index: IM.MarkIndex, r: dict) -> dict:
    frame = UploadFrame.from_rgb(r["rgb"])
    frame.to_upload = r["to_upload"]
    mi = r["mark"]
    stamped = [tuple(v / frame.to_upload for v in t) for t in r["upload_boxes"]]
    out = {k: r[k] for k in ("photo", "mark", "kind", "rel", "opacity", "transform", "tiled")}
    prepared = index._entries[mi].prepared
    scores = [v for t in stamped[:4] if (v := verify(prepared, frame, t)) and _iou_any(v[1], stamped) > 0.3]
    out["oracle"] = max((s for s, _ in scores), default=-1.0)
    fine = max(scores, default=None, key=lambda v: v[0])
    # locate.colour_agreement at the check's box (the located candidates' gate, COLOUR_GATE)
    out["oracle_gate"] = (L.colour_agreement(prepared.template.contrast, frame.rgb, fine[1]) if fine else None)
    pts = frame.keypoints[0]
    out["kp_total"] = len(pts)
    out["kp_in_box"] = int(sum(((pts[:, 0] >= x) & (pts[:, 0] < x + w) & (pts[:, 1] >= y) & (pts[:, 1] < y + h)).sum()
                               for x, y, w, h in stamped))
    names = index._descriptors()
    votes = index._votes(frame, None, IM.VOTE_POOL)
    out["vote_any"] = any(_iou_any(b, stamped) > 0.3 for _, b in votes)
    out["vote_rank"] = next((k for k, (m, b) in enumerate(votes) if m == mi and _iou_any(b, stamped) > 0.3), -1)
    places, located = index._candidates(frame, None, IM.CANDIDATES)
    out["place"] = next((k for k, (m, b) in enumerate(places) if m == mi and _iou_any(b, stamped) > 0.3), -1)
    out["located"] = next((k for k, (m, b) in enumerate(located) if m == mi and _iou_any(b, stamped) > 0.3), -1)
    landing = [b for m, b in places + located if m == mi and _iou_any(b, stamped) > 0.3]
    if landing:  # the check at the first landing candidate, and the located gate at its box
        v = verify(prepared, frame, landing[0])
        out["land_check"] = (round(v[0], 3), round(L.colour_agreement(prepared.template.contrast, frame.rgb, v[1]), 3),
                             _iou_any(v[1], stamped) > 0.3) if v else None
    props = L.proposals(frame.rgb)
    if L.COLOUR_LAYERS:  # the colour layers' blobs too (2026-12-07 #3; named below with the blobs, one refinement)
        props = np.concatenate([props, L.layer_boxes(frame.rgb, props)])
    out["n_props"] = len(props)
    out["prop_iou"] = max((_iou_any(b, stamped) for b in props.tolist()), default=0.0)
    # the descriptor at the stamped box itself (the first one)
    k, row = names.position[mi]
    sc = names.scores(D.FieldPyramid(frame.grey), {k: np.array([stamped[0]], np.float64)})[k][0]
    value = float(sc[row])
    others = np.delete(sc, row)
    out["name_at_stamp"] = (round(value, 3), round(float(others.max()) if len(others) else -1.0, 3),
                            int((sc > value).sum()))
    # every located window, no conditions: the best window naming the stamped mark at its place
    pyramid = D.FieldPyramid(frame.grey)
    ext = index._named(props, pyramid, names)
    boxes = np.array([b for _, b in votes], np.float64).reshape(-1, 4)
    for kk, (top, rows, win) in index._named(boxes, pyramid, names).items():
        if kk in ext:
            t0, r0, w0 = ext[kk]
            top, rows, win = np.concatenate([t0, top]), np.concatenate([r0, rows]), np.concatenate([w0, win])
        ext[kk] = (top, rows, win)
    best = None
    ranks = []
    for kk, (top, rows, win) in ext.items():
        val = top[:, 0].astype(np.float64)
        lead = np.where(np.isfinite(top[:, 1]), val - top[:, 1], IM.LOCATE_MIN_LEAD)
        ok = (val >= IM.LOCATE_MIN_VALUE) & (lead >= IM.LOCATE_MIN_LEAD)
        ranks.append(val + lead)
        for w in np.flatnonzero(names.ids[kk][rows[:, 0]] == mi).tolist():
            if _iou_any(win[w], stamped) > 0.3:
                cand = (float(val[w] + lead[w]), float(val[w]), float(lead[w]), bool(ok[w]))
                if best is None or cand > best:
                    best = cand
    out["loc_right"] = best
    if best is not None:  # how many passing windows rank above it (any mark, before the de-duplication)
        allr = np.concatenate(ranks) if ranks else np.zeros(0)
        out["loc_right_above"] = int((allr > best[0]).sum())
    # the stamped mark's best window among the located ones whatever mark it names (value of the stamped mark there)
    found = index._checked(frame, None, IM.CANDIDATES)
    at = [(s, i) for s, i, b in found if _iou_any(frame.to_upload_box(b), r["upload_boxes"]) > 0.3]
    out["checked"] = [(round(s, 3), i, tuple(b)) for s, i, b in found]
    out["lands"] = any(i == mi for s, i in at)
    out["caught"] = any(i == mi and s >= THRESHOLD for s, i in at)
    return out


def summary(rows: list[dict]) -> None:
    tgt = [r for r in rows if r["rel"] >= 0.04 and r["opacity"] >= 0.4]
    orc = [r for r in tgt if r["oracle"] >= THRESHOLD]
    print(f"targets {len(tgt)}, oracle passes {len(orc)}, lands {sum(r['lands'] for r in tgt)}, "
          f"caught {sum(r['caught'] for r in tgt)}; oracle-passing and landing {sum(r['lands'] for r in orc)}")
    miss = [r for r in orc if not r["lands"]]
    c = Counter()
    for r in miss:
        if r["place"] >= 0 or r["located"] >= 0:
            lc = r.get("land_check")
            why = ("candidate there, check fails" if lc is None or lc[0] < THRESHOLD or not lc[2] else
                   "candidate there, check passes, colour gate" if r["place"] < 0 else "candidate there, other")
        elif r["loc_right"] is not None and r["loc_right"][3]:
            why = "named right + clear, ranked out"
        elif r["loc_right"] is not None and r["loc_right"][1] < IM.LOCATE_MIN_VALUE:
            why = "named right, value < min"
        elif r["loc_right"] is not None:
            why = "named right, lead < min"
        elif r["vote_rank"] >= 0:
            why = "vote group only, ranked out"
        elif r["prop_iou"] > 0.3 or r["vote_any"]:
            why = "box there, named other mark"
        else:
            why = "no box on the mark"
        r["why"] = why
        c[why] += 1
    print(f"oracle-passing, no landing: {len(miss)}")
    for k, v in c.most_common():
        print(f"  {v:4d}  {k}")
    named = Counter((r["why"], r["name_at_stamp"][2] == 0) for r in miss)
    print("  ... of which the stamped mark is best of its class at the stamped box:",
          {k: v for k, v in sorted(named.items())})
    for key in ("rel", "opacity"):
        edges = [0.04, 0.06, 0.1, 0.2, 0.4, 1.0] if key == "rel" else [0.4, 0.6, 0.8, 1.01]
        print(key, dict(sorted(Counter(MB.bucket(r[key], edges) for r in miss).items())))
    print("oracle_gate of oracle-passing targets: quantiles 5/10/25/50 %",
          np.percentile([r["oracle_gate"] for r in orc if r["oracle_gate"] is not None], [5, 10, 25, 50]).round(3).tolist())
    print("transform", dict(Counter(r["transform"] for r in miss)))
    print("prop_iou of 'box there, named other':", sorted(round(r["prop_iou"], 2) for r in miss if r["why"] == "box there, named other mark"))
    print("kp_in_box of misses (median):", float(np.median([r["kp_in_box"] for r in miss])) if miss else None)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dir", nargs="?")
    p.add_argument("out", nargs="?")
    p.add_argument("--values")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--step", type=int, default=1)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--set", action="append", metavar="NAME=VALUE")
    p.add_argument("--summary", nargs="+")
    a = p.parse_args()
    if a.summary:
        rows = [r for f in a.summary for r in pickle.load(open(f, "rb"))]
        summary(rows)
        return
    import faiss

    faiss.omp_set_num_threads(1)
    MB.apply_settings(a.set)
    values = [tuple(v) for v in json.loads(Path(a.values).read_text())]
    index = MB.built_index(values)
    files = sorted(glob.glob(str(Path(a.dir) / "*.pkl")))
    files = files[: a.limit or None][a.offset::a.step]
    rows, t0 = [], time.time()
    for n, path in enumerate(files):
        with open(path, "rb") as f:
            data = pickle.load(f)
        for r in data["pos"]:
            if r["rel"] >= 0.04 and r["opacity"] >= 0.4:
                rows.append(follow(index, r))
        print(f"{n + 1}/{len(files)} {time.time() - t0:.0f}s", file=sys.stderr, end="\r")
        pickle.dump(rows, open(a.out, "wb"))
    summary(rows)


if __name__ == "__main__":
    main()
