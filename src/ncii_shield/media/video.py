"""Safe video intake: limits checked before decoding, one bounded decode pass, clear errors.

Before a decoder sees a file, :func:`probe_video` asks ``ffprobe`` (Debian package ``ffmpeg``) with a
timeout what the file holds, so that an oversized, overlong, audio-only or undecodable file is
rejected with a typed error naming the limit. Then :func:`decode_pass` decodes it **once** in an
``ffmpeg`` child and hands several frame streams out of that one decode (vPDQ's full-size frames,
the query side's small frames, the photo detectors' frames), each to its own consumer. The child's
threads, address space and CPU time are capped (:class:`VideoLimits`), frames reach this process
one at a time, and a decode that runs past its deadline is killed. Bytes received over the network
are written to a private temporary file (:func:`video_file_from_bytes`) that is deleted as soon as
hashing ends.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ncii_shield.errors import EmptyMedia, MediaTooLarge, Unavailable, UndecodableVideo

if TYPE_CHECKING:
    import numpy as np

_MIB = 1024 * 1024


def _env(name: str, default: float) -> float:
    value = os.environ.get(name)
    try:
        return float(value) if value else default
    except ValueError:
        return default


@dataclass(frozen=True)
class VideoLimits:
    """What one video may cost. ``max_pixels``: a frame's size (4096 x 2160, DCI 4K; vPDQ hashes
    frames at full size, so this bounds the decoder's memory and ours); ``max_frames``: frames the
    file declares (duration x frame rate; 3 hours at 30 frames/s); ``max_decode_s``: wall-clock
    seconds one decode pass may take, and the decoder's CPU seconds (``decoder_cpu_s``); ``threads``:
    decoder threads; ``decoder_memory_mb``: the decoder child's address space (RLIMIT_AS).
    Environment: ``NCII_SHIELD_VIDEO_MAX_PIXELS``, ``_MAX_DURATION_S``, ``_MAX_FRAMES``,
    ``_MAX_DECODE_S``, ``_DECODER_MEMORY_MB``, ``_THREADS``."""

    max_bytes: int = 1024 * _MIB
    max_duration_s: float = _env("NCII_SHIELD_VIDEO_MAX_DURATION_S", 3 * 3600.0)
    max_pixels: int = int(_env("NCII_SHIELD_VIDEO_MAX_PIXELS", 4096 * 2160))
    max_frames: int = int(_env("NCII_SHIELD_VIDEO_MAX_FRAMES", 3 * 3600 * 30))
    probe_timeout_s: float = 30.0
    max_decode_s: float = _env("NCII_SHIELD_VIDEO_MAX_DECODE_S", 600.0)
    decoder_cpu_s: float = _env("NCII_SHIELD_VIDEO_DECODER_CPU_S", 1200.0)
    decoder_memory_mb: int = int(_env("NCII_SHIELD_VIDEO_DECODER_MEMORY_MB", 1024))
    threads: int = int(_env("NCII_SHIELD_VIDEO_THREADS", 2))


DEFAULT_VIDEO_LIMITS = VideoLimits()


@dataclass(frozen=True)
class VideoInfo:
    duration_s: float
    width: int
    height: int
    codec: str
    frame_rate: float
    #: the frame rate vPDQ reads (the stream's avg_frame_rate, else r_frame_rate), as num/den
    rate: tuple[int, int] = (0, 1)


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
            [*_capped(limits), ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
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
    rate = _rational(stream)
    frame_rate = rate[0] / rate[1] if rate[1] else 0.0
    declared = int(stream.get("nb_frames") or 0) if str(stream.get("nb_frames") or "").isdigit() else 0
    frames = max(declared, round(duration * frame_rate))
    if frames > limits.max_frames:
        raise MediaTooLarge(
            f"the video declares {frames:,} frames ({duration:.0f} s at {frame_rate:.4g} frames/s); "
            f"at most {limits.max_frames:,} frames are accepted"
        )
    return VideoInfo(
        duration_s=duration, width=width, height=height,
        codec=str(stream.get("codec_name") or "unknown"), frame_rate=frame_rate, rate=rate,
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


def _rational(stream: dict) -> tuple[int, int]:
    """The stream's avg_frame_rate, or r_frame_rate when that is 0 (vPDQ's choice), as (num, den)."""
    for key in ("avg_frame_rate", "r_frame_rate"):
        num, _, den = str(stream.get(key) or "0/1").partition("/")
        try:
            n, d = int(num), int(den or 1)
        except ValueError:
            continue
        if n > 0 and d > 0:
            return n, d
    return 0, 1


@dataclass(frozen=True)
class FrameStream:
    """One output of a :func:`decode_pass`: ``every``: every n-th decoded frame at full size, in
    decoding order (vPDQ's selection); or ``fps``: frames at that rate (ffmpeg's ``fps`` filter,
    rounding up) scaled with area averaging so that the long side is at most ``max_side``. ``most``:
    stop after this many frames (default: what the probed duration or ``max_frames`` allows)."""

    every: int = 0
    fps: float = 0.0
    max_side: int = 0
    most: int | None = None
    reuse: bool = False  # every frame is read into the same buffer: the consumer must not keep it

    def size(self, info: VideoInfo) -> tuple[int, int]:
        if self.every:
            return info.width, info.height
        scale = min(1.0, self.max_side / max(info.width, info.height))
        return max(2, round(info.width * scale / 2) * 2), max(2, round(info.height * scale / 2) * 2)

    def chain(self, info: VideoInfo) -> str:
        if self.every:
            # vPDQ converts each frame to RGB24 with swscale's bilinear filter (bit for bit; 10-bit and 4:4:4 need it)
            return f"select='not(mod(n\\,{self.every}))',scale=flags=bilinear,format=rgb24"
        width, height = self.size(info)
        return f"fps={self.fps}:round=up,scale={width}:{height}:flags=area"

    def limit(self, info: VideoInfo, limits: VideoLimits) -> int:
        if self.most is not None:
            return self.most
        if self.every:
            return limits.max_frames // self.every + 1
        return int(info.duration_s * self.fps) + 2


#: A consumer gets an iterator of ``(index, HxWx3 uint8 RGB)`` and reads as much of it as it likes.
Consumer = Callable[[Iterator[tuple[int, "np.ndarray"]]], None]


# --- how many videos decode at once --------------------------------------------------------------

_video_slots_size = max(1, int(_env("NCII_SHIELD_MAX_VIDEO_DECODES", 0)) or (os.cpu_count() or 2) // 2)
_video_slots = threading.BoundedSemaphore(_video_slots_size)


def max_concurrent_video_decodes() -> int:
    """How many videos this process decodes at once (``NCII_SHIELD_MAX_VIDEO_DECODES``, default half
    the CPUs, at least one): each decoder may use ``VideoLimits.threads`` threads and
    ``decoder_memory_mb`` of memory, so a burst of uploads costs at most this many of them."""
    return _video_slots_size


def set_max_concurrent_video_decodes(n: int) -> None:
    """Change the number of video decode slots (for embedding and tests); decodes under way keep theirs."""
    global _video_slots, _video_slots_size
    if n < 1:
        raise ValueError("at least one video decode slot is needed")
    _video_slots, _video_slots_size = threading.BoundedSemaphore(n), n


def decode_pass(path: str | os.PathLike[str], info: VideoInfo, streams: list[tuple[FrameStream, Consumer]], *,
                limits: VideoLimits = DEFAULT_VIDEO_LIMITS) -> None:
    """Decode a probed video **once** (one ``ffmpeg`` child) into several frame streams, each read by
    its consumer in its own thread as frames arrive (nothing is buffered beyond a pipe and one frame
    per stream). The child runs with ``limits.threads`` decoder threads, an address-space limit of
    ``limits.decoder_memory_mb`` and ``limits.decoder_cpu_s`` of CPU, without autorotation (vPDQ reads
    coded frames); it is killed after ``limits.max_decode_s``. Raises :class:`MediaTooLarge` when a
    limit stopped the decode, :class:`UndecodableVideo` when the decoder failed, or what a consumer
    raised. At most :func:`max_concurrent_video_decodes` decode passes run at once in a process (each
    waits for a slot before its decoder starts), so a burst of video uploads costs at most that many
    decoders' memory."""
    if not streams:
        return
    slots = _video_slots
    slots.acquire()
    try:
        _decode_pass(path, info, streams, limits=limits)
    finally:
        slots.release()


