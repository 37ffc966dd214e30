"""`feed publish --data-dir X` prints the key that `serve --data-dir X` signs with (issue 22, item 1).

Before, `feed` had no --data-dir: run from anywhere but the server's working directory it printed the
key of ./data, the server signed with X's key, and subscribers saw "signature does not verify".
The real CLI and a live server on loopback; the subscriber is a second instance's CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np

from ncii_shield.services.exchange import signing
from tests.servers import start_server


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The real CLI, from a working directory of its own (its ./data is not the server's), with no
    NCII_SHIELD_DATA or NCII_SHIELD_DB inherited: only --data-dir says where the instance lives."""
    env = {k: v for k, v in os.environ.items() if k not in ("NCII_SHIELD_DATA", "NCII_SHIELD_DB")}
    return subprocess.run([sys.executable, "-m", "ncii_shield.cli", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd, env=env)


def test_publish_with_data_dir_prints_the_key_serve_signs_with(tmp_path):
    x, y, elsewhere = tmp_path / "x", tmp_path / "y", tmp_path / "elsewhere"
    for d in (x, y, elsewhere):
        d.mkdir()
    server = start_server(f"sqlite:///{x / 'ncii-shield.db'}", tmp_path, extra=("--data-dir", str(x)))
    try:
        value = np.random.default_rng(22).integers(0, 256, 32, dtype=np.uint8).tobytes().hex()
        with server.client(server.admin_key) as c:
            assert c.post("/v1/banks", json={"name": "victims"}).status_code == 201
            assert c.post("/v1/banks/victims/signals", json={"signal_type": "pdq", "value": value}).status_code == 201

        published = run_cli("feed", "publish", "victims", "--data-dir", str(x), "--subscriber", "b", "--json",
                            cwd=elsewhere)
        assert published.returncode == 0, published.stderr
        info = json.loads(published.stdout)
        assert not (elsewhere / "data").exists()  # nothing was read or made under ./data

        # the page the live server serves verifies against the printed key
        page = httpx.get(f"{server.url}/v1/feeds/victims/pages", params={"cursor": "start"},
                         headers={"Authorization": f"Bearer {info['tokens']['b']}"}, timeout=30)
        assert page.status_code == 200, page.text
        signing.verify(info["public_key"], page.json())

        # and a subscriber (another instance's CLI, its own --data-dir) verifies and applies the pages
        subscribed = run_cli("feed", "subscribe", server.url, "--feed", "victims", "--publisher-key",
                             info["public_key"], "--token", info["tokens"]["b"], "--bank", "from-x",
                             "--allow-private-address", "--data-dir", str(y), cwd=elsewhere)
        assert subscribed.returncode == 0, subscribed.stderr
        assert "1 changes applied" in subscribed.stdout
        status = run_cli("feed", "status", "--json", "--data-dir", str(y), cwd=elsewhere)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)[0]["last_error"] is None
        assert (y / "ncii-shield.db").exists() and not (elsewhere / "data").exists()
    finally:
        server.stop()
