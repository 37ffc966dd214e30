"""Break-in: /v1/policy/rules without a key, with the wrong scope, across tenants, and rules that try
to turn a finding into a removal.

Reading the table needs ``policy`` or ``reviewer``; changing it needs ``policy`` (``admin`` implies
it). A key reaches only its own tenant's table, and a rule may name only banks its tenant can see
(another tenant's private bank is refused exactly like a bank that does not exist). No rule, however
written, makes a mark act: the upload's ``recommended`` stays ``review``.
Real HTTP against a live server on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.derivative_scenes import jpeg
from tests.marks_scenes import paste, png, text_mark
from tests.marks_scenes import photo as scene_photo
from tests.security.test_audit_tenants import tenant_admin

ROUTES = [("GET", {}), ("PUT", {"json": {"rules": ["match -> 10: x"]}}), ("DELETE", {})]
MARK = text_mark("NUDIFY")  # found at the place tests/integration/test_marks.py shows


@pytest.fixture(scope="module")
def owners(server):
    """Tenant default's private mark bank "policy-private" (with a mark) and its rule table."""
    with server.client(server.admin_key) as c:
        assert c.post("/v1/banks", json={"name": "policy-private"}).status_code == 201
        r = c.post("/v1/banks/policy-private/marks", files={"file": ("logo.png", png(MARK), "image/png")},
                   data={"label": "stripbot.example"})
        assert r.status_code == 201, r.text
        put = c.put("/v1/policy/rules", json={"rules": ["mark@policy-private -> 93: the owner's own rule"]})
        assert put.status_code == 200, put.text
    return put.json()


def test_no_key_is_refused(server, owners):
    with server.client() as c:
        for method, kw in ROUTES:
            assert c.request(method, "/v1/policy/rules", **kw).status_code == 401, method


def test_a_key_without_the_scope_is_refused(server, owners):
    for scope in ("match", "bank:read", "bank:write", "mandatory_report", "reviewer"):
        key = server.make_key(scope)
        with server.client(key) as c:
            for method, kw in ROUTES:
                got = c.request(method, "/v1/policy/rules", **kw)
                if scope == "reviewer" and method == "GET":  # a reviewer sees why an item has its priority
                    assert got.status_code == 200 and got.json()["rules"] == owners["rules"], got.text
                    continue
                assert got.status_code == 403, (scope, method, got.status_code, got.text)
                assert "policy" in got.json()["error"]["message"]
    with server.client(server.admin_key) as c:
        assert c.get("/v1/policy/rules").json()["rules"] == owners["rules"]  # nothing changed
    with server.client(server.make_key("policy")) as c:  # the scope alone is enough
        assert c.get("/v1/policy/rules").status_code == 200


def test_another_tenant_neither_reads_nor_changes_the_owners_rules(server, owners):
    other = tenant_admin(server, "policy-intruder")
    with server.client(other) as c:
        mine = c.get("/v1/policy/rules")
        assert mine.status_code == 200 and mine.json()["rules"] == []
        assert "policy-private" not in mine.text and "owner's own rule" not in mine.text
        assert c.put("/v1/policy/rules", json={"rules": ["match -> 5: the intruder's"]}).status_code == 200
        assert c.delete("/v1/policy/rules").status_code == 200
        # the owner's private bank cannot be named, and the refusal is the one a missing bank gets
        theirs = c.put("/v1/policy/rules", json={"rules": ["mark@policy-private -> 50"]})
        missing = c.put("/v1/policy/rules", json={"rules": ["mark@policy-nonexistent -> 50"]})
        assert theirs.status_code == missing.status_code == 422
        assert (theirs.json()["error"]["message"].replace("policy-private", "X")
                == missing.json()["error"]["message"].replace("policy-nonexistent", "X"))
    with server.client(server.admin_key) as c:
        assert c.get("/v1/policy/rules").json()["rules"] == owners["rules"]


@pytest.mark.parametrize("body", [
    {"rules": [{"when": ["mark"], "action": "act"}]},
    {"rules": [{"when": ["mark"], "action": "ACT", "priority": 99}]},
    {"rules": [{"when": ["mark@policy-private"], "action": "remove"}]},
    {"rules": ["mark -> act: remove at once"]},
    {"rules": ["mark -> delete"]},
    {"rules": [{"when": ["mark"], "priority": 99, "recommended": "act"}]},
    {"rules": [{"when": [{"kind": "mark", "action": "act"}], "priority": 99}]},
    {"rules": [{"when": ["mark"], "priority": 100}]},
    {"rules": [{"when": ["mark"], "priority": 10**12}]},
    {"rules": [{"when": ["mark"], "priority": 50, "reason": "x" * 301}]},
    {"rules": [{"when": ["mark " * 100], "priority": 50}]},
    {"rules": ["mark" + " + mark" * 300 + " -> 50"]},
    {"rules": [{"when": ["mark"], "priority": 50}] * 51},
    {"rules": [{"when": ["mark", "mark@a", "mark@b", "mark@c", "mark@d"], "priority": 50}]},
    {"rules": {"when": ["mark"], "priority": 50}},
    {"rules": [[[[[["mark"]]]]]]},
])
def test_no_rule_can_remove_or_outrank_a_mandatory_report(server, owners, body):
    with server.client(server.admin_key) as c:
        got = c.put("/v1/policy/rules", json=body)
        assert got.status_code == 422, got.text
        assert got.json()["error"]["type"] == "InvalidRequest" and got.json()["error"]["message"]
        assert c.get("/v1/policy/rules").json()["rules"] == owners["rules"]


def test_a_mark_with_the_strongest_rule_and_an_acting_bank_still_only_asks_a_person(server, owners):
    with server.client(server.admin_key) as c:
        trust = c.put("/v1/banks/policy-private/trust", json={"trust": "trusted", "policy": "act"})
        assert trust.status_code == 200, trust.text
        try:
            assert c.put("/v1/policy/rules", json={"rules": ["mark@policy-private -> 99: top"]}).status_code == 200
            marked = jpeg(paste(scene_photo(41), MARK, 300, 380, scale=0.6, opacity=0.75)[0], 80)
            r = c.post("/v1/match/media", params={"content_id": "breakin-mark", "review": "true"},
                       files={"file": ("m.jpg", marked, "image/jpeg")})
            assert r.status_code == 200, r.text
            out = r.json()
            assert [m["bank"] for m in out["marks"]] == ["policy-private"]
            assert out["marks"][0]["action"] == "review"  # the bank's policy says act; a mark never acts alone
            assert "never acts alone" in out["marks"][0]["action_reason"]
            assert (out["review"]["kind"], out["review"]["priority"]) == ("mark", 99)
            assert out["review"]["recommended"] == "review"
            item = c.get(f"/v1/review/items/{out['review_item']}").json()
            assert item["status"] == "open" and item["decision"] is None  # waiting for a person
        finally:
            c.put("/v1/banks/policy-private/trust", json={"policy": "review"})
            c.put("/v1/policy/rules", json={"rules": ["mark@policy-private -> 93: the owner's own rule"]})
