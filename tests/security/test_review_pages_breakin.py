"""Break-in: the reviewers' pages (issue 17, findings 9 and 7).

* Posting an invalid decision re-rendered the requester's signature, description and statement with no
  ``notice.personal_viewed`` audit entry: every render of a requester's personal data is audited.
* ``/review/items/99999999999999999999999`` (beyond any database integer) was a 500: every item id
  path parameter of the review pages and of /v1/review answers a clear 404 or 422.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

SIGNATURE = "Robin Breakin-Example"
HUGE = "99999999999999999999999"


def reviewer_key(server) -> str:  # noqa: ANN001
    return server.make_key("reviewer", name="page reviewer")


@contextmanager
def logged_in(server, key: str) -> Iterator[tuple[httpx.Client, str]]:  # noqa: ANN001
    """A browser session on the review pages, and its CSRF token."""
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/review/login").text).group(1)
        assert browser.post("/review/login", data={"csrf": csrf, "api_key": key}).status_code == 303
        yield browser, csrf


def personal_views(server, reference: str) -> int:  # noqa: ANN001
    with server.client(server.admin_key) as admin:
        export = admin.get("/v1/audit/export")
    assert export.status_code == 200, export.text
    return sum(1 for line in export.text.splitlines()
               if (e := json.loads(line)).get("action") == "notice.personal_viewed" and e.get("subject") == reference)


@pytest.fixture
def notice_item(server):  # noqa: ANN001
    """A public removal request and its review item."""
    tag = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=server.url) as public:
        r = public.post("/v1/notices", json={
            "requester_role": "depicted_person", "signature": SIGNATURE, "content_description": f"photo {tag}",
            "urls": [f"https://forum.example/{tag}"], "good_faith": True, "contact_email": "robin@example.org",
            "statement": f"statement {tag}"})
    assert r.status_code == 201, r.text
    reference = r.json()["reference"]
    key = reviewer_key(server)
    with server.client(key) as rev:
        item = next(i for i in rev.get("/v1/review/queue").json()["items"] if i["reference"] == reference)
    return reference, item["id"], key


def test_an_invalid_decision_that_shows_the_requesters_details_again_is_audited(server, notice_item):
    reference, item_id, key = notice_item
    with logged_in(server, key) as (browser, csrf):
        page = browser.get(f"/review/items/{item_id}")
        assert page.status_code == 200 and SIGNATURE in page.text
        seen = personal_views(server, reference)
        assert seen >= 1
        for bad in ({"decision": "obliterate", "reason": "x"}, {"decision": "remove", "reason": ""},
                    {"decision": "remove", "reason": "x", "ground": "whim"}):
            again = browser.post(f"/review/items/{item_id}/decide", data={"csrf": csrf, **bad})
            assert again.status_code == 422, again.text
            assert SIGNATURE in again.text  # the details are shown again ...
            seen += 1
            assert personal_views(server, reference) == seen, f"{bad}: the re-render was not audited"  # ... and logged
        # a refused CSRF token shows nothing personal (and so needs no entry)
        forged = browser.post(f"/review/items/{item_id}/decide", data={"csrf": "forged", "decision": "keep",
                                                                       "reason": "x"})
        assert forged.status_code == 403 and SIGNATURE not in forged.text
        assert personal_views(server, reference) == seen


@pytest.mark.parametrize("item", [HUGE, str(2**63), str(2**31), "-" + HUGE, "0"])
def test_item_ids_beyond_any_database_integer_are_a_clear_not_found(server, notice_item, item):
    _, _, key = notice_item
    with logged_in(server, key) as (browser, csrf):
        answers = {
            "page": browser.get(f"/review/items/{item}"),
            "decide": browser.post(f"/review/items/{item}/decide", data={"csrf": csrf, "decision": "keep",
                                                                        "reason": "x"}),
            "statement": browser.get(f"/review/items/{item}/statement.json"),
        }
    with server.client(key) as rev:
        answers |= {
            "api get": rev.get(f"/v1/review/items/{item}"),
            "api open": rev.post(f"/v1/review/items/{item}/open"),
            "api decision": rev.post(f"/v1/review/items/{item}/decision", json={"decision": "keep", "reason": "x"}),
            "api statement": rev.get(f"/v1/review/items/{item}/statement"),
        }
    for where, answer in answers.items():
        assert answer.status_code in (404, 422), f"{where}: {answer.status_code} {answer.text[:300]}"
        assert "review item" in answer.text or "less than or equal" in answer.text \
            or "greater than or equal" in answer.text, f"{where}: {answer.text[:300]}"
