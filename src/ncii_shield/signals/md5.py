"""MD5 of the file bytes: exact matching, as StopNCII (VideoMD5) and NCMEC exchange it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

from ncii_shield.index.base import SignalIndex
from ncii_shield.index.exact import ExactIndex
from ncii_shield.media.sniff import ContentType
from ncii_shield.signals._hex import parse_hex
from ncii_shield.signals.base import BytesHasher, HashResult, SignalType


class Md5Signal(SignalType, BytesHasher):
    name = "md5"
    content_types = frozenset({ContentType.PHOTO, ContentType.VIDEO})
    default_threshold = 0
    examples = ("d41d8cd98f00b204e9800998ecf8427e", "9e107d9d372bb6826bd81d3542a419d6")
    description = "MD5 of the file bytes (32 hex digits); exact match only"

    @classmethod
    def validate(cls, value: str) -> str:
        return parse_hex(value, digits=32, kind="MD5")

    @classmethod
    def distance(cls, a: str, b: str) -> float:
        return 0 if a == b else 1

    @classmethod
    def hash_bytes(cls, data: bytes) -> HashResult:
        return HashResult(hashlib.md5(data, usedforsecurity=False).hexdigest())

    @classmethod
    def hash_file(cls, path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> HashResult:
        with open(path, "rb") as handle:
            return HashResult(hashlib.file_digest(handle, lambda: hashlib.md5(usedforsecurity=False)).hexdigest())

    @classmethod
    def index_factory(cls) -> Callable[[], SignalIndex]:
        return ExactIndex
