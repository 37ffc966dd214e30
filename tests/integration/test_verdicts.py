"""Verdicts back over the feed (issue 23, item 3), between two real instances on loopback: A runs the
intake (a person's case), publishes its victims' bank; B, a platform, subscribes. B's reviewers'
verdicts and removals reach A's counts within a second; A's case shows "removed on N platforms" only
after the outcome delay, and nothing per upload."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.servers import cli, start_server

MD5 = "5d41402abc4b2a76b9719d911017c592"


def wait_for(predicate, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout} s")


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    a_dir, b_dir = tmp_path_factory.mktemp("a"), tmp_path_factory.mktemp("b")
    a_url, b_url = f"sqlite:///{a_dir / 'a.db'}", f"sqlite:///{b_dir / 'b.db'}"
    a = start_server(a_url, a_dir, extra=("--data-dir", str(a_dir)), env={"NCII_SHIELD_OUTCOME_DELAY": "3"})
    with a.client() as c:
        case = c.post("/v1/cases", json={"signals": [{"signal_type": "md5", "value": MD5}], "age": "adult",
                                         "consent": True})
    assert case.status_code == 201, case.text
    env_a = {"NCII_SHIELD_DATA": str(a_dir)}
    published = cli("feed", "publish", "victims", "--subscriber", "platform-b", "--json", "--db", a_url, env=env_a)
    assert published.returncode == 0, published.stderr
    info = json.loads(published.stdout)
    subscribed = cli("feed", "subscribe", a.url, "--feed", "victims", "--publisher-key", info["public_key"],
                     "--token", info["tokens"]["platform-b"], "--bank", "from-a", "--allow-private-address",
                     "--db", b_url, env={"NCII_SHIELD_DATA": str(b_dir)})
    assert subscribed.returncode == 0, subscribed.stderr
    b = start_server(b_url, b_dir, extra=("--data-dir", str(b_dir)))
    yield {"a": a, "b": b, "case": case.json(), "token": info["tokens"]["platform-b"]}
    a.stop()
    b.stop()


def signal_id(server, bank: str) -> int:
    with server.client(server.admin_key) as c:
        found = c.post("/v1/match", json={"signal_type": "md5", "value": MD5}).json()["matches"]
    return next(m["signal_id"] for m in found if m["bank"] == bank)


def test_a_verdict_and_a_removal_on_the_subscriber_reach_the_publisher_within_a_second(pair):
    a, b = pair["a"], pair["b"]
    a_id = signal_id(a, "victims")
    b_id = signal_id(b, "from-a")

    def counts() -> dict:
        with a.client(a.admin_key) as c:
            got = c.get(f"/v1/banks/victims/signals/{a_id}/verdicts")
        assert got.status_code == 200, got.text
        return got.json()

    assert counts()["subscribers_reporting"] == 0
    with b.client(b.admin_key) as c:
        started = time.monotonic()
        done = c.put(f"/v1/review/signals/{b_id}/verdict", json={"verdict": "confirm", "reason": "checked: the person"})
        assert done.status_code == 200 and done.json()["verdict"] == "confirm", done.text
    wait_for(lambda: counts()["confirm"] == 1, 1.0)
    print(f"\nverdict reached the publisher in {(time.monotonic() - started) * 1000:.0f} ms")

    with b.client(b.admin_key) as c:
        item = c.post("/v1/review/items", json={"kind": "match", "content_id": "upload-77", "details": {
            "matches": [{"bank": "from-a", "signal_id": b_id, "signal_type": "md5"}]}})
        assert item.status_code == 201
        started = time.monotonic()
        assert c.post(f"/v1/review/items/{item.json()['id']}/decision",
                      json={"decision": "remove", "reason": "published without consent"}).status_code == 200
    wait_for(lambda: counts()["removed_on"] == 1, 1.0)
    print(f"removal reached the publisher in {(time.monotonic() - started) * 1000:.0f} ms")
    body = json.dumps(counts())
    assert "upload-77" not in body and "content" not in body

    case = pair["case"]

    def status() -> dict:
        with a.client() as c:
            got = c.post("/v1/cases/status", json={"case_number": case["case_number"], "pin": case["pin"]})
        assert got.status_code == 200, got.text
        return got.json()

    first = status()
    assert first["removed_on_platforms"] == 0, "not before the outcome delay"
    assert "upload-77" not in json.dumps(first)
    wait_for(lambda: status()["removed_on_platforms"] == 1, 6.0)


def test_only_a_subscriber_of_the_feed_may_report_and_only_signed_reports_count(pair):
    a = pair["a"]
    url = f"{a.url}/v1/feeds/victims/verdicts"
    assert httpx.post(url, json={}).status_code == 401
    assert httpx.post(url, json={}, headers={"Authorization": f"Bearer {a.admin_key}"}).status_code == 401
    auth = {"Authorization": f"Bearer {pair['token']}"}
    assert httpx.post(url, json={"page": {"public_key": "AAAA"}, "signature": "x"}, headers=auth).status_code in (401, 422)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ncii_shield.services.exchange import signing

    key = Ed25519PrivateKey.generate()
    page = {"format": "ncii-shield-verdicts/1", "feed": "victims", "public_key": signing.public_key_b64(key),
            "entries": [{"signal_type": "md5", "value": MD5, "confirm": 5, "deconfirm": 0, "dispute": 0,
                         "removed": False}], "issued_at": "2026-01-01T00:00:00Z"}
    envelope = signing.sign(key, page)
    envelope["page"]["entries"][0]["confirm"] = 500  # changed after signing
    assert httpx.post(url, json=envelope, headers=auth).status_code in (401, 422)
    bad = signing.sign(key, {**page, "entries": [{"signal_type": "md5", "value": MD5, "confirm": -1}]})
    assert httpx.post(url, json=bad, headers=auth).status_code == 422
    deep = '{"page": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + ', "signature": "x"}'
    got = httpx.post(url, content=deep, headers={**auth, "Content-Type": "application/json"})
    assert got.status_code == 422, "a deeply nested body is refused, not a server error"
