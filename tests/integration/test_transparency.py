"""Statements of reasons sent to the EU DSA Transparency Database, on SQLite and PostgreSQL.

The database itself cannot be reached from tests (nor should tests write to it), so a stand-in
server on loopback plays its API as documented: Bearer token, ``POST /api/v1/statements`` (up to
100) and ``POST /api/v1/statement``, 201 with each statement's ``uuid``, 422 naming ``puid`` when
the puid is on the platform already. It can lose its answer after storing a batch (a crash between
their commit and ours), refuse chosen statements, and fail."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import func, select

from ncii_shield.services.transparency import SubmissionError, TransparencySubmitter
from ncii_shield.store.models import AuditEntry, StatementSubmission
from tests.servers import cli

TOKEN = "X|sandbox-token-0123456789"


class StandIn:
    """The Transparency Database's statement API, on loopback."""

    def __init__(self) -> None:
        self.stored: dict[str, dict] = {}  # puid -> statement
        self.requests = 0
        self.refuse: set[str] = set()  # puids answered with a validation error
        self.lose_next_answer = False  # store a batch, then close the connection without answering
        self.fail = False  # answer 500
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                outer.requests += 1
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self.answer(401, {"message": "Unauthenticated."})
                if outer.fail:
                    return self.answer(500, {"message": "Server Error"})
                many = self.path == "/api/v1/statements"
                statements = body["statements"] if many else [body]
                assert self.path in ("/api/v1/statements", "/api/v1/statement") and len(statements) <= 100
                for s in statements:
                    if s["puid"] in outer.refuse:
                        return self.answer(422, {"message": "The decision facts field is invalid.",
                                                 "errors": {"decision_facts": ["The decision facts field is invalid."]}})
                    if s["puid"] in outer.stored:
                        return self.answer(422, {"message": "The identifier given is not unique within this platform.",
                                                 "errors": {"puid": ["The identifier given is not unique within this platform."]}})
                created = [{**s, "uuid": str(uuid.uuid4())} for s in statements]
                for s in created:
                    outer.stored[s["puid"]] = s
                if outer.lose_next_answer:
                    outer.lose_next_answer = False
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return None
                return self.answer(201, {"statements": created} if many else created[0])

            def answer(self, status: int, body: dict) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.api = f"http://127.0.0.1:{self.server.server_address[1]}/api/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stand_in():
    server = StandIn()
    yield server
    server.stop()


def removals(shield, n: int) -> list[int]:
    """n review items (matches) decided ``remove``."""
    t = shield.local_principal().tenant_id
    ids = []
    for i in range(n):
        item = shield.review.enqueue(t, "match", actor="key:platform", content_id=f"upload-{i}", summary="hash match")
        shield.review.decide(t, item.id, "remove", "matches a victim's hash", actor="key:reviewer")
        ids.append(item.id)
    return ids


