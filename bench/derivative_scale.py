"""Scale run of bench/derivative_bench.py (``--registry-size N``); see that file's docstring.

The synthetic registry's index samples are cached in ``bench/results/`` (N x 128 descriptors), so a
second run skips the slow part (ORB on N windows).
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from derivative_bench import (
    EDITS, TRANSFORMS, apply_edit, apply_transform, load_rgb, reencode, region, shrink,
)

from ncii_shield.index.derivative import CANDIDATES, DerivativeIndex
from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative.verify import Outcome, Upload

ROOT = Path(__file__).resolve().parents[1]
_GREYS: list[np.ndarray] = []


def _window(k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 1_000_003, k])
    grey = _GREYS[k % len(_GREYS)]
    h, w = grey.shape
    fw, fh = rng.uniform(0.3, 0.8), rng.uniform(0.3, 0.8)
    cw, ch = max(32, int(w * fw)), max(32, int(h * fh))
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    win = grey[y:y + ch, x:x + cw]
    if rng.random() < 0.5:
        win = win[:, ::-1]
    side = rng.uniform(256, 320)
    f = side / max(win.shape)
    win = cv2.resize(np.ascontiguousarray(win), (max(8, round(win.shape[1] * f)), max(8, round(win.shape[0] * f))),
                     interpolation=cv2.INTER_AREA)
    gamma = rng.uniform(0.8, 1.25)
    win = (255.0 * (win / 255.0) ** gamma).astype(np.uint8)
    _, desc = F.keypoints(win, F.MAX_KEYPOINTS, coarse_first=F.INDEX_KEYPOINTS)  # the index sample, as registered
    desc = desc[:F.INDEX_KEYPOINTS]
    out = np.zeros((F.INDEX_KEYPOINTS, 32), np.uint8)
    out[: len(desc)] = desc
    return out


def _windows(chunk: tuple[int, int, int]) -> np.ndarray:
    start, stop, seed = chunk
    return np.stack([_window(k, seed) for k in range(start, stop)])


def synthetic_registry(paths: list[Path], n: int, seed: int, workers: int) -> np.ndarray:
    cache = ROOT / "bench" / "results" / f"derivative-registry-v2-{n}-{len(paths)}-{seed}.npy"
    if cache.exists():
        return np.load(cache)
    _GREYS.extend(cv2.cvtColor(shrink(load_rgb(p)), cv2.COLOR_RGB2GRAY) for p in paths)
    chunks = [(s, min(n, s + 2000), seed) for s in range(0, n, 2000)]
    started = time.perf_counter()
    with mp.get_context("fork").Pool(workers) as pool:
        parts = []
        for part in pool.imap(_windows, chunks):
            parts.append(part)
            print(f"  synthetic registry: {sum(len(p) for p in parts):,}/{n:,} "
                  f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    codes = np.concatenate(parts)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, codes)
    return codes


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def scale_run(args, paths: list[Path]) -> dict:  # noqa: ANN001
    n = args.registry_size
    real = [F.photo_features(load_rgb(p)) for p in paths]
    values = {i + 1: F.encode(f) for i, f in enumerate(real)}
    codes = synthetic_registry(paths, n, args.seed, args.workers)
    base_of = {1_000_000 + k: 1 + k % len(paths) for k in range(n)}

    def lookup(ids: list[int]) -> dict[int, str]:  # stands in for the database read
        return {i: values[base_of.get(i, i)] for i in ids}

    before = rss_mb()
    started = time.perf_counter()
    index = DerivativeIndex(lookup)
    real_batch = [(f, i + 1) for i, f in enumerate(real)]
    synth = [(F.PhotoFeatures(0, 0, 0, 0, np.zeros((0, 2), np.float32), codes[k], None), 1_000_000 + k)  # type: ignore[arg-type]
             for k in range(n)]
    index.add_features_many(real_batch + synth)
    del synth
    build_s = time.perf_counter() - started
    grown = rss_mb() - before
    print(f"index of {len(index):,} photos built in {build_s:.1f} s; RSS +{grown:.0f} MB", file=sys.stderr)

    rng = np.random.default_rng(args.seed)
    times, found, flagged, search_times = [], 0, 0, []
    for q in range(args.queries):
        i = int(rng.integers(0, len(paths)))
        base = shrink(load_rgb(paths[i]))
        h, w = base.shape[:2]
        edit = EDITS[q % len(EDITS)]
        transform = TRANSFORMS[(q // len(EDITS)) % len(TRANSFORMS)]
        j = (i + 1 + int(rng.integers(0, len(paths) - 1))) % len(paths)
        img = apply_edit(edit, base, region(rng, h, w), rng, shrink(load_rgb(paths[j]), 640))
        out, quality = apply_transform(transform, img, rng)
        upload = reencode(out, quality)
        t0 = time.perf_counter()
        prepared = Upload.from_rgb(upload)
        t1 = time.perf_counter()
        hits = index.check(prepared)
        t2 = time.perf_counter()
        times.append(t2 - t0)
        search_times.append(t2 - t1)
        found += any(h.id == i + 1 or base_of.get(h.id) == i + 1 for h in hits)
        flagged += any(h.id == i + 1 and h.verdict.outcome is Outcome.DERIVATIVE for h in hits)
    ms = np.array(times) * 1000
    summary = {
        "registry": len(index), "synthetic": n, "build_seconds": build_s,
        "index_bytes_per_photo": index.memory_bytes() / len(index), "rss_growth_mb": grown,
        "rss_per_photo_bytes": grown * 1024 * 1024 / len(index),
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "queries": args.queries, "check_ms_p50": float(np.percentile(ms, 50)),
        "check_ms_p95": float(np.percentile(ms, 95)),
        "search_verify_ms_p50": float(np.percentile(np.array(search_times) * 1000, 50)),
        "own_photo_verified": found / args.queries, "flagged": flagged / args.queries,
    }
    print(f"## Derivative detection at scale: {len(index):,} registered photos\n\n"
          f"- time per upload (feature extraction + candidate search + verification, 1 thread): "
          f"p50 {summary['check_ms_p50']:.0f} ms, p95 {summary['check_ms_p95']:.0f} ms "
          f"(search + verification alone p50 {summary['search_verify_ms_p50']:.0f} ms)\n"
          f"- index memory: {summary['index_bytes_per_photo']:.0f} bytes per photo (faiss codes + labels); "
          f"process RSS grew {grown:.0f} MB ({summary['rss_per_photo_bytes']:.0f} bytes per photo)\n"
          f"- uploads verified against their own photo or one of its synthetic crops: "
          f"{summary['own_photo_verified']:.1%}; flagged as a derivative of their own registered photo: "
          f"{summary['flagged']:.1%} (of {args.queries}; the ~775 crops of the same photo in the registry "
          f"compete with it for the {CANDIDATES} candidate places)")
    return summary
