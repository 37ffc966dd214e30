"""Break-in: files crafted against the provenance reader cost bounded memory and CPU and give a
verdict (null with the problem named), never an exception: a text chunk that inflates to 100 MB,
half a million chunks, 50 MB of text, an EXIF IFD that points at itself, JSON nested 500,000 deep, a
JUMBF (C2PA) box declaring 4 GB, a 120-megapixel PNG with generator text.

Each file is read in a fresh process, after a warm-up read of a signed fixture (every library and
table loaded), and its peak memory growth (VmHWM, reset before) and CPU time checked."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from tests.hostile_files import crafted
from tests.provenance_fixtures import created, encode, png_chunk, sign_c2pa

ROOT = Path(__file__).resolve().parents[2]
BUDGET_MB = 64
BUDGET_CPU_S = 1.0
PNG = b"\x89PNG\r\n\x1a\n"


def _tiny_png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), 90).save(out, "PNG")
    return out.getvalue()


def _with_chunks(chunks: bytes) -> bytes:
    png = _tiny_png()
    return png[:33] + chunks + png[33:]  # after IHDR


def _jpeg_with(segment: bytes) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), 90).save(out, "JPEG")
    return out.getvalue()[:2] + segment + out.getvalue()[2:]


def _exif_loop() -> bytes:
    # IFD0 at 8: two entries, Software at offset 8 (its own IFD), ExifIFD pointer back to 8.
    ifd = struct.pack("<H", 2) + struct.pack("<HHII", 0x0131, 2, 200_000_000, 8) + \
        struct.pack("<HHII", 0x8769, 4, 1, 8) + struct.pack("<I", 8)
    block = b"II*\x00" + struct.pack("<I", 8) + ifd
    return _jpeg_with(b"\xff\xe1" + struct.pack(">H", len(block) + 8) + b"Exif\x00\x00" + block)


def hostile() -> dict[str, bytes]:
    bomb = zlib.compress(b"Steps: 1, " * 10_000_000, 9)  # 100 MB of text in ~100 KB
    many = png_chunk(b"tEXt", b"k\x00v") * 500_000
    big_text = png_chunk(b"tEXt", b"Comment\x00" + b"x" * 1_000_000) * 50
    deep = png_chunk(b"tEXt", b"prompt\x00" + b"[" * 500_000)
    jumbf = b"JP\x00\x01\x00\x00\x00\x01" + struct.pack(">I", 1) + b"jumb" + struct.pack(">Q", 2 ** 32) + \
        b"\x00\x00\x00\x21jumdc2pa\x00\x11\x00\x10\x80\x00\x00\xaa\x00\x38\x9b\x71c2pa\x00" + bytes(200)
    return {
        "png-ztxt-bomb": _with_chunks(png_chunk(b"zTXt", b"parameters\x00\x00" + bomb)),
        "png-itxt-bomb": _with_chunks(png_chunk(b"iTXt", b"workflow\x00\x01\x00\x00\x00" + bomb)),
        "png-500k-chunks": _with_chunks(many),
        "png-50mb-text": _with_chunks(big_text),
        "png-json-500k-deep": _with_chunks(deep),
        "png-caBX-garbage": _with_chunks(png_chunk(b"caBX", jumbf)),
        "jpeg-exif-ifd-loop": _exif_loop(),
        "jpeg-jumbf-4gb-box": _jpeg_with(b"\xff\xeb" + struct.pack(">H", len(jumbf) + 2) + jumbf),
        "jpeg-60k-comments": _jpeg_with((b"\xff\xfe" + struct.pack(">H", 4) + b"hi") * 60_000),
        "jpeg-truncated-in-segment": _jpeg_with(b"\xff\xe1\xff\xffExif\x00\x00II*\x00")[:40],
        "png-rgb-120mp-with-parameters": crafted()["png-rgb-120mp"]()[:33]
        + png_chunk(b"tEXt", b"parameters\x00Steps: 20, Sampler: Euler, Seed: 1, CFG scale: 7")
        + crafted()["png-rgb-120mp"]()[33:],
    }


_MEASURE = r"""
import json, sys, time
from pathlib import Path
from ncii_shield.signals.provenance import ProvenanceReader

def rss(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])

reader = ProvenanceReader()
reader.read(Path(sys.argv[2]).read_bytes())  # warm up: c2pa, the watermark decoder, Pillow
data = Path(sys.argv[1]).read_bytes()
Path("/proc/self/clear_refs").write_text("5")
before, cpu = rss("VmRSS"), time.process_time()
result = reader.read(data).to_json()
print(json.dumps({"peak_mb": (rss("VmHWM") - before) / 1024, "cpu_s": time.process_time() - cpu,
                  "result": result}))
"""

NAMES = sorted(hostile())


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    out = tmp_path_factory.mktemp("hostile-provenance")
    for name, data in hostile().items():
        (out / name).write_bytes(data)
    try:
        warm = sign_c2pa(encode(np.full((300, 300, 3), 90, np.uint8), "JPEG"), "image/jpeg", created("x"))
    except ImportError:
        warm = (ROOT / "tests/data/provenance/skimage-coffee.jpg").read_bytes()
    (out / "warm").write_bytes(warm)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_a_crafted_file_costs_at_most_the_budget_and_gives_a_verdict(files, name):
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(files / name), str(files / "warm")],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["peak_mb"] <= BUDGET_MB, out
    assert out["cpu_s"] <= BUDGET_CPU_S, out
    verdict = out["result"]
    if name == "png-rgb-120mp-with-parameters":  # metadata read; pixels refused by the decoder
        assert verdict["ai_generated"] is True
        assert any("could not be decoded" in e["detail"] for e in verdict["evidence"])
    elif name in ("png-ztxt-bomb", "png-itxt-bomb"):
        assert any("inflates past" in e["detail"] for e in verdict["evidence"]), verdict
    elif name in ("png-500k-chunks", "jpeg-60k-comments"):
        assert verdict["ai_generated"] is None
        assert any("were not read" in e["detail"] or "was not read" in e["detail"] for e in verdict["evidence"])
    else:
        assert verdict["ai_generated"] is None, verdict
