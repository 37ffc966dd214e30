"""Do the scale run's synthetic entries' cells (bench/derivative_scale.py ``entry_keys``) collide with uploads' cells
as real photos' do? (2026-12-07 #7, HB.) The cell search (index/derivative.py ``CELL_CANDIDATES``) counts an
upload's textured cells identical in place (cell, 16-bit structure pattern) to a registered photo's; its cost and
its candidates at 1M come from how often that happens between unrelated pictures. Compared here, shapes aside (every
pair, not only those of one shape, for numbers):

- textured cells a photo (the keys a photo costs): the 129 real photos, the 64 the windows are cut from, entries;
- the chance that two cells at one place share their key (the sum over keys of their squared share, per place),
  among real photos and among entries;
- identical cells between an upload and a photo it does not show (the lookup's count): the timed uploads of the
  scale run (derivative uploads of the even photos, and unrelated ones) against every real photo other than the
  upload's own two, and against a sample of entries; mean, share with CELL_VOTES (10) or more, 15 or more, max.

    python bench/hb_cellsynth.py [--photos DIR] [--entries 100000] [--queries 120] [--unrelated-queries 60]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
from derivative_scale import SyntheticRegistry, make_upload, unrelated_uploads  # noqa: E402

import ncii_shield.index.derivative as D  # noqa: E402
from ncii_shield.signals.derivative import features as F  # noqa: E402
from ncii_shield.signals.derivative.verify import Upload  # noqa: E402

PLACE = 0xFFFFFF  # a key without its shape's bin: the cell's place and pattern


def placed(keys: np.ndarray) -> np.ndarray:
    return keys.astype(np.uint32) & PLACE


def counts_against(query: np.ndarray, keys: np.ndarray, rows: np.ndarray, n_rows: int) -> np.ndarray:
    """For each row, how many of ``query`` (distinct placed keys) it holds (``keys`` sorted, ``rows`` alike)."""
    lo, hi = np.searchsorted(keys, query, "left"), np.searchsorted(keys, query, "right")
    n = hi - lo
    hit = rows[np.repeat(lo - np.cumsum(np.r_[0, n[:-1]]), n) + np.arange(int(n.sum()))]
    return np.bincount(hit, minlength=n_rows)


def collision(keys_by_photo: list[np.ndarray]) -> float:
    """Chance that two photos' cells at one place are both textured with one pattern, summed over places: the
    expected identical cells of two random photos of these."""
    every = np.concatenate(keys_by_photo)
    _, n = np.unique(every, return_counts=True)
    p = len(keys_by_photo)
    return float(((n * (n - 1)).sum()) / (p * (p - 1)))


def summary(c: np.ndarray) -> dict:
    return {"pairs": int(len(c)), "mean": round(float(c.mean()), 3), "ge10": round(float((c >= 10).mean()), 6),
            "ge15": round(float((c >= 15).mean()), 6), "max": int(c.max()), "p99": float(np.percentile(c, 99))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", default=str(ROOT.parent / "shared" / "data" / "photos"))
    parser.add_argument("--unrelated", default=str(ROOT.parent / "shared" / "data" / "faces"))
    parser.add_argument("--entries", type=int, default=100_000, help="entries sampled (the first N of 1M)")
    parser.add_argument("--queries", type=int, default=120)
    parser.add_argument("--unrelated-queries", type=int, default=60)
    parser.add_argument("--json")
    args = parser.parse_args()
    paths = sorted(p for p in Path(args.photos).iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    t0 = time.perf_counter()
    reg = SyntheticRegistry(paths, 1_000_000, 50_000, 7, "honest")
    real = [F.decode(reg.values[i + 1]) for i in range(len(paths))]  # as stored: std quantised as the index sees it
    real_keys = [placed(D._cell_keys(f.cells, f.frame_w / f.frame_h)) for f in real]
    windows = reg.window_cells(1)
    # entries spread over the 1M: every (1M / N)th, so that copies (k >= 50,000) are sampled as often as they occur
    step = max(1, 1_000_000 // args.entries)
    ks = np.arange(0, 1_000_000, step)[: args.entries]
    entry_keys = []
    for a in range(0, len(ks), 20_000):
        part = ks[a:a + 20_000]
        from derivative_scale import entry_keys as ek  # noqa: PLC0415

        bins = np.zeros(len(part), np.int64)
        entry_keys += [placed(k) for k in ek(windows, bins, part, reg.real_n, reg.seed)]
    out: dict = {"entries_sampled": len(ks), "step": step}
    cells = lambda ks_: {"mean": round(float(np.mean([len(k) for k in ks_])), 1),  # noqa: E731
                         "p10_p50_p90": [float(np.percentile([len(k) for k in ks_], q)) for q in (10, 50, 90)]}
    out["textured_cells_a_photo"] = {"real_129": cells(real_keys),
                                     "real_window_photos_64": cells([real_keys[i] for i in reg.window_photos]),
                                     "entries": cells(entry_keys)}
    rng = np.random.default_rng(3)
    sample = [entry_keys[int(i)] for i in rng.choice(len(entry_keys), min(3000, len(entry_keys)), replace=False)]
    out["expected_identical_cells_two_random_photos"] = {"real_129": round(collision(real_keys), 3),
                                                          "entries_3000": round(collision(sample), 3)}
    # the registries, shapes aside
    rk = np.concatenate(real_keys)
    rr = np.concatenate([np.full(len(k), i) for i, k in enumerate(real_keys)])
    o = np.argsort(rk, kind="stable")
    rk, rr = rk[o], rr[o]
    ekeys = np.concatenate(entry_keys)
    erows = np.concatenate([np.full(len(k), i) for i, k in enumerate(entry_keys)])
    o = np.argsort(ekeys, kind="stable")
    ekeys, erows = ekeys[o], erows[o]
    rng = np.random.default_rng(7)
    related = [make_upload(paths, rng, q, reg.upload_photos) for q in range(args.queries)]
    unrelated = unrelated_uploads(Path(args.unrelated), args.unrelated_queries, 7)
    for name, uploads in (("derivative_uploads", [(rgb, i, j) for rgb, i, j in related]),
                          ("unrelated_uploads", [(rgb, -1, -1) for rgb in unrelated])):
        vs_real, vs_entries = [], []
        for rgb, i, j in uploads:
            up = Upload.from_rgb(rgb)
            best_r = np.zeros(len(real_keys), np.int64)
            best_e = np.zeros(len(entry_keys), np.int64)
            for mirrored in (False, True):
                c = up.whole_cells(mirrored)
                q = np.unique(placed(D._cell_keys(c, 1.0)))
                best_r = np.maximum(best_r, counts_against(q, rk, rr, len(real_keys)))
                best_e = np.maximum(best_e, counts_against(q, ekeys, erows, len(entry_keys)))
            keep = np.ones(len(real_keys), bool)
            keep[[x for x in (i, j) if x >= 0]] = False  # the upload's own photo and its pasted part's
            vs_real.append(best_r[keep])
            vs_entries.append(best_e)
        out[name] = {"vs_real_photos": summary(np.concatenate(vs_real)),
                     "vs_entries": summary(np.concatenate(vs_entries))}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
