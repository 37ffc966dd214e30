"""Signed feeds between two real instances on loopback: A publishes, B subscribes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select

from ncii_shield.core import Shield
from ncii_shield.errors import NciiShieldError
from ncii_shield.services.exchange import subscriber as sub
from ncii_shield.services.exchange.signing import BadSignature
from ncii_shield.store.database import open_database
from ncii_shield.store.models import Bank, Change, Signal, Subscription
from tests.servers import cli, start_server

rng = np.random.default_rng(21)


def rand_pdq() -> str:
    return rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex()


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    a_dir, b_dir = tmp_path_factory.mktemp("a"), tmp_path_factory.mktemp("b")
    a_url, b_url = f"sqlite:///{a_dir / 'a.db'}", f"sqlite:///{b_dir / 'b.db'}"
    a = start_server(a_url, a_dir, extra=("--data-dir", str(a_dir)))
    first = rand_pdq()
    with a.client(a.admin_key) as c:
        assert c.post("/v1/banks", json={"name": "victims"}).status_code == 201
        c.post("/v1/banks/victims/signals", json={"signal_type": "pdq", "value": first})
    env_a = {"NCII_SHIELD_DATA": str(a_dir)}
    published = cli("feed", "publish", "victims", "--subscriber", "platform-b", "--json", "--db", a_url, env=env_a)
    assert published.returncode == 0, published.stderr
    info = json.loads(published.stdout)
    token = info["tokens"]["platform-b"]
    subscribed = cli("feed", "subscribe", a.url, "--feed", "victims", "--publisher-key", info["public_key"],
                     "--token", token, "--bank", "from-a", "--allow-private-address", "--db", b_url,
                     env={"NCII_SHIELD_DATA": str(b_dir)})  # B's data directory holds the key that seals the token
    assert subscribed.returncode == 0, subscribed.stderr
    b = start_server(b_url, b_dir, extra=("--data-dir", str(b_dir)))
    yield {"a": a, "b": b, "a_url": a_url, "b_url": b_url, "first": first, "info": info, "token": token, "env_a": env_a}
    a.stop()
    b.stop()


def matched_on(server, key, value: str) -> bool:
    with server.client(key) as c:
        return any(m["bank"] == "from-a" for m in c.post("/v1/match", json={"signal_type": "pdq", "value": value}).json()["matches"])


def wait_for(predicate, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout} s")


def test_snapshot_arrived_and_changes_follow_within_two_seconds(pair):
    a, b = pair["a"], pair["b"]
    assert matched_on(b, b.admin_key, pair["first"])  # from the snapshot pulled at subscription
    value = rand_pdq()
    with a.client(a.admin_key) as c:
        signal_id = c.post("/v1/banks/victims/signals", json={"signal_type": "pdq", "value": value}).json()["signals"][0]["id"]
        added = wait_for(lambda: matched_on(b, b.admin_key, value), 2.0)
        assert c.delete(f"/v1/banks/victims/signals/{signal_id}").status_code == 204
        withdrawn = wait_for(lambda: not matched_on(b, b.admin_key, value), 2.0)
    print(f"\nfeed propagation: add {added * 1000:.0f} ms, withdrawal {withdrawn * 1000:.0f} ms")
    status = json.loads(cli("feed", "status", "--json", "--db", pair["b_url"]).stdout)
    assert status[0]["last_error"] is None and status[0]["applied"] >= 3


def test_feed_access_needs_a_valid_unrevoked_token(pair):
    a = pair["a"]
    url = f"{a.url}/v1/feeds/victims/pages"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {a.admin_key}"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {pair['token']}"}).status_code == 200
    assert httpx.get(f"{a.url}/v1/feeds/other/pages", headers={"Authorization": f"Bearer {pair['token']}"}).status_code == 401
    extra = cli("feed", "subscriber", "victims", "temp", "--db", pair["a_url"], env=pair["env_a"]).stdout.split()[-1]
    assert httpx.get(url, headers={"Authorization": f"Bearer {extra}"}).status_code == 200
    assert cli("feed", "subscriber", "victims", "temp", "--revoke", "--db", pair["a_url"], env=pair["env_a"]).returncode == 0
    assert httpx.get(url, headers={"Authorization": f"Bearer {extra}"}).status_code == 401


def _fetch(pair, cursor: str, limit: int = 1) -> dict:
    r = httpx.get(f"{pair['a'].url}/v1/feeds/victims/pages", params={"cursor": cursor, "limit": limit},
                  headers={"Authorization": f"Bearer {pair['token']}"})
    return r.json()


@pytest.fixture
def local(tmp_path, pair):
    """A fresh subscriber database with a subscription to A's feed (not yet pulled)."""
    shield = Shield.open(f"sqlite:///{tmp_path / 'c.db'}", load_index=False)
    sub.subscribe(shield.db, shield.local_principal(), name="s", url=pair["a"].url, feed="victims",
                  publisher_key=pair["info"]["public_key"], token=pair["token"], bank="copy",
                  allow_private_address=True)  # A listens on loopback
    yield shield
    shield.close()


