"""The CI run of the atheris (coverage-guided) harnesses: a few thousand inputs each, no crash."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).parent / "atheris_harness.py"
CORPUS = Path(__file__).parent / "corpus"


@pytest.mark.parametrize("target,runs", [("decode", 600), ("formats", 3000), ("feed", 3000)])
def test_atheris_short_run(target, runs, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for seed in CORPUS.iterdir():  # libFuzzer writes new inputs into the corpus folder: use a copy
        (corpus / seed.name).write_bytes(seed.read_bytes())
    proc = subprocess.run([sys.executable, str(HARNESS), target, f"-runs={runs}", "-max_total_time=30",
                           f"-artifact_prefix={tmp_path}/", str(corpus)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Done" in proc.stderr or "DONE" in proc.stderr
