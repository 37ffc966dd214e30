"""Secrets at rest (issue 17, finding 8): what an attacker who can read the data directory, a database
dump or the server's log stream gets.

* The SQLite database, its WAL and shared-memory files and every key file are 0600, the data directory
  0700, whether ``ncii-shield serve`` or a CLI command creates them (and a database left 0644 by an
  older version is tightened when it is opened).
* Feed access tokens and the credentials in a monitor's URL (``user:password@``, the query string) are
  sealed with the personal-data key kept outside the database: neither the rows (SQL) nor the raw
  bytes of the SQLite file and its WAL hold them, and the feed and the monitor still work. Rows
  written in clear by an older version keep working and are sealed at their next write.
* The first admin key never reaches the log stream: without a terminal it goes to a 0600 file in the
  data directory and only that file's path is logged.
"""

from __future__ import annotations

import json
import re
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import inspect, select, text, update

from ncii_shield.store.database import open_database
from ncii_shield.store.models import Monitor, Subscription
from tests.scan_helpers import photo
from tests.servers import cli, create_pg_database, drop_pg_database, start_server

rng = np.random.default_rng(1708)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_private_tree(root: Path) -> None:
    assert mode(root) == 0o700, f"{root} is {oct(mode(root))}"
    for path in root.rglob("*"):
        want = 0o700 if path.is_dir() else 0o600
        assert mode(path) == want, f"{path} is {oct(mode(path))}, want {oct(want)}"


# --- file modes -----------------------------------------------------------------------------------


def test_serve_creates_a_private_data_directory_database_wal_and_keys(tmp_path: Path) -> None:
    data = tmp_path / "data"  # does not exist yet: serve creates it
    db = f"sqlite:///{data / 'ncii-shield.db'}"
    server = start_server(db, tmp_path, extra=("--data-dir", str(data)))
    try:
        with server.client(server.admin_key) as c:
            assert c.post("/v1/banks", json={"name": "victims"}).status_code == 201
        published = cli("feed", "publish", "victims", "--subscriber", "x", "--db", db, env={"NCII_SHIELD_DATA": str(data)})
        assert published.returncode == 0, published.stderr
        for name in ("ncii-shield.db", "ncii-shield.db-wal", "ncii-shield.db-shm", "feed-signing.key"):
            assert (data / name).exists(), name  # the server is running: its WAL is there
        assert_private_tree(data)
    finally:
        server.stop()
    assert_private_tree(data)


def test_the_cli_creates_a_private_database_and_tightens_an_old_one(tmp_path: Path) -> None:
    data = tmp_path / "cli-data"
    db = data / "store.db"
    made = cli("bank", "create", "victims", "--db", f"sqlite:///{db}", env={"NCII_SHIELD_DATA": str(data)})
    assert made.returncode == 0, made.stderr
    assert db.exists()
    assert_private_tree(data)
    # a database an older version left readable by everyone is made private when it is next opened
    db.chmod(0o644)
    data.chmod(0o755)
    again = cli("bank", "create", "other", "--db", f"sqlite:///{db}", env={"NCII_SHIELD_DATA": str(data)})
    assert again.returncode == 0, again.stderr
    assert mode(db) == 0o600
    for suffix in ("-wal", "-shm"):
        side = db.with_name(db.name + suffix)
        assert not side.exists() or mode(side) == 0o600


# --- sealed secrets ---------------------------------------------------------------------------------


