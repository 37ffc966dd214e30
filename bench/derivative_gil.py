"""Two verifications at once on two Python threads (what ``index/derivative.py`` does with
``CHECK_THREADS = 2``): how much of the ideal halving they get, and how long each thread waits for the
GIL (wall - on-CPU - runqueue wait, from the thread's ``/proc/self/task/<tid>/schedstat``).

    python bench/derivative_gil.py [--uploads 20] [--rounds 3]

Uploads are the scale run's derivatives (``derivative_scale.make_upload``, seed 7), each verified
against its own photo; pairs are consecutive uploads. Per pair, alternated round by round: each
verification alone (the ideal two-thread wall is the longer of the two), the two one after the other,
and the two at once (the calling thread and one other). On a loaded machine the runqueue column says
how much of the wall was waiting for a core rather than for the GIL."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
from derivative_bench import load_rgb  # noqa: E402
from derivative_scale import make_upload  # noqa: E402

from ncii_shield.signals.derivative import features as F  # noqa: E402
from ncii_shield.signals.derivative.verify import Upload, verify  # noqa: E402


def sched() -> tuple[float, float]:
    """This thread's seconds on a CPU and waiting on the runqueue."""
    with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as f:
        run, wait, _ = f.read().split()
    return int(run) / 1e9, int(wait) / 1e9


def timed(fn, out: dict) -> None:  # noqa: ANN001
    r0, q0 = sched()
    t0 = time.perf_counter()
    fn()
    wall = time.perf_counter() - t0
    r1, q1 = sched()
    out.update(wall=wall, cpu=r1 - r0, runqueue=q1 - q0, gil=max(0.0, wall - (r1 - r0) - (q1 - q0)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", default=str(ROOT.parent / "shared" / "data" / "photos"))
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    paths = sorted(p for p in Path(args.photos).iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    rng = np.random.default_rng(7)
    jobs = []
    for q in range(args.uploads):
        rgb, i, _ = make_upload(paths, rng, q)
        reg, upload = F.photo_features(load_rgb(paths[i])), Upload.from_rgb(rgb)
        upload.panels  # cut once here: the pairs time verification only
        jobs.append(lambda reg=reg, upload=upload: verify(reg, upload))
    rows: dict[str, list[float]] = {k: [] for k in ("ideal", "serial", "parallel", "cpu_serial", "cpu_parallel",
                                                   "gil_share", "runqueue_share", "gain_share")}
    for a in jobs:  # warm-up
        a()
    for _ in range(args.rounds):
        for a, b in zip(jobs[::2], jobs[1::2]):
            one, two = {}, {}
            timed(a, one)
            timed(b, two)
            rows["ideal"].append(max(one["wall"], two["wall"]))
            rows["serial"].append(one["wall"] + two["wall"])
            rows["cpu_serial"].append(one["cpu"] + two["cpu"])
            mine, other = {}, {}
            t0 = time.perf_counter()
            t = threading.Thread(target=timed, args=(b, other))
            t.start()
            timed(a, mine)
            t.join()
            rows["parallel"].append(time.perf_counter() - t0)
            # of what a second thread could save on this pair (serial - ideal), the share it saved
            rows["gain_share"].append((rows["serial"][-1] - rows["parallel"][-1]) / (rows["serial"][-1] - rows["ideal"][-1]))
            rows["cpu_parallel"].append(mine["cpu"] + other["cpu"])
            rows["gil_share"].append((mine["gil"] + other["gil"]) / (mine["wall"] + other["wall"]))
            rows["runqueue_share"].append((mine["runqueue"] + other["runqueue"]) / (mine["wall"] + other["wall"]))
    p50 = {k: float(np.median(v)) * (1 if k.endswith("share") else 1000) for k, v in rows.items()}
    print(json.dumps({"pairs": len(rows["serial"]), **{k: round(v, 3) for k, v in p50.items()}}))


if __name__ == "__main__":
    main()
