"""Break-in: removal requests (issue 17).

* Finding 3: the same public removal request sent again by someone else must not tell them that the
  request exists (its reference, status or receipt time).
* Finding 7: a receipt time at the end of the calendar (``9999-12-31T23:00Z``) was an unhandled 500;
  every datetime a notice route takes gets a clear 4xx instead."""

from __future__ import annotations

import re
import secrets

import httpx
import pytest

REQUEST = {"requester_role": "depicted_person", "signature": "Robin Example", "content_description": "a photo of me",
           "urls": ["https://forum.example/t/41"], "good_faith": True, "contact_email": "robin@example.org"}


@pytest.fixture(scope="module")
def keys(server):
    return {scope: server.make_key(scope, name=f"{scope} key") for scope in ("reviewer", "match")}


def test_a_duplicate_public_request_tells_an_outsider_nothing(server):
    request = {**REQUEST, "urls": [f"https://forum.example/t/{secrets.token_hex(4)}"]}
    retry_key = secrets.token_urlsafe(24)
    with httpx.Client(base_url=server.url) as victim, httpx.Client(base_url=server.url) as outsider:
        first = victim.post("/v1/notices", json=request, headers={"Idempotency-Key": retry_key})
        assert first.status_code == 201, first.text
        # the outsider guesses the whole request: the answer is the one any new request gets
        probe = outsider.post("/v1/notices", json=request)
        assert probe.status_code == 201, probe.text
        assert probe.json()["created"] is True and probe.json()["withdraw_token"]
        assert probe.json()["reference"] != first.json()["reference"]
        assert set(probe.json()) == set(first.json())
        probe = outsider.post("/v1/notices", json=request, headers={"Idempotency-Key": secrets.token_urlsafe(24)})
        assert probe.status_code == 201 and probe.json()["reference"] != first.json()["reference"]
        # the requester's own retry (same Idempotency-Key) is still the first request, not a second one
        again = victim.post("/v1/notices", json=request, headers={"Idempotency-Key": retry_key})
        assert again.status_code == 200 and again.json()["reference"] == first.json()["reference"]
        assert victim.post("/v1/notices", json=request, headers={"Idempotency-Key": "short"}).status_code == 422

        # the web form: another browser sending the same request sees a new request, not "we already have it"
        form = outsider.get("/removal").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        page = outsider.post("/removal", data={"csrf": csrf, "requester_role": "depicted_person",
                                               "signature": request["signature"],
                                               "content_description": request["content_description"],
                                               "urls": request["urls"][0], "good_faith": "yes",
                                               "contact_email": request["contact_email"]})
        assert page.status_code == 201, page.text[:2000]
        assert "already have" not in page.text and first.json()["reference"] not in page.text
        assert re.search(r'id="token"', page.text)


def test_a_request_through_someone_elses_case_content_tells_nothing(server):
    request = {**REQUEST, "urls": [f"https://forum.example/t/{secrets.token_hex(4)}"]}
    with httpx.Client(base_url=server.url) as victim, httpx.Client(base_url=server.url) as outsider:
        first = victim.post("/v1/notices", json=request)
        assert first.status_code == 201, first.text
        case = outsider.post("/v1/cases", json={"signals": [{"signal_type": "md5", "value": secrets.token_hex(16)}],
                                                "age": "adult", "consent": True}).json()
        probe = outsider.post("/v1/notices", json={**request, "case_number": case["case_number"], "pin": case["pin"]})
        assert probe.status_code == 201 and probe.json()["reference"] != first.json()["reference"], probe.text


@pytest.mark.parametrize("moment", ["9999-12-31T23:00Z", "9999-12-31T20:00:00-05:00", "0001-01-01T00:30:00+01:00",
                                    "2999-01-01T00:00:00Z"])
def test_receipt_times_out_of_range_are_a_clear_4xx(server, keys, moment):
    with server.client(keys["reviewer"]) as reviewer:
        r = reviewer.post("/v1/notices", json={**REQUEST, "received_at": moment})
        assert r.status_code == 422, r.text
        assert "received_at" in r.json()["error"]["message"]


@pytest.mark.parametrize("moment", ["9999-12-31T20:00:00-05:00", "0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59Z"])
def test_content_posting_times_out_of_range_are_a_clear_4xx(server, keys, moment):
    with server.client(keys["match"]) as platform:
        r = platform.post("/v1/content", json={"items": [{"content_id": "c-1", "md5": "a" * 32, "posted_at": moment}]})
        assert r.status_code == 422, r.text
        assert "posted_at" in r.json()["error"]["message"]
