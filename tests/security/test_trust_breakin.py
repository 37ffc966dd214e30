"""Break-in: the trust routes of issue 23 without a key, with the wrong scope, and across tenants.

Disabling a signal, a verdict on it and reading its state need ``reviewer``; the verdicts a feed's
subscribers reported need ``bank:read``; a bank's or a subscription's trust settings need ``admin``. A tenant reaches only the signals of banks it can see (its own and
shared ones), its own banks and its own subscriptions; what it disables applies to itself only.
Real HTTP against a live server on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.security.test_audit_tenants import tenant_admin

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


@pytest.fixture(scope="module")
def banked(server):
    """Tenant default's private bank "trust-private" and shared bank "trust-shared", one PDQ each."""
    ids = {}
    with server.client(server.admin_key) as c:
        for name, shared in (("trust-private", False), ("trust-shared", True)):
            assert c.post("/v1/banks", json={"name": name, "shared": shared}).status_code == 201
            added = c.post(f"/v1/banks/{name}/signals", json={"signal_type": "pdq", "value": PDQ})
            assert added.status_code == 201, added.text
            ids[name] = added.json()["signals"][0]["id"]
    return ids


def routes(ids: dict) -> list[tuple[str, str, dict, str]]:
    sid = ids["trust-private"]
    return [
        ("GET", f"/v1/review/signals/{sid}", {}, "reviewer"),
        ("PUT", f"/v1/review/signals/{sid}/disable", {"json": {"reason": "news photo"}}, "reviewer"),
        ("DELETE", f"/v1/review/signals/{sid}/disable", {}, "reviewer"),
        ("PUT", f"/v1/review/signals/{sid}/verdict", {"json": {"verdict": "dispute", "reason": "x"}}, "reviewer"),
        ("GET", f"/v1/banks/trust-private/signals/{sid}/verdicts", {}, "bank:read"),
        ("PUT", "/v1/banks/trust-private/trust", {"json": {"policy": "act"}}, "admin"),
        ("PUT", "/v1/feeds/subscriptions/nosuch/trust", {"json": {"trust": "partner"}}, "admin"),
    ]


def test_no_key_is_refused(server, banked):
    with server.client() as c:
        for method, path, kw, _ in routes(banked):
            assert c.request(method, path, **kw).status_code == 401, path


def test_a_key_without_the_scope_is_refused(server, banked):
    keys = {scope: server.make_key(scope) for scope in ("match", "bank:write", "reviewer")}
    implies = {"bank:read": {"bank:write"}}
    for method, path, kw, needed in routes(banked):
        for scope, key in keys.items():
            if scope == needed or scope in implies.get(needed, ()):
                continue
            with server.client(key) as c:
                got = c.request(method, path, **kw)
            assert got.status_code == 403, (path, scope, got.status_code, got.text)


def test_another_tenant_cannot_reach_private_signals_banks_or_subscriptions(server, banked):
    other = tenant_admin(server, "trust-intruder")
    with server.client(other) as c:
        for method, path, kw, _ in routes(banked):
            got = c.request(method, path, **kw)
            assert got.status_code == 404, (path, got.status_code, got.text)
        assert "trust-private" not in c.get(f"/v1/review/signals/{banked['trust-private']}").text


def test_a_disable_of_a_shared_signal_stays_with_the_tenant_that_made_it(server, banked):
    sid = banked["trust-shared"]
    other = tenant_admin(server, "trust-neighbour")
    with server.client(other) as c:
        done = c.put(f"/v1/review/signals/{sid}/disable", json={"reason": "not ours to act on"})
        assert done.status_code == 200, done.text
        assert done.json()["disabled"] is True and done.json()["shared"] is True
    with server.client(server.admin_key) as c:
        mine = c.get(f"/v1/review/signals/{sid}")
        assert mine.status_code == 200 and mine.json()["disabled"] is False, mine.text
        # and the owner cannot lift the neighbour's decision either: its delete is its own
        assert c.delete(f"/v1/review/signals/{sid}/disable").json()["disabled"] is False
    with server.client(other) as c:
        assert c.get(f"/v1/review/signals/{sid}").json()["disabled"] is True


def test_values_outside_what_is_accepted_are_refused_with_the_accepted_ones(server, banked):
    with server.client(server.admin_key) as c:
        bad = c.put("/v1/banks/trust-private/trust", json={"trust": "gold"})
        assert bad.status_code == 422
        assert c.put(f"/v1/review/signals/{2**63}/disable", json={"reason": "x"}).status_code == 422
        assert c.put(f"/v1/review/signals/{banked['trust-private']}/disable",
                     json={"reason": "x", "until": "2001-01-01T00:00:00Z"}).status_code == 422
        ok = c.put("/v1/banks/trust-private/trust", json={"kind": "allow", "trust": "partner", "policy": "observe"})
        assert ok.status_code == 200 and ok.json() == {"name": "trust-private", "kind": "allow", "trust": "partner",
                                                       "policy": "observe"}
