"""Faults: PostgreSQL restarted under traffic, a replica SIGKILLed, slow and stalled clients."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import httpx
import numpy as np
from sqlalchemy import select

from ncii_shield.store.database import open_database
from ncii_shield.store.models import Signal
from tests.servers import TempPostgres, cli, start_server

rng = np.random.default_rng(13)


def rand_pdq() -> str:
    return rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex()


def test_postgres_restart_under_traffic_fails_cleanly_and_recovers(tmp_path):
    pg = TempPostgres()
    pg.start()
    server = None
    try:
        server = start_server(pg.url, tmp_path, extra=("--data-dir", str(tmp_path)))
        key = cli("keys", "create", "--db", pg.url, "--scope", "admin").stdout.split()[-1]
        acknowledged: list[str] = []
        statuses: list[int] = []
        stop = threading.Event()

        def traffic() -> None:
            with server.client(key) as c:
                c.post("/v1/banks", json={"name": "f"})
                while not stop.is_set():
                    value = rand_pdq()
                    try:
                        r = c.post("/v1/banks/f/signals", json={"signal_type": "pdq", "value": value}, timeout=10)
                    except httpx.HTTPError:
                        statuses.append(-1)
                        continue
                    statuses.append(r.status_code)
                    if r.status_code == 201:
                        acknowledged.append(value)
                    else:
                        assert r.json()["error"]["type"] in ("Unavailable", "Unauthenticated"), r.text
                    time.sleep(0.01)

        worker = threading.Thread(target=traffic)
        worker.start()
        time.sleep(1.5)
        before = len(acknowledged)
        pg.restart()
        time.sleep(3)
        stop.set()
        worker.join(timeout=30)
        assert before > 0 and len(acknowledged) > before + 10, "writes resumed after the restart, no restart of ours"
        assert 500 not in statuses and all(s in (201, 503, 401, -1) for s in statuses), sorted(set(statuses))
        db = open_database(pg.url)
        with db.read() as session:
            stored = set(session.scalars(select(Signal.value)))
        db.dispose()
        assert set(acknowledged) <= stored  # no acknowledged write lost
        assert server.proc.poll() is None
        with server.client(key) as c:  # lookups work, including of what was written after the restart
            assert c.post("/v1/match", json={"signal_type": "pdq", "value": acknowledged[-1]}).json()["matches"]
            assert c.get("/healthz").status_code == 200
    finally:
        if server:
            server.stop()
        pg.stop()
        pg.remove()


def test_killed_replica_catches_up_from_the_change_log(tmp_path, pg_database):
    one = start_server(pg_database, tmp_path)
    two = start_server(pg_database, tmp_path)
    key = cli("keys", "create", "--db", pg_database, "--scope", "admin").stdout.split()[-1]
    try:
        with one.client(key) as c:
            c.post("/v1/banks", json={"name": "kill"})
            first = rand_pdq()
            c.post("/v1/banks/kill/signals", json={"signal_type": "pdq", "value": first})
            os.kill(two.proc.pid, signal.SIGKILL)
            two.proc.wait()
            later = [rand_pdq() for _ in range(20)]
            ids = [c.post("/v1/banks/kill/signals", json={"signal_type": "pdq", "value": v}).json()["signals"][0]["id"] for v in later]
            c.delete(f"/v1/banks/kill/signals/{ids[0]}")
        again = start_server(pg_database, tmp_path)
        try:
            with again.client(key) as c:
                found = c.post("/v1/match", json={"signals": [{"signal_type": "pdq", "value": v} for v in [first, *later]],
                                                  "threshold": 0}).json()["matches"]
                assert sorted(m["query"] for m in found if m["bank"] == "kill") == [0, *range(2, 21)]
        finally:
            again.stop()
    finally:
        one.stop()


def test_slow_and_stalled_clients_cannot_exhaust_the_server(tmp_path):
    server = start_server(f"sqlite:///{tmp_path / 's.db'}", tmp_path, env={"NCII_SHIELD_BODY_TIMEOUT": "2"})
    port = int(server.url.rsplit(":", 1)[1])
    sockets = []
    try:
        for _ in range(100):  # slow-loris: headers that never finish
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"POST /v1/match HTTP/1.1\r\nHost: x\r\n")
            sockets.append(s)
        started = time.monotonic()
        assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200
        assert time.monotonic() - started < 2
        # a body that stalls is cut off with 408: on a route whose declared body is read before the key
        # is checked, and on /v1/match, which reads its own body after authentication
        auth = f"Authorization: Bearer {server.admin_key}\r\n".encode()
        for path, headers in (("/v1/banks", b""), ("/v1/match", auth)):
            started = time.monotonic()
            reply = stalled_body_reply(port, path, headers, until=b"stalled")
            assert reply.startswith(b"HTTP/1.1 408") and b"stalled" in reply, (path, reply[:300])
            assert 1.5 < time.monotonic() - started < 8
        # without a key, /v1/match answers 401 at once, before reading any of the body
        started = time.monotonic()
        assert stalled_body_reply(port, "/v1/match", b"", until=b"\r\n").startswith(b"HTTP/1.1 401")
        assert time.monotonic() - started < 1.5
        # a client that hangs up in the middle of its body is no server error (and the server goes on)
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"POST /v1/match HTTP/1.1\r\nHost: x\r\n" + auth
                  + b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"signals\":")
        time.sleep(0.3)
        s.close()
        time.sleep(2)  # time for an error to reach the log, were there one
        assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200
        assert "Exception in ASGI application" not in server.log() and "Traceback" not in server.log()
        # an oversized body is refused from its Content-Length, before it is sent
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"POST /v1/match/media HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n")
        s.settimeout(5)
        assert s.recv(4096).startswith(b"HTTP/1.1 413")  # the status line comes first either way
        s.close()
    finally:
        for s in sockets:
            s.close()
        server.stop()


def stalled_body_reply(port: int, path: str, headers: bytes, *, until: bytes) -> bytes:
    """What the server answers to a POST whose body stops after 5 of its 1,000 bytes."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\n".encode() + headers
                  + b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"a\":")
        s.settimeout(10)
        reply = b""
        while until not in reply:  # headers and body may arrive in separate segments
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
        return reply


