"""Hashing throughput: ncii-shield's safe pipeline vs calling ``pdqhash`` directly, in one run.

Usage::

    python bench/hash_bench.py [PHOTO_DIR] [--rounds 5] [--json]

PHOTO_DIR defaults to ../shared/data/photos (beside the repository). For each photo, both pipelines
run interleaved in every round (so machine noise hits both alike):

* direct:  ``np.asarray(Image.open(bytes).convert("RGB"))`` then ``pdqhash.compute``
* ours:    ``decode_photo(bytes)`` (limits, typed errors, EXIF orientation) then ``PdqSignal.hash_photo``

Bytes are read into memory first, so disk speed is not measured. Reported: images/s and ms per
image for decode and hash separately, and the overhead ratio ours/direct (target <= 1.10).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image

from ncii_shield.media.decode import decode_photo
from ncii_shield.signals.pdq import PdqSignal

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "photos"


def direct(data: bytes) -> tuple[float, float, str]:
    t0 = time.perf_counter()
    with Image.open(io.BytesIO(data)) as im:
        rgb = np.asarray(im.convert("RGB"))
    t1 = time.perf_counter()
    bits, _quality = pdqhash.compute(rgb)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, np.packbits(bits.astype(np.uint8)).tobytes().hex()


def ours(data: bytes) -> tuple[float, float, str]:
    t0 = time.perf_counter()
    photo = decode_photo(data, apply_orientation=False)
    t1 = time.perf_counter()
    result = PdqSignal.hash_photo(photo)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, result.value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photo_dir", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    files = sorted(p for p in args.photo_dir.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not files:
        print(f"no photos in {args.photo_dir}", file=sys.stderr)
        return 2
    blobs = [p.read_bytes() for p in files]
    totals = {name: {"decode": [], "hash": []} for name in ("direct", "ours")}
    mismatches = 0
    for round_no in range(args.rounds + 1):  # round 0 warms caches and is not counted
        sums = {name: [0.0, 0.0] for name in totals}
        for i, data in enumerate(blobs):
            order = (("direct", direct), ("ours", ours)) if (i + round_no) % 2 else (("ours", ours), ("direct", direct))
            values = {}
            for name, fn in order:
                d, h, value = fn(data)
                sums[name][0] += d
                sums[name][1] += h
                values[name] = value
            mismatches += values["direct"] != values["ours"]
        if round_no:
            for name in totals:
                totals[name]["decode"].append(sums[name][0])
                totals[name]["hash"].append(sums[name][1])
    n = len(blobs)
    report = {"photos": n, "rounds": args.rounds, "hash_mismatches": mismatches, "pipelines": {}}
    for name, t in totals.items():
        decode, hashing = statistics.median(t["decode"]), statistics.median(t["hash"])
        report["pipelines"][name] = {
            "images_per_s": round(n / (decode + hashing), 1),
            "ms_per_image": round(1000 * (decode + hashing) / n, 2),
            "decode_ms": round(1000 * decode / n, 2),
            "hash_ms": round(1000 * hashing / n, 2),
        }
    d, o = report["pipelines"]["direct"], report["pipelines"]["ours"]
    report["overhead_ratio"] = round(o["ms_per_image"] / d["ms_per_image"], 3)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{n} photos from {args.photo_dir}, median of {args.rounds} rounds")
        print(f"{'pipeline':10} {'images/s':>9} {'ms/image':>9} {'decode ms':>10} {'hash ms':>8}")
        for name, r in report["pipelines"].items():
            print(f"{name:10} {r['images_per_s']:9} {r['ms_per_image']:9} {r['decode_ms']:10} {r['hash_ms']:8}")
        print(f"overhead ratio ours/direct: {report['overhead_ratio']}x   hash mismatches: {mismatches}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
