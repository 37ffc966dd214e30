"""Sources of items to scan: one class per kind behind one small interface.

    source = open_source("dump.tar.gz", index=0)     # ncii_shield.services.scanning.opening
    for shard in source.shards(done=frozenset()):   # picklable: Ray read tasks take them
        for item in shard.items():                  # Item: key, size, read()
            ...

Kinds: a folder (recursive, sorted, links and special files refused), a zip archive (central
directory checked before anything is read), a tar archive, compressed or not (streamed once, never
extracted to disk), a WARC file from a crawl (response and resource records whose Content-Type is
image/* or video/*), and a text file of http(s) URLs (fetched by whoever reads the item, see
:mod:`.fetch`). A shard is a part of a source that one task can read on its own: 256 files, 64
URLs, a range of zip members, or a whole stream (tar, WARC).

Hostile archives never stop a scan: a member with an absolute or ``..`` name, a link, a device, an
encrypted or oversized member, or a zip member compressed over :attr:`SourceLimits.max_ratio` becomes
an :class:`~.items.ErrorItem`; an archive over the member-count or total-size caps is refused as a
whole (one error item) and reading it stops there.
"""

from __future__ import annotations

import os
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import ClassVar

from ncii_shield.errors import InvalidRequest, MediaTooLarge, NciiShieldError, RefusedSource
from ncii_shield.services.scanning.items import (
    DEFAULT_SOURCE_LIMITS, BytesItem, ErrorItem, FileItem, Item, SourceLimits, UrlItem,
)

KINDS = ("folder", "zip", "tar", "warc", "urls", "feed")
_FILES_PER_SHARD = 256
_URLS_PER_SHARD = 64
_ZIP_MEMBERS_PER_SHARD = 256
_BIG = 1024 * 1024  # zip members smaller than this may have any compression ratio


class Shard:
    """A part of a source that one task reads on its own."""

    def items(self) -> Iterator[Item]:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass
class Source:
    """One SOURCE argument: ``label`` (normalised path, the prefix of every key), ``index`` (its
    position on the command line) and ``total`` (items, where known before reading)."""

    path: Path
    index: int
    limits: SourceLimits = DEFAULT_SOURCE_LIMITS
    kind: str = ""

    @property
    def label(self) -> str:
        return os.path.normpath(str(self.path))

    def shards(self, done: frozenset[str] = frozenset()) -> list[Shard]:  # pragma: no cover
        raise NotImplementedError

    def total(self) -> int | None:
        return None


def unsafe_name(name: str) -> str | None:
    """Why an archive member's name is refused, or None. Nothing is extracted, but such names are
    what path-traversal attacks use, and they would mislead whoever reads the results."""
    if not name or "\x00" in name:
        return "an empty name or a NUL byte in the name"
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return f"an absolute name ({name[:100]!r})"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return f"a name that climbs out of the archive ({name[:100]!r})"
    return None


def _unique(key: str, member: int, seen: set[str]) -> str:
    if key in seen:  # archives may hold the same name twice; keys must stay unique
        key = f"{key}#{member}"
    seen.add(key)
    return key


# -- folder -------------------------------------------------------------------------------------


@dataclass
class FolderSource(Source):
    _files: list[tuple[int, str, str | None]] = field(default_factory=list, init=False, repr=False)
    _listed: bool = field(default=False, init=False, repr=False)

    def _list(self) -> list[tuple[int, str, str | None]]:
        """(member, relative path, why refused or None), in sorted order, links not followed."""
        if not self._listed:
            found: list[tuple[str, str | None]] = []
            for root, dirs, files in os.walk(self.path, followlinks=False):
                dirs.sort()
                for name in [*files, *(d for d in dirs if os.path.islink(os.path.join(root, d)))]:
                    full = os.path.join(root, name)
                    mode = os.lstat(full).st_mode
                    why = None
                    if stat.S_ISLNK(mode):
                        why = "a symbolic link (links are not followed)"
                    elif not stat.S_ISREG(mode):
                        why = "not a regular file (a device, socket or pipe)"
                    found.append((os.path.relpath(full, self.path), why))
            found.sort()
            self._files = [(i, rel, why) for i, (rel, why) in enumerate(found)]
            self._listed = True
        return self._files

    def total(self) -> int:
        return len(self._list())

    def shards(self, done: frozenset[str] = frozenset()) -> list[Shard]:
        todo = [(m, rel, why) for m, rel, why in self._list() if f"{self.label}/{rel}" not in done]
        return [FolderShard(self.index, self.label, str(self.path), todo[i:i + _FILES_PER_SHARD], self.limits)
                for i in range(0, len(todo), _FILES_PER_SHARD)]


@dataclass
class FolderShard(Shard):
    source: int
    label: str
    root: str
    files: list[tuple[int, str, str | None]]
    limits: SourceLimits

    def items(self) -> Iterator[Item]:
        for member, rel, why in self.files:
            key = f"{self.label}/{rel}"
            if why:
                yield ErrorItem(self.source, member, key, None, RefusedSource(f"refused: {why}"))
            else:
                path = os.path.join(self.root, rel)
                yield FileItem(self.source, member, key, _size(path), path, self.limits.max_item_bytes)


