"""Service marks, an experiment not adopted: a dense candidate search that all marks share.

Issue 19's mark check finds candidate places with ORB keypoints (``index/marks.py``), which put a
check on the stamped mark in only ~39 % of the benchmark's uploads. This probe measures the
proposed alternative: every registered mark scanned densely over the whole upload, at every
place and size, LINE-MOD style, with all marks sharing one feature map per pyramid level.

Feature map (per level, computed once per upload): the frame scaled by ``f = 1, 1/1.22, ...``;
the sign-free colour orientation field of ``search.orientation_field`` quantised into 8 bins
(soft, weighted by strength) and summed over cells of ``CELL`` level pixels; each cell's response
to orientation ``o`` is its share of edge energy in that bin, 0..255, a flat cell counting as weak
(``FLOOR``). A mark is a template of 8-16 x 2-8 cells (by its aspect) with up to 40 features
(cell, orientation) taken from the mark drawn at that size; its score at a place is the sum of its
features' responses there (a compiled, vectorised numba loop over all places of all levels, marks
in parallel). Per mark and level the best places are kept with the mean and spread of its scores
over the level; candidates are ranked by ``(best - mean) / spread`` (or the raw share), and the
best ``--verify`` distinct ones are checked by ``search.verify`` as the index checks its own.

Modes::

    python bench/marks_dense_probe.py --values /tmp/mk/values.json --limit 8 --cases 4
        # all marks in the bank (as marks_bench's index): is the stamped mark, at its place, among
        # the best K candidates; recall when the best --verify are checked
    python bench/marks_dense_probe.py --values /tmp/mk/values.json --limit 8 --cases 4 --locator 32
        # 32 synthetic marks only (none of the stamped ones) as mark-agnostic "overlay finders":
        # does any of the best K candidates lie on the stamped mark (its centre inside the mark)

    python bench/marks_dense_probe.py --values /tmp/mk/values.json --limit 16 --cases 4 --locator 32 --hybrid 16
        # locate with the 32 overlay finders (16 distinct places), name with the index's own keypoint
        # guesses whose mark would cover a located place (best 3 per place, pooled as the index
        # pools them), check the best --verify; beside it, the index as it is (8 checks)

``--values`` is marks_bench.py's cache of the 983 signatures (made by any marks_bench run with
``--values``). The uploads are marks_bench's positives (the same seeds, photos, marks, sizes,
opacities and transforms for the same --limit and --cases). Times are process CPU (the scan runs
on 2 threads) and exclude the frame.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "2")  # the scan's threads: a 2-core server

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import marks_bench as B  # noqa: E402

from ncii_shield.index import marks as IM  # noqa: E402

from ncii_shield.signals.marks import template as T  # noqa: E402
from ncii_shield.signals.marks.search import (  # noqa: E402
    THRESHOLD, Prepared, UploadFrame, orientation_field, overlap, verify)

NB = 8  # orientation bins over 180 degrees
CELL = 3  # cell side, level pixels
LEVEL_STEP = 1.22
FLOOR = 20.0  # gradient strength per pixel every cell is taken to have at least
MAX_FEATURES = 40


@njit(cache=True, nogil=True)
def _cells(mag, ang, t, floor):
    """(NB, hc, wc) uint8: each cell's share of edge energy per orientation bin (soft binned)."""
    h, w = mag.shape
    hc, wc = h // t, w // t
    hist = np.zeros((NB, hc, wc), np.float32)
    tot = np.zeros((hc, wc), np.float32)
    scale = NB / (2 * math.pi)
    for y in range(hc * t):
        cy = y // t
        for x in range(wc * t):
            cx = x // t
            m = mag[y, x]
            b = ang[y, x] * scale - 0.5
            b0 = int(math.floor(b))
            fr = b - b0
            hist[b0 % NB, cy, cx] += m * (1 - fr)
            hist[(b0 + 1) % NB, cy, cx] += m * fr
            tot[cy, cx] += m
    out = np.zeros((NB, hc, wc), np.uint8)
    fl = floor * t * t
    for o in range(NB):
        for cy in range(hc):
            for cx in range(wc):
                out[o, cy, cx] = np.uint8(min(255.0, 255.0 * hist[o, cy, cx] / (tot[cy, cx] + fl)))
    return out


def cell_map(rgb: np.ndarray, floor: float = FLOOR) -> np.ndarray:
    v = orientation_field(rgb.astype(np.float32))
    mag, ang = cv2.cartToPolar(np.ascontiguousarray(v[:, :, 0]), np.ascontiguousarray(v[:, :, 1]))
    return _cells(mag, ang, CELL, floor)


