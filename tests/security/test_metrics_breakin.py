"""Break-in: an outsider scrapes /metrics, which labelled monitors by their full source URL (passwords
and tokens included). /metrics answers only loopback clients that come directly (no proxy) unless
NCII_SHIELD_METRICS_TOKEN is set, and then only to that bearer token; labels never carry a secret
(issue 17, finding 5). Real HTTP against live servers."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.servers import cli, create_pg_database, drop_pg_database, start_server

SECRETS = ("hunter2pass", "scraperuser", "tok_5f1b2c", "fragsecret")
SOURCE = "http://scraperuser:hunter2pass@127.0.0.1:9/private/feed.xml?access_token=tok_5f1b2c#fragsecret"
TOKEN = "metrics-token-0123456789abcdef"


def lan_address() -> str | None:
    """This machine's address on its network (not loopback), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def monitored(request, tmp_path_factory):
    """A database holding a monitor whose URL has a password, a token and a fragment, and a server on
    it with no metrics token, listening on every interface (as `serve --host 0.0.0.0`)."""
    tmp = tmp_path_factory.mktemp(request.param)
    url = f"sqlite:///{tmp / 'ncii.db'}" if request.param == "sqlite" else create_pg_database()
    added = cli("monitor", "add", SOURCE, "--every", "1h", "--allow-loopback", "--db", url)
    assert added.returncode == 0, added.stderr
    server = start_server(url, tmp, extra=("--no-monitors", "--host", "0.0.0.0"))
    yield url, tmp, server
    server.stop()
    if request.param == "postgres":
        drop_pg_database(url)


def test_metrics_labels_carry_no_secret(monitored):
    _, _, server = monitored
    text = httpx.get(server.url + "/metrics").text  # a direct loopback scrape (allowed by default)
    assert "ncii_monitor_runs_total{" in text, text
    assert 'monitor="1"' in text and 'source="http://127.0.0.1:9/private/feed.xml"' in text, text
    for secret in SECRETS:
        assert secret not in text, secret


def test_metrics_refuse_the_network_without_a_token(monitored):
    """With no token configured: a request that came through a reverse proxy (X-Forwarded-For /
    Forwarded / X-Real-IP) and a client on the network are refused; a direct loopback scrape works."""
    _, _, server = monitored
    for header in ({"X-Forwarded-For": "203.0.113.7"}, {"Forwarded": "for=203.0.113.7"},
                   {"X-Real-IP": "203.0.113.7"}, {"X-Forwarded-For": "127.0.0.1"}):
        got = httpx.get(server.url + "/metrics", headers=header)
        assert got.status_code == 403, (header, got.status_code)
        assert "NCII_SHIELD_METRICS_TOKEN" in got.json()["error"]["message"]
        assert "ncii_" not in got.text and "hunter2pass" not in got.text
    assert httpx.get(server.url + "/metrics").status_code == 200
    lan = lan_address()
    if lan is None:
        pytest.skip("no network address besides loopback to scrape from")
    port = server.url.rsplit(":", 1)[1]
    got = httpx.get(f"http://{lan}:{port}/metrics")  # an outsider on the network, not through a proxy
    assert got.status_code == 403 and "ncii_" not in got.text, got.text
    assert httpx.get(f"http://{lan}:{port}/healthz").status_code == 200


def test_metrics_token_is_required_when_set(monitored):
    url, tmp, _ = monitored
    server = start_server(url, tmp, extra=("--no-monitors",), env={"NCII_SHIELD_METRICS_TOKEN": TOKEN})
    try:
        assert httpx.get(server.url + "/metrics").status_code == 401  # even loopback needs it now
        for wrong in ("x", TOKEN[:-1], TOKEN + "x", server.admin_key):
            got = httpx.get(server.url + "/metrics", headers={"Authorization": f"Bearer {wrong}"})
            assert got.status_code == 401 and "ncii_" not in got.text, (wrong, got.status_code)
        ok = httpx.get(server.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}",
                                                         "X-Forwarded-For": "203.0.113.7"})
        assert ok.status_code == 200 and "ncii_monitor_runs_total" in ok.text
        assert not any(secret in ok.text for secret in SECRETS)
    finally:
        server.stop()


def test_a_short_metrics_token_is_refused_at_start(tmp_path):
    with pytest.raises(RuntimeError, match="NCII_SHIELD_METRICS_TOKEN"):
        start_server(f"sqlite:///{tmp_path / 's.db'}", tmp_path, env={"NCII_SHIELD_METRICS_TOKEN": "short"})
