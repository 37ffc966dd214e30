"""CLI commands that use the store: keys, bank, match (real processes, SQLite)."""

from __future__ import annotations

import json

from tests.conftest import ORIGINAL_JPG
from tests.servers import cli

BASE = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def test_keys_create_prints_key_last_and_json(tmp_path):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    text = cli("keys", "create", "--db", db, "--scope", "match")
    assert text.returncode == 0 and text.stdout.split()[-1].startswith("nsk_")
    js = json.loads(cli("keys", "create", "--db", db, "--scope", "bank:write", "--json").stdout)
    assert js["key"].startswith("nsk_") and js["scopes"] == ["bank:write"]
    listing = cli("keys", "list", "--db", db, "--json")
    assert len(json.loads(listing.stdout)) == 2
    assert js["key"].split("_", 2)[2] not in listing.stdout
    assert cli("keys", "create", "--db", db, "--scope", "nope").returncode == 2


def test_bank_and_match_commands(tmp_path):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    env = {"NCII_SHIELD_DB": db}  # the environment variable works as --db
    assert cli("bank", "create", "victims", env=env).returncode == 0
    hashes = tmp_path / "h.txt"
    hashes.write_text(f"pdq {BASE}\n")
    assert cli("bank", "import", "victims", str(hashes), env=env).returncode == 0
    listed = json.loads(cli("bank", "list", "--json", env=env).stdout)
    assert listed[0]["name"] == "victims" and listed[0]["signals"] == 1
    hit = cli("match", str(ORIGINAL_JPG), "--json", env=env)
    assert hit.returncode == 3, hit.stderr  # 3 = at least one match
    assert json.loads(hit.stdout)["matches"][0]["bank"] == "victims"
    miss = cli("match", "--signal", "md5:" + "0" * 32, env=env)
    assert miss.returncode == 0 and "no match" in miss.stdout
    bad = cli("match", "--signal", "pdq:zz", env=env)
    assert bad.returncode == 2 and "64 hexadecimal" in bad.stderr


def test_help_texts_teach():
    for command in (["--help"], ["serve", "--help"], ["keys", "create", "--help"], ["bank", "import", "--help"],
                    ["match", "--help"]):
        out = cli(*command).stdout
        assert "Usage" in out and ("ncii-shield" in out)
    assert "resumes" in cli("bank", "import", "--help").stdout
