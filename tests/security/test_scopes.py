"""Break-in: a key that may only match (or review) tries to read the hashes banked by its tenant.

Matching never needs to read a bank; reading a signal back (its value, metadata, withdrawal) takes
``bank:read``, which ``bank:write`` and ``admin`` imply. Real HTTP against a live server on SQLite and
PostgreSQL (issue 17, finding 4)."""

from __future__ import annotations

import json

import pytest

from tests.servers import cli, start_server

VALUES = ["a" * 31 + "1", "b" * 31 + "2", "c" * 31 + "3"]


@pytest.fixture(scope="module")
def banked(server):
    """A bank of three md5 hashes with metadata, one withdrawn; the ids the server gave them."""
    with server.client(server.admin_key) as c:
        assert c.post("/v1/banks", json={"name": "victims"}).status_code == 201
        added = c.post("/v1/banks/victims/signals", json={"signals": [
            {"signal_type": "md5", "value": v, "metadata": {"case": f"victim-{i}"}} for i, v in enumerate(VALUES)]})
        assert added.status_code == 201, added.text
        ids = [s["id"] for s in added.json()["signals"]]
        assert c.delete(f"/v1/banks/victims/signals/{ids[2]}").status_code == 204
    return ids


@pytest.mark.parametrize("scope", ["match", "reviewer"])
def test_match_and_reviewer_keys_cannot_read_signals(server, banked, scope):
    """Walking the sequential ids, active and withdrawn, returns no value and no metadata."""
    key = server.make_key(scope)
    with server.client(key) as c:
        for signal_id in range(1, max(banked) + 3):
            got = c.get(f"/v1/banks/victims/signals/{signal_id}")
            assert got.status_code == 403, (signal_id, got.status_code, got.text)
            assert "bank:read" in got.json()["error"]["message"]
            assert not any(v in got.text for v in VALUES) and "victim-" not in got.text
        if scope == "match":  # matching itself still works and says which signal matched, never its value
            found = c.post("/v1/match", json={"signal_type": "md5", "value": VALUES[0]})
            assert found.status_code == 200 and found.json()["matches"][0]["signal_id"] == banked[0]
            assert "victim-" not in found.text


@pytest.mark.parametrize("scopes", [("bank:read",), ("bank:write",), ("admin",)])
def test_bank_readers_read_signals(server, banked, scopes):
    key = server.admin_key if scopes == ("admin",) else server.make_key(*scopes)
    with server.client(key) as c:
        got = c.get(f"/v1/banks/victims/signals/{banked[0]}")
        assert got.status_code == 200, got.text
        assert got.json()["value"] == VALUES[0] and got.json()["metadata"] == {"case": "victim-0"}
        withdrawn = c.get(f"/v1/banks/victims/signals/{banked[2]}").json()
        assert withdrawn["withdrawn_at"] is not None


def test_bank_read_is_read_only(server, banked):
    """bank:read reads; it neither adds, withdraws, creates nor changes a bank, and does not match."""
    with server.client(server.make_key("bank:read")) as c:
        assert c.post("/v1/banks/victims/signals", json={"signal_type": "md5", "value": "d" * 32}).status_code == 403
        assert c.delete(f"/v1/banks/victims/signals/{banked[0]}").status_code == 403
        assert c.post("/v1/banks", json={"name": "mine"}).status_code == 403
        assert c.patch("/v1/banks/victims", json={"enabled": False}).status_code == 403
        assert c.post("/v1/match", json={"signal_type": "md5", "value": VALUES[0]}).status_code == 403


def test_the_cli_creates_bank_read_keys(server):
    made = cli("keys", "create", "--scope", "bank:read", "--json", "--db", server.db_url)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["scopes"] == ["bank:read"]


def test_api_keys_do_not_open_a_feed(tmp_path):
    """A published bank's feed pages carry every value; match, reviewer and even admin API keys are
    not feed tokens (a feed is read with its own nsf_ token)."""
    server = start_server(f"sqlite:///{tmp_path / 'f.db'}", tmp_path, extra=("--data-dir", str(tmp_path)))
    try:
        with server.client(server.admin_key) as c:
            assert c.post("/v1/banks", json={"name": "victims"}).status_code == 201
            assert c.post("/v1/banks/victims/signals", json={"signal_type": "md5", "value": VALUES[0]}).status_code == 201
        published = cli("feed", "publish", "victims", "--json", "--db", server.db_url,
                        env={"NCII_SHIELD_DATA": str(tmp_path)})
        assert published.returncode == 0, published.stderr
        for key in (server.make_key("match"), server.make_key("reviewer"), server.admin_key):
            for path in ("/v1/feeds/victims", "/v1/feeds/victims/pages", "/v1/feeds/victims/pages?cursor=snap:0:0"):
                got = server.client(key).get(path)
                assert got.status_code == 401 and VALUES[0] not in got.text, (path, got.text)
    finally:
        server.stop()
