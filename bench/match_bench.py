"""In-process PDQ matching: this project's index vs python-threatexchange's PDQIndex, side by side.

Usage::

    python bench/match_bench.py [--sizes 1000000,10000000] [--queries 1000] [--json out.json]

For each size the same data set is generated from a fixed seed — uniformly random hashes plus
near-duplicate clusters (10 % of the hashes are 1–24-bit variants of cluster centres) — and the same
queries: stored hashes with 0–31 random bits flipped (90 %) and fresh random hashes (10 %). Each
engine runs in its own process so that its peak memory is its own:

* ``ours``: :class:`ncii_shield.index.multi_index.MultiIndexHammingIndex` (``add_many``)
* ``pytx``: ``threatexchange.signal_type.pdq.pdq_index.PDQIndex`` (``add_all``; it sets faiss'
  ``nflip = 31 // 16 = 1``, which makes it exact up to 31)
* ``mih-noflip`` (``--engines ours,pytx,mih-noflip``): faiss ``IndexBinaryMultiHash`` with 16 x 16-bit
  chunks and ``nflip = 0`` — the configuration that can miss matches at distance >= 16

Reported per engine and size: build time, memory per hash (RSS growth during the build / n) and peak
RSS, single-thread queries per second (by the wall clock, and by the process's CPU time, which other
load on a shared machine disturbs less; ours also for the whole query set in one ``query_many``
call), and recall against brute force (every stored hash within 31
of a query must be returned). The reference haystack/needles from the PDQ repository are run too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "data" / "pdq-reference" / "reg-test-input"
THRESHOLD = 31


def rss_mb(field: str = "VmRSS") -> float:
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def make_data(n: int, n_queries: int, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    words = rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64)
    clustered = n // 10
    centres = rng.integers(0, n, size=max(1, clustered // 20))
    targets = rng.integers(0, n, size=clustered)
    words[targets] = _flip(words[centres[rng.integers(0, len(centres), size=clustered)]], rng, 1, 24)
    picks = rng.integers(0, n, size=n_queries)
    queries = _flip(words[picks], rng, 0, THRESHOLD)
    fresh = rng.random(n_queries) < 0.10
    queries[fresh] = rng.integers(0, 2**64, size=(int(fresh.sum()), 4), dtype=np.uint64)
    return words, queries


def _flip(words: np.ndarray, rng: np.random.Generator, lo: int, hi: int) -> np.ndarray:
    """Flip lo..hi random bits of each row (a repeated position flips back: at most hi bits)."""
    n = len(words)
    bits = np.unpackbits(words.astype(">u8").view(np.uint8).reshape(n, 32), axis=1)
    k = rng.integers(lo, hi + 1, size=n)
    positions = rng.integers(0, 256, size=(n, max(hi, 1)))
    valid = (np.arange(max(hi, 1))[None, :] < k[:, None]).ravel()
    rows = np.repeat(np.arange(n), max(hi, 1))[valid]
    np.bitwise_xor.at(bits, (rows, positions.ravel()[valid]), 1)
    return np.packbits(bits, axis=1).view(">u8").astype(np.uint64)


def to_hex(words: np.ndarray) -> list[str]:
    raw = words.astype(">u8").tobytes().hex()
    return [raw[i:i + 64] for i in range(0, len(raw), 64)]


def brute_force(words: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    truth = []
    for q in queries:
        counts = np.bitwise_count(words ^ q)
        d = counts[:, 0] + counts[:, 1] + counts[:, 2] + counts[:, 3]
        truth.append(set(np.flatnonzero(d <= THRESHOLD).tolist()))
    return truth


def run_engine(engine: str, words: np.ndarray, queries: np.ndarray, truth: list[set[int]]) -> dict:
    import gc

    gc.collect()
    before = rss_mb()  # before the input strings exist: what remains after the build is the index
    values, qvalues = to_hex(words), to_hex(queries)
    started = time.perf_counter()
    if engine == "ours":
        from ncii_shield.index.multi_index import MultiIndexHammingIndex

        index = MultiIndexHammingIndex()
        index.add_many(zip(values, range(len(values))))

        def query(v: str) -> set[int]:
            return {m.id for m in index.query(v, THRESHOLD)}
    elif engine == "mih-noflip":
        import faiss

        from ncii_shield.index.bits import hexes_to_words

        index = faiss.IndexBinaryMultiHash(256, 16, 16)
        index.nflip = 0  # exact chunk lookups only: guaranteed only up to distance 15
        index.add(hexes_to_words(values).astype(">u8").view(np.uint8).reshape(-1, 32))

        def query(v: str) -> set[int]:
            _lims, _dist, ids = index.range_search(np.frombuffer(bytes.fromhex(v), dtype=np.uint8)[None, :], THRESHOLD + 1)
            return set(ids.tolist())
    else:
        from threatexchange.signal_type.pdq.pdq_index import PDQIndex

        index = PDQIndex()
        index.add_all(zip(values, range(len(values))))

        def query(v: str) -> set[int]:
            return {m.metadata for m in index.query(v)}
    build = time.perf_counter() - started
    del values
    gc.collect()
    after = rss_mb()
    for v in qvalues[:20]:  # warm up
        query(v)
    started, cpu_started = time.perf_counter(), time.process_time()
    results = [query(v) for v in qvalues]
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    batched = None
    if engine == "ours":  # the whole query set in one call, as a batched HTTP request does
        cpu_started = time.process_time()
        many = index.query_many(qvalues, THRESHOLD)
        batched = round(len(qvalues) / (time.process_time() - cpu_started))
        assert [{m.id for m in found} for found in many] == results
    expected = sum(len(t) for t in truth)
    found = sum(len(r & t) for r, t in zip(results, truth))
    extra = sum(len(r - t) for r, t in zip(results, truth))
    return {
        "engine": engine, "n": len(words), "queries": len(qvalues),
        "build_s": round(build, 2), "bytes_per_hash": round((after - before) * 1024 * 1024 / len(words), 1),
        "own_accounting_bytes_per_hash": round(index.memory_bytes() / len(words), 1) if engine == "ours" else None,
        "peak_rss_mb": round(rss_mb("VmHWM")), "ms_per_query": round(1000 * elapsed / len(qvalues), 3),
        "queries_per_s": round(len(qvalues) / elapsed), "cpu_queries_per_s": round(len(qvalues) / cpu),
        "batched_cpu_queries_per_s": batched, "recall": round(found / expected, 6) if expected else 1.0,
        "expected_matches": expected, "false_matches": extra,
    }


def reference_check(engine: str) -> dict:
    hay = [line.split()[0] for line in (REFERENCE / "haystack.txt").read_text().splitlines() if line.strip()]
    needles = [line.split()[0] for line in (REFERENCE / "needles.txt").read_text().splitlines() if line.strip()]
    from ncii_shield.index.bits import hexes_to_words

    truth = brute_force(hexes_to_words(hay), hexes_to_words(needles))
    result = run_engine(engine, hexes_to_words(hay), hexes_to_words(needles), truth)
    return {"engine": engine, "haystack": len(hay), "needles": len(needles), "recall": result["recall"],
            "expected_matches": result["expected_matches"]}


def child(args: argparse.Namespace) -> None:
    if args.size == 0:
        print(json.dumps(reference_check(args.engine)))
        return
    words, queries = make_data(args.size, args.queries)
    truth = brute_force(words, queries)
    print(json.dumps(run_engine(args.engine, words, queries, truth)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--engines", default="ours,pytx")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        child(args)
        return 0
    rows = []
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one thread for both (faiss uses OpenMP)
    for size in [0, *[int(s) for s in args.sizes.split(",")]]:
        for engine in args.engines.split(","):
            proc = subprocess.run([sys.executable, __file__, "--engine", engine, "--size", str(size),
                                   "--queries", str(args.queries)], capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return 1
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    sized = [r for r in rows if "n" in r]
    for n in sorted({r["n"] for r in sized}):
        pair = {r["engine"]: r for r in sized if r["n"] == n}
        if "ours" in pair and "pytx" in pair:
            print(f"n={n:,}: queries/s ours/pytx = {pair['ours']['queries_per_s'] / pair['pytx']['queries_per_s']:.2f}x "
                  f"(CPU time: {pair['ours']['cpu_queries_per_s'] / pair['pytx']['cpu_queries_per_s']:.2f}x), "
                  f"memory per hash ours/pytx = {pair['ours']['bytes_per_hash'] / max(1, pair['pytx']['bytes_per_hash']):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
