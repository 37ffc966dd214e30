"""RSS and Atom feeds as a scan source: the photos and videos a feed links to.

    ncii-shield scan https://example.org/channel/feed.xml --bank victims
    ncii-shield monitor add https://example.org/channel/feed.xml --every 1h

The feed is a local file or an http(s) URL (fetched with the same safeguards as URL lists). Items
are the URLs of RSS ``<enclosure>``, Media RSS ``<media:content>`` and Atom ``<link rel="enclosure">``
elements whose type is image/* or video/* (or not given), in feed order; each is fetched by whoever
scans it. Feeds with a DOCTYPE are refused (entity expansion is how XML bombs work), and the feed
itself is read with the item byte cap.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from ncii_shield.errors import RefusedSource
from ncii_shield.services.scanning.items import ErrorItem
from ncii_shield.services.scanning.sources import _URLS_PER_SHARD, FixedShard, Shard, Source, UrlShard

_MEDIA = "{http://search.yahoo.com/mrss/}content"
_ATOM_LINK = "{http://www.w3.org/2005/Atom}link"


def looks_like_feed(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:300].lower()
    return text.startswith(b"<?xml") and (b"<rss" in text or b"<feed" in text) or text.startswith((b"<rss", b"<feed"))


def media_urls(data: bytes) -> list[str]:
    """The media URLs of an RSS or Atom document, in order, each once."""
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data.upper():
        raise RefusedSource("refused: the feed declares a DOCTYPE or entities (an XML bomb?); plain RSS or Atom "
                            "is accepted")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise RefusedSource(f"refused: the feed is not well-formed XML ({exc})") from exc
    found: list[str] = []
    for element in root.iter():
        url = None
        kind = (element.get("type") or "").lower()
        if element.tag == "enclosure" or element.tag == _MEDIA:
            url = element.get("url")
        elif element.tag in (_ATOM_LINK, "link") and element.get("rel") == "enclosure":
            url = element.get("href")
        if url and (not kind or kind.startswith(("image/", "video/"))) and url.strip() not in found:
            found.append(url.strip())
    return found


@dataclass
class FeedSource(Source):
    url: str = ""  # the feed's URL when it is remote; otherwise ``path`` is a local file
    _urls: list[str] | None = field(default=None, init=False, repr=False)
    _error: RefusedSource | None = field(default=None, init=False, repr=False)

    @property
    def label(self) -> str:
        return self.url or super().label

    def _list(self) -> list[str]:
        if self._urls is None:
            try:
                if self.url:
                    from ncii_shield.services.scanning.fetch import fetch

                    data = fetch(self.url, self.limits)
                else:
                    data = Path(self.path).read_bytes()[: self.limits.max_item_bytes]
                self._urls = media_urls(data)
            except RefusedSource as exc:
                self._urls, self._error = [], exc
        return self._urls

    def total(self) -> int:
        return len(self._list()) or (1 if self._error else 0)

    def shards(self, done: frozenset[str] = frozenset()) -> list[Shard]:
        urls = self._list()
        if self._error is not None:
            refusal = ErrorItem(self.index, -1, f"{self.label}!", None, self._error)
            return [] if refusal.key in done else [FixedShard([refusal])]
        todo = [(n, u) for n, u in enumerate(urls) if u not in done]
        return [UrlShard(self.index, todo[i:i + _URLS_PER_SHARD], self.limits)
                for i in range(0, len(todo), _URLS_PER_SHARD)]
