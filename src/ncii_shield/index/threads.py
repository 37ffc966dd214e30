"""Threads for the indexes' split searches (``index/derivative.py``, ``index/marks.py``): a check's work
is shared between the calling thread and a pool made on first use (:class:`LazyPool`), each running
faiss on one OpenMP thread (:func:`one_faiss_thread`) so that the two do not start OpenMP teams of
their own (whose threads spin while they wait, on the cores the other half needs). OpenMP's thread
count (``nthreads-var``) is the calling thread's own: setting it leaves every other thread's as it
was."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import faiss

T = TypeVar("T")


def one_faiss_thread(fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` with faiss on one OpenMP thread, the calling thread's setting restored after (a
    pool thread starts with faiss's default)."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        return fn(*args)
    finally:
        faiss.omp_set_num_threads(threads)


class LazyPool:
    """A thread pool shared by every caller, made on first use (a process that never splits a check
    starts no thread) with ``workers()`` threads, read then."""

    def __init__(self, workers: Callable[[], int], name: str) -> None:
        self._workers = workers
        self._name = name
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def __call__(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers(), thread_name_prefix=self._name)
            return self._pool
