"""HC probe (issue 20): CPU of ``find_instances`` with and without the cell search (index/derivative.py
``CELL_CANDIDATES``), the two settings alternated upload by upload in one process (order swapped every
other upload). Index: photos 0-63 of the benchmark; uploads: photos 64-128 re-encoded (related to no
registered photo) and every Nth large single of photos 0-63 from a ``derivative_large.py gen`` cache.

    python bench/hc_timing.py CACHE --photos-dir DIR [--every 4] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import derivative_bench as B  # noqa: E402
import derivative_large as L  # noqa: E402

from ncii_shield.index import derivative as D  # noqa: E402
from ncii_shield.index.derivative import DerivativeIndex  # noqa: E402
from ncii_shield.signals.derivative import features as F  # noqa: E402
from ncii_shield.signals.derivative.instances import find_instances  # noqa: E402
from ncii_shield.signals.derivative.verify import Upload  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("cache")
    p.add_argument("--photos-dir", required=True)
    p.add_argument("--every", type=int, default=4)
    p.add_argument("--rounds", type=int, default=2)
    a = p.parse_args()
    paths = sorted(q for q in Path(a.photos_dir).iterdir() if q.suffix.lower() in (".jpg", ".jpeg", ".png"))
    index = DerivativeIndex()
    for k in range(64):
        f = B.register(paths[k])[0]
        if not F.plain_reason(f):
            index.add_features(f, k + 1)
    groups = {"unrelated": [B.reencode(B.shrink(B.load_rgb(paths[k])), 85) for k in range(64, len(paths))], "large": []}
    for k in range(64):
        rows = [r for r in json.loads((Path(a.cache) / f"{k:03d}.json").read_text())
                if r["format"] == "single" and r["edit"] == "large"]
        groups["large"] += [L._decode(bytes.fromhex(r["jpeg"])) for r in rows[::a.every]]
    setting = D.CELL_CANDIDATES
    for name, rgbs in groups.items():
        times: dict[int, list[float]] = {0: [], setting: []}
        for r in range(a.rounds):
            for n, rgb in enumerate(rgbs):
                for s in ((0, setting) if (n + r) % 2 == 0 else (setting, 0)):
                    D.CELL_CANDIDATES = s
                    up = Upload.from_rgb(rgb)  # a fresh upload: nothing cached from the other setting
                    t = time.process_time()
                    find_instances(rgb, up, lambda u: [(None, h) for h in index.check(u)])
                    times[s].append(1000 * (time.process_time() - t))
        for s, v in times.items():
            print(f"{name} ({len(rgbs)} uploads x {a.rounds}), CELL_CANDIDATES={s}: p50 {np.percentile(v, 50):.1f} "
                  f"mean {np.mean(v):.1f} ms", flush=True)
    D.CELL_CANDIDATES = setting
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
