"""Break-in: the audit log across tenants (issue 17, finding 2).

One tenant's admin key exported and verified every tenant's audit entries: removal-request
references, content ids, key prefixes, decision reasons. A tenant's key now sees its own entries in
full and, of every other entry, only the chain's link values (seq, prev_hash, hash), so its export
still verifies as one chain; only the instance operator (``ncii-shield audit`` with the database)
sees everything. Entries written before migration 0009 get the tenant derived from what they name.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from ncii_shield.services import audit
from ncii_shield.store.database import MIGRATIONS, open_database
from tests.servers import cli, start_server

REQUEST = {"requester_role": "depicted_person", "signature": "Robin Example", "content_description": "a photo",
           "urls": ["https://forum.example/t/9"], "good_faith": True, "contact_email": "robin@example.org"}


def tenant_admin(server, tenant: str) -> str:  # noqa: ANN001
    """An admin key of another tenant, made the way an operator makes one (the CLI on the database)."""
    done = cli("keys", "create", "-s", "admin", "--tenant", tenant, "--db", server.db_url, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["key"]


def activity(server, key: str, tag: str) -> dict:  # noqa: ANN001
    """A tenant's ordinary work: a removal request, a new reviewer key, a queued match decided with a reason."""
    with server.client(key) as client:
        notice = client.post("/v1/notices", json={**REQUEST, "content_ids": [f"{tag}-upload"],
                                                  "urls": [f"https://forum.example/{tag}"]})
        assert notice.status_code == 201, notice.text
        made = client.post("/v1/keys", json={"scopes": ["reviewer"], "name": f"{tag} reviewer"})
        assert made.status_code == 201, made.text
        item = client.post("/v1/review/items", json={"kind": "match", "content_id": f"{tag}-content"})
        assert item.status_code == 201, item.text
        decided = client.post(f"/v1/review/items/{item.json()['id']}/decision",
                              json={"decision": "remove", "reason": f"{tag} reason: published without consent"})
        assert decided.status_code == 200, decided.text
    return {"reference": notice.json()["reference"], "prefix": made.json()["prefix"], "content": f"{tag}-content",
            "reason": f"{tag} reason"}


def secrets_of(found: dict) -> list[str]:
    """What a tenant's entries tell: its request references, its key prefixes, its content ids, its reasons."""
    return [found["reference"], found["prefix"], found["content"], found["reason"]]


def test_a_tenants_admin_key_sees_only_its_own_entries_and_the_chain_still_verifies(server, tmp_path):
    tag = uuid.uuid4().hex[:8]
    other_key = tenant_admin(server, f"platform-{tag}")
    mine = activity(server, server.admin_key, f"a{tag}")
    theirs = activity(server, other_key, f"b{tag}")
    with server.client(other_key) as other, server.client(server.admin_key) as admin:
        for reader, own, foreign in ((other, theirs, mine), (admin, mine, theirs)):
            export = reader.get("/v1/audit/export")
            assert export.status_code == 200, export.text
            for value in secrets_of(foreign):
                assert value not in export.text, f"another tenant's {value!r} is in the export"
            for value in secrets_of(own):
                assert value in export.text, f"the tenant's own {value!r} is missing from its export"
            lines = export.text.splitlines()
            entries = [json.loads(line) for line in lines]
            assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))  # every link, no gaps
            hidden = [e for e in entries if e.get("redacted")]
            assert hidden, "the other tenant's entries are shown as links"
            assert all(set(e) == {"seq", "redacted", "prev_hash", "hash"} for e in hidden)
            assert audit.verify_export(lines).ok  # the whole chain, as far as this tenant may see it
            saved = tmp_path / f"audit-{len(lines)}-{uuid.uuid4().hex[:6]}.jsonl"
            saved.write_text(export.text, encoding="utf-8")
            assert cli("audit", "verify", "--file", str(saved)).returncode == 0  # offline, as the tenant would
            verified = reader.get("/v1/audit/verify").json()
            assert verified["ok"] is True and verified["tenant_entries"] == len(entries) - len(hidden)
            assert verified["head_seq"] >= entries[-1]["seq"]

    operator = cli("audit", "export", "--db", server.db_url)  # the instance operator, with the database
    assert operator.returncode == 0, operator.stderr
    for value in secrets_of(mine) + secrets_of(theirs):
        assert value in operator.stdout
    assert '"redacted"' not in operator.stdout
    assert cli("audit", "verify", "--db", server.db_url).returncode == 0


@pytest.fixture
def live(db_url, tmp_path):
    s = start_server(db_url.replace("+psycopg", ""), tmp_path)
    yield s
    s.stop()


def _disable_append_only(conn) -> None:  # noqa: ANN001
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
    else:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))


