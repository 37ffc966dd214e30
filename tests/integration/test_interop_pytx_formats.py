"""Files between ncii-shield and the field's real tools, through both command lines (issue 22).

``ncii-shield bank export`` -> the ``threatexchange`` 1.2.17 CLI (a local_file collaboration, fetch,
dataset) and the CLI's ``dataset --csv`` -> ``ncii-shield bank import``; our own StopNCII export read
back by format detection; HMA content and pytx opinions that must not match, kept withdrawn in the
bank; on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from ncii_shield.store.database import open_database
from ncii_shield.store.models import Bank, Signal
from tests.servers import cli

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
PDQ2 = "d8f8f1eec0f4a84f0e37022a078f63f0b36e2ed596621e1d33e6239c4e9c9b22"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
TX = str(Path(sys.executable).with_name("threatexchange"))


def bank(url: str, name: str) -> dict[tuple[str, str], tuple[bool, dict | None]]:
    """(type, value) -> (active, metadata) of every signal in the bank, withdrawn ones too."""
    db = open_database(url)
    try:
        with db.read() as s:
            bank_id = s.scalar(select(Bank.id).where(Bank.name == name))
            return {(r.signal_type, r.value): (r.withdrawn_at is None, r.meta)
                    for r in s.scalars(select(Signal).where(Signal.bank_id == bank_id))}
    finally:
        db.dispose()


def seed(url: str, tmp_path: Path, name: str = "victims") -> None:
    """pdq, md5, sha256 active; a second pdq added then withdrawn."""
    path = tmp_path / "seed.jsonl"
    lines = [{"signal_type": "pdq", "value": PDQ, "metadata": {"case": "c-1"}}, {"signal_type": "md5", "value": MD5},
             {"signal_type": "sha256", "value": SHA}, {"signal_type": "pdq", "value": PDQ2},
             {"op": "withdraw", "signal_type": "pdq", "value": PDQ2}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    done = cli("bank", "import", name, str(path), "--db", url)
    assert done.returncode == 0, done.stderr


def said(done: subprocess.CompletedProcess) -> str:
    """What a command wrote to standard error, with the terminal's line wrapping undone."""
    return " ".join(done.stderr.split())


