"""Fetch one URL for a scan, safely: timeouts, a byte cap, and no requests to private addresses.

    data = fetch("https://example.org/a.jpg", SourceLimits())

* Every hop is checked by the shared address guard (:mod:`ncii_shield.services.netguard`): the host
  name is resolved, and if *any* address is private, loopback, link-local, multicast, reserved or
  unspecified the URL is refused (:class:`RefusedSource`). The connection then goes to the address
  that was checked (the Host header and TLS server name stay the host name), so a DNS answer that
  changes between check and connect cannot redirect it.
* Redirects are followed by hand, at most ``max_redirects``, each checked the same way.
* Connect and read timeouts, plus a deadline for the whole download; the body is streamed and
  refused as soon as it passes ``max_item_bytes`` (whatever Content-Length says).
* ``allow_loopback`` admits 127.0.0.0/8 and ::1 only (for development and the loopback test
  servers); other private ranges stay refused.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from ncii_shield.errors import FetchFailed, MediaTooLarge
from ncii_shield.services.netguard import pin

if TYPE_CHECKING:
    from ncii_shield.services.scanning.items import SourceLimits

USER_AGENT = "ncii-shield-scan/1 (hash matching; https://github.com/ncii-shield)"


def fetch(url: str, limits: SourceLimits) -> bytes:
    import httpx

    deadline = time.monotonic() + limits.fetch_deadline_s
    timeout = httpx.Timeout(limits.read_timeout_s, connect=limits.connect_timeout_s)
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for _hop in range(limits.max_redirects + 1):
            target = pin(url, allow_loopback=limits.allow_loopback)
            try:
                with client.stream("GET", target.url, headers={"Host": target.host_header, "User-Agent": USER_AGENT},
                                   extensions=target.extensions) as response:
                    if response.status_code in (301, 302, 303, 307, 308):
                        location = response.headers.get("location")
                        if not location:
                            raise FetchFailed(f"HTTP {response.status_code} without a Location header")
                        url = urljoin(url, location)
                        continue
                    if response.status_code != 200:
                        raise FetchFailed(f"HTTP {response.status_code} from {target.hostname}")
                    return _body(response, limits, deadline)
            except httpx.TimeoutException as exc:
                raise FetchFailed(f"timed out fetching from {target.hostname} ({type(exc).__name__})") from exc
            except httpx.HTTPError as exc:
                raise FetchFailed(f"could not fetch from {target.hostname} ({exc})") from exc
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