def _decode_pass(path: str | os.PathLike[str], info: VideoInfo, streams: list[tuple[FrameStream, Consumer]], *,
                 limits: VideoLimits) -> None:
    import numpy as np

    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise Unavailable("ffmpeg is not installed; install Debian's 'ffmpeg' package to hash videos")
    if not streams:
        return
    pipes = [os.pipe() for _ in streams]
    labels = [f"s{k}" for k in range(len(streams))]
    graph = f"[0:v:0]split={len(streams)}" + "".join(f"[i{k}]" for k in range(len(streams))) + ";" + ";".join(
        f"[i{k}]{stream.chain(info)}[{labels[k]}]" for k, (stream, _) in enumerate(streams))
    command = [ffmpeg, "-v", "error", "-nostdin", "-noautorotate", "-threads", str(limits.threads),
               "-i", str(path), "-filter_complex_threads", "1", "-filter_complex", graph]
    for k, (_, write) in enumerate(pipes):
        # "-threads 1" on each output: rawvideo's frame-threaded encoder (one thread a core) only copies
        # frames, and under the address-space cap its thread stacks failed to map with a message naming
        # no memory ("ff_frame_thread_encoder_init failed"; CI, 2026-12-06)
        command += ["-map", f"[{labels[k]}]", "-fps_mode", "passthrough", "-an", "-pix_fmt", "rgb24",
                    "-threads", "1", "-f", "rawvideo", f"pipe:{write}"]
    command = [*_capped(limits), *command]
    try:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, pass_fds=[w for _, w in pipes])
    except BaseException:
        for read, _ in pipes:
            os.close(read)
        raise
    finally:
        for _, write in pipes:
            os.close(write)
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        proc.kill()

    errors: list[BaseException] = []
    stderr_tail = bytearray()

    def drain_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            stderr_tail.extend(line)
            del stderr_tail[:-2000]

    def run(k: int) -> None:
        stream, consume = streams[k]
        width, height = stream.size(info)
        frame_bytes = width * height * 3
        most = stream.limit(info, limits)
        with os.fdopen(pipes[k][0], "rb", buffering=0) as handle:
            def frames() -> Iterator[tuple[int, np.ndarray]]:
                shared = bytearray(frame_bytes) if stream.reuse else None
                for n in range(most):
                    raw = _read_exactly(handle, frame_bytes, shared)
                    if raw is None:
                        return
                    yield n, np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)

            try:
                consume(frames())
                while handle.read(1 << 20):  # what the consumer left: keep the decoder going
                    pass
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                errors.append(exc)
                kill()

    watchdog = threading.Timer(limits.max_decode_s, kill)
    threads = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(len(streams))]
    threads.append(threading.Thread(target=drain_stderr, daemon=True))
    watchdog.start()
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        code = proc.wait()
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if errors:
        raise errors[0]
    if killed.is_set():
        raise MediaTooLarge(f"the video took more than {limits.max_decode_s:g} s to decode; at most "
                            f"{limits.max_decode_s:g} s are spent on one video")
    if code != 0:
        detail = bytes(stderr_tail).decode("utf-8", "replace").strip().splitlines()
        reason = detail[-1][:200] if detail else f"exit status {code}"
        if code in (-9, -24):  # SIGKILL / SIGXCPU from RLIMIT_CPU (our own kill is the deadline above)
            raise MediaTooLarge(f"decoding the video needed more than {limits.decoder_cpu_s:g} s of CPU; "
                                f"at most {limits.decoder_cpu_s:g} s are spent on one video")
        if any(m in bytes(stderr_tail).decode("utf-8", "replace").lower() for m in _OUT_OF_MEMORY):
            raise MediaTooLarge(f"decoding the video needed more than {limits.decoder_memory_mb} MB of memory; "
                                f"the decoder gets at most {limits.decoder_memory_mb} MB ({reason})")
        raise UndecodableVideo(f"the video could not be decoded ({reason}); accepted: a video stream FFmpeg decodes")


