"""HTTP matching throughput and latency under load, on loopback.

Usage::

    python bench/http_bench.py [--hashes 1000000] [--workers 2] [--seconds 20] [--connections 32]
                               [--phases single,batched] [--store DIR]

Builds a SQLite store with N random PDQ hashes in one bank, starts ``ncii-shield serve`` with the
given worker processes, and drives it with ``wrk`` (Debian package ``wrk``: ``apt-get install wrk``)
on the same machine:

* single lookups: ``POST /v1/match {"signal_type":"pdq","value":...}``, 1,000 different queries
  (half near a stored hash, half random), round-robin;
* batched lookups: ``POST /v1/match {"signals":[1,000 hashes]}``.

Reports requests/s, hashes/s and wrk's latency percentiles, plus the server's RSS per worker.
The load generator shares the 2 cores with the server, as it would on a 2-core box.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LUA = """
local bodies = {}
for line in io.lines("%(bodies)s") do bodies[#bodies + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
request = function()
  i = i %% #bodies + 1
  return wrk.format(nil, "/v1/match", nil, bodies[i])
end
"""


def build_store(url: str, n: int, rng: np.random.Generator) -> tuple[str, np.ndarray]:
    from ncii_shield.core import Shield
    from ncii_shield.store import banks as store

    shield = Shield.open(url, load_index=False)
    key, principal = shield.keys.create(tenant="bench", scopes=["admin"])
    shield.banks.create(principal, "bench")
    words = rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64)  # every bit uniform, as in PDQ
    raw = words.astype(">u8").tobytes().hex()
    started = time.perf_counter()
    for start in range(0, n, 10_000):
        items = [store.NewSignal("pdq", raw[i * 64:(i + 1) * 64]) for i in range(start, min(n, start + 10_000))]
        with shield.db.write() as session:
            bank = store.find_bank(session, principal.tenant_id, "bench")
            store.add_signals(session, bank, items)
    print(f"stored {n:,} hashes in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    shield.close()
    return key, words


def query_values(words: np.ndarray, rng: np.random.Generator, count: int) -> list[str]:
    picks = words[rng.integers(0, len(words), size=count)].copy()
    for row in range(0, count, 2):  # half of them: a stored hash with up to 31 bits flipped
        for b in rng.choice(256, int(rng.integers(0, 32)), replace=False):
            picks[row, b // 64] ^= np.uint64(1) << np.uint64(b % 64)
    picks[1::2] = rng.integers(0, 2**64, size=(len(picks[1::2]), 4), dtype=np.uint64)
    raw = picks.astype(">u8").tobytes().hex()
    return [raw[i:i + 64] for i in range(0, len(raw), 64)]


def run_wrk(url: str, key: str, bodies: list[str], seconds: int, connections: int, tmp: Path) -> dict:
    body_file = tmp / f"bodies-{len(bodies[0])}.txt"
    body_file.write_text("\n".join(bodies) + "\n")
    script = tmp / "post.lua"
    script.write_text(LUA % {"bodies": body_file, "key": key})
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    def pct(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": pct("50"), "p90_ms": pct("90"), "p99_ms": pct("99"),
            "non_2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": socket_errors.group(1) if socket_errors else "none"}


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by ``pid``'s child processes (the server's workers)."""
    out = subprocess.run(["ps", "--ppid", str(pid), "-o", "pid="], capture_output=True, text=True).stdout
    total = 0
    for child in out.split():
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def wait_until_idle(pid: int, limit: float = 600) -> None:
    """Until the workers use under 5 % of a core for 2 s in a row: every one has loaded its index."""
    deadline = time.monotonic() + limit
    quiet = 0
    before = cpu_seconds(pid)
    while quiet < 2 and time.monotonic() < deadline:
        time.sleep(1)
        now = cpu_seconds(pid)
        quiet = quiet + 1 if now - before < 0.05 else 0
        before = now


def rss_of_children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "--ppid", str(pid), "-o", "rss="], capture_output=True, text=True).stdout
    return [int(x) // 1024 for x in out.split()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hashes", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--phases", default="single,batched",
                        help="which loads to run, in this order (comma-separated: single, batched)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--store", type=Path,
                        help="keep the built SQLite store in this folder and reuse it on the next run "
                             "(same --hashes): saves building it again when comparing code changes")
    args = parser.parse_args()
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not phases or set(phases) - {"single", "batched"}:
        parser.error("--phases takes single and/or batched, comma-separated")
    if shutil.which("wrk") is None:
        print("this benchmark needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    rng = np.random.default_rng(7)
    tmp = Path(tempfile.mkdtemp(prefix="ncii-http-bench-"))
    folder = args.store or tmp
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / f'bench-{args.hashes}.db'}"
    saved = folder / f"bench-{args.hashes}.key"
    if args.store and saved.exists():  # the same hashes: they come from the same seed
        key = saved.read_text().strip()
        words = rng.integers(0, 2**64, size=(args.hashes, 4), dtype=np.uint64)
    else:
        key, words = build_store(url, args.hashes, rng)
        if args.store:
            saved.write_text(key)
    port = 18000 + int(rng.integers(0, 1000))
    server = subprocess.Popen([sys.executable, "-m", "ncii_shield.cli", "serve", "--db", url, "--port", str(port),
                               "--workers", str(args.workers), "--no-demo", "--log-level", args.log_level],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for _ in range(600):
            try:
                if httpx.get(base + "/healthz", timeout=1).json()["signals"] == args.hashes:
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.5)
        wait_until_idle(server.pid)  # one worker answers while the other may still be loading its index
        singles = [json.dumps({"signal_type": "pdq", "value": v}) for v in query_values(words, rng, 1000)]
        batches = [json.dumps({"signals": [{"signal_type": "pdq", "value": v} for v in query_values(words, rng, 1000)]})
                   for _ in range(20)]
        report = {"hashes": args.hashes, "workers": args.workers, "log_level": args.log_level,
                  "connections": args.connections, "seconds": args.seconds, "phases": phases}
        for phase in phases:
            if phase == "single":
                run_wrk(base, key, singles, 3, args.connections, tmp)  # warm-up
                report["single"] = run_wrk(base, key, singles, args.seconds, args.connections, tmp)
            else:
                run_wrk(base, key, batches, 3, max(2, args.workers * 2), tmp)  # warm-up
                batched = run_wrk(base, key, batches, args.seconds, max(2, args.workers * 2), tmp)
                batched["hashes_per_s"] = round(batched["requests_per_s"] * 1000)
                report["batched_1000"] = batched
        report["worker_rss_mb"] = rss_of_children(server.pid)
        print(json.dumps(report, indent=1))
        if args.json:
            args.json.write_text(json.dumps(report, indent=1))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
