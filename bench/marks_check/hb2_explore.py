"""Offline statistics on hb2_rows.py's rows (issue 19, 2026-12-08, HB): the upload explained by the registered
mark at its fitted opacity over the photo's smooth colours, letter window by letter window, targets against
look-alikes.

    python bench/marks_check/hb2_explore.py R.pkl [R2.pkl ...]
"""

from __future__ import annotations

import pickle
import sys
from collections import defaultdict

import cv2
import numpy as np

THR = 0.75


def residual(r, sigma_share=0.25, width=0.8, step=0.5, dil=0):
    cut = r["cut"].astype(np.float32)
    a, c = r["alpha"], r["colour_img"]
    bx, by, bw, bh = r["at"]
    H, W = cut.shape[:2]
    A = np.zeros((H, W), np.float32)
    C = np.zeros((H, W, 3), np.float32)
    x0, y0, x1, y1 = max(0, bx), max(0, by), min(W, bx + bw), min(H, by + bh)
    A[y0:y1, x0:x1] = a[y0 - by:y1 - by, x0 - bx:x1 - bx]
    C[y0:y1, x0:x1] = c[y0 - by:y1 - by, x0 - bx:x1 - bx]
    tall = bh > bw
    if tall:
        cut, A, C = (np.ascontiguousarray(np.swapaxes(v, 0, 1)) for v in (cut, A, C))
        bx, by, bw, bh = by, bx, bh, bw
        H, W = W, H
        x0, y0, x1, y1 = y0, x0, y1, x1
    th = bh
    sigma = max(2.0, sigma_share * th)
    free = 1.0 - A
    ws = np.maximum(cv2.GaussianBlur(free, (0, 0), sigma), 1e-3)
    bg = cv2.GaussianBlur(cut * free[:, :, None], (0, 0), sigma) / ws[:, :, None]
    D = A[:, :, None] * (C - bg)
    U = cut - bg
    inbox = np.zeros((H, W), bool)
    inbox[y0:y1, x0:x1] = True
    dd = float((D[inbox] ** 2).sum())
    k = float((U[inbox] * D[inbox]).sum() / max(dd, 1e-6))
    R = U - k * D
    e = (R * R).sum(axis=2)
    d = (k * k) * (D * D).sum(axis=2)
    out_rows = np.r_[0:y0, y1:H]
    rin = e[y0:y1].mean(axis=0)
    rout = e[out_rows].mean(axis=0) if len(out_rows) else np.zeros(W)
    dcol = d[y0:y1].mean(axis=0)
    wide = max(3, round(width * th))
    st = max(1, round(step * wide))
    starts = list(range(x0, x1 - wide + 1, st))
    if not starts or starts[-1] != x1 - wide:
        starts.append(max(x0, x1 - wide))
    wins = [(float(rin[s:s + wide].mean()), float(rout[s:s + wide].mean()), float(dcol[s:s + wide].mean()))
            for s in starts]
    return k, wins


def stat(wins, lam=1.0):
    if len(wins) < 3:
        return 0.0
    dmed = float(np.median([w[2] for w in wins]))
    ex = [(ri - lam * ro) / max(dmed, 1e-6) for ri, ro, _ in wins]
    return float(max(ex) - np.median(ex))


def main() -> None:
    rows = [r for p in sys.argv[1:] for r in pickle.load(open(p, "rb"))]
    seen = set()
    uniq = []
    for r in rows:
        key = (r["file"], r["kind"], r["case"], r["view"], tuple(r["found"]))
        if key not in seen:
            seen.add(key)
            uniq.append(r)
    passing = [r for r in uniq if r["score"] >= THR and "cut" in r]
    for r in passing:
        r["k"], r["wins"] = residual(r)
    for lam in (0.0, 0.5, 1.0):
        vals = defaultdict(list)
        for r in passing:
            vals[r["kind"]].append((stat(r["wins"], lam), r))
        pos = sorted((v for v, _ in vals["pos"]), reverse=True)
        al = sorted(vals["alike"], key=lambda x: x[0])
        print(f"lam {lam}: pos top {[round(v, 3) for v in pos[:8]]}")
        print("   alike", [(round(v, 3), r["word"]) for v, r in al])


if __name__ == "__main__":
    main()
