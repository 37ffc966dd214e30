"""Tell a photo from a video by its first bytes, never by its file name."""

from __future__ import annotations

from enum import StrEnum

# ISO base media brands (the 4 bytes after "ftyp") that are still images, not videos.
_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1",
                 b"avif", b"avis", b"heif"}


class ContentType(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"


def sniff_content_type(head: bytes) -> ContentType | None:
    """Return PHOTO, VIDEO or None (unknown) from the first 64 bytes or more of a file."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _IMAGE_BRANDS:
            return ContentType.PHOTO
        return ContentType.VIDEO
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # Matroska / WebM
        return ContentType.VIDEO
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return ContentType.VIDEO
    if head.startswith(b"FLV") or head.startswith(b"OggS"):
        return ContentType.VIDEO
    if head.startswith(b"\x00\x00\x01\xba") or head.startswith(b"\x00\x00\x01\xb3"):  # MPEG-PS
        return ContentType.VIDEO
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:  # MPEG transport stream
        return ContentType.VIDEO
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free"):  # old QuickTime
        return ContentType.VIDEO
    return ContentType.PHOTO if head else None
