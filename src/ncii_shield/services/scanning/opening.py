"""Which source a SOURCE argument is: told apart by what the file holds (see :mod:`.sources` for the
kinds and :mod:`.feeds` for RSS/Atom feeds). Kept apart from both so that neither imports the other's
dispatcher: feeds build on the sources' shards, and this module builds on both."""

from __future__ import annotations

from pathlib import Path

from ncii_shield.errors import InvalidRequest
from ncii_shield.services.scanning.feeds import FeedSource, looks_like_feed
from ncii_shield.services.scanning.items import DEFAULT_SOURCE_LIMITS, SourceLimits
from ncii_shield.services.scanning.sources import (
    FolderSource, Source, TarSource, UrlListSource, WarcSource, ZipSource,
)


def open_source(text: str, index: int, limits: SourceLimits = DEFAULT_SOURCE_LIMITS) -> Source:
    """The source for a command-line argument, told apart by what the file holds (an http(s) URL is a
    feed, see :mod:`.feeds`)."""
    if text.lower().startswith(("http://", "https://")):
        return FeedSource(Path("."), index, limits, "feed", url=text)
    path = Path(text)
    if path.is_dir():
        return FolderSource(path, index, limits, "folder")
    if not path.is_file():
        raise InvalidRequest(f"{text}: no such file or folder; a SOURCE is a folder, a zip or tar archive, "
                             f"a WARC file or a text file of URLs")
    with open(path, "rb") as handle:
        head = handle.read(512)
    name = path.name.lower()
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return ZipSource(path, index, limits, "zip")
    if name.endswith((".warc", ".warc.gz")) or head.startswith(b"WARC/"):
        return WarcSource(path, index, limits, "warc")
    if _is_tar(path, head):
        return TarSource(path, index, limits, "tar")
    if looks_like_feed(head):
        return FeedSource(path, index, limits, "feed")
    if name.endswith((".txt", ".urls", ".lst")) or head.lstrip().lower().startswith((b"http://", b"https://", b"#")):
        return UrlListSource(path, index, limits, "urls")
    raise InvalidRequest(f"{text}: not a source we read; accepted: a folder, .zip, .tar/.tar.gz/.tgz/.tar.bz2/"
                         f".tar.xz, .warc/.warc.gz, an RSS/Atom feed (file or http(s) URL), or a text file of "
                         f"http(s) URLs (one per line)")


def _is_tar(path: Path, head: bytes) -> bool:
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00":
        return path.name.lower().endswith((".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz"))
    return len(head) >= 262 and head[257:262] == b"ustar"
