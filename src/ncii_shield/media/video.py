"""Safe video intake: size and duration limits, and a clear error for undecodable streams.

Videos are hashed by the ``vpdq`` package (libav inside), which reads a file path. Before it sees a
file, :func:`probe_video` asks ``ffprobe`` (Debian package ``ffmpeg``) with a timeout what the file
holds, so that an oversized, overlong, audio-only or undecodable file is rejected with a typed error
instead of being handed to the decoder. Bytes received over the network are written to a private
temporary file (:func:`video_file_from_bytes`) that is deleted as soon as hashing ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ncii_shield.errors import EmptyMedia, MediaTooLarge, Unavailable, UndecodableVideo

if TYPE_CHECKING:
    import numpy as np

_MIB = 1024 * 1024


@dataclass(frozen=True)
class VideoLimits:
    max_bytes: int = 1024 * _MIB
    max_duration_s: float = 3 * 3600.0
    max_pixels: int = 8192 * 8192
    probe_timeout_s: float = 30.0


DEFAULT_VIDEO_LIMITS = VideoLimits()


@dataclass(frozen=True)
class VideoInfo:
    duration_s: float
    width: int
    height: int
    codec: str
    frame_rate: float


def probe_video(path: str | os.PathLike[str], limits: VideoLimits = DEFAULT_VIDEO_LIMITS) -> VideoInfo:
    """Check a video file against ``limits`` and return what its first video stream is."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise EmptyMedia("the file is empty (0 bytes); expected a video (MP4, MOV, WebM, MKV, AVI)")
    if size > limits.max_bytes:
        raise MediaTooLarge(f"the video is {size:,} bytes; at most {limits.max_bytes:,} are accepted")
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        raise Unavailable("ffprobe is not installed; install Debian's 'ffmpeg' package to hash videos")
    try:
        proc = subprocess.run(
            [ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
             "-select_streams", "v:0", str(path)],
            capture_output=True, timeout=limits.probe_timeout_s, check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise UndecodableVideo(
            f"the video could not be read within {limits.probe_timeout_s:.0f} s"
        ) from exc
    try:
        report = json.loads(proc.stdout or b"{}")
    except ValueError:
        report = {}
    streams = report.get("streams") or []
    if proc.returncode != 0 or not streams:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = detail[-1][:200] if detail else "no video stream found"
        raise UndecodableVideo(
            f"the file is not a video we can decode ({reason}); accepted: a file with a video "
            f"stream that FFmpeg decodes (MP4, MOV, WebM, MKV, AVI, ...)"
        )
    stream = streams[0]
    width, height = int(stream.get("width") or 0), int(stream.get("height") or 0)
    duration = _duration(stream, report.get("format") or {})
    if width <= 0 or height <= 0:
        raise UndecodableVideo("the video stream has no picture size; the file is corrupt")
    if width * height > limits.max_pixels:
        raise MediaTooLarge(
            f"the video is {width}x{height}; at most {limits.max_pixels:,} pixels per frame are accepted"
        )
    if duration > limits.max_duration_s:
        raise MediaTooLarge(
            f"the video lasts {duration:.0f} s; at most {limits.max_duration_s:.0f} s are accepted"
        )
    return VideoInfo(
        duration_s=duration, width=width, height=height,
        codec=str(stream.get("codec_name") or "unknown"), frame_rate=_rate(stream),
    )


@contextlib.contextmanager
def video_file_from_bytes(data: bytes, limits: VideoLimits = DEFAULT_VIDEO_LIMITS) -> Iterator[Path]:
    """Write ``data`` to a private temporary file (in RAM where /dev/shm exists); delete it after."""
    if not data:
        raise EmptyMedia("the file is empty (0 bytes); expected a video")
    if len(data) > limits.max_bytes:
        raise MediaTooLarge(f"the video is {len(data):,} bytes; at most {limits.max_bytes:,} are accepted")
    directory = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    fd, name = tempfile.mkstemp(prefix="ncii-video-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        yield Path(name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def _duration(stream: dict, fmt: dict) -> float:
    for value in (stream.get("duration"), fmt.get("duration")):
        try:
            if value is not None:
                return max(0.0, float(value))
        except (TypeError, ValueError):
            continue
    return 0.0


def _rate(stream: dict) -> float:
    text = str(stream.get("avg_frame_rate") or stream.get("r_frame_rate") or "0/1")
    try:
        num, _, den = text.partition("/")
        return float(num) / float(den or 1) if float(den or 1) else 0.0
    except ValueError:
        return 0.0


def sample_frames(
    path: str | os.PathLike[str], info: VideoInfo, *, fps: float = 2.0, max_side: int = 320,
    limits: VideoLimits = DEFAULT_VIDEO_LIMITS,
) -> Iterator[tuple[float, np.ndarray]]:
    """Frames of a probed video at ``fps`` as ``(seconds, HxWx3 uint8 RGB)``, scaled so that the long
    side is at most ``max_side`` (PDQ looks at 64 x 64 anyway), decoded by ``ffmpeg`` in a subprocess.

    The query side of video matching hashes these (mirrored, border-cropped); the exchanged vPDQ
    values still come from the reference ``vpdq`` package. Bounded: at most ``duration x fps + 2``
    frames are read, and the decoder is killed after ``limits.probe_timeout_s`` per minute of video.
    """
    import numpy as np

    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise Unavailable("ffmpeg is not installed; install Debian's 'ffmpeg' package to hash videos")
    scale = min(1.0, max_side / max(info.width, info.height))
    width, height = max(2, round(info.width * scale / 2) * 2), max(2, round(info.height * scale / 2) * 2)
    frame_bytes = width * height * 3
    most = int(info.duration_s * fps) + 2
    deadline = limits.probe_timeout_s * max(1.0, info.duration_s / 60.0)
    command = [ffmpeg, "-v", "error", "-nostdin", "-threads", "2", "-i", str(path), "-map", "0:v:0", "-an",
               "-vf", f"fps={fps}:round=up,scale={width}:{height}:flags=area", "-pix_fmt", "rgb24", "-f", "rawvideo", "-"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    watchdog = threading.Timer(deadline, proc.kill)  # a stalled decoder cannot block a read forever
    watchdog.start()
    started = time.monotonic()
    try:
        assert proc.stdout is not None
        for n in range(most):
            raw = proc.stdout.read(frame_bytes)
            if len(raw) < frame_bytes:
                if time.monotonic() - started >= deadline:
                    raise UndecodableVideo(f"the video could not be decoded within {deadline:.0f} s")
                break
            yield n / fps, np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
    finally:
        watchdog.cancel()
        proc.kill()
        proc.wait()
