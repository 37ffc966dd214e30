"""Fuzzing with hypothesis: a short run in CI, a long one by command.

    scripts/dev test tests/fuzz                                  # CI profile (a few hundred inputs each)
    HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/fuzz  # 20,000 inputs per harness

Seeds come from tests/fuzz/corpus/. A crash found becomes an explicit regression test here.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

CORPUS = Path(__file__).parent / "corpus"

settings.register_profile("ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=20_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
