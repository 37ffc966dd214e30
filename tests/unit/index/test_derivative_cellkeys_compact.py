"""Issue 20 point 3: the cell search's keys held in 6 bytes a cell (index/derivative.py ``_CellKeys``, runs split at
the key's 16th bit: ``_CellRun``) instead of 8, looked up by a compiled kernel (``_count_cells``). The lookups must
be those of the 8-byte structure (4e10429's, kept below as ``Plain``) bit for bit, whatever the adds, withdrawals
and re-adds before them: random cells of a few shapes, from a small set of patterns so that many keys collide."""

from __future__ import annotations

import sys
from array import array

import numpy as np
import pytest

from ncii_shield.index import derivative as D
from ncii_shield.index.derivative import _CellKeys, _CellRun, _cell_keys
from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative.verify import WHOLE_ASPECT


class Plain:
    """4e10429's _CellKeys (sorted uint32 keys and uint32 rows), its add taking keys as add_keys does."""

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []
        self._photo = array("q")
        self._shape = array("f")
        self._alive = bytearray()
        self._row: dict[int, int] = {}

    def add_keys(self, ids, shapes, keys) -> None:  # noqa: ANN001
        rows = []
        for id, shape, k in zip(ids, shapes, keys):
            self.remove(id)
            row = len(self._photo)
            self._photo.append(id)
            self._shape.append(shape)
            self._alive.append(1)
            self._row[id] = row
            rows.append(np.full(len(k), row, np.uint32))
        if not ids:
            return
        run = (np.concatenate(keys), np.concatenate(rows))
        while self._runs and len(self._runs[-1][0]) <= len(run[0]):
            last = self._runs.pop()
            run = (np.concatenate([last[0], run[0]]), np.concatenate([last[1], run[1]]))
        keep = np.frombuffer(self._alive, np.uint8)[run[1]] == 1
        order = np.argsort(run[0][keep], kind="stable")
        self._runs.append((run[0][keep][order], run[1][keep][order]))

    def remove(self, id: int) -> None:
        row = self._row.pop(id, None)
        if row is not None:
            self._alive[row] = 0

    def nbytes(self) -> int:
        table = sys.getsizeof(self._row) + 2 * sys.getsizeof(2**40) * len(self._row)
        return sum(k.nbytes + r.nbytes for k, r in self._runs) + 13 * len(self._photo) + table

    def lookup(self, cells: tuple, aspect: float) -> list[tuple[int, int]]:
        best: dict[int, int] = {}
        alive = np.frombuffer(self._alive, np.uint8)
        shape = np.frombuffer(self._shape, np.float32)
        for c in cells:
            q = np.unique(np.concatenate([_cell_keys(c, aspect, shift) for shift in (-1, 0, 1)]))
            found = []
            for keys, rows in self._runs:
                lo, hi = np.searchsorted(keys, q, "left"), np.searchsorted(keys, q, "right")
                n = hi - lo
                if n.any():
                    found.append(rows[np.repeat(lo - np.cumsum(np.r_[0, n[:-1]]), n) + np.arange(int(n.sum()))])
            if not found:
                continue
            row, count = np.unique(np.concatenate(found), return_counts=True)
            keep = (count >= D.CELL_VOTES) & (alive[row] == 1) & (np.abs(aspect / shape[row] - 1.0) <= WHOLE_ASPECT)
            for r, k in zip(row[keep].tolist(), count[keep].tolist()):
                id = int(self._photo[r])
                best[id] = max(best.get(id, 0), k)
        return sorted(best.items(), key=lambda item: (-item[1], item[0]))


ASPECTS = (1.0, 1.005, 1.02, 1.5, 0.75, 3.9)  # bins beside each other, apart, and past the clamp


def cells(rng: np.random.Generator, patterns: np.ndarray, textured: float = 0.75) -> F.Cells:
    g = (F.GRID, F.GRID)
    std = np.where(rng.random(g) < textured, F.TEXTURE_STD + 1.0, 0.0).astype(np.float32)
    pattern = patterns[rng.integers(0, len(patterns), g)].astype(np.uint16)
    z = np.zeros(g, np.float32)
    return F.Cells(z, std, z, z, pattern)


