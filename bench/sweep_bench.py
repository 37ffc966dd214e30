"""Copy sweep: time to sweep one removed item against a platform content index of 1M content ids.

Usage::

    python bench/sweep_bench.py [--n 1000000] [--sweeps 200] [--db postgresql://postgres@127.0.0.1/x] [--json out.json]

Two parts, in one process:

1. **Index only** (the PDQ near-copy search a sweep runs): ``n`` random PDQ hashes plus planted
   copies in the multi-index that ``ContentIndex`` keeps per tenant, against brute force over the
   same numpy array (the reference: exact by construction), side by side on the same queries. Each
   query is a removed item's PDQ; both must return the same rows (recall checked).
2. **Whole sweep through the service**: ``n`` content ids registered through
   ``ContentService.register`` (10,000 per call) in a real database, then removal requests decided
   through ``ReviewService.decide`` — which banks the removed hashes, sweeps (MD5/SHA-256 by database
   index, PDQ by the in-memory cache) and links copies. The first sweep loads the cache from the
   table (cold); later ones only read rows added since (warm).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ncii_shield.index.bits import WORDS  # noqa: E402
from ncii_shield.index.bits import words_to_hex as word_row_to_hex  # noqa: E402
from ncii_shield.index.multi_index import MultiIndexHammingIndex  # noqa: E402


def words_to_hex(words: np.ndarray) -> list[str]:
    return [word_row_to_hex(row) for row in words]


def flip(row: np.ndarray, bits: int, rng: np.random.Generator) -> np.ndarray:
    out = row.copy()
    for b in rng.choice(256, size=bits, replace=False):
        out[b // 64] ^= np.uint64(1) << np.uint64(63 - b % 64)
    return out


def index_part(n: int, sweeps: int, seed: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    words = rng.integers(0, 2**63, size=(n, WORDS), dtype=np.int64).view(np.uint64)
    removed = rng.integers(0, n, size=sweeps)
    # plant a near copy (10 bits away) of every removed item, as the last rows
    planted = np.stack([flip(words[r], 10, rng) for r in removed])
    words = np.concatenate([words, planted])
    ids = np.arange(1, len(words) + 1, dtype=np.int64)
    started = time.perf_counter()
    index = MultiIndexHammingIndex()
    index.add_words(words, ids)
    build = time.perf_counter() - started
    queries = words_to_hex(words[removed])
    ours, brute = [], []
    recall_ok = True
    for q, value in zip(removed, queries):
        t = time.perf_counter()
        found = {m.id for m in index.query(value, 31)}
        ours.append(time.perf_counter() - t)
        query = words[q]
        t = time.perf_counter()
        counts = np.bitwise_count(words ^ query)
        dist = counts[:, 0] + counts[:, 1] + counts[:, 2] + counts[:, 3]
        expected = set((np.flatnonzero(dist <= 31) + 1).tolist())
        brute.append(time.perf_counter() - t)
        recall_ok &= found == expected and len(expected) >= 2
    return {"n": len(words), "build_s": round(build, 2), "sweeps": sweeps,
            "ours_median_ms": round(statistics.median(ours) * 1000, 3),
            "ours_p99_ms": round(np.percentile(ours, 99) * 1000, 3),
            "brute_median_ms": round(statistics.median(brute) * 1000, 3),
            "speedup": round(statistics.median(brute) / statistics.median(ours), 1),
            "same_results_as_brute_force": bool(recall_ok)}


def service_part(n: int, db_url: str, requests: int = 5, seed: int = 11) -> dict:
    os.environ.setdefault("NCII_SHIELD_DATA", tempfile.mkdtemp(prefix="sweep-bench-"))
    from ncii_shield.core import Shield
    from ncii_shield.services.content import ContentInput
    from ncii_shield.services.notices import NoticeSubmission

    rng = np.random.default_rng(seed)
    shield = Shield.open(db_url, load_index=False)
    tenant = shield.local_principal().tenant_id
    words = rng.integers(0, 2**63, size=(n, WORDS), dtype=np.int64).view(np.uint64)
    pdqs = words_to_hex(words)
    md5s = [os.urandom(16).hex() for _ in range(n)]
    started = time.perf_counter()
    for start in range(0, n, 10_000):
        shield.content.register(tenant, [ContentInput(f"c{i}", pdq=pdqs[i], md5=md5s[i])
                                         for i in range(start, min(n, start + 10_000))])
    register = time.perf_counter() - started
    removed = rng.integers(0, n, size=requests)
    copies = [ContentInput(f"copy-of-c{r}", pdq=words_to_hex(flip(words[r], 8, rng)[None, :])[0], md5=md5s[r])
              for r in removed]
    shield.content.register(tenant, copies)
    timings = []
    for k, r in enumerate(removed):
        ref = shield.notices.submit(NoticeSubmission(
            requester_role="depicted_person", signature=f"bench {k}", content_description="bench",
            content_ids=[f"c{r}"], good_faith=True, contact_email="bench@example.org"), channel="api").notice.reference
        item = next(q for q in shield.review.queue(tenant) if q.reference == ref)
        t = time.perf_counter()
        shield.review.decide(tenant, item.id, "remove", "bench", actor="bench")
        timings.append(time.perf_counter() - t)
        linked = {i["value"] for i in shield.notices.get(tenant, ref).items}
        assert f"copy-of-c{r}" in linked, linked
    shield.close()
    return {"n": n + requests, "db": db_url.split(":")[0], "register_s": round(register, 1),
            "register_per_s": round(n / register), "decide_and_sweep_cold_s": round(timings[0], 3),
            "decide_and_sweep_warm_ms": [round(t * 1000, 1) for t in timings[1:]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--sweeps", type=int, default=200)
    parser.add_argument("--db", default=None, help="database for part 2 (default: a temporary SQLite file)")
    parser.add_argument("--skip-service", action="store_true")
    parser.add_argument("--skip-index", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = {}
    if not args.skip_index:
        result["index"] = index_part(args.n, args.sweeps)
        print(json.dumps(result["index"]), flush=True)
    if not args.skip_service:
        db = args.db or f"sqlite:///{tempfile.mkdtemp(prefix='sweep-bench-')}/sweep.db"
        result["service"] = service_part(args.n, db)
        print(json.dumps(result["service"]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
