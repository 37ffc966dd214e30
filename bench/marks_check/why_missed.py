"""Why no candidate lands on a mark the check would pass (issue 19, 2026-12-07 #5, HA).

For every in-scope target (>= 4 % wide, >= 40 % opaque, scale 0.3-3x) that the check passes at its stamped place
(``cands.py check --oracle``) but that no candidate of the stamped mark reaches (``lands`` false), the candidate
stage of ``index/marks.py`` is followed step by step on the cached upload, one thread:

- the proposals: the edge blobs (``locate.proposals``), the colour layers (``locate.layer_boxes``) and the
  keypoint vote groups' boxes (``MarkIndex._votes``, ``VOTE_POOL`` of them): the box nearest the stamped box;
- the naming: each proposal set's windows as the index names them (``MarkIndex._named``: the blobs refined, the
  layers not, the vote boxes refined apart; the chroma view of a coloured mark from the blobs, from the layers
  with ``VIEW_LAYERS`` and from the view's own blobs with ``VIEW_BLOBS``, 2026-12-08), only the
  windows of the stamped mark's aspect class that *fit* the stamped box (centre within ``REACH`` of its width /
  height, size ``SIZES``: what the check reaches, ``handover.py``): the stamped mark's own correlation there,
  whether it is its class's best there, its lead, and whether the bars (``LOCATE_MIN_VALUE``,
  ``LOCATE_MIN_LEAD``; ``LAYERS_MIN_VALUE``) are met;
- the selection: whether such a clear window is among ``_located``'s chosen pairs (``LOCATED`` of them), and the
  candidates of the cached lists near the place;
- the descriptor at the stamped box itself (grey and the mark's chroma view): the naming a perfect box would get.

The first step that loses the target is its *reason*; ``summary`` counts them::

    python bench/marks_check/why_missed.py run CHECK.json C.pkl DIR --values V.json --out W.pkl [--all] [--set NAME=VALUE]
    python bench/marks_check/why_missed.py summary W.pkl [--rows]

``--all``: every in-scope target that passes at its place (the caught ones too: for comparing reasons).
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
from ncii_shield.signals.marks import search as S  # noqa: E402

REACH = 0.3  # centre shift (of the stamped box's width / height) the check still reaches
SIZES = (0.75, 1.33)  # window size / stamped size (sqrt of the areas' ratio) the check still reaches


def _fits(windows: np.ndarray, stamped: list) -> np.ndarray:
    """(n,) bool: the window fits one of the stamped boxes (centre and size within the check's reach)."""
    ok = np.zeros(len(windows), bool)
    if not len(windows):
        return ok
    cx, cy = windows[:, 0] + windows[:, 2] / 2, windows[:, 1] + windows[:, 3] / 2
    area = windows[:, 2] * windows[:, 3]
    for x, y, w, h in stamped:
        r = np.sqrt(area / (w * h))
        ok |= ((np.abs(cx - x - w / 2) <= REACH * w) & (np.abs(cy - y - h / 2) <= REACH * h)
               & (r >= SIZES[0]) & (r <= SIZES[1]))
    return ok


def _nearest(boxes: np.ndarray, stamped: list) -> dict | None:
    """The box of ``boxes`` nearest a stamped box: best IoU, its size ratio and centre shift."""
    if not len(boxes):
        return None
    best = None
    for b in boxes.tolist():
        for t in stamped:
            o = MB.iou(b, t)
            if best is None or o > best[0]:
                best = (o, b, t)
    o, b, t = best
    # the nearest box centred on the place (centre within REACH), whatever its size
    cx, cy = boxes[:, 0] + boxes[:, 2] / 2, boxes[:, 1] + boxes[:, 3] / 2
    ratios = []
    for x, y, w, h in stamped:
        c = (np.abs(cx - x - w / 2) <= REACH * w) & (np.abs(cy - y - h / 2) <= REACH * h)
        ratios += np.sqrt(boxes[c, 2] * boxes[c, 3] / (w * h)).tolist()
    ratio = min(ratios, key=lambda v: abs(np.log(v)), default=None)
    return dict(iou=round(o, 3), size=round(float(np.sqrt(b[2] * b[3] / (t[2] * t[3]))), 3),
                box=[round(v, 1) for v in b], centred_ratio=None if ratio is None else round(float(ratio), 3))


def _naming(named: dict, names: D.Descriptors, pyramid: D.FieldPyramid, mi: int, stamped: list, bar: float):
    """The stamped mark's naming at the fitting windows of its class in one named set: the best of them by
    the mark's own value (value, is best, lead, clear, top value, top mark, window), or None."""
    if mi not in names.position:
        return None
    k, row = names.position[mi]
    if k not in named:
        return dict(fitting=0)
    top, rows, win = named[k]
    fit = np.flatnonzero(_fits(win, stamped))
    if not len(fit):
        return dict(fitting=0)
    own = names.scores(pyramid, {k: win[fit]})[k]  # (f, marks of the class)
    value = own[:, row].astype(np.float64)
    j = int(np.argmax(value))
    rest = np.delete(own[j], row)
    second = float(rest.max()) if len(rest) else -np.inf
    lead = value[j] - second if np.isfinite(second) else IM.LOCATE_MIN_LEAD
    is_best = bool(value[j] >= own[j].max())
    # the best window by the index's own rule (named best, rank value + lead) among the fitting ones
    named_best = [i for i in fit.tolist() if rows[i, 0] == row]
    clear = [i for i in named_best if top[i, 0] >= bar
             and (not np.isfinite(top[i, 1]) or top[i, 0] - top[i, 1] >= IM.LOCATE_MIN_LEAD)]
    return dict(fitting=int(len(fit)), value=round(float(value[j]), 3), best=is_best, lead=round(float(lead), 3),
                top=round(float(own[j].max()), 3), top_mark=int(names.ids[k][int(np.argmax(own[j]))]),
                window=[round(v, 1) for v in win[fit[j]].tolist()], named_best=len(named_best), clear=len(clear),
                clear_windows=[win[i].tolist() for i in clear],
                clear_rank=max((float(top[i, 0] + (top[i, 0] - top[i, 1] if np.isfinite(top[i, 1])
                                                   else IM.LOCATE_MIN_LEAD)) for i in clear), default=None))


def _at_stamp(names: D.Descriptors, pyramid: D.FieldPyramid, mi: int, box) -> tuple | None:
    if mi not in names.position:
        return None
    k, row = names.position[mi]
    sc = names.scores(pyramid, {k: np.array([box], np.float64)})[k][0]
    rest = np.delete(sc, row)
    return (round(float(sc[row]), 3), round(float(rest.max()) if len(rest) else -1.0, 3), int((sc > sc[row]).sum()))


def follow(index: IM.MarkIndex, r: dict, cands: list) -> dict:
    frame = S.UploadFrame.from_rgb(r["rgb"])
    frame.to_upload = r["to_upload"]
    mi = r["mark"]
    stamped = [tuple(v / frame.to_upload for v in t) for t in r["upload_boxes"][:4]]
    names = index._descriptors()
    chroma = index._chroma_names()
    entry = index._entries[mi]
    out: dict = {"stamped": [round(v, 1) for v in stamped[0]], "axis": entry.axis, "k": entry.k}
    # the proposals
    votes = index._votes(frame, None, max(IM.CANDIDATES, IM.VOTE_POOL))
    vote_boxes = np.array([b for _, b in votes], np.float64).reshape(-1, 4)
    blobs = L.proposals(frame.rgb)
    layers = L.layer_boxes(frame.rgb, blobs) if L.COLOUR_LAYERS else np.zeros((0, 4))
    big = lambda b: b[np.maximum(b[:, 2], b[:, 3]) >= IM.LOCATE_MIN_SIDE]  # noqa: E731 - what _named keeps
    out["near"] = {"blobs": _nearest(big(blobs), stamped), "layers": _nearest(big(layers), stamped),
                   "votes": _nearest(vote_boxes, stamped)}
    out["n_boxes"] = (len(blobs), len(layers), len(votes))
    out["vote_right"] = next((n for n, (m, b) in enumerate(votes) if m == mi and _fits(np.array([b]), stamped)[0]), -1)
    # the naming, as _extents / _located do it
    pyramid = D.FieldPyramid(frame.grey)
    sets = {"blobs": (index._named(blobs, pyramid, names), names, pyramid, IM.LOCATE_MIN_VALUE),
            "votes": (index._named(vote_boxes, pyramid, names) if len(vote_boxes) else {}, names, pyramid,
                      IM.LOCATE_MIN_VALUE)}
    if L.COLOUR_LAYERS and len(layers):
        sets["layers"] = (index._named(layers, pyramid, names, IM.LAYERS_REFINE), names, pyramid, IM.LAYERS_MIN_VALUE)
    views = []
    for a, view_names in chroma:
        projected = D.projected(frame.rgb, index._axes[a])
        seen = D.FieldPyramid(projected, IM.VIEW_SKIP)
        found = index._named(blobs, seen, view_names)
        view_layers = getattr(IM, "VIEW_LAYERS", False) and L.COLOUR_LAYERS
        refined_min = getattr(IM, "VIEW_REFINED_MIN_VALUE", None)
        layered = (index._named(layers, seen, view_names, IM.VIEW_LAYERS_REFINE, refined_min)
                   if view_layers and len(layers) else {})
        own_named = {}
        if getattr(IM, "VIEW_BLOBS", False):  # the view's own blobs (locate.view_boxes), as _extents names them
            own = L.view_boxes(projected, np.concatenate([blobs, layers]) if view_layers else blobs)
            own_named = index._named(own, seen, view_names, IM.VIEW_LAYERS_REFINE, refined_min) if len(own) else {}
            if a == entry.axis:
                out["near"]["view_blobs"] = _nearest(big(own), stamped)
        views.append((seen, view_names, found, IM._joined(layered, own_named)))
        if a == entry.axis:
            sets["view"] = (found, view_names, seen, IM.LOCATE_MIN_VALUE)
            if layered:
                sets["view_layers"] = (layered, view_names, seen, IM.LAYERS_MIN_VALUE)
            if own_named:
                sets["view_blobs"] = (own_named, view_names, seen, IM.LAYERS_MIN_VALUE)
            out["at_stamp_view"] = _at_stamp(view_names, seen, mi, stamped[0])
    out["at_stamp"] = _at_stamp(names, pyramid, mi, stamped[0])
    out["naming"] = {s: _naming(n, nb, p, mi, stamped, bar) for s, (n, nb, p, bar) in sets.items()}
    # the selection (no keypoint places: the located pairs alone, as _located chooses them after them)
    layered = sets["layers"][0] if "layers" in sets else {}
    located = index._located(pyramid, names, sets["blobs"][0], layered, views, votes, [], None)
    out["located_right"] = next((n for n, (m, b) in enumerate(located) if m == mi and _fits(np.array([b]), stamped)[0]), -1)
    out["located"] = [(m, [round(v, 1) for v in b]) for m, b in located]
    # the cached candidates near the place: of the stamped mark, of others
    out["cands_right"] = [(b, loc) for m, b, loc in cands if m == mi and max(MB.iou(b, t) for t in stamped) > 0.1]
    out["cands_other"] = [(m, b, loc) for m, b, loc in cands if m != mi and max(MB.iou(b, t) for t in stamped) > 0.3]
    return out


def reason(row: dict) -> str:
    n = row["naming"]
    sets = [s for s in ("blobs", "votes", "layers", "view", "view_layers", "view_blobs")
            if n.get(s) and n[s].get("fitting")]
    if row["cands_right"]:
        return "a candidate of the mark near the place; the check from it fails"
    if row.get("located_right", -1) >= 0:  # the code run now picks it (the cached candidates are older)
        return "a fitting window of the mark among _located's picks now"
    if not sets:
        return "no fitting window (no box at the place of the right size)"
    if any(n[s]["clear"] for s in sets):
        return "named clearly at a fitting window; not chosen (LOCATED / ranking)"
    if not any(n[s]["best"] for s in sets):
        return "fitting windows; another mark named best at all"
    best = [n[s] for s in sets if n[s]["best"]]
    bars = {"blobs": IM.LOCATE_MIN_VALUE, "votes": IM.LOCATE_MIN_VALUE, "layers": IM.LAYERS_MIN_VALUE,
            "view": IM.LOCATE_MIN_VALUE, "view_layers": IM.LAYERS_MIN_VALUE, "view_blobs": IM.LAYERS_MIN_VALUE}
    if any(b["value"] >= bars[s] for s, b in zip([s for s in sets if n[s]["best"]], best)):
        return "named best >= bar, lead < LOCATE_MIN_LEAD"
    return "named best, value < LOCATE_MIN_VALUE"


def run(args) -> None:
    import faiss

    faiss.omp_set_num_threads(1)
    MB.apply_settings(args.set)
    index = MB.built_index([tuple(v) for v in json.loads(Path(args.values).read_text())])
    cands = pickle.load(open(args.cands, "rb"))["cands"]
    checked = json.loads(Path(args.check).read_text())["positives"]
    wanted = {tuple(r["key"]): r for r in checked
              if r["rel"] >= 0.04 and r["opacity"] >= 0.4 and MB.in_scope(r["scale"])
              and r["oracle"] is not None and r["oracle"] >= S.THRESHOLD and (args.all or not r["lands"])}
    files = sorted(glob.glob(str(Path(args.dir) / "*.pkl")))
    rows, t0 = [], time.time()
    for n, path in enumerate(files):
        keys = [k for k in wanted if k[0] == n]
        if not keys:
            continue
        data = pickle.load(open(path, "rb"))
        for key in keys:
            r = data["pos"][key[2]]
            w = wanted[key]
            row = dict(key=key, photo=r["photo"], mark=r["mark"], kind=r["kind"], transform=r["transform"],
                       tiled=r["tiled"], opacity=round(r["opacity"], 2), scale=w["scale"], oracle=w["oracle"],
                       lands=w["lands"], caught=w["caught"])
            row.update(follow(index, r, cands.get(key, [])))
            row["reason"] = reason(row)
            rows.append(row)
            print(f"{len(rows)}/{len(wanted)} {time.time() - t0:.0f}s", file=sys.stderr, end="\r")
    pickle.dump({"set": args.set or [], "rows": rows}, open(args.out, "wb"))
    summary(rows, False)


def summary(rows: list, show: bool) -> None:
    miss = [r for r in rows if not r["lands"]]
    print(f"\n{len(rows)} rows, {len(miss)} with no candidate landing")
    for group, sel in (("missed", miss), ("landing", [r for r in rows if r["lands"]])):
        if not sel:
            continue
        print(f"{group}: {len(sel)}")
        for k, v in Counter(r["reason"] for r in sel).most_common():
            kinds = Counter(r["kind"] for r in sel if r["reason"] == k)
            print(f"  {v:3d}  {k}   {dict(kinds)}")
    nofit = [r for r in miss if r["reason"].startswith("no fitting")]
    if nofit:
        print("no fitting window: the nearest blob / layer / vote box centred on the place (size ratio), best IoU")
        c = Counter()
        for r in nofit:
            ratios = [r["near"][s]["centred_ratio"] for s in ("blobs", "layers", "votes", "view_blobs")
                      if r["near"].get(s) and r["near"][s]["centred_ratio"] is not None]
            if not ratios:
                c["no box centred on the place"] += 1
            elif all(v > SIZES[1] for v in ratios):
                c["centred boxes all too large"] += 1
            elif all(v < SIZES[0] for v in ratios):
                c["centred boxes all too small"] += 1
            elif any(SIZES[0] <= v <= SIZES[1] for v in ratios):
                c["a centred box of a fitting size (another aspect class)"] += 1
            else:
                c["centred boxes too large and too small"] += 1
        for k, v in c.most_common():
            print(f"  {v:3d}  {k}")
        at = [r["at_stamp"] for r in nofit if r["at_stamp"]]
        print("  the descriptor at the stamped box: value >= 0.75 and rank 0:",
              sum(1 for a in at if a[0] >= 0.75 and a[2] == 0), "of", len(at), "; rank 0:", sum(1 for a in at if a[2] == 0),
              "; with the view:", sum(1 for r in nofit if (r["at_stamp"] and r["at_stamp"][0] >= 0.75 and r["at_stamp"][2] == 0)
                                      or (r.get("at_stamp_view") and r["at_stamp_view"][0] >= 0.75
                                          and r["at_stamp_view"][2] == 0)))
    if show:
        for r in sorted(rows, key=lambda r: r["reason"]):
            n = r["naming"]
            print(r["reason"][:30], r["photo"], r["mark"], r["kind"], r["transform"], f"op {r['opacity']} sc {r['scale']}",
                  "oracle", r["oracle"], "at", r["at_stamp"], r.get("at_stamp_view"), "| near",
                  {s: (v["iou"], v["size"], v["centred_ratio"]) for s, v in r["near"].items() if v},
                  "| naming", {s: (v.get("fitting"), v.get("value"), v.get("best"), v.get("lead"), v.get("clear"))
                               for s, v in n.items() if v}, "| located", r["located_right"], "vote", r["vote_right"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("check")
    r.add_argument("cands")
    r.add_argument("dir")
    r.add_argument("--values", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--all", action="store_true")
    r.add_argument("--set", action="append", metavar="NAME=VALUE")
    s = sub.add_parser("summary")
    s.add_argument("rows")
    s.add_argument("--rows", dest="show", action="store_true")
    a = p.parse_args()
    if a.command == "run":
        run(a)
    else:
        summary(pickle.load(open(a.rows, "rb"))["rows"], a.show)


if __name__ == "__main__":
    main()
