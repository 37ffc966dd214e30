"""What a source yields: items with a stable key, a size and a way to read their bytes.

Items are small picklable dataclasses, so a worker process or a Ray task can read them itself: a
file item carries its path, a URL item its URL (fetched by whoever reads it), an archive member its
bytes (archives are streamed once, in order). An item the source refused (an unsafe name, a link,
a bomb) is an :class:`ErrorItem`: reading it raises, so it becomes an error result like any other.

``(source, member)`` orders items: the position of the source on the command line, then the
position of the item inside it. Both are stable across runs, so results can be written in the same
order however many workers produced them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ncii_shield.errors import MediaTooLarge, NciiShieldError, RefusedSource
from ncii_shield.services.scanning.fetch import fetch

_MIB = 1024 * 1024


@dataclass(frozen=True)
class SourceLimits:
    """Limits that keep a hostile archive or server from exhausting memory, disk or time."""

    max_item_bytes: int = 256 * _MIB  # one photo or video (decoding applies its own, stricter limits)
    max_members: int = 1_000_000  # entries in one archive or WARC
    max_total_bytes: int = 64 * 1024 * _MIB  # uncompressed bytes of one archive
    max_ratio: float = 100.0  # uncompressed : compressed size of one zip member (over 1 MiB)
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 20.0
    fetch_deadline_s: float = 120.0  # a whole download, so a server dripping bytes cannot stall us
    max_redirects: int = 5
    allow_loopback: bool = False  # fetch from 127.0.0.1/::1 (development and tests only)


DEFAULT_SOURCE_LIMITS = SourceLimits()


@dataclass(frozen=True)
class Item:
    source: int
    member: int
    key: str
    size: int | None

    def read(self) -> bytes:  # pragma: no cover - every subclass implements it
        raise NotImplementedError


@dataclass(frozen=True)
class FileItem(Item):
    path: str = ""
    max_bytes: int = DEFAULT_SOURCE_LIMITS.max_item_bytes

    def read(self) -> bytes:
        size = os.stat(self.path).st_size
        if size > self.max_bytes:
            raise MediaTooLarge(f"the file is {size:,} bytes; at most {self.max_bytes:,} bytes are scanned")
        return Path(self.path).read_bytes()


@dataclass(frozen=True)
class BytesItem(Item):
    data: bytes = b""

    def read(self) -> bytes:
        return self.data


@dataclass(frozen=True)
class ErrorItem(Item):
    """An item refused or unreadable at the source; reading it raises ``error``."""

    error: NciiShieldError = RefusedSource("refused")

    def read(self) -> bytes:
        raise self.error


@dataclass(frozen=True)
class UrlItem(Item):
    url: str = ""
    limits: SourceLimits = DEFAULT_SOURCE_LIMITS

    def read(self) -> bytes:
        return fetch(self.url, self.limits)
