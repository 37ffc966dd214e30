"""Scan throughput: a plain pdqhash loop vs ``ncii-shield scan`` with 1 and N local workers and on Ray.

    python bench/scan_bench.py                         # ../shared/data/photos, 10,000 items
    python bench/scan_bench.py --items 2000 --no-ray   # quicker

The photos are replicated to ``--items`` files by hard links with distinct names in a temporary
folder (nothing is copied into the repository). The bank holds 10,000 random PDQ hashes plus the
PDQ of 10 of the photos, so matching does real lookups and finds real matches.

* plain loop: read the file, ``Image.open(...).convert("RGB")``, ``pdqhash.compute`` (one process);
* scan, 1 worker: the whole pipeline in this process (safe decode, PDQ + MD5 + SHA-256, index lookup,
  results committed to the checkpoint);
* scan, N workers: N worker processes, each building its own index from the store;
* Ray, N workers: a local Ray cluster of N CPUs (started before timing), Ray Data read tasks and an
  actor pool of N scanners.

Every pipeline run is timed end to end, worker start-up and index loading included. Per-core ratio =
scan rate with 1 worker / plain loop rate; scaling efficiency = rate with N workers / (N x rate with 1).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def replicate(photos: Path, target: Path, count: int) -> list[Path]:
    sources = sorted(p for p in photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
    if not sources:
        raise SystemExit(f"no photos in {photos}")
    made = []
    for i in range(count):
        src = sources[i % len(sources)]
        dst = target / f"{i // 1000:03d}" / f"{i:06d}-{src.name}"
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)
        made.append(dst)
    return made


def cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (worker processes)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def plain_loop(paths: list[Path]) -> tuple[float, float]:
    import numpy as np
    import pdqhash
    from PIL import Image

    started, cpu = time.perf_counter(), cpu_seconds()
    for path in paths:
        with Image.open(path) as image:
            pdqhash.compute(np.asarray(image.convert("RGB")))
    return len(paths) / (time.perf_counter() - started), len(paths) / (cpu_seconds() - cpu)


def make_store(url: str, photos: list[Path]) -> None:
    import numpy as np

    from ncii_shield.core import Shield
    from ncii_shield.services.banks import SignalInput
    from ncii_shield.services.hashing import hash_path

    shield = Shield.open(url, load_index=False)
    who = shield.local_principal("default")
    shield.banks.create(who, "victims")
    rng = np.random.default_rng(7)
    values = [bytes(rng.integers(0, 256, 32, dtype=np.uint8)).hex() for _ in range(10_000)]
    values += [hash_path(p).pdq for p in photos[:10]]
    for i in range(0, len(values), 5000):
        shield.banks.add(who, "victims", [SignalInput("pdq", v) for v in values[i:i + 5000]])
    shield.close()


def pipeline(folder: Path, url: str, workdir: Path, *, workers: int,
             ray: str | None = None) -> tuple[float, float, dict]:
    from ncii_shield.core import Shield
    from ncii_shield.services.scanning.checkpoint import Checkpoint
    from ncii_shield.services.scanning.runner import fingerprint, open_sources, run_scan
    from ncii_shield.services.scanning.scanner import ScanSettings

    shield = Shield.open(url, load_index=False)
    principal = shield.local_principal("default", ("match",))
    shield.close()
    settings = ScanSettings(db_url=url, principal=principal, banks=("victims",))
    started, cpu = time.perf_counter(), cpu_seconds()
    sources = open_sources([str(folder)], settings)
    name = f"{workers}-{ray or 'local'}".replace(":", "_")
    checkpoint = Checkpoint.open(workdir / f"{name}.sqlite", fingerprint(sources, settings), resume=False)
    summary = run_scan(sources, settings, checkpoint, workers=workers, ray=ray)
    checkpoint.close()
    elapsed, used = time.perf_counter() - started, cpu_seconds() - cpu
    return summary.total / elapsed, (summary.total / used if ray is None else float("nan")), summary.counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "data" / "photos")
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args()

    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="ncii-scan-bench-"))
    try:
        folder = work / "photos"
        paths = replicate(args.photos, folder, args.items)
        url = f"sqlite:///{work / 'store.db'}"
        make_store(url, paths)
        rows: dict[str, tuple[float, float]] = {}
        counts: dict = {}
        rows["plain pdqhash loop, 1 process"] = plain_loop(paths)
        print(f"plain loop: {rows['plain pdqhash loop, 1 process']}", flush=True)
        *rows["scan, 1 worker"], counts["1"] = pipeline(folder, url, work, workers=1)
        print(f"scan 1 worker: {rows['scan, 1 worker']}", flush=True)
        key_n = f"scan, {args.workers} local workers"
        *rows[key_n], counts[str(args.workers)] = pipeline(folder, url, work, workers=args.workers)
        print(f"{key_n}: {rows[key_n]}", flush=True)
        if not args.no_ray:
            import logging

            import ray

            ray.init(num_cpus=args.workers, include_dashboard=False, logging_level=logging.WARNING,
                     log_to_driver=False)
            key_r = f"scan on Ray, {args.workers} workers"
            *rows[key_r], counts["ray"] = pipeline(folder, url, work, workers=args.workers, ray="auto")
            print(f"{key_r}: {rows[key_r]}", flush=True)
        (plain, plain_cpu), (one, one_cpu) = rows["plain pdqhash loop, 1 process"], rows["scan, 1 worker"]
        print()
        print(f"{args.items:,} items ({len(set(p.name.split('-', 1)[1] for p in paths))} distinct photos), "
              f"bank of {10_010:,} PDQ hashes; {os.cpu_count()} cores, load average before: {load_before}")
        print("| run | images/s (wall) | per core vs plain loop | scaling efficiency (wall) "
              "| images per CPU-second | per CPU-second vs plain loop |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, (rate, per_cpu) in rows.items():
            n = args.workers if ("workers" in name and not name.endswith("1 worker")) else 1
            scaling = "" if "plain" in name else f"{rate / (n * one):.2f}"
            cpu_text = "n/a (Ray workers)" if per_cpu != per_cpu else f"{per_cpu:,.1f}"
            cpu_ratio = "" if per_cpu != per_cpu else f"{per_cpu / plain_cpu:.2f}"
            print(f"| {name} | {rate:,.1f} | {rate / n / plain:.2f} | {scaling} | {cpu_text} | {cpu_ratio} |")
        print(f"load average after: {os.getloadavg()}")
        assert len({json.dumps(c, sort_keys=True) for c in counts.values()}) == 1, f"runs disagree: {counts}"
        print(f"\nresults per run (all equal): {counts['1']}")
        if args.json:
            args.json.write_text(json.dumps({"items": args.items, "rates": rows, "counts": counts}, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
