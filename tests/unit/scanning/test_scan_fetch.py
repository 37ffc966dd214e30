"""URL items over real HTTP on loopback: timeouts, byte caps, redirects, and private addresses refused."""

from __future__ import annotations

import time

import pytest

from ncii_shield.errors import FetchFailed, MediaTooLarge, RefusedSource
from ncii_shield.services.netguard import check_address
from ncii_shield.services.scanning.fetch import fetch
from ncii_shield.services.scanning.items import SourceLimits
from tests.scan_helpers import LoopbackServer, photo

DEV = SourceLimits(allow_loopback=True, connect_timeout_s=2, read_timeout_s=1, fetch_deadline_s=5)


@pytest.fixture(scope="module")
def server():
    s = LoopbackServer({"/a.jpg": photo(1)})
    yield s
    s.stop()


def test_fetches_a_photo_when_loopback_is_allowed(server: LoopbackServer) -> None:
    assert fetch(f"{server.url}/a.jpg", DEV) == photo(1)


def test_loopback_is_refused_by_default(server: LoopbackServer) -> None:
    with pytest.raises(RefusedSource, match="private, loopback or link-local"):
        fetch(f"{server.url}/a.jpg", SourceLimits())
    port = server.url.rsplit(":", 1)[1]
    with pytest.raises(RefusedSource):
        fetch(f"http://localhost:{port}/a.jpg", SourceLimits())  # a name that resolves to loopback


@pytest.mark.parametrize("target", ["http://10.1.2.3/x.jpg", "http://169.254.169.254/latest/meta-data/",
                                    "http://192.168.0.1/", "http://[::1]/", "http://[fe80::1]/", "http://0.0.0.0/"])
def test_redirect_to_a_private_address_is_refused_before_connecting(server: LoopbackServer, target: str) -> None:
    limits = DEV if target != "http://[::1]/" else SourceLimits()
    if target == "http://[::1]/":  # ::1 is loopback: refused unless allowed, like 127.0.0.1
        with pytest.raises(RefusedSource):
            fetch(f"http://[::1]:9/", limits)
        return
    started = time.monotonic()
    with pytest.raises(RefusedSource, match="private, loopback or link-local"):
        fetch(f"{server.url}/redirect?to={target}", limits)
    assert time.monotonic() - started < 1.5  # refused at once, no connection attempted


def test_redirects_are_followed_and_counted(server: LoopbackServer) -> None:
    assert fetch(f"{server.url}/redirect?to=/a.jpg", DEV) == photo(1)
    with pytest.raises(FetchFailed, match="more than 0 redirects"):
        fetch(f"{server.url}/redirect?to=/a.jpg", SourceLimits(allow_loopback=True, max_redirects=0))


def test_http_errors_timeouts_and_size_caps(server: LoopbackServer) -> None:
    with pytest.raises(FetchFailed, match="HTTP 404"):
        fetch(f"{server.url}/missing.jpg", DEV)
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="timed out"):
        fetch(f"{server.url}/stall", DEV)
    assert time.monotonic() - started < 4
    with pytest.raises(MediaTooLarge, match="passed 1,000,000 bytes"):
        fetch(f"{server.url}/huge", SourceLimits(allow_loopback=True, max_item_bytes=1_000_000))
    with pytest.raises(MediaTooLarge, match="announces"):
        fetch(f"{server.url}/a.jpg", SourceLimits(allow_loopback=True, max_item_bytes=100))


def test_unreachable_and_non_http() -> None:
    with pytest.raises(FetchFailed, match="does not resolve"):
        fetch("http://no-such-host.invalid/a.jpg", SourceLimits())
    with pytest.raises(RefusedSource, match="not an http"):
        fetch("file:///etc/passwd", SourceLimits())


def test_address_rules() -> None:
    check_address("93.184.216.34", False)
    check_address("127.0.0.1", True)
    for private in ("10.0.0.1", "172.16.0.1", "100.64.0.1", "::ffff:10.0.0.1", "fc00::1", "224.0.0.1"):
        with pytest.raises(RefusedSource):
            check_address(private, True)  # the loopback flag admits loopback only
    for loopback in ("127.0.0.1", "127.8.8.8", "::1", "::ffff:127.0.0.1"):
        with pytest.raises(RefusedSource):
            check_address(loopback, False)