def test_tampering_with_another_tenants_entry_or_its_tenant_fails_every_tenants_verify(live):
    tag = uuid.uuid4().hex[:8]
    other_key = tenant_admin(live, f"platform-{tag}")
    activity(live, live.admin_key, f"a{tag}")
    activity(live, other_key, f"b{tag}")
    with live.client(other_key) as other:
        assert other.get("/v1/audit/verify").json()["ok"] is True
        lines = other.get("/v1/audit/export").text.splitlines()
    own = next(json.loads(line) for line in lines if not json.loads(line).get("redacted"))
    foreign = next(json.loads(line) for line in lines if json.loads(line).get("redacted"))
    db = open_database(live.db_url)
    try:
        # moving an entry to another tenant (to hide it from its owner, or to show it to another) shows
        with db.engine.begin() as conn:
            _disable_append_only(conn)
            conn.execute(text("UPDATE audit_log SET tenant_id = NULL WHERE seq = :s"), {"s": own["seq"]})
        with live.client(other_key) as other:
            verified = other.get("/v1/audit/verify").json()
        assert verified["ok"] is False and verified["first_bad"] == own["seq"], verified
        # and a change to another tenant's entry fails this tenant's verification too (the whole log)
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET tenant_id = (SELECT tenant_id FROM api_keys WHERE prefix = :p) "
                              "WHERE seq = :s"), {"s": own["seq"], "p": other_key.split("_")[1]})
            conn.execute(text("UPDATE audit_log SET actor = 'key:someone' WHERE seq = :s"), {"s": foreign["seq"]})
        with live.client(other_key) as other:
            verified = other.get("/v1/audit/verify").json()
        assert verified["ok"] is False and verified["first_bad"] == foreign["seq"], verified
    finally:
        db.dispose()


def _legacy_hash(seq: int, at: datetime, actor: str, action: str, subject: str, details: str, prev: str) -> str:
    """The hash every entry had before migration 0009 (no tenant in it)."""
    payload = {"seq": seq, "at": at.isoformat(timespec="microseconds"), "actor": actor, "action": action,
               "subject": subject, "details": details, "prev_hash": prev}
    return hashlib.sha256(audit.canonical_json(payload).encode()).hexdigest()


def test_entries_written_before_the_tenant_column_get_their_tenant_and_still_verify(db_url):
    """A log written at revision 0008 (one chain, no tenants) upgraded to head: each entry is attributed
    to the tenant it names, an entry that names none is the operator's only, and the chain verifies."""
    db = open_database(db_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0008_deadline_alert_lease")
    now = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    rows = [("requester", "notice.received", "TD-AAAA", "{}"), ("key:aaaaaaaaaa", "review.session_opened", "review", "{}"),
            ("key:bbbbbbbbbb", "key.created", "key:cccccccccc", '{"scopes":["match"]}'),
            ("system:transparency", "statements.submitted", "review:1", "{}"), ("system", "maintenance", "x", "{}")]
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO tenants (id, name, created_at) VALUES (1, 'a', :t), (2, 'b', :t)"), {"t": now})
        conn.execute(text("INSERT INTO api_keys (id, tenant_id, prefix, secret_hash, scopes, name, created_at) VALUES "
                          "(1, 1, 'aaaaaaaaaa', 'x', 'admin', '', :t), (2, 2, 'bbbbbbbbbb', 'x', 'admin', '', :t), "
                          "(3, 2, 'cccccccccc', 'x', 'match', '', :t)"), {"t": now})
        conn.execute(text("INSERT INTO notices (id, reference, tenant_id, channel, requester_role, status, synthetic, "
                          "received_at, deadline_at) VALUES (1, 'TD-AAAA', 2, 'web', 'depicted_person', 'received', "
                          ":f, :t, :t)"), {"t": now, "f": False})
        conn.execute(text("INSERT INTO review_items (id, tenant_id, kind, media_type, priority, status, summary, "
                          "automated_detection, created_at) VALUES (1, 1, 'match', 'image', 50, 'open', '', :f, :t)"),
                     {"t": now, "f": False})
        prev = audit.GENESIS
        for seq, (actor, action, subject, details) in enumerate(rows, start=1):
            digest = _legacy_hash(seq, now, actor, action, subject, details, prev)
            conn.execute(text("INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) "
                              "VALUES (:seq, :at, :actor, :action, :subject, :details, :prev, :hash)"),
                         {"seq": seq, "at": now, "actor": actor, "action": action, "subject": subject,
                          "details": details, "prev": prev, "hash": digest})
            prev = digest
    db.migrate()  # to head
    with db.engine.connect() as conn:
        tenants = [t for (t,) in conn.execute(text("SELECT tenant_id FROM audit_log ORDER BY seq"))]
    assert tenants == [2, 1, 2, 1, None]
    assert audit.verify(db).ok
    with db.write() as session:  # a new entry after the old ones: its tenant is in its hash
        audit.append(session, actor="key:aaaaaaaaaa", action="audit.exported", subject="audit", tenant_id=1)
    assert audit.verify(db).ok and audit.verify(db).entries == 6
    view = [json.loads(line) for line in audit.export_lines(db, tenant_id=1)]
    assert [e["seq"] for e in view if not e.get("redacted")] == [2, 4, 6]
    assert audit.verify_export(audit.export_lines(db, tenant_id=1)).ok
    assert audit.verify_export(audit.export_lines(db, operator=True)).ok
    with pytest.raises(Exception, match="append-only"):  # the database still refuses changes after the backfill
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET tenant_id = 2 WHERE seq = 6"))
    db.dispose()


def test_an_admin_of_one_tenant_cannot_reach_the_operators_view_over_http(server):
    """No query parameter or header widens the view: the export is always the key's own tenant."""
    tag = uuid.uuid4().hex[:8]
    other_key = tenant_admin(server, f"platform-{tag}")
    mine = activity(server, server.admin_key, f"a{tag}")
    with server.client(other_key) as other:
        for params in ({"tenant": "default"}, {"all": "true"}, {"operator": "1"}, {"tenant_id": "1"}):
            body = other.get("/v1/audit/export", params=params).text
            assert not any(value in body for value in secrets_of(mine)), params
    with httpx.Client(base_url=server.url) as anonymous:
        assert anonymous.get("/v1/audit/export").status_code == 401
