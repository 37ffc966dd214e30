"""The enrolled-face index: exact while small, faiss IVF beyond, same answers on planted queries."""

from __future__ import annotations

import numpy as np
import pytest

from ncii_shield.index.faces import FaceIndex


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def near(rng: np.random.Generator, v: np.ndarray, sim: float) -> np.ndarray:
    z = unit(rng.standard_normal(v.shape))
    z = unit(z - (z @ v) * v)
    return unit(sim * v + np.sqrt(1 - sim * sim) * z)


@pytest.mark.parametrize("exact_limit", [10**6, 2_000])
def test_search_add_replace_remove(exact_limit: int) -> None:
    rng = np.random.default_rng(5)
    vectors = unit(rng.standard_normal((3_000, 32)))
    index = FaceIndex(32, exact_limit=exact_limit, nprobe=16)
    index.add_many([(i, vectors[3 * i:3 * i + 3]) for i in range(1_000)])
    assert index.approximate == (exact_limit < 3_000)
    assert len(index) == 1_000 and index.vectors == 3_000
    targets = rng.choice(1_000, size=50, replace=False)
    queries = np.stack([near(rng, vectors[3 * t + 1], 0.95) for t in targets])
    found = index.search(queries, threshold=0.9)
    assert [hits[0].signal_id for hits in found] == targets.tolist()
    assert all(0.94 < hits[0].similarity < 0.96 for hits in found)
    assert all(len(hits) == 1 for hits in found)  # random 32-d vectors are far below 0.9
    # replace: signal 7 gets new vectors, the old ones no longer match
    t = int(targets[0])
    index.add(t, unit(rng.standard_normal((2, 32))))
    assert index.search(queries[:1], 0.9) == [[]]
    assert index.vectors == 3_000 - 1
    # withdrawal: gone from the next search
    t2 = int(targets[1])
    index.remove(t2)
    assert index.search(queries[1:2], 0.9) == [[]]
    index.remove(123_456)  # unknown: nothing happens
    assert len(index) == 999


def test_one_hit_per_signal_best_first_and_k() -> None:
    index = FaceIndex(4)
    base = unit(np.array([1.0, 0.2, 0.0, 0.0]))
    index.add(1, np.stack([base, unit(np.array([1.0, 0.25, 0.0, 0.0]))]))
    index.add(2, unit(np.array([[1.0, 0.0, 0.3, 0.0]])))
    index.add(3, unit(np.array([[0.0, 0.0, 0.0, 1.0]])))
    hits = index.search(base, threshold=0.5)[0]
    assert [h.signal_id for h in hits] == [1, 2]
    assert hits[0].similarity == pytest.approx(1.0, abs=1e-6)
    assert index.search(base, threshold=0.5, k=1)[0][0].signal_id == 1
    assert index.search(np.zeros((0, 4), np.float32), 0.5) == []
    with pytest.raises(ValueError, match="4 dimensions"):
        index.add(9, np.zeros((1, 5), np.float32))
    assert index.memory_bytes() == 4 * (4 * 4 + 8)
