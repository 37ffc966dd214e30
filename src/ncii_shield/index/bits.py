"""256-bit hash helpers shared by the Hamming indexes: hex <-> four uint64 words, popcount."""

from __future__ import annotations

import numpy as np

WORDS = 4  # 256 bits = 4 x 64


def hex_to_words(value: str) -> np.ndarray:
    """'f8f8...' (64 hex digits, most significant bit first) -> uint64[4], big-endian words."""
    return np.frombuffer(bytes.fromhex(value), dtype=">u8").astype(np.uint64)


def hexes_to_words(values: list[str]) -> np.ndarray:
    """Many hex strings -> uint64[n, 4]."""
    if not values:
        return np.zeros((0, WORDS), dtype=np.uint64)
    raw = bytes.fromhex("".join(values))
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, WORDS)


def words_to_hex(words: np.ndarray) -> str:
    return words.astype(">u8").tobytes().hex()


def hamming(words: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Hamming distance from ``query`` (uint64[4]) to every row of ``words`` (uint64[n, 4])."""
    return np.bitwise_count(np.bitwise_xor(words, query)).sum(axis=1, dtype=np.int32)
