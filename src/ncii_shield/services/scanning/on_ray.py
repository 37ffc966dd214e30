"""The scan on a Ray cluster, with Ray Data: shards are read in parallel tasks, items are hashed and
matched by a pool of actors, each holding the index built from the store's snapshot.

    for result in scan_on_ray("auto", settings, shards, workers=8): ...

Pipeline: ``from_items(shards)`` -> ``map_batches(read)`` (a task per shard; a folder shard yields
file items that the actor reads, an archive or WARC shard is streamed and yields its members'
bytes) -> ``map_batches(ScanActor, ActorPoolStrategy(size=workers))`` -> results, in whatever order
they finish (the checkpoint puts them in item order). Items and results cross Ray as pickled and
JSON bytes in Arrow binary columns, so nothing is converted on the way.

The cluster's nodes need ncii-shield installed (same version) and must reach the store: a
PostgreSQL URL, or a SQLite path that exists on every node (one machine).
"""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Iterator

from ncii_shield.errors import Unavailable
from ncii_shield.services.scanning.scanner import ScanSettings, Scanner
from ncii_shield.services.scanning.sources import Shard

log = logging.getLogger("ncii_shield.scan")
_ITEMS_PER_BATCH = 16


def _connect(address: str, workers: int) -> None:
    import ray

    options = {"ignore_reinit_error": True, "logging_level": logging.WARNING, "log_to_driver": False}
    if address == "auto":
        try:
            ray.init(address="auto", **options)
            return
        except ConnectionError:
            log.info("no Ray cluster on this machine; starting a local one", extra={"cpus": workers})
            ray.init(num_cpus=workers, include_dashboard=False, **options)
            return
    ray.init(address=address, **options)


def _read_shards(batch) -> Iterator:  # noqa: ANN001 - a pyarrow.Table of pickled shards
    import pyarrow as pa

    for blob in batch.column("shard").to_pylist():
        shard: Shard = pickle.loads(blob)
        items: list[bytes] = []
        for item in shard.items():
            items.append(pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL))
            if len(items) >= _ITEMS_PER_BATCH:
                yield pa.table({"item": pa.array(items, type=pa.large_binary())})
                items = []
        if items:
            yield pa.table({"item": pa.array(items, type=pa.large_binary())})


class ScanActor:
    """One per worker: opens the store, builds the index once, then scans every batch it is given."""

    def __init__(self, settings: ScanSettings) -> None:
        self.scanner = Scanner.open(settings)

    def __call__(self, batch):  # noqa: ANN001, ANN204 - pyarrow.Table in, pyarrow.Table out
        import pyarrow as pa

        items = [pickle.loads(blob) for blob in batch.column("item").to_pylist()]
        results = [json.dumps(r, sort_keys=True) for r in self.scanner.scan_many(items)]
        return pa.table({"result": pa.array(results, type=pa.large_string())})


def scan_on_ray(address: str, settings: ScanSettings, shards: list[Shard], workers: int) -> Iterator[dict]:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise Unavailable("--ray needs Ray: pip install 'ncii-shield[scan]'") from exc
    if not shards:
        return
    _connect(address, workers)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # ours is on stderr already
        context.print_on_execution_start = False
        blobs = [{"shard": pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL)} for s in shards]
        dataset = (
            ray.data.from_items(blobs, override_num_blocks=len(blobs))
            .map_batches(_read_shards, batch_size=1, batch_format="pyarrow", num_cpus=0)
            .map_batches(ScanActor, fn_constructor_args=(settings,), batch_size=_ITEMS_PER_BATCH,
                         batch_format="pyarrow", compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1)
        )
        for batch in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
            for text in batch.column("result").to_pylist():
                yield json.loads(text)
    finally:
        ray.shutdown()
