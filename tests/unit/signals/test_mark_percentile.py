"""search._percentile: np.percentile's value and type, bit for bit (edge_support's 95th percentile)."""

from __future__ import annotations

import numpy as np
import pytest

from ncii_shield.signals.marks.search import SUPPORT_SHARE, _percentile, edge_support

QS = (0, 1, 5, 25, 50, 62.5, 90, 95, 99, 99.9, 100, 95.0, 33.3)


def _same(a, q) -> None:
    want, got = np.percentile(a, q), _percentile(a, q)
    assert type(got) is type(want), (a.dtype, q, type(got), type(want))
    assert np.asarray(got).tobytes() == np.asarray(want).tobytes(), (a, q, got, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_arrays_and_sizes_1_to_3(dtype) -> None:
    rng = np.random.default_rng(0)
    for n in (1, 2, 3):
        for _ in range(200):
            a = (rng.standard_normal(n) * 10 ** rng.uniform(-3, 3)).astype(dtype)
            for q in QS:
                _same(a, q)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_fields_with_ties(dtype) -> None:
    rng = np.random.default_rng(1)
    for _ in range(300):
        h, w = rng.integers(1, 60, size=2)
        a = np.abs(rng.standard_normal((h, w))).astype(dtype)
        if rng.random() < 0.5:  # ties: few distinct values, or many zeros as a mark's flat parts
            a = np.round(a * rng.integers(1, 4)).astype(dtype) / 3
        if rng.random() < 0.3:
            a[rng.random((h, w)) < 0.6] = 0
        for q in QS:
            _same(a, q)
        _same(a.T, 95)  # not contiguous


def test_constant_int_nan_inf() -> None:
    for a in (np.full(7, 2.5, np.float32), np.zeros((3, 4), np.float32), np.arange(10, dtype=np.int64),
              np.array([3, 1, 2], np.int32), np.array([1.0, np.nan, 2.0], np.float32),
              np.array([np.nan], np.float64), np.array([1.0, np.inf, 2.0, 5.0], np.float32),
              np.array([np.inf], np.float32), np.array([-np.inf, np.inf], np.float64)):
        for q in QS:
            with np.errstate(invalid="ignore"):
                want, got = np.percentile(a, q), _percentile(a, q)
            assert type(got) is type(want)
            assert np.asarray(got).tobytes() == np.asarray(want).tobytes() or (np.isnan(got) and np.isnan(want)), (a, q)


def test_edge_support_unchanged() -> None:
    """edge_support with the helper equals its formula with np.percentile on random fields."""
    import cv2

    rng = np.random.default_rng(2)
    for _ in range(50):
        h, w = rng.integers(3, 80, size=2)
        t = rng.standard_normal((h, w, 2)).astype(np.float32)
        m = np.sqrt(cv2.transform(np.ascontiguousarray(t * t), np.ones((1, 2), np.float64)))
        q = float(np.percentile(m, 95))
        want = cv2.dilate(np.clip(m / max(SUPPORT_SHARE * q, 1e-6), 0.0, 1.0).astype(np.float32), np.ones((3, 3), np.uint8))
        assert edge_support(t).tobytes() == want.tobytes()
