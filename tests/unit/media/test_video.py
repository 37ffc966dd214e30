"""vPDQ of generated videos (ffmpeg testsrc): stable, robust to re-encoding; bad videos rejected."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ncii_shield.errors import EmptyMedia, MediaTooLarge, UndecodableVideo
from ncii_shield.media.video import VideoLimits, probe_video, video_file_from_bytes
from ncii_shield.services.hashing import HashOptions, hash_bytes, hash_path
from ncii_shield.signals.vpdq import VpdqSignal, match_shares, value_to_frames

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs Debian's ffmpeg")


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=120)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("videos")
    out = {name: d / f"{name}" for name in
           ("original.mp4", "reencoded.mp4", "webm.webm", "other.mp4", "audio.m4a")}
    ffmpeg("-f", "lavfi", "-i", "testsrc=duration=6:size=320x240:rate=25", "-pix_fmt", "yuv420p",
           "-c:v", "libx264", "-crf", "18", str(out["original.mp4"]))
    ffmpeg("-i", str(out["original.mp4"]), "-c:v", "libx264", "-crf", "28", "-preset", "fast",
           str(out["reencoded.mp4"]))
    ffmpeg("-i", str(out["original.mp4"]), "-c:v", "libvpx-vp9", "-b:v", "300k", str(out["webm.webm"]))
    ffmpeg("-f", "lavfi", "-i", "mandelbrot=size=320x240:rate=25", "-t", "6", "-pix_fmt", "yuv420p",
           str(out["other.mp4"]))
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", str(out["audio.m4a"]))
    return out


def test_vpdq_frames_have_the_reference_shape(videos):
    result = hash_path(videos["original.mp4"])
    assert result.content_type == "video"
    assert len(result.frames) == 6  # one hash per second
    assert [f.timestamp for f in result.frames] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert [f.frame for f in result.frames] == [0, 25, 50, 75, 100, 125]
    assert all(len(f.pdq) == 64 and 0 <= f.quality <= 100 for f in result.frames)
    js = result.to_json()
    assert set(js) == {"path", "content_type", "vpdq", "md5", "sha256"}
    assert set(js["vpdq"][0]) == {"frame", "timestamp", "pdq", "quality"}


def test_vpdq_is_stable(videos):
    assert hash_path(videos["original.mp4"]).frames == hash_path(videos["original.mp4"]).frames


@pytest.mark.parametrize("copy", ["reencoded.mp4", "webm.webm"])
def test_reencoded_video_is_near_identical(videos, copy):
    a = hash_path(videos["original.mp4"])
    b = hash_path(videos[copy])
    assert a.md5 != b.md5
    query, compared = match_shares(a.frames, b.frames)
    assert query == 100.0 and compared == 100.0
    assert VpdqSignal.matches(a.vpdq, b.vpdq)


def test_different_video_does_not_match(videos):
    a, b = hash_path(videos["original.mp4"]), hash_path(videos["other.mp4"])
    assert not VpdqSignal.matches(a.vpdq, b.vpdq)
    assert max(match_shares(a.frames, b.frames)) < 50


def test_value_round_trips_python_threatexchange_format(videos):
    value = hash_path(videos["original.mp4"]).vpdq
    assert VpdqSignal.validate(value) == value
    from threatexchange.extensions.vpdq.vpdq_util import json_to_vpdq

    theirs = json_to_vpdq(value)
    assert [f.pdq_hex for f in theirs] == [f.pdq for f in value_to_frames(value)]


def test_video_from_bytes_is_hashed_and_the_temp_file_deleted(videos):
    data = videos["original.mp4"].read_bytes()
    seen: list[Path] = []
    with video_file_from_bytes(data) as path:
        seen.append(path)
        assert path.exists()
    assert not seen[0].exists()
    assert hash_bytes(data).frames == hash_path(videos["original.mp4"]).frames


def test_audio_only_file_is_undecodable(videos):
    with pytest.raises(UndecodableVideo, match="not a video"):
        hash_path(videos["audio.m4a"])


def test_truncated_video_is_undecodable(videos, tmp_path):
    data = videos["original.mp4"].read_bytes()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(data[:2000])
    with pytest.raises(UndecodableVideo):
        hash_path(broken)


def test_garbage_with_a_video_header_is_undecodable(tmp_path):
    path = tmp_path / "fake.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    with pytest.raises(UndecodableVideo):
        hash_path(path)


def test_empty_video(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(EmptyMedia):
        probe_video(path)


def test_video_limits(videos):
    with pytest.raises(MediaTooLarge, match="lasts"):
        hash_path(videos["original.mp4"], HashOptions(video_limits=VideoLimits(max_duration_s=3)))
    with pytest.raises(MediaTooLarge, match="bytes"):
        hash_path(videos["original.mp4"], HashOptions(video_limits=VideoLimits(max_bytes=1000)))
    with pytest.raises(MediaTooLarge, match="pixels"):
        hash_path(videos["original.mp4"], HashOptions(video_limits=VideoLimits(max_pixels=320 * 200)))


def test_video_decodes_wait_for_a_slot(videos):
    """With one video decode slot, two uploads decoding at once take turns: the second decoder starts
    only when the first pass has ended (a burst of videos costs at most the slots' decoders), and
    both still get every frame."""
    import threading
    import time

    from ncii_shield.media.video import (FrameStream, decode_pass, max_concurrent_video_decodes,
                                         set_max_concurrent_video_decodes)

    before = max_concurrent_video_decodes()
    set_max_concurrent_video_decodes(1)
    spans: list[tuple[float, float, int]] = []

    def slow(items) -> None:  # noqa: ANN001 - a consumer that takes its time
        first, n = None, 0
        for _ in items:
            first = first or time.monotonic()
            n += 1
            time.sleep(0.05)
        spans.append((first, time.monotonic(), n))

    def one() -> None:
        path = videos["original.mp4"]
        decode_pass(path, probe_video(path), [(FrameStream(fps=2, max_side=64), slow)])

    try:
        threads = [threading.Thread(target=one) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        set_max_concurrent_video_decodes(before)
    assert len(spans) == 2 and all(n >= 12 for _, _, n in spans), spans
    (a0, a1, _), (b0, b1, _) = sorted(spans)
    assert b0 >= a1, f"the second decode began at {b0 - a0:.2f} s, before the first ended at {a1 - a0:.2f} s"
    with pytest.raises(ValueError):
        set_max_concurrent_video_decodes(0)


@pytest.mark.parametrize("stderr", [
    # what Debian's FFmpeg 5.1 printed on CI when the 400-MB cap stopped rawvideo's frame-thread encoder
    # from mapping its threads' stacks (the race is timing-dependent, so the message is replayed here)
    "[rawvideo @ 0x55a11eb8f640] ff_frame_thread_encoder_init failed\nError initializing output stream 0:0 -- "
    "Error while opening encoder for output stream #0:0 - maybe incorrect parameters such as bit_rate",
    "[rawvideo @ 0x5555e925eb80] Failed to allocate packet of size 26542080\nget_encode_buffer() failed",
    "Error while filtering: Cannot allocate memory",
    "[h264 @ 0x55] pthread_create failed: Resource temporarily unavailable",
])
def test_a_decoder_stopped_by_its_memory_cap_is_named_so(videos, tmp_path, monkeypatch, stderr):
    """The decoder's failure is read from its messages: each way FFmpeg reports a failed allocation
    under the address-space cap is a 413 naming the cap, not "could not be decoded". A stand-in
    ``ffmpeg`` (a script first on PATH) replays the messages: the real failures depend on which of the
    decoder's threads allocates first, so they cannot be produced on demand; the real decoder under a
    real cap is tests/security/test_hostile_videos.py's."""
    from ncii_shield.media.video import FrameStream, decode_pass

    path = videos["original.mp4"]
    info = probe_video(path)  # the real ffprobe
    fake = tmp_path / "bin" / "ffmpeg"
    fake.parent.mkdir()
    (tmp_path / "stderr.txt").write_text(stderr + "\n")
    fake.write_text(f"#!/bin/sh\ncat {tmp_path / 'stderr.txt'} >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    with pytest.raises(MediaTooLarge, match="more than 321 MB of memory"):
        decode_pass(path, info, [(FrameStream(fps=2, max_side=64), lambda items: list(items))],
                    limits=VideoLimits(decoder_memory_mb=321))


def test_a_decoder_failing_otherwise_is_undecodable(videos, tmp_path, monkeypatch):
    from ncii_shield.media.video import FrameStream, decode_pass

    path = videos["original.mp4"]
    info = probe_video(path)
    fake = tmp_path / "bin" / "ffmpeg"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'Invalid data found when processing input' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    with pytest.raises(UndecodableVideo, match="Invalid data found"):
        decode_pass(path, info, [(FrameStream(fps=2, max_side=64), lambda items: list(items))])