class Protected:
    """A loopback HTTP server that serves an RSS feed of one photo only to a caller that presents the
    query token (what a real feed behind a token does), and counts who asked."""

    def __init__(self, token: str) -> None:
        self.asked: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

            def do_GET(self) -> None:  # noqa: N802
                owner.asked.append(self.path)
                path, _, query = self.path.partition("?")
                if path == "/feed.xml" and query == f"token={token}":
                    body = (f'<?xml version="1.0"?><rss version="2.0"><channel><item><enclosure url="{owner.url}/0.jpg" '
                            f'type="image/jpeg"/></item></channel></rss>').encode()
                elif path == "/0.jpg":
                    body = photo(0)
                else:
                    self.send_response(403)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def publisher(tmp_path_factory):
    """A live instance A publishing its bank "victims" as a feed."""
    a_dir = tmp_path_factory.mktemp("publisher")
    a_url = f"sqlite:///{a_dir / 'a.db'}"
    a = start_server(a_url, a_dir, extra=("--data-dir", str(a_dir)))
    with a.client(a.admin_key) as c:
        assert c.post("/v1/banks", json={"name": "victims"}).status_code == 201
        c.post("/v1/banks/victims/signals", json={"signal_type": "pdq", "value": rng.bytes(32).hex()})
    env = {"NCII_SHIELD_DATA": str(a_dir)}
    out = cli("feed", "publish", "victims", "--json", "--db", a_url, env=env)
    assert out.returncode == 0, out.stderr
    yield {"server": a, "db": a_url, "env": env, "public_key": json.loads(out.stdout)["public_key"]}
    a.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def subscriber_db(request, tmp_path):
    """A subscriber's database of each backend and its data directory (where the sealing key lives)."""
    data = tmp_path / "b-data"
    if request.param == "sqlite":
        yield f"sqlite:///{data / 'b.db'}", data
        return
    url = create_pg_database()
    yield url, data
    drop_pg_database(url)


def new_subscriber_token(publisher, name: str) -> tuple[str, str]:
    out = cli("feed", "subscriber", "victims", name, "--db", publisher["db"], env=publisher["env"])
    assert out.returncode == 0, out.stderr
    return out.stdout.split()[-1], publisher["public_key"]


def every_row(db_url: str) -> str:
    """Every row of every table, as text (what a database dump or a SQL reader sees)."""
    db = open_database(db_url)
    try:
        with db.engine.connect() as conn:
            dump = []
            for table in inspect(conn).get_table_names():
                for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                    dump.append(f"{table}: {tuple(row)!r}")
        return "\n".join(dump)
    finally:
        db.dispose()


