"""vPDQ: per-frame PDQ for videos, through the reference code in the ``vpdq`` package.

A value is the python-threatexchange serialisation, so hashes move between the two unchanged:
a JSON list of ``"<pdq hex>,<quality>,<timestamp seconds>"`` strings, one per sampled frame.

Matching follows the reference: frames of quality >= 50 are compared at PDQ distance <= 31, then
two shares decide — the share of the *query's* unique frames found in the compared video and the
share of the *compared* video's unique frames found in the query (:func:`match_shares`). The
reference's default is query share >= 80 %. As a ``SignalType`` distance we report
``100 - min(query share, compared share)`` so a threshold of 20 means "80 % of both videos".

Hashing needs the optional ``video`` extra (``pip install 'ncii-shield[video]'``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass

from ncii_shield.errors import InvalidSignal, Unavailable, UndecodableVideo
from ncii_shield.index.base import SignalIndex
from ncii_shield.media.sniff import ContentType
from ncii_shield.signals._hex import parse_hex
from ncii_shield.signals.base import HashResult, SignalType, VideoHasher

SECONDS_PER_HASH = 1.0
QUALITY_THRESHOLD = 50
FRAME_DISTANCE_THRESHOLD = 31
QUERY_MATCH_PERCENT = 80.0


@dataclass(frozen=True)
class VpdqFrame:
    frame: int
    timestamp: float
    pdq: str
    quality: int

    def compact(self) -> str:
        return f"{self.pdq},{self.quality},{self.timestamp:.3f}"


def frames_to_value(frames: list[VpdqFrame]) -> str:
    return json.dumps([f.compact() for f in frames], separators=(",", ":"))


def value_to_frames(value: str) -> list[VpdqFrame]:
    """Parse a vPDQ value (python-threatexchange JSON) into frames; frame numbers are not carried."""
    try:
        items = json.loads(value) if isinstance(value, str) else value
    except ValueError as exc:
        raise InvalidSignal(_expected(f"not JSON ({exc.msg})")) from exc
    if not isinstance(items, list) or not items:
        raise InvalidSignal(_expected("not a non-empty JSON list"))
    frames = []
    for i, item in enumerate(items):
        parts = item.split(",") if isinstance(item, str) else []
        if len(parts) != 3:
            raise InvalidSignal(_expected(f"frame {i} is {str(item)[:60]!r}"))
        try:
            quality, timestamp = int(parts[1]), float(parts[2])
        except ValueError as exc:
            raise InvalidSignal(_expected(f"frame {i} has a bad quality or timestamp")) from exc
        if not 0 <= quality <= 100 or not timestamp >= 0:
            raise InvalidSignal(_expected(f"frame {i} has quality {quality} / timestamp {timestamp}"))
        frames.append(VpdqFrame(i, timestamp, parse_hex(parts[0], digits=64, kind="PDQ"), quality))
    return frames


def _expected(problem: str) -> str:
    return (
        f"invalid vPDQ value: {problem}; expected a JSON list of \"<64 hex PDQ>,<quality 0-100>,"
        f"<timestamp seconds>\" strings, as python-threatexchange writes them"
    )


def _usable(frames: list[VpdqFrame]) -> list[str]:
    return sorted({f.pdq for f in frames if f.quality >= QUALITY_THRESHOLD})


def match_shares(query: list[VpdqFrame], compared: list[VpdqFrame]) -> tuple[float, float]:
    """(query share, compared share) in percent, as the reference ``vpdq`` matcher defines them."""
    q, c = _usable(query), _usable(compared)
    if not q or not c:
        return 0.0, 0.0
    import numpy as np

    from ncii_shield.index.bits import hexes_to_words

    qw, cw = hexes_to_words(q), hexes_to_words(c)
    dist = np.bitwise_count(qw[:, None, :] ^ cw[None, :, :]).sum(axis=2)
    close = dist <= FRAME_DISTANCE_THRESHOLD
    return 100.0 * close.any(axis=1).mean(), 100.0 * close.any(axis=0).mean()


class VpdqSignal(SignalType, VideoHasher):
    name = "vpdq"
    content_types = frozenset({ContentType.VIDEO})
    default_threshold = int(100 - QUERY_MATCH_PERCENT)
    max_threshold = 100
    examples = (
        json.dumps([
            "3f118151d606857a50bddee63b51d6a654bc6a1deaa6211980f601597f78dee6,100,0.000",
            "5e95a17b942d05585a97154899b7760cd43efab76a44a9b7806c8bf37f525448,100,1.000",
        ]),
    )
    description = "vPDQ per-frame PDQ (JSON list of 'pdq,quality,timestamp'); match by shares of frames"

    @classmethod
    def validate(cls, value: str) -> str:
        return frames_to_value(value_to_frames(value))

    @classmethod
    def distance(cls, a: str, b: str) -> float:
        q, c = match_shares(value_to_frames(a), value_to_frames(b))
        return 100.0 - min(q, c)

    @classmethod
    def hash_video(cls, path: str | os.PathLike[str]) -> HashResult:
        frames = hash_video_frames(path)
        quality = round(sum(f.quality for f in frames) / len(frames))
        return HashResult(frames_to_value(frames), quality)

    @classmethod
    def index_factory(cls) -> Callable[[], SignalIndex]:
        from ncii_shield.index.vpdq import VpdqIndex

        return VpdqIndex


def hash_video_frames(path: str | os.PathLike[str], seconds_per_hash: float = SECONDS_PER_HASH) -> list[VpdqFrame]:
    """Per-frame PDQ of a video file (check it first with :func:`~ncii_shield.media.video.probe_video`)."""
    try:
        import vpdq
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise Unavailable("video hashing needs the 'video' extra: pip install 'ncii-shield[video]'") from exc
    try:
        features = vpdq.computeHash(str(path), seconds_per_hash=seconds_per_hash)
    except Exception as exc:
        raise UndecodableVideo(
            "the video could not be decoded by vPDQ; accepted: a video stream FFmpeg decodes"
        ) from exc
    if not features:
        raise UndecodableVideo("the video has no decodable frames")
    return [VpdqFrame(int(f.frame_number), float(f.timestamp), str(f.hex), int(f.quality)) for f in features]
