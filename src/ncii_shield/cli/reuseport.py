"""One listening socket per worker process (``SO_REUSEPORT``), so the kernel spreads connections.

uvicorn's workers share the one socket the parent bound. Whichever worker wakes first accepts every
connection waiting, so a client that opens its keep-alive pool at once (a platform's upload service,
a load generator) can land all of it on one worker: measured with 16 connections to 2 workers, 1 run
in 6 had every connection on one worker and half the throughput. With ``SO_REUSEPORT`` each worker
listens on a socket of its own and Linux assigns each new connection to one of them by a hash of its
addresses.

:class:`ReusePortListener` stands in for the socket in the list uvicorn hands to each worker: it is
pickled into the worker process (uvicorn spawns workers), and unpickling it there binds that
worker's own socket. The socket is bound but not listening until asyncio starts serving on it, that
is after the worker has loaded its index; until then the kernel sends new connections to the other
workers. The parent keeps a bound, never-listening socket of the same group to hold the port and to
fail early (port in use) with a clear error, and to resolve port 0.

A replaced worker (a crash, or uvicorn's rolling restart on SIGHUP) takes its socket with it: the
connections that waited in that socket's queue, not yet accepted, are reset, where with the shared
socket another worker would have taken them. Clients retry; a load balancer in front does so itself.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def supported() -> bool:
    """Linux: there the kernel spreads connections over the sockets of a group (macOS and the BSDs
    accept the option but may give every connection to one socket)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


@contextmanager
def hold(host: str, port: int) -> Iterator[socket.socket]:
    """The parent's socket of the group, for as long as the server runs. Raises OSError (address in
    use) if another process listens on (host, port), or if another server of this user holds it,
    even one whose workers are still loading and not yet listening (a lock file per address; without
    it a second server could join the first one's group); port 0 picks a free port."""
    with _socket(host) as probe:  # without SO_REUSEPORT: it cannot join another server's group
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]
    lock_path = Path(tempfile.gettempdir()) / f"ncii-shield-{os.getuid()}-{host.replace(':', '_')}-{port}.lock"
    with open(lock_path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OSError(errno.EADDRINUSE, "Address already in use by another ncii-shield server") from None
        with bind(host, port) as sock:
            yield sock


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket with ``SO_REUSEADDR`` and ``SO_REUSEPORT`` bound to (host, port), not listening."""
    sock = _socket(host)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _socket(host: str) -> socket.socket:
    return socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)


class ReusePortListener:
    """A (host, port) that becomes a freshly bound ``SO_REUSEPORT`` socket when unpickled."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def __reduce__(self):  # noqa: ANN204
        return bind, (self.host, self.port)