def test_every_statement_arrives_once_through_a_lost_answer_a_refusal_and_errors(data_shield, stand_in):
    shield = data_shield
    t = shield.local_principal().tenant_id
    ids = removals(shield, 130)
    kept = shield.review.enqueue(t, "match", actor="key:platform", content_id="kept")
    shield.review.decide(t, kept.id, "keep", "not intimate imagery", actor="key:reviewer")
    submitter = TransparencySubmitter(shield.db, shield.review)
    assert submitter.pending(t) == ids  # a "keep" has no statement to send
    bad = ids[110]
    stand_in.refuse.add(f"ncii-shield-{bad}-1")

    with httpx.Client(timeout=10) as client:
        with pytest.raises(SubmissionError, match="refused the token"):
            submitter.submit(t, client, api=stand_in.api, token="wrong")
        stand_in.fail = True
        with pytest.raises(SubmissionError, match="answered 500"):
            submitter.submit(t, client, api=stand_in.api, token=TOKEN)
        stand_in.fail = False
        # the database stores the first 100 and its answer is lost: nothing is recorded here
        stand_in.lose_next_answer = True
        with pytest.raises(SubmissionError, match="did not answer"):
            submitter.submit(t, client, api=stand_in.api, token=TOKEN)
        assert len(stand_in.stored) == 100 and submitter.pending(t) == ids

        report = submitter.submit(t, client, api=stand_in.api, token=TOKEN)  # the rerun
        assert (report.existing, report.created, report.statements) == (100, 29, 29)
        assert list(report.refused) == [bad] and "decision_facts" in report.refused[bad]
        assert submitter.pending(t) == [bad]
        assert len(stand_in.stored) == 129

        stand_in.refuse.clear()  # the statement is fixed (here: the stand-in accepts it)
        assert submitter.submit(t, client, api=stand_in.api, token=TOKEN).created == 1
        before = stand_in.requests
        again = submitter.submit(t, client, api=stand_in.api, token=TOKEN)
        assert (again.created, again.existing, again.refused, stand_in.requests) == (0, 0, {}, before)

    assert sorted(stand_in.stored) == sorted(f"ncii-shield-{i}-1" for i in ids)  # each once, none missing
    with shield.db.read() as session:
        rows = {r.review_item_id: r for r in session.scalars(select(StatementSubmission))}
        audited = session.scalar(select(func.count()).select_from(AuditEntry)
                                 .where(AuditEntry.action == "statements.submitted"))
    assert sorted(rows) == ids and audited == 130
    assert sum(r.outcome == "existing" for r in rows.values()) == 100
    fresh = rows[ids[-1]]
    assert fresh.outcome == "created" and fresh.uuids == [stand_in.stored[fresh.puids[0]]["uuid"]]
    statement = stand_in.stored[f"ncii-shield-{ids[0]}-1"]
    assert statement["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
    assert statement["category"] == "STATEMENT_CATEGORY_CYBER_VIOLENCE"


def test_cli_sends_reports_and_keeps_the_token_out_of_its_output(data_shield, stand_in, tmp_path):
    shield = data_shield
    ids = removals(shield, 3)
    url = shield.db.url.replace("+psycopg", "")
    env = {"NCII_SHIELD_DATA": str(tmp_path)}
    token_file = tmp_path / "dsa-token"
    token_file.write_text(TOKEN + "\n")
    dry = cli("notices", "submit-statements", "--db", url, "--dry-run", "--json", env=env)
    assert json.loads(dry.stdout) == {"pending": 3}, dry.stderr
    missing = cli("notices", "submit-statements", "--db", url, "--api", stand_in.api, env=env)
    assert missing.returncode == 2 and "token" in missing.stderr
    wrong = cli("notices", "submit-statements", "--db", url, "--api", stand_in.api, env={**env, "NCII_SHIELD_DSA_TOKEN": "nope"})
    assert wrong.returncode == 1 and "refused the token" in wrong.stderr and "nope" not in wrong.stdout + wrong.stderr
    sent = cli("notices", "submit-statements", "--db", url, "--api", stand_in.api, "--token-file", str(token_file),
               "--json", env=env)
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout) == {"created": 3, "existing": 0, "statements": 3, "refused": []}
    assert TOKEN not in sent.stdout + sent.stderr
    assert sorted(stand_in.stored) == sorted(f"ncii-shield-{i}-1" for i in ids)
    again = cli("notices", "submit-statements", "--db", url, "--api", stand_in.api, "--token-file", str(token_file),
                env=env)
    assert again.returncode == 0 and "sent 0 statement(s) for 0 decision(s)" in again.stdout


def test_a_decision_that_restricted_nothing_is_recorded_and_not_sent(data_shield, stand_in):
    """A request decided ``remove`` whose locations are no longer marked removed has no statement:
    it is recorded as ``none`` (so it stops counting as pending) and nothing is sent."""
    from sqlalchemy import update

    from ncii_shield.store.models import NoticeItem
    from tests.integration.test_notices import complete

    shield = data_shield
    t = shield.local_principal().tenant_id
    reference = shield.notices.submit(complete(), channel="api").notice.reference
    item = next(i for i in shield.review.queue(t) if i.reference == reference)
    shield.review.decide(t, item.id, "remove", "intimate image without consent", actor="key:reviewer")
    with shield.db.write() as session:
        session.execute(update(NoticeItem).values(status="closed"))
    submitter = TransparencySubmitter(shield.db, shield.review)
    assert submitter.pending(t) == [item.id]
    with httpx.Client(timeout=10) as client:
        report = submitter.submit(t, client, api=stand_in.api, token=TOKEN)
    assert (report.created, report.existing, report.statements, stand_in.requests) == (0, 0, 0, 0)
    assert submitter.pending(t) == []
    with shield.db.read() as session:
        assert session.get(StatementSubmission, item.id).outcome == "none"
