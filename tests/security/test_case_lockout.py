"""Break-in: what an outsider can do to someone else's case, or to the server, without a key.

* PIN guessing aimed at the victim (issue 17, finding 6): a guesser must not lock the owner out;
  guesses per case per day are bounded however many addresses guess; a case that was guessed at
  still opens for the right PIN with a proof of work.
* Photos posted to a case are not decoded before the case number and PIN are checked (finding 1).
* A case holds what a person has (at most 200 items), and case creation is rate-limited per
  address (finding 11).

Several client addresses on loopback (127.0.0.x) stand for several machines."""

from __future__ import annotations

import hashlib
import json
import secrets
import struct
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.servers import live_server

FREE, MAX, BITS = 10, 30, 8  # the server below: wrong PINs per case per day without / with a proof


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request, tmp_path_factory):
    with live_server(request.param, tmp_path_factory, prefix="lockout-", data_dir=True, env={"NCII_SHIELD_CASE_FREE_FAILURES_PER_DAY": str(FREE),
                             "NCII_SHIELD_CASE_MAX_FAILURES_PER_DAY": str(MAX),
                             "NCII_SHIELD_CASE_POW_BITS": str(BITS),
                             "NCII_SHIELD_CASE_BURST": "100000", "NCII_SHIELD_CASE_RATE": "1000"}) as live:
        yield live


_next_address = iter(range(2, 250))


def client_at(server, address: str | None = None) -> httpx.Client:
    """A client whose connections come from their own loopback address (a machine of its own)."""
    address = address or f"127.0.{next(_next_address)}.1"
    return httpx.Client(base_url=server.url, timeout=60, transport=httpx.HTTPTransport(local_address=address))


def new_case(c: httpx.Client, signals: list[dict] | None = None) -> dict:
    r = c.post("/v1/cases", json={"signals": signals or [{"signal_type": "pdq", "value": secrets.token_hex(32)}],
                                  "age": "adult", "consent": True})
    assert r.status_code == 201, r.text
    return r.json()


def proof_for(case_number: str, pin: str, bits: int = BITS) -> str:
    """The documented proof of work: a nonce such that sha256("ncii-shield-pin:<case>:<pin>:<UTC day>:<nonce>")
    starts with ``bits`` zero bits."""
    day = datetime.now(UTC).date().isoformat()
    nonce = 0
    while True:
        digest = hashlib.sha256(f"ncii-shield-pin:{case_number}:{pin}:{day}:{nonce}".encode()).digest()
        if int.from_bytes(digest, "big") >> (256 - bits) == 0:
            return str(nonce)
        nonce += 1


def wrong_pin(right: str) -> str:
    while (pin := f"{secrets.randbelow(10**8):08d}") == right:
        pass
    return pin


def test_a_guesser_at_one_address_does_not_lock_the_owner_out(server):
    with client_at(server) as owner, client_at(server) as guesser:
        case = new_case(owner)
        assert len(case["pin"]) >= 8 and case["pin"].isdigit()  # 10^8 PINs at least
        auth = {"case_number": case["case_number"]}
        codes = [guesser.post("/v1/cases/status", json={**auth, "pin": wrong_pin(case["pin"])}).status_code
                 for _ in range(8)]
        assert codes[:5] == [403] * 5 and codes[5:] == [429] * 3, codes  # the guesser is throttled...
        r = guesser.post("/v1/cases/status", json={**auth, "pin": case["pin"]})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0  # ...and gets nowhere, even when right
        # ...while the owner, elsewhere, opens the case at once, and may withdraw it
        r = owner.post("/v1/cases/status", json={**auth, "pin": case["pin"]})
        assert r.status_code == 200, r.text
        assert owner.post("/v1/cases/withdraw", json={**auth, "pin": case["pin"]}).status_code == 200


