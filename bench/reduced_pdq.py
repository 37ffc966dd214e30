"""How far a photo's PDQ moves when it is decoded reduced (photos over 12.6 MP, media/decode.py).

Upscales photos to ``--megapixels`` (Lanczos, JPEG quality 90), hashes each with the full-resolution
decoder of ``--baseline-rev`` and with the working tree's, and prints the distance's median, 90th
percentile and maximum::

    .venv/bin/python bench/reduced_pdq.py ../shared/data/photos --every 3 --limit 40 --megapixels 16
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import math
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photos", type=Path)
    parser.add_argument("--every", type=int, default=3, help="take every Nth photo (sorted by name)")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--megapixels", type=float, default=16.0)
    parser.add_argument("--baseline-rev", default="1cd81ba", help="a revision whose decoder decodes in full")
    args = parser.parse_args()
    from PIL import Image

    from ncii_shield.media.decode import decode_photo
    from ncii_shield.signals.pdq import PdqSignal

    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{args.baseline_rev}:src/ncii_shield/media/decode.py"],
                            capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "baseline_decode.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("baseline_decode", path)
    baseline = importlib.util.module_from_spec(spec)
    sys.modules["baseline_decode"] = baseline
    spec.loader.exec_module(baseline)
    files = sorted(args.photos.glob("*.jpg"))[:: args.every][: args.limit]
    files += sorted((ROOT / "tests/data/pdq-reference/reg-test-input/exif-rotn").glob("*.jpg"))
    distances = []
    for f in files:
        with Image.open(f) as im:
            im = im.convert("RGB")
            k = math.sqrt(args.megapixels * 1e6 / (im.size[0] * im.size[1]))
            big = im.resize((int(im.size[0] * k), int(im.size[1] * k)), Image.LANCZOS)
        buffer = io.BytesIO()
        big.save(buffer, "JPEG", quality=90)
        data = buffer.getvalue()
        full = PdqSignal.hash_photo(baseline.decode_photo(data)).value
        reduced = PdqSignal.hash_photo(decode_photo(data)).value
        distances.append(PdqSignal.distance(full, reduced))
    distances.sort()
    print(f"{args.megapixels:g} MP, {len(distances)} photos: median {distances[len(distances) // 2]}, "
          f"p90 {distances[int(len(distances) * 0.9)]}, max {distances[-1]} bits of 256")


if __name__ == "__main__":
    main()
