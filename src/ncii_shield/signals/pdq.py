"""PDQ: Meta's perceptual photo hash, through the reference C++ code in the ``pdqhash`` package.

Values are 64 lowercase hex digits, most significant bit first (the reference's ``toHexString``),
so they are bit-exact with the reference and with what StopNCII, NCMEC and ThreatExchange exchange.
Quality is 0–100; the reference calls hashes under 50 weak (flat or tiny images): we still return
them, with :func:`is_weak` to flag them, instead of silently returning nothing.

The 8 dihedral variants (:func:`hash_dihedral`) are the hashes of the photo rotated and mirrored,
computed in one pass by the reference; matching a query's variants against a bank finds rotated or
mirrored re-uploads.

Photos over 1.5 MP are streamed through the reference's arithmetic a strip of rows at a time
(:mod:`ncii_shield.signals.pdq_strips`): the same bits as ``pdqhash.compute``, in a few MB instead of
about 26 bytes a pixel (~320 MB for a 12-MP photo), and twice as fast at 12 MP. Smaller ones, where
the bindings' memory is at most ~40 MB and they are as fast, go to ``pdqhash`` itself.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pdqhash

from ncii_shield.index.base import SignalIndex
from ncii_shield.media.decode import DecodedPhoto
from ncii_shield.media.sniff import ContentType
from ncii_shield.signals import pdq_strips
from ncii_shield.signals._hex import parse_hex, parse_hex_many
from ncii_shield.signals.base import HashResult, PhotoHasher, SignalType

WEAK_QUALITY = 50
MATCH_THRESHOLD = 31

#: Names of the dihedral variants, in the order the reference computes them.
DIHEDRAL_VARIANTS: tuple[str, ...] = (
    "original", "rotate90", "rotate180", "rotate270", "flipx", "flipy", "flip_plus1", "flip_minus1",
)


def bits_to_hex(bits: np.ndarray) -> str:
    """The reference's 256 hash bits (most significant first) as 64 hex digits."""
    return np.packbits(bits.astype(np.uint8, copy=False)).tobytes().hex()


def is_weak(quality: int | None) -> bool:
    return quality is not None and quality < WEAK_QUALITY


#: Photos up to this many pixels are hashed by the bindings (~26 bytes a pixel), larger ones streamed.
BINDINGS_MAX_PIXELS = 1_500_000


def _streamed(photo: DecodedPhoto) -> bool:
    return photo.width * photo.height > BINDINGS_MAX_PIXELS and pdq_strips.available()


def hash_dihedral(photo: DecodedPhoto) -> dict[str, HashResult]:
    """All 8 rotations/flips of ``photo``, keyed by :data:`DIHEDRAL_VARIANTS`."""
    if _streamed(photo):
        vectors, quality = pdq_strips.hash_bits(photo.rgb, dihedral=True)
    else:
        vectors, quality = pdqhash.compute_dihedral(np.ascontiguousarray(photo.rgb))  # the bindings read raw memory
    return {name: HashResult(bits_to_hex(v), int(quality)) for name, v in zip(DIHEDRAL_VARIANTS, vectors)}


class PdqSignal(SignalType, PhotoHasher):
    name = "pdq"
    content_types = frozenset({ContentType.PHOTO})
    default_threshold = MATCH_THRESHOLD
    examples = (
        "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
        "d8f8f1eec0f4a84f0e37022a078f63f0b36e2ed596621e1d33e6239c4e9c9b22",
    )
    description = "PDQ perceptual hash (64 hex digits); match at Hamming distance <= 31 of 256"

    @classmethod
    def validate(cls, value: str) -> str:
        return parse_hex(value, digits=64, kind="PDQ")

    @classmethod
    def validate_many(cls, values: list[str]) -> list[str]:
        return parse_hex_many(values, digits=64, kind="PDQ")

    @classmethod
    def distance(cls, a: str, b: str) -> float:
        return (int(a, 16) ^ int(b, 16)).bit_count()

    @classmethod
    def hash_photo(cls, photo: DecodedPhoto) -> HashResult:
        if _streamed(photo):
            (bits,), quality = pdq_strips.hash_bits(photo.rgb)
        else:
            bits, quality = pdqhash.compute(np.ascontiguousarray(photo.rgb))  # a turned photo is a strided view
        return HashResult(bits_to_hex(bits), int(quality))

    @classmethod
    def index_factory(cls) -> Callable[[], SignalIndex]:
        from ncii_shield.index.hamming import default_hamming_index

        return default_hamming_index
