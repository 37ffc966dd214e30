"""``ncii-shield serve --workers N``: every worker listens on its own SO_REUSEPORT socket, so a client
that opens its connections at once still reaches all of them (Linux: read from /proc)."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import pytest

from tests.servers import cli, start_server

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def tcp_table() -> list[tuple[int, int, str, int]]:
    """(local port, remote port, state, inode) of every IPv4 TCP socket."""
    rows = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        rows.append((int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16), fields[3], int(fields[9])))
    return rows


def workers_of(pid: int) -> list[int]:
    """The server's worker processes (its children, less multiprocessing's resource tracker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if ppid == pid and b"resource_tracker" not in cmdline:
            found.append(int(stat.parent.name))
    return found


def test_each_worker_listens_and_connections_opened_together_reach_both(tmp_path):
    server = start_server(f"sqlite:///{tmp_path / 's.db'}", tmp_path, workers=2)
    port = int(server.url.rsplit(":", 1)[1])
    clients = []
    try:
        workers = workers_of(server.proc.pid)
        assert len(workers) == 2, workers
        deadline = time.monotonic() + 60  # the server answers as soon as one worker is up
        while True:
            listening = {inode for local, _, state, inode in tcp_table() if local == port and state == "0A"}
            owners = [socket_inodes(w) & listening for w in workers]
            if all(owners) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert all(len(o) == 1 for o in owners) and owners[0] != owners[1], owners  # one socket each
        assert not socket_inodes(server.proc.pid) & listening  # the parent holds the port, never accepts

        for _ in range(32):  # a keep-alive pool opened at once, then used
            s = socket.create_connection(("127.0.0.1", port))
            clients.append(s)
        for s in clients:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        for s in clients:
            s.settimeout(10)
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
        client_ports = {s.getsockname()[1] for s in clients}
        accepted = {inode for local, remote, state, inode in tcp_table()
                    if local == port and remote in client_ports and state == "01"}
        per_worker = [len(socket_inodes(w) & accepted) for w in workers]
        assert sum(per_worker) == 32 and min(per_worker) > 0, per_worker  # all on one: 2 in 2**32 by chance
    finally:
        for s in clients:
            s.close()
        server.stop()


def test_a_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli("serve", "--db", f"sqlite:///{tmp_path / 's.db'}", "--port", str(port), "--workers", "2",
                   "--no-demo", timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stdout + done.stderr


def test_a_second_server_with_reuseport_cannot_share_the_port(tmp_path):
    first = start_server(f"sqlite:///{tmp_path / 'a.db'}", tmp_path, workers=2)
    port = int(first.url.rsplit(":", 1)[1])
    try:
        done = cli("serve", "--db", f"sqlite:///{tmp_path / 'b.db'}", "--port", str(port), "--workers", "2",
                   "--no-demo", timeout=60)
        assert done.returncode == 2 and "cannot listen on" in done.stdout + done.stderr, done.stdout + done.stderr
    finally:
        first.stop()


def test_the_port_is_held_from_the_start_even_before_workers_listen():
    """A bound, not yet listening SO_REUSEPORT socket does not block another bind with SO_REUSEADDR;
    the lock does: a second server is refused while the first one's workers are still loading."""
    from ncii_shield.cli import reuseport

    with reuseport.hold("127.0.0.1", 0) as first:
        port = first.getsockname()[1]
        with pytest.raises(OSError, match="another ncii-shield server"):
            with reuseport.hold("127.0.0.1", port):
                pass
    with reuseport.hold("127.0.0.1", port) as again:  # released with the first
        assert again.getsockname()[1] == port
