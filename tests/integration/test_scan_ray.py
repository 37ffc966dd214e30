"""The scan on a real Ray cluster (a head and one more node, separate processes on 127.0.0.1) gives
exactly the results of the local scan, for every source kind."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.scan_helpers import LoopbackServer, make_store, photo, photo_folder, warc_of, zip_of
from tests.servers import cli

pytestmark = pytest.mark.slow
LOOPBACK_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """Head + one worker node, 1 CPU each, small object stores; only these processes are stopped.

    Ray replaces 127.0.0.1 in addresses by the machine's outward address unless it runs in its
    single-machine mode (the variable below, which Ray reads as "no multi-machine clusters"); the
    nodes, their workers and the scan's driver all get it, so everything stays on loopback."""
    from ray.cluster_utils import Cluster  # the scan extra, installed by scripts/dev: never skipped

    saved = os.environ.get(LOOPBACK_ONLY)
    os.environ[LOOPBACK_ONLY] = "0"
    args = {"num_cpus": 1, "object_store_memory": 80_000_000, "node_ip_address": "127.0.0.1"}
    cluster = Cluster(initialize_head=True, head_node_args={**args, "include_dashboard": False})
    try:
        cluster.add_node(**args)
        cluster.wait_for_nodes()
        yield cluster.address
    finally:
        cluster.shutdown()
        if saved is None:
            os.environ.pop(LOOPBACK_ONLY, None)
        else:
            os.environ[LOOPBACK_ONLY] = saved


def test_ray_and_local_scans_are_identical(ray_cluster: str, tmp_path: Path) -> None:
    store = make_store(tmp_path)
    folder = tmp_path / "f"
    photo_folder(folder, 60)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    archive = zip_of(tmp_path / "a.zip", {f"z/{i}.jpg": photo(100 + i) for i in range(10)} | {"../x.jpg": photo(1)})
    tgz = tmp_path / "b.tar.gz"
    with tarfile.open(tgz, "w:gz") as t:
        for i in (0, 7, 30):
            info = tarfile.TarInfo(f"t/{i}.jpg")
            data = photo(i)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    warc = warc_of(tmp_path / "c.warc.gz", [(f"https://example.org/{i}.jpg", "image/jpeg", photo(i)) for i in (1, 2, 40)])
    server = LoopbackServer({f"/{i}.jpg": photo(i) for i in (2, 50)})
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.url}/2.jpg\n{server.url}/50.jpg\n{server.url}/gone.jpg\n")
    sources = [str(folder), str(archive), str(tgz), str(warc), str(urls)]
    env = {"NCII_SHIELD_DATA": str(tmp_path), LOOPBACK_ONLY: "0"}
    try:
        local = cli("scan", "--db", store, *sources, "-o", str(tmp_path / "local.jsonl"), "--allow-loopback",
                    env=env, timeout=300)
        on_ray = cli("scan", "--db", store, *sources, "-o", str(tmp_path / "ray.jsonl"), "--allow-loopback",
                     "--ray", ray_cluster, "--workers", "2", env=env, timeout=300)
    finally:
        server.stop()
    assert local.returncode == 3, local.stderr
    assert on_ray.returncode == 3, on_ray.stderr
    expected = (tmp_path / "local.jsonl").read_text()
    assert len(expected.splitlines()) == 61 + 11 + 3 + 3 + 3
    assert (tmp_path / "ray.jsonl").read_text() == expected
    assert '"status": "near"' in expected and '"status": "exact"' in expected and '"status": "error"' in expected
