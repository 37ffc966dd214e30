"""NCMEC hash-sharing fetcher (issue 22, item 4) against a STAND-IN: NCMEC's API cannot be reached from
CI, so a loopback HTTP server answers ``GET /v2/entries`` with basic auth and serves pages in the
shapes of python-threatexchange's own NCMEC samples (threatexchange/exchanges/clients/ncmec/tests/
data.py: ENTRIES_XML .. ENTRIES_XML4, chained by ``paging/next``, the last one updating one video and
deleting another). Each page is first checked with pytx's own parser (GetEntriesResponse.from_xml).
Real SQLite database, real HTTP, the real CLI for the last test."""

from __future__ import annotations

import base64
import json
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select
from threatexchange.exchanges.clients.ncmec.hash_api import GetEntriesResponse, _XMLWrapper

from ncii_shield.core import Shield
from ncii_shield.services.exchange.ncmec_fetch import NCMECClient, fetch
from ncii_shield.store.models import Signal
from tests.servers import cli

NS = "https://hashsharing.ncmec.org/hashsharing/v2"
NEXT = "/v2/entries?from=2017-10-20T00%3A00%3A00.000Z&amp;to=2017-10-30T00%3A00%3A00.000Z&amp;start={}&amp;size=1000&amp;max={}"


def entry(kind: str, member: int, entry_id: str, ts: str, md5: str | None = None, extra: str = "") -> str:
    prints = f"<fingerprints><md5>{md5}</md5>{extra}</fingerprints>" if md5 else ""
    return (f'<{kind}><member id="{member}">Member {member}</member><timestamp>{ts}</timestamp>'
            f"<id>{entry_id}</id>{prints}</{kind}>")


def page(images: list[str], videos: list[str], next_start: int | None, max_ts: str = "2019-11-25T15:10:00Z") -> str:
    groups = "".join(f'<{g} count="{len(items)}" maxTimestamp="{max_ts}">{"".join(items)}</{g}>'
                     for g, items in (("images", images), ("videos", videos)) if items)
    paging = f"<paging><next>{NEXT.format(next_start, next_start + 999)}</next></paging>" if next_start else ""
    return f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><queryResult xmlns="{NS}">{groups}{paging}</queryResult>'


A1, B1, FACE, BACE = "a1" * 16, "b1a1" + "a1" * 14, "face" * 8, "bace" * 8
PAGES = {  # keyed by the "start" of the next path that leads to them (None: the first page)
    None: page([entry("image", 42, "image1", "2017-10-24T15:00:00Z", A1, "<sha1>" + "a1" * 20 + "</sha1>"),
                entry("deletedImage", 43, "image4", "2017-10-24T15:10:00Z")],
               [entry("video", 42, "video1", "2017-10-24T15:00:00Z", "b1" * 16)], 2001),
    "2001": page([entry("image", 42, "image10", "2019-10-24T15:00:00Z", B1)], [], 3001),
    "3001": page([], [entry("video", 101, "willupdate", "2019-11-25T15:10:00Z", FACE),
                      entry("video", 101, "willdelete", "2019-11-24T15:10:00Z", BACE)], 4001),
    "4001": page([], [entry("video", 101, "willupdate", "2019-11-24T15:10:00Z", FACE),
                      entry("deletedVideo", 101, "willdelete", "2019-11-25T15:10:00Z")], None),
}


class StandIn(BaseHTTPRequestHandler):
    """NCMEC stand-in: basic auth user/secret, /v2/entries with from and to, or a next path."""
    requests: list[dict] = []

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        StandIn.requests.append(query)
        if self.headers.get("Authorization") != "Basic " + base64.b64encode(b"user:secret").decode():
            self.send_response(401)
            self.end_headers()
            return
        if url.path != "/v2/entries" or "from" not in query or "to" not in query or query.get("start") not in PAGES:
            self.send_response(400)
            self.end_headers()
            return
        body = PAGES[query.get("start")].encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


@pytest.fixture(scope="module")
def ncmec_url():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def active(shield: Shield) -> set[str]:
    with shield.db.read() as session:
        return set(session.scalars(select(Signal.value).where(Signal.withdrawn_at.is_(None))))


def test_the_stand_in_pages_are_what_pytx_parses():
    for xml in PAGES.values():
        root = ET.fromstring(xml)
        for element in root.iter():
            element.tag = element.tag.rsplit("}", 1)[-1]
        parsed = GetEntriesResponse.from_xml(_XMLWrapper(root), 0)
        assert parsed.updates and parsed.max_timestamp > 0
    assert [u.deleted for u in GetEntriesResponse.from_xml(_XMLWrapper(root), 0).updates] == [False, True]


def test_fetch_resumes_at_its_checkpoint_and_deletions_withdraw(tmp_path, ncmec_url):
    shield = Shield.open(f"sqlite:///{tmp_path / 'n.db'}", load_index=False)
    client = NCMECClient(ncmec_url, username="user", password="secret")
    try:
        principal = shield.local_principal()
        shield.banks.ensure(principal, "ncmec")
        StandIn.requests.clear()
        first = fetch(shield.db, principal, "ncmec", client, start=1508457600, now=1509321600, max_pages=2)
        assert (first.pages, first.added) == (2, 3)  # A1, video1's md5, B1 (sha1 and pdna are not ours)
        assert first.checkpoint["next"].endswith("start=3001&size=1000&max=4000")
        assert StandIn.requests[0]["from"] == "2017-10-20T00:00:00Z" and StandIn.requests[0]["to"] == "2017-10-30T00:00:00Z"

        StandIn.requests.clear()  # "crash", then a new run: it starts at the third page, not the first
        second = fetch(shield.db, principal, "ncmec", client)
        assert [r.get("start") for r in StandIn.requests] == ["3001", "4001"]
        assert (second.pages, second.added, second.withdrawn) == (2, 2, 1)
        assert second.checkpoint == {"start": 1509321600, "end": None, "next": ""}
        assert FACE in active(shield) and BACE not in active(shield)  # deletedVideo withdrew it
    finally:
        client.close()
        shield.close()


def test_cli_fetches_with_credentials_from_the_environment(tmp_path, ncmec_url):
    env = {"NCMEC_USERNAME": "user", "NCMEC_PASSWORD": "secret"}
    done = cli("feed", "ncmec", "from-ncmec", "--url", ncmec_url, "--since", "1508457600", "--json",
               "--data-dir", str(tmp_path), env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["pages"], report["added"], report["withdrawn"]) == (4, 5, 1)
    wrong = cli("feed", "ncmec", "from-ncmec", "--url", ncmec_url, "--data-dir", str(tmp_path),
                env={**env, "NCMEC_PASSWORD": "nope"})
    assert wrong.returncode == 1 and "401" in wrong.stderr
