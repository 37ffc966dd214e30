"""Bounded walkers over image containers: the metadata a generator or a signer left, never the pixels.

:func:`read_metadata` walks JPEG segments, PNG chunks and WebP (RIFF) chunks by their lengths and
collects text chunks, EXIF blocks, XMP packets, comments and whether a C2PA (JUMBF) store is
embedded. Other formats (TIFF, GIF, HEIF/AVIF, BMP, videos) get a bounded search for an XMP packet,
a TIFF header read for EXIF and a byte search for a C2PA label. Nothing is decoded but
metadata: a 100-megapixel PNG costs a walk over its chunk headers.

Every walk is bounded by :class:`MetadataLimits`: the number of segments or chunks visited, the
bytes of text kept, and what a compressed text chunk may inflate to. A file that breaks a bound or
its own structure is read up to that point; the problem is listed in :attr:`Metadata.problems`.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class MetadataLimits:
    """Bounds on one metadata walk. ``max_items`` segments or chunks are visited at most;
    ``max_text_bytes`` of text (chunks, XMP, comments, EXIF) is kept in all; a compressed PNG text
    chunk inflates to at most ``max_inflate_bytes``; the generic XMP search looks at the first
    ``scan_bytes`` of a file in a format without a walker."""

    max_items: int = 4096
    max_text_bytes: int = 1024 * 1024
    max_inflate_bytes: int = 256 * 1024
    scan_bytes: int = 4 * 1024 * 1024


@dataclass
class Metadata:
    """What the walk found. ``texts`` are (key, value) pairs: PNG text chunks, and ``comment``
    for JPEG COM segments; ``exif`` raw TIFF-structured blocks; ``xmp`` XMP packets as text."""

    format: str = "unknown"  # jpeg | png | webp | tiff | other
    texts: list[tuple[str, str]] = field(default_factory=list)
    exif: list[bytes] = field(default_factory=list)
    xmp: list[str] = field(default_factory=list)
    c2pa_embedded: bool = False
    exhausted: bool = False  # the walk stopped at ``max_items``: a structure built to cost work
    problems: list[str] = field(default_factory=list)
    _budget: int = 0
    _over_budget: bool = False

    @property
    def mime(self) -> str | None:
        return {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "tiff": "image/tiff"}.get(
            self.format)

    def _keep(self, n: int, limits: MetadataLimits) -> bool:
        if self._budget + n > limits.max_text_bytes:
            if not self._over_budget:
                self._over_budget = True
                self.problems.append(f"more than {limits.max_text_bytes:,} bytes of metadata text: the rest "
                                     "was not read")
            return False
        self._budget += n
        return True


_XMP_JPEG = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_EXT_JPEG = b"http://ns.adobe.com/xmp/extension/\x00"


def read_metadata(data: bytes, limits: MetadataLimits = MetadataLimits()) -> Metadata:
    """Walk ``data``'s container and return its metadata; never raises on malformed input."""
    meta = Metadata()
    try:
        if data.startswith(b"\xff\xd8"):
            meta.format = "jpeg"
            _walk_jpeg(data, meta, limits)
        elif data.startswith(b"\x89PNG\r\n\x1a\n"):
            meta.format = "png"
            _walk_png(data, meta, limits)
        elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            meta.format = "webp"
            _walk_webp(data, meta, limits)
        else:
            meta.format = "tiff" if data[:4] in (b"II*\x00", b"MM\x00*") else "other"
            _scan_generic(data, meta, limits)
    except (struct.error, IndexError, ValueError) as exc:  # pragma: no cover - walkers check bounds
        meta.problems.append(f"metadata walk stopped: {exc}")
    return meta


