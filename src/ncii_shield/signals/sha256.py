"""SHA-256 of the file bytes: exact matching."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

from ncii_shield.index.base import SignalIndex
from ncii_shield.index.exact import ExactIndex
from ncii_shield.media.sniff import ContentType
from ncii_shield.signals._hex import parse_hex
from ncii_shield.signals.base import BytesHasher, HashResult, SignalType


class Sha256Signal(SignalType, BytesHasher):
    name = "sha256"
    content_types = frozenset({ContentType.PHOTO, ContentType.VIDEO})
    default_threshold = 0
    examples = ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",)
    description = "SHA-256 of the file bytes (64 hex digits); exact match only"

    @classmethod
    def validate(cls, value: str) -> str:
        return parse_hex(value, digits=64, kind="SHA-256")

    @classmethod
    def distance(cls, a: str, b: str) -> float:
        return 0 if a == b else 1

    @classmethod
    def hash_bytes(cls, data: bytes) -> HashResult:
        return HashResult(hashlib.sha256(data).hexdigest())

    @classmethod
    def hash_file(cls, path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> HashResult:
        with open(path, "rb") as handle:
            return HashResult(hashlib.file_digest(handle, "sha256").hexdigest())

    @classmethod
    def index_factory(cls) -> Callable[[], SignalIndex]:
        return ExactIndex
