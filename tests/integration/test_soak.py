"""The CI version of the soak: 1 minute of mixed traffic against 2 workers (bench/soak.py).

0 errors, 0 acknowledged writes lost, and worker memory flat after warm-up.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_one_minute_soak(tmp_path):
    out = tmp_path / "soak.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "soak.py"), "--seconds", "60", "--hashes", "20000",
                           "--concurrency", "8", "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["requests"] > 1000
    assert report["errors"] == 0 and report["writes_lost"] == 0
    samples = report["samples"]
    warm = samples[1]["rss_mb"]  # after 20 s
    last = samples[-1]["rss_mb"]
    assert len(warm) == len(last) == 2
    for before, after in zip(warm, last):
        assert after <= before * 1.15 + 15, (warm, last)  # flat: no leak