def both_add(a: Plain, b: _CellKeys, rng: np.random.Generator, ids: list[int], patterns: np.ndarray,
             made: dict[int, tuple[F.Cells, float]]) -> None:
    shapes, keys = [], []
    for id in ids:
        aspect = float(ASPECTS[rng.integers(0, len(ASPECTS))]) * float(rng.uniform(0.999, 1.001))
        c = cells(rng, patterns, float(rng.uniform(0.3, 1.0)))
        made[id] = (c, aspect)
        shapes.append(aspect)
        keys.append(_cell_keys(c, aspect))
    a.add_keys(ids, shapes, keys)
    b.add_keys(ids, shapes, keys)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("votes", [1, 3, 10])
def test_lookups_are_the_plain_structures_bit_for_bit(seed, votes, monkeypatch):
    monkeypatch.setattr(D, "CELL_VOTES", votes)
    rng = np.random.default_rng(seed)
    patterns = rng.integers(0, 65536, int(rng.integers(3, 40)))
    a, b = Plain(), _CellKeys()
    made: dict[int, tuple[F.Cells, float]] = {}
    live: set[int] = set()
    for step in range(40):
        batch = [int(i) for i in rng.choice(300, size=int(rng.integers(1, 12)), replace=False)]
        both_add(a, b, rng, batch, patterns, made)  # some of them again: a new row each
        live.update(batch)
        for id in rng.choice(sorted(live), size=min(len(live), int(rng.integers(0, 3))), replace=False):
            a.remove(int(id))
            b.remove(int(id))
            live.discard(int(id))
        if step % 4 == 3:
            for _ in range(3):
                if rng.random() < 0.5 and live:  # an upload holding much of a registered photo's cells
                    c, aspect = made[int(rng.choice(sorted(live)))]
                    keep = rng.random((F.GRID, F.GRID)) < 0.6
                    up = F.Cells(c.mean, c.std, c.cb, c.cr,
                                 np.where(keep, c.pattern, patterns[rng.integers(0, len(patterns), keep.shape)])
                                 .astype(np.uint16))
                else:
                    up, aspect = cells(rng, patterns), float(ASPECTS[rng.integers(0, len(ASPECTS))])
                mirrored = cells(rng, patterns)
                got, want = b.lookup((up, mirrored), aspect), a.lookup((up, mirrored), aspect)
                assert got == want
    # the same keys: each run's keys, in order, are the plain runs' merged the same way
    assert [run.keys().tolist() for run in b._runs] == [k.tolist() for k, _ in a._runs]
    assert [run.rows.tolist() for run in b._runs] == [r.tolist() for _, r in a._runs]


def test_six_bytes_a_cell():
    rng = np.random.default_rng(1)
    patterns = rng.integers(0, 65536, 500)
    a, b = Plain(), _CellKeys()
    both_add(a, b, rng, list(range(2000)), patterns, {})
    cells_held = sum(len(run) for run in b._runs)
    plain = sum(k.nbytes + r.nbytes for k, r in a._runs)
    compact = sum(run.nbytes for run in b._runs)
    assert plain == 8 * cells_held
    heads = sum(run.heads.nbytes + run.starts.nbytes for run in b._runs)
    assert compact == 6 * cells_held + heads
    assert heads < 0.05 * compact  # at most 6 x 256 heads (shape bins x places) a run
    assert b.nbytes() - a.nbytes() == compact - plain


def test_a_run_splits_and_joins_its_keys():
    keys = np.sort(np.random.default_rng(3).integers(0, 2**32, 5000, dtype=np.uint64).astype(np.uint32))
    keys[100:140] = keys[100]  # equal keys
    run = _CellRun.of(keys, np.arange(len(keys), dtype=np.uint32))
    assert run.keys().dtype == np.uint32 and np.array_equal(run.keys(), keys)
    assert np.array_equal(run.heads, np.unique(keys >> 16)) and run.starts[-1] == len(keys)
    empty = _CellRun.of(np.zeros(0, np.uint32), np.zeros(0, np.uint32))
    assert len(empty) == 0 and len(empty.keys()) == 0
