"""``ncii-shield bank import``: a SIGKILL in the middle, then a rerun, gives exactly the same bank."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from sqlalchemy import func, select

from ncii_shield.store.database import open_database
from ncii_shield.store.models import Bank, Change, ImportRun, Signal
from tests.servers import cli

LINES = 60_000


@pytest.fixture(scope="module")
def hash_file(tmp_path_factory):
    rng = np.random.default_rng(1)
    values = [rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex() for _ in range(LINES)]
    values[100] = values[99]  # a duplicate line: imported once
    path = tmp_path_factory.mktemp("import") / "hashes.txt"
    path.write_text("# exported by python-threatexchange\n" + "".join(f"pdq {v}\n" for v in values))
    return path, set(values)


def bank_state(url: str, name: str) -> tuple[list[str], int, int]:
    db = open_database(url)
    with db.read() as s:
        bank_id = s.scalar(select(Bank.id).where(Bank.name == name))
        values = sorted(s.scalars(select(Signal.value).where(Signal.bank_id == bank_id, Signal.withdrawn_at.is_(None))))
        adds = s.scalar(select(func.count()).select_from(Change).where(Change.bank_id == bank_id, Change.op == "add"))
        rows = s.scalar(select(func.count()).select_from(Signal).where(Signal.bank_id == bank_id))
    db.dispose()
    return values, adds, rows


def lines_done(url: str) -> int:
    db = open_database(url)
    try:
        with db.read() as s:
            return int(s.scalar(select(func.coalesce(func.max(ImportRun.lines_done), 0))) or 0)
    except Exception:
        return 0
    finally:
        db.dispose()


def test_killed_import_resumes_to_the_exact_same_bank(db_url, hash_file):
    path, expected = hash_file
    command = [sys.executable, "-m", "ncii_shield.cli", "bank", "import", "victims", str(path), "--db", db_url]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while lines_done(db_url) < 5_000:
        assert proc.poll() is None, f"the import ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial, _, _ = bank_state(db_url, "victims")
    assert 0 < len(partial) < len(expected), "killed in the middle"

    rerun = cli("bank", "import", "victims", str(path), "--db", db_url, "--json")
    assert rerun.returncode == 0, rerun.stderr
    values, adds, rows = bank_state(db_url, "victims")
    assert values == sorted(expected)  # nothing lost
    assert adds == rows == len(expected)  # nothing twice, not even in the change log

    # the same as an uninterrupted import, and a third run changes nothing
    clean = cli("bank", "import", "clean", str(path), "--db", db_url)
    assert clean.returncode == 0, clean.stderr
    assert bank_state(db_url, "clean")[0] == values
    again = cli("bank", "import", "victims", str(path), "--db", db_url, "--json")
    assert '"added": 0' in again.stdout
    assert bank_state(db_url, "victims") == (values, adds, rows)


def test_bad_line_stops_with_its_number_and_keeps_what_came_before(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    good = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    path = tmp_path / "list.txt"
    path.write_text(f"pdq {good}\npdq nothex\nmd5 d41d8cd98f00b204e9800998ecf8427e\n")
    proc = cli("bank", "import", "b", str(path), "--db", url)
    assert proc.returncode == 1
    assert "line 2" in proc.stderr and "64 hexadecimal" in proc.stderr
    assert bank_state(url, "b")[0] == [good]
    proc = cli("bank", "import", "b", str(path), "--db", url, "--skip-invalid", "--json")
    assert proc.returncode == 1 and '"line 2: ' in proc.stdout
    assert len(bank_state(url, "b")[0]) == 2


def test_csv_and_jsonl_formats(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    csv_path = tmp_path / "dataset.csv"
    csv_path.write_text("signal_type,signal_str,collab,category,tags\n"
                        "pdq,f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22,ncii,,a b\n"
                        "video_md5,d41d8cd98f00b204e9800998ecf8427e,ncii,,\n")
    assert cli("bank", "import", "c", str(csv_path), "--db", url).returncode == 0
    jsonl = tmp_path / "x.jsonl"
    jsonl.write_text('{"signal_type": "sha256", "value": "' + "ab" * 32 + '", "metadata": {"k": 1}}\n')
    assert cli("bank", "import", "c", str(jsonl), "--db", url).returncode == 0
    assert len(bank_state(url, "c")[0]) == 3