def raw_bytes(db_url: str) -> bytes:
    """The SQLite file and its WAL and shared memory as bytes (empty for PostgreSQL)."""
    if not db_url.startswith("sqlite"):
        return b""
    path = Path(db_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def assert_nowhere(db_url: str, *secrets: str) -> None:
    rows, raw = every_row(db_url), raw_bytes(db_url)
    for secret in secrets:
        assert secret not in rows, f"{secret!r} is stored in clear"
        assert secret.encode() not in raw, f"{secret!r} is in the database file's bytes"


def test_feed_tokens_and_monitor_credentials_are_sealed_and_still_work(publisher, subscriber_db) -> None:
    db, data = subscriber_db
    env = {"NCII_SHIELD_DATA": str(data)}
    a = publisher["server"]
    token, public_key = new_subscriber_token(publisher, f"sealed-{rng.integers(1 << 30)}")
    subscribed = cli("feed", "subscribe", a.url, "--feed", "victims", "--publisher-key", public_key, "--token", token,
                     "--bank", "from-a", "--name", "a", "--allow-private-address", "--db", db, env=env)
    assert subscribed.returncode == 0, subscribed.stderr
    assert "changes applied" in subscribed.stdout and not subscribed.stdout.startswith("subscribed; 0 ")

    password, query_token = "hunter2-" + rng.bytes(6).hex(), "qt-" + rng.bytes(8).hex()
    site = Protected(query_token)
    try:
        source = f"http://crawler:{password}@127.0.0.1:{site.url.rsplit(':', 1)[1]}/feed.xml?token={query_token}"
        added = cli("monitor", "add", source, "--every", "1h", "--allow-loopback", "--json", "--db", db, env=env)
        assert added.returncode == 0, added.stderr
        assert json.loads(added.stdout)["source"] == source  # the operator sees what they gave
        again = cli("monitor", "add", source, "--every", "2h", "--allow-loopback", "--db", db, env=env)
        assert again.returncode != 0 and "already monitored" in again.stderr  # duplicates still found

        assert_nowhere(db, token, password, query_token)
        with open_database(db).sessions() as s:
            stored_token = s.scalar(select(Subscription.token))
            stored_source = s.scalar(select(Monitor.source))
        assert stored_token.startswith("gAAAAA") and stored_source.startswith("gAAAAA")  # Fernet tokens

        # both still work: the feed is pulled with the token, the monitor fetches with its query token
        with a.client(a.admin_key) as c:
            c.post("/v1/banks/victims/signals", json={"signal_type": "pdq", "value": rng.bytes(32).hex()})
        pulled = cli("feed", "pull", "a", "--json", "--db", db, env=env)
        assert pulled.returncode == 0, pulled.stderr
        assert json.loads(pulled.stdout)["applied"] >= 1
        ran = cli("monitor", "run-due", "--db", db, env=env)
        assert ran.returncode == 0, ran.stderr
        listed = json.loads(cli("monitor", "list", "--json", "--db", db, env=env).stdout)
        assert (listed[0]["runs"], listed[0]["items_scanned"], listed[0]["last_error"]) == (1, 1, None), listed
        assert f"/feed.xml?token={query_token}" in site.asked
        assert_nowhere(db, token, password, query_token)
    finally:
        site.stop()
    assert mode(data / "contact.key") == 0o600


def test_rows_stored_in_clear_by_an_older_version_keep_working_and_are_sealed(publisher, subscriber_db) -> None:
    db, data = subscriber_db
    env = {"NCII_SHIELD_DATA": str(data)}
    a = publisher["server"]
    token, public_key = new_subscriber_token(publisher, f"legacy-{rng.integers(1 << 30)}")
    assert cli("feed", "subscribe", a.url, "--feed", "victims", "--publisher-key", public_key, "--token", token,
               "--bank", "from-a", "--name", "a", "--no-pull", "--allow-private-address", "--db", db,
               env=env).returncode == 0
    query_token = "qt-" + rng.bytes(8).hex()
    site = Protected(query_token)
    try:
        source = f"{site.url}/feed.xml?token={query_token}"
        assert cli("monitor", "add", source, "--every", "1h", "--allow-loopback", "--db", db, env=env).returncode == 0
        store = open_database(db)
        with store.write() as s:  # what the previous version wrote: the secrets in clear
            s.execute(update(Subscription).values(token=token))
            s.execute(update(Monitor).values(source=source))
        store.dispose()

        pulled = cli("feed", "pull", "a", "--json", "--db", db, env=env)
        assert pulled.returncode == 0, pulled.stderr
        assert json.loads(pulled.stdout)["applied"] >= 1
        assert cli("monitor", "run-due", "--db", db, env=env).returncode == 0
        listed = json.loads(cli("monitor", "list", "--json", "--db", db, env=env).stdout)
        assert (listed[0]["source"], listed[0]["items_scanned"], listed[0]["last_error"]) == (source, 1, None), listed
        assert_nowhere(db, token, query_token)  # sealed at their first write
    finally:
        site.stop()


# --- the first admin key ----------------------------------------------------------------------------


def test_the_first_admin_key_never_reaches_the_log_stream(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server(f"sqlite:///{tmp_path / 'ncii.db'}", tmp_path, extra=("--data-dir", str(data)))
    try:
        key = server.admin_key
        assert key and key.startswith("nsk_")
        with server.client(key) as c:
            assert c.get("/v1/banks").status_code == 200  # the key from the file is the admin key
        log = server.log()
        assert key not in log and key.split("_", 2)[2] not in log
        where = re.search(r"(/\S*admin-key-[0-9a-f]{10})\b", log)
        assert where, log
        path = Path(where.group(1))
        assert path.parent == data and mode(path) == 0o600 and path.read_text().strip() == key
    finally:
        server.stop()
    assert key not in server.log()
