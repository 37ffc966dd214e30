"""Service marks end to end: a mark registered over real HTTP (SQLite and real PostgreSQL) and with
the CLI, then found by POST /v1/match/media and ``check --json`` in a re-encoded photo. Images are
synthetic scenes and drawn marks (tests/derivative_scenes.py, tests/marks_scenes.py)."""

from __future__ import annotations

import json

import pytest

from tests.derivative_scenes import jpeg, scene
from tests.integration.test_api import make_bank, new_key
from tests.marks_scenes import box_overlap, paste, photo, png, text_mark
from tests.servers import cli

MARK = text_mark("NUDIFY")


@pytest.fixture(scope="module")
def org_key(server):
    return new_key(server, "marks-org", "bank:write", "match")


def test_register_over_http_and_find_with_match_media(server, org_key):
    with server.client(org_key) as c:
        bank = make_bank(c)
        r = c.post(f"/v1/banks/{bank}/marks", files={"file": ("logo.png", png(MARK), "image/png")},
                   data={"label": "nudify.example watermark"})
        assert r.status_code == 201, r.text
        added = r.json()
        assert added["label"] == "nudify.example watermark" and added["keypoints"] > 0 and added["name"] == "logo.png"
        marked, box = paste(photo(41), MARK, 300, 380, scale=0.6, opacity=0.75)
        out = c.post("/v1/match/media", files={"file": ("upload.jpg", jpeg(marked, 80))}).json()
        assert [(m["bank"], m["signal_id"], m["label"]) for m in out["marks"]] == [
            (bank, added["signal_id"], "nudify.example watermark")]
        assert box_overlap(out["marks"][0]["box"], box) > 0.6 and 0 < out["marks"][0]["score"] <= 100
        assert out["review"]["queue"] is True and out["review"]["kind"] == "mark"
        plain = c.post("/v1/match/media", files={"file": ("plain.jpg", jpeg(scene(42), 80))}).json()
        assert "marks" not in plain or plain["marks"] == []
        refused = c.post(f"/v1/banks/{bank}/marks", files={"file": ("x.png", png(MARK[:, :, :3] * 0 + 90))},
                         data={"label": "a grey square"})
        assert refused.status_code == 422 and "plain colour" in refused.json()["error"]["message"]


def test_cli_marks_add_and_check_json(tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    (tmp_path / "logo.png").write_bytes(png(MARK))
    marked, box = paste(photo(43), MARK, 120, 90, scale=0.8, opacity=0.75)
    (tmp_path / "marked.jpg").write_bytes(jpeg(marked, 85))
    (tmp_path / "other.jpg").write_bytes(jpeg(paste(scene(43), text_mark("SUNSET"), 120, 90, scale=0.8)[0], 85))
    added = cli("marks", "add", str(tmp_path / "logo.png"), "--bank", "services", "--label", "nudify.example",
                "--db", db, "--json")
    assert added.returncode == 0, added.stderr
    row = json.loads(added.stdout)
    assert row["status"] == "registered" and row["bank"] == "services" and row["label"] == "nudify.example"
    text = cli("marks", "add", str(tmp_path / "logo.png"), "--bank", "services", "--label", "nudify.example", "--db", db)
    assert text.returncode == 0 and f"signal {row['signal_id']}" in text.stdout  # idempotent re-add
    checked = cli("check", str(tmp_path / "marked.jpg"), str(tmp_path / "other.jpg"), "--db", db, "--json")
    assert checked.returncode == 3, checked.stderr
    marked, other = [json.loads(line) for line in checked.stdout.splitlines()]
    assert [(m["bank"], m["signal_id"], m["label"]) for m in marked["marks"]] == [
        ("services", row["signal_id"], "nudify.example")]
    assert box_overlap(marked["marks"][0]["box"], box) > 0.6
    assert other.get("marks", []) == []
    missing = cli("marks", "add", str(tmp_path / "nope.png"), "--bank", "services", "--label", "x", "--db", db)
    assert missing.returncode == 1 and "cannot read" in missing.stderr