def _size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


# -- zip ----------------------------------------------------------------------------------------


@dataclass
class ZipSource(Source):
    def _plan(self) -> tuple[list[tuple[int, str, str | None]], ErrorItem | None]:
        """Check the central directory; (member, key, why refused) for every file, or the refusal."""
        try:
            with zipfile.ZipFile(self.path) as archive:
                infos = archive.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            return [], self._refusal(f"not a readable zip archive ({exc})")
        if len(infos) > self.limits.max_members:
            return [], self._refusal(f"the zip archive has {len(infos):,} members; at most "
                                     f"{self.limits.max_members:,} are read (a zip bomb?)")
        total = sum(i.file_size for i in infos)
        if total > self.limits.max_total_bytes:
            return [], self._refusal(f"the zip archive would expand to {total:,} bytes; at most "
                                     f"{self.limits.max_total_bytes:,} are read (a zip bomb?)")
        plan, seen = [], set()
        for member, info in enumerate(infos):
            if info.is_dir():
                continue
            why = unsafe_name(info.filename)
            ratio = info.file_size / max(info.compress_size, 1)
            if why is None and info.flag_bits & 0x1:
                why = "an encrypted member"
            if why is None and stat.S_IFMT(info.external_attr >> 16) not in (0, stat.S_IFREG):
                why = "a link or special member; only regular files are read"
            if why is None and info.file_size > _BIG and ratio > self.limits.max_ratio:
                why = (f"a member compressed {ratio:,.0f}:1 ({info.file_size:,} bytes from {info.compress_size:,}); "
                       f"at most {self.limits.max_ratio:,.0f}:1 is read (a zip bomb?)")
            if why is None and info.file_size > self.limits.max_item_bytes:
                why = (f"a member of {info.file_size:,} bytes; at most {self.limits.max_item_bytes:,} bytes "
                       f"are scanned")
            plan.append((member, _unique(f"{self.label}!{info.filename}", member, seen), why))
        return plan, None

    def _refusal(self, why: str) -> ErrorItem:
        return ErrorItem(self.index, -1, f"{self.label}!", None, RefusedSource(f"refused: {why}"))

    def total(self) -> int:
        plan, refusal = self._plan()
        return 1 if refusal else len(plan)

    def shards(self, done: frozenset[str] = frozenset()) -> list[Shard]:
        plan, refusal = self._plan()
        if refusal is not None:
            return [] if refusal.key in done else [FixedShard([refusal])]
        todo = [p for p in plan if p[1] not in done]
        return [ZipShard(self.index, str(self.path), todo[i:i + _ZIP_MEMBERS_PER_SHARD], self.limits)
                for i in range(0, len(todo), _ZIP_MEMBERS_PER_SHARD)]


@dataclass
class ZipShard(Shard):
    source: int
    path: str
    members: list[tuple[int, str, str | None]]
    limits: SourceLimits

    def items(self) -> Iterator[Item]:
        with zipfile.ZipFile(self.path) as archive:
            infos = archive.infolist()
            for member, key, why in self.members:
                if why:
                    yield ErrorItem(self.source, member, key, infos[member].file_size, RefusedSource(f"refused: {why}"))
                    continue
                try:  # declared sizes can lie: never read more than the cap, whatever they say
                    with archive.open(infos[member]) as handle:
                        data = handle.read(self.limits.max_item_bytes + 1)
                    if len(data) > self.limits.max_item_bytes:
                        raise MediaTooLarge(f"the member expands past {self.limits.max_item_bytes:,} bytes")
                    yield BytesItem(self.source, member, key, len(data), data)
                except NciiShieldError as exc:
                    yield ErrorItem(self.source, member, key, None, exc)
                except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError) as exc:
                    yield ErrorItem(self.source, member, key, None,
                                    RefusedSource(f"the zip member is corrupt or unreadable ({exc})"))


@dataclass
class FixedShard(Shard):
    fixed: list[Item]

    def items(self) -> Iterator[Item]:
        yield from self.fixed


# -- tar ----------------------------------------------------------------------------------------


@dataclass
class StreamShard(Shard):
    """The one shard of a file read in a single pass (tar, WARC): the items not yet ``done``."""

    source: int
    label: str
    path: str
    limits: SourceLimits
    done: frozenset[str]

    def items(self) -> Iterator[Item]:
        return (item for item in self._read() if item.key not in self.done)

    def _read(self) -> Iterator[Item]:  # pragma: no cover - each kind reads its own format
        raise NotImplementedError

    def _refusal(self, member: int, why: str) -> ErrorItem:
        return ErrorItem(self.source, member, f"{self.label}!#{member}", None, RefusedSource(f"refused: {why}"))


@dataclass
class StreamSource(Source):
    shard_class: ClassVar[type[StreamShard]]

    def shards(self, done: frozenset[str] = frozenset()) -> list[Shard]:
        return [self.shard_class(self.index, self.label, str(self.path), self.limits, done)]


