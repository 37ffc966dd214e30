"""Break-in: photos crafted to exhaust memory or CPU (issue 17, finding 1).

A 14.6 KB 1-bit PNG declaring 120 million pixels used to cost ~1.2 GB and 1.5 s of CPU per file
(2.7 GB on /v1/match/media), and any 12-MP photo ~320 MB with PDQ. Each crafted file is decoded and
hashed (the whole photo check) in a fresh process, after a small photo of the same format has loaded
every library, and its peak memory (VmHWM, reset just before) and CPU time are checked against the
budget in docs/reliability.md; a live server is sent the worst of them and its own peak memory is
read from /proc."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.hostile_files import crafted
from tests.servers import cli, start_server

ROOT = Path(__file__).resolve().parents[2]
BUDGET_MB = 64
BUDGET_CPU_S = 1.0  # decode; the target is 0.5 s (docs/reliability.md: 0.36 s at most measured); 2x for a loaded CI machine

# Every crafted header that declares more than a full decode may take, in each format.
HOSTILE = ["png-1bit-120mp", "png-grey-120mp", "png-rgb-120mp", "png-rgb-16mp", "jpeg-120mp",
           "jpeg-120mp-header-only", "gif-120mp", "webp-120mp", "webp-12.5mp", "avif-12mp", "png-grey-64mp",
           # just under the memory budget: decoded reduced
           "png-1bit-50mp", "png-grey-50mp", "gif-50mp", "png-grey-40mp",
           # the largest decoded in full, in each format (the reference's PDQ, bit for bit)
           "png-rgb-12.5mp", "webp-lossy-12.5mp", "webp-alpha-12.5mp", "webp-lossless-8.3mp", "heic-12mp",
           "avif-5.5mp"]

# What each file comes to: decoded (full or reduced size) or refused before decoding.
OUTCOME = {"jpeg-120mp": "decoded 1370x1370", "jpeg-120mp-header-only": "CorruptMedia",
           "png-1bit-50mp": "decoded 1773x1773", "png-grey-50mp": "decoded 1773x1773",
           "gif-50mp": "decoded 1773x1773", "png-grey-40mp": "decoded 1575x1575",
           "png-rgb-12.5mp": "decoded 4090x3070", "webp-lossy-12.5mp": "decoded 4090x3070",
           "webp-alpha-12.5mp": "decoded 4090x3070", "webp-lossless-8.3mp": "decoded 3330x2500",
           "heic-12mp": "decoded 4032x3024", "avif-5.5mp": "decoded 2700x2030"}

_MEASURE = r"""
import io, json, sys, time
from pathlib import Path
from PIL import Image
from ncii_shield.media.decode import decode_photo
from ncii_shield.errors import MediaError
from ncii_shield.signals.pdq import PdqSignal

def rss(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])

data = Path(sys.argv[1]).read_bytes()
try:
    fmt = Image.open(io.BytesIO(data)).format
except Exception:
    fmt = "JPEG"
small = io.BytesIO()
Image.new("RGB", (64, 64), 90).save(small, format={"MPO": "JPEG"}.get(fmt, fmt))
for warm in Path(sys.argv[2]).read_bytes(), small.getvalue():  # every lazy import, table and library
    PdqSignal.hash_photo(decode_photo(warm))
Path("/proc/self/clear_refs").write_text("5")
before, cpu = rss("VmRSS"), time.process_time()
try:
    photo = decode_photo(data)
    decode_cpu = time.process_time() - cpu
    outcome = "decoded %dx%d" % (photo.width, photo.height)
    PdqSignal.hash_photo(photo)
    del photo
except MediaError as exc:
    decode_cpu = time.process_time() - cpu
    outcome = type(exc).__name__
print(json.dumps({"peak_mb": (rss("VmHWM") - before) / 1024, "cpu_s": decode_cpu, "outcome": outcome}))
"""


@pytest.fixture(scope="module")
def hostile_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("hostile")
    makers = crafted()
    for name in HOSTILE:
        (out / name).write_bytes(makers[name]())
    return out


@pytest.mark.parametrize("name", HOSTILE)
def test_a_crafted_photo_costs_at_most_the_budget(hostile_dir, name):
    path = hostile_dir / name
    warm = ROOT / "tests/data/pdq-reference/bridge-mods/aaa-orig.jpg"
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(path), str(warm)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["peak_mb"] <= BUDGET_MB, result  # decode and PDQ
    assert result["cpu_s"] <= BUDGET_CPU_S, result  # decode
    assert result["outcome"] == OUTCOME.get(name, "MediaTooLarge"), result


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_a_live_server_refuses_a_bomb_without_spending_memory(tmp_path, hostile_dir):
    server = start_server(f"sqlite:///{tmp_path / 'h.db'}", tmp_path)
    try:
        key = cli("keys", "create", "--db", server.db_url, "--scope", "match").stdout.split()[-1]
        with server.client(key) as c:
            ordinary = (ROOT / "tests/data/pdq-reference/bridge-mods/aaa-orig.jpg").read_bytes()
            assert c.post("/v1/match/media", files={"file": ("a.jpg", ordinary)}).status_code == 200
            before = _peak_mb(server.proc.pid)
            started = time.perf_counter()
            for name in ("png-1bit-120mp", "png-rgb-120mp", "gif-120mp", "webp-120mp"):
                r = c.post("/v1/match/media", files={"file": (name, (hostile_dir / name).read_bytes())})
                assert r.status_code == 413, (name, r.status_code, r.text)
                assert "pixels" in r.json()["error"]["message"]
            r = c.post("/v1/match/media", files={"file": ("j.jpg", (hostile_dir / "jpeg-120mp").read_bytes())})
            assert r.status_code == 200, r.text  # a huge JPEG is checked, decoded reduced
            elapsed = time.perf_counter() - started
        assert _peak_mb(server.proc.pid) - before <= 2 * BUDGET_MB
        assert elapsed < 10
    finally:
        server.stop()


def test_decodes_wait_for_a_slot():
    """At most max_concurrent_decodes() photos decode at once in a process: a decode waits while
    every slot is taken."""
    from ncii_shield.media import decode

    data = (ROOT / "tests/data/pdq-reference/bridge-mods/aaa-orig.jpg").read_bytes()
    original = decode.max_concurrent_decodes()
    decode.set_max_concurrent_decodes(1)
    try:
        done = threading.Event()
        with decode._decode_slot():  # the one slot is busy
            worker = threading.Thread(target=lambda: (decode.decode_photo(data), done.set()))
            worker.start()
            assert not done.wait(0.5)
        assert done.wait(30)
        worker.join()
    finally:
        decode.set_max_concurrent_decodes(original)