def test_one_address_guessing_across_many_cases_is_throttled(server):
    with client_at(server) as guesser, client_at(server) as other:
        codes = []
        for _ in range(6):  # six case numbers (unknown ones answer like wrong PINs), four guesses each
            number = "NC-" + "-".join(secrets.token_hex(2).upper().replace("I", "1") for _ in range(4))
            number = number.translate(str.maketrans("ILOU", "1105"))
            codes += [guesser.post("/v1/cases/status", json={"case_number": number, "pin": "12345678"}).status_code
                      for _ in range(4)]
        assert codes[:20] == [403] * 20 and set(codes[20:]) == {429}, codes
        assert other.post("/v1/cases/status", json={"case_number": "NC-0000-0000-0000-0000",
                                                    "pin": "12345678"}).status_code == 403  # others unaffected


def test_distributed_guessing_is_bounded_and_the_owner_still_gets_in_with_a_proof(server):
    with client_at(server) as owner:
        case = new_case(owner)
    auth = {"case_number": case["case_number"]}
    evaluated = 0  # wrong PINs the server actually checked
    refused = []
    for _ in range(12):  # twelve machines, five guesses each, with a proof of work when asked
        with client_at(server) as guesser:
            for _ in range(5):
                pin = wrong_pin(case["pin"])
                r = guesser.post("/v1/cases/status", json={**auth, "pin": pin})
                if r.status_code == 429 and "proof" in r.json()["error"]["message"]:
                    r = guesser.post("/v1/cases/status", json={**auth, "pin": pin,
                                                               "proof": proof_for(case["case_number"], pin)})
                if r.status_code == 403:
                    evaluated += 1
                else:
                    assert r.status_code == 429, r.text
                    refused.append(r.json()["error"]["message"])
            if evaluated == FREE:  # the free guesses are spent: the owner needs a proof now
                with client_at(server) as elsewhere:
                    r = elsewhere.post("/v1/cases/status", json={**auth, "pin": case["pin"]})
                    assert r.status_code == 429 and "proof" in r.json()["error"]["message"], r.text
                    r = elsewhere.post("/v1/cases/status", json={**auth, "pin": case["pin"], "proof": "1"})
                    assert r.status_code == 429  # a wrong proof is not a proof
                    r = elsewhere.post("/v1/cases/status", json={
                        **auth, "pin": case["pin"], "proof": proof_for(case["case_number"], case["pin"])})
                    assert r.status_code == 200, r.text  # the slower path opens the case
    assert evaluated == MAX, (evaluated, refused)  # never more guesses checked per case and day
    assert refused and all("wrong PINs" in m or "address" in m for m in refused)
    # over the day's budget, no PIN is checked at all: a guesser learns nothing more
    with client_at(server) as late:
        r = late.post("/v1/cases/status", json={**auth, "pin": case["pin"],
                                                "proof": proof_for(case["case_number"], case["pin"])})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 3600


def png_declaring(width: int, height: int) -> bytes:
    """A tiny 1-bit PNG that declares ``width`` x ``height`` pixels (all zero: compresses ~1000:1)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", data) + chunk(b"IEND", b""))


def server_processes(server) -> list[int]:
    """The server's process and its descendants (the worker that decodes)."""
    pids, i = [server.proc.pid], 0
    while i < len(pids):
        for task in Path(f"/proc/{pids[i]}/task").glob("*"):
            children = (task / "children").read_text().split() if (task / "children").exists() else []
            pids += [int(p) for p in children]
        i += 1
    return pids


def peak_rss_mib(server) -> float:
    total = 0.0
    for pid in server_processes(server):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


