"""``index/threads.py``. ``one_faiss_thread``: faiss on one OpenMP thread inside the call, on the calling
thread only, and the calling thread's own setting back after it (also after an error); the derivative
and mark indexes run their two search halves this way at once, and a process-wide setting would let one
thread's restore undo the other's. ``LazyPool``: one pool, made on first use."""

from __future__ import annotations

import threading

import faiss
import pytest

from ncii_shield.index.threads import LazyPool, one_faiss_thread


def test_one_thread_inside_on_the_calling_thread_only():
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(3)  # this thread's own setting, which must come back
    try:
        ready, inside, other = threading.Event(), threading.Event(), threading.Event()
        seen = {}

        def elsewhere() -> None:
            faiss.omp_set_num_threads(5)  # another thread's own setting, set before the call
            ready.set()
            inside.wait(10)
            seen["other"] = faiss.omp_get_max_threads()  # read while the call runs: untouched
            other.set()

        def call() -> int:
            inside.set()
            other.wait(10)
            return faiss.omp_get_max_threads()

        t = threading.Thread(target=elsewhere)
        t.start()
        ready.wait(10)
        assert one_faiss_thread(call) == 1
        t.join(10)
        assert seen["other"] == 5
        assert faiss.omp_get_max_threads() == 3
        with pytest.raises(ValueError):
            one_faiss_thread(lambda: (_ for _ in ()).throw(ValueError("x")))
        assert faiss.omp_get_max_threads() == 3
        assert one_faiss_thread(lambda a, b: a + b, 2, 5) == 7
    finally:
        faiss.omp_set_num_threads(before)


def test_a_lazy_pool_is_made_once_on_first_use_with_the_workers_read_then():
    workers = {"n": 0}
    pool = LazyPool(lambda: workers["n"], "test-pool")  # 0 workers would fail: nothing made yet
    workers["n"] = 2
    made = [None] * 4

    def get(k: int) -> None:
        made[k] = pool()

    threads = [threading.Thread(target=get, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert all(p is made[0] for p in made) and made[0]._max_workers == 2
    assert made[0].submit(threading.current_thread).result(10).name.startswith("test-pool")
    made[0].shutdown()
