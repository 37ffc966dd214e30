"""Memory of a whole server process holding N PDQ hashes (default 10M), and its lookup latency.

Usage::

    python bench/server_memory.py [--hashes 10000000] [--keep DIR]

Fills a SQLite store with N random PDQ hashes (rows are written with plain ``executemany`` to keep
set-up short; the schema, migrations and unique index are the real ones), starts
``ncii-shield serve --workers 1``, waits until its index holds all N, then reports the worker's
resident memory now (VmRSS) and at its peak while loading (VmHWM), how long loading took, and the
latency of single lookups over HTTP (sequential, one client).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def fill(db_path: Path, n: int) -> tuple[str, list[str]]:
    from ncii_shield.core import Shield

    shield = Shield.open(f"sqlite:///{db_path}", load_index=False)
    key, principal = shield.keys.create(tenant="bench", scopes=["admin"])
    shield.banks.create(principal, "bench")
    shield.close()
    rng = np.random.default_rng(11)
    connection = sqlite3.connect(db_path)
    bank_id = connection.execute("SELECT id FROM banks WHERE name = 'bench'").fetchone()[0]
    samples: list[str] = []
    started = time.perf_counter()
    for start in range(0, n, 200_000):
        count = min(200_000, n - start)
        raw = rng.integers(0, 2**64, size=(count, 4), dtype=np.uint64).astype(">u8").tobytes().hex()
        values = [raw[i * 64:(i + 1) * 64] for i in range(count)]
        samples.extend(values[:5])
        connection.executemany(
            "INSERT INTO signals (bank_id, signal_type, value, value_digest, created_at) VALUES (?, 'pdq', ?, ?, '2026-01-01')",
            ((bank_id, v, hashlib.sha256(v.encode()).hexdigest()) for v in values),
        )
        connection.commit()
    connection.close()
    print(f"filled {n:,} rows in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return key, samples


def status(pid: int) -> dict[str, int]:
    out = {}
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(("VmRSS:", "VmHWM:")):
            out[line.split(":")[0]] = int(line.split()[1]) // 1024
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hashes", type=int, default=10_000_000)
    parser.add_argument("--keep", type=Path, help="reuse/keep the database in this folder")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="ncii-mem-"))
    folder.mkdir(parents=True, exist_ok=True)
    db_path = folder / "bench.db"
    key_file = folder / "key.json"
    if db_path.exists() and key_file.exists():
        key, samples = json.loads(key_file.read_text())
    else:
        key, samples = fill(db_path, args.hashes)
        key_file.write_text(json.dumps([key, samples]))
    import httpx

    port = 18900
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "ncii_shield.cli", "serve", "--db", f"sqlite:///{db_path}",
                               "--port", str(port), "--workers", "1", "--no-demo", "--log-level", "warning"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                health = httpx.get(base + "/healthz", timeout=2).json()
                if health.get("signals") == args.hashes:
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if server.poll() is not None or time.perf_counter() - started > 1200:
                print("server did not come up", file=sys.stderr)
                return 1
            time.sleep(0.5)
        load_s = time.perf_counter() - started
        headers = {"Authorization": f"Bearer {key}"}
        latencies = []
        with httpx.Client(base_url=base, headers=headers) as client:
            for value in samples[:500]:
                t = time.perf_counter()
                r = client.post("/v1/match", json={"signal_type": "pdq", "value": value})
                latencies.append(time.perf_counter() - t)
                assert r.json()["matches"], "a stored hash must match"
        memory = status(server.pid)
        report = {"hashes": args.hashes, "start_to_ready_s": round(load_s, 1), "rss_mb": memory["VmRSS"],
                  "peak_rss_mb": memory["VmHWM"], "bytes_per_hash": round(memory["VmRSS"] * 1024 * 1024 / args.hashes, 1),
                  "http_lookup_p50_ms": round(1000 * float(np.percentile(latencies, 50)), 2),
                  "http_lookup_p99_ms": round(1000 * float(np.percentile(latencies, 99)), 2)}
        print(json.dumps(report, indent=1))
    finally:
        server.terminate()
        server.wait(timeout=60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
