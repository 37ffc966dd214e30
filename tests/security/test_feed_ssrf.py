"""`feed subscribe` as a request forger (issue 17, finding 10): a subscription must not make the instance
call loopback, private or link-local addresses, unless the operator says so for that subscription
(``--allow-private-address``), and the check holds on every later pull (by the CLI and by ``serve``'s
follower), not only when subscribing: a host name that later resolves to a private address, or a
subscription stored before the check existed, is refused at connect time too.

A recording HTTP server on loopback stands for the internal service an attacker aims at: it must
never be asked anything.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select, update

from ncii_shield.core import Shield
from ncii_shield.errors import RefusedSource
from ncii_shield.services.exchange import subscriber as sub
from ncii_shield.store.database import open_database
from ncii_shield.store.models import Subscription
from tests.servers import cli, create_pg_database, drop_pg_database, start_server

KEY = "A" * 43 + "="  # any well-formed Ed25519 public key: the guard comes before any page is read


class Recorder:
    """An internal service on loopback that writes down every request it gets."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

            def do_GET(self) -> None:  # noqa: N802
                owner.requests.append(self.path)
                body = b'{"internal": "secret"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def internal():
    r = Recorder()
    yield r
    r.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'b.db'}"
        return
    url = create_pg_database()
    yield url
    drop_pg_database(url)


def subscribe(url: str, db: str, tmp_path: Path, *extra: str) -> object:
    return cli("feed", "subscribe", url, "--feed", "victims", "--publisher-key", KEY, "--token", "nsf_x",
               "--bank", "copy", "--name", "s", "--db", db, *extra, env={"NCII_SHIELD_DATA": str(tmp_path)})


def subscriptions(db: str, tmp_path: Path) -> list:
    return json.loads(cli("feed", "status", "--json", "--db", db, env={"NCII_SHIELD_DATA": str(tmp_path)}).stdout)


def test_subscribe_refuses_loopback_private_and_link_local_addresses(internal: Recorder, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'b.db'}"  # the refusal comes before the database (both backends: below)
    targets = [f"http://localhost:{internal.port}", f"http://[::1]:{internal.port}", "http://10.0.0.7",
               "http://192.168.1.1:8000", "http://100.64.0.1", "http://[fd00::1]", "http://169.254.169.254",
               "http://[fe80::1]", "http://0.0.0.0:80", f"http://[::ffff:127.0.0.1]:{internal.port}"]
    for target, pull in [(internal.url, "--pull"), (internal.url, "--no-pull"), ("http://169.254.169.254", "--pull")]:
        started = time.monotonic()
        out = subscribe(target, db, tmp_path, pull)  # the real CLI
        message = " ".join(out.stderr.split())
        assert out.returncode == 1 and "private" in message and "--allow-private-address" in message, (target, message)
        assert time.monotonic() - started < 30  # refused, not tried until a timeout
    shield = Shield.open(db, load_index=False)
    try:
        for target in targets:  # the same service call the CLI makes, for every kind of address
            with pytest.raises(RefusedSource, match="private.*--allow-private-address"):
                sub.subscribe(shield.db, shield.local_principal(), name="s", url=target, feed="victims",
                              publisher_key=KEY, token="nsf_x", bank="copy")
    finally:
        shield.close()
    assert internal.requests == []  # the internal service was never asked anything
    assert subscriptions(db, tmp_path) == []  # and nothing was stored


def test_the_override_is_the_operators_and_never_reaches_link_local(internal: Recorder, db: str, tmp_path: Path) -> None:
    out = subscribe("http://169.254.169.254", db, tmp_path, "--no-pull", "--allow-private-address")
    assert out.returncode != 0 and "link-local" in out.stderr  # cloud metadata is never a feed
    out = subscribe(internal.url, db, tmp_path, "--no-pull", "--allow-private-address")
    assert out.returncode == 0, out.stderr
    with open_database(db).sessions() as s:
        assert s.scalar(select(Subscription.allow_private_address)) is True  # stored with the subscription
    pulled = cli("feed", "pull", "s", "--db", db, env={"NCII_SHIELD_DATA": str(tmp_path)})
    assert pulled.returncode != 0  # not a feed, but the operator's override let it be asked
    assert internal.requests and internal.requests[0].startswith("/v1/feeds/victims/pages")


def test_every_later_pull_is_checked_at_connect_time(internal: Recorder, db: str, tmp_path: Path) -> None:
    """A subscription whose address is now private (its name re-pointed after subscribing, or one stored
    by a version without the check) is refused by `feed pull` and by serve's follower alike."""
    assert subscribe(internal.url, db, tmp_path, "--no-pull", "--allow-private-address").returncode == 0
    store = open_database(db)
    with store.write() as s:  # as an older version stored it: no override
        s.execute(update(Subscription).values(allow_private_address=False))
    store.dispose()
    pulled = cli("feed", "pull", "s", "--db", db, env={"NCII_SHIELD_DATA": str(tmp_path)})
    assert pulled.returncode != 0 and "private" in pulled.stderr
    server = start_server(db, tmp_path, extra=("--data-dir", str(tmp_path)))
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (subscriptions(db, tmp_path)[0]["last_error"] or "").count("private"):
            time.sleep(0.2)
        time.sleep(1.0)  # a few more follower rounds
    finally:
        server.stop()
    assert "private" in (subscriptions(db, tmp_path)[0]["last_error"] or "")
    assert internal.requests == []  # neither the CLI nor the follower asked it anything
