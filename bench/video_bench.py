"""Video as it spreads (issue 21): recall per transform family and false matches over every unrelated
pair, our "spread" rule beside python-threatexchange's reference rule in the same run; a scale run
over 100,000 banked videos; hashing throughput beside the reference ``vpdq`` package.

Usage::

    python bench/video_bench.py recall [--photos DIR] [--work DIR] [--videos 8] [--fps 2] [--workers 2] [--families F1,F2] [--json out.json]
    python bench/video_bench.py scale [--videos 100000] [--frames 100] [--upload-minutes 10]
    python bench/video_bench.py throughput [--seconds 60]
    python bench/video_bench.py upload [--upload-minutes 10] [--runs 1] [--after-only]

Material (harmless only): slideshows of ``../shared/data/photos`` with slow pans and zooms (each photo
5 s; the window zooms by 0-12 % and pans over at most 30 % of the free margin), rendered with OpenCV
and encoded by ffmpeg, and ffmpeg's synthetic sources (testsrc2, mandelbrot, cellauto, life).

**Recall run.** ``--videos`` banked slideshows (4 photos x 5 s = 20 s, 640 x 360, 25 frames/s; the
first starts with a 1-second intro shared with a negative) are hashed with the reference ``vpdq``
and indexed. Each is re-edited with every transform below (ffmpeg) and each copy is checked
end to end as the upload pipeline does: one decode pass (``decode_video``) gives the reference vPDQ of
the upload (bit for bit the ``vpdq`` package's) and our query-side readings (2 frames/s: as is,
mirrored, border-cropped when bars/still surrounds are found, and luma copies of the frame and of
its border-cropped part, read at check time at any crop of 2-16 %), then
``VpdqIndex.video_matches`` with rule "spread" and with rule "reference". Families
named "(held out)" were made after the readings and thresholds were chosen and never tuned on; "crop
(held out 2)" was written before the crop readings were re-tuned on the other sets (the first held-out
set had been looked at by then); "crop (dev)" and "crop (held out 3)" are random crops drawn with two
seeds (:func:`random_crop`), the first to tune on, the second written before any of its results were
seen and run only to measure. A copy counts as found
when its own banked video is matched. Negatives: unrelated slideshows of other photos, synthetic
sources, a video sharing only the 1-second intro, videos holding 2 seconds of a banked video between
unrelated footage. *False matches* are counted over every (upload, banked video) pair where the
upload was not made from that banked video: all negatives and all other copies against all banked
videos.

**Scale run.** ``--videos`` banked videos of ``--frames`` random frame hashes each (synthetic frames:
the timing of candidate search and alignment does not depend on what the frames show; random
hashes are the worst case for memory and the best case for candidate counts, documented), plus
one planted video. The upload: a ``--upload-minutes`` video's worth of frames (reference frames at
1/s and readings at 2/s, as is and mirrored, and each sampled frame's luma copy for the crops, smooth
random pictures, read at check time), holding a 20-second clip of the planted video. Reported:
index build time, memory per banked frame (the index's own accounting and RSS growth), wall and CPU
time of ``video_matches`` (after hashing) over several runs — default lookups (1,200 at most, crop
readings of the lookup grid among them), the reference rule (reference frames only), and, once,
every reading at 1/s per variant and the whole lookup grid at every whole second looked up — and
that the planted clip was found.

**Throughput run.** A ``--seconds`` 1280 x 720 30 frames/s slideshow; the reference ``vpdq``
(``computeHash``, 1 hash/s, thread_count 2) and our readings (``hash_query_video``) on it; frames/s
and seconds per minute of 720p. Run it under ``taskset -c 0,1`` for 2 cores.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ncii_shield.index.vpdq import VpdqIndex
from ncii_shield.signals.frames import CROP_LUMA, CropFrames, QueryReadings
from ncii_shield.signals.vpdq import (
    VpdqFrame,
    decode_video,
    frames_to_value,
    hash_query_video,
    hash_video_frames,
)

W, H, FPS = 640, 360, 25


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-nostdin", *args], check=True, timeout=600)


def encode(out: Path, frames, size=(W, H), fps=FPS) -> None:
    proc = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s",
                             f"{size[0]}x{size[1]}", "-r", str(fps), "-i", "-", "-c:v", "libx264", "-preset",
                             "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", str(out)], stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for frame in frames:
        proc.stdin.write(frame.tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError(f"ffmpeg failed on {out}")


def pan_frames(photo: Path, seconds: float, rng: np.random.Generator, size=(W, H), fps=FPS):
    """A slow pan and zoom over ``photo``: zoom 1.0-1.12, pan over <= 30 % of the free margin."""
    image = cv2.imread(str(photo))
    h, w = image.shape[:2]
    out_w, out_h = size
    base = min(w / out_w, h / out_h)
    z0 = rng.uniform(1.0, 1.05)
    z1 = z0 + rng.uniform(0.0, 0.07)
    ax, ay = rng.uniform(0.2, 0.8, 2)
    bx, by = np.clip([ax, ay] + rng.uniform(-0.3, 0.3, 2), 0, 1)
    n = int(seconds * fps)
    for i in range(n):
        t = i / max(1, n - 1)
        z = z0 + (z1 - z0) * t
        cw, ch = out_w * base / z, out_h * base / z
        cx, cy = (ax + (bx - ax) * t) * (w - cw), (ay + (by - ay) * t) * (h - ch)
        m = np.float32([[out_w / cw, 0, -cx * out_w / cw], [0, out_h / ch, -cy * out_h / ch]])
        yield cv2.warpAffine(image, m, (out_w, out_h), flags=cv2.INTER_AREA)


def slideshow(out: Path, photos: list[Path], seconds: float, seed: int, size=(W, H), fps=FPS) -> None:
    rng = np.random.default_rng(seed)
    encode(out, (f for p in photos for f in pan_frames(p, seconds, rng, size, fps)), size, fps)


def synthetic(out: Path, source: str, seconds: float) -> None:
    ffmpeg("-f", "lavfi", "-t", str(seconds), "-i", f"{source}=size={W}x{H}:rate={FPS}", "-pix_fmt", "yuv420p",
           "-c:v", "libx264", "-preset", "veryfast", str(out))


def reencode(src: Path, out: Path, *args: str, pre: tuple[str, ...] = ()) -> None:
    ffmpeg(*pre, "-i", str(src), *args, "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt",
           "yuv420p", "-an", str(out))


def concat(out: Path, *parts: Path) -> None:
    inputs = [a for p in parts for a in ("-i", str(p))]
    chains = ";".join(f"[{i}:v]scale={W}:{H},setsar=1,fps={FPS}[v{i}]" for i in range(len(parts)))
    joined = "".join(f"[v{i}]" for i in range(len(parts)))
    ffmpeg(*inputs, "-filter_complex", f"{chains};{joined}concat=n={len(parts)}:v=1,format=yuv420p",
           "-c:v", "libx264", "-preset", "veryfast", str(out))


WATERMARK = ("drawtext=text='@reposter':fontsize=36:fontcolor=white@0.8:x=20:y=h-56,"
             "drawbox=x=w-150:y=12:w=130:h=48:color=red@0.7:t=fill")

# family, name, how (a function of (banked path, out path, helpers) -> None)
TRANSFORMS = {
    "clip": ["clip5", "clip8", "clip12"],
    "compilation": ["compilation", "compilation-part"],
    "mirror": ["mirror"],
    "crop": ["crop10", "crop10-corner"],
    "letterbox/pillarbox": ["letterbox", "pillarbox", "vertical"],
    "picture-in-picture": ["pip-still", "pip-moving"],
    "speed": ["speed0.8", "speed1.25", "speed1.5"],
    "frame rate": ["fps15", "fps60"],
    "low bitrate": ["lowbit"],
    "watermark": ["watermark"],
    "chain": ["mirror+crop10+lowbit", "clip8+speed1.25+watermark", "letterbox+mirror+lowbit"],
    # made after the readings and thresholds were set (corner readings, CORNER_DISTANCE, framed_box's
    # edge thresholds), never tuned on: reported apart
    "crop (held out)": ["crop10-bottom-right", "crop10-top-right", "crop8-bottom-left", "mirror+crop10-bottom-right"],
    "picture-in-picture (held out)": ["pip-still-small", "pip-moving-large"],
    # a second held-out crop set, written (2026-12-04) before the crop readings were re-tuned on the
    # sets above (after the first held-out set had been looked at): other sizes (5-15 %), other
    # corners, an off-centre crop, crop + letterbox, mirror + crop + low bitrate. Never tuned on.
    "crop (held out 2)": ["crop6-top-left", "crop13-bottom-right", "crop12-top-right", "crop14-bottom-left",
                          "crop15-top-left", "crop5-bottom-left", "crop10-off-centre",
                          "crop8-top-right+letterbox", "mirror+crop12-top-left+lowbit"],
    # random crops (2026-12-05), drawn per banked video from their own seeds (:func:`random_crop`): a
    # development set to tune on and a third held-out set, written before any of its results were
    # seen and never tuned on. Same recipe, different seeds: cut 4-15 % anywhere (centred, corners,
    # between them, along a side), with mirror, low bitrate, a letterbox, or width and height cut
    # by different amounts.
    "crop (dev)": [f"cropdev-{slot}" for slot in "abcdefghi"],
    "crop (held out 3)": [f"crop3-{slot}" for slot in "abcdefghi"],
}
#: seeds of the random crop sets (:func:`random_crop`)
RANDOM_CROP_SEEDS = {"cropdev": 7_100, "crop3": 9_300}
HELD_OUT = {family for family in TRANSFORMS if "(held out" in family}


def random_crop(name: str, k: int) -> tuple[str, dict]:
    """The ffmpeg filter of random crop ``name`` (``cropdev-a``, ``crop3-h``, ...) of banked video ``k``,
    and its drawn parameters. Slots a-d: width and height cut by the same 4-15 %, anywhere; e: the
    same, mirrored; f: the same at 320 x 180, 150 kbit/s; g: the same in a 4:3 letterbox; h, i: width
    and height cut by different amounts (each 4-15 %), anywhere. Half are enlarged back to 640 x 360,
    half kept at the cropped size."""
    prefix, slot = name.rsplit("-", 1)
    rng = np.random.default_rng([RANDOM_CROP_SEEDS[prefix], k, "abcdefghi".index(slot)])
    cut_w = float(rng.uniform(0.04, 0.15))
    cut_h = float(rng.uniform(0.04, 0.15)) if slot in "hi" else cut_w
    fx, fy = (float(v) for v in rng.uniform(0.0, 1.0, 2))  # where the kept part sits within the cut
    enlarge = bool(rng.integers(0, 2))
    crop = f"crop=iw*{1 - cut_w:.4f}:ih*{1 - cut_h:.4f}:iw*{cut_w * fx:.4f}:ih*{cut_h * fy:.4f}"
    size = f"scale={W}:{H}" if enlarge else "scale=trunc(iw/2)*2:trunc(ih/2)*2"
    chain = {"e": f"hflip,{crop},{size}", "f": f"{crop},scale=320:180",
             "g": f"{crop},scale=480:270,pad=480:360:0:45"}.get(slot, f"{crop},{size}")
    return chain, {"cut_w": round(cut_w, 4), "cut_h": round(cut_h, 4), "fx": round(fx, 3), "fy": round(fy, 3),
                   "enlarged": enlarge, "filter": chain}


def make_copy(name: str, src: Path, out: Path, rng: np.random.Generator, fillers: list[Path], tmp: Path,
              k: int = 0) -> tuple[float, float]:
    """Make transform ``name`` of ``src`` at ``out``; returns the banked seconds it holds."""
    dur = 20.0
    if name.split("-")[0] in RANDOM_CROP_SEEDS:
        chain, _ = random_crop(name, k)
        reencode(src, out, "-vf", chain, *(["-b:v", "150k"] if name.endswith("-f") else []))
        return 0.0, dur
    if name.startswith("clip") and "+" not in name:
        length = float(name[4:])
        start = float(rng.uniform(0, dur - length))
        reencode(src, out, "-t", str(length), pre=("-ss", f"{start:.2f}"))
        return start, start + length
    if name == "compilation":
        concat(out, fillers[0], src, fillers[1])
        return 0.0, dur
    if name == "compilation-part":
        start = float(rng.uniform(0, dur - 8))
        part = tmp / f"{out.stem}-part.mp4"
        reencode(src, part, "-t", "8", pre=("-ss", f"{start:.2f}"))
        concat(out, fillers[1], part, fillers[0])
        return start, start + 8
    filters = {
        "mirror": "hflip",
        "crop10": f"crop=iw*0.9:ih*0.9,scale={W}:{H}",
        "crop10-corner": f"crop=iw*0.9:ih*0.9:0:0,scale={W}:{H}",
        "letterbox": "scale=480:270,pad=480:360:0:45",
        "pillarbox": "scale=640:360,pad=848:360:104:0",
        "vertical": "scale=360:202,pad=360:640:0:219",
        "speed0.8": "setpts=PTS/0.8", "speed1.25": "setpts=PTS/1.25", "speed1.5": "setpts=PTS/1.5",
        "fps15": "fps=15", "fps60": "fps=60",
        "lowbit": "scale=320:180",
        "watermark": WATERMARK,
        "mirror+crop10+lowbit": "hflip,crop=iw*0.9:ih*0.9,scale=320:180",
        "crop10-bottom-right": f"crop=iw*0.9:ih*0.9:iw*0.1:ih*0.1,scale={W}:{H}",
        "crop10-top-right": f"crop=iw*0.9:ih*0.9:iw*0.1:0,scale={W}:{H}",
        "crop8-bottom-left": f"crop=iw*0.92:ih*0.92:0:ih*0.08,scale={W}:{H}",
        "mirror+crop10-bottom-right": f"hflip,crop=iw*0.9:ih*0.9:iw*0.1:ih*0.1,scale={W}:{H}",
        "letterbox+mirror+lowbit": "hflip,scale=320:180,pad=320:240:0:30",
        "crop6-top-left": f"crop=iw*0.94:ih*0.94:0:0,scale={W}:{H}",
        "crop13-bottom-right": f"crop=iw*0.87:ih*0.87:iw*0.13:ih*0.13,scale={W}:{H}",
        "crop12-top-right": f"crop=iw*0.88:ih*0.88:iw*0.12:0,scale={W}:{H}",
        "crop14-bottom-left": f"crop=iw*0.86:ih*0.86:0:ih*0.14,scale={W}:{H}",
        "crop15-top-left": f"crop=iw*0.85:ih*0.85:0:0,scale={W}:{H}",
        "crop5-bottom-left": f"crop=iw*0.95:ih*0.95:0:ih*0.05,scale={W}:{H}",
        "crop10-off-centre": f"crop=iw*0.9:ih*0.9:iw*0.03:ih*0.07,scale={W}:{H}",
        "crop8-top-right+letterbox": "crop=iw*0.92:ih*0.92:iw*0.08:0,scale=480:270,pad=480:360:0:45",
        "mirror+crop12-top-left+lowbit": "hflip,crop=iw*0.88:ih*0.88:0:0,scale=320:180",
    }
    if name in filters:
        extra = ["-b:v", "150k"] if "lowbit" in name else []
        reencode(src, out, "-vf", filters[name], *extra)
        return 0.0, dur
    if name == "pip-still":  # the video at 55 % over a still photo (not banked)
        ffmpeg("-loop", "1", "-i", str(fillers[2]), "-i", str(src), "-filter_complex",
               f"[0:v]scale={W}:{H},setsar=1[bg];[1:v]scale=352:198[fg];[bg][fg]overlay=200:120:shortest=1,format=yuv420p",
               "-c:v", "libx264", "-preset", "veryfast", "-t", str(dur), str(out))
        return 0.0, dur
    if name == "pip-moving":  # over moving synthetic footage
        ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate={FPS}", "-i", str(src), "-filter_complex",
               "[1:v]scale=352:198[fg];[0:v][fg]overlay=200:120:shortest=1,format=yuv420p",
               "-c:v", "libx264", "-preset", "veryfast", "-t", str(dur), str(out))
        return 0.0, dur
    if name == "pip-still-small":  # held out: at 40 % in the top-left corner over a still photo
        ffmpeg("-loop", "1", "-i", str(fillers[2]), "-i", str(src), "-filter_complex",
               f"[0:v]scale={W}:{H},setsar=1[bg];[1:v]scale=256:144[fg];[bg][fg]overlay=40:30:shortest=1,format=yuv420p",
               "-c:v", "libx264", "-preset", "veryfast", "-t", str(dur), str(out))
        return 0.0, dur
    if name == "pip-moving-large":  # held out: at 70 % over moving mandelbrot
        ffmpeg("-f", "lavfi", "-i", f"mandelbrot=size={W}x{H}:rate={FPS}", "-i", str(src), "-filter_complex",
               "[1:v]scale=448:252[fg];[0:v][fg]overlay=150:80:shortest=1,format=yuv420p",
               "-c:v", "libx264", "-preset", "veryfast", "-t", str(dur), str(out))
        return 0.0, dur
    if name == "clip8+speed1.25+watermark":
        start = float(rng.uniform(0, dur - 8))
        reencode(src, out, "-t", "8", "-vf", f"setpts=PTS/1.25,{WATERMARK}", pre=("-ss", f"{start:.2f}"))
        return start, start + 8
    raise ValueError(name)


def hashed(path: Path, fps: float) -> tuple[list[VpdqFrame], list[VpdqFrame], float]:
    """As the upload pipeline does: one decode pass gives the reference vPDQ frames (bit for bit the
    ``vpdq`` package's) and the query-side readings."""
    started = time.perf_counter()
    video = decode_video(path, readings=True, query_fps=fps)
    return video.frames, video.readings, time.perf_counter() - started


def recall(args: argparse.Namespace) -> dict:
    photos = sorted(Path(args.photos).glob("*.jpg"))
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(photos))
    n = args.videos
    banked_photos = [[photos[i] for i in order[4 * k: 4 * k + 4]] for k in range(n)]
    other_photos = [[photos[i] for i in order[4 * (n + k): 4 * (n + k) + 4]] for k in range(n)]
    intro_photo = photos[order[8 * n]]
    still = photos[order[8 * n + 1]]

    def made(path: Path, make) -> Path:  # material is cached between runs
        if not path.exists():
            make(path)
        return path

    t0 = time.perf_counter()
    intro = made(work / "intro.mp4", lambda p: slideshow(p, [intro_photo], 1.0, 99))
    fillers = [made(work / "filler-testsrc2.mp4", lambda p: synthetic(p, "testsrc2", 10)),
               made(work / "filler-mandelbrot.mp4", lambda p: synthetic(p, "mandelbrot", 10)),
               made(work / "still.mp4", lambda p: slideshow(p, [still], 1.0, 98))]
    still_jpg = work / "still.jpg"
    if not still_jpg.exists():
        cv2.imwrite(str(still_jpg), cv2.imread(str(still)))
    banked = []
    for k in range(n):
        def make_banked(p: Path, k: int = k) -> None:
            body = work / f"banked{k}-body.mp4"
            slideshow(body, banked_photos[k], 5.0, k)
            if k == 0:  # the first banked video starts with the shared 1-second intro
                concat(p, intro, body)
            else:
                body.rename(p)
        banked.append(made(work / f"banked{k}.mp4", make_banked))
    negatives: dict[str, Path] = {}
    for k in range(n):
        negatives[f"unrelated{k}"] = made(work / f"unrelated{k}.mp4", lambda p, k=k: slideshow(p, other_photos[k], 5.0, 100 + k))
    for source in ("testsrc2", "mandelbrot", "cellauto", "life"):
        negatives[source] = made(work / f"neg-{source}.mp4", lambda p, s=source: synthetic(p, s, 20))
    negatives["intro-only"] = made(work / "neg-intro-only.mp4", lambda p: concat(p, intro, work / "unrelated0.mp4"))
    shares: dict[str, int] = {}
    for k in range(min(n, 4)):
        def make_share(p: Path, k: int = k) -> None:
            part = work / f"two-seconds{k}.mp4"
            reencode(banked[k], part, "-t", "2", pre=("-ss", "8"))
            concat(p, fillers[0], part, fillers[1])
        negatives[f"2s-of-banked{k}"] = made(work / f"neg-2s{k}.mp4", make_share)
        shares[f"2s-of-banked{k}"] = k
    copies = []  # (family, name, banked k, path)
    spans = {}
    wanted = [f.strip() for f in args.families.split(",")] if args.families else None
    for k in range(n):
        crng = np.random.default_rng(1000 + k)
        for family, names in TRANSFORMS.items():
            for name in names:
                out = work / f"copy{k}-{name}.mp4"
                span_file = out.with_suffix(".json")
                if not out.exists():
                    span = make_copy(name, banked[k], out, crng, [fillers[0], fillers[1], still_jpg], work, k)
                    span_file.write_text(json.dumps(span))
                spans[out] = json.loads(span_file.read_text())
                if wanted is None or family in wanted:  # every copy is made, only these are checked
                    copies.append((family, name, k, out))
    made_s = time.perf_counter() - t0
    print(f"material ready in {made_s:.0f} s: {n} banked, {len(copies)} copies, {len(negatives)} negatives", flush=True)

    index = VpdqIndex()
    for k, path in enumerate(banked):
        index.add(frames_to_value(hash_video_frames(path)), k)
    results: dict[str, dict[str, list[int]]] = defaultdict(lambda: {"spread": [], "reference": []})
    by_name: dict[str, dict[str, list[int]]] = defaultdict(lambda: {"spread": [], "reference": []})
    false = {"spread": 0, "reference": 0}
    false_examples = []
    pairs = 0
    hash_s = 0.0
    match_s = 0.0
    segment_errors: dict[str, list[float]] = defaultdict(list)
    per_copy: list[dict] = []
    uploads = [(f, nm, k, p) for f, nm, k, p in copies] + [("negative", nm, -1, p) for nm, p in negatives.items()
                                                          if wanted is None or "negative" in wanted]
    with mp.get_context("fork").Pool(args.workers) as pool:
        hashes = pool.starmap(hashed, [(path, args.fps) for _, _, _, path in uploads], chunksize=1)
    for (family, name, k, path), (reference, extra, took) in zip(uploads, hashes):
        hash_s += took
        for rule in ("spread", "reference"):
            started = time.perf_counter()
            matches = index.video_matches(reference, extra=extra, rule=rule)
            match_s += time.perf_counter() - started
            ids = {m.signal_id for m in matches}
            if k >= 0:
                results[family][rule].append(int(k in ids))
                by_name[name][rule].append(int(k in ids))
                if rule == "spread":
                    hit = next((m for m in matches if m.signal_id == k), None)
                    per_copy.append({"name": name, "k": k, "found": hit is not None,
                                     "variant": hit.variant if hit else None,
                                     **({"crop": random_crop(name, k)[1]}
                                        if name.split("-")[0] in RANDOM_CROP_SEEDS else {})})
                if rule == "spread" and k in ids:
                    m = next(m for m in matches if m.signal_id == k)
                    lo = spans[path][0]
                    lo += 1.0 if k == 0 and lo > 0 else 0.0  # banked0 starts with the 1-second intro
                    start = min(s.banked[0] for s in m.segments)
                    segment_errors[name].append(round(abs(start - lo), 2))
            wrong = ids - {k}
            false[rule] += len(wrong)
            if wrong:
                false_examples.append((rule, name, path.name, sorted(wrong)))
        pairs += len(banked) - (1 if k >= 0 else 0)
    table = {f: {r: (sum(v), len(v)) for r, v in d.items()} for f, d in results.items()}
    per_name = {nm: {r: (sum(v), len(v)) for r, v in d.items()} for nm, d in by_name.items()}
    return {"videos": n, "copies": len(copies), "negatives": len(negatives), "unrelated_pairs": pairs,
            "families": table, "transforms": per_name, "false_matches": false, "false_examples": false_examples,
            "segment_start_error_s": {nm: {"median": float(np.median(e)), "max": float(np.max(e))}
                                      for nm, e in segment_errors.items()},
            "per_copy": per_copy, "query_fps": args.fps, "hash_s": round(hash_s, 1), "match_s": round(match_s, 2),
            "material_s": round(made_s, 1)}


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def scale(args: argparse.Namespace) -> dict:
    rng = np.random.default_rng(args.seed)
    before = rss_mb()
    index = VpdqIndex()
    started = time.perf_counter()
    times = np.arange(args.frames, dtype=np.float32)
    quality = np.full(args.frames, 100, dtype=np.uint8)
    planted = None
    for id in range(args.videos):
        words = rng.integers(0, 2**63, (args.frames, 4), dtype=np.int64).astype(np.uint64)
        if id == args.videos // 2:
            planted = words
        index.add_frames(id, words, times, quality)
    index.build_frames()
    build_s = time.perf_counter() - started
    after = rss_mb()
    frames = index.frame_count()
    # the upload: reference frames at 1/s, readings at 2/s x 12 variants; a 20-second clip of the
    # planted video at upload seconds 300-320 (its frames 40-60), each bit-flipped a little
    seconds = args.upload_minutes * 60

    def frame_hex(words: np.ndarray) -> str:
        return words.astype(">u8").tobytes().hex()

    def noisy(words: np.ndarray, bits: int) -> np.ndarray:
        out = words.copy()
        for b in rng.choice(256, bits, replace=False):
            out[b // 64] ^= np.uint64(1) << np.uint64(b % 64)
        return out

    def upload_frame(t: float, variant: str) -> VpdqFrame:
        if 300 <= t < 320 and variant in ("", "original"):
            return VpdqFrame(0, t, frame_hex(noisy(planted[40 + int(t - 300)], 12)), 100, variant)
        return VpdqFrame(0, t, rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex(), 100, variant)

    reference = [upload_frame(float(t), "") for t in range(seconds)]
    extra = QueryReadings(upload_frame(t / 2, v) for t in range(2 * seconds) for v in ("original", "mirrored"))
    # the crops' luma copies (read at check time): smooth random pictures, one a sampled frame
    import cv2

    coarse = rng.integers(0, 256, (2 * seconds, 6, 6), dtype=np.uint8)
    extra.crops = CropFrames(np.arange(2 * seconds) / 2, np.zeros(2 * seconds, np.int8), np.full(2 * seconds, 100, np.int16),
                             np.stack([cv2.resize(c, (CROP_LUMA, CROP_LUMA), interpolation=cv2.INTER_CUBIC) for c in coarse]))
    def timed(runs: int = args.runs, **kwargs) -> tuple[list[float], list[float], list]:
        wall, cpu, found = [], [], []
        for _ in range(runs):
            started, started_cpu = time.perf_counter(), time.process_time()
            found = index.video_matches(reference, **kwargs)
            wall.append(round(time.perf_counter() - started, 3))
            cpu.append(round(time.process_time() - started_cpu, 3))
        return wall, cpu, found

    runs, cpu_runs, found = timed(extra=extra)
    ref_runs, ref_cpu, _ = timed(rule="reference")
    dense_runs, dense_cpu, _ = timed(1, extra=extra, max_lookups=10**9)  # once: ~70,000 lookups
    own = index.memory_bytes()
    return {"videos": args.videos, "frames": frames, "build_s": round(build_s, 1),
            "bytes_per_frame_index": round(own / frames, 1),
            "bytes_per_frame_rss": round((after - before) * 2**20 / frames, 1),
            "upload_minutes": args.upload_minutes, "upload_frames": len(reference) + len(extra),
            "upload_crop_frames": len(extra.crops), "upload_crop_bytes": extra.crops.nbytes(),
            "video_matches_s": {"wall": runs, "cpu": cpu_runs},
            "reference_rule_s": {"wall": ref_runs, "cpu": ref_cpu},
            "every_reading_looked_up_s": {"wall": dense_runs, "cpu": dense_cpu},
            "planted_found": [(m.signal_id, [s.to_json() for s in m.segments]) for m in (found or [])]}


def throughput(args: argparse.Namespace) -> dict:
    import vpdq

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"throughput-720p-{args.seconds}s.mp4"
    if not path.exists():
        photos = sorted(Path(args.photos).glob("*.jpg"))
        slideshow(path, photos[: int(args.seconds // 5)], 5.0, 7, size=(1280, 720), fps=30)
    frames = int(args.seconds * 30)
    def cpu() -> float:  # this process and its finished children (ffmpeg)
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    started, started_cpu = time.perf_counter(), cpu()
    ref = vpdq.computeHash(str(path), seconds_per_hash=1.0, thread_count=2)
    ref_s, ref_cpu = time.perf_counter() - started, cpu() - started_cpu
    started, started_cpu = time.perf_counter(), cpu()
    ours = hash_query_video(path, fps=args.fps)
    ours_s, ours_cpu = time.perf_counter() - started, cpu() - started_cpu
    per_minute = 60.0 / args.seconds
    return {"video": f"1280x720, 30 frames/s, {args.seconds} s", "decoded_frames": frames,
            "reference_vpdq": {"seconds": round(ref_s, 2), "decoded_frames_per_s": round(frames / ref_s),
                               "hashes": len(ref), "seconds_per_minute_720p": round(ref_s * per_minute, 2),
                               "cpu_s": round(ref_cpu, 2)},
            "our_readings": {"seconds": round(ours_s, 2), "decoded_frames_per_s": round(frames / ours_s),
                             "hashes": len(ours), "sampled_frames": len({f.timestamp for f in ours}),
                             "seconds_per_minute_720p": round(ours_s * per_minute, 2), "cpu_s": round(ours_cpu, 2)},
            "cpu_affinity": sorted(os.sched_getaffinity(0)), "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def upload(args: argparse.Namespace) -> dict:
    """A ``--upload-minutes`` 720p upload hashed as the upload pipeline did before (three decodes: the
    reference ``vpdq.computeHash``, the query readings, 16 frames for the photo detectors) and as it
    does now (one :func:`decode_video` pass giving all three); wall and CPU time (this process and
    its ffmpeg children), alternately, ``--runs`` times."""
    import vpdq

    from ncii_shield.media.video import probe_video, sample_frames

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    minute = work / "throughput-720p-60s.mp4"
    if not minute.exists():
        photos = sorted(Path(args.photos).glob("*.jpg"))
        slideshow(minute, photos[:12], 5.0, 7, size=(1280, 720), fps=30)
    path = work / f"upload-720p-{args.upload_minutes}min.mp4"
    if not path.exists():  # the minute, looped (stream copy)
        ffmpeg("-stream_loop", str(args.upload_minutes - 1), "-i", str(minute), "-c", "copy", str(path))

    def cpu() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    def before() -> tuple[int, int, int]:
        frames = vpdq.computeHash(str(path), seconds_per_hash=1.0)
        readings = decode_video(path, reference=False, readings=True).readings
        info = probe_video(path)
        stills = list(sample_frames(path, info, fps=min(2.0, 16 / max(info.duration_s, 0.5)), max_side=640))
        return len(frames), len(readings), len(stills)

    def after() -> tuple[int, int, int]:
        video = decode_video(path, readings=True, stills=16, still_side=640)
        return len(video.frames), len(video.readings), len(video.stills)

    out: dict = {"video": f"1280x720, 30 frames/s, {args.upload_minutes} min", "before": [], "after": []}
    for _ in range(args.runs):
        for name, run in (("before", before), ("after", after)):
            if name == "before" and args.after_only:
                continue
            started, started_cpu = time.perf_counter(), cpu()
            counts = run()
            out[name].append({"wall_s": round(time.perf_counter() - started, 1),
                              "cpu_s": round(cpu() - started_cpu, 1), "frames/readings/stills": counts})
            print(name, out[name][-1], flush=True)
    out["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["recall", "scale", "throughput", "upload"])
    parser.add_argument("--photos", default=str(ROOT.parent / "shared" / "data" / "photos"))
    parser.add_argument("--work", default="/tmp/ncii-video-bench")
    parser.add_argument("--videos", type=int, default=None)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--upload-minutes", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--fps", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=2, help="processes hashing the uploads (recall run)")
    parser.add_argument("--families", help="recall run: only these transform families (comma-separated names)")
    parser.add_argument("--after-only", action="store_true", help="upload run: only the one decode pass")
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.videos is None:
        args.videos = 8 if args.mode == "recall" else 100_000
    result = {"recall": recall, "scale": scale, "throughput": throughput, "upload": upload}[args.mode](args)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
