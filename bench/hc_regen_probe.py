"""Probe of the recoloured-block check (verify ``_recoloured``): which of its tests turns an upload away.

Usage::

    # every single of the kinds (a bench/derivative_large.py cache) verified directly against its own
    # photo, every ``_recoloured`` call's inputs recorded; --filters: the 13 whole-photo filters too
    python bench/hc_regen_probe.py record CACHE --kinds regen --out regen.pkl [--photos-dir DIR] [--filters]
    # the recorded calls replayed through a copy of the check *as it was at 0b1f87f* (no RECOLOUR_GROW,
    # RECOLOUR_REST, _ramp or RECOLOUR_WIDE_ACROSS: --set of those changes nothing here) that names the test
    # each pass failed, with the edit's true cells (the gen's ``edit_box``) beside the block found
    python bench/hc_regen_probe.py replay regen.pkl [--set NAME=VALUE ...]

Diagnosis only (2026-12-07 #5, helper HC); the verdicts are verify's own.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import pickle
import sys
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import derivative_bench as B  # noqa: E402
import derivative_large as L  # noqa: E402

from ncii_shield.signals.derivative import verify as V  # noqa: E402
from ncii_shield.signals.derivative.features import GRID  # noqa: E402
from ncii_shield.signals.derivative.verify import Upload, verify  # noqa: E402

CALLS: list = []
STATE: dict = {}


def _recording(original):  # noqa: ANN001, ANN202
    def rec(colour, registered, visible):  # noqa: ANN001, ANN202
        out = original(colour, registered, visible)
        CALLS.append((colour.copy(), registered.copy(), visible.copy(), out is not None))
        return out
    return rec


def _one(args: tuple) -> dict:
    k, kind = args
    if kind == "filter":
        i, name = STATE["filters"][k]
        base = B.shrink(B.load_rgb(STATE["paths"][i]))
        rgb = B.reencode(L.FILTERS[name](base), 85)
        row = {"photo": i, "edit": "filter", "transform": name}
    else:
        u = STATE["uploads"][k]
        i = u["photo"]
        rgb = L._decode(bytes.fromhex(u["jpeg"]))
        row = {key: u.get(key) for key in ("photo", "edit", "transform", "edit_box")}
    CALLS.clear()
    v = verify(STATE["features"][i], Upload.from_rgb(rgb))
    row.update(outcome=v.outcome.value, reason=v.reason, inliers=v.inliers, mirrored=v.mirrored, calls=list(CALLS))
    return row


def record(args: argparse.Namespace) -> None:
    kinds = args.kinds.split(",")
    paths = sorted(p for p in Path(args.photos_dir).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    STATE["paths"] = paths
    B.STATE.update(paths=paths)
    uploads = []
    for f in sorted(Path(args.cache).glob("*.json")):
        uploads += [r for r in json.loads(f.read_text()) if r["format"] == "single" and r["edit"] in kinds]
    if args.photos:
        uploads = [u for u in uploads if u["photo"] < args.photos]
    STATE["uploads"] = uploads
    ctx = mp.get_context("fork")
    with ctx.Pool(args.workers) as pool:
        STATE["features"] = [f for f, _ in pool.map(B.register, paths)]
    V._recoloured = _recording(V._recoloured)
    jobs = [(k, "upload") for k in range(len(uploads))]
    if args.filters:
        STATE["filters"] = [(i, name) for i in range(len(paths)) for name in L.FILTERS]
        jobs += [(k, "filter") for k in range(len(STATE["filters"]))]
    with ctx.Pool(args.workers) as pool:
        rows = pool.map(_one, jobs, chunksize=4)
    Path(args.out).write_bytes(pickle.dumps(rows))
    print(Counter((r["edit"], r["outcome"]) for r in rows).most_common())


# -- the check, each test named ----------------------------------------------------------------------

def block_steps(colour: np.ndarray, registered: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray | None, str, dict]:
    """``V._recoloured_block`` with the failing test named, and the figures it compared."""
    tol = V._COLOUR_TOLERANCE
    worst = (np.abs(colour) / tol).max(axis=-1)
    differs = (worst > V.RECOLOUR) & visible
    square = np.ones((3, 3), np.uint8)
    closed = cv2.morphologyEx(differs.astype(np.uint8), cv2.MORPH_CLOSE, square).astype(bool) & visible
    opened = cv2.morphologyEx(closed.astype(np.uint8), cv2.MORPH_OPEN, square) > 0
    count, labels, stats, _ = cv2.connectedComponentsWithStats(opened.astype(np.uint8), connectivity=8)
    info: dict = {"differs": int(differs.sum()), "visible": int(visible.sum())}
    if count < 2:
        return None, "no block", info
    block = labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    ys, xs = np.nonzero(block)
    info["block"] = int(block.sum())
    info["mask"] = block
    solid = cv2.erode(block.astype(np.uint8), square, borderType=cv2.BORDER_CONSTANT, borderValue=0).any()
    share = float(block.sum() / (GRID * GRID))
    if not solid or np.ptp(ys) < 3 or np.ptp(xs) < 3:
        return None, "spread: not solid", info
    if share < V.MIN_EDIT:
        return None, "small", info
    if share > V.MAX_EDIT or block.sum() > V.RECOLOUR_MAX * visible.sum():
        return None, "spread: too large", info
    near = cv2.dilate(block.astype(np.uint8), square) > 0
    rest = visible & ~near & ~V._bands(differs & visible & ~near)
    info["scatter"] = round(float((differs & rest).sum() / max(1, rest.sum())), 3)
    if (differs & rest).sum() > V.RECOLOUR_SCATTER * max(1, rest.sum()):
        return None, "scatter", info
    colours = registered[block][:, None, :] - registered[rest][None, :, :]
    twins = (np.abs(colours) / tol).max(axis=2) <= V.RECOLOUR_TWIN
    moved = (np.abs(colour[block][:, None, :] - colour[rest][None, :, :]) / tol).max(axis=2) <= V.RECOLOUR
    has_twin = twins.any(axis=1)
    alike = (twins & moved & differs[rest][None, :]).any(axis=1)
    unchanged = (twins & ~differs[rest][None, :]).any(axis=1)
    inner = block & ~(cv2.erode(block.astype(np.uint8), square, borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0)
    outer = near & ~block & visible
    if not outer.any():
        return None, "edge: no ring", info
    edge_in, edge_out = float(np.median(worst[inner])), float(np.median(worst[outer]))
    beyond = (cv2.dilate(block.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0) & ~near & visible
    two_out = float(np.median(worst[beyond])) if beyond.any() else None
    info.update(edge_in=round(edge_in, 3), edge_out=round(edge_out, 3), two_out=None if two_out is None else round(two_out, 3),
                across=V._across(block, visible))
    sharp = edge_in >= V.RECOLOUR_EDGE[0] and edge_out <= V.RECOLOUR_EDGE[1]
    if not sharp:
        if not V.RECOLOUR_PARTIAL or edge_in < V.RECOLOUR_PARTIAL[0]:
            return None, "edge: edge cells", info
        if edge_out > V.RECOLOUR:
            return None, "edge: ring", info
        if two_out is None or two_out > V.RECOLOUR_PARTIAL[1]:
            return None, "edge: ring two out", info
        if V._across(block, visible):
            return None, "edge: across", info
    info.update(twinned=round(float(has_twin.sum() / block.sum()), 3),
                alike=round(float(alike.sum() / max(1, has_twin.sum())), 3),
                unchanged=round(float((unchanged & ~alike).sum() / max(1, has_twin.sum())), 3))
    if has_twin.sum() < V.RECOLOUR_TWINNED * block.sum():
        return None, "twins: too few", info
    if alike.sum() > V.RECOLOUR_ALIKE * has_twin.sum():
        return None, "twins: alike", info
    if (unchanged & ~alike).sum() < V.RECOLOUR_UNCHANGED * has_twin.sum():
        return None, "twins: unchanged", info
    return block, "", info


def steps(colour: np.ndarray, registered: np.ndarray, visible: np.ndarray) -> tuple[bool, list]:
    """``V._recoloured`` pass by pass: (found, [(pass, why, info), ...])."""
    out = []
    block, why, info = block_steps(colour, registered, visible)
    out.append(("plain", why, info))
    fine = block is None and why == "no block" and bool(V.RECOLOUR_FINE)
    if fine:
        colour = colour * (V.RECOLOUR / V.RECOLOUR_FINE)
        block, why, info = block_steps(colour, registered, visible)
        out.append(("fine", why, info))
    if block is None and why.startswith("spread") and V.RECOLOUR_RECENTRE:
        colour = colour - np.median(colour[visible], axis=0)
        block, why, info = block_steps(colour, registered, visible)
        if block is not None and V._across(block, visible):
            block, why = None, "recentred: across"
        out.append(("recentred", why, info))
    if block is not None and fine:
        moved = np.abs(np.median(colour[block], axis=0)) / V._COLOUR_TOLERANCE * (V.RECOLOUR_FINE / V.RECOLOUR)
        if float(moved.max()) < V.RECOLOUR_FINE_SHIFT:
            block = None
            out.append(("fine", "did not move as one", {}))
    return block is not None, out


def truth(row: dict) -> np.ndarray | None:
    box = row.get("edit_box")
    if not box:
        return None
    x0, y0, x1, y1 = box
    if row.get("mirrored"):
        x0, x1 = 1 - x1, 1 - x0
    t = np.zeros((GRID, GRID), bool)
    t[int(y0 * GRID):int(np.ceil(y1 * GRID)), int(x0 * GRID):int(np.ceil(x1 * GRID))] = True
    return t


def replay(args: argparse.Namespace) -> None:
    L._set_constants(V, args.set)
    rows = pickle.loads(Path(args.rec).read_bytes())
    by_kind: dict = {}
    for r in rows:
        key = r["edit"]
        c = by_kind.setdefault(key, Counter())
        if r["outcome"] != "reshare" and not (r["outcome"] == "derivative" and r["calls"] and r["calls"][-1][3]):
            c[f"{r['outcome']} (not via the check)"] += 1
            continue
        colour, registered, visible, _ = r["calls"][-1]
        found, passes = steps(colour, registered, visible)
        label = "flagged" if found else " / ".join(f"{p}: {w}" for p, w, _ in passes)
        c[label] += 1
        if args.show and not found and r["edit"] == args.show:
            t = truth(r)
            print(r["photo"], r["transform"], r.get("edit_box"), "truth cells", None if t is None else int(t.sum()),
                  [(p, w, {k: v for k, v in i.items() if k != "mask"}) for p, w, i in passes])
    for key, c in by_kind.items():
        print(key, sum(c.values()))
        for label, n in c.most_common():
            print(f"  {n:5d}  {label}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("record", "replay"))
    parser.add_argument("path", help="the cache (record) or the recording (replay)")
    parser.add_argument("--kinds", default="regen")
    parser.add_argument("--out")
    parser.add_argument("--photos-dir", default=str(HERE.parent.parent / "shared" / "data" / "photos"))
    parser.add_argument("--photos", type=int)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--filters", action="store_true")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--show", help="print the failures of this edit kind one by one")
    args = parser.parse_args()
    if args.mode == "record":
        args.cache = args.path
        record(args)
    else:
        args.rec = args.path
        replay(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
