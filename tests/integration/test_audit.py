"""The hash-chained audit log against the real database (SQLite and PostgreSQL): an untouched log
verifies; a row changed, deleted or swapped with raw SQL is caught, and the CLI names the first bad
entry and exits non-zero."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import text

from ncii_shield.core import Shield
from ncii_shield.services import audit
from ncii_shield.services.notices import NoticeSubmission
from tests.servers import cli


@pytest.fixture
def shield(data_shield):
    return data_shield


def make_log(shield: Shield, requests: int = 3) -> None:
    """Real actions: each request is received, reviewed, removed and swept (4 entries per request)."""
    tenant = shield.local_principal().tenant_id
    for i in range(requests):
        ref = shield.notices.submit(NoticeSubmission(
            requester_role="depicted_person", signature=f"Person {i}", content_description="photo",
            urls=[f"https://site.example/{i}"], good_faith=True, contact_email="p@example.org"), channel="api").notice.reference
        shield.notices.transition(tenant, ref, "in_review", actor="key:reviewer1")
        shield.notices.transition(tenant, ref, "removed", actor="key:reviewer1")


def run_verify(shield: Shield, *extra: str):
    return cli("audit", "verify", "--db", shield.db.url.replace("+psycopg", ""), *extra)


def test_untouched_log_verifies(shield, tmp_path):
    make_log(shield)
    result = audit.verify(shield.db)
    assert result.ok and result.entries == 12 and result.head_seq == 12
    done = run_verify(shield)
    assert done.returncode == 0, done.stderr
    assert "12 entries, chain intact" in done.stdout
    # the export carries the chain and verifies on its own
    export = tmp_path / "audit.jsonl"
    assert cli("audit", "export", "--db", shield.db.url.replace("+psycopg", ""), "-o", str(export)).returncode == 0
    lines = export.read_text().splitlines()
    assert len(lines) == 12 and json.loads(lines[0])["prev_hash"] == audit.GENESIS
    assert all(json.loads(b)["prev_hash"] == json.loads(a)["hash"] for a, b in zip(lines, lines[1:]))
    assert cli("audit", "verify", "--file", str(export)).returncode == 0
    entry = json.loads(lines[4])
    entry["actor"] = "key:someone"
    lines[4] = json.dumps(entry)
    export.write_text("\n".join(lines) + "\n")
    bad = cli("audit", "verify", "--file", str(export))
    assert bad.returncode == 1 and "first bad entry 5" in bad.stderr


TAMPER = {
    "edited": ["UPDATE audit_log SET actor = 'key:someone-else' WHERE seq = 5"],
    "edited-details": ["UPDATE audit_log SET details = REPLACE(details, 'api', 'web') WHERE seq = 5"],
    "deleted": ["DELETE FROM audit_log WHERE seq = 5"],
    # swap rows 5 and 6: every column but seq moves (through a free seq)
    "swapped": ["UPDATE audit_log SET seq = 1000 WHERE seq = 5", "UPDATE audit_log SET seq = 5 WHERE seq = 6",
                "UPDATE audit_log SET seq = 6 WHERE seq = 1000"],
}


def disable_append_only(conn) -> None:  # noqa: ANN001
    """What someone with the database's owner rights can do: switch the append-only triggers off."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
    else:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("DROP TRIGGER audit_log_no_delete"))


def test_the_database_refuses_changes_to_the_log(shield):
    from sqlalchemy.exc import DBAPIError

    make_log(shield, requests=1)
    statements = ["UPDATE audit_log SET actor = 'x' WHERE seq = 2", "DELETE FROM audit_log WHERE seq = 2"]
    if shield.db.is_postgres:
        statements.append("TRUNCATE audit_log")
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"):
            with shield.db.engine.begin() as conn:
                conn.execute(text(statement))
    assert audit.verify(shield.db).ok and audit.verify(shield.db).entries == 4


@pytest.mark.parametrize("kind", list(TAMPER))
def test_tampered_log_fails_and_names_the_first_bad_entry(shield, kind):
    make_log(shield)
    with shield.db.engine.begin() as conn:
        disable_append_only(conn)
        for statement in TAMPER[kind]:
            conn.execute(text(statement))
    result = audit.verify(shield.db)
    assert not result.ok and result.first_bad == 5, result
    done = run_verify(shield)
    assert done.returncode == 1
    assert "first bad entry 5" in done.stderr
    as_json = json.loads(run_verify(shield, "--json").stdout)
    assert as_json["ok"] is False and as_json["first_bad"] == 5


def test_removing_the_newest_entries_is_caught_with_a_recorded_head(shield):
    make_log(shield)
    head = cli("audit", "head", "--db", shield.db.url.replace("+psycopg", "")).stdout.strip()
    assert head.startswith("12:")
    with shield.db.engine.begin() as conn:
        disable_append_only(conn)
        conn.execute(text("DELETE FROM audit_log WHERE seq >= 11"))
    assert audit.verify(shield.db).ok  # a shorter chain is still a chain ...
    done = run_verify(shield, "--head", head)  # ... but not the one recorded
    assert done.returncode == 1 and "first bad entry 11" in done.stderr


def test_concurrent_writers_keep_one_chain(shield):
    def work(n: int) -> None:
        for i in range(5):
            shield.notices.submit(NoticeSubmission(
                requester_role="depicted_person", signature=f"T{n}-{i}", content_description="photo",
                urls=[f"https://site.example/{n}/{i}"], good_faith=True, contact_email="p@example.org"), channel="api")
    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = audit.verify(shield.db)
    assert result.ok and result.entries == 20
