"""Soak: mixed traffic against 2 worker processes for a while; throughput, latency, errors, RSS.

Usage::

    python bench/soak.py --seconds 600 --plot docs/soak.png --json soak.json   # the 10-minute run
    python bench/soak.py --seconds 60                                          # what CI runs (tests/)

Starts ``ncii-shield serve --workers 2`` on SQLite with 100,000 PDQ hashes, then an asyncio client on
loopback (``--concurrency`` connections) sends a mix: 70 % single PDQ lookups, 10 % batched lookups
(100 hashes), 10 % photo uploads (a small PNG, /v1/match/media), 7 % bank writes, 3 % withdrawals.
Every 10 s it records requests/s, p50/p99 latency, errors (5xx, transport errors, unexpected 4xx)
and the RSS of each worker. The loop is bounded in time and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def worker_rss_mb(pid: int) -> list[float]:
    out = subprocess.run(["ps", "--ppid", str(pid), "-o", "pid=,rss="], capture_output=True, text=True).stdout
    rows = [line.split() for line in out.strip().splitlines()]
    return sorted(round(int(rss) / 1024, 1) for _, rss in rows if int(rss) > 50 * 1024)  # skip the tiny helper


def build(url: str, n: int) -> tuple[str, list[str]]:
    from ncii_shield.core import Shield
    from ncii_shield.store import banks as store

    shield = Shield.open(url, load_index=False)
    key, principal = shield.keys.create(tenant="soak", scopes=["admin"])
    shield.banks.create(principal, "soak")
    rng = np.random.default_rng(1)
    raw = rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64).astype(">u8").tobytes().hex()
    values = [raw[i * 64:(i + 1) * 64] for i in range(n)]
    for start in range(0, n, 10_000):
        with shield.db.write() as session:
            store.add_signals(session, store.find_bank(session, principal.tenant_id, "soak"),
                              [store.NewSignal("pdq", v) for v in values[start:start + 10_000]])
    shield.close()
    return key, values


def small_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.effect_mandelbrot((96, 72), (-2, -1.2, 1, 1.2), 40).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


async def drive(base: str, key: str, values: list[str], seconds: float, concurrency: int, pid: int) -> dict:
    import httpx

    png = small_png()
    rng = random.Random(7)
    written: list[int] = []
    samples: list[dict] = []
    window = {"latencies": [], "errors": 0, "requests": 0}
    totals = {"requests": 0, "errors": 0, "acknowledged_writes": 0, "withdrawals": 0}
    deadline = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {key}"}

    async def one(client: httpx.AsyncClient) -> None:
        roll = rng.random()
        started = time.perf_counter()
        expected = (200,)
        try:
            if roll < 0.70:
                r = await client.post("/v1/match", json={"signal_type": "pdq", "value": rng.choice(values)})
            elif roll < 0.80:
                r = await client.post("/v1/match", json={"signals": [{"signal_type": "pdq", "value": rng.choice(values)} for _ in range(100)]})
            elif roll < 0.90:
                r = await client.post("/v1/match/media", files={"file": ("x.png", png)})
            elif roll < 0.97 or not written:
                value = f"{rng.getrandbits(256):064x}"
                r = await client.post("/v1/banks/soak/signals", json={"signal_type": "pdq", "value": value})
                expected = (201,)
                if r.status_code == 201:
                    written.append(r.json()["signals"][0]["id"])
                    totals["acknowledged_writes"] += 1
            else:
                signal_id = written.pop(rng.randrange(len(written)))
                r = await client.delete(f"/v1/banks/soak/signals/{signal_id}")
                expected = (204,)
                totals["withdrawals"] += r.status_code == 204
            ok = r.status_code in expected
        except httpx.HTTPError:
            ok = False
        window["latencies"].append(time.perf_counter() - started)
        window["requests"] += 1
        totals["requests"] += 1
        if not ok:
            window["errors"] += 1
            totals["errors"] += 1

    async def loop() -> None:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
            while time.monotonic() < deadline:
                await one(client)

    async def sample() -> None:
        started = last = time.monotonic()
        while time.monotonic() < deadline:
            await asyncio.sleep(min(10, max(0.1, deadline - time.monotonic())))
            lat = sorted(window["latencies"]) or [0.0]
            now = time.monotonic()
            elapsed, span, last = now - started, now - last, now
            samples.append({"t": round(elapsed), "requests_per_s": round(window["requests"] / span, 1),
                            "p50_ms": round(1000 * lat[len(lat) // 2], 2), "p99_ms": round(1000 * lat[int(len(lat) * 0.99)], 2),
                            "errors": window["errors"], "rss_mb": worker_rss_mb(pid)})
            print(json.dumps(samples[-1]), flush=True)
            window.update(latencies=[], errors=0, requests=0)

    await asyncio.gather(sample(), *(loop() for _ in range(concurrency)))
    return {"samples": samples, **totals}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--hashes", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    from tests.servers import start_server

    tmp = Path(tempfile.mkdtemp(prefix="ncii-soak-"))
    url = f"sqlite:///{tmp / 'soak.db'}"
    key, values = build(url, args.hashes)
    server = start_server(url, tmp, workers=2, extra=("--log-level", "warning"))
    try:
        time.sleep(3)
        report = asyncio.run(drive(server.url, key, values, args.seconds, args.concurrency, server.proc.pid))
        # every acknowledged write is in the store
        from sqlalchemy import func, select

        from ncii_shield.store.database import open_database
        from ncii_shield.store.models import Signal

        db = open_database(url)
        with db.read() as session:
            stored = session.scalar(select(func.count()).select_from(Signal)) - args.hashes
        db.dispose()
        report["writes_lost"] = report["acknowledged_writes"] - stored
    finally:
        server.stop()
    print(json.dumps({k: v for k, v in report.items() if k != "samples"}))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    if args.plot:
        plot(report, args.plot)
    return 0


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = report["samples"]
    t = [x["t"] for x in s]
    fig, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    axes[0].plot(t, [x["requests_per_s"] for x in s]); axes[0].set_ylabel("requests/s")
    axes[1].plot(t, [x["p50_ms"] for x in s], label="p50"); axes[1].plot(t, [x["p99_ms"] for x in s], label="p99")
    axes[1].set_ylabel("latency ms"); axes[1].legend()
    for i in range(max(len(x["rss_mb"]) for x in s)):
        axes[2].plot(t, [x["rss_mb"][i] if i < len(x["rss_mb"]) else None for x in s], label=f"worker {i + 1}")
    axes[2].set_ylabel("RSS MB"); axes[2].set_xlabel("seconds"); axes[2].legend(); axes[2].set_ylim(bottom=0)
    fig.suptitle("ncii-shield soak: mixed traffic, 2 workers, 100k hashes")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    raise SystemExit(main())
