"""The in-process Matcher and its index follower, on SQLite and PostgreSQL (no HTTP)."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ncii_shield.core import Shield
from ncii_shield.errors import InvalidRequest, InvalidSignal, NotFound, PermissionDenied, TooLarge
from ncii_shield.services.banks import SignalInput
from ncii_shield.store import changes


def rand_pdq(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def flip(value: str, bits: int, rng: random.Random) -> str:
    number = int(value, 16)
    for b in rng.sample(range(256), bits):
        number ^= 1 << b
    return f"{number:064x}"


@pytest.fixture
def shield(db_url):
    s = Shield.open(db_url)
    yield s
    s.close()


def test_index_equals_store_after_random_changes_and_a_reload(shield, db_url):
    """Random adds, re-adds and withdrawals; the live index and a fresh replica agree with the store."""
    rng = random.Random(3)
    who = shield.local_principal("t")
    shield.banks.create(who, "b")
    live: dict[str, int] = {}
    withdrawn: dict[str, int] = {}
    for _ in range(300):
        roll = rng.random()
        if roll < 0.5 or not live:
            value = rand_pdq(rng)
            live[value] = shield.banks.add(who, "b", [SignalInput("pdq", value)])[0].id
        elif roll < 0.8:
            value = rng.choice(list(live))
            shield.banks.withdraw(who, "b", live[value])
            withdrawn[value] = live.pop(value)
        elif withdrawn:
            value = rng.choice(list(withdrawn))
            added = shield.banks.add(who, "b", [SignalInput("pdq", value)])[0]
            assert added.created and added.id == withdrawn[value]  # re-activated, same id
            live[value] = withdrawn.pop(value)
    other = Shield.open(db_url)  # a second replica that loads a snapshot
    try:
        for s in (shield, other):
            for value, signal_id in live.items():
                assert [m.signal_id for m in s.matcher.match(who, [SignalInput("pdq", value)], threshold=0)] == [signal_id]
            for value in withdrawn:
                assert s.matcher.match(who, [SignalInput("pdq", value)], threshold=0) == []
        assert other.follower.seq == shield.follower.seq
    finally:
        other.close()


def test_follower_picks_up_writes_from_another_process_like_replica(shield, db_url):
    writer = Shield.open(db_url, load_index=False)
    shield.start()
    try:
        who = writer.local_principal("t")
        writer.banks.create(who, "x")
        value = rand_pdq(random.Random(1))
        writer.banks.add(who, "x", [SignalInput("pdq", value)])
        deadline = time.monotonic() + 2
        while not shield.matcher.match(who, [SignalInput("pdq", value)]):
            assert time.monotonic() < deadline, "change not followed within 2 s"
            time.sleep(0.005)
    finally:
        writer.close()


def test_snapshot_replay_is_idempotent(shield):
    """Applying the whole change log again over the loaded index changes nothing."""
    who = shield.local_principal("t")
    shield.banks.create(who, "r")
    rng = random.Random(9)
    ids = [a.id for a in shield.banks.add(who, "r", [SignalInput("pdq", rand_pdq(rng)) for _ in range(50)])]
    for signal_id in ids[::3]:
        shield.banks.withdraw(who, "r", signal_id)
    before = {n: len(i) for n, i in shield.follower.indexes.items()}
    with shield.db.read() as session:
        for change in changes.read_after(session, 0, limit=10_000):
            shield.follower._apply(change)
    assert {n: len(i) for n, i in shield.follower.indexes.items()} == before
    assert before["pdq"] == len(ids) - len(ids[::3])


def test_matcher_api_errors(shield):
    who = shield.local_principal("t")
    reader = shield.local_principal("t", ("match",))
    shield.banks.create(who, "e")
    with pytest.raises(PermissionDenied):
        shield.banks.add(reader, "e", [SignalInput("md5", "0" * 32)])
    with pytest.raises(NotFound):
        shield.banks.add(who, "missing", [SignalInput("md5", "0" * 32)])
    with pytest.raises(InvalidSignal, match=r"signals\[1\]"):
        shield.banks.add(who, "e", [SignalInput("md5", "0" * 32), SignalInput("md5", "zz")])
    assert shield.banks.list(who)[0].signals == 0  # all or nothing
    with pytest.raises(TooLarge):
        shield.matcher.match(who, [SignalInput("md5", "0" * 32)] * 10_001)
    with pytest.raises(InvalidRequest):
        shield.matcher.match(who, [])


def test_vpdq_matching_uses_both_shares(shield):
    who = shield.local_principal("t")
    shield.banks.create(who, "v")
    rng = random.Random(4)
    frames = [rand_pdq(rng) for _ in range(10)]
    stored = '["' + '","'.join(f"{f},100,{i}.000" for i, f in enumerate(frames)) + '"]'
    shield.banks.add(who, "v", [SignalInput("vpdq", stored)])
    # a re-encode: every frame a few bits off -> match
    near = '["' + '","'.join(f"{flip(f, 6, rng)},90,{i}.000" for i, f in enumerate(frames)) + '"]'
    assert [m.distance for m in shield.matcher.match(who, [SignalInput("vpdq", near)])] == [0.0]
    # a clip holding 3 of the 10 frames: query share 100 %, compared share 30 % -> no match by default
    clip = '["' + '","'.join(f"{f},100,{i}.000" for i, f in enumerate(frames[:3])) + '"]'
    assert shield.matcher.match(who, [SignalInput("vpdq", clip)]) == []
    [hit] = shield.matcher.match(who, [SignalInput("vpdq", clip)], threshold=70)
    assert (hit.distance, hit.query_share, hit.compared_share) == (70.0, 100.0, 30.0)
    assert "query_share" in hit.to_json() and "variant" not in hit.to_json()


def test_concurrent_writers_get_unique_increasing_sequence_numbers(shield, db_url):
    who = shield.local_principal("t")
    shield.banks.create(who, "c")
    errors: list[Exception] = []

    def write(seed: int) -> None:
        try:
            s = Shield.open(db_url, load_index=False)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
            return
        try:
            rng = random.Random(seed)
            for _ in range(20):
                s.banks.add(who, "c", [SignalInput("pdq", rand_pdq(rng)) for _ in range(5)])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            s.close()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with shield.db.read() as session:
        seqs = [c.seq for c in changes.read_after(session, 0, limit=100_000)]
    assert seqs == sorted(set(seqs))
    shield.follower.catch_up()
    assert len(shield.follower.indexes["pdq"]) == 4 * 20 * 5


def test_match_totals_accumulate_in_batches(shield):
    from sqlalchemy import select

    from ncii_shield.store.models import MatchTotal

    shield.cases.record_matches([5, 5, 7])
    assert shield.cases.flush_matches() == 3
    shield.cases.record_matches([5])
    shield.cases.flush_matches()
    with shield.db.read() as session:
        rows = list(session.scalars(select(MatchTotal)))
    assert {t.signal_id: t.matches for t in rows} == {5: 3, 7: 1}
    now = datetime.now(UTC)
    for t in rows:  # written by the driver directly: still read back as the instant of the flush
        at = t.last_at if t.last_at.tzinfo else t.last_at.replace(tzinfo=UTC)
        assert abs(now - at) < timedelta(minutes=1)


def test_a_batch_finds_what_its_queries_find_one_by_one(shield):
    """The batch path (validated per type in one pass, searched as arrays) and the single lookup
    agree on every match, for mixed types, upper-case and padded values, near and far hashes."""
    who = shield.local_principal("t")
    other = shield.local_principal("u")
    shield.banks.create(who, "mine")
    shield.banks.create(other, "theirs", shared=True)
    shield.banks.create(other, "private")
    rng = random.Random(21)
    stored = [rand_pdq(rng) for _ in range(300)]
    shield.banks.add(who, "mine", [SignalInput("pdq", v) for v in stored[:100]])
    shield.banks.add(other, "theirs", [SignalInput("pdq", v) for v in stored[100:200]])
    shield.banks.add(other, "private", [SignalInput("pdq", v) for v in stored[200:]])
    shield.banks.add(who, "mine", [SignalInput("md5", f"{i:032x}") for i in range(20)])
    shield.follower.catch_up()
    queries = []
    for i in range(120):
        value = flip(stored[rng.randrange(300)], rng.choice([0, 5, 20, 31, 32, 60]), rng)
        queries.append(SignalInput("pdq", value.upper() if i % 3 == 0 else f" {value}" if i % 3 == 1 else value))
        if i % 10 == 0:
            queries.append(SignalInput("md5", f"{rng.randrange(40):032X}"))
    batch = shield.matcher.match(who, queries)
    one_by_one = [replace(m, query=i) for i, q in enumerate(queries) for m in shield.matcher.match(who, [q])]
    assert batch == one_by_one
    assert {m.bank for m in batch} == {"mine", "theirs"}  # another tenant's unshared bank stays unseen
    assert all(m.shared == (m.bank == "theirs") for m in batch)