def levels(frame_rgb: np.ndarray, min_cells: int = 12) -> list[tuple[float, np.ndarray]]:
    h, w = frame_rgb.shape[:2]
    f, out, src = 1.0, [], frame_rgb.astype(np.float32)
    while min(h, w) * f >= min_cells * CELL:
        img = src if f == 1.0 else cv2.resize(src, (max(1, round(w * f)), max(1, round(h * f))),
                                              interpolation=cv2.INTER_AREA)
        out.append((f, cell_map(img)))
        f /= LEVEL_STEP
    return out


def template_cells(aspect: float) -> tuple[int, int]:
    """(cells wide, cells high) of a mark of this width / height."""
    if aspect >= 1:
        long = int(min(16, max(8, round(3 * aspect))))
        return long, max(2, round(long / aspect))
    long = int(min(16, max(8, round(3 / aspect))))
    return max(2, round(long * aspect)), long


def template_features(prepared: Prepared, gw: int, gh: int) -> np.ndarray:
    """(n, 3) int: (cell row, cell column, orientation) of the mark's strongest cell orientations."""
    drawn = prepared.drawn((gw * CELL, gh * CELL))
    pad = CELL
    img = cv2.copyMakeBorder(drawn, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    v = orientation_field(img)[pad:pad + gh * CELL, pad:pad + gw * CELL]
    mag, ang = cv2.cartToPolar(np.ascontiguousarray(v[:, :, 0]), np.ascontiguousarray(v[:, :, 1]))
    share = _cells(mag, ang, CELL, 2.0).astype(np.float32) / 255
    feats = []
    for cy in range(gh):
        for cx in range(gw):
            r = share[:, cy, cx]
            for o in np.argsort(-r)[:2]:
                if r[o] >= 0.25:
                    feats.append((float(r[o]), cy, cx, int(o)))
    feats.sort(reverse=True)
    return np.array([(cy, cx, o) for _, cy, cx, o in feats[:MAX_FEATURES]], np.int64).reshape(-1, 3)


@njit(parallel=True, cache=True, nogil=True)
def scan(R, offs, fy, fx, fo, th, tw, out_s, out_y, out_x, out_mean, out_sd):
    """Every template at every place of one level: its best 2 places (rows apart), mean and spread."""
    nb, hc, wc = R.shape
    for k in prange(len(th)):
        hh, ww = hc - th[k] + 1, wc - tw[k] + 1
        out_s[k, 0] = -1
        out_s[k, 1] = -1
        out_mean[k] = 0.0
        out_sd[k] = 1.0
        if hh <= 0 or ww <= 0:
            continue
        acc = np.empty(ww, np.uint16)
        rmax = np.empty(hh, np.int64)
        rarg = np.empty(hh, np.int64)
        s1 = 0.0
        s2 = 0.0
        for y in range(hh):
            acc[:] = 0
            for f in range(offs[k], offs[k + 1]):
                row = R[fo[f], y + fy[f], fx[f]:fx[f] + ww]
                for x in range(ww):
                    acc[x] += row[x]
            m = acc.argmax()
            rmax[y] = acc[m]
            rarg[y] = m
            t1 = 0
            t2 = 0
            for x in range(ww):
                a = np.int64(acc[x])
                t1 += a
                t2 += a * a
            s1 += t1
            s2 += t2
        y1 = rmax.argmax()
        out_s[k, 0], out_y[k, 0], out_x[k, 0] = rmax[y1], y1, rarg[y1]
        best = -1
        for y in range(hh):
            if abs(y - y1) > th[k] and rmax[y] > best:
                best = rmax[y]
                out_s[k, 1], out_y[k, 1], out_x[k, 1] = best, y, rarg[y]
        n = hh * ww
        mean = s1 / n
        out_mean[k] = mean
        out_sd[k] = math.sqrt(max(s2 / n - mean * mean, 1.0))


class DenseBank:
    """Templates of many marks, scanned together over one upload's levels."""

    def __init__(self, marks: list[tuple[int, Prepared, float]]) -> None:
        self.ids = [i for i, _, _ in marks]
        self.prepared = {i: p for i, p, _ in marks}
        self.aspect = [a for _, _, a in marks]
        cells = [template_cells(a) for a in self.aspect]
        feats = [template_features(p, gw, gh) for (_, p, _), (gw, gh) in zip(marks, cells)]
        counts = [len(f) for f in feats]
        self.offs = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        every = np.concatenate(feats)
        self.fy, self.fx, self.fo = (np.ascontiguousarray(every[:, i]) for i in range(3))
        self.gw = np.array([c[0] for c in cells], np.int64)
        self.gh = np.array([c[1] for c in cells], np.int64)
        self.n = np.maximum(np.array(counts, np.float64), 1)

    def search(self, frame_rgb: np.ndarray) -> tuple[list, np.ndarray, float, float]:
        """(levels, rows (mark number, level, y, x, raw share, z), CPU s of levels, CPU s of scans)."""
        c0 = time.process_time()
        lv = levels(frame_rgb)
        c1 = time.process_time()
        nt, rows = len(self.ids), []
        for li, (_, R) in enumerate(lv):
            s, y, x = (np.empty((nt, 2), np.int64) for _ in range(3))
            mean, sd = np.empty(nt), np.empty(nt)
            scan(R, self.offs, self.fy, self.fx, self.fo, self.gh, self.gw, s, y, x, mean, sd)
            for j in range(2):
                k = np.flatnonzero(s[:, j] >= 0)
                rows.append(np.stack([k, np.full(len(k), li), y[k, j], x[k, j], s[k, j] / (255.0 * self.n[k]),
                                      (s[k, j] - mean[k]) / sd[k]], 1))
        return lv, np.concatenate(rows), c1 - c0, time.process_time() - c1

    def box(self, lv: list, row: np.ndarray) -> tuple[float, float, float, float]:
        """The candidate's box in frame pixels, with the mark's own aspect."""
        k, f = int(row[0]), lv[int(row[1])][0]
        w, h = self.gw[k] * CELL / f, self.gh[k] * CELL / f
        a = self.aspect[k]
        cx, cy = row[3] * CELL / f + w / 2, row[2] * CELL / f + h / 2
        side = max(w, h)
        bw, bh = (side, side / a) if a >= 1 else (side * a, side)
        return (cx - bw / 2, cy - bh / 2, bw, bh)


def keypoint_guesses(index: IM.MarkIndex, frame: UploadFrame) -> tuple[np.ndarray, ...]:
    """The index's keypoint guesses, as ``MarkIndex.candidates`` makes them: (mark, side, aspect w, aspect h,
    centre x, centre y) arrays, frame pixels."""
    pts, sizes, desc = frame.keypoints
    distances, labels = index._faiss.search(np.ascontiguousarray(desc), IM.NEIGHBOURS)
    flat = index._geometry()
    q, c = np.nonzero((distances <= IM.MATCH_DISTANCE) & (labels >= 0))
    labels = labels[q, c]
    marks, numbers = labels // IM._SLOT, labels % IM._SLOT
    at = np.searchsorted(flat.ids, marks)
    row = flat.offsets[at] + numbers
    place = flat.points[row].astype(np.float64)
    side = sizes[q].astype(np.float64) / flat.sizes[row].astype(np.float64)
    aw, ah = flat.aspect[at, 0], flat.aspect[at, 1]
    cx = pts[q, 0] - place[:, 0] * side + aw * side / 2
    cy = pts[q, 1] - place[:, 1] * side + ah * side / 2
    ok = np.isfinite(side) & (side > 1) & (side < 1e5)
    return marks[ok], side[ok], aw[ok], ah[ok], cx[ok], cy[ok]


def pooled(marks, side, aw, ah, cx, cy, limit: int) -> list[tuple[int, tuple, int]]:
    """Guesses pooled by mark, size and place as the index pools them: (mark, box, guesses), most first."""
    size_bin = np.clip(np.round(np.log(side) / IM.SIZE_STEP), -60, 60).astype(np.int64) + 64
    gx = np.clip(np.floor(cx / (IM.PLACE_STEP * side)), -2000, 2000).astype(np.int64) + 2048
    gy = np.clip(np.floor(cy / (IM.PLACE_STEP * side)), -2000, 2000).astype(np.int64) + 2048
    key = ((marks * 128 + size_bin) * 4096 + gx) * 4096 + gy
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    counts = np.diff(np.concatenate([starts, [len(key)]]))
    out: list[tuple[int, tuple, int]] = []
    for b in np.argsort(-counts, kind="stable")[: limit * 2].tolist():
        members = order[starts[b]:starts[b] + counts[b]]
        s = float(np.exp(np.log(side[members]).mean()))
        m, w, h = int(marks[members[0]]), float(aw[members[0]]), float(ah[members[0]])
        box = (float(np.median(cx[members]) - w * s / 2), float(np.median(cy[members]) - h * s / 2), w * s, h * s)
        if not any(o[0] == m and overlap(o[1], box) > 0.5 for o in out):
            out.append((m, box, int(counts[b])))
        if len(out) == limit:
            break
    return out


def hybrid(bank: DenseBank, index: IM.MarkIndex, frame: UploadFrame, places: int, checks: int):
    """Located places (frame boxes) and the (mark, box) pairs chosen to check there."""
    lv, rows, _, _ = bank.search(frame.rgb)
    located: list[tuple] = []
    for o in np.argsort(-rows[:, 5], kind="stable"):
        box = bank.box(lv, rows[o])
        if not any(overlap(r, box) > 0.3 for r in located):
            located.append(box)
        if len(located) == places:
            break
    guesses = keypoint_guesses(index, frame)
    marks, side, aw, ah, cx, cy = guesses
    named: list[tuple[int, tuple, int]] = []
    for x, y, w, h in located:
        covers = (np.abs(cx - x - w / 2) <= aw * side / 2) & (np.abs(cy - y - h / 2) <= ah * side / 2) \
            & (side >= 0.7 * max(w, h))
        if covers.any():
            named += pooled(*(a[covers] for a in guesses), limit=3)
    named.sort(key=lambda n: -n[2])
    chosen: list[tuple[int, tuple]] = []
    for m, box, _ in named:
        if not any(c[0] == m and overlap(c[1], box) > 0.5 for c in chosen):
            chosen.append((m, box))
        if len(chosen) == checks:
            break
    return located, chosen


def positives(files: list[str], cases: int, seed: int = 7):
    """marks_bench's positive uploads, the same for the same photos and --cases."""
    marks = B.registered_marks()
    for n, path in enumerate(files):
        rng = np.random.default_rng(seed * 1000 + n)
        photo = np.asarray(Image.open(path).convert("RGB"))
        for c in B.positive_cases(photo, n, cases, marks, rng):
            yield ({k: c[k] for k in ("mark", "rel_width", "opacity", "transform")}, c["upload"], c["boxes"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("photos", nargs="?", default=str(Path(__file__).resolve().parents[1] / "../shared/data/photos"))
    parser.add_argument("--values", required=True, help="marks_bench.py's --values cache")
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--cases", type=int, default=4)
    parser.add_argument("--locator", type=int, default=0, help="scan only this many synthetic marks, as overlay finders")
    parser.add_argument("--verify", type=int, default=8, help="distinct candidates checked per upload (bank mode)")
    parser.add_argument("--hybrid", type=int, default=0, help="with --locator: places located, then named by keypoints")
    parser.add_argument("--json")
    args = parser.parse_args()
    values = [tuple(v) for v in json.loads(Path(args.values).read_text())]
    if args.locator:
        values = values[len(B.registered_marks()):len(B.registered_marks()) + args.locator]
    marks = []
    for value, i in values:
        t = T.decode(value)
        marks.append((i, Prepared.of(t), t.width / t.height))
    c0 = time.process_time()
    bank = DenseBank(marks)
    print(f"{len(marks)} templates, {bank.n.mean():.1f} features each, made in {time.process_time() - c0:.1f} s CPU",
          file=sys.stderr)
    files = sorted(str(p) for p in Path(args.photos).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    files = files[:args.limit]
    if args.hybrid:
        hybrid_run(args, bank, files)
        return
    ks = (8, 16, 32, 64, 256)
    rows_out, cpu_levels, cpu_scan = [], [], []
    for info, upload, boxes in positives(files, args.cases):
        frame = UploadFrame.from_rgb(upload)
        lv, rows, cl, cs = bank.search(frame.rgb)
        cpu_levels.append(cl)
        cpu_scan.append(cs)
        truth = [tuple(v / frame.to_upload for v in b) for b in boxes]
        order = np.argsort(-rows[:, 5], kind="stable")
        raw_order = np.argsort(-rows[:, 4], kind="stable")
        rank = raw_rank = None
        if args.locator:  # any candidate on the stamped mark (its centre inside it)
            def on(row):
                x, y, w, h = bank.box(lv, row)
                return any(b[0] <= x + w / 2 <= b[0] + b[2] and b[1] <= y + h / 2 <= b[1] + b[3] for b in truth)
        else:  # the stamped mark, at its place
            def on(row):
                return bank.ids[int(row[0])] == info["mark"] and any(B.iou(bank.box(lv, row), b) > 0.3 for b in truth)
        rank = next((j for j, o in enumerate(order[:256]) if on(rows[o])), None)
        raw_rank = next((j for j, o in enumerate(raw_order[:256]) if on(rows[o])), None)
        caught = None
        if not args.locator:
            checked = []
            for o in order:
                mid, box = bank.ids[int(rows[o, 0])], bank.box(lv, rows[o])
                if not any(c[0] == mid and B.iou(c[1], box) > 0.5 for c in checked):
                    checked.append((mid, box))
                if len(checked) == args.verify:
                    break
            caught = False
            for mid, box in checked:
                found = verify(bank.prepared[mid], frame, box)
                if found and found[0] >= THRESHOLD and mid == info["mark"] and any(B.iou(found[1], b) > 0.3 for b in truth):
                    caught = True
        rows_out.append(dict(info, rank=rank, raw_rank=raw_rank, caught=caught))
        print(f"{len(rows_out)} uploads", file=sys.stderr, end="\r")
    target = [r for r in rows_out if r["rel_width"] >= 0.04 and r["opacity"] >= 0.4]

    def within(rows, key, k):
        return f"{sum(r[key] is not None and r[key] < k for r in rows)}/{len(rows)}"

    report = {
        "mode": f"locator: {args.locator} synthetic marks, candidate centre on the stamped mark" if args.locator
        else f"bank: {len(marks)} marks, the stamped mark at its place (IoU > 0.3)",
        "uploads": len(rows_out), "target uploads (width >= 4 %, opacity >= 40 %)": len(target),
        "within best K by z": {k: within(target, "rank", k) for k in ks},
        "within best K by raw share": {k: within(target, "raw_rank", k) for k in ks},
        "cpu_ms_p50 levels": round(1000 * float(np.median(cpu_levels)), 1),
        "cpu_ms_p50 scan": round(1000 * float(np.median(cpu_scan)), 1),
        "by width (within best 16 by z)": {
            name: within([r for r in target if lo <= r["rel_width"] < hi], "rank", 16)
            for name, lo, hi in (("4-6 %", 0.04, 0.06), ("6-10 %", 0.06, 0.1), ("10-20 %", 0.1, 0.2), (">= 20 %", 0.2, 9))},
    }
    if not args.locator:
        report[f"caught, best {args.verify} checked"] = f"{sum(r['caught'] for r in target)}/{len(target)}"
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps({"report": report, "uploads": rows_out}, indent=1))


def hybrid_run(args, bank: DenseBank, files: list[str]) -> None:
    values = [tuple(v) for v in json.loads(Path(args.values).read_text())]
    index = IM.MarkIndex()
    for k in range(0, len(values), 200):
        index.add_many(values[k:k + 200])
    out, cpu = [], []
    for info, upload, boxes in positives(files, args.cases):
        frame = UploadFrame.from_rgb(upload)
        truth = [tuple(v / frame.to_upload for v in b) for b in boxes]
        c0 = time.process_time()
        located, chosen = hybrid(bank, index, frame, args.hybrid, args.verify)
        checked = [(m, verify(index._entries[m].prepared, frame, box)) for m, box in chosen]
        cpu.append(time.process_time() - c0)
        mi = info["mark"]
        caught = any(m == mi and v and v[0] >= THRESHOLD and any(B.iou(v[1], t) > 0.3 for t in truth) for m, v in checked)
        base = index._checked(frame, None, IM.CANDIDATES)
        out.append(dict(info, caught=caught,
                        located=any(any(t[0] <= x + w / 2 <= t[0] + t[2] and t[1] <= y + h / 2 <= t[1] + t[3] for t in truth)
                                    for x, y, w, h in located),
                        named=any(m == mi and any(B.iou(box, t) > 0.3 for t in truth) for m, box in chosen),
                        index=any(i == mi and s >= THRESHOLD and any(B.iou(b, t) > 0.3 for t in truth) for s, i, b in base)))
        print(f"{len(out)} uploads", file=sys.stderr, end="\r")
    target = [r for r in out if r["rel_width"] >= 0.04 and r["opacity"] >= 0.4]
    report = {"target uploads": len(target)}
    for key, what in (("located", f"a located place ({args.hybrid}) on the stamped mark"),
                      ("named", f"the stamped mark at its place among the {args.verify} chosen"),
                      ("caught", f"caught by checking those {args.verify}"),
                      ("index", f"caught by the index as it is ({IM.CANDIDATES} checks)")):
        report[what] = f"{sum(r[key] for r in target)}/{len(target)}"
    report["caught by either"] = f"{sum(r['caught'] or r['index'] for r in target)}/{len(target)}"
    report["cpu_ms_p50 (locate, name, check; one thread for the checks)"] = round(1000 * float(np.median(cpu)), 1)
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps({"report": report, "uploads": out}, indent=1))


if __name__ == "__main__":
    main()
