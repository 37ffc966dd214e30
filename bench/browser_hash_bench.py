"""Hashing a 12 MP JPEG in the browser (hashing.js in Debian's headless Chromium) vs on the server.

Usage::

    python bench/browser_hash_bench.py [PHOTO] [--runs 5]

Makes a 4000x3000 JPEG (12 MP) from PHOTO (default: a photo in ../shared/data/photos), then in one
run: the server's pipeline (``services.hashing.hash_bytes``: safe decode, PDQ, MD5, SHA-256) and the
browser's ``hashFile`` (createImageBitmap + canvas decode in a Web Worker, PDQ in JavaScript,
MD5, SHA-256), each ``--runs`` times; medians and their ratio. The page context bypasses CSP only so
that the benchmark can call the module directly.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from ncii_shield.services.hashing import hash_bytes  # noqa: E402
from tests.e2e.conftest import ARGS, CHROMIUM  # noqa: E402
from tests.servers import start_server  # noqa: E402

DEFAULT = ROOT.parent / "shared" / "data" / "photos" / "deb-lomiri-002.jpg"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photo", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    big = tmp / "12mp.jpg"
    with Image.open(args.photo) as im:
        im.convert("RGB").resize((4000, 3000), Image.Resampling.LANCZOS).save(big, quality=90)
    data = big.read_bytes()
    server_times, server_hash = [], None
    for _ in range(args.runs):
        t = time.perf_counter()
        server_hash = hash_bytes(data)
        server_times.append(time.perf_counter() - t)
    from playwright.sync_api import sync_playwright

    site = start_server(f"sqlite:///{tmp / 'b.db'}", tmp, extra=("--data-dir", str(tmp)))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_context(bypass_csp=True).new_page()
            page.goto(site.url + "/protect")
            page.evaluate("() => { const i = document.createElement('input'); i.type = 'file'; i.id = 'bench'; document.body.append(i); }")
            page.set_input_files("#bench", str(big))
            result = page.evaluate("""async (runs) => {
                const { hashFile } = await import('/static/hashing.js');
                const file = document.getElementById('bench').files[0];
                const times = []; let last;
                for (let i = 0; i < runs; i++) { const t = performance.now(); last = await hashFile(file); times.push(performance.now() - t); }
                return { times, last };
            }""", args.runs)
            browser.close()
    finally:
        site.stop()
    browser_ms = statistics.median(result["times"])
    server_ms = 1000 * statistics.median(server_times)
    distance = bin(int(result["last"]["pdq"], 16) ^ int(server_hash.pdq, 16)).count("1")
    report = {"image": "4000x3000 JPEG (12 MP)", "runs": args.runs, "server_ms_median": round(server_ms, 1),
              "browser_ms_median": round(browser_ms, 1), "ratio_browser_over_server": round(browser_ms / server_ms, 2),
              "pdq_distance_browser_vs_server": distance,
              "md5_equal": result["last"]["md5"] == server_hash.md5, "sha256_equal": result["last"]["sha256"] == server_hash.sha256}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
