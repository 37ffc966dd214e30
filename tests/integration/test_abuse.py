"""Abuse: per-key and per-address rate limits, API-key guessing throttled (real HTTP; the break-in
suite tries the lock-out aimed at others: tests/security/test_lockout_keys.py)."""

from __future__ import annotations

import httpx

from tests.servers import cli, start_server

BODY = {"signal_type": "md5", "value": "0" * 32}


def test_per_key_rate_limit_and_key_brute_force(tmp_path):
    server = start_server(f"sqlite:///{tmp_path / 'a.db'}", tmp_path,
                          env={"NCII_SHIELD_KEY_RATE": "5", "NCII_SHIELD_AUTH_FAILURES_PER_MINUTE": "6"})
    try:
        key = cli("keys", "create", "--db", server.db_url, "--scope", "match").stdout.split()[-1]
        with server.client(key) as c:
            codes = [c.post("/v1/match", json=BODY).status_code for _ in range(15)]
            assert codes[:10] == [200] * 10 and 429 in codes[10:]  # burst 2 x 5/s, then limited
            limited = next(r for r in (c.post("/v1/match", json=BODY) for _ in range(5)) if r.status_code == 429)
            assert int(limited.headers["Retry-After"]) >= 1 and limited.json()["error"]["type"] == "TooManyRequests"
        # guessing keys: 401s until the address (and the prefix guessed at) has failed 6 times, then 429
        # for further failures only: a valid key from the same address is still accepted
        prefix = key.split("_")[1]
        guesses = [httpx.post(server.url + "/v1/match", json=BODY,
                              headers={"Authorization": f"Bearer nsk_{prefix}_guess{i:027d}"}).status_code
                   for i in range(8)]
        assert guesses[:6] == [401] * 6 and guesses[6:] == [429, 429]
        other = cli("keys", "create", "--db", server.db_url, "--scope", "match").stdout.split()[-1]
        assert httpx.post(server.url + "/v1/match", json=BODY, headers={"Authorization": f"Bearer {other}"}).status_code == 200
        assert httpx.post(server.url + "/v1/match", json=BODY,
                          headers={"Authorization": f"Bearer nsk_{prefix}_guess"}).status_code == 429
    finally:
        server.stop()
    log = server.log()
    assert key.split("_", 2)[2] not in log and other.split("_", 2)[2] not in log


def test_per_address_rate_limit(tmp_path):
    server = start_server(f"sqlite:///{tmp_path / 'b.db'}", tmp_path, env={"NCII_SHIELD_IP_RATE": "5"})
    try:
        # 30 requests at once against a bucket of 10 refilling 5/s: however slow the machine is, the
        # bucket cannot refill 20 tokens while they arrive, and the first 10 are always let through
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(30) as pool:
            codes = list(pool.map(lambda _: httpx.get(server.url + "/v1/banks", timeout=30).status_code, range(30)))
        assert set(codes) == {401, 429} and codes.count(401) >= 10 and codes.count(429) >= 1, codes
        assert httpx.get(server.url + "/healthz").status_code == 200  # health checks are never limited
    finally:
        server.stop()
