"""Deadline watch: due-in-6-hours and overdue requests reach a real loopback HTTP receiver by an
HMAC-signed webhook that the receiver verifies; tampered, re-signed or replayed requests fail; the
counts feed the queue and /metrics."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from ncii_shield.core import Shield
from ncii_shield.services.deadlines import SIGNATURE_HEADER, BadSignature, DeadlineWatch, sign, verify_signature
from ncii_shield.services.notices import NoticeSubmission
from tests.servers import free_port, start_server

SECRET = "test-secret-" + "x" * 20


class Receiver:
    """A webhook receiver on loopback that verifies every request with the receiver-side function."""

    def __init__(self, secret: str, status: int = 200) -> None:
        self.events: list[dict] = []
        self.rejected: list[str] = []
        self.status = status
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    verify_signature(secret, self.headers.get(SIGNATURE_HEADER), body)
                except BadSignature as exc:
                    outer.rejected.append(str(exc))
                    self.send_response(401)
                else:
                    outer.events.append(json.loads(body))
                    self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/ncii"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def shield(data_shield):
    return data_shield


def submit(shield: Shield, name: str, hours_ago: float) -> str:
    return shield.notices.submit(NoticeSubmission(
        requester_role="depicted_person", signature=name, content_description="photo", urls=[f"https://x.example/{name}"],
        good_faith=True, contact_email="a@example.org"), channel="api",
        received_at=datetime.now(UTC) - timedelta(hours=hours_ago)).notice.reference


def test_deadline_alerts_are_signed_and_verified_by_a_real_receiver(shield):
    receiver = Receiver(SECRET)
    try:
        overdue, due_soon, fresh = submit(shield, "late", 49), submit(shield, "soon", 44), submit(shield, "new", 1)
        watch = DeadlineWatch(shield.db, shield.notices, url=receiver.url, secret=SECRET)
        sent = watch.scan()
        assert {(e["reference"], e["kind"]) for e in sent} == {(overdue, "overdue"), (due_soon, "due_soon")}
        assert {(e["reference"], e["kind"]) for e in receiver.events} == {(overdue, "overdue"), (due_soon, "due_soon")}
        assert receiver.rejected == []
        assert fresh not in json.dumps(receiver.events) and "a@example.org" not in json.dumps(receiver.events)
        assert watch.scan() == []  # each alert once
        counts = shield.notices.counts()
        assert counts == {"open": 3, "overdue": 1, "due_soon": 1, "queue": 3}
        due = {q.reference: q.due for q in shield.review.queue(shield.local_principal().tenant_id)}
        assert due == {overdue: "overdue", due_soon: "due_soon", fresh: None}
        # two hours later the "soon" one is overdue too: one more alert
        later = watch.scan(now=datetime.now(UTC) + timedelta(hours=5))
        assert [(e["reference"], e["kind"]) for e in later] == [(due_soon, "overdue")]
    finally:
        receiver.close()


def test_a_receiver_with_another_secret_rejects_and_delivery_is_retried(shield):
    wrong = Receiver("another-secret")
    try:
        ref = submit(shield, "late", 50)
        watch = DeadlineWatch(shield.db, shield.notices, url=wrong.url, secret=SECRET)
        assert watch.scan() == []
        assert wrong.events == [] and "does not match" in wrong.rejected[0]
        right = Receiver(SECRET)
        try:
            watch.url = right.url
            assert [e["reference"] for e in watch.scan()] == [ref]  # retried, now delivered
        finally:
            right.close()
    finally:
        wrong.close()


def test_verify_signature_refuses_tampering_and_replays():
    body = b'{"type":"notice.deadline","reference":"TD-1"}'
    header = sign(SECRET, body)
    assert verify_signature(SECRET, header, body) > 0
    with pytest.raises(BadSignature, match="does not match"):
        verify_signature(SECRET, header, body.replace(b"TD-1", b"TD-2"))
    with pytest.raises(BadSignature, match="does not match"):
        verify_signature("wrong", header, body)
    old = sign(SECRET, body, timestamp=int(time.time()) - 3600)
    with pytest.raises(BadSignature, match="old"):
        verify_signature(SECRET, old, body)
    with pytest.raises(BadSignature):
        verify_signature(SECRET, None, body)
    with pytest.raises(BadSignature):
        verify_signature(SECRET, "v1=abc", body)


def test_metrics_expose_deadline_gauges(tmp_path):
    server = start_server(f"sqlite:///{tmp_path / 'm.db'}", tmp_path, extra=("--data-dir", str(tmp_path)))
    try:
        with httpx.Client(base_url=server.url) as c:
            assert c.post("/v1/notices", json={
                "requester_role": "depicted_person", "signature": "M", "content_description": "photo",
                "urls": ["https://x.example/m"], "good_faith": True, "contact_email": "m@example.org"}).status_code == 201
            text = c.get("/metrics").text
        values = {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
                  if line.startswith(("ncii_notices_", "ncii_review_queue_items"))}
        assert values == {"ncii_notices_open": 1.0, "ncii_notices_overdue": 0.0, "ncii_notices_due_soon": 0.0,
                          "ncii_review_queue_items": 1.0}
    finally:
        server.stop()


def test_removals_reach_the_platform_by_signed_webhook(shield):
    from ncii_shield.services.content import ContentInput

    receiver = Receiver(SECRET)
    try:
        tenant = shield.local_principal().tenant_id
        shield.content.register(tenant, [ContentInput("p1", md5="1" * 32, pdq="f" * 64),
                                         ContentInput("p2", md5="1" * 32),                      # identical copy
                                         ContentInput("p3", pdq="f" * 60 + "0000")])            # near copy
        ref = shield.notices.submit(NoticeSubmission(
            requester_role="depicted_person", signature="W", content_description="photo", content_ids=["p1"],
            good_faith=True, contact_email="w@example.org"), channel="api").notice.reference
        item = shield.review.queue(tenant)[0]
        shield.review.decide(tenant, item.id, "remove", "non-consensual", actor="key:rev")
        watch = DeadlineWatch(shield.db, shield.notices, url=receiver.url, secret=SECRET)
        [event] = watch.scan()
        assert event["type"] == "notice.removed" and event["reference"] == ref
        assert {(i["value"], i["source"]) for i in event["take_down"]} == {("p1", "request"), ("p2", "sweep")}
        copy = next(q for q in shield.review.queue(tenant) if q.kind == "copy")
        shield.review.decide(tenant, copy.id, "remove", "a near copy", actor="key:rev")
        [event] = watch.scan()
        assert event["type"] == "notice.copy_removed"
        assert [(i["value"], i["match_type"], i["distance"]) for i in event["take_down"]] == [("p3", "pdq", 16)]
        assert receiver.rejected == [] and len(receiver.events) == 2
        assert watch.scan() == []
    finally:
        receiver.close()


def test_a_live_server_delivers_a_removal_at_once(tmp_path):
    receiver = Receiver(SECRET)
    server = start_server(f"sqlite:///{tmp_path / 'w.db'}", tmp_path, extra=("--data-dir", str(tmp_path)),
                          env={"NCII_SHIELD_WEBHOOK_URL": receiver.url, "NCII_SHIELD_WEBHOOK_SECRET": SECRET,
                               "NCII_SHIELD_DEADLINE_INTERVAL": "3600"})
    try:
        with httpx.Client(base_url=server.url) as public, server.client(server.admin_key) as admin:
            ref = public.post("/v1/notices", json={
                "requester_role": "depicted_person", "signature": "L", "content_description": "photo",
                "urls": ["https://x.example/l"], "good_faith": True, "contact_email": "l@example.org"}).json()["reference"]
            item = admin.get("/v1/review/queue").json()["items"][0]
            assert admin.post(f"/v1/review/items/{item['id']}/decision",
                              json={"decision": "remove", "reason": "non-consensual"}).status_code == 200
            deadline = time.monotonic() + 10
            while not receiver.events and time.monotonic() < deadline:
                time.sleep(0.05)
        assert [(e["type"], e["reference"]) for e in receiver.events] == [("notice.removed", ref)]
        assert receiver.events[0]["take_down"] == [{"kind": "url", "value": "https://x.example/l", "source": "request",
                                                    "match_type": None, "distance": None}]
        assert receiver.rejected == [] and SECRET not in server.log()
    finally:
        server.stop()
        receiver.close()


def test_an_attempt_claimed_by_another_worker_is_not_sent_twice(shield):
    """Worker A has claimed an alert and is still sending it: worker B's pass leaves it alone; if A
    died, B sends it once the lease is over."""
    from sqlalchemy import update

    from ncii_shield.services.deadlines import LEASE
    from ncii_shield.store.models import DeadlineAlert, utcnow

    receiver = Receiver(SECRET)
    try:
        ref = submit(shield, "late", 50)
        watch = DeadlineWatch(shield.db, shield.notices, url=receiver.url, secret=SECRET)
        watch.url = None
        watch.scan()  # records the alert without delivering
        watch.url = receiver.url
        with shield.db.write() as session:  # what worker A's claim wrote
            session.execute(update(DeadlineAlert).values(attempts=1, claimed_until=utcnow() + LEASE))
        assert watch.deliver() == [] and receiver.events == []
        later = watch.deliver(now=utcnow() + LEASE + timedelta(seconds=1))  # A never came back
        assert [e["reference"] for e in later] == [ref] and len(receiver.events) == 1
        assert watch.deliver(now=utcnow() + LEASE * 3) == []  # delivered: never again
    finally:
        receiver.close()
