"""The multi-index Hamming index finds exactly what brute force finds, up to distance 31."""

from __future__ import annotations

import numpy as np
import pytest

from ncii_shield.index.hamming import BruteForceHammingIndex
from ncii_shield.index.multi_index import LARGE_SCHEME, SMALL_SCHEME, MultiIndexHammingIndex, _Segment
from tests.conftest import PDQ_REFERENCE


def random_hex(rng: np.random.Generator) -> str:
    return rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex()


def flip(value: str, bits: int, rng: np.random.Generator) -> str:
    number = int(value, 16)
    for b in rng.choice(256, bits, replace=False):
        number ^= 1 << int(b)
    return f"{number:064x}"


def test_schemes_are_exact_to_31():
    assert SMALL_SCHEME.exact_limit == 31 and LARGE_SCHEME.exact_limit >= 31
    assert sum(SMALL_SCHEME.widths) == 256 and sum(LARGE_SCHEME.widths) == 256


@pytest.mark.parametrize("scheme", [SMALL_SCHEME, LARGE_SCHEME], ids=["16x16", "12x21-22"])
def test_every_distance_0_to_31_found_and_32_plus_not(scheme):
    rng = np.random.default_rng(7)
    base = [random_hex(rng) for _ in range(2_000)]
    index = MultiIndexHammingIndex(min_merge=1)
    from ncii_shield.index.bits import hexes_to_words

    index._main = _Segment.build(hexes_to_words(base), np.arange(len(base)), scheme)
    for distance in range(0, 40):
        for trial in range(8):
            target = int(rng.integers(len(base)))
            query = flip(base[target], distance, rng)
            ids = {m.id: m.distance for m in index.query(query, 31)}
            if distance <= 31:
                assert ids.get(target) == distance, (distance, trial)
            else:
                assert target not in ids


