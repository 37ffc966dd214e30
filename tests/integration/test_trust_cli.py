"""``ncii-shield bank trust`` and ``bank release`` (issue 23): the real CLI on a database."""

from __future__ import annotations

import json

import pytest

from ncii_shield.core import Shield
from ncii_shield.services.banks import SignalInput
from ncii_shield.services.trust import quarantine
from tests.servers import cli


@pytest.mark.slow  # five CLI runs
def test_bank_trust_and_quarantine_release_from_the_command_line(tmp_path):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    env = {"NCII_SHIELD_DATA": str(tmp_path)}
    assert cli("bank", "create", "partner", "--db", db, env=env).returncode == 0
    done = cli("bank", "trust", "partner", "--trust", "partner", "--policy", "act", "--json", "--db", db, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"name": "partner", "kind": "block", "trust": "partner", "policy": "act"}
    bad = cli("bank", "trust", "partner", "--trust", "gold", "--db", db, env=env)
    assert bad.returncode != 0 and "trust must be one of" in bad.stderr

    shield = Shield.open(db, load_index=False)
    (added,) = shield.banks.add(shield.local_principal(), "partner", [SignalInput("md5", "a" * 32)])
    quarantine(shield.db, added.id, "a test")
    shield.close()
    released = cli("bank", "release", str(added.id), "--db", db, env=env)
    assert released.returncode == 0 and "released" in released.stdout, released.stderr
    again = cli("bank", "release", str(added.id), "--db", db, env=env)
    assert again.returncode == 1 and "not quarantined" in again.stderr