# what FFmpeg prints when the address-space cap stops an allocation: malloc's ENOMEM, a library's mmap,
# and a thread whose stack could not be mapped (pthread_create's EAGAIN; the thread pools' init failures)
_OUT_OF_MEMORY = ("allocate", "map segment", "out of memory", "resource temporarily unavailable",
                  "thread_init failed", "thread_encoder_init failed")


def _capped(limits: VideoLimits) -> list[str]:
    """The ``prlimit`` prefix (util-linux) giving a decoding child its address space and CPU time; ffprobe
    decodes the first frames too (213 MB for an 8192 x 8192 frame)."""
    prlimit = shutil.which("prlimit")
    if prlimit is None:  # pragma: no cover - util-linux is on every Debian
        return []
    return [prlimit, f"--as={limits.decoder_memory_mb * _MIB}", f"--cpu={max(1, math.ceil(limits.decoder_cpu_s))}", "--"]


def _read_exactly(handle, size: int, buffer: bytearray | None = None) -> bytearray | None:  # noqa: ANN001
    """``size`` bytes from a pipe into ``buffer`` or a new one (no copies), or None at its end (a
    partial last frame is dropped)."""
    buffer = bytearray(size) if buffer is None else buffer
    view, got = memoryview(buffer), 0
    while got < size:
        n = handle.readinto(view[got:])
        if not n:
            return None
        got += n
    return buffer


def sample_frames(
    path: str | os.PathLike[str], info: VideoInfo, *, fps: float = 2.0, max_side: int = 320,
    limits: VideoLimits = DEFAULT_VIDEO_LIMITS,
) -> Iterator[tuple[float, np.ndarray]]:
    """Frames of a probed video at ``fps`` as ``(seconds, HxWx3 uint8 RGB)``, scaled so that the long
    side is at most ``max_side``: one :func:`decode_pass` with one stream, read in this thread's
    pace (at most ``duration x fps + 2`` frames; the decode pass's limits apply)."""
    import queue

    frames: queue.Queue = queue.Queue(maxsize=4)
    done, stop = object(), threading.Event()

    def put(item: object) -> None:
        while not stop.is_set():
            try:
                frames.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Stopped

    def consume(items: Iterator[tuple[int, np.ndarray]]) -> None:
        for n, rgb in items:
            put((n / fps, rgb))

    def produce() -> None:
        try:
            decode_pass(path, info, [(FrameStream(fps=fps, max_side=max_side), consume)], limits=limits)
            put(done)
        except _Stopped:
            pass
        except BaseException as exc:  # noqa: BLE001 - raised in the reader
            try:
                put(exc)
            except _Stopped:
                pass

    worker = threading.Thread(target=produce, daemon=True)
    worker.start()
    try:
        while True:
            item = frames.get()
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()  # a reader that stops early ends the decode
        worker.join()


class _Stopped(Exception):
    """The reader of :func:`sample_frames` stopped early."""