def test_group_screen_never_drops_a_match_spread_evenly_over_groups_and_chunks():
    """The worst case for the two-level pigeonhole: the differing bits spread as evenly as they can
    over the 8 groups of 32 bits and, within each group, over its two 16-bit chunks (so at 31 only
    one group differs in 3 bits, split 1 + 2). Every such hash at 31 must still be found, through
    exactly that group's 1-bit chunk, and at 32 must not be."""
    from ncii_shield.index.bits import hexes_to_words

    rng = np.random.default_rng(23)
    base = [random_hex(rng) for _ in range(3_000)]
    index = MultiIndexHammingIndex(min_merge=1)
    index._main = _Segment.build(hexes_to_words(base), np.arange(len(base)), SMALL_SCHEME)
    assert index._main.groups is not None
    for distance in (8, 16, 24, 29, 30, 31, 32, 33):
        for trial in range(20):
            target = int(rng.integers(len(base)))
            number = int(base[target], 16)
            per_chunk = [0] * 16
            groups = rng.permutation(8)
            for k in range(distance):  # round robin over the groups, alternating their two chunks
                g = int(groups[k % 8])
                per_chunk[2 * g + (k // 8) % 2] += 1
            for c, bits in enumerate(per_chunk):  # chunk 0 is the most significant 16 bits
                for b in rng.choice(16, bits, replace=False):
                    number ^= 1 << (255 - 16 * c - int(b))
            found = {m.id: m.distance for m in index.query(f"{number:064x}", 31)}
            if distance <= 31:
                assert found.get(target) == distance, (distance, trial, per_chunk)
            else:
                assert target not in found, (distance, trial)


def test_agrees_with_brute_force_on_clusters_with_adds_and_removes():
    rng = np.random.default_rng(11)
    fast = MultiIndexHammingIndex(min_merge=300, merge_fraction=4)
    slow = BruteForceHammingIndex()
    centres = [random_hex(rng) for _ in range(40)]
    next_id = 0
    values: dict[int, str] = {}
    for step in range(3_000):
        action = rng.random()
        if action < 0.75 or not values:
            value = flip(centres[int(rng.integers(len(centres)))], int(rng.integers(0, 40)), rng)
            fast.add(value, next_id)
            slow.add(value, next_id)
            values[next_id] = value
            next_id += 1
        else:
            victim = int(rng.choice(list(values)))
            fast.remove(victim)
            slow.remove(victim)
            del values[victim]
        if step % 100 == 0:
            query = flip(centres[int(rng.integers(len(centres)))], int(rng.integers(0, 30)), rng)
            assert fast.query(query, 31) == slow.query(query, 31)
    assert len(fast) == len(slow) == len(values)


def test_bulk_build_then_changes():
    rng = np.random.default_rng(3)
    values = [random_hex(rng) for _ in range(60_000)]
    index = MultiIndexHammingIndex()
    index.add_many(zip(values, range(len(values))))
    assert len(index) == 60_000
    assert index.query(values[123], 0)[0].id == 123
    index.remove(123)
    assert index.query(values[123], 0) == []
    index.add(values[123], 123)  # re-added after a withdrawal
    assert [m.id for m in index.query(values[123], 0)] == [123]
    index.add(values[7], 123)  # same id, new value: the old value no longer matches
    assert [m.id for m in index.query(values[123], 0)] == []
    assert 123 in [m.id for m in index.query(values[7], 0)]


def test_reference_haystack_and_needles():
    """The reference's hash-search regression inputs: every needle's nearest haystack hash is found."""
    hay = [line.split()[0] for line in (PDQ_REFERENCE / "reg-test-input" / "haystack.txt").read_text().split("\n") if line.strip()]
    needles = [line.split()[0] for line in (PDQ_REFERENCE / "reg-test-input" / "needles.txt").read_text().split("\n") if line.strip()]
    fast, slow = MultiIndexHammingIndex(min_merge=10), BruteForceHammingIndex()
    fast.add_many((h, i) for i, h in enumerate(hay))
    slow.add_many((h, i) for i, h in enumerate(hay))
    found = 0
    for needle in needles:
        expected = slow.query(needle, 31)
        assert fast.query(needle, 31) == expected
        found += bool(expected)
    assert found > len(needles) // 2


def test_threshold_above_exact_limit_is_refused():
    with pytest.raises(ValueError, match="exact only up to"):
        MultiIndexHammingIndex().query("0" * 64, 32)


def test_add_words_bulk_load_matches_add_many():
    from ncii_shield.index.bits import hexes_to_words

    rng = np.random.default_rng(2)
    values = [random_hex(rng) for _ in range(5_000)]
    ids = np.arange(10, 5_010, dtype=np.int64)
    a, b = MultiIndexHammingIndex(), MultiIndexHammingIndex()
    a.add_words(hexes_to_words(values), ids)
    b.add_many(zip(values, ids.tolist()))
    for v in values[:50]:
        q = flip(v, 20, rng)
        assert a.query(q, 31) == b.query(q, 31)
    with pytest.raises(ValueError, match="empty"):
        a.add_words(hexes_to_words(values), ids)


@pytest.mark.parametrize("scheme", [SMALL_SCHEME, LARGE_SCHEME], ids=["16x16", "12x21-22"])
def test_query_many_equals_query(scheme):
    from ncii_shield.index.bits import hexes_to_words

    rng = np.random.default_rng(5)
    values = [random_hex(rng) for _ in range(3_000)]
    index = MultiIndexHammingIndex(min_merge=10_000)
    index._main = _Segment.build(hexes_to_words(values), np.arange(len(values)), scheme)
    for i in range(40):  # some in the delta, some withdrawn
        index.add(flip(values[i], 5, rng), 10_000 + i)
        index.remove(i + 100)
    queries = [flip(values[int(rng.integers(len(values)))], int(rng.integers(0, 40)), rng) for _ in range(300)]
    queries += [flip(values[i], 3, rng) for i in range(100, 140)]
    assert index.query_many(queries, 31) == [index.query(q, 31) for q in queries]


@pytest.mark.parametrize("background", [False, True], ids=["inline-merges", "background-merges"])
def test_runs_and_merges_agree_with_brute_force(background):
    """Small delta and few runs: every level of the log-structured layout is exercised, with merges
    done inline or in a background thread while adds, changes and removals go on."""
    rng = np.random.default_rng(13)
    fast = MultiIndexHammingIndex(min_merge=400, merge_fraction=4, delta_limit=37, max_runs=3,
                                  background=background)
    slow = BruteForceHammingIndex()
    base = [random_hex(rng) for _ in range(1_000)]
    fast.add_many(zip(base, range(1_000)))
    slow.add_many(zip(base, range(1_000)))
    values = dict(enumerate(base))
    next_id = 1_000
    levels = set()
    for step in range(4_000):
        action = rng.random()
        if action < 0.6:
            value = flip(base[int(rng.integers(len(base)))], int(rng.integers(0, 40)), rng)
            id = next_id if action < 0.5 else int(rng.choice(list(values)))  # new, or a changed value
            next_id += id == next_id
            fast.add(value, id)
            slow.add(value, id)
            values[id] = value
        elif values:
            victim = int(rng.choice(list(values)))
            fast.remove(victim)
            slow.remove(victim)
            del values[victim]
        levels.add((len(fast._runs) > 0, fast._delta_size > 0))
        if step % 50 == 0:
            queries = [flip(base[int(rng.integers(len(base)))], int(rng.integers(0, 32)), rng) for _ in range(20)]
            assert fast.query_many(queries, 31) == [slow.query(q, 31) for q in queries]
    fast.wait_for_merges()
    queries = [flip(base[i], int(rng.integers(0, 32)), rng) for i in range(200)]
    assert fast.query_many(queries, 31) == [slow.query(q, 31) for q in queries]
    assert len(fast) == len(slow) == len(values)
    assert {(True, True), (False, True)} <= levels  # runs and delta both seen


def test_changes_during_a_background_merge_are_kept(monkeypatch):
    """Removals and changed values that arrive while a merge is being built are not lost by it."""
    import threading

    from ncii_shield.index import multi_index

    rng = np.random.default_rng(17)
    values = [random_hex(rng) for _ in range(600)]
    index = MultiIndexHammingIndex(min_merge=100, merge_fraction=8, delta_limit=50, max_runs=100)
    index.add_many(zip(values[:500], range(500)))  # main segment
    release, started = threading.Event(), threading.Event()
    real_merge = multi_index._merge

    def slow_merge(*args):
        started.set()
        assert release.wait(10)
        return real_merge(*args)

    monkeypatch.setattr(multi_index, "_merge", slow_merge)
    for i in range(500, 600):  # two runs of 50 -> runs reach min_merge -> background merge into main
        index.add(values[i], i)
    assert started.wait(10) and index._merging is not None
    index.remove(3)  # in the main segment being merged
    index.remove(550)  # in a run being merged
    changed = random_hex(rng)
    index.add(changed, 7)  # a new value for an entry being merged
    index.add(values[10], 1_000)  # a new entry while merging
    assert index.query(values[3], 0) == [] and index.query(values[550], 0) == []
    release.set()
    index.wait_for_merges()
    assert index._merging is None and len(index._runs) == 0 and len(index._main) == 600
    assert index.query(values[3], 0) == [] and index.query(values[550], 0) == []
    assert [m.id for m in index.query(values[7], 0)] == []
    assert [m.id for m in index.query(changed, 0)] == [7]
    assert sorted(m.id for m in index.query(values[10], 0)) == [10, 1_000]
    assert len(index) == 600 - 2 + 1


def test_thousands_of_near_copies_are_each_found_once():
    """Every copy of a hash passes the screen in all 16 chunks: far more candidates than the
    search verifies at a time (kernels.CANDIDATES) and more hits than its first output buffer."""
    from ncii_shield.index import kernels
    from ncii_shield.index.bits import hexes_to_words

    rng = np.random.default_rng(5)
    centre = random_hex(rng)
    copies = [flip(centre, int(rng.integers(0, 4)), rng) for _ in range(6_000)]
    others = [random_hex(rng) for _ in range(2_000)]
    values = copies + others
    assert 16 * len(copies) > kernels.CANDIDATES
    index = MultiIndexHammingIndex(min_merge=1)
    index._main = _Segment.build(hexes_to_words(values), np.arange(len(values)), SMALL_SCHEME)
    for query in (centre, flip(centre, 20, rng)):
        found = index.query(query, 31)
        ids = [m.id for m in found]
        assert len(ids) == len(set(ids))
        expected = {i for i, v in enumerate(values) if (int(v, 16) ^ int(query, 16)).bit_count() <= 31}
        assert set(ids) == expected and len(expected) >= 6_000 * (query == centre)
