"""The hostile-image budget: peak memory and CPU time of decoding (and hashing) crafted files.

Crafted files declare up to the pixel limit in a few KB (PNG 1-bit and RGB, JPEG, GIF, WebP, HEIC,
and a JPEG cut after its header), beside the fuzz corpus and the largest reference vectors. Each
file is measured in a fresh process (peak RSS growth over the process's state after imports, CPU
time), once with the decoder of ``--baseline-rev`` (git; with ``--hash``, PDQ through the bindings'
``pdqhash.compute``, as before signals/pdq_strips.py) and once with the working tree's::

    .venv/bin/python bench/hostile_images.py --baseline-rev 1cd81ba --out /tmp/hostile
    .venv/bin/python bench/hostile_images.py --hash          # decode + PDQ, the whole photo check

Results go in docs/reliability.md. Files are generated once into ``--out`` (they are harmless:
flat colours and noise).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.hostile_files import crafted  # noqa: E402 - the same files as the break-in suite


def files(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in crafted().items():
        path = out / name
        if not path.exists():
            started = time.perf_counter()
            path.write_bytes(make())
            print(f"made {name} ({path.stat().st_size:,} bytes) in {time.perf_counter() - started:.1f} s",
                  file=sys.stderr)
        paths.append(path)
    paths += sorted((ROOT / "tests/fuzz/corpus").glob("*.jpg"))
    paths += sorted((ROOT / "tests/data/pdq-reference/reg-test-input/exif-rotn").glob("*.jpg"))
    return paths


def measure(path: Path, module_path: Path | None, with_hash: bool) -> dict:
    """Runs in the child: decode (and hash) one file with the given decoder module."""
    if module_path is None:
        from ncii_shield.media import decode as module
    else:
        spec = importlib.util.spec_from_file_location("baseline_decode", module_path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["baseline_decode"] = module
        spec.loader.exec_module(module)
    import pdqhash

    from ncii_shield.signals.pdq import PdqSignal

    data = path.read_bytes()
    for sample in (ROOT / "tests/data/pdq-reference/bridge-mods/aaa-orig.jpg").read_bytes(), _small_like(data):
        # every lazy import, table and decoder library (libheif's ~10 MB) is loaded once per process
        # before the measurement, as in the break-in suite: the budget is per file
        warm = module.decode_photo(sample)
        PdqSignal.hash_photo(warm) if module_path is None else pdqhash.compute(warm.rgb)
        del warm
    Path("/proc/self/clear_refs").write_text("5")  # Linux: the peak RSS (VmHWM) starts again from now
    before = _rss_kb("VmRSS")
    cpu = time.process_time()
    outcome = "decoded"
    try:
        photo = module.decode_photo(data)
        outcome = f"decoded {photo.rgb.shape[1]}x{photo.rgb.shape[0]}"
        if with_hash and module_path is not None:
            pdqhash.compute(photo.rgb)  # the baseline: the bindings' own luma (before pdq_strips)
        elif with_hash:
            PdqSignal.hash_photo(photo)
        del photo
    except Exception as exc:  # the outcome is part of the measurement
        outcome = f"{type(exc).__name__}"
    cpu = time.process_time() - cpu
    peak = _rss_kb("VmHWM")
    return {"file": path.name, "bytes": len(data), "peak_mb": round((peak - before) / 1024, 1),
            "cpu_s": round(cpu, 3), "outcome": outcome}


def _small_like(data: bytes) -> bytes:
    """A 64 x 64 photo in the format of ``data`` (JPEG when it cannot be read)."""
    from PIL import Image

    try:
        fmt = Image.open(io.BytesIO(data)).format or "JPEG"
    except Exception:  # noqa: BLE001 - hostile files: warm up with a JPEG
        fmt = "JPEG"
    out = io.BytesIO()
    Image.new("RGB", (64, 64), 90).save(out, format={"MPO": "JPEG"}.get(fmt, fmt))
    return out.getvalue()


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def run(path: Path, module_path: Path | None, with_hash: bool) -> dict:
    cmd = [sys.executable, __file__, "--measure", str(path)]
    if module_path:
        cmd += ["--module", str(module_path)]
    if with_hash:
        cmd.append("--hash")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode:
        return {"file": path.name, "outcome": f"crashed ({done.returncode})", "peak_mb": None, "cpu_s": None}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "ncii-hostile-images")
    parser.add_argument("--baseline-rev", help="also measure the decoder of this git revision")
    parser.add_argument("--hash", action="store_true", help="decode and compute PDQ (the photo check)")
    parser.add_argument("--only", help="measure only the files whose name contains this")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--module", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.module, args.hash)))
        return
    baseline = None
    if args.baseline_rev:
        source = subprocess.run(["git", "-C", str(ROOT), "show", f"{args.baseline_rev}:src/ncii_shield/media/decode.py"],
                                capture_output=True, text=True, check=True).stdout
        baseline = args.out / f"decode-{args.baseline_rev}.py"
        args.out.mkdir(parents=True, exist_ok=True)
        baseline.write_text(source)
    print("| file | bytes | " + ("before: peak MB, CPU s, outcome | " if baseline else "") + "after: peak MB, CPU s, outcome |")
    print("|---|---:|" + ("---|" if baseline else "") + "---|")
    for path in files(args.out):
        if args.only and args.only not in path.name:
            continue
        after = run(path, None, args.hash)
        cells = [path.name, f"{path.stat().st_size:,}"]
        if baseline:
            b = run(path, baseline, args.hash)
            cells.append(f"{b['peak_mb']} MB, {b['cpu_s']} s, {b['outcome']}")
        cells.append(f"{after['peak_mb']} MB, {after['cpu_s']} s, {after['outcome']}")
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
