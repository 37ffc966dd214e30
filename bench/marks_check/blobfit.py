"""Do the edge blobs' windows name the stamped mark? The located half of the candidate stage alone (issue 19,
2026-12-07 #3): on the cached uploads of ``bench/marks_cached.py cache``, every target positive (mark >= 4 %
of the width, >= 40 % opaque) and every negative goes through ``locate.proposals`` (and ``locate.layer_boxes``
with ``COLOUR_LAYERS``) and ``MarkIndex._extents`` (the naming of their windows and ``describe.refine``),
without the keypoints, the vote boxes or the check: what a change to the blobs does to the naming, in a few
minutes.

Per target: ``prop_iou`` (the best IoU of a blob with the stamped box), ``right`` (the best window naming the
stamped mark at the stamped place: rank value + lead, value, lead, clear = both bars met) and ``above`` (the
clear windows of the upload, any mark, ranked above it: ``LOCATED`` slots are taken by rank). Per negative:
the clear windows' best ranks and marks (the look-alikes a change lets through to the check)::

    python bench/marks_check/blobfit.py run DIR --values V.json --out A.pkl [--set locate.NAME=VALUE ...] [--limit N]
    python bench/marks_check/blobfit.py diff A.pkl B.pkl [--run marks_cached_run.json]
        # targets clear-named gained / lost (of those the full run's oracle passes and no candidate reaches)
"""

from __future__ import annotations

import argparse
import glob
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

import marks_bench as MB  # noqa: E402
from ncii_shield.index import marks as IM  # noqa: E402
from ncii_shield.signals.marks import describe as D  # noqa: E402
from ncii_shield.signals.marks import locate as L  # noqa: E402
from ncii_shield.signals.marks.search import UploadFrame  # noqa: E402


def _iou_any(box, targets) -> float:
    return max((MB.iou(tuple(box), tuple(t)) for t in targets), default=0.0)


def _clear(named, bar=None):
    """Every window's (rank, value, lead, clear, mark id, window) over all classes."""
    out = []
    for k, (top, rows, win) in named.items():
        val = top[:, 0].astype(np.float64)
        lead = np.where(np.isfinite(top[:, 1]), val - top[:, 1], IM.LOCATE_MIN_LEAD)
        ok = (val >= (IM.LOCATE_MIN_VALUE if bar is None else bar)) & (lead >= IM.LOCATE_MIN_LEAD)
        out.append((val + lead, val, lead, ok, rows[:, 0], win, k))
    return out


def follow(index, names, r, kind):
    frame = UploadFrame.from_rgb(r["rgb"])
    pyramid = D.FieldPyramid(frame.grey)
    props = L.proposals(frame.rgb)
    if L.COLOUR_LAYERS:
        props = np.concatenate([props, L.layer_boxes(frame.rgb, props)])
    blobs, layers = index._extents(frame, pyramid, names)  # as the index names them (each refined apart)
    parts = _clear(blobs) + _clear(layers, IM.LAYERS_MIN_VALUE)
    clear_ranks = np.concatenate([p[0][p[3]] for p in parts]) if parts else np.zeros(0)
    out = {"n_props": len(props), "n_windows": sum(len(p[0]) for p in parts), "n_clear": int(len(clear_ranks))}
    if kind == "neg":
        tops = []
        for rank, val, lead, ok, rows, win, k in parts:
            for w in np.flatnonzero(ok).tolist():
                tops.append((round(float(rank[w]), 3), int(names.ids[k][rows[w]]), tuple(np.round(win[w], 1).tolist())))
        out["clear"] = sorted(tops, reverse=True)[:8]
        return out
    mi = r["mark"]
    stamped = [tuple(v / r["to_upload"] for v in t) for t in r["upload_boxes"]]
    out["prop_iou"] = max((_iou_any(b, stamped) for b in props.tolist()), default=0.0)
    k0, row = names.position[mi]  # the descriptor at the stamped box itself: (value, rank in its class)
    sc = names.scores(pyramid, {k0: np.array([stamped[0]], np.float64)})[k0][0]
    out["at_stamp"] = (round(float(sc[row]), 3), int((sc > sc[row]).sum()))
    out["stamped"] = stamped[0]
    best = None
    for rank, val, lead, ok, rows, win, k in parts:
        for w in np.flatnonzero(names.ids[k][rows] == mi).tolist():
            if _iou_any(win[w], stamped) > 0.3:
                cand = (float(rank[w]), float(val[w]), float(lead[w]), bool(ok[w]))
                if best is None or cand[3] > best[3] or (cand[3] == best[3] and cand > best):
                    best = cand
    out["right"] = best
    out["above"] = int((clear_ranks > best[0]).sum()) if best is not None else None
    return out


