"""Retroactive matching: latency from a new signal's commit to its review items, 1M past uploads.

Usage::

    python bench/retroactive_bench.py [--n 1000000] [--tries 100] [--db postgresql://...] [--json out.json]

A platform content index of ``n`` past uploads (random PDQ + MD5, loaded with bulk INSERTs into
``platform_content``, as ``ContentService.register`` leaves them; registration itself is measured in
bench/sweep_bench.py), among them, for each try, three uploads of one photo: the photo's PDQ, a
copy 6 bits away and one 12 bits away. Two replicas — two :class:`RetroactiveFollower`\\ s, each with
its own content-index cache (1M PDQ hashes in a multi-index), in this process on two threads — follow
the change log (LISTEN/NOTIFY on PostgreSQL, a 50 ms poll on SQLite). Each try adds the photo's
PDQ to a bank through ``BankService.add`` (one transaction, committed when ``add`` returns) and
polls the review queue every 5 ms until the three items are there. Reported: p50/p99/max of the
latency, duplicates (must be 0: every upload one item, whichever replica made it), and a withdrawal
(the three open items close).

``--serve``: the replicas are ``ncii-shield serve`` processes instead (started as tests/servers.py
starts them; ``Shield.start`` runs each one's follower, which warms its own content-index cache in
the background); one warm-up photo is added and awaited (up to 10 minutes) before the tries.
Which server made each item is counted from the audit log (``review.enqueued``'s ``replica``).
``--db postgresql`` with ``--serve`` creates and drops a database of its own on 127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))  # tests.servers (--serve)


def hex_rows(words: np.ndarray) -> list[str]:
    return [bytes(row).hex() for row in words]


def flip(row: np.ndarray, bits: int, rng: np.random.Generator) -> np.ndarray:
    out = row.copy()
    for b in rng.choice(256, size=bits, replace=False):
        out[b // 8] ^= np.uint8(1 << (7 - b % 8))
    return out


def run(db_url: str, n: int, tries: int, replicas: int, seed: int = 23, serve: bool = False) -> dict:
    from sqlalchemy import func, insert, select

    from ncii_shield.core import Shield
    from ncii_shield.services.banks import SignalInput
    from ncii_shield.services.content import ContentService
    from ncii_shield.services.retroactive import RetroactiveFollower
    from ncii_shield.services.trust import TrustPolicy
    from ncii_shield.store.models import AuditEntry, PlatformContent, ReviewItem, utcnow

    rng = np.random.default_rng(seed)
    shield = Shield.open(db_url, load_index=False)
    who = shield.local_principal("platform")
    tenant = who.tenant_id
    photos = rng.integers(0, 256, size=(tries + 1, 32), dtype=np.uint8)  # the last one: --serve's warm-up
    started = time.perf_counter()
    batch = 50_000
    now = utcnow()
    with shield.db.write() as session:
        for start in range(0, n, batch):
            size = min(batch, n - start)
            pdqs = hex_rows(rng.integers(0, 256, size=(size, 32), dtype=np.uint8))
            md5s = [rng.bytes(16).hex() for _ in range(size)]
            session.execute(insert(PlatformContent), [
                {"tenant_id": tenant, "content_id": f"c{start + i}", "pdq": pdqs[i], "md5": md5s[i],
                 "media_type": "image", "created_at": now} for i in range(size)])
        planted = []
        for t in range(tries + 1):
            for k, bits in enumerate((0, 6, 12)):
                planted.append({"tenant_id": tenant, "content_id": f"photo{t}-copy{k}", "created_at": now,
                                "pdq": bytes(flip(photos[t], bits, rng)).hex(), "media_type": "image"})
        session.execute(insert(PlatformContent), planted)
    load = time.perf_counter() - started
    shield.banks.create(who, "victims")

    def count(session) -> int:
        return int(session.scalar(select(func.count()).select_from(ReviewItem).where(ReviewItem.tenant_id == tenant)))

    followers, servers = [], []
    started = time.perf_counter()
    if serve:
        from tests.servers import start_server

        logs = Path(tempfile.mkdtemp(prefix="retro-serve-"))
        servers = [start_server(db_url, logs, extra=("--log-level", "warning")) for _ in range(replicas)]
        shield.banks.add(who, "victims", [SignalInput("pdq", bytes(photos[tries]).hex())])
        while True:  # the warm-up photo's 3 items: both caches loaded, one of them swept it
            with shield.db.read() as session:
                if count(session) >= 3:
                    break
            if time.perf_counter() - started > 600:
                raise RuntimeError("the serve replicas made no items within 10 minutes")
            time.sleep(0.1)
        time.sleep(5.0)  # the other replica's cache too (its sweep of the warm-up finds the items made)
    else:
        policy = TrustPolicy(shield.db)
        followers = [RetroactiveFollower(shield.db, ContentService(shield.db), policy=policy)
                     for _ in range(replicas)]
        for f in followers:
            f.content.warm()  # serve loads the cache at start, in the background
            f.content.index.query(tenant, "0" * 64, 31)  # numba compiles the index kernels on first use
            f.catch_up()
    warm = time.perf_counter() - started
    with shield.db.read() as session:
        baseline = count(session)  # --serve: the warm-up's items
    for f in followers:
        f.start()

    latencies, signal_ids = [], []
    try:
        for t in range(tries):
            with shield.db.read() as session:
                before = count(session)
            (added,) = shield.banks.add(who, "victims", [SignalInput("pdq", bytes(photos[t]).hex())])
            committed = time.perf_counter()
            while True:
                with shield.db.read() as session:
                    if count(session) >= before + 3:
                        break
                if time.perf_counter() - committed > 30:
                    raise RuntimeError(f"try {t}: review items not made within 30 s")
                time.sleep(0.005)
            latencies.append(time.perf_counter() - committed)
            signal_ids.append(added.id)
        time.sleep(1.0)  # let the other replica see every change too
        with shield.db.read() as session:
            total = count(session) - baseline
            repeated = session.scalar(select(func.count()).select_from(
                select(ReviewItem.content_id).where(ReviewItem.tenant_id == tenant).group_by(ReviewItem.content_id)
                .having(func.count() > 1).subquery()))
            by_replica: dict[str, int] = {}  # the audit's review.enqueued entries name the process that made each
            for details in session.scalars(select(AuditEntry.details).where(
                    AuditEntry.tenant_id == tenant, AuditEntry.action == "review.enqueued")):
                replica = json.loads(details).get("replica", "?")
                by_replica[replica] = by_replica.get(replica, 0) + 1
        shield.banks.withdraw(who, "victims", signal_ids[0])
        t1 = time.perf_counter()
        while True:
            with shield.db.read() as session:
                closed = session.scalar(select(func.count()).select_from(ReviewItem).where(
                    ReviewItem.tenant_id == tenant, ReviewItem.status == "closed"))
            if closed == 3 or time.perf_counter() - t1 > 30:
                break
            time.sleep(0.005)
        withdraw_s = time.perf_counter() - t1
    finally:
        for f in followers:
            f.stop()
        for server in servers:
            server.stop()
        shield.close()
    ms = sorted(x * 1000 for x in latencies)
    return {"db": db_url.split(":")[0], "n": n + 3 * (tries + 1), "tries": tries, "replicas": replicas,
            "replicas_are": "serve processes" if serve else "threads of this process",
            "load_s": round(load, 1), "replica_warm_s": round(warm, 1),
            "p50_ms": round(statistics.median(ms), 1), "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "max_ms": round(ms[-1], 1), "latencies_ms": [round(x * 1000, 1) for x in latencies], "items": total, "expected_items": 3 * tries,
            "duplicates": total - 3 * tries, "uploads_with_two_items": int(repeated or 0), "withdrawn_closed": closed, "withdraw_close_ms": round(withdraw_s * 1000, 1),
            "items_per_replica": [f.items_made for f in followers] if followers else sorted(by_replica.values())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="past uploads in the content index")
    parser.add_argument("--tries", type=int, default=100)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--db", default=None, help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--serve", action="store_true", help="replicas as `ncii-shield serve` processes")
    args = parser.parse_args()
    db = args.db or f"sqlite:///{tempfile.mkdtemp(prefix='retro-bench-')}/retro.db"
    own_pg = args.serve and db == "postgresql"
    if own_pg:
        from tests.servers import create_pg_database

        db = create_pg_database()
    try:
        result = run(db, args.n, args.tries, args.replicas, serve=args.serve)
    finally:
        if own_pg:
            from tests.servers import drop_pg_database

            drop_pg_database(db)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["p99_ms"] < 2000 and result["duplicates"] == 0 and not result["uploads_with_two_items"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
