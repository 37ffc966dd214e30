"""The one address guard for every outbound request an instance makes on someone's say-so (URL scans,
monitors, feed subscriptions): public addresses only, unless the operator allowed more.

    target = pin("https://feed.example/v1/feeds/x/pages")          # resolve + check, or RefusedSource
    client.get(target.url, headers={"Host": target.host_header}, extensions=target.extensions)

Why it is built this way:

* A URL names a host, and a host name can resolve to anything, including the instance's own
  loopback services, the private network behind it, or the cloud metadata address. So the name is
  resolved and *every* address it resolves to is checked (one private answer refuses the URL).
* The connection then goes to the address that was checked (the URL is rewritten to it; the Host
  header and the TLS server name stay the host name, so virtual hosting and certificate checks work).
  A DNS answer that changes between the check and the connect (DNS rebinding) cannot redirect it.
  Callers pin again before *every* request, so a long-lived subscription is checked at each pull.
* Two overrides, both the operator's, never a remote party's:
  ``allow_loopback`` admits 127.0.0.0/8 and ::1 (development, loopback test servers);
  ``allow_private`` admits the private networks an operator may run a feed on as well:
  10/8, 172.16/12, 192.168/16, 100.64/10 (carrier-grade NAT, VPN overlays), fc00::/7 and loopback.
  Link-local (169.254/16 and fe80::/10, where cloud metadata services answer), multicast, reserved,
  unspecified and 0.0.0.0/8 are refused whatever the override.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ncii_shield.errors import FetchFailed, RefusedSource

PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "::1/128", "fc00::/7"))
_NEVER = tuple(ipaddress.ip_network(n) for n in ("0.0.0.0/8", "169.254.0.0/16", "fe80::/10"))


def check_address(address: str, allow_loopback: bool = False, *, allow_private: bool = False) -> None:
    """Refuse (:class:`RefusedSource`) an address that is not public, unless an override admits it."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if (ip.is_link_local or ip.is_multicast or ip.is_unspecified
            or any(ip in net for net in _NEVER if net.version == ip.version)):
        raise RefusedSource(f"refused: {address} is a private, loopback or link-local address; link-local "
                            f"(cloud metadata), multicast and unspecified addresses are never fetched")
    if ip.is_loopback and (allow_loopback or allow_private):
        return
    if allow_private and not ip.is_reserved and any(ip in net for net in PRIVATE_NETWORKS if net.version == ip.version):
        return
    if ip.is_private or ip.is_loopback or ip.is_reserved or not ip.is_global:
        raise RefusedSource(f"refused: {address} is a private, loopback or link-local address; only public "
                            f"addresses are fetched")


def resolve(host: str, port: int, allow_loopback: bool = False, *, allow_private: bool = False) -> str:
    """The first address of ``host``, after checking that every address it resolves to is allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchFailed(f"the host name {host!r} does not resolve ({exc})") from exc
    addresses = [info[4][0] for info in infos]
    for address in addresses:
        check_address(address, allow_loopback, allow_private=allow_private)
    return addresses[0]


@dataclass(frozen=True)
class Pinned:
    """A URL rewritten to the checked address, with what the request must carry to reach the host."""

    url: str
    hostname: str
    host_header: str
    extensions: dict = field(default_factory=dict)


def pin(url: str, *, allow_loopback: bool = False, allow_private: bool = False) -> Pinned:
    """Resolve and check ``url``'s host; return the request target pinned to the checked address.

    Call it for every request (not once per URL): that is what makes the check hold at connect time."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedSource(f"refused: {url[:200]!r} is not an http(s) URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise RefusedSource(f"refused: {url[:200]!r} has an invalid port") from exc
    address = resolve(parts.hostname, port, allow_loopback, allow_private=allow_private)
    netloc = f"[{address}]" if ":" in address else address
    pinned = parts._replace(netloc=f"{netloc}:{port}").geturl()
    host_header = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    if ":" in parts.hostname:  # an IPv6 literal goes in brackets in the Host header
        host_header = f"[{parts.hostname}]" + ("" if parts.port is None else f":{parts.port}")
    return Pinned(pinned, parts.hostname, host_header, {"sni_hostname": parts.hostname})


def pin_feed(url: str, allow_private_address: bool) -> Pinned:
    """:func:`pin` for a feed subscription's publisher (pages pulled, verdicts pushed), whose refusal
    tells the operator how to allow a publisher on their own private network."""
    try:
        return pin(url, allow_private=allow_private_address)
    except RefusedSource as exc:
        hint = ("" if allow_private_address else
                "; for a feed on your own private network, subscribe with --allow-private-address "
                "(an existing subscription: ncii-shield feed allow-private-address NAME)")
        raise RefusedSource(f"{exc} (feed subscriptions follow the same rule as scans){hint}") from exc
