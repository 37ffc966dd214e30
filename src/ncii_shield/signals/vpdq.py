"""vPDQ: per-frame PDQ for videos, through the reference code in the ``vpdq`` package.

A value is the python-threatexchange serialisation, so hashes move between the two unchanged:
a JSON list of ``"<pdq hex>,<quality>,<timestamp seconds>"`` strings, one per sampled frame.

Matching follows the reference: frames of quality >= 50 are compared at PDQ distance <= 31, then
two shares decide — the share of the *query's* unique frames found in the compared video and the
share of the *compared* video's unique frames found in the query (:func:`match_shares`). The
reference's default is query share >= 80 %. As a ``SignalType`` distance we report
``100 - min(query share, compared share)`` so a threshold of 20 means "80 % of both videos".

Where videos spread as clips, compilations and re-edits, :meth:`ncii_shield.index.vpdq.VpdqIndex.video_matches`
aligns frames in time (:mod:`ncii_shield.signals.video_match`) and reads the upload mirrored,
border-cropped and zoomed out (:func:`hash_query_video`, :mod:`ncii_shield.signals.frames`); see
docs/video.md.

Hashing needs the optional ``video`` extra (``pip install 'ncii-shield[video]'``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ncii_shield.errors import InvalidSignal, Unavailable, UndecodableVideo
from ncii_shield.index.base import SignalIndex
from ncii_shield.media.sniff import ContentType
from ncii_shield.signals._hex import parse_hex
from ncii_shield.signals.base import HashResult, SignalType, VideoHasher

if TYPE_CHECKING:
    from ncii_shield.media.video import VideoInfo, VideoLimits

SECONDS_PER_HASH = 1.0
QUALITY_THRESHOLD = 50
FRAME_DISTANCE_THRESHOLD = 31
QUERY_MATCH_PERCENT = 80.0


@dataclass(frozen=True)
class VpdqFrame:
    """One hashed frame. ``variant`` is "" for a reference vPDQ frame (what is exchanged); query-side
    readings of an upload (:func:`hash_query_video`) name theirs: "original", "mirrored",
    "border-cropped", "zoomed-out", ... They are never banked or exported."""

    frame: int
    timestamp: float
    pdq: str
    quality: int
    variant: str = ""

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
    from ncii_shield.index.bits import hexes_to_words

    return shares_of_words(hexes_to_words(_usable(query)), hexes_to_words(_usable(compared)))


def shares_of_words(q: np.ndarray, c: np.ndarray) -> tuple[float, float]:
    """:func:`match_shares` over unique usable frames as ``uint64[n, 4]`` arrays."""
    if not len(q) or not len(c):
        return 0.0, 0.0
    query_found = np.zeros(len(q), dtype=bool)
    compared_found = np.zeros(len(c), dtype=bool)
    for start in range(0, len(q), 256):  # bounded temporaries for long videos
        close = np.bitwise_count(q[start:start + 256, None, :] ^ c[None, :, :]).sum(axis=2) <= FRAME_DISTANCE_THRESHOLD
        query_found[start:start + 256] = close.any(axis=1)
        compared_found |= close.any(axis=0)
    return 100.0 * query_found.mean(), 100.0 * compared_found.mean()


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


def hash_video_frames(path: str | os.PathLike[str], seconds_per_hash: float = SECONDS_PER_HASH, *,
                      limits: VideoLimits | None = None) -> list[VpdqFrame]:
    """Per-frame PDQ of a video file, bit for bit the reference ``vpdq`` package's values: one
    bounded decode pass (:func:`decode_video`) instead of ``vpdq.computeHash``, which decodes in this
    process at full size and keeps every hashed frame in memory (1.7 GB for a 2-second 8192 x 8192
    video; docs/reliability.md). tests/unit/signals/test_vpdq_one_pass.py compares the two."""
    return decode_video(path, limits=limits, readings=False, seconds_per_hash=seconds_per_hash).frames


def hash_video_frames_reference(path: str | os.PathLike[str], seconds_per_hash: float = SECONDS_PER_HASH) -> list[VpdqFrame]:
    """The same frames from the reference ``vpdq`` package itself (its own decoder; unbounded memory:
    for tests and benchmarks, on trusted files)."""
    try:
        import vpdq
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise Unavailable("the reference vPDQ needs the 'video' extra: pip install 'ncii-shield[video]'") from exc
    try:
        features = vpdq.computeHash(str(path), seconds_per_hash=seconds_per_hash)
    except Exception as exc:
        raise UndecodableVideo(
            "the video could not be decoded by vPDQ; accepted: a video stream FFmpeg decodes"
        ) from exc
    if not features:
        raise UndecodableVideo("the video has no decodable frames")
    return [VpdqFrame(int(f.frame_number), float(f.timestamp), str(f.hex), int(f.quality)) for f in features]


QUERY_FRAMES_PER_SECOND = 2.0
#: At most this many frames are read for the query side (a long upload is sampled more sparsely).
MAX_QUERY_FRAMES = 3_600
QUERY_SIDE = 320


@dataclass
class DecodedVideo:
    """What one decode pass of an upload gives (:func:`decode_video`): ``frames``, the reference
    vPDQ (what is exchanged); ``readings``, the query side's readings (mirrored, border-cropped, ...);
    ``stills``, ``(seconds, RGB)`` frames for the photo detectors; ``tapped``, what each frame tap's
    reader returned, ``name -> [(seconds, result), ...]``; ``info``, what ffprobe said."""

    info: VideoInfo
    frames: list[VpdqFrame]
    readings: list[VpdqFrame]
    stills: list[tuple[float, np.ndarray]]
    tapped: dict[str, list[tuple[float, Any]]] = field(default_factory=dict)


def _frame_pdq(rgb: np.ndarray) -> tuple[str, int]:
    """The reference's PDQ of one full-size frame: the bindings (as vPDQ's own code: RGB -> float luma
    -> PDQ) up to 1.5 MP, the streamed reference arithmetic above (a few MB instead of ~26 bytes a
    pixel; the same bits)."""
    import pdqhash

    from ncii_shield.signals import pdq_strips
    from ncii_shield.signals.pdq import BINDINGS_MAX_PIXELS, bits_to_hex

    if rgb.shape[0] * rgb.shape[1] > BINDINGS_MAX_PIXELS and pdq_strips.available():
        vectors, quality = pdq_strips.hash_bits(rgb)
        return bits_to_hex(vectors[0]), int(quality)
    vector, quality = pdqhash.compute(np.ascontiguousarray(rgb))
    return bits_to_hex(vector), int(quality)


def decode_video(path: str | os.PathLike[str], *, limits: VideoLimits | None = None, reference: bool = True,
                 readings: bool = True, dihedral: bool = False, query_fps: float = QUERY_FRAMES_PER_SECOND,
                 stills: int = 0, still_side: int = 640,
                 taps: Mapping[str, tuple[float, int, int, Callable[[np.ndarray], Any]]] | None = None,
                 seconds_per_hash: float = SECONDS_PER_HASH) -> DecodedVideo:
    """Probe a video, then decode it **once** (:func:`ncii_shield.media.video.decode_pass`) into
    everything the upload pipeline needs: the reference vPDQ frames (``reference``; every
    ``int(seconds_per_hash x frame rate)``-th decoded frame at full size, timestamp = frame number /
    frame rate, PDQ of its RGB24 pixels: what ``vpdq.computeHash`` does), the query-side readings
    (``readings``: frames at ``query_fps`` scaled to 320 px, :func:`ncii_shield.signals.frames.hash_query_frames`),
    up to about ``stills`` evenly spread frames at ``still_side`` pixels for the photo detectors, and
    for each ``taps`` entry ``name: (fps, max_side, most, read)`` frames at ``fps`` (fewer for a long
    video: at most ``most``) read as they arrive, keeping only ``read(rgb)`` (a detector that follows
    things over time: faces across frames)."""
    from ncii_shield.media.video import DEFAULT_VIDEO_LIMITS, FrameStream, decode_pass, probe_video
    from ncii_shield.signals.frames import QueryReadings, hash_query_frames

    limits = limits or DEFAULT_VIDEO_LIMITS
    info = probe_video(path, limits)
    if min(info.width, info.height) < 5:
        raise UndecodableVideo(f"the video is {info.width}x{info.height}; vPDQ hashes frames of at least 5 x 5 pixels")
    out = DecodedVideo(info, [], QueryReadings(), [])
    streams = []
    if reference:
        if info.frame_rate <= 0:
            raise UndecodableVideo("the video stream declares no frame rate; vPDQ needs one")
        rate32 = np.float32(info.frame_rate)  # the reference's frame rate is a C float
        every = max(1, int(seconds_per_hash * float(rate32)))

        def hash_reference(items) -> None:  # noqa: ANN001
            for k, rgb in items:
                n = k * every
                pdq, quality = _frame_pdq(rgb)
                # the reference's timestamp: frame number / frame rate in C floats
                out.frames.append(VpdqFrame(n, float(np.float32(n) / rate32), pdq, quality))

        streams.append((FrameStream(every=every, reuse=True), hash_reference))  # hashed at once, never kept
    if readings:
        fps = min(query_fps, MAX_QUERY_FRAMES / max(info.duration_s, 1e-3))

        def hash_readings(items) -> None:  # noqa: ANN001
            readings = hash_query_frames(((k / fps, rgb) for k, rgb in items), dihedral=dihedral)
            out.readings.extend(readings)
            out.readings.crops = readings.crops  # luma copies read at crops (frames.CropFrames)

        streams.append((FrameStream(fps=fps, max_side=QUERY_SIDE), hash_readings))
    if stills > 0:
        still_fps = min(2.0, stills / max(info.duration_s, 0.5))

        def keep(items) -> None:  # noqa: ANN001
            out.stills.extend((round(k / still_fps, 2), rgb) for k, rgb in items)

        streams.append((FrameStream(fps=still_fps, max_side=still_side), keep))
    for name, (tap_fps, side, most, read) in (taps or {}).items():
        rate = min(tap_fps, most / max(info.duration_s, 1e-3))
        out.tapped[name] = []

        def tap(items, rate=rate, read=read, found=out.tapped[name]) -> None:  # noqa: ANN001
            found.extend((round(k / rate, 2), read(rgb)) for k, rgb in items)

        streams.append((FrameStream(fps=rate, max_side=side, most=most + 1), tap))
    decode_pass(path, info, streams, limits=limits)
    if reference and not out.frames:
        raise UndecodableVideo("the video has no decodable frames")
    if readings and not out.readings and not reference:
        raise UndecodableVideo("the video has no decodable frames")
    return out


def hash_query_video(path: str | os.PathLike[str], *, fps: float = QUERY_FRAMES_PER_SECOND,
                     dihedral: bool = False, limits: VideoLimits | None = None) -> list[VpdqFrame]:
    """The upload's query-side readings: frames sampled at ``fps`` (default 2 a second, so a clip cut
    anywhere has frames within 0.25 s of the banked ones), each hashed as is, mirrored, border-cropped
    (when bars or a still surround are found) and zoomed out (:func:`ncii_shield.signals.frames.hash_query_frames`).

    Pass them as ``extra`` to :meth:`ncii_shield.index.vpdq.VpdqIndex.video_matches`. They are ours:
    never banked, exported or compared with the reference's values outside this process. The upload
    pipeline gets them from the same decode pass as the reference frames (:func:`decode_video`).
    """
    return decode_video(path, limits=limits, reference=False, dihedral=dihedral, query_fps=fps).readings
