"""Feed throughput: signals per second from a publisher's bank to applied on a subscriber.

Usage::

    python bench/feed_bench.py [--signals 1000000] [--page 5000]

Instance A (SQLite) holds N random PDQ hashes in a bank published as a feed and runs
``ncii-shield serve``; instance B (another SQLite) subscribes and pulls the whole feed over HTTP on
loopback (``ncii-shield feed pull``): every page is signed by A, verified by B against the pinned
key and applied with its checkpoint in one transaction. Reported: wall time and signals/s of the
initial sync (publish to applied). How fast a single later change arrives is measured by
tests/integration/test_feeds.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servers import cli, start_server  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--signals", type=int, default=1_000_000)
    parser.add_argument("--page", type=int, default=5000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ncii-feed-bench-"))
    a_dir, b_dir = tmp / "a", tmp / "b"
    a_dir.mkdir()
    b_dir.mkdir()
    a_url, b_url = f"sqlite:///{a_dir / 'a.db'}", f"sqlite:///{b_dir / 'b.db'}"
    from ncii_shield.core import Shield
    from ncii_shield.store import banks as store

    shield = Shield.open(a_url, load_index=False)
    principal = shield.local_principal()
    shield.banks.create(principal, "victims")
    rng = np.random.default_rng(3)
    raw = rng.integers(0, 2**64, size=(args.signals, 4), dtype=np.uint64).astype(">u8").tobytes().hex()
    for start in range(0, args.signals, 10_000):
        items = [store.NewSignal("pdq", raw[i * 64:(i + 1) * 64]) for i in range(start, min(args.signals, start + 10_000))]
        with shield.db.write() as session:
            store.add_signals(session, store.find_bank(session, principal.tenant_id, "victims"), items)
    shield.close()
    env = {"NCII_SHIELD_DATA": str(a_dir)}
    info = json.loads(cli("feed", "publish", "victims", "--subscriber", "b", "--json", "--db", a_url, env=env).stdout)
    server = start_server(a_url, a_dir, extra=("--data-dir", str(a_dir), "--log-level", "warning"))
    try:
        assert cli("feed", "subscribe", server.url, "--feed", "victims", "--publisher-key", info["public_key"],
                   "--token", info["tokens"]["b"], "--bank", "copy", "--no-pull", "--db", b_url).returncode == 0
        from ncii_shield.services.exchange import subscriber as sub

        b = Shield.open(b_url, load_index=False)
        started = time.perf_counter()
        result = sub.pull(b.db, "victims", limit=args.page)
        elapsed = time.perf_counter() - started
        report = {"signals": args.signals, "page_size": args.page, "pages": result.pages,
                  "applied": result.applied, "seconds": round(elapsed, 1),
                  "signals_per_s": round(result.applied / elapsed)}
        b.close()
        print(json.dumps(report, indent=1))
    finally:
        server.stop()
        os.system(f"rm -rf {tmp}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
