"""Migrating a running HMA's banks (issue 22, item 3): services/exchange/hma_import.py.

HMA cannot run in CI (it is not on the package registries), so the HMA here is a STAND-IN: a
loopback HTTP server that answers ``GET /c/banks`` and ``GET /c/bank/<bank>/content/<id>`` exactly as
HMA's blueprints do (facebook/ThreatExchange baefb4ed, hasher-matcher-actioner/src/OpenMediaMatch/
blueprints/curation.py: ``banks_index``, ``bank_get_content``; errors through
``utils/flask_utils.api_error_handler``). Our side is real: the walker over HTTP through the address
guard, a real database (SQLite and PostgreSQL), the real index and matcher.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from ncii_shield.errors import RefusedSource
from ncii_shield.services.banks import SignalInput
from ncii_shield.services.exchange.hma_import import import_from_hma

P1 = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
P4 = "0" * 32 + "f" * 32
P5 = "f" * 32 + "0" * 32
P6 = "0f" * 32
P7 = "a5" * 32
M2 = "0123456789abcdef0123456789abcdef"
M5 = "fedcba9876543210fedcba9876543210"


class StandInHma:
    """The state of an HMA 2.x: banks (name -> matching_enabled_ratio) and content rows."""

    def __init__(self) -> None:
        self.banks = {"NCII_A": 1.0, "NCII_B": 1.0}
        future = int(time.time()) + 86_400
        self.content: dict[int, dict] = {
            1: {"bank": "NCII_A", "disable_until_ts": 1, "signals": {"pdq": P1}, "note": "case 1"},
            2: {"bank": "NCII_A", "disable_until_ts": 0, "signals": {"video_md5": M2}},
            # 3 was deleted: HMA's bank_delete_content removes the row, so the id answers 404
            4: {"bank": "NCII_B", "disable_until_ts": future, "signals": {"pdq": P4}},
            5: {"bank": "NCII_B", "disable_until_ts": 1, "signals": {"pdq": P5, "video_md5": M5},
                "metadata": {"content_id": "upload-5"}},
            6: {"bank": "NCII_A", "disable_until_ts": 1_600_000_000, "signals": {"pdq": P6}},  # re-enabled
        }
        self.requests: list[str] = []

    def answer(self, path: str, query: dict) -> tuple[int, object]:
        self.requests.append(path)
        if path == "/c/banks":  # banks_index: list(storage.get_banks().values()), BankConfig dataclasses
            return 200, [{"name": n, "matching_enabled_ratio": r} for n, r in self.banks.items()]
        found = re.fullmatch(r"/c/bank/([^/]+)/content/(\d+)", path)
        if found is None:
            return 404, {"message": "404 Not Found: The requested URL was not found on the server."}
        bank_name, content_id = found.group(1), int(found.group(2))
        if bank_name not in self.banks:  # bank_get_content: abort(404, f"bank '{bank_name}' not found")
            return 404, {"message": f"bank '{bank_name}' not found"}
        row = self.content.get(content_id)  # storage.bank_content_get([content_id]) in any bank
        if row is None:
            return 404, {"message": f"content '{content_id}' not found"}
        include_signals = query.get("include_signals", ["false"])[0].lower() == "true"
        include_metadata = query.get("include_metadata", ["true"])[0].lower() == "true"
        body = {"id": content_id, "disable_until_ts": row["disable_until_ts"], "original_media_uri": None,
                "bank": {"name": row["bank"], "matching_enabled_ratio": self.banks[row["bank"]]}}
        if include_signals:
            body["signals"] = row["signals"]
        if include_metadata and row.get("metadata"):
            body["metadata"] = row["metadata"]
        if row.get("note") is not None:
            body["note"] = row["note"]
        return 200, body


@pytest.fixture
def hma():
    state = StandInHma()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            parts = urlsplit(self.path)
            status, body = state.answer(parts.path, parse_qs(parts.query))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):  # noqa: ANN002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def matched(shield, who, signal_type: str, value: str) -> set[str]:
    return {m.bank for m in shield.matcher.match(who, [SignalInput(signal_type, value)], threshold=0)}


def test_migrates_banks_keeps_disabled_disabled_and_resumes(data_shield, hma):
    shield, who = data_shield, data_shield.local_principal("default")
    with pytest.raises(RefusedSource):  # the operator's URL goes through the address guard
        import_from_hma(shield.db, who, hma.url)

    class Interrupted(Exception):
        pass

    def crash(checkpoint: int) -> None:
        raise Interrupted(checkpoint)

    with pytest.raises(Interrupted):  # dies after its first batch (content 1 and 2) is committed
        import_from_hma(shield.db, who, hma.url, allow_private=True, batch=2, max_gap=3, after_batch=crash)
    report = import_from_hma(shield.db, who, hma.url, allow_private=True, batch=2, max_gap=3)
    assert report.resumed_from == 2 and report.banks == ["NCII_A", "NCII_B"]
    assert (report.contents, report.added, report.inactive) == (3, 3, 1)  # 4, 5 (two signals), 6
    shield.follower.catch_up()

    assert {b.name for b in shield.banks.list(who)} >= {"NCII_A", "NCII_B"}
    assert matched(shield, who, "pdq", P1) == {"NCII_A"}
    assert matched(shield, who, "md5", M2) == set()  # disabled in HMA: kept, withdrawn
    assert matched(shield, who, "pdq", P4) == set()  # disabled until tomorrow
    assert matched(shield, who, "pdq", P5) == matched(shield, who, "md5", M5) == {"NCII_B"}
    assert matched(shield, who, "pdq", P6) == {"NCII_A"}  # its disable time is past
    found = shield.matcher.match(who, [SignalInput("pdq", P1)])[0]
    signal = shield.banks.get_signal(who, "NCII_A", found.signal_id)
    assert signal["metadata"]["hma_content_id"] == 1 and signal["metadata"]["hma_note"] == "case 1"
    withdrawn = [s for s in (shield.banks.get_signal(who, "NCII_A", i) for i in range(1, 10)
                             if _exists(shield, who, "NCII_A", i)) if s["value"] == M2]
    assert withdrawn and withdrawn[0]["withdrawn_at"] is not None

    # content added in HMA afterwards: a rerun walks on from the last content, not from the start
    hma.content[7] = {"bank": "NCII_A", "disable_until_ts": 1, "signals": {"pdq": P7}}
    hma.requests.clear()
    again = import_from_hma(shield.db, who, hma.url, allow_private=True, batch=2, max_gap=3)
    assert again.resumed_from == 6 and again.contents == 1 and again.added == 1
    assert "/c/bank/NCII_A/content/1" not in hma.requests
    shield.follower.catch_up()
    assert matched(shield, who, "pdq", P7) == {"NCII_A"}


def _exists(shield, who, bank: str, signal_id: int) -> bool:
    from ncii_shield.errors import NotFound

    try:
        shield.banks.get_signal(who, bank, signal_id)
        return True
    except NotFound:
        return False


def test_cli_bank_import_from_hma(hma, tmp_path):
    """``ncii-shield bank import --from-hma URL`` (the real CLI, in its own process) against the stand-in."""
    from ncii_shield.core import Shield
    from tests.servers import cli

    db = f"sqlite:///{tmp_path / 'shield.db'}"
    env = {"NCII_SHIELD_DATA": str(tmp_path)}
    refused = cli("bank", "import", "--from-hma", hma.url, "--db", db, env=env)
    assert refused.returncode == 1 and "--allow-private-address" in refused.stderr and not hma.requests
    both = cli("bank", "import", "NCII_A", "--from-hma", hma.url, "--db", db, env=env)
    assert both.returncode == 2 and "not both" in both.stderr
    neither = cli("bank", "import", "--allow-private-address", "--db", db, env=env)
    assert neither.returncode == 2 and "--from-hma" in neither.stderr

    done = cli("bank", "import", "--from-hma", hma.url + "/", "--allow-private-address", "--max-gap", "3", "--db", db,
               "--json", env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["banks"] == ["NCII_A", "NCII_B"] and report["resumed_from"] == 0
    assert (report["contents"], report["added"], report["inactive"], report["invalid"]) == (5, 4, 2, [])
    assert report["walked_to"] == 9 and report["missing"] == 4  # 3, and 7-9 past the end

    hma.content[7] = {"bank": "NCII_B", "disable_until_ts": 1, "signals": {"pdq": P7}}
    again = cli("bank", "import", "--from-hma", hma.url, "--allow-private-address", "--max-gap", "3", "--db", db, env=env)
    assert again.returncode == 0, again.stderr
    assert re.search(r"earlier run\W+6\W", again.stdout) and re.search(r"signals added\W+1\W", again.stdout), again.stdout
    assert "/c/bank/NCII_A/content/1" not in hma.requests[-5:]

    shield = Shield.open(db)
    try:
        who = shield.local_principal("default")
        assert matched(shield, who, "pdq", P1) == {"NCII_A"} and matched(shield, who, "pdq", P7) == {"NCII_B"}
        assert matched(shield, who, "md5", M2) == matched(shield, who, "pdq", P4) == set()  # disabled in HMA
    finally:
        shield.close()
