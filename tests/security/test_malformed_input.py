"""Break-in: bodies and cursors built to crash the parser (JSON nested 100,000 deep, cursors with
numbers no database integer holds). Each gets a clear 4xx that says what is accepted, never a 500
(issue 17, finding 7: /v1/match and the feed cursor; every other JSON-body route is tried too).
Real HTTP against live servers on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from tests.servers import cli, create_pg_database, drop_pg_database, start_server

DEEP = 100_000
HUGE = "99999999999999999999999"


def deep(depth: int = DEEP) -> bytes:
    return b"[" * depth + b"]" * depth


def deep_in(field: str, depth: int = DEEP) -> bytes:
    return b'{"' + field.encode() + b'":' + deep(depth) + b"}"


def deep_object(depth: int = DEEP) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def published(request, tmp_path_factory):
    """A live server whose bank 'victims' is published as a feed, with a subscriber's token."""
    tmp = tmp_path_factory.mktemp(request.param)
    url = f"sqlite:///{tmp / 'ncii.db'}" if request.param == "sqlite" else create_pg_database()
    server = start_server(url, tmp, extra=("--data-dir", str(tmp)))
    with server.client(server.admin_key) as c:
        assert c.post("/v1/banks", json={"name": "victims"}).status_code == 201
        assert c.post("/v1/banks/victims/signals", json={"signal_type": "md5", "value": "a" * 32}).status_code == 201
    made = cli("feed", "publish", "victims", "--subscriber", "b", "--json", "--db", url,
               env={"NCII_SHIELD_DATA": str(tmp)})
    assert made.returncode == 0, made.stderr
    yield server, json.loads(made.stdout)["tokens"]["b"]
    server.stop()
    if request.param == "postgres":
        drop_pg_database(url)


def assert_clear_4xx(response, *, accepted: str | None = None) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    error = response.json()["error"]
    assert error["message"] and len(response.content) < 4000, response.text[:500]
    if accepted is not None:
        assert accepted in error["message"], error["message"]


@pytest.mark.parametrize("body", [deep_in("signals"), deep(), deep_object(), deep_in("signal_type"),
                                  b'{"signals":[' + b",".join([b'{"signal_type":"md5","value":"' + b"0" * 32 + b'"}'] * 2)
                                  + b"," + deep(DEEP) + b"]}"], ids=["signals", "array", "object", "field", "batch"])
def test_deeply_nested_json_on_match(published, body):
    server, _ = published
    with server.client(server.admin_key) as c:
        got = c.post("/v1/match", content=body, headers={"Content-Type": "application/json"})
    assert_clear_4xx(got)
    assert got.status_code in (400, 422)


@pytest.mark.parametrize("method,path", [
    ("POST", "/v1/banks"), ("POST", "/v1/banks/victims/signals"), ("PATCH", "/v1/banks/victims"),
    ("POST", "/v1/cases"), ("POST", "/v1/cases/status"), ("POST", "/v1/cases/withdraw"),
    ("POST", "/v1/notices"), ("POST", "/v1/notices/status"), ("POST", "/v1/notices/withdraw"),
    ("POST", "/v1/content"), ("POST", "/v1/review/items"), ("POST", "/v1/keys"),
])
def test_deeply_nested_json_on_every_json_route(published, method, path):
    server, _ = published
    with server.client(server.admin_key) as c:
        for body in (deep(), deep_object()):
            got = c.request(method, path, content=body, headers={"Content-Type": "application/json"})
            assert_clear_4xx(got)


@pytest.mark.parametrize("cursor", [
    f"snap:0:{HUGE}", f"snap:{HUGE}:0", f"log:{HUGE}", f"snap:{2**63}:0", f"log:{2**63}",
    "snap:-1:0", "log:-5", "snap:+1:0", "log: 5", "log:5 ", "snap:1_0:0", "log:\u0663", "snap:1", "snap:1:2:3",
    "log:", "snap::", "START", "log:0x10",
])
def test_feed_cursors_out_of_range_or_malformed(published, cursor):
    server, token = published
    got = server.client(token).get("/v1/feeds/victims/pages", params={"cursor": cursor})
    assert_clear_4xx(got, accepted="start, snap:<seq>:<id>, log:<seq>")
    assert got.status_code == 422


def test_feed_cursors_at_the_edge_still_work(published):
    """The largest sequence a database integer holds is a valid (empty) position, not an error."""
    server, token = published
    with server.client(token) as c:
        for cursor in ("start", "snap:0:0", f"snap:0:{2**63 - 1}", f"log:{2**63 - 1}", "log:0"):
            got = c.get("/v1/feeds/victims/pages", params={"cursor": cursor})
            assert got.status_code == 200, (cursor, got.text)
        assert c.get("/v1/feeds/victims/pages", params={"cursor": "log:0"}).json()["page"]["entries"]


def test_deeply_nested_hashes_on_the_intake_form(published):
    """The victims' page posts its hashes as a JSON form field: nested 100,000 deep, the page says
    what went wrong (4xx), no server error."""
    import re

    import httpx

    server, _ = published
    with httpx.Client(base_url=server.url) as browser:
        csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/protect").text).group(1)
        got = browser.post("/protect", data={"csrf": csrf, "hashes": deep().decode(), "age": "adult", "consent": "yes"})
        assert 400 <= got.status_code < 500 and "could not be read" in got.text, (got.status_code, got.text[:300])
