"""Fetch one URL for a scan, safely: timeouts, a byte cap, and no requests to private addresses.

    data = fetch("https://example.org/a.jpg", SourceLimits())

* Every hop is checked: the host name is resolved, and if *any* address is private, loopback,
  link-local, multicast, reserved or unspecified the URL is refused (:class:`RefusedSource`). The
  connection then goes to the address that was checked (the Host header and TLS server name stay
  the host name), so a DNS answer that changes between check and connect cannot redirect it.
* Redirects are followed by hand, at most ``max_redirects``, each checked the same way.
* Connect and read timeouts, plus a deadline for the whole download; the body is streamed and
  refused as soon as it passes ``max_item_bytes`` (whatever Content-Length says).
* ``allow_loopback`` admits 127.0.0.0/8 and ::1 only (for development and the loopback test
  servers); other private ranges stay refused.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from urllib.parse import urljoin, urlsplit

from ncii_shield.errors import FetchFailed, MediaTooLarge, RefusedSource
from ncii_shield.services.scanning.items import SourceLimits

USER_AGENT = "ncii-shield-scan/1 (hash matching; https://github.com/ncii-shield)"


def check_address(address: str, allow_loopback: bool) -> None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback and allow_loopback:
        return
    if (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified or not ip.is_global):
        raise RefusedSource(f"refused: {address} is a private, loopback or link-local address; only public "
                            f"addresses are fetched")


def resolve(host: str, port: int, allow_loopback: bool) -> str:
    """The first address of ``host``, after checking that every address it resolves to is allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchFailed(f"the host name {host!r} does not resolve ({exc})") from exc
    addresses = [info[4][0] for info in infos]
    for address in addresses:
        check_address(address, allow_loopback)
    return addresses[0]


def fetch(url: str, limits: SourceLimits) -> bytes:
    import httpx

    deadline = time.monotonic() + limits.fetch_deadline_s
    timeout = httpx.Timeout(limits.read_timeout_s, connect=limits.connect_timeout_s)
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for _hop in range(limits.max_redirects + 1):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise RefusedSource(f"refused: {url[:200]!r} is not an http(s) URL")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            address = resolve(parts.hostname, port, limits.allow_loopback)
            netloc = f"[{address}]" if ":" in address else address
            pinned = parts._replace(netloc=f"{netloc}:{port}").geturl()
            host_header = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
            try:
                with client.stream("GET", pinned, headers={"Host": host_header, "User-Agent": USER_AGENT},
                                   extensions={"sni_hostname": parts.hostname}) as response:
                    if response.status_code in (301, 302, 303, 307, 308):
                        location = response.headers.get("location")
                        if not location:
                            raise FetchFailed(f"HTTP {response.status_code} without a Location header")
                        url = urljoin(url, location)
                        continue
                    if response.status_code != 200:
                        raise FetchFailed(f"HTTP {response.status_code} from {parts.hostname}")
                    return _body(response, limits, deadline)
            except httpx.TimeoutException as exc:
                raise FetchFailed(f"timed out fetching from {parts.hostname} ({type(exc).__name__})") from exc
            except httpx.HTTPError as exc:
                raise FetchFailed(f"could not fetch from {parts.hostname} ({exc})") from exc
    raise FetchFailed(f"more than {limits.max_redirects} redirects")


def _body(response, limits: SourceLimits, deadline: float) -> bytes:  # noqa: ANN001
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limits.max_item_bytes:
        raise MediaTooLarge(f"the server announces {int(declared):,} bytes; at most {limits.max_item_bytes:,} "
                            f"are fetched")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limits.max_item_bytes:
            raise MediaTooLarge(f"the download passed {limits.max_item_bytes:,} bytes; refused")
        if time.monotonic() > deadline:
            raise FetchFailed(f"the download took longer than {limits.fetch_deadline_s:.0f} s")
        chunks.append(chunk)
    return b"".join(chunks)
