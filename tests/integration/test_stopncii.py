"""Fetching from a StopNCII-shaped hash API, with checkpoints.

The server here is a STAND-IN for the StopNCII API, which tests cannot reach: a loopback HTTP server
that answers FetchHashes with pages of the recorded shape (field names and paging as in the public
python-threatexchange client), checks the two auth headers, and can fail a page on demand.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from sqlalchemy import select

from ncii_shield.core import Shield
from ncii_shield.errors import Unavailable
from ncii_shield.services.exchange.stopncii import StopNCIIClient, sync
from ncii_shield.store.models import Bank, Signal

rng = np.random.default_rng(8)
PDQS = [rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex() for _ in range(7)]
MD5 = "9e107d9d372bb6826bd81d3542a419d6"


def record(value: str, status: str = "Active", kind: str = "ImagePDQ", ts: int = 100) -> dict:
    return {"lastModtimestamp": ts, "signalType": kind, "hashValue": value, "hashStatus": status,
            "caseNumbers": {"3f6e": status}, "CSPFeedbacks": []}


class StandIn:
    def __init__(self) -> None:
        first_pass = [record(v) for v in PDQS[:6]] + [record(MD5, kind="VideoMD5"), record("x", kind="VideoTMK")]
        self.passes = {10: [first_pass[0:3], first_pass[3:6], first_pass[6:8]],
                       500: [[record(PDQS[1], "Withdrawn", ts=500), record(PDQS[2], "Deleted", ts=501),
                              record(PDQS[6], ts=502)]]}
        self.fail_next = False
        self.requests: list[dict] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

            def do_GET(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                stand_in.requests.append(query)
                if self.headers.get("x-functions-key") != "fk" or self.headers.get("Ocp-Apim-Subscription-Key") != "sk":
                    return self._send(401, {"error": "unauthorized"})
                if url.path != "/v1/FetchHashes":
                    return self._send(404, {})
                if stand_in.fail_next:
                    stand_in.fail_next = False
                    return self._send(500, {"error": "transient"})
                pages = stand_in.passes.get(int(query["startTimestamp"]), [[]])
                index = int(query.get("nextPageToken", "0") or 0)
                more = index + 1 < len(pages)
                body = {"count": len(pages[index]), "nextPageToken": str(index + 1) if more else None,
                        "nextSetTimestamp": 500 if int(query["startTimestamp"]) == 10 else 900,
                        "hasMoreRecords": more, "hashRecords": pages[index]}
                return self._send(200, body)

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def stand_in():
    s = StandIn()
    yield s
    s.server.shutdown()


def active(shield: Shield) -> set[str]:
    with shield.db.read() as session:
        bank_id = session.scalar(select(Bank.id).where(Bank.name == "stopncii"))
        return set(session.scalars(select(Signal.value).where(Signal.bank_id == bank_id, Signal.withdrawn_at.is_(None))))


def test_sync_pages_checkpoints_withdrawals_and_failures(db_url, stand_in):
    shield = Shield.open(db_url, load_index=False)
    who = shield.local_principal()
    shield.banks.create(who, "stopncii")
    client = StopNCIIClient(stand_in.url, function_key="fk", subscription_key="sk")
    try:
        # one page, then a "crash": the next sync resumes at page 2 with the page token
        first = sync(shield.db, who, "stopncii", client, max_pages=1)
        assert first.checkpoint == {"start_timestamp": 10, "next_page": "1"}
        assert active(shield) == set(PDQS[:3])
        stand_in.fail_next = True  # page 2 fails: clear error, checkpoint unchanged
        with pytest.raises(Unavailable, match="500"):
            sync(shield.db, who, "stopncii", client)
        assert stand_in.requests[-1]["nextPageToken"] == "1"
        rest = sync(shield.db, who, "stopncii", client)
        assert rest.pages == 2 and rest.skipped == 1  # VideoTMK is not a signal type we match
        assert active(shield) == set(PDQS[:6]) | {MD5}
        assert rest.checkpoint == {"start_timestamp": 500, "next_page": ""}
        # the next pass starts at nextSetTimestamp: Withdrawn and Deleted records withdraw the hash
        later = sync(shield.db, who, "stopncii", client)
        assert stand_in.requests[-1]["startTimestamp"] == "500"
        assert later.withdrawn == 2
        assert active(shield) == (set(PDQS) - {PDQS[1], PDQS[2]}) | {MD5}
    finally:
        client.close()
        shield.close()


def test_wrong_keys_are_a_clear_error(tmp_path, stand_in):
    shield = Shield.open(f"sqlite:///{tmp_path / 's.db'}", load_index=False)
    who = shield.local_principal()
    shield.banks.create(who, "stopncii")
    client = StopNCIIClient(stand_in.url, function_key="wrong", subscription_key="sk")
    with pytest.raises(Unavailable, match="401"):
        sync(shield.db, who, "stopncii", client)
    client.close()
    shield.close()
