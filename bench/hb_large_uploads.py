"""The large kind's uploads (bench/derivative_large.py's cache: 50-70 % of the photo replaced) as uploads for
bench/derivative_latency.py run --uploads (2026-12-07 #7, HB): the singles whose photo and pasted part's photo are
both upload photos of the honest registry (the even ones: no window of either is registered), every transform.
The cell search was made for this kind; the scale run's own uploads (derivative_bench's EDITS) hold none of it.

    python bench/hb_large_uploads.py CACHE OUT.pkl [--photos DIR]
"""

from __future__ import annotations

import argparse
import io
import json
import pickle
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from derivative_scale import upload_photos  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cache")
    parser.add_argument("out")
    parser.add_argument("--photos", default=str(ROOT.parent / "shared" / "data" / "photos"))
    args = parser.parse_args()
    n = len([p for p in Path(args.photos).iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"}])
    allowed = set(upload_photos(n, "honest"))
    related = []
    for file in sorted(Path(args.cache).glob("*.json")):
        for u in json.loads(file.read_text()):
            if u["format"] != "single" or u["edit"] != "large":
                continue
            if u["photo"] not in allowed or not set(u["related"]) <= allowed:
                continue
            rgb = np.asarray(Image.open(io.BytesIO(bytes.fromhex(u["jpeg"]))).convert("RGB"))
            related.append((rgb, u["photo"], u["related"][0] if u["related"] else -1))
    Path(args.out).write_bytes(pickle.dumps({"related": related, "unrelated": []}, protocol=pickle.HIGHEST_PROTOCOL))
    print(f"{len(related)} large singles (photo and part's photo both upload photos)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
