"""Break-in: the HMA drop-in routes (issue 22, item 3) without a key, with the wrong scope, and
across tenants.

HMA has no authentication; ncii-shield's HMA routes take the same keys as /v1: hashing and lookups
need ``match``, curation reads ``bank:read`` (``bank:write`` implies it), curation writes
``bank:write``; banks are the key's tenant's. Real HTTP against a live server on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import ORIGINAL_JPG
from tests.servers import cli

BANK = "VICTIMS_A"
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
PHOTO = {"photo": ("a.jpg", ORIGINAL_JPG.read_bytes(), "image/jpeg")}

# (method, path, kwargs, scope it needs)
ROUTES = [
    ("POST", "/h/hash", {"files": PHOTO}, "match"),
    ("GET", "/h/hash", {"params": {"url": "http://127.0.0.1/x.jpg"}}, "match"),
    ("GET", "/m/raw_lookup", {"params": {"signal": PDQ, "signal_type": "pdq"}}, "match"),
    ("GET", "/m/lookup", {"params": {"signal": PDQ, "signal_type": "pdq"}}, "match"),
    ("POST", "/m/lookup", {"files": PHOTO}, "match"),
    ("POST", "/m/compare", {"json": {"pdq": [PDQ, PDQ]}}, "match"),
    ("GET", "/m/index/status", {}, "match"),
    ("GET", "/c/banks", {}, "bank:read"),
    ("GET", f"/c/bank/{BANK}", {}, "bank:read"),
    ("GET", f"/c/bank/{BANK}/content/1", {}, "bank:read"),
    ("POST", "/c/banks", {"json": {"name": "INTRUDER"}}, "bank:write"),
    ("PUT", f"/c/bank/{BANK}", {"json": {"enabled": False}}, "bank:write"),
    ("DELETE", f"/c/bank/{BANK}", {}, "bank:write"),
    ("POST", f"/c/bank/{BANK}/signal", {"json": {"pdq": PDQ}}, "bank:write"),
    ("POST", f"/c/bank/{BANK}/content", {"files": PHOTO}, "bank:write"),
    ("PUT", f"/c/bank/{BANK}/content/1", {"json": {"disable_until_ts": 0}}, "bank:write"),
    ("DELETE", f"/c/bank/{BANK}/content/1", {}, "bank:write"),
]
GRANTS = {"match": {"match"}, "bank:read": {"bank:read"}, "bank:write": {"bank:read", "bank:write"}}


@pytest.fixture(scope="module")
def banked(server):  # noqa: ANN001
    """Tenant default's bank VICTIMS_A with one PDQ; the content id."""
    with server.client(server.admin_key) as c:
        assert c.post("/c/banks", json={"name": BANK}).status_code in (201, 403)
        added = c.post(f"/c/bank/{BANK}/signal", json={"pdq": PDQ, "note": "victim 1"})
        assert added.status_code == 200, added.text
        return added.json()["id"]


@pytest.mark.parametrize("method,path,kw,scope", ROUTES, ids=[f"{m} {p}" for m, p, _k, _s in ROUTES])
def test_no_key_is_refused(server, banked, method, path, kw, scope):  # noqa: ANN001
    """No header for half the routes, a made-up key for the others (17 failures in all: under the
    20 a minute after which failures from one address get 429)."""
    wrong = ROUTES.index((method, path, kw, scope)) % 2
    headers = {"Authorization": "Bearer nsk_0123456789_wrong"} if wrong else {}
    with server.client() as c:
        got = c.request(method, path, headers=headers, **kw)
    assert got.status_code == 401, (got.status_code, got.text)
    assert PDQ not in got.text and "victim" not in got.text


@pytest.mark.parametrize("held", ["match", "bank:read", "bank:write", "reviewer"])
def test_wrong_scope_is_refused(server, banked, held):  # noqa: ANN001
    key = server.make_key(held)
    with server.client(key) as c:
        for method, path, kw, scope in ROUTES:
            if scope in GRANTS.get(held, set()):
                continue  # what the scope allows is tested in tests/integration/test_hma_routes.py
            got = c.request(method, path, **kw)
            assert got.status_code == 403, (held, method, path, got.status_code, got.text)
            assert scope in got.json()["error"]["message"]
            assert PDQ not in got.text and "victim" not in got.text
        if held == "bank:read":  # reads work, and show the bank's content
            assert c.get(f"/c/bank/{BANK}/content/{banked}").json()["note"] == "victim 1"
        if held == "match":
            assert c.get("/m/raw_lookup", params={"signal": PDQ, "signal_type": "pdq"}).json() == {
                "matches": [banked]}
    with server.client(server.admin_key) as c:  # nothing the refused keys tried changed the bank
        assert c.get(f"/c/bank/{BANK}").json() == {"name": BANK, "matching_enabled_ratio": 1.0}
        assert c.get("/m/raw_lookup", params={"signal": PDQ, "signal_type": "pdq"}).json() == {"matches": [banked]}
        assert c.get("/c/bank/INTRUDER").status_code == 404


def test_another_tenants_bank(server, banked):  # noqa: ANN001
    """Tenant B's admin, even with a bank of the same name, neither sees, reads, matches nor deletes A's."""
    done = cli("keys", "create", "-s", "admin", "--tenant", "hma-tenant-b", "--db", server.db_url, "--json")
    assert done.returncode == 0, done.stderr
    other = json.loads(done.stdout)["key"]
    with server.client(other) as c:
        assert BANK not in [b["name"] for b in c.get("/c/banks").json()]
        assert c.get(f"/c/bank/{BANK}").status_code == 404
        assert c.get(f"/c/bank/{BANK}/content/{banked}").status_code == 404
        assert c.get("/m/raw_lookup", params={"signal": PDQ, "signal_type": "pdq"}).json() == {"matches": []}
        assert c.get("/m/lookup", params={"signal": PDQ, "signal_type": "pdq"}).json() == {}
        assert c.delete(f"/c/bank/{BANK}/content/{banked}").status_code == 404
        assert c.post("/c/banks", json={"name": BANK}).status_code == 201  # B's own bank of that name
        got = c.get(f"/c/bank/{BANK}/content/{banked}", params={"include_signals": "true"})
        assert got.status_code == 404 and PDQ not in got.text
        assert c.delete(f"/c/bank/{BANK}/content/{banked}").json() == {"deleted": 0}
        assert c.put(f"/c/bank/{BANK}/content/{banked}", json={"disable_until_ts": 0}).status_code == 404
    with server.client(server.admin_key) as c:  # A's content still matches
        assert c.get("/m/raw_lookup", params={"signal": PDQ, "signal_type": "pdq"}).json() == {"matches": [banked]}
