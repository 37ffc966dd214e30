"""MD5 of the file bytes: exact matching, as StopNCII (VideoMD5) and NCMEC exchange it."""

from __future__ import annotations

from ncii_shield.signals.exact import FileDigestSignal


class Md5Signal(FileDigestSignal):
    name = "md5"
    algorithm = "md5"
    digits = 32
    label = "MD5"
    examples = ("d41d8cd98f00b204e9800998ecf8427e", "9e107d9d372bb6826bd81d3542a419d6")
    description = "MD5 of the file bytes (32 hex digits); exact match only"