def run(a) -> None:
    import faiss

    faiss.omp_set_num_threads(1)
    MB.apply_settings(a.set)
    index = MB.built_index([tuple(v) for v in json.loads(Path(a.values).read_text())])
    names = index._descriptors()
    files = sorted(glob.glob(str(Path(a.dir) / "*.pkl")))[: a.limit or None]
    rows, t0 = {}, time.time()
    for n, path in enumerate(files):
        with open(path, "rb") as f:
            data = pickle.load(f)
        for k, r in enumerate(data["pos"]):
            if r["rel"] >= 0.04 and r["opacity"] >= 0.4:
                rows[(n, "pos", k)] = follow(index, names, r, "pos") | {"mark": r["mark"], "photo": r["photo"]}
        if not a.positives_only:
            for k, r in enumerate(data["neg"]):
                rows[(n, "neg", k)] = follow(index, names, r, "neg") | {"photo": r["photo"], "kind": r["kind"]}
        print(f"{n + 1}/{len(files)} {time.time() - t0:.0f}s", file=sys.stderr, end="\r")
    with open(a.out, "wb") as f:
        pickle.dump({"set": a.set or [], "rows": rows}, f)
    _report(rows)


def _report(rows) -> None:
    pos = {k: r for k, r in rows.items() if k[1] == "pos"}
    neg = {k: r for k, r in rows.items() if k[1] == "neg"}
    clear = sum(1 for r in pos.values() if r["right"] and r["right"][3])
    top3 = sum(1 for r in pos.values() if r["right"] and r["right"][3] and r["above"] < 3)
    print(f"targets {len(pos)}: clear-named {clear}, of which <3 clear windows above {top3}; "
          f"blob IoU>0.5 {sum(r['prop_iou'] > 0.5 for r in pos.values())}, >0.7 {sum(r['prop_iou'] > 0.7 for r in pos.values())}; "
          f"props mean {np.mean([r['n_props'] for r in rows.values()]):.0f}, windows mean "
          f"{np.mean([r['n_windows'] for r in rows.values()]):.0f}")
    if neg:
        best = sorted(((r["clear"][0][0], r["clear"][0][1], r["photo"], r["kind"]) for r in neg.values() if r["clear"]),
                      reverse=True)
        print(f"negatives {len(neg)}: with a clear window {len(best)}, clear windows {sum(r['n_clear'] for r in neg.values())}; "
              f"best ranks {best[:5]}")


def _scoped_keys(run_json):
    """(photo n, 'pos', k) of the full run's in-scope targets -> (oracle, lands, caught)."""
    data = json.loads(Path(run_json).read_text())
    out, count = {}, {}
    photos = []
    for r in data["positives"]:
        if not photos or photos[-1] != r["photo"]:
            photos.append(r["photo"])
        n = len(photos) - 1
        k = count.get(n, 0)
        count[n] = k + 1
        if r["rel"] >= 0.04 and r["opacity"] >= 0.4 and MB.in_scope(r["scale"]):
            out[(n, "pos", k)] = (r["oracle"], r["lands"], r["caught"])
    return out


def diff(a) -> None:
    A, B = (pickle.load(open(p, "rb"))["rows"] for p in (a.a, a.b))
    scope = _scoped_keys(a.run) if a.run else None
    for name, rows in (("A", A), ("B", B)):
        print(name)
        _report(rows)
    gained, lost = [], []
    for key, rb in B.items():
        ra = A.get(key)
        if key[1] != "pos" or ra is None:
            continue
        ca, cb = bool(ra["right"] and ra["right"][3]), bool(rb["right"] and rb["right"][3])
        tag = ""
        if scope is not None:
            if key not in scope:
                continue
            o, lands, caught = scope[key]
            tag = f"oracle {o} lands {lands} caught {caught}"
        if ca != cb:
            (gained if cb else lost).append((key, rb["photo"], rb["mark"], ra["right"], rb["right"], rb["above"], tag))
    print(f"clear-named: gained {len(gained)}, lost {len(lost)}")
    for g in gained:
        print("  +", g)
    for g in lost:
        print("  -", g)
    if scope is not None:
        miss = [k for k, (o, lands, c) in scope.items() if o >= 0.75 and not lands]
        print(f"in scope, oracle passes, no landing: {len(miss)}; clear-named in A {sum(1 for k in miss if A.get(k, {}).get('right') and A[k]['right'][3])}"
              f", in B {sum(1 for k in miss if B.get(k, {}).get('right') and B[k]['right'][3])}; "
              f"B with < 3 above: {sum(1 for k in miss if B.get(k, {}).get('right') and B[k]['right'][3] and B[k]['above'] < 3)}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("dir")
    r.add_argument("--values", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--limit", type=int, default=0)
    r.add_argument("--set", action="append", metavar="NAME=VALUE")
    r.add_argument("--positives-only", action="store_true")
    d = sub.add_parser("diff")
    d.add_argument("a")
    d.add_argument("b")
    d.add_argument("--run", help="marks_cached.py run --oracle --json of the same uploads: only its in-scope targets")
    a = p.parse_args()
    run(a) if a.command == "run" else diff(a)


if __name__ == "__main__":
    main()
