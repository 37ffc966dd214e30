"""Shared shape of the cryptographic hashes of file bytes (MD5, SHA-256): exact match only."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import ClassVar

from ncii_shield.index.base import SignalIndex
from ncii_shield.index.exact import ExactIndex
from ncii_shield.media.sniff import ContentType
from ncii_shield.signals._hex import parse_hex, parse_hex_many
from ncii_shield.signals.base import BytesHasher, HashResult, SignalType


class FileDigestSignal(SignalType, BytesHasher):
    """A hash of the whole file: ``algorithm`` names a :mod:`hashlib` digest of ``digits`` hex digits."""

    algorithm: ClassVar[str]
    digits: ClassVar[int]
    label: ClassVar[str]
    content_types = frozenset({ContentType.PHOTO, ContentType.VIDEO})
    default_threshold = 0

    @classmethod
    def validate(cls, value: str) -> str:
        return parse_hex(value, digits=cls.digits, kind=cls.label)

    @classmethod
    def validate_many(cls, values: list[str]) -> list[str]:
        return parse_hex_many(values, digits=cls.digits, kind=cls.label)

    @classmethod
    def distance(cls, a: str, b: str) -> float:
        return 0 if a == b else 1

    @classmethod
    def _new(cls) -> hashlib._Hash:
        return hashlib.new(cls.algorithm, usedforsecurity=False)

    @classmethod
    def hash_bytes(cls, data: bytes) -> HashResult:
        digest = cls._new()
        digest.update(data)
        return HashResult(digest.hexdigest())

    @classmethod
    def hash_file(cls, path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> HashResult:
        with open(path, "rb") as handle:
            return HashResult(hashlib.file_digest(handle, cls._new).hexdigest())

    @classmethod
    def index_factory(cls) -> Callable[[], SignalIndex]:
        return ExactIndex
