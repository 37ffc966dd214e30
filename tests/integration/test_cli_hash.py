"""``ncii-shield hash`` run as a real process: JSON lines, table, exit codes, bad files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import ORIGINAL_JPG, PDQ_REFERENCE, encode

ORIGINAL_PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
CLI = [sys.executable, "-m", "ncii_shield.cli"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_json_lines_for_photos_and_failures(tmp_path):
    bad = tmp_path / "bomb.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    proc = run("hash", "--json", str(ORIGINAL_JPG), str(bad), str(empty), str(tmp_path / "missing.jpg"))
    assert proc.returncode == 1, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 4
    first = lines[0]
    assert first == {
        "path": str(ORIGINAL_JPG), "content_type": "photo", "pdq": ORIGINAL_PDQ, "pdq_quality": 100,
        "md5": first["md5"], "sha256": first["sha256"],
    }
    assert len(first["md5"]) == 32 and len(first["sha256"]) == 64
    assert set(lines[1]) == {"path", "error"} and "accepted" in lines[1]["error"]
    assert "empty" in lines[2]["error"]
    assert lines[3]["error"] == "no such file"


def test_all_good_exits_zero_and_recursive_walks_folders(tmp_path):
    folder = tmp_path / "photos" / "nested"
    folder.mkdir(parents=True)
    with Image.open(ORIGINAL_JPG) as im:
        (folder / "a.png").write_bytes(encode(im.convert("RGB"), "PNG"))
    shutil.copy(ORIGINAL_JPG, tmp_path / "photos" / "b.jpg")
    proc = run("hash", "--json", "--recursive", str(tmp_path / "photos"))
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [Path(x["path"]).name for x in lines] == ["b.jpg", "a.png"]
    assert all(x["pdq"] == ORIGINAL_PDQ for x in lines)


def test_folder_without_recursive_is_an_error_that_suggests_it(tmp_path):
    proc = run("hash", "--json", str(tmp_path))
    assert proc.returncode == 1
    assert "--recursive" in json.loads(proc.stdout)["error"]


def test_stored_pixels_flag():
    rotated = PDQ_REFERENCE / "reg-test-input" / "exif-rotn" / "exif-rotn-6.jpg"
    seen = json.loads(run("hash", "--json", str(rotated)).stdout)["pdq"]
    stored = json.loads(run("hash", "--json", "--stored-pixels", str(rotated)).stdout)["pdq"]
    expected = {r.split("\t")[0]: r.split("\t") for r in (PDQ_REFERENCE / "expected.tsv").read_text().splitlines()}
    row = expected["reg-test-input/exif-rotn/exif-rotn-6.jpg"]
    assert stored == row[1] and seen == row[3] and seen != stored


def test_table_output_and_dihedral():
    proc = run("hash", "--dihedral", str(ORIGINAL_JPG))
    assert proc.returncode == 0
    assert ORIGINAL_PDQ in proc.stdout
    assert "rotate90" in proc.stdout and "flip_minus1" in proc.stdout


def test_usage_error_exits_two():
    assert run("hash").returncode == 2
    assert run("hash", "--no-such-flag", str(ORIGINAL_JPG)).returncode == 2


def test_help_teaches_with_examples():
    out = run("hash", "--help").stdout
    assert "Examples" in out and "--json" in out and "--stored-pixels" in out
    assert "Exit status" in out


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
def test_video_json_line(tmp_path):
    video = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=duration=3:size=160x120:rate=10",
                    "-pix_fmt", "yuv420p", str(video)], check=True, timeout=60)
    line = json.loads(run("hash", "--json", str(video)).stdout)
    assert line["content_type"] == "video"
    assert [f["timestamp"] for f in line["vpdq"]] == [0.0, 1.0, 2.0]
    assert set(line["vpdq"][0]) == {"frame", "timestamp", "pdq", "quality"}
