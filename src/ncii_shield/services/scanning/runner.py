"""Run a scan: sources -> items -> workers (hash + match) -> checkpoint -> outputs.

    summary = run_scan(["dump.zip", "crawl.warc.gz"], settings, checkpoint_path, workers=2)

Three engines, one result: ``workers=1`` scans in this process; ``workers=N`` uses N worker
processes, each with its own index built from the store's snapshot (items go to them in batches:
a file or URL item is read by the worker, an archive member carries its bytes); ``ray="ADDRESS"``
runs the same scanner in a Ray Data actor pool (:mod:`.on_ray`). Results are committed to the
checkpoint as they arrive and written out in item order, so engines and interruptions do not change
the output.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from ncii_shield.errors import Unavailable
from ncii_shield.services.scanning.checkpoint import Checkpoint
from ncii_shield.services.scanning.items import Item
from ncii_shield.services.scanning.opening import open_source
from ncii_shield.services.scanning.scanner import ScanSettings, Scanner
from ncii_shield.services.scanning.sources import Shard, Source

_BATCH = 8  # items per task sent to a worker process
_MAX_CRASHES_IN_A_ROW = 5


@dataclass
class ScanSummary:
    items: int = 0  # items finished in this run
    resumed: int = 0  # items finished by an earlier run
    total: int = 0  # items in the checkpoint at the end
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


def open_sources(texts: list[str], settings: ScanSettings) -> list[Source]:
    return [open_source(text, i, settings.limits) for i, text in enumerate(texts)]


def fingerprint(sources: list[Source], settings: ScanSettings) -> dict:
    return {"sources": [[s.kind, s.label] for s in sources], **settings.fingerprint()}


def default_checkpoint(output: Path | None, sources: list[Source], settings: ScanSettings, data_dir: Path) -> Path:
    """Next to the output file; without one, under the data directory, named by the scan's fingerprint."""
    if output is not None:
        return output.with_name(output.name + ".checkpoint.sqlite")
    digest = hashlib.sha256(json.dumps(fingerprint(sources, settings), sort_keys=True).encode()).hexdigest()[:16]
    return data_dir / "scans" / f"{digest}.checkpoint.sqlite"


def run_scan(sources: list[Source], settings: ScanSettings, checkpoint: Checkpoint, *, workers: int = 1,
             ray: str | None = None, on_total: Callable[[int | None], None] | None = None,
             on_result: Callable[[dict], None] | None = None, scanner: Scanner | None = None) -> ScanSummary:
    """Scan every item not yet in ``checkpoint``. Interruptions (KeyboardInterrupt) propagate after
    the results received so far are committed."""
    started = time.perf_counter()
    done = checkpoint.done_keys()
    summary = ScanSummary(resumed=len(done))
    totals = [s.total() for s in sources]
    if on_total:
        on_total(None if any(t is None for t in totals) else max(sum(totals) - len(done), 0))
    shards = [shard for source in sources for shard in source.shards(done)]

    def take(result: dict) -> None:
        checkpoint.add(result)
        summary.items += 1
        if on_result:
            on_result(result)

    try:
        if ray is not None:
            from ncii_shield.services.scanning.on_ray import scan_on_ray

            for result in scan_on_ray(ray, settings, shards, workers):
                take(result)
        elif workers <= 1:
            own = scanner or Scanner.open(settings)
            try:
                for item in _items(shards):
                    take(own.scan(item))
            finally:
                if scanner is None:
                    own.close()
        else:
            for result in _scan_in_pool(settings, _items(shards), workers):
                take(result)
    finally:
        checkpoint.flush()
        summary.seconds = time.perf_counter() - started
    summary.total = checkpoint.count()
    summary.counts = checkpoint.counts()
    return summary


def _items(shards: list[Shard]) -> Iterator[Item]:
    for shard in shards:
        yield from shard.items()


# -- local worker processes ---------------------------------------------------------------------

_worker: Scanner | None = None


def _init_worker(settings: ScanSettings) -> None:
    import signal

    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _die_with_parent()
    _worker = Scanner.open(settings)


def _die_with_parent() -> None:
    """If the scan is killed (even with SIGKILL), its workers go too instead of lingering."""
    import ctypes
    import os
    import signal
    import sys

    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before prctl took effect
            os._exit(1)


def _scan_batch(items: list[Item]) -> list[dict]:
    assert _worker is not None
    return _worker.scan_many(items)


def _new_pool(settings: ScanSettings, workers: int) -> ProcessPoolExecutor:
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads (progress bar)
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                               initargs=(settings,))


def crashed(item: Item) -> dict:
    return {"source": item.source, "member": item.member, "key": item.key, "status": "error", "size": item.size,
            "error_type": "WorkerCrashed",
            "error": "the worker process died while scanning this item (a crash in a decoder?); item skipped"}


def _scan_in_pool(settings: ScanSettings, items: Iterator[Item], workers: int) -> Iterator[dict]:
    """Keep ``4 * workers`` batches in flight; yield results as batches finish.

    If a worker dies (a native crash on a hostile file), every batch in flight is lost: the pool is
    replaced and those items are scanned again one at a time, alone in flight, so the item that
    kills a worker again is known for sure and becomes an error result instead of stopping the scan.
    """
    pool = _new_pool(settings, workers)
    pending: dict[Future, list[Item]] = {}
    retry: list[Item] = []
    exhausted = False
    crashes_in_a_row = 0
    try:
        while True:
            while not retry and not exhausted and len(pending) < 4 * workers:
                batch = [item for _, item in zip(range(_BATCH), items)]
                if not batch:
                    exhausted = True
                    break
                pending[pool.submit(_scan_batch, batch)] = batch
            if retry and not pending:
                item = retry.pop(0)
                pending[pool.submit(_scan_batch, [item])] = [item]
            if not pending:
                break
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            broken = False
            for future in finished:
                batch = pending.pop(future)
                try:
                    results = future.result()
                except BrokenProcessPool:
                    broken = True
                    if len(batch) == 1 and not pending:  # alone in flight: this item killed the worker
                        crashes_in_a_row += 1
                        if crashes_in_a_row >= _MAX_CRASHES_IN_A_ROW:
                            raise Unavailable(
                                f"worker processes died on {crashes_in_a_row} items in a row; they probably cannot "
                                f"start (is the store reachable?). Fix it and rerun with --resume") from None
                        yield crashed(batch[0])
                    else:
                        retry.extend(batch)
                    continue
                crashes_in_a_row = 0
                yield from results
            if broken:
                for batch in pending.values():
                    retry.extend(batch)
                pending.clear()
                pool.shutdown(wait=True, cancel_futures=True)
                pool = _new_pool(settings, workers)
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
