"""The hostile-video budget: peak memory and CPU time of checking crafted videos.

Crafted videos declare the largest frames and the longest durations the limits let through
(``media/video.VideoLimits``: 8192 x 8192 pixels a frame, 3 hours), in a few hundred KB. Each is
checked in a fresh process as the upload pipeline does: ``probe_video`` (ffprobe), then the query
hash (``hash_query_video``: frames sampled and scaled by an ``ffmpeg`` child) and the bank hash
(``hash_video_frames``: vPDQ's libav inside this process). Peak memory is the growth of this process's
peak RSS (VmHWM, reset just before) and, apart, the largest peak RSS of its children (ffprobe,
ffmpeg); CPU is this process's and its children's::

    .venv/bin/python bench/hostile_videos.py --out /tmp/ncii-hostile-videos

Results go in docs/reliability.md ("Hostile videos"). The videos are flat grey (harmless).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# name: (width, height, seconds, frame rate, codec)
VIDEOS = {
    "h264-8192x8192-2s": (8192, 8192, 2, 1, "libx264"),
    "h264-3840x2160-60s": (3840, 2160, 60, 30, "libx264"),
    "h264-320x240-3h-1fps": (320, 240, 3 * 3600 - 60, 1, "libx264"),
    "vp9-4096x4096-2s": (4096, 4096, 2, 1, "libvpx-vp9"),
}


def make(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, (width, height, seconds, rate, codec) in VIDEOS.items():
        path = out / (name + (".webm" if codec == "libvpx-vp9" else ".mp4"))
        if not path.exists():
            extra = ["-preset", "ultrafast"] if codec == "libx264" else ["-deadline", "realtime", "-cpu-used", "8"]
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c=gray:s={width}x{height}:r={rate}",
                            "-t", str(seconds), "-c:v", codec, *extra, "-pix_fmt", "yuv420p", str(path)], check=True)
            print(f"made {path.name} ({path.stat().st_size:,} bytes)", file=sys.stderr)
        paths.append(path)
    return paths


def measure(path: Path, step: str) -> dict:
    """Runs in the child: probe, then one hashing step."""
    from ncii_shield.media.video import probe_video
    from ncii_shield.signals.vpdq import hash_query_video, hash_video_frames

    Path("/proc/self/clear_refs").write_text("5")
    before = _rss_kb("VmRSS")
    cpu = time.process_time()
    wall = time.perf_counter()
    try:
        info = probe_video(path)
        frames = hash_query_video(path) if step == "query" else hash_video_frames(path)
        outcome = f"{len(frames)} frames"
    except Exception as exc:  # noqa: BLE001 - the outcome is part of the measurement
        outcome = type(exc).__name__
        info = None
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"file": path.name, "step": step, "peak_mb": round((_rss_kb("VmHWM") - before) / 1024, 1),
            "children_peak_mb": round(children.ru_maxrss / 1024, 1),
            "cpu_s": round(time.process_time() - cpu + children.ru_utime + children.ru_stime, 2),
            "wall_s": round(time.perf_counter() - wall, 2), "outcome": outcome,
            "size": f"{info.width}x{info.height}, {info.duration_s:.0f} s" if info else ""}


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "ncii-hostile-videos")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--step", default="query", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.step)))
        return
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg is needed to make the videos")
    print("| file | bytes | step | this process: peak MB | children: peak MB | CPU s | wall s | outcome |")
    print("|---|---:|---|---:|---:|---:|---:|---|")
    for path in make(args.out):
        for step in ("query", "bank"):
            done = subprocess.run([sys.executable, __file__, "--measure", str(path), "--step", step],
                                  capture_output=True, text=True, timeout=1800, check=False)
            if done.returncode:
                print(f"| {path.name} | {path.stat().st_size:,} | {step} | crashed ({done.returncode}) | | | | |")
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"| {path.name} ({r['size']}) | {path.stat().st_size:,} | {step} | {r['peak_mb']} | "
                  f"{r['children_peak_mb']} | {r['cpu_s']} | {r['wall_s']} | {r['outcome']} |", flush=True)


if __name__ == "__main__":
    main()
