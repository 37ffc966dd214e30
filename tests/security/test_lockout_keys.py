"""Break-in: an attacker behind the same NAT or proxy as the platforms (one client address) sends bad
API keys until the address is throttled, hoping to lock every platform out. Failures are counted per
address and per key prefix the guess names, and only failures are refused: a valid key is never
refused because of someone else's failures (issue 17, finding 6). Real HTTP against live servers; a
reverse proxy on loopback announces its clients with X-Forwarded-For, which uvicorn trusts from
loopback only."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.servers import live_server

BODY = {"signal_type": "md5", "value": "0" * 32}
NAT = {"X-Forwarded-For": "198.51.100.23"}  # the shared address of the attacker and the platforms


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request, tmp_path_factory):
    with live_server(request.param, tmp_path_factory, env={"NCII_SHIELD_AUTH_FAILURES_PER_MINUTE": "5"}) as live:
        yield live


def post(server, key: str, headers: dict | None = None) -> httpx.Response:
    return httpx.post(server.url + "/v1/match", json=BODY,
                      headers={"Authorization": f"Bearer {key}", **(headers or {})})


def test_bad_keys_from_a_shared_address_do_not_lock_out_valid_keys(server):
    owner, neighbour = server.make_key("match"), server.make_key("match")
    guesses = [post(server, f"nsk_{i:010d}_guess{i:027d}", NAT).status_code for i in range(12)]
    assert guesses[:5] == [401] * 5 and set(guesses[5:]) == {429}, guesses  # the guesser is throttled
    refused = post(server, "nsk_0000000099_guess", NAT)
    assert int(refused.headers["Retry-After"]) >= 1 and refused.json()["error"]["type"] == "TooManyRequests"
    for key in (owner, neighbour, server.admin_key):  # ... the platforms behind the same address are not
        assert post(server, key, NAT).status_code == 200
    assert post(server, "nsk_0000000099_guess", NAT).status_code == 429  # and their success frees nobody


def test_guesses_at_one_key_from_many_addresses_do_not_lock_its_owner_out(server):
    owner = server.make_key("match")
    prefix = owner.split("_")[1]
    codes = [post(server, f"nsk_{prefix}_guess{i:027d}", {"X-Forwarded-For": f"203.0.113.{i}"}).status_code
             for i in range(1, 10)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}, codes  # the prefix under attack is throttled
    assert post(server, owner).status_code == 200  # the owner, from its own address
    assert post(server, owner, {"X-Forwarded-For": "203.0.113.4"}).status_code == 200  # or an attacker's
    assert post(server, f"nsk_{prefix}_guess", {"X-Forwarded-For": "192.0.2.77"}).status_code == 429


def test_review_login_is_not_locked_by_someone_elses_failures(server):
    """The reviewers' browser login takes an API key too: the same rule."""
    reviewer = server.make_key("reviewer")
    with httpx.Client(base_url=server.url, headers={"X-Forwarded-For": "198.51.100.99"}) as browser:
        csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/review/login").text).group(1)
        codes = [browser.post("/review/login", data={"csrf": csrf, "api_key": f"nsk_{i:010d}_bad"}).status_code
                 for i in range(8)]
        assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}, codes
        assert browser.post("/review/login", data={"csrf": csrf, "api_key": reviewer}).status_code == 303
