"""Removal requests, the review queue and the audit log over real HTTP: reviewer keys decide but are
refused admin actions; incomplete requests name their missing fields; statements of reasons export."""

from __future__ import annotations

import json

import httpx
import pytest

from ncii_shield.services import audit
from tests.servers import start_server

REQUEST = {"requester_role": "depicted_person", "signature": "Robin Example", "content_description": "a photo",
           "urls": ["https://forum.example/t/9"], "content_ids": ["upload-77"], "good_faith": True,
           "contact_email": "robin@example.org"}
DSA_REQUIRED = {"decision_visibility", "decision_ground", "category", "content_type", "content_date", "application_date",
                "decision_facts", "source_type", "automated_detection", "automated_decision", "territorial_scope", "puid",
                "illegal_content_legal_ground", "illegal_content_explanation"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("notices")
    s = start_server(f"sqlite:///{tmp / 'n.db'}", tmp, extra=("--data-dir", str(tmp)))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def keys(server):
    return {scope: server.make_key(scope, name=f"{scope} key") for scope in ("reviewer", "match")}


def test_reviewer_keys_cannot_do_admin_actions(server, keys):
    with server.client(keys["reviewer"]) as rev:
        refused = [
            rev.post("/v1/keys", json={"scopes": ["admin"]}),                  # key creation
            rev.post("/v1/banks", json={"name": "mine"}),                      # bank configuration
            rev.patch("/v1/banks/removed-content", json={"enabled": False}),
            rev.get("/v1/audit/export"),                                       # audit export
            rev.get("/v1/audit/verify"),
            rev.post("/v1/banks/x/signals", json={"signal_type": "md5", "value": "0" * 32}),
        ]
        assert [r.status_code for r in refused] == [403] * len(refused), [r.text for r in refused]
        assert all(r.json()["error"]["type"] == "PermissionDenied" for r in refused)
        assert rev.get("/v1/review/queue").status_code == 200  # what a reviewer may do
    with server.client(keys["match"]) as matcher:  # and a match key may not review
        assert matcher.get("/v1/review/queue").status_code == 403
        assert matcher.get("/v1/notices").status_code == 403


def test_incomplete_requests_name_every_missing_field(server):
    with httpx.Client(base_url=server.url) as public:
        r = public.post("/v1/notices", json={"urls": ["https://forum.example/t/1"]})
        assert r.status_code == 422
        error = r.json()["error"]
        assert error["type"] == "IncompleteNotice"
        assert error["fields"] == ["requester_role", "signature", "content_description", "good_faith", "contact"]
        for name in error["fields"]:
            assert name in error["message"]
        r = public.post("/v1/notices", json={**REQUEST, "received_at": "2026-01-01T00:00:00Z"})
        assert r.status_code == 403  # only a reviewer/admin key may back-date a receipt


def test_request_review_decision_statement_and_audit(server, keys):
    with httpx.Client(base_url=server.url) as public, server.client(keys["reviewer"]) as rev, \
            server.client(server.admin_key) as admin, server.client(keys["match"]) as platform:
        assert platform.post("/v1/content", json={"items": [
            {"content_id": "upload-77", "md5": "a" * 32, "pdq": "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
             "posted_at": "2026-11-20T10:00:00Z"},
            {"content_id": "upload-78", "md5": "a" * 32}]}).json() == {"added": 2, "changed": 0, "unchanged": 0}
        retry = {"Idempotency-Key": "retry-key-of-robin-0001"}  # a retry returns the first request only with it
        r = public.post("/v1/notices", json=REQUEST, headers=retry)
        assert r.status_code == 201, r.text
        created = r.json()
        again = public.post("/v1/notices", json=REQUEST, headers=retry)
        assert again.status_code == 200 and again.json()["created"] is False
        assert again.json()["reference"] == created["reference"] and again.json()["withdraw_token"] is None

        queue = rev.get("/v1/review/queue").json()
        item = next(i for i in queue["items"] if i["reference"] == created["reference"])
        assert item["kind"] == "notice" and item["deadline_at"] == created["deadline_at"]
        assert queue["deadlines"]["open"] >= 1
        full = rev.get(f"/v1/notices/{created['reference']}").json()
        assert full["personal"]["contact_email"] == "robin@example.org"
        assert rev.post(f"/v1/review/items/{item['id']}/open").status_code == 200
        assert rev.get(f"/v1/notices/{created['reference']}").json()["status"] == "in_review"
        assert rev.post(f"/v1/review/items/{item['id']}/decision", json={"decision": "remove", "reason": ""}).status_code == 422
        decided = rev.post(f"/v1/review/items/{item['id']}/decision",
                           json={"decision": "remove", "reason": "intimate image published without consent"})
        assert decided.status_code == 200 and decided.json()["status"] == "decided"
        again = rev.post(f"/v1/review/items/{item['id']}/decision", json={"decision": "keep", "reason": "x"})
        assert again.status_code == 409
        illegal = rev.post(f"/v1/notices/{created['reference']}/transition", json={"to": "in_review"})
        assert illegal.status_code == 409 and "closed" in illegal.json()["error"]["message"]

        status = public.post("/v1/notices/status", json={"reference": created["reference"],
                                                         "token": created["withdraw_token"]}).json()
        assert status["status"] == "removed" and "personal" not in status
        assert {i["value"] for i in status["items"]} == {"https://forum.example/t/9", "upload-77", "upload-78"}

        r = rev.get(f"/v1/review/items/{item['id']}/statement")
        assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
        statements = r.json()["statements"]
        assert len(statements) == 3  # the URL, the content id and the identical copy (same MD5)
        for s in statements:
            assert DSA_REQUIRED <= set(s), DSA_REQUIRED - set(s)
            assert s["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
            assert s["category"] == "STATEMENT_CATEGORY_CYBER_VIOLENCE"
            assert s["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
            assert "Robin" not in json.dumps(s) and "robin@" not in json.dumps(s)
        by_source = {s["source_type"] for s in statements}
        assert by_source == {"SOURCE_ARTICLE_16", "SOURCE_VOLUNTARY"}
        assert len({s["puid"] for s in statements}) == 3
        assert "2026-11-20" in {s["content_date"] for s in statements}

        export = admin.get("/v1/audit/export")
        assert export.status_code == 200
        assert audit.verify_export(export.text.splitlines()).ok
        actions = [json.loads(line)["action"] for line in export.text.splitlines()]
        assert {"key.created", "notice.received", "notice.transition", "notice.swept", "review.decided",
                "notice.personal_viewed", "audit.exported"} <= set(actions)
        assert admin.get("/v1/audit/verify").json()["ok"] is True
        assert "/v1/notices" in admin.get("/openapi.json").json()["paths"]


def test_bad_input_gets_a_clear_error_and_nothing_is_stored(server, keys):
    with httpx.Client(base_url=server.url) as public, server.client(keys["reviewer"]) as rev:
        before = len(rev.get("/v1/notices").json()["notices"])
        cases = [
            ({**REQUEST, "urls": ["ftp://x/y"]}, "urls[0]"),
            ({**REQUEST, "urls": ["https://x.example/" + "a" * 3000]}, "urls[0]"),
            ({**REQUEST, "contact_email": "not-an-address"}, "contact_email"),
            ({**REQUEST, "requester_role": "someone"}, "requester_role"),
            ({**REQUEST, "good_faith": False}, "good_faith"),
            ({**REQUEST, "requester_role": "authorized_representative"}, "authorization"),
        ]
        for body, field in cases:
            r = public.post("/v1/notices", json=body)
            assert r.status_code == 422 and field in r.json()["error"]["fields"], (field, r.text)
        r = public.post("/v1/notices", json={**REQUEST, "urls": [f"https://x.example/{i}" for i in range(101)]})
        assert r.status_code == 422  # over the schema's 100
        r = public.post("/v1/notices", content=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 422 and r.json()["error"]["type"] == "InvalidRequest"
        r = public.post("/v1/notices", json={**REQUEST, "extra": 1})
        assert r.status_code == 422 and "extra" in r.json()["error"]["message"]
        assert len(rev.get("/v1/notices").json()["notices"]) == before
        assert rev.post("/v1/notices/TD-NOPE/transition", json={"to": "in_review"}).status_code == 404
        assert rev.post("/v1/review/items/999999/decision", json={"decision": "remove", "reason": "x"}).status_code == 404
        assert public.post("/v1/notices/withdraw", json={"reference": "TD-NOPE", "token": "x"}).status_code == 403


def test_upload_checks_feed_the_content_index_that_sweeps_search(server, keys):
    from tests.conftest import ORIGINAL_JPG

    photo = ORIGINAL_JPG.read_bytes()
    with server.client(keys["match"]) as platform, server.client(keys["reviewer"]) as rev:
        for upload in ("up-1", "up-2"):  # the same photo uploaded twice
            r = platform.post(f"/v1/match/media?content_id={upload}", files={"file": ("a.jpg", photo)})
            assert r.status_code == 200, r.text
        r = rev.post("/v1/notices", json={**REQUEST, "urls": [], "content_ids": ["up-1"], "signature": "Upload Test"})
        ref = r.json()["reference"]
        rev.post(f"/v1/notices/{ref}/transition", json={"to": "in_review"})
        done = rev.post(f"/v1/notices/{ref}/transition", json={"to": "removed"}).json()
        assert {(i["value"], i["source"], i["status"]) for i in done["items"]} == {
            ("up-1", "request", "removed"), ("up-2", "sweep", "removed")}
        # and the removed photo is now blocked at upload
        again = platform.post("/v1/match/media", files={"file": ("a.jpg", photo)}).json()
        assert any(m["bank"] == "removed-content" for m in again["matches"])


def test_a_reviewer_of_another_tenant_sees_nothing(server, keys):
    from tests.servers import cli

    other = cli("keys", "create", "--db", server.db_url, "--tenant", "other-platform", "--scope", "reviewer",
                "--json").stdout
    other_key = json.loads(other)["key"]
    with server.client(keys["reviewer"]) as rev, server.client(other_key) as stranger:
        mine = rev.get("/v1/review/queue?include_closed=true").json()["items"]
        assert mine, "the default tenant has items from the tests above"
        assert stranger.get("/v1/review/queue?include_closed=true").json()["items"] == []
        assert stranger.get("/v1/notices").json()["notices"] == []
        item = mine[0]
        assert stranger.get(f"/v1/review/items/{item['id']}").status_code == 404
        assert stranger.post(f"/v1/review/items/{item['id']}/decision",
                             json={"decision": "keep", "reason": "x"}).status_code == 404
        assert stranger.get(f"/v1/review/items/{item['id']}/statement").status_code == 404
        if item["reference"]:
            assert stranger.get(f"/v1/notices/{item['reference']}").status_code == 404
