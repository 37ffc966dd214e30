"""Break-in: /v1/indicators/check without a key, with a reviewer's key, across tenants, and with
oversized input. Real HTTP against a live server on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.test_api import make_bank, new_key


@pytest.fixture(scope="module")
def tenants(server):
    """Tenant A owns a private bank naming a service's domain (with a label); tenant B has its own keys."""
    a = new_key(server, "ind-a", "bank:write", "bank:read", "match")
    with server.client(a) as c:
        bank = make_bank(c)
        r = c.post(f"/v1/banks/{bank}/signals", json={"signal_type": "domain", "value": "nudify-a.example",
                                                       "metadata": {"label": "a's secret source"}})
        assert r.status_code in (200, 201), r.text
    return {"a": a, "a_match": new_key(server, "ind-a", "match"), "a_reviewer": new_key(server, "ind-a", "reviewer"),
            "b": new_key(server, "ind-b", "match"), "bank": bank}


def check(server, key: str | None, body: dict) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{server.url}/v1/indicators/check", json=body, headers=headers, timeout=30)


def test_the_owner_finds_the_entry_by_a_subdomain_url(server, tenants):
    r = check(server, tenants["a"], {"indicators": ["https://cdn.nudify-a.example/x?id=1"]})
    assert r.status_code == 200, r.text
    [result] = r.json()["results"]
    assert result["status"] == "match"
    [m] = result["matches"]
    assert (m["bank"], m["via"], m["value"]) == (tenants["bank"], "parent_domain", "nudify-a.example")
    assert m["metadata"]["label"] == "a's secret source"


def test_no_key_and_a_reviewers_key_are_refused(server, tenants):
    assert check(server, None, {"indicators": ["nudify-a.example"]}).status_code == 401
    r = check(server, tenants["a_reviewer"], {"indicators": ["nudify-a.example"]})
    assert r.status_code == 403 and "nudify-a" not in r.text


def test_a_match_only_key_gets_the_match_but_not_the_stored_entry(server, tenants):
    [result] = check(server, tenants["a_match"], {"indicators": ["nudify-a.example"]}).json()["results"]
    [m] = result["matches"]
    assert "value" not in m and "metadata" not in m and "secret" not in str(result)


def test_another_tenant_learns_nothing_of_a_private_bank(server, tenants):
    for body in ({"indicators": ["nudify-a.example"]}, {"indicators": ["nudify-a.example"], "banks": [tenants["bank"]]}):
        r = check(server, tenants["b"], body)
        assert r.status_code == 200, r.text
        assert r.json()["results"][0]["status"] == "no_match" and "secret" not in r.text


@pytest.mark.parametrize("body", [
    {"indicators": ["x.example"] * 10_001}, {"indicators": []}, {"indicators": ["x"], "as_type": "pdq"},
    {"indicators": "nudify-a.example"}, {"indicators": ["a" * 100_000]},
])
def test_bad_input_is_a_clear_4xx(server, tenants, body):
    r = check(server, tenants["a"], body)
    if body["indicators"] == ["a" * 100_000]:  # one over-long line: an error result, not a failure
        assert r.status_code in (200, 413, 422), r.text
        if r.status_code == 200:
            assert r.json()["results"][0]["status"] == "error"
        return
    assert r.status_code in (413, 422), r.text
