"""Videos as they spread (issue 21): a clip, a compilation, a mirrored and a letterboxed copy of a
banked video match with the right segments; a video sharing only a 1-second intro does not.

Material: a 12-second slideshow of four photos of the PDQ reference (tests/data/pdq-reference,
BSD, see its LICENSE-NOTE.md) with slow pans, and ffmpeg's synthetic sources. Needs ffmpeg and vpdq.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ncii_shield.index.vpdq import VpdqIndex
from ncii_shield.signals.vpdq import frames_to_value, hash_query_video, hash_video_frames

pytestmark = [pytest.mark.video, pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs Debian's ffmpeg")]

PHOTOS = Path(__file__).parents[1] / "data" / "pdq-reference"
BANKED, INTRO_BANKED = 1, 2
SIZE = "320x240"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=120)


def slideshow(out: Path, photos: list[str], seconds: float) -> None:
    """Each photo ``seconds`` long, scaled to 400 px and panned slowly (8 px/s right, 6 px/s down)."""
    inputs, chains = [], []
    for i, name in enumerate(photos):
        inputs += ["-loop", "1", "-framerate", "10", "-t", str(seconds), "-i", str(PHOTOS / name)]
        chains.append(f"[{i}:v]scale=400:400,crop=320:240:x='t*8':y='t*6',setsar=1[v{i}]")
    joined = "".join(f"[v{i}]" for i in range(len(photos)))
    ffmpeg(*inputs, "-filter_complex", ";".join(chains) + f";{joined}concat=n={len(photos)}:v=1,format=yuv420p",
           "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", str(out))


def synthetic(out: Path, source: str, seconds: float) -> None:
    ffmpeg("-f", "lavfi", "-t", str(seconds), "-i", f"{source}=size={SIZE}:rate=10", "-pix_fmt", "yuv420p",
           "-c:v", "libx264", "-preset", "ultrafast", str(out))


def concat(out: Path, *parts: Path) -> None:
    inputs = [a for p in parts for a in ("-i", str(p))]
    joined = "".join(f"[{i}:v]" for i in range(len(parts)))
    ffmpeg(*inputs, "-filter_complex", f"{joined}concat=n={len(parts)}:v=1,format=yuv420p",
           "-c:v", "libx264", "-preset", "ultrafast", str(out))


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("spread")
    v = {name: d / f"{name}.mp4" for name in
         ("banked", "clip", "other", "tail", "compilation", "mirrored", "letterboxed", "intro",
          "intro_banked", "intro_other", "mandelbrot", "corner_cropped")}
    slideshow(v["banked"], ["bridge-mods/aaa-orig.jpg", "reg-test-input/labelme-subset/q0122.jpg",
                            "reg-test-input/exif-rotn/exif-rotn-1.jpg", "reg-test-input/labelme-subset/q0291.jpg"], 3)
    ffmpeg("-ss", "4.3", "-i", str(v["banked"]), "-t", "6", "-c:v", "libx264", "-preset", "ultrafast", str(v["clip"]))
    synthetic(v["other"], "testsrc2", 5)
    synthetic(v["tail"], "cellauto", 5)
    concat(v["compilation"], v["other"], v["banked"], v["tail"])
    ffmpeg("-i", str(v["banked"]), "-vf", "hflip", "-c:v", "libx264", "-preset", "ultrafast", str(v["mirrored"]))
    ffmpeg("-i", str(v["banked"]), "-vf", "scale=320:180,pad=320:320:0:70", "-c:v", "libx264", "-preset",
           "ultrafast", str(v["letterboxed"]))
    ffmpeg("-i", str(v["banked"]), "-vf", "crop=iw*0.9:ih*0.9:iw*0.1:0,scale=320:240", "-c:v", "libx264",
           "-preset", "ultrafast", str(v["corner_cropped"]))  # 10 % cut from the top-right corner, enlarged
    slideshow(v["intro"], ["reg-test-input/labelme-subset/q1050.jpg"], 1)
    synthetic(v["mandelbrot"], "mandelbrot", 10)
    concat(v["intro_banked"], v["intro"], v["mandelbrot"])
    concat(v["intro_other"], v["intro"], v["other"], v["tail"])
    return v


@pytest.fixture(scope="module")
def index(videos) -> VpdqIndex:
    index = VpdqIndex()
    index.add(frames_to_value(hash_video_frames(videos["banked"])), BANKED)
    index.add(frames_to_value(hash_video_frames(videos["intro_banked"])), INTRO_BANKED)
    return index


def check(index: VpdqIndex, path: Path, rule: str = "spread"):
    return index.video_matches(hash_video_frames(path), extra=hash_query_video(path), rule=rule)


def near(actual: tuple[float, float], expected: tuple[float, float], slack: float = 1.0) -> bool:
    return abs(actual[0] - expected[0]) <= slack and abs(actual[1] - expected[1]) <= slack


def test_the_banked_video_itself_matches_under_both_rules(index, videos):
    for rule in ("spread", "reference"):
        (match,) = check(index, videos["banked"], rule)
        assert match.signal_id == BANKED and match.variant == "original"
        assert near(match.segments[0].upload, (0, 12)) and near(match.segments[0].banked, (0, 12))


def test_a_clip_matches_with_its_place_in_the_banked_video(index, videos):
    (match,) = check(index, videos["clip"])
    assert match.signal_id == BANKED
    (segment,) = match.segments
    assert near(segment.upload, (0, 6)) and near(segment.banked, (4.3, 10.3))
    assert abs(segment.speed - 1) < 0.1
    assert match.query_share > 80 and match.compared_share < 70


def test_a_compilation_matches_where_the_banked_video_sits(index, videos):
    (match,) = check(index, videos["compilation"])
    assert match.signal_id == BANKED
    (segment,) = match.segments
    assert near(segment.upload, (5, 17)) and near(segment.banked, (0, 12))
    assert match.compared_share > 80 and match.query_share < 60
    assert check(index, videos["compilation"], "reference") == []  # the reference rule misses it


@pytest.mark.parametrize(("name", "variant"), [("mirrored", "mirrored"), ("letterboxed", "border-cropped")])
def test_mirrored_and_letterboxed_copies_match_through_their_readings(index, videos, name, variant):
    (match,) = check(index, videos[name])
    assert match.signal_id == BANKED and match.variant == variant
    assert near(match.segments[0].upload, (0, 12)) and near(match.segments[0].banked, (0, 12))
    assert check(index, videos[name], "reference") == []


def test_a_corner_cropped_copy_matches_through_its_crop_reading(index, videos):
    plain = index.video_matches(hash_video_frames(videos["corner_cropped"]), rule="spread")
    assert plain == []  # per-frame PDQ of a corner crop is far from the banked frames
    (match,) = check(index, videos["corner_cropped"])
    assert match.signal_id == BANKED and match.variant.startswith("cropped-")
    kept, _, left, top = match.variant.removeprefix("cropped-").split("-")  # cropped-90-at-10-0, cropped-89x90-at-...
    assert all(abs(int(k) - 90) <= 2 for k in kept.split("x"))  # 10 % cut at the top-right
    assert abs(int(left) - 10) <= 2 and int(top) <= 2
    assert 3 <= match.matched_seconds <= 12.5  # part of the 12 s: only some frames come close enough
    assert all(abs(s.speed - 1) < 0.1 and abs((s.banked[0] - s.upload[0])) <= 1.0 for s in match.segments)
    assert check(index, videos["corner_cropped"], "reference") == []


def test_a_video_sharing_only_a_one_second_intro_does_not_match(index, videos):
    assert check(index, videos["intro_other"]) == []
    assert [m.signal_id for m in check(index, videos["intro_banked"])] == [INTRO_BANKED]


def test_readings_of_a_file_without_video_are_refused(tmp_path):
    from ncii_shield.errors import UndecodableVideo

    audio = tmp_path / "audio.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", str(audio))
    with pytest.raises(UndecodableVideo):
        hash_query_video(audio)
