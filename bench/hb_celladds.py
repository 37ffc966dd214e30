"""The cell search's adds one at a time at scale (2026-12-07 #7, HB): the synthetic registry's cells for N photos
(added 20,000 at a time), then 1,000 more photos added one by one, as the follower adds new registrations; CPU of
those 1,000 adds for index/derivative.py's _CellKeys and for 4e10429's structure (the tests' Plain: argsort merges).
Adds run under the index's lock, so a check waits for them.

    python bench/hb_celladds.py [--size 200000] [--adds 1000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from derivative_scale import SyntheticRegistry  # noqa: E402

import ncii_shield.index.derivative as D  # noqa: E402
from tests.unit.index.test_derivative_cellkeys_compact import Plain  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", default=str(ROOT.parent / "shared" / "data" / "photos"))
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--adds", type=int, default=1_000)
    args = parser.parse_args()
    paths = sorted(p for p in Path(args.photos).iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    reg = SyntheticRegistry(paths, 1_000_000, 50_000, 7, "honest")
    windows = reg.window_cells(1)
    out = {}
    for name, make in (("compact", D._CellKeys), ("plain", Plain)):
        keys = make()
        for start in range(0, args.size, 20_000):
            keys.add_keys(*reg.cell_keys(windows, start, min(args.size, start + 20_000)))
        times = []
        for k in range(args.size, args.size + args.adds):
            batch = reg.cell_keys(windows, k, k + 1)
            c0 = time.process_time()
            keys.add_keys(*batch)
            times.append(time.process_time() - c0)
        t = np.array(times) * 1000
        out[name] = {"adds": args.adds, "cpu_s_total": round(float(t.sum()) / 1000, 2),
                     "ms_p50_p99_max": [round(float(np.percentile(t, q)), 2) for q in (50, 99, 100)],
                     "runs_after": len(keys._runs)}
        print(name, json.dumps(out[name]), flush=True)
        del keys
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
