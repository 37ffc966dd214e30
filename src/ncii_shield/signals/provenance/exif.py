"""A small EXIF (TIFF IFD) reader for the few text fields generators write.

Reads IFD0 and the Exif sub-IFD of a TIFF-structured block and returns ``ImageDescription``,
``Make``, ``Model``, ``Software``, ``Artist`` and ``UserComment`` as text. Offsets are checked
against the block, entries per IFD and bytes per value are capped, and each IFD is read once, so a
hostile block costs at most a few thousand entry reads.
"""

from __future__ import annotations

import struct

TAGS = {0x010E: "ImageDescription", 0x010F: "Make", 0x0110: "Model", 0x0131: "Software",
        0x013B: "Artist", 0x9286: "UserComment"}
_EXIF_IFD = 0x8769
_MAX_ENTRIES = 1024
_MAX_VALUE = 64 * 1024
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}


def read_exif_text(block: bytes) -> dict[str, str]:
    """The text fields of an EXIF block (without the ``Exif\\0\\0`` prefix); {} when it is not one."""
    if len(block) < 8:
        return {}
    if block[:4] == b"II*\x00":
        order = "<"
    elif block[:4] == b"MM\x00*":
        order = ">"
    else:
        return {}
    out: dict[str, str] = {}
    seen: set[int] = set()
    todo = [struct.unpack(order + "I", block[4:8])[0]]
    while todo:
        offset = todo.pop()
        if offset in seen or offset < 8 or offset + 2 > len(block):
            continue
        seen.add(offset)
        count = min(struct.unpack(order + "H", block[offset:offset + 2])[0], _MAX_ENTRIES)
        for i in range(count):
            entry = offset + 2 + 12 * i
            if entry + 12 > len(block):
                break
            tag, typ, n = struct.unpack(order + "HHI", block[entry:entry + 8])
            if tag == _EXIF_IFD and typ in (4, 13):
                todo.append(struct.unpack(order + "I", block[entry + 8:entry + 12])[0])
                continue
            if tag not in TAGS or typ not in (1, 2, 7):
                continue
            size = n * _TYPE_SIZES[typ]
            if size <= 4:
                raw = block[entry + 8:entry + 8 + size]
            else:
                start = struct.unpack(order + "I", block[entry + 8:entry + 12])[0]
                if start + size > len(block):
                    continue
                raw = block[start:start + min(size, _MAX_VALUE)]
            text = _user_comment(raw) if tag == 0x9286 else raw.split(b"\x00", 1)[0].decode("utf-8", "replace")
            if text.strip():
                out[TAGS[tag]] = text.strip()
    return out


def _user_comment(raw: bytes) -> str:
    """UserComment starts with an 8-byte character code: ASCII, UNICODE (UTF-16) or JIS."""
    code, body = raw[:8], raw[8:]
    if code == b"UNICODE\x00":
        # piexif (AUTOMATIC1111's JPEG/WebP writer) writes big-endian UTF-16; some tools little-endian.
        encoding = "utf-16-be" if body[:1] == b"\x00" else "utf-16-le"
        return body.decode(encoding, "replace").rstrip("\x00")
    if code in (b"ASCII\x00\x00\x00", b"\x00" * 8):
        return body.decode("utf-8", "replace").rstrip("\x00")
    return raw.decode("utf-8", "replace").rstrip("\x00")