def tx(home: Path, *args: str) -> subprocess.CompletedProcess:
    """The real python-threatexchange CLI, with its state in ``home``."""
    done = subprocess.run([TX, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HOME": str(home)})
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


def test_pytx_cli_fetches_our_export_whole_and_its_dataset_csv_imports_identically(db_url, tmp_path):
    seed(db_url, tmp_path)
    export = tmp_path / "victims.txt"
    done = cli("bank", "export", "victims", "-f", "pytx", "-o", str(export), "--db", db_url)
    assert done.returncode == 0, done.stderr
    lines = export.read_text().splitlines()
    assert len(lines) == 3
    assert f"wrote {len(lines)} signals" in said(done) and "left out 1 withdrawn" in said(done)

    home = tmp_path / "pytx-home"
    home.mkdir()
    tx(home, "config", "collab", "edit", "local_file", "ncii", "--create", "--filename", str(export))
    fetched = tx(home, "fetch")
    assert "No signals for" not in fetched.stdout + fetched.stderr  # was: VideoSHA256Signal, silently
    dataset = tx(home, "dataset", "-P", "--csv").stdout
    rows = {(r["signal_type"], r["signal_str"]) for r in csv.DictReader(io.StringIO(dataset))}
    assert rows == {("pdq", PDQ), ("video_md5", MD5), ("video_sha256", SHA)}
    matched = tx(home, "match", "--hashes", "--only-signal", "video_sha256", "video", "--", SHA).stdout
    assert matched.split() == ["video_sha256", "-", "(ncii)", "INVESTIGATION_SEED"]

    # pytx's own CSV back into ncii-shield: the same active signals
    back = tmp_path / "dataset.csv"
    back.write_text(dataset)
    done = cli("bank", "import", "from-pytx", str(back), "--db", db_url, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["added"] == 3
    assert {k for k, (active, _) in bank(db_url, "from-pytx").items() if active} == \
        {k for k, (active, _) in bank(db_url, "victims").items() if active}


def test_our_pretty_printed_stopncii_export_imports_back(db_url, tmp_path):
    seed(db_url, tmp_path)
    # the withdrawn PDQ is also active in the receiving bank: the export's Withdrawn record withdraws it
    assert cli("bank", "import", "copy", str(tmp_path / "seed.jsonl"), "--db", db_url).returncode == 0
    path = tmp_path / "records.json"
    done = cli("bank", "export", "victims", "-f", "stopncii", "-o", str(path), "--db", db_url)
    assert done.returncode == 0, done.stderr
    assert path.read_text().startswith("{\n")  # pretty-printed
    assert "wrote 3 signals" in said(done) and "1 of a signal type" in said(done)  # SHA-256: no StopNCII name
    fresh = tmp_path / "fresh.jsonl"
    fresh.write_text(json.dumps({"signal_type": "pdq", "value": PDQ2}) + "\n")
    assert cli("bank", "import", "copy", str(fresh), "--db", db_url).returncode == 0
    done = cli("bank", "import", "copy", str(path), "--db", db_url, "--json")  # format: auto
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["withdrawn"] == 1
    state = bank(db_url, "copy")
    assert state[("pdq", PDQ)][0] and state[("md5", MD5)][0] and not state[("pdq", PDQ2)][0]


def test_hma_content_disabled_or_deleted_is_kept_withdrawn(db_url, tmp_path):
    """HMA's content JSON (GET /c/bank/<BANK>/content/<id>?include_signals=true) per line: disabled
    content (0, or a time to come) does not match but stays on record; a deletion withdraws."""
    now = int(time.time())
    content = [(1, 1, {"pdq": PDQ}), (2, 0, {"pdq": PDQ2}), (3, now + 86400, {"video_sha256": SHA}),
               (4, now - 60, {"video_md5": MD5})]
    path = tmp_path / "hma.jsonl"
    path.write_text("".join(json.dumps({"id": i, "disable_until_ts": d, "original_media_uri": None,
                                        "bank": {"name": "NCII", "matching_enabled_ratio": 1.0}, "signals": s}) + "\n"
                            for i, d, s in content))
    done = cli("bank", "import", "from-hma", str(path), "--db", db_url, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["added"], report["inactive"]) == (2, 2)
    state = bank(db_url, "from-hma")
    assert {k: active for k, (active, _) in state.items()} == {
        ("pdq", PDQ): True, ("pdq", PDQ2): False, ("sha256", SHA): False, ("md5", MD5): True}
    assert state[("sha256", SHA)][1]["hma_disable_until_ts"] == now + 86400

    # content 1 is deleted in HMA (by id), content 4 deleted with its signal named: both withdrawn
    deletions = tmp_path / "hma-deleted.jsonl"
    deletions.write_text(json.dumps({"id": 1, "deleted": 1}) + "\n" + json.dumps({"id": 4, "deleted": 1, "video_md5": MD5}) + "\n")
    done = cli("bank", "import", "from-hma", str(deletions), "--db", db_url, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["withdrawn"] == 2
    state = bank(db_url, "from-hma")
    assert not any(active for active, _ in state.values()) and len(state) == 4  # all on record, none matching
    assert state[("md5", MD5)][1]["hma_deleted"] is True


def test_pytx_negative_and_disputed_rows_do_not_match(db_url, tmp_path):
    first = tmp_path / "before.csv"
    first.write_text("signal_type,signal_str,collab,category,tags\n"
                     f"pdq,{PDQ},c,POSITIVE_CLASS,\nvideo_md5,{MD5},c,INVESTIGATION_SEED,\n")
    assert cli("bank", "import", "b", str(first), "--db", db_url).returncode == 0
    later = tmp_path / "after.csv"  # the next dataset: members disputed the PDQ, and flagged a new one
    later.write_text("signal_type,signal_str,collab,category,tags\n"
                     f"pdq,{PDQ},c,DISPUTED,\npdq,{PDQ2},c,NEGATIVE_CLASS,fp\nvideo_md5,{MD5},c,INVESTIGATION_SEED,\n")
    done = cli("bank", "import", "b", str(later), "--db", db_url)
    assert done.returncode == 0, done.stderr
    assert "1 withdrawn" in done.stdout and "2 kept inactive" in done.stdout
    state = bank(db_url, "b")
    assert {k: active for k, (active, _) in state.items()} == {("pdq", PDQ): False, ("pdq", PDQ2): False, ("md5", MD5): True}
    assert state[("pdq", PDQ)][1]["category"] == "DISPUTED" and state[("pdq", PDQ2)][1]["category"] == "NEGATIVE_CLASS"


def test_hma_export_says_which_bank_name_hma_takes(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    seed(url, tmp_path, name="ncii-victims")
    out = tmp_path / "victims.hma.jsonl"
    done = cli("bank", "export", "ncii-victims", "-f", "hma", "-o", str(out), "--db", url)
    assert done.returncode == 0, done.stderr
    assert "wrote 3 signals" in said(done) and "NCII_VICTIMS" in said(done)
    bodies = [json.loads(line) for line in out.read_text().splitlines()]
    assert bodies == [{"pdq": PDQ, "note": '{"case":"c-1"}'}, {"video_md5": MD5}, {"video_sha256": SHA}]
