"""Over-match quarantine on the soak's traffic: how many distinct uploads a legitimate hash matches per hour.

Usage::

    nice -n 10 .venv/bin/python bench/overmatch_bench.py --scale 0.05 --hours 2 --json overmatch.json

Replays the traffic of bench/soak.py (the project's soak: the same generator, ``random.Random(7)``,
the same mix: 70 % single PDQ lookups of banked hashes, 10 % batches of 100, 10 % photo uploads of
one small PNG, 7 % bank writes, 3 % withdrawals) at the soak's measured throughput (``--rate``, 552
requests/s, docs/reliability.md) through ``TrustPolicy.assess(..., content_id=...)``, on a simulated
clock, with every request an upload of its own (a content id per hashed item: a batch of 100 is 100
uploads). ``--scale`` shrinks the bank (100,000 hashes) and the rate by the same factor, so each hash
is looked up as often per hour as in the soak, in a fraction of the time.

It records, per signal, the distinct uploads it matched in any sliding window of
``NCII_SHIELD_OVERMATCH_WINDOW`` (3600 s), for the legitimate hashes (the soak's bank, ``trusted`` /
``review``), once for one process seeing all of the traffic and once per worker (the soak runs 2
workers behind one socket; each worker's watch counts what it sees). A planted flooding hash: the PDQ
of the soak's own PNG (a common image: 10 % of requests) banked by an ``unverified`` feed; the report
says after how many distinct uploads the watch quarantined it, and how many legitimate hashes the
default threshold quarantined (false quarantines). ``--contents`` sets the threshold to replay with.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def sliding_max(times: list[float], window: float) -> int:
    """The most events in any window of ``window`` seconds (``times`` sorted)."""
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] > window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hashes", type=int, default=100_000, help="the soak's bank (default 100,000)")
    parser.add_argument("--rate", type=float, default=552.0, help="requests/s (the soak's 10-minute mean)")
    parser.add_argument("--scale", type=float, default=0.05, help="bank and rate multiplied by this")
    parser.add_argument("--hours", type=float, default=2.0, help="simulated hours of traffic")
    parser.add_argument("--workers", type=int, default=2, help="worker processes sharing the traffic")
    parser.add_argument("--contents", type=int, default=None, help="threshold (default: Thresholds' default)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import logging

    from soak import build, small_png
    from sqlalchemy import select

    from ncii_shield.services import trust as trust_module
    from ncii_shield.services.hashing import hash_photo_bytes
    from ncii_shield.store import banks as store
    from ncii_shield.store.database import open_database
    from ncii_shield.store.models import Bank, Signal

    n_hashes = max(100, round(args.hashes * args.scale))
    rate = args.rate * args.scale
    tmp = Path(tempfile.mkdtemp(prefix="ncii-overmatch-"))
    url = f"sqlite:///{tmp / 'overmatch.db'}"
    _key, values = build(url, n_hashes)
    db = open_database(url)
    png = small_png()
    with db.write() as session:
        soak_bank = session.scalar(select(Bank).where(Bank.name == "soak"))
        tenant_id = soak_bank.tenant_id
        ids = dict(session.execute(select(Signal.value, Signal.id).where(Signal.bank_id == soak_bank.id)).all())
        feed = store.create_bank(session, tenant_id, "feed-common", trust="unverified", policy="review")
        (flood,) = store.add_signals(session, feed, [store.NewSignal("pdq", hash_photo_bytes(png).pdq)])

    logging.getLogger("ncii_shield.trust").setLevel(logging.ERROR)  # one ALERT line per quarantine
    clock = SimpleNamespace(now=0.0)
    trust_module.time = SimpleNamespace(monotonic=lambda: clock.now)  # the watch and the state's ttl: simulated
    thresholds = trust_module.Thresholds.from_env()
    if args.contents is not None:
        thresholds = trust_module.Thresholds(args.contents, thresholds.over_match_window, thresholds.rejections,
                                             thresholds.ttl)
    policies = [trust_module.TrustPolicy(db, thresholds=thresholds) for _ in range(args.workers)]

    rng = random.Random(7)  # the soak's generator, its mix and its choices
    worker_rng = random.Random(11)  # which worker takes a request (the kernel's accept balancing)
    seen_all: dict[int, list[float]] = {}
    seen_worker: list[dict[int, list[float]]] = [{} for _ in policies]
    flood_uploads = 0
    flood_caught_at: int | None = None
    flood_actions = {"review": 0, "act": 0, "quarantined": 0}
    quarantined_legit: set[int] = set()
    requests = uploads = 0
    written = 0
    started = time.perf_counter()
    end = args.hours * 3600
    step = 1.0 / rate

    def upload(worker: int, content: str, signal_id: int, bank: str) -> str:
        (a,) = policies[worker].assess(tenant_id, [(bank, signal_id, "pdq")], content_id=content)
        return a.action

    while clock.now < end:
        clock.now += step
        requests += 1
        w = worker_rng.randrange(len(policies))
        roll = rng.random()
        if roll < 0.80:
            picks = [rng.choice(values)] if roll < 0.70 else [rng.choice(values) for _ in range(100)]
            for j, value in enumerate(picks):
                sid = ids[value]
                content = f"r{requests}.{j}"
                uploads += 1
                seen_all.setdefault(sid, []).append(clock.now)
                seen_worker[w].setdefault(sid, []).append(clock.now)
                if upload(w, content, sid, "soak") == "quarantined":
                    quarantined_legit.add(sid)
        elif roll < 0.90:  # the soak's PNG: the planted common image, banked by an unverified feed
            uploads += 1
            flood_uploads += 1
            action = upload(w, f"r{requests}", flood.id, "feed-common")
            flood_actions[action] = flood_actions.get(action, 0) + 1
            if action == "quarantined" and flood_caught_at is None:
                flood_caught_at = flood_uploads - 1  # distinct uploads it matched before the first refusal
        elif roll < 0.97 or not written:  # a bank write: a fresh hash nobody looks up (as in the soak)
            rng.getrandbits(256)
            written += 1
        else:  # a withdrawal of one of the written hashes
            rng.randrange(written)
            written -= 1

    window = thresholds.over_match_window
    per_signal = sorted(sliding_max(t, window) for t in seen_all.values())
    per_worker = sorted(sliding_max(t, window) for seen in seen_worker for t in seen.values())

    def stats(xs: list[int]) -> dict:
        return {"signals": len(xs), "mean": round(sum(xs) / len(xs), 1), "p50": xs[len(xs) // 2],
                "p99": xs[int(len(xs) * 0.99)], "max": xs[-1]}

    report = {
        "hashes": n_hashes, "rate_per_s": rate, "simulated_hours": args.hours, "requests": requests,
        "uploads": uploads, "threshold": {"contents": thresholds.over_match_contents, "window_s": window},
        "legit_distinct_per_window_one_process": stats(per_signal),
        "legit_distinct_per_window_per_worker": stats(per_worker),
        "legit_quarantined": len(quarantined_legit),
        "flood": {"uploads": flood_uploads, "quarantined_after": flood_caught_at, "actions": flood_actions},
        "wall_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
