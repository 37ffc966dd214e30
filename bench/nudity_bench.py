"""The optional nudity classifier on harmless photos: time per photo and false flags.

Usage (needs the ``[nudity]`` extra: ``pip install nudenet==3.4.2``)::

    nice -n 10 python bench/nudity_bench.py [--photos ../shared/data/photos] [--json out.json]

Every photo of the folder (ordinary photographs: clothed people, landscapes, animals, food; none
shows nudity) is decoded with Pillow and scored with one ONNX Runtime thread. Reported: CPU time per
photo (p50, p95; the first photo, which loads the model, is not counted), the distribution of scores,
how many reach the threshold (every one is a false flag) and how many have a face detected.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ncii_shield.signals.nudity import DEFAULT_THRESHOLD, NudityClassifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "data" / "photos")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    classifier = NudityClassifier()
    classifier.score_rgb(np.zeros((64, 64, 3), dtype=np.uint8))  # loads the model
    files = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
    cpu, scores, faces = [], [], 0
    for path in files:
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"))
        started = time.process_time()
        result = classifier.score_rgb(rgb)
        cpu.append(time.process_time() - started)
        scores.append(result.score)
        faces += any(d.label.startswith("FACE") for d in result.detections)
    s = np.array(scores)
    report = {"photos": len(files), "cpu_ms_p50": round(float(np.median(cpu)) * 1000, 1),
              "cpu_ms_p95": round(float(np.percentile(cpu, 95)) * 1000, 1),
              "score_p50": round(float(np.median(s)), 3), "score_p95": round(float(np.percentile(s, 95)), 3),
              "score_max": round(float(s.max()), 3), "threshold": DEFAULT_THRESHOLD,
              "flagged": int((s >= DEFAULT_THRESHOLD).sum()), "at_or_over_0.3": int((s >= 0.3).sum()),
              "with_face": faces}
    print(json.dumps(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
