"""Two replicas on one PostgreSQL: a change through replica 1 is seen by replica 2 within 1 s."""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest

from tests.servers import cli, create_pg_database, drop_pg_database, start_server

TRIES = 100


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("replicas")
    url = create_pg_database()
    one = start_server(url, tmp)
    two = start_server(url, tmp)
    yield one, two
    one.stop()
    two.stop()
    drop_pg_database(url)


def wait_until(predicate, timeout: float = 5.0) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if predicate():
            return time.perf_counter() - start
        time.sleep(0.002)
    raise AssertionError(f"not seen within {timeout} s")


def test_add_and_withdraw_reach_the_other_replica_within_a_second(replicas):
    one, two = replicas
    key = cli("keys", "create", "--db", one.db_url, "--scope", "admin").stdout.split()[-1]
    rng = np.random.default_rng(5)
    add_latency, withdraw_latency = [], []
    with one.client(key) as c1, two.client(key) as c2:
        assert c1.post("/v1/banks", json={"name": "fresh"}).status_code == 201

        def matched(value: str) -> bool:
            return bool(c2.post("/v1/match", json={"signal_type": "pdq", "value": value}).json()["matches"])

        for _ in range(TRIES):
            value = rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex()
            assert not matched(value)
            started = time.perf_counter()
            signal_id = c1.post("/v1/banks/fresh/signals", json={"signal_type": "pdq", "value": value}).json()["signals"][0]["id"]
            wait_until(lambda: matched(value))
            add_latency.append(time.perf_counter() - started)
            started = time.perf_counter()
            assert c1.delete(f"/v1/banks/fresh/signals/{signal_id}").status_code == 204
            wait_until(lambda: not matched(value))
            withdraw_latency.append(time.perf_counter() - started)
    p99_add = np.percentile(add_latency, 99)
    p99_withdraw = np.percentile(withdraw_latency, 99)
    print(f"\nreplica freshness over {TRIES} tries: add p50 {statistics.median(add_latency) * 1000:.1f} ms "
          f"p99 {p99_add * 1000:.1f} ms; withdraw p50 {statistics.median(withdraw_latency) * 1000:.1f} ms "
          f"p99 {p99_withdraw * 1000:.1f} ms")
    assert p99_add < 1.0 and p99_withdraw < 1.0


def test_replica_started_later_loads_snapshot_plus_changes(replicas, tmp_path):
    one, _ = replicas
    key = cli("keys", "create", "--db", one.db_url, "--scope", "admin").stdout.split()[-1]
    with one.client(key) as c1:
        c1.post("/v1/banks", json={"name": "late"})
        ids = [s["id"] for s in c1.post("/v1/banks/late/signals", json={"signals": [
            {"signal_type": "md5", "value": f"{i:032x}"} for i in range(50)]}).json()["signals"]]
        for signal_id in ids[:10]:
            c1.delete(f"/v1/banks/late/signals/{signal_id}")
    three = start_server(one.db_url, tmp_path)
    try:
        with three.client(key) as c3:
            found = c3.post("/v1/match", json={"signals": [{"signal_type": "md5", "value": f"{i:032x}"} for i in range(50)]}).json()
            assert sorted(m["query"] for m in found["matches"] if m["bank"] == "late") == list(range(10, 50))
    finally:
        three.stop()