def test_case_photos_are_not_decoded_before_the_pin_is_checked(server):
    with client_at(server) as owner, client_at(server) as outsider:
        case = new_case(owner)
        bombs = [png_declaring(10_000, 10_000)] * 25 + [png_declaring(7_000, 7_000)] * 25  # 100 M and 49 M pixels
        files = [("files", (f"p{i}.png", data, "image/png")) for i, data in enumerate(bombs)]
        before = peak_rss_mib(server)
        start = time.perf_counter()
        r = outsider.post("/v1/cases/photos", data={"case_number": case["case_number"],
                                                    "pin": wrong_pin(case["pin"])}, files=files)
        elapsed = time.perf_counter() - start
        assert r.status_code == 403 and r.json()["error"]["type"] == "PermissionDenied", r.text
        assert elapsed < 2.0, f"a wrong PIN took {elapsed:.1f} s: the photos were decoded first"
        assert peak_rss_mib(server) - before < 40, "the server's peak memory grew: the photos were decoded"
        # the right PIN still registers photos (and refuses the hostile ones, one by one)
        r = owner.post("/v1/cases/photos", data={"case_number": case["case_number"], "pin": case["pin"]},
                       files=[("files", ("big.png", png_declaring(10_000, 10_000), "image/png"))])
        assert r.status_code == 201 and r.json()["photos"][0]["status"] == "error", r.text


def test_a_case_holds_what_a_person_has(server):
    from tests.derivative_scenes import jpeg, scene

    with client_at(server) as person:
        many = [{"signal_type": "md5", "value": secrets.token_hex(16)} for _ in range(10_000)]
        r = person.post("/v1/cases", json={"signals": many, "age": "adult", "consent": True})
        assert r.status_code in (413, 422) and "200" in r.json()["error"]["message"], r.text[:500]
        case = new_case(person, [{"signal_type": "md5", "value": secrets.token_hex(16)} for _ in range(197)])
        assert case["hashes"] == 197
        auth = {"case_number": case["case_number"], "pin": case["pin"]}
        r = person.post("/v1/cases/photos", data=auth, files=[
            ("files", (f"p{i}.jpg", jpeg(scene(60 + i)), "image/jpeg")) for i in range(4)])
        assert r.status_code in (413, 422) and "200" in r.json()["error"]["message"], r.text  # 197 + 4 > 200
        r = person.post("/v1/cases/photos", data=auth, files=[
            ("files", (f"p{i}.jpg", jpeg(scene(60 + i)), "image/jpeg")) for i in range(3)])
        assert r.status_code == 201 and {p["status"] for p in r.json()["photos"]} == {"registered"}, r.text
        assert person.post("/v1/cases/status", json=auth).json()["hashes"] == 200  # photos count as items
        r = person.post("/v1/cases/photos", data=auth,
                        files=[("files", ("one-more.jpg", jpeg(scene(70)), "image/jpeg"))])
        assert r.status_code in (413, 422) and "200" in r.json()["error"]["message"], r.text


def test_case_creation_is_rate_limited_per_address(server):
    with client_at(server, "127.0.251.1") as busy, client_at(server) as other:
        codes = [busy.post("/v1/cases", json={"signals": [{"signal_type": "md5", "value": secrets.token_hex(16)}],
                                              "age": "adult", "consent": True}).status_code for _ in range(12)]
        assert codes[:10] == [201] * 10 and codes[10:] == [429, 429], codes
        r = busy.post("/v1/cases", json={"signals": [{"signal_type": "md5", "value": secrets.token_hex(16)}],
                                         "age": "adult", "consent": True})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 60 and "cases" in r.json()["error"]["message"]
        assert other.post("/v1/cases", json={"signals": [{"signal_type": "md5", "value": secrets.token_hex(16)}],
                                             "age": "adult", "consent": True}).status_code == 201
    # the flood is flagged for the operator once (three refusals, one entry), the address never in clear
    from sqlalchemy import select

    from ncii_shield.store.database import open_database
    from ncii_shield.store.models import AuditEntry

    db = open_database(server.db_url)
    try:
        with db.read() as session:
            digest = hashlib.sha256(b"ncii-shield-flood:127.0.251.1").hexdigest()[:16]
            floods = session.scalars(select(AuditEntry).where(AuditEntry.action == "case.flood",
                                                              AuditEntry.subject == f"address:{digest}")).all()
            assert len(floods) == 1 and floods[0].tenant_id is None and json.loads(floods[0].details)["limit_per_hour"] == 10
            everything = " ".join(f"{e.subject} {e.details}" for e in session.scalars(select(AuditEntry)))
            assert "127.0.251.1" not in everything
    finally:
        db.dispose()
