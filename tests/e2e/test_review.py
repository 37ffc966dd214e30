"""A reviewer works the queue in real headless Chromium: logs in with a reviewer key, opens a match
whose preview stays unloaded until clicked (then blurred until clicked again), decides, removes a
removal request sent through the public form, and downloads the statement of reasons (checked JSON).
The platform's copy is served by a loopback HTTP server (a harmless synthetic image)."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from PIL import Image

from tests.servers import free_port, start_server


class ImageServer:
    """The platform's media server: one harmless synthetic PNG; it records every request it gets."""

    def __init__(self) -> None:
        buffer = io.BytesIO()
        Image.new("RGB", (64, 48), (40, 120, 200)).save(buffer, "PNG")
        png, self.hits = buffer.getvalue(), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(png)))
                self.end_headers()
                self.wfile.write(png)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def media():
    m = ImageServer()
    yield m
    m.server.shutdown()


@pytest.fixture(scope="module")
def review_site(tmp_path_factory, media):
    tmp = tmp_path_factory.mktemp("review")
    server = start_server(f"sqlite:///{tmp / 'review.db'}", tmp, extra=("--data-dir", str(tmp)),
                          env={"NCII_SHIELD_PREVIEW_ORIGINS": media.origin})
    yield server
    server.stop()


def test_reviewer_works_the_queue_and_downloads_the_statement(review_site, browser, media, tmp_path):
    site = review_site
    with site.client(site.admin_key) as admin:
        reviewer_key = admin.post("/v1/keys", json={"scopes": ["reviewer"], "name": "moderator"}).json()["key"]
        match_key = admin.post("/v1/keys", json={"scopes": ["match"], "name": "platform"}).json()["key"]
    with site.client(match_key) as platform:
        platform.post("/v1/content", json={"items": [
            {"content_id": "photo-1", "md5": "b" * 32, "posted_at": "2026-11-01T12:00:00Z"}]}).raise_for_status()
        flag = platform.post("/v1/review/items", json={
            "kind": "match", "content_id": "upload-5", "priority": 40, "summary": "Upload matched the victims bank",
            "details": {"bank": "victims", "distance": 4}, "preview_url": f"{media.origin}/media/upload-5.png"})
        assert flag.status_code == 201, flag.text

    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    try:
        # the public form: an incomplete request names what is missing; a complete one gets a reference
        page.goto(site.url + "/removal")
        page.fill("#urls", "https://forum.example/t/31")
        page.click("#send-request")
        alert = page.text_content("[role=alert]")
        for name in ("requester_role", "signature", "content_description", "good_faith", "contact"):
            assert name in alert
        assert page.input_value("#urls") == "https://forum.example/t/31"  # nothing typed is lost
        page.check("input[value=depicted_person]")
        page.fill("#content_description", "a photo from 2023")
        page.fill("#content_ids", "photo-1")
        page.check("#good_faith")
        page.fill("#contact_email", "kim@example.org")
        page.fill("#signature", "Kim Example")
        page.click("#send-request")
        reference = page.text_content("#reference").strip()
        token = page.text_content("#token").strip()
        assert reference.startswith("TD-") and token

        # log in as a reviewer: the session cookie is HttpOnly and SameSite=Strict
        page.goto(site.url + "/review")
        assert page.url.endswith("/review/login")
        page.fill("#api_key", "nsk_wrong00000_xxxxxxxx")
        page.click("#login")
        assert "not valid" in page.text_content("[role=alert]")
        page.fill("#api_key", reviewer_key)
        page.click("#login")
        page.wait_for_selector("#queue")
        cookie = next(c for c in context.cookies() if c["name"] == "ncii_review")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/review"
        kinds = [r.get_attribute("data-kind") for r in page.query_selector_all("#queue tbody tr")]
        assert kinds == ["notice", "match"]  # a deadline first, then by priority

        # the match: its preview is not loaded until asked for, and then blurred
        page.click("#queue tr[data-kind=match] a.open-item")
        page.wait_for_selector("#show-preview")
        assert media.hits == [] and page.query_selector("#preview-frame img") is None
        page.click("#show-preview")
        page.wait_for_selector("#preview-frame img.blurred")
        page.wait_for_function("document.querySelector('#preview-frame img').naturalWidth === 64")
        assert media.hits == ["/media/upload-5.png"]
        assert page.get_attribute("#preview-frame img", "class") == "preview-image blurred"
        page.click("#preview-frame img")
        assert page.get_attribute("#preview-frame img", "class") == "preview-image"
        page.check("input[name=decision][value=keep]")
        page.fill("#reason", "the same photo, but consented publication was shown")
        page.click("#submit-decision")
        assert "keep" in page.text_content("#decided")

        # the removal request: opening it starts the review; removing it offers the statement of reasons
        page.click("#nav-queue")
        page.click("#queue tr[data-kind=notice] a.open-item")
        assert page.text_content("#notice-status").strip() == "in_review"
        page.check("input[name=decision][value=remove]")
        page.fill("#reason", "intimate image published without the consent of the person shown")
        page.click("#submit-decision")
        assert "remove" in page.text_content("#decided")
        assert page.text_content("#notice-status").strip() == "removed"
        with page.expect_download() as info:
            page.click("#statement")
        path = tmp_path / "statement.json"
        info.value.save_as(path)
        assert info.value.suggested_filename.startswith("statement-of-reasons-")
        statements = json.loads(path.read_text())["statements"]
        assert len(statements) == 2  # one per location in the request: the URL and the content id
        for s in statements:
            assert s["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
            assert s["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
            assert s["illegal_content_explanation"] == "intimate image published without the consent of the person shown"
            assert s["source_type"] == "SOURCE_ARTICLE_16" and s["automated_detection"] == "No"
            assert s["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"
            assert s["category"] == "STATEMENT_CATEGORY_CYBER_VIOLENCE"
            assert "DE" in s["territorial_scope"] and s["puid"].startswith("ncii-shield-")
        assert "2026-11-01" in {s["content_date"] for s in statements}  # the indexed content's posting date
        # the indexed content is an image; the URL (not in the index, no file type in its path) is "other"
        assert sorted(s["content_type"] for s in statements) == [["CONTENT_TYPE_IMAGE"], ["CONTENT_TYPE_OTHER"]]
        assert len({s["puid"] for s in statements}) == 2
        assert "Kim" not in path.read_text() and "kim@" not in path.read_text()

        # the person sees the outcome with the reference and token (no reviewer names)
        person = context.new_page()
        person.goto(site.url + "/removal/status")
        person.fill("#reference", reference)
        person.fill("#token", token)
        person.click("#show-request")
        assert person.text_content("#request-status").strip() == "removed"
        assert person.locator("#withdraw-request").count() == 0 and "key:" not in person.content()
        person.close()

        # the dashboard draws its charts on the server, as SVG
        page.click("#nav-dashboard")
        # a plain link: count() does not wait, so wait for the new page first (CI stop 42 saw the old page)
        page.wait_for_url("**/review/dashboard")
        page.wait_for_selector("svg.chart")
        assert page.locator("svg.chart").count() == 3
        assert "1 removed, 1 within 48 hours" in page.text_content("#dash-removed")
        bar = page.query_selector("svg.chart rect.bar[data-label='0-6 h']")
        assert bar.get_attribute("data-value") == "1"
        # the monitors page: this site has none, and says how an operator adds one
        page.click("#nav-monitors")
        page.wait_for_url("**/review/monitors")
        assert "monitor add" in page.text_content("#no-monitors")

        # every page: no inline script, CSP without 'unsafe-inline'
        for path_ in ("/review", "/review/dashboard", "/review/monitors", "/removal"):
            r = page.request.get(site.url + path_)
            assert "'unsafe-inline'" not in r.headers["content-security-policy"]
            html = r.text()
            assert "<script>" not in html and "<script type=\"module\">" not in html
        # a POST without the CSRF token is refused, even with the session cookie
        session = {"ncii_review": cookie["value"]}
        with httpx.Client(base_url=site.url, cookies=session) as raw:
            r = raw.post("/review/items/1/decide", data={"decision": "remove", "reason": "x"})
            assert r.status_code == 403
        page.click("#logout")
        page.goto(site.url + "/review")
        assert page.url.endswith("/review/login")
    finally:
        context.close()


def test_a_person_withdraws_their_request_from_the_status_page(review_site, page):
    site = review_site
    page.goto(site.url + "/removal")
    page.check("input[value=authorized_representative]")
    page.fill("#authorization", "I am their lawyer (power of attorney)")
    page.fill("#content_description", "an edited photo")
    page.fill("#urls", "https://forum.example/t/77")
    page.check("input[name=synthetic]")
    page.check("#good_faith")
    page.fill("#contact_phone", "+1 555 0100")
    page.fill("#signature", "Lee Counsel")
    page.click("#send-request")
    reference, token = page.text_content("#reference").strip(), page.text_content("#token").strip()
    page.click("a[href='/removal/status']")
    page.fill("#reference", reference)
    page.fill("#token", "wrong-token")
    page.click("#show-request")
    assert "not right" in page.text_content("[role=alert]")
    page.fill("#token", token)
    page.click("#show-request")
    assert page.text_content("#request-status").strip() == "received"
    page.click("#withdraw-request")
    assert page.text_content("#request-status").strip() == "withdrawn"
    with site.client(site.admin_key) as admin:
        view = admin.get(f"/v1/notices/{reference}").json()
    assert view["status"] == "withdrawn" and view["synthetic"] and view["requester_role"] == "authorized_representative"
    assert [e["actor"] for e in view["events"]] == ["requester", "requester"]
