"""The one interface every signal type implements, and its optional abilities.

A *signal type* is a kind of hash (PDQ, vPDQ, MD5, ...). Each is a class with class-level facts and
classmethods only; values are plain canonical strings, exactly as the field exchanges them::

    class Md5Signal(SignalType, BytesHasher):
        name = "md5"                       # stored in the database: never derive it from the class name
        content_types = frozenset({ContentType.PHOTO, ContentType.VIDEO})
        default_threshold = 0              # exact
        examples = ("d41d8cd98f00b204e9800998ecf8427e",)

Abilities are mixins: :class:`BytesHasher` (hash of the file bytes), :class:`PhotoHasher`
(hash of decoded pixels), :class:`VideoHasher` (hash of a video file).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from ncii_shield.media.sniff import ContentType

if TYPE_CHECKING:  # pragma: no cover
    from ncii_shield.index.base import SignalIndex
    from ncii_shield.media.decode import DecodedPhoto


@dataclass(frozen=True)
class HashResult:
    """A hash value with its quality (0–100) where the type has one."""

    value: str
    quality: int | None = None


class SignalType(ABC):
    """One kind of hash. See the module docstring."""

    name: ClassVar[str]
    content_types: ClassVar[frozenset[ContentType]]
    default_threshold: ClassVar[int]
    #: the largest threshold a query may ask for (the index is exact up to it); default: default_threshold
    max_threshold: ClassVar[int | None] = None
    examples: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""

    @classmethod
    @abstractmethod
    def validate(cls, value: str) -> str:
        """Return the canonical form of ``value`` or raise :class:`~ncii_shield.errors.InvalidSignal`."""

    @classmethod
    def validate_many(cls, values: list[str]) -> list[str]:
        """``validate`` for a batch (types override it when a batch can be checked faster)."""
        return [cls.validate(v) for v in values]

    @classmethod
    def format(cls, value: str) -> str:
        """Canonical string for storage and exchange (the default: what ``validate`` returns)."""
        return cls.validate(value)

    @classmethod
    @abstractmethod
    def distance(cls, a: str, b: str) -> float:
        """Distance between two canonical values; 0 means identical."""

    @classmethod
    def threshold_limit(cls) -> int:
        return cls.default_threshold if cls.max_threshold is None else cls.max_threshold

    @classmethod
    def matches(cls, a: str, b: str, threshold: float | None = None) -> bool:
        limit = cls.default_threshold if threshold is None else threshold
        return cls.distance(a, b) <= limit

    @classmethod
    @abstractmethod
    def index_factory(cls) -> Callable[[], SignalIndex]:
        """A callable that makes an empty index for this type (see :mod:`ncii_shield.index`)."""


class BytesHasher(ABC):
    """Ability: hash the raw bytes of a file."""

    @classmethod
    @abstractmethod
    def hash_bytes(cls, data: bytes) -> HashResult: ...

    @classmethod
    def hash_file(cls, path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> HashResult:
        """Hash a file without reading it into memory at once (subclasses may override)."""
        with open(path, "rb") as handle:
            return cls.hash_bytes(handle.read())


class PhotoHasher(ABC):
    """Ability: hash a decoded photo."""

    @classmethod
    @abstractmethod
    def hash_photo(cls, photo: DecodedPhoto) -> HashResult: ...


class VideoHasher(ABC):
    """Ability: hash a video file (already checked by :func:`ncii_shield.media.video.probe_video`)."""

    @classmethod
    @abstractmethod
    def hash_video(cls, path: str | os.PathLike[str]) -> HashResult: ...