def _walk_jpeg(data: bytes, meta: Metadata, limits: MetadataLimits) -> None:
    pos, n = 2, len(data)
    for _ in range(limits.max_items):
        while pos < n and data[pos] == 0xFF and pos + 1 < n and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes
        if pos + 2 > n:
            meta.problems.append("JPEG ends before its image data (truncated)")
            return
        if data[pos] != 0xFF:
            meta.problems.append(f"JPEG marker expected at byte {pos}")
            return
        marker = data[pos + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: metadata precede the scan
            return
        if pos + 4 > n:
            meta.problems.append("JPEG segment header truncated")
            return
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if length < 2 or pos + 2 + length > n:
            meta.problems.append(f"JPEG segment at byte {pos} runs past the end of the file")
            return
        body = data[pos + 4:pos + 2 + length]
        if marker == 0xE1 and body.startswith(b"Exif\x00\x00"):
            if meta._keep(len(body), limits):
                meta.exif.append(body[6:])
        elif marker == 0xE1 and body.startswith(_XMP_JPEG):
            _keep_xmp(body[len(_XMP_JPEG):], meta, limits)
        elif marker == 0xE1 and body.startswith(_XMP_EXT_JPEG):
            _keep_xmp(body[len(_XMP_EXT_JPEG) + 40:], meta, limits)  # GUID (32), full length, offset
        elif marker == 0xEB and body[:2] == b"JP" and b"c2pa" in body:  # APP11 JUMBF with a C2PA store
            meta.c2pa_embedded = True
        elif marker == 0xFE:
            text = body.decode("utf-8", "replace")
            if meta._keep(len(body), limits):
                meta.texts.append(("comment", text))
        pos += 2 + length
    meta.exhausted = True
    meta.problems.append(f"more than {limits.max_items:,} JPEG segments: the rest was not read")


def _walk_png(data: bytes, meta: Metadata, limits: MetadataLimits) -> None:
    pos, n = 8, len(data)
    for _ in range(limits.max_items):
        if pos + 8 > n:
            meta.problems.append("PNG ends without an IEND chunk (truncated)")
            return
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        if pos + 12 + length > n:
            meta.problems.append(f"PNG chunk {ctype!r} at byte {pos} runs past the end of the file")
            return
        body = data[pos + 8:pos + 8 + length]
        if ctype in (b"tEXt", b"zTXt", b"iTXt"):
            _png_text(ctype, body, meta, limits)
        elif ctype == b"eXIf":
            if meta._keep(len(body), limits):
                meta.exif.append(body)
        elif ctype == b"caBX":
            meta.c2pa_embedded = True
        elif ctype == b"IEND":
            return
        pos += 12 + length
    meta.exhausted = True
    meta.problems.append(f"more than {limits.max_items:,} PNG chunks: the rest was not read")


def _png_text(ctype: bytes, body: bytes, meta: Metadata, limits: MetadataLimits) -> None:
    key, sep, rest = body.partition(b"\x00")
    if not sep or not 1 <= len(key) <= 79:
        meta.problems.append(f"PNG {ctype.decode()} chunk without a valid keyword")
        return
    keyword = key.decode("latin-1")
    if ctype == b"tEXt":
        raw, encoding = rest, "latin-1"
    elif ctype == b"zTXt":
        if not rest or rest[0] != 0:
            meta.problems.append(f"PNG zTXt {keyword!r}: unknown compression")
            return
        raw, encoding = _inflate(rest[1:], keyword, meta, limits), "latin-1"
    else:  # iTXt: flag, method, language\0, translated keyword\0, text
        if len(rest) < 2:
            meta.problems.append(f"PNG iTXt {keyword!r} truncated")
            return
        compressed, method = rest[0], rest[1]
        _lang, _, rest2 = rest[2:].partition(b"\x00")
        _trans, _, text = rest2.partition(b"\x00")
        if compressed:
            if method != 0:
                meta.problems.append(f"PNG iTXt {keyword!r}: unknown compression")
                return
            text = _inflate(text, keyword, meta, limits)
        raw, encoding = text, "utf-8"
    if raw is None or not meta._keep(len(raw), limits):
        return
    value = raw.decode(encoding, "replace")
    if keyword == "XML:com.adobe.xmp":
        meta.xmp.append(value)
    else:
        meta.texts.append((keyword, value))


def _inflate(blob: bytes, keyword: str, meta: Metadata, limits: MetadataLimits) -> bytes | None:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(blob, limits.max_inflate_bytes)
    except zlib.error:
        meta.problems.append(f"PNG text {keyword!r}: corrupt compressed text")
        return None
    if inflater.unconsumed_tail:
        meta.problems.append(f"PNG text {keyword!r} inflates past {limits.max_inflate_bytes:,} bytes: "
                             "only the start was read")
    return out


def _walk_webp(data: bytes, meta: Metadata, limits: MetadataLimits) -> None:
    pos, n = 12, min(len(data), 8 + struct.unpack("<I", data[4:8])[0])
    for _ in range(limits.max_items):
        if pos + 8 > n:
            if pos < n:
                meta.problems.append("WebP chunk header truncated")
            return
        fourcc, size = struct.unpack("<4sI", data[pos:pos + 8])
        if pos + 8 + size > n:
            meta.problems.append(f"WebP chunk {fourcc!r} at byte {pos} runs past the end of the file")
            return
        body = data[pos + 8:pos + 8 + size]
        if fourcc == b"EXIF":
            if meta._keep(len(body), limits):
                meta.exif.append(body[6:] if body.startswith(b"Exif\x00\x00") else body)
        elif fourcc == b"XMP ":
            _keep_xmp(body, meta, limits)
        elif fourcc == b"C2PA":
            meta.c2pa_embedded = True
        pos += 8 + size + (size & 1)
    meta.exhausted = True
    meta.problems.append(f"more than {limits.max_items:,} WebP chunks: the rest was not read")


def _scan_generic(data: bytes, meta: Metadata, limits: MetadataLimits) -> None:
    head = data[:limits.scan_bytes]
    if meta.format == "tiff":
        meta.exif.append(head)  # a TIFF file is itself an EXIF-structured block
    start = head.find(b"<x:xmpmeta")
    if start >= 0:
        end = head.find(b"</x:xmpmeta>", start)
        if end > start:
            _keep_xmp(head[start:end + 12], meta, limits)
    # ISO BMFF (HEIF, AVIF, MP4) keep C2PA in a uuid box, others in their own chunk: a label search
    # only decides whether the C2PA reader is asked; it reads the structure itself.
    meta.c2pa_embedded = b"c2pa" in data


def _keep_xmp(body: bytes, meta: Metadata, limits: MetadataLimits) -> None:
    if meta._keep(len(body), limits):
        meta.xmp.append(body.decode("utf-8", "replace"))
