"""Break-in: mandatory-report items (an under-18 case's hash matched, issue 23 item 7) are seen only
by keys with ``reviewer`` and ``mandatory_report``: a plain reviewer gets 404 for the item and never
sees it in the queue, the report draft needs both scopes, another tenant's keys find nothing.
Real HTTP against a live server on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from ncii_shield.services.mandatory_reports import MandatoryReports
from ncii_shield.store.database import open_database
from ncii_shield.store.models import Tenant
from tests.security.test_audit_tenants import tenant_admin


@pytest.fixture(scope="module")
def reported(server):
    """A mandatory_report item of tenant default, written as the pipeline does (on the server's database)."""
    from sqlalchemy import select

    with server.client(server.admin_key) as c:  # the default tenant exists once a key exists
        assert c.get("/v1/review/queue").status_code == 200
    db = open_database(server.db_url)
    try:
        with db.read() as session:
            tenant_id = session.scalar(select(Tenant.id).where(Tenant.name == "default"))
        return MandatoryReports(db).enqueue(tenant_id, "minor-upload-1",
                                            [{"bank": "victims-under-18", "signal_id": 1, "signal_type": "md5"}],
                                            actor="test")
    finally:
        db.dispose()


def paths(item_id: int) -> list[tuple[str, str, dict]]:
    return [("GET", f"/v1/review/items/{item_id}", {}),
            ("POST", f"/v1/review/items/{item_id}/open", {}),
            ("POST", f"/v1/review/items/{item_id}/decision", {"json": {"decision": "keep", "reason": "x"}}),
            ("GET", f"/v1/review/items/{item_id}/statement", {})]


def test_a_reviewer_without_the_scope_never_sees_it(server, reported):
    key = server.make_key("reviewer")
    with server.client(key) as c:
        assert reported not in [i["id"] for i in c.get("/v1/review/queue").json()["items"]]
        for method, path, kw in paths(reported):
            got = c.request(method, path, **kw)
            assert got.status_code == 404, (path, got.status_code, got.text)
        assert c.get(f"/v1/review/items/{reported}/report").status_code == 403


def test_the_scope_alone_without_reviewer_reads_nothing(server, reported):
    key = server.make_key("mandatory_report")
    with server.client(key) as c:
        assert c.get("/v1/review/queue").status_code == 403
        assert c.get(f"/v1/review/items/{reported}/report").status_code == 403


def test_another_tenants_keys_find_nothing(server, reported):
    other = tenant_admin(server, "minors-intruder")
    with server.client(other) as c:
        assert reported not in [i["id"] for i in c.get("/v1/review/queue").json()["items"]]
        assert c.get(f"/v1/review/items/{reported}").status_code == 404
        assert c.get(f"/v1/review/items/{reported}/report").status_code == 404


def test_a_reviewer_with_the_scope_sees_it_first_and_gets_the_draft(server, reported):
    key = server.make_key("reviewer", "mandatory_report")
    with server.client(key) as c:
        with server.client(server.admin_key) as admin:
            assert admin.post("/v1/review/items", json={"kind": "match", "priority": 100,
                                                        "deadline_at": "2020-01-01T00:00:00Z"}).status_code == 201
        items = c.get("/v1/review/queue").json()["items"]
        assert items[0]["id"] == reported and items[0]["kind"] == "mandatory_report"
        assert items[0]["preview_url"] is None
        draft = c.get(f"/v1/review/items/{reported}/report")
        assert draft.status_code == 200, draft.text
        assert draft.json()["status"].startswith("draft: not sent")
        assert "attachment" in draft.headers["content-disposition"]


def test_the_review_pages_show_it_only_with_the_scope(server, reported):  # noqa: ANN001
    from tests.security.test_review_pages_breakin import logged_in

    plain = server.make_key("reviewer")
    with logged_in(server, plain) as (browser, _):
        assert f'data-item="{reported}"' not in browser.get("/review").text
        page = browser.get(f"/review/items/{reported}")
        assert "Mandatory report" not in page.text and "minor-upload-1" not in page.text
        assert browser.get(f"/review/items/{reported}/report.json").status_code == 404
    allowed = server.make_key("reviewer", "mandatory_report")
    with logged_in(server, allowed) as (browser, _):
        queue = browser.get("/review").text
        assert f'data-item="{reported}"' in queue
        page = browser.get(f"/review/items/{reported}")
        assert page.status_code == 200 and "Mandatory report" in page.text and "show-preview" not in page.text
        draft = browser.get(f"/review/items/{reported}/report.json")
        assert draft.status_code == 200 and draft.json()["status"].startswith("draft: not sent")
