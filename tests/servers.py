"""Real parts for tests: throwaway PostgreSQL databases and ncii-shield server processes on loopback."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

PG_ADMIN = os.environ.get("NCII_SHIELD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def create_pg_database() -> str:
    """Create a fresh database on the test PostgreSQL and return its URL."""
    import psycopg

    name = f"ncii_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    db_url: str
    proc: subprocess.Popen
    log_path: Path
    admin_key: str | None

    def client(self, key: str | None = None, **kw) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kw)

    def make_key(self, *scopes: str, name: str | None = None) -> str:
        """A new API key of the admin's tenant with these scopes, made through the API."""
        with self.client(self.admin_key) as admin:
            made = admin.post("/v1/keys", json={"scopes": list(scopes), "name": name or "+".join(scopes)})
        assert made.status_code == 201, made.text
        return made.json()["key"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ncii_shield.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def start_server(db_url: str, log_dir: Path, *, workers: int = 1, extra: tuple[str, ...] = (),
                 demo: bool = False, env: dict | None = None) -> LiveServer:
    port = free_port()
    log_path = log_dir / f"server-{port}.log"
    handle = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ncii_shield.cli", "serve", "--db", db_url, "--port", str(port),
         "--workers", str(workers), "--demo" if demo else "--no-demo", *extra],
        stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # a loaded 2-core machine: imports, index load, kernel warm-up
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text()}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError(f"server did not start:\n{log_path.read_text()}")
    # the first admin key never reaches the log: serve (no terminal here) writes it to a 0600 file
    # in its data directory and logs that file's path
    found = re.search(r"wrote it to (\S*admin-key-[0-9a-f]{10}) ", log_path.read_text())
    admin_key = Path(found.group(1)).read_text().strip() if found else None
    return LiveServer(url, db_url, proc, log_path, admin_key)


class TempPostgres:
    """A PostgreSQL cluster of our own (initdb in a temporary folder, its own port) that a test may
    stop and restart without disturbing the shared server the rest of the suite uses."""

    def __init__(self) -> None:
        import glob
        import shutil as sh
        import tempfile

        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        if not candidates:
            raise RuntimeError("PostgreSQL server binaries not found (Debian package postgresql)")
        self.bin = Path(candidates[-1])
        self.base = Path(tempfile.mkdtemp(prefix="ncii-pg-"))  # the postgres user must reach it
        os.chmod(self.base, 0o755)
        self.dir = self.base / "pg"
        self.port = free_port()
        self.dir.mkdir()
        sh.chown(self.dir, "postgres", "postgres")
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.dir), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=120)

    def _ctl(self, action: str, *extra: str) -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.dir), "-w", "-l", str(self.dir / "log"), action,
                          "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1", *extra)

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.dir), "-w", "stop", "-m", "fast")

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        import shutil as sh

        sh.rmtree(self.base, ignore_errors=True)


@contextmanager
def live_server(backend: str, tmp_path_factory, *, prefix: str = "", data_dir: bool = False,
                env: dict | None = None, **kw) -> Iterator[LiveServer]:
    """A live server on ``backend`` ("sqlite" or "postgres": a fresh database, dropped afterwards),
    stopped on exit. ``data_dir`` gives it the temporary folder as ``--data-dir``; ``env`` and the
    other keywords go to :func:`start_server`. For the modules' own parametrised ``server`` fixtures."""
    tmp = tmp_path_factory.mktemp(f"{prefix}{backend}")
    url = f"sqlite:///{tmp / 'ncii.db'}" if backend == "sqlite" else create_pg_database()
    extra = (*kw.pop("extra", ()), *(("--data-dir", str(tmp)) if data_dir else ()))
    live = start_server(url, tmp, extra=extra, env=env, **kw)
    try:
        yield live
    finally:
        live.stop()
        if backend == "postgres":
            drop_pg_database(url)
