"""vPDQ from one bounded decode pass equals the reference ``vpdq`` package bit for bit (hashes,
qualities, frame numbers, timestamps), over the formats uploads arrive in; the same pass also gives
the query-side readings and the photo detectors' frames. Videos made by ffmpeg (synthetic sources
and a harmless CC0 test portrait with a slow zoom)."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from ncii_shield.media.video import probe_video, sample_frames
from ncii_shield.signals.vpdq import (
    decode_video,
    hash_query_video,
    hash_video_frames,
    hash_video_frames_reference,
)

pytestmark = [pytest.mark.video,
              pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs Debian's ffmpeg")]
vpdq = pytest.importorskip("vpdq")

ROOT = Path(__file__).resolve().parents[3]
PORTRAIT = next(iter(sorted((ROOT / "tests/data/faces").glob("ifaces-*.jpg"))), None)


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-nostdin", *args], check=True, timeout=120)


# name: (input args, output args) — each a way videos reach us
KINDS = {
    "h264-yuv420p.mp4": (["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "4"],
                         ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]),
    "vp9-ntsc-rate.webm": (["-f", "lavfi", "-i", "mandelbrot=size=256x144:rate=30000/1001", "-t", "4"],
                           ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"]),
    "h264-10bit.mkv": (["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=24", "-t", "3"],
                       ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le"]),
    "h264-444-odd-size.mp4": (["-f", "lavfi", "-i", "testsrc2=size=321x179:rate=25", "-t", "3"],
                              ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p"]),
    "mjpeg-full-range.avi": (["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "3"],
                             ["-c:v", "mjpeg", "-q:v", "5"]),
    "h264-pc-range.mp4": (["-f", "lavfi", "-i", "cellauto=size=320x180:rate=25", "-t", "3"],
                          ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-color_range", "pc"]),
    "mov-12.5fps.mov": (["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "4"],
                        ["-c:v", "libx264", "-preset", "ultrafast", "-r", "12.5"]),
}


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("one-pass")
    out = {}
    for name, (inputs, outputs) in KINDS.items():
        out[name] = d / name
        ffmpeg(*inputs, *outputs, str(out[name]))
    if PORTRAIT is not None:  # a photo with a slow zoom, 1.9 MP: hashed by the streamed PDQ
        out["portrait-zoom-1600x1200.mp4"] = d / "portrait-zoom-1600x1200.mp4"
        ffmpeg("-loop", "1", "-i", str(PORTRAIT), "-vf",
               "scale=1600:1200,zoompan=z='1+0.003*on':d=1:s=1600x1200:fps=25", "-t", "3",
               "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
               str(out["portrait-zoom-1600x1200.mp4"]))
    # a clip cut by stream copy (starts between key frames) and a variable frame rate
    base = out["h264-yuv420p.mp4"]
    out["stream-copy-clip.mp4"] = d / "stream-copy-clip.mp4"
    ffmpeg("-ss", "1.3", "-i", str(base), "-c", "copy", str(out["stream-copy-clip.mp4"]))
    out["variable-rate.mp4"] = d / "variable-rate.mp4"
    ffmpeg("-i", str(base), "-vf", "setpts='if(lt(N,40),PTS,PTS*1.7)'", "-fps_mode", "vfr", "-c:v", "libx264",
           "-preset", "ultrafast", str(out["variable-rate.mp4"]))
    return out


def rows(frames):
    return [(f.frame, f.timestamp, f.pdq, f.quality) for f in frames]


@pytest.mark.parametrize("name", [*KINDS, "portrait-zoom-1600x1200.mp4", "stream-copy-clip.mp4", "variable-rate.mp4"])
def test_one_pass_vpdq_equals_the_reference_package(videos, name):
    if name not in videos:
        pytest.skip("no CC0 portrait in tests/data/faces")
    reference = hash_video_frames_reference(videos[name])
    assert reference, name
    assert rows(hash_video_frames(videos[name])) == rows(reference)


def test_one_pass_gives_readings_and_frames_for_photo_detectors(videos):
    path = videos["h264-yuv420p.mp4"]
    decoded = decode_video(path, stills=4, still_side=160)
    assert rows(decoded.frames) == rows(hash_video_frames_reference(path))
    assert rows(decoded.readings) == rows(hash_query_video(path)) and decoded.readings
    assert {f.variant for f in decoded.readings} >= {"original", "mirrored"}
    assert 4 <= len(decoded.stills) <= 6  # about 4 frames, evenly spread
    assert all(rgb.shape == (90, 160, 3) for _, rgb in decoded.stills)
    assert [t for t, _ in decoded.stills] == sorted(t for t, _ in decoded.stills)


def test_a_reader_that_stops_early_ends_the_decoder(videos):
    path = videos["h264-yuv420p.mp4"]
    info = probe_video(path)
    before = threading.active_count()
    others = set(children())  # processes other tests of this worker started (a live server fixture)
    frames = sample_frames(path, info, fps=4)
    next(frames)
    assert set(children()) - others, "the decoder runs while frames are read"
    frames.close()
    deadline = time.monotonic() + 5
    while (threading.active_count() > before or set(children()) - others) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= before and not set(children()) - others


def children() -> list[str]:
    out = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():  # a child belongs to the thread that started it
        try:
            out += (task / "children").read_text().split()
        except FileNotFoundError:
            continue
    return out
