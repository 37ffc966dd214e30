"""The cell search's keys at scale, alone (2026-12-07 #7, HB): the synthetic registry's cells (129 real photos, then
entries of bench/derivative_scale.py ``entry_keys``, added 20,000 at a time as the scale run adds them) in
index/derivative.py's ``_CellKeys``; its build time (CPU), bytes a photo and the process's RSS growth; then every
timed upload of the scale run looked up (as uploaded and mirrored, at its own shape, as ``check`` does) by the
compiled lookup and by 4e10429's numpy lookup over the same runs (the tests' ``Plain``: sorted uint32 keys, rebuilt
from the runs), the two compared result for result, with their CPU (one thread).

    python bench/hb_celllookup.py [--sizes 100000,1000000] [--queries 120] [--unrelated-queries 60] [--json F]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from derivative_scale import SyntheticRegistry, make_upload, rss_mb, unrelated_uploads  # noqa: E402

import ncii_shield.index.derivative as D  # noqa: E402
from ncii_shield.signals.derivative import features as F  # noqa: E402
from ncii_shield.signals.derivative.verify import Upload  # noqa: E402
from tests.unit.index.test_derivative_cellkeys_compact import Plain  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", default=str(ROOT.parent / "shared" / "data" / "photos"))
    parser.add_argument("--unrelated", default=str(ROOT.parent / "shared" / "data" / "faces"))
    parser.add_argument("--sizes", type=lambda v: [int(x) for x in v.split(",")], default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=120)
    parser.add_argument("--unrelated-queries", type=int, default=60)
    parser.add_argument("--json")
    args = parser.parse_args()
    paths = sorted(p for p in Path(args.photos).iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    reg = SyntheticRegistry(paths, max(args.sizes), 50_000, 7, "honest")
    windows = reg.window_cells(1)
    rng = np.random.default_rng(7)
    related = [make_upload(paths, rng, q, reg.upload_photos) for q in range(args.queries)]
    unrelated = unrelated_uploads(Path(args.unrelated), args.unrelated_queries, 7)
    uploads = [("derivative", Upload.from_rgb(rgb)) for rgb, _, _ in related] + [
        ("unrelated", Upload.from_rgb(rgb)) for rgb in unrelated]
    own = [(kind, (u.whole_cells(False), u.whole_cells(True)), u.frame.grey.shape[1] / u.frame.grey.shape[0])
           for kind, u in uploads]
    keys = D._CellKeys()
    before, cpu, done, out = rss_mb(), 0.0, 0, []
    c0 = time.process_time()
    keys.add([(F.decode(reg.values[i + 1]), i + 1) for i in range(len(paths))])
    cpu += time.process_time() - c0
    D._count_cells(np.zeros(1, np.uint32), *keys._runs[0][:4], np.zeros(1, np.uint16), 1, np.zeros(1, np.int64), 0)
    for size in sorted(args.sizes):
        c0 = time.process_time()
        for start in range(done, size, 20_000):
            keys.add_keys(*reg.cell_keys(windows, start, min(size, start + 20_000)))
        cpu += time.process_time() - c0
        done = size
        row = {"registry": size + len(paths), "cells_build_cpu_s": round(cpu, 1), "runs": len(keys._runs),
               "cells_held": sum(len(r) for r in keys._runs),
               "cells_bytes_per_photo": round(keys.nbytes() / (size + len(paths)), 1),
               "rss_growth_mb": round(rss_mb() - before, 1)}
        row["cells_a_photo"] = round(row["cells_held"] / (size + len(paths)), 1)
        plain = Plain()
        plain._runs = [(r.keys(), r.rows) for r in keys._runs]
        plain._photo, plain._shape, plain._alive, plain._row = keys._photo, keys._shape, keys._alive, keys._row
        times: dict[str, dict[str, list]] = {}
        found: dict[str, list] = {}
        same = 0
        for kind, cells, aspect in own:
            t = times.setdefault(kind, {"compiled": [], "numpy": []})
            c0 = time.thread_time()
            a = keys.lookup(cells, aspect)
            t["compiled"].append(time.thread_time() - c0)
            c0 = time.thread_time()
            b = plain.lookup(cells, aspect)
            t["numpy"].append(time.thread_time() - c0)
            same += a == b
            found.setdefault(kind, []).append(len(a))
        ms = lambda v, q: round(float(np.percentile(np.array(v) * 1000, q)), 2)  # noqa: E731
        for kind, t in times.items():
            row[kind] = {"lookup_cpu_ms_p50_p95_max": {name: [ms(v, 50), ms(v, 95), ms(v, 100)] for name, v in t.items()},
                         "photos_found_mean_max": [round(float(np.mean(found[kind])), 1), int(max(found[kind]))],
                         "found_ge_candidates": int(sum(f >= D.CELL_CANDIDATES for f in found[kind]))}
        row["identical_lookups"] = f"{same}/{len(own)}"
        del plain
        row["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        print(json.dumps(row), flush=True)
        out.append(row)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
