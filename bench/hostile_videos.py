"""The hostile-video budget: peak memory and CPU time of checking crafted videos.

Crafted videos declare the largest frames, the longest durations and the most frames the limits
(``media/video.VideoLimits``: 4096 x 2160 pixels a frame, 3 hours, 324,000 frames) let through, and
some just past them, in a few hundred KB. Each is checked in a fresh process as the upload pipeline
does: ``decode_video`` (ffprobe, then one ``ffmpeg`` decode pass giving the reference vPDQ frames,
the query-side readings and 16 frames for the photo detectors). Peak memory is the growth of this
process's peak RSS (VmHWM, reset just before, after every library and JIT-compiled function is
loaded) and, apart, the largest peak RSS of its children (ffprobe, ffmpeg); CPU is this process's
and its children's. ``--reference`` also measures the reference ``vpdq`` package (its own decoder, in
this process) for comparison::

    .venv/bin/python bench/hostile_videos.py --out /tmp/ncii-hostile-videos [--reference]

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
    "h264-8192x8192-2s": (8192, 8192, 2, 1, "libx264"),  # over the frame limit: refused
    "h264-4096x2160-2s": (4096, 2160, 2, 1, "libx264"),  # the frame limit
    "vp9-4096x2160-2s": (4096, 2160, 2, 1, "libvpx-vp9"),
    "h264-3840x2160-60s": (3840, 2160, 60, 30, "libx264"),
    "h264-320x240-3h-1fps": (320, 240, 3 * 3600 - 60, 1, "libx264"),  # the duration limit
    "h264-64x64-10min-1000fps": (64, 64, 600, 1000, "libx264"),  # 600,000 frames: over the frame limit
}


def make(out: Path, only: set[str] | None = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, (width, height, seconds, rate, codec) in VIDEOS.items():
        if only and name not in only:
            continue
        path = out / (name + (".webm" if codec == "libvpx-vp9" else ".mp4"))
        if not path.exists():
            extra = ["-preset", "ultrafast"] if codec == "libx264" else ["-deadline", "realtime", "-cpu-used", "8"]
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c=gray:s={width}x{height}:r={rate}",
                            "-t", str(seconds), "-c:v", codec, *extra, "-pix_fmt", "yuv420p", str(path)], check=True)
            print(f"made {path.name} ({path.stat().st_size:,} bytes)", file=sys.stderr)
        paths.append(path)
    return paths


def measure(path: Path, step: str) -> dict:
    """Runs in the child: everything loaded first, then one check of ``path``."""
    import numpy as np

    from ncii_shield.signals.frames import hash_query_frames
    from ncii_shield.signals.vpdq import _frame_pdq, decode_video, hash_video_frames_reference

    _frame_pdq(np.zeros((1200, 1600, 3), np.uint8))  # the streamed PDQ's compiled functions
    _frame_pdq(np.zeros((120, 160, 3), np.uint8))
    hash_query_frames([(float(i), np.full((180, 320, 3), 9 * i, np.uint8)) for i in range(6)])
    watch = _ChildPeak()
    Path("/proc/self/clear_refs").write_text("5")
    before = _rss_kb("VmRSS")
    cpu = time.process_time()
    wall = time.perf_counter()
    try:
        if step == "upload":
            decoded = decode_video(path, readings=True, stills=16)
            outcome = f"{len(decoded.frames)} frames, {len(decoded.readings)} readings, {len(decoded.stills)} stills"
        else:
            outcome = f"{len(hash_video_frames_reference(path))} frames"
    except Exception as exc:  # noqa: BLE001 - the outcome is part of the measurement
        outcome = f"{type(exc).__name__}: {str(exc)[:110]}"
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    watch.stop()
    return {"file": path.name, "step": step, "peak_mb": round((_rss_kb("VmHWM") - before) / 1024, 1),
            "children_peak_mb": round(watch.peak_kb / 1024, 1),
            "cpu_s": round(time.process_time() - cpu + children.ru_utime + children.ru_stime, 2),
            "wall_s": round(time.perf_counter() - wall, 2), "outcome": outcome}


class _ChildPeak:
    """The largest VmHWM of this process's children (ffprobe, ffmpeg), read from /proc every 20 ms
    (``RUSAGE_CHILDREN`` would count a child's pages from before its exec: this process's size)."""

    def __init__(self) -> None:
        import threading

        self.peak_kb, self._done = 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(0.02):
            for task in Path("/proc/self/task").iterdir():
                try:
                    pids = (task / "children").read_text().split()
                except OSError:
                    continue
                for pid in pids:
                    try:
                        status = Path(f"/proc/{pid}/status").read_text()
                    except OSError:
                        continue
                    if not any(f"\nName:\t{name}\n" in "\n" + status for name in ("ffmpeg", "ffprobe")):
                        continue  # not yet exec'd (a fork counts this process's pages) or prlimit
                    for line in status.splitlines():
                        if line.startswith("VmHWM:"):
                            self.peak_kb = max(self.peak_kb, int(line.split()[1]))

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "ncii-hostile-videos")
    parser.add_argument("--reference", action="store_true", help="also measure the reference vpdq package")
    parser.add_argument("--only", help="comma-separated names from VIDEOS")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--step", default="upload", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.step)))
        return
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg is needed to make the videos")
    only = set(args.only.split(",")) if args.only else None
    print("| file | bytes | step | this process: peak MB | children: peak MB | CPU s | wall s | outcome |")
    print("|---|---:|---|---:|---:|---:|---:|---|")
    for path in make(args.out, only):
        for step in ("upload", "reference") if args.reference else ("upload",):
            done = subprocess.run([sys.executable, __file__, "--measure", str(path), "--step", step],
                                  capture_output=True, text=True, timeout=3600, check=False)
            if done.returncode:
                print(f"| {path.name} | {path.stat().st_size:,} | {step} | crashed ({done.returncode}) | | | | |")
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"| {path.name} | {path.stat().st_size:,} | {step} | {r['peak_mb']} | "
                  f"{r['children_peak_mb']} | {r['cpu_s']} | {r['wall_s']} | {r['outcome']} |", flush=True)


if __name__ == "__main__":
    main()