@dataclass
class TarShard(StreamShard):
    def _read(self) -> Iterator[Item]:
        seen: set[str] = set()
        total = 0
        member = -1
        try:
            with tarfile.open(self.path, mode="r|*") as archive:  # a stream: each member read once, in order
                for member, info in enumerate(archive):
                    if member >= self.limits.max_members:
                        yield self._refusal(member, f"the tar archive has more than {self.limits.max_members:,} "
                                                    f"members; reading stopped there")
                        return
                    total += max(info.size, 0)
                    if total > self.limits.max_total_bytes:
                        yield self._refusal(member, f"the tar archive expands past {self.limits.max_total_bytes:,} "
                                                    f"bytes; reading stopped there (a bomb?)")
                        return
                    if info.isdir():
                        continue
                    key = _unique(f"{self.label}!{info.name}", member, seen)
                    if key in self.done:
                        continue
                    why = unsafe_name(info.name) or _tar_kind(info)
                    if why is None and info.size > self.limits.max_item_bytes:
                        why = f"a member of {info.size:,} bytes; at most {self.limits.max_item_bytes:,} are scanned"
                    if why:
                        yield ErrorItem(self.source, member, key, info.size, RefusedSource(f"refused: {why}"))
                        continue
                    handle = archive.extractfile(info)
                    data = handle.read() if handle is not None else b""
                    yield BytesItem(self.source, member, key, len(data), data)
        except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
            yield self._refusal(member + 1, f"the tar archive is corrupt or truncated after member {member + 1} ({exc})")



@dataclass
class TarSource(StreamSource):
    shard_class = TarShard


def _tar_kind(info: tarfile.TarInfo) -> str | None:
    if info.isfile():
        return None
    if info.issym() or info.islnk():
        return f"a link ({info.name[:100]!r} -> {info.linkname[:100]!r}); only regular files are read"
    return "a device, FIFO or other special member; only regular files are read"


# -- WARC ---------------------------------------------------------------------------------------


@dataclass
class WarcShard(StreamShard):
    def _read(self) -> Iterator[Item]:
        try:
            from warcio.archiveiterator import ArchiveIterator
        except ImportError as exc:  # pragma: no cover - the scan extra installs it
            from ncii_shield.errors import Unavailable

            raise Unavailable("reading WARC files needs warcio: pip install 'ncii-shield[scan]'") from exc
        seen: set[str] = set()
        member = -1
        try:
            with open(self.path, "rb") as handle:
                for member, record in enumerate(ArchiveIterator(handle)):
                    if member >= self.limits.max_members:
                        yield self._refusal(member, f"the WARC file has more than {self.limits.max_members:,} "
                                                    f"records; reading stopped there")
                        return
                    if record.rec_type not in ("response", "resource"):
                        continue
                    headers = record.http_headers if record.rec_type == "response" else record.rec_headers
                    ctype = (headers.get_header("Content-Type") or "") if headers is not None else ""
                    if not ctype.lower().startswith(("image/", "video/")):
                        continue
                    uri = record.rec_headers.get_header("WARC-Target-URI") or f"record-{member}"
                    key = _unique(f"{self.label}!{uri}", member, seen)
                    if key in self.done:
                        continue
                    data = record.content_stream().read(self.limits.max_item_bytes + 1)
                    if len(data) > self.limits.max_item_bytes:
                        yield ErrorItem(self.source, member, key, None, MediaTooLarge(
                            f"the record's payload exceeds {self.limits.max_item_bytes:,} bytes"))
                        continue
                    yield BytesItem(self.source, member, key, len(data), data)
        except NciiShieldError:
            raise
        except Exception as exc:  # warcio raises many types on a damaged file
            yield self._refusal(member + 1, f"the WARC file is corrupt after record {member + 1} ({exc})")



@dataclass
class WarcSource(StreamSource):
    shard_class = WarcShard


# -- URL lists ----------------------------------------------------------------------------------


@dataclass
class UrlListSource(Source):
    def _urls(self) -> list[tuple[int, str]]:
        out, seen = [], set()
        with open(self.path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                url = line.strip()
                if not url or url.startswith("#") or url in seen:
                    continue  # a URL listed twice is fetched once
                seen.add(url)
                out.append((number, url))
        return out

    def total(self) -> int:
        return len(self._urls())

    def shards(self, done: frozenset[str] = frozenset()) -> list[Shard]:
        todo = [(n, u) for n, u in self._urls() if u not in done]
        return [UrlShard(self.index, todo[i:i + _URLS_PER_SHARD], self.limits)
                for i in range(0, len(todo), _URLS_PER_SHARD)]


@dataclass
class UrlShard(Shard):
    source: int
    urls: list[tuple[int, str]]
    limits: SourceLimits

    def items(self) -> Iterator[Item]:
        for number, url in self.urls:
            if not url.lower().startswith(("http://", "https://")):
                yield ErrorItem(self.source, number, url, None,
                                RefusedSource(f"line {number}: not an http(s) URL; accepted: http:// or https://"))
            else:
                yield UrlItem(self.source, number, url, None, url, self.limits)