def test_sqlite_full_gives_a_clear_error_and_no_corruption(tmp_path):
    """A full disk, as SQLite sees it (max_page_count reached: the same SQLITE_FULL error)."""
    import sqlite3

    db_path = tmp_path / "full.db"
    # the schema first (its size grows with every migration), then a cap 35 pages (140 KB) above it
    key = cli("keys", "create", "--db", f"sqlite:///{db_path}", "--scope", "admin").stdout.split()[-1]
    schema_pages = sqlite3.connect(db_path).execute("PRAGMA page_count").fetchone()[0]
    server = start_server(f"sqlite:///{db_path}", tmp_path, env={"NCII_SHIELD_SQLITE_MAX_PAGES": str(schema_pages + 35)})
    try:
        acknowledged = []
        with server.client(key) as c:
            c.post("/v1/banks", json={"name": "full"})
            for _ in range(40):
                batch = [rand_pdq() for _ in range(200)]
                r = c.post("/v1/banks/full/signals", json={"signals": [{"signal_type": "pdq", "value": v} for v in batch]})
                if r.status_code != 201:
                    break
                acknowledged += batch
            assert r.status_code == 507, r.text
            assert "full" in r.json()["error"]["message"]
            assert acknowledged, "some writes fit before the disk filled"
            # reads still work; matching still works
            assert c.post("/v1/match", json={"signal_type": "pdq", "value": acknowledged[0]}).json()["matches"]
            assert c.get("/healthz").status_code == 200
    finally:
        server.stop()
    con = sqlite3.connect(db_path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = {row[0] for row in con.execute("SELECT value FROM signals")}
    assert set(acknowledged) <= stored
    assert len(stored) == len(acknowledged)  # the refused batch left nothing half-written
    con.close()