def _state(shield) -> tuple[str, int]:
    with shield.db.read() as s:
        return s.scalar(select(Subscription.cursor)), s.scalar(select(func.count()).select_from(Signal))


@pytest.mark.parametrize("case", ["tampered_value", "tampered_next_cursor", "wrong_key", "replayed", "out_of_order",
                                  "other_feed", "unsigned", "garbage_signature"])
def test_bad_pages_are_rejected_and_nothing_applied(pair, local, case):
    sub_id = 1
    first = _fetch(pair, "start")
    if case == "replayed":
        sub.apply_page(local.db, sub_id, first)
        before = _state(local)
        page = first
    elif case == "out_of_order":
        before = _state(local)
        page = _fetch(pair, first["page"]["next_cursor"])
    else:
        before = _state(local)
        page = json.loads(json.dumps(first))
        if case == "tampered_value":
            page["page"]["entries"][0]["value"] = rand_pdq()
        elif case == "tampered_next_cursor":
            page["page"]["next_cursor"] = "log:999999"
        elif case == "wrong_key":
            with local.db.write() as s:
                s.get(Subscription, sub_id).publisher_key = "A" * 43 + "="
        elif case == "other_feed":
            page["page"]["feed"] = "other"
        elif case == "unsigned":
            page = page["page"]
        elif case == "garbage_signature":
            page["signature"] = "not base64!"
    with pytest.raises(NciiShieldError) as caught:
        sub.apply_page(local.db, sub_id, page)
    if case in ("tampered_value", "tampered_next_cursor", "wrong_key", "other_feed", "unsigned", "garbage_signature"):
        assert isinstance(caught.value, BadSignature)
    else:
        assert "replayed or out-of-order" in str(caught.value)
    assert _state(local) == before  # nothing applied, checkpoint unchanged
    with local.db.read() as s:
        assert s.scalar(select(Subscription.last_error))  # and the reason is recorded


def test_killed_subscriber_resumes_exactly(pair, tmp_path):
    a = pair["a"]
    values = [rand_pdq() for _ in range(20_000)]
    with a.client(a.admin_key) as c:
        c.post("/v1/banks", json={"name": "big"})
        for start in range(0, len(values), 10_000):
            c.post("/v1/banks/big/signals", json={"signals": [{"signal_type": "pdq", "value": v} for v in values[start:start + 10_000]]})
        ids = [c.post("/v1/banks/big/signals", json={"signal_type": "pdq", "value": v}).json()["signals"][0]["id"] for v in values[:50]]
        for signal_id in ids[:25]:
            c.delete(f"/v1/banks/big/signals/{signal_id}")
    info = json.loads(cli("feed", "publish", "big", "--subscriber", "c", "--json", "--db", pair["a_url"], env=pair["env_a"]).stdout)
    c_url = f"sqlite:///{tmp_path / 'c.db'}"
    assert cli("feed", "subscribe", a.url, "--feed", "big", "--publisher-key", info["public_key"], "--token",
               info["tokens"]["c"], "--bank", "big-copy", "--no-pull", "--allow-private-address",
               "--db", c_url).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "ncii_shield.cli", "feed", "pull", "big", "--db", c_url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    db = open_database(c_url)

    def applied() -> int:
        try:
            with db.read() as s:
                return int(s.scalar(select(Subscription.applied)) or 0)
        except Exception:
            return 0

    deadline = time.monotonic() + 60
    while applied() < 3_000:
        assert proc.poll() is None, f"pull ended before the kill: {proc.stderr.read().decode()[-500:]}"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 0 < applied() < 20_000
    again = cli("feed", "pull", "big", "--db", c_url)
    assert again.returncode == 0, again.stderr
    with db.read() as s:
        bank_id = s.scalar(select(Bank.id).where(Bank.name == "big-copy"))
        got = sorted(s.scalars(select(Signal.value).where(Signal.bank_id == bank_id, Signal.withdrawn_at.is_(None))))
        rows = s.scalar(select(func.count()).select_from(Signal).where(Signal.bank_id == bank_id))
        adds = s.scalar(select(func.count()).select_from(Change).where(Change.bank_id == bank_id, Change.op == "add"))
    db.dispose()
    assert got == sorted(values[25:])  # the publisher's bank exactly: withdrawals included
    assert rows <= len(values) and adds <= rows + 25  # nothing duplicated
