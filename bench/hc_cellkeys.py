"""HC probe (issue 20, large kind): could the upload's own cells bring in the photo around a large pasted
part (a candidate source that needs no keypoints)? For every large single of the same shape as its photo,
each registered photo of that shape: the textured cells (both sides) whose 16-bit structure pattern is
identical at the same position (as uploaded and mirrored, the better), for the own photo and the best
unrelated one; and the pre-test (verify._whole_pretest) of both.

    python bench/hc_cellkeys.py CACHE RUN.json --photos-dir DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import derivative_bench as B  # noqa: E402
import derivative_large as L  # noqa: E402

from ncii_shield.signals.derivative import verify as V  # noqa: E402
from ncii_shield.signals.derivative.features import TEXTURE_STD  # noqa: E402
from ncii_shield.signals.derivative.verify import Upload  # noqa: E402


def exact(reg, up, flip):  # noqa: ANN001, ANN201
    u, r = up.whole_cells(flip), reg.cells
    both = (r.std >= TEXTURE_STD) & (np.minimum(u.std, V._STD_CAP) >= TEXTURE_STD)
    return int((both & (u.pattern == r.pattern)).sum())


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("cache")
    p.add_argument("run")
    p.add_argument("--photos-dir", required=True)
    a = p.parse_args()
    rows = {(r["photo"], r["transform"]): r for r in json.loads(Path(a.run).read_text())["rows"] if r["format"] == "single"}
    paths = sorted(q for q in Path(a.photos_dir).iterdir() if q.suffix.lower() in (".jpg", ".jpeg", ".png"))
    feats = [B.register(q)[0] for q in paths]
    own_lost, own_all, chance = [], [], Counter()
    for i in range(len(paths)):
        for u in json.loads((Path(a.cache) / f"{i:03d}.json").read_text()):
            if u["format"] != "single" or u["edit"] != "large":
                continue
            up = Upload.from_rgb(L._decode(bytes.fromhex(u["jpeg"])))
            fh, fw = up.frame.grey.shape
            best_other, own = 0, None
            for j, reg in enumerate(feats):
                if abs((fw / fh) / (reg.frame_w / reg.frame_h) - 1.0) > V.WHOLE_ASPECT:
                    continue
                n = max(exact(reg, up, False), exact(reg, up, True))
                if j == i:
                    own = n
                elif j not in u["related"]:
                    best_other = max(best_other, n)
                    chance[n] += 1
            if own is None:
                continue
            r = rows[(i, u["transform"])]
            lost = r["direct"] == "derivative" and not r["caught"]
            own_all.append((own, best_other, r["direct"] == "derivative", bool(r["caught"])))
            if lost:
                own_lost.append((i, u["transform"], own, best_other))
                print("lost", i, u["transform"], own, best_other, flush=True)
    print("chance hist", sorted(chance.items()))
    print("own (lost)", sorted(o for _, _, o, _ in own_lost))
    print("own, flagged directly", sorted(o for o, _, d, _ in own_all if d))
    print("own, not flagged directly", sorted(o for o, _, d, _ in own_all if not d))
    print("best other per upload", sorted(Counter(b for _, b, _, _ in own_all).items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
