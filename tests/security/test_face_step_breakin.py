"""Break-in: the intake's "protect my face" step (POST /protect/face, likeness protection, issue 18).

Owner: the person holding the case (case number + PIN, no API key); scope: their own case only;
tenant: the operator's case bank. The attacks:

* enrol without the form's CSRF token, or into someone else's case without its PIN;
* guess PINs through this form (it shares the case's PIN throttle), or make the server decode photos
  before the PIN is checked (a hostile file with a wrong PIN gets the PIN answer);
* use a valid case as a face-embedding service (enrolments per case per hour are bounded), or send
  many files (refused before anything is read);
* learn anything about faces: whether a face is enrolled elsewhere (the answer is the same), or who a
  face is (no route takes a face and answers);
* see a case's face flagged in another tenant's uploads while the case bank is not shared with it.

Several client addresses on loopback (127.0.x.1) stand for several machines."""

from __future__ import annotations

import io
import re
import secrets
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.servers import cli, live_server

pytest.importorskip("dlib", reason="likeness protection needs the [likeness] extra")

FACES = Path(__file__).resolve().parents[1] / "data" / "faces"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request, tmp_path_factory):
    with live_server(request.param, tmp_path_factory, prefix="face-", data_dir=True,
                     env={"NCII_SHIELD_CASE_BURST": "100000", "NCII_SHIELD_CASE_RATE": "1000",
                          "NCII_SHIELD_CASE_CREATE_PER_HOUR": "1000"}) as live:
        yield live


_addresses = iter(range(2, 250))


def client_at(server) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=120,
                        transport=httpx.HTTPTransport(local_address=f"127.0.{next(_addresses)}.1"))


def new_case(c: httpx.Client) -> tuple[str, str]:
    r = c.post("/v1/cases", json={"signals": [{"signal_type": "pdq", "value": secrets.token_hex(32)}],
                                  "age": "adult", "consent": True})
    assert r.status_code == 201, r.text
    return r.json()["case_number"], r.json()["pin"]


def portrait(name: str) -> bytes:
    return (FACES / f"ifaces-{name}.jpg").read_bytes()


def reshared(name: str) -> bytes:
    img = Image.open(io.BytesIO(portrait(name))).convert("RGB").transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    canvas = Image.new("RGB", (400, 520), (235, 235, 235))
    canvas.paste(img.resize((260, 260)), (70, 120))
    buf = io.BytesIO()
    canvas.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def enrol(c: httpx.Client, number: str, pin: str, files: list[tuple[str, bytes]], *, csrf: bool = True,
          consent: bool = True) -> httpx.Response:
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/protect/face").text).group(1)
    data = {"csrf": token if csrf else "x" * 43, "case_number": number, "pin": pin}
    if consent:
        data["consent"] = "yes"
    return c.post("/protect/face", data=data, files=[("photos", (n, b, "image/jpeg")) for n, b in files])


def alert(r: httpx.Response) -> str:
    found = re.search(r'<div class="error" role="alert">(.*?)</div>', r.text, re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)) if found else ""


def flags(server, key: str, data: bytes) -> list[dict]:
    with server.client(key) as api:
        r = api.post("/v1/match/media", params={"explicit": "true"}, files={"file": ("u.jpg", data)})
        assert r.status_code == 200, r.text
        return r.json().get("likeness") or []


def wrong(pin: str) -> str:
    while (other := f"{secrets.randbelow(10**8):08d}") == pin:
        pass
    return other


def test_csrf_and_pin_are_required_and_nothing_is_enrolled(server) -> None:
    with client_at(server) as c:
        number, pin = new_case(c)
        r = enrol(c, number, pin, [("me.jpg", portrait("007"))], csrf=False)
        assert r.status_code == 403 and "did not come from this site" in alert(r)
        r = enrol(c, number, wrong(pin), [("me.jpg", portrait("007"))])
        assert r.status_code == 403 and "case number or PIN is not right" in alert(r)
        # someone else's case number with this case's PIN
        other_number, _ = new_case(c)
        r = enrol(c, other_number, pin, [("me.jpg", portrait("007"))])
        assert r.status_code == 403 and "case number or PIN is not right" in alert(r)
    time.sleep(0.6)
    assert flags(server, server.admin_key, reshared("007")) == []  # nothing of it reached the index


def test_photos_are_not_decoded_before_the_pin_and_pins_are_throttled(server) -> None:
    hostile = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # a broken PNG: decoding it would answer with a media error
    with client_at(server) as c:
        number, pin = new_case(c)
        for _ in range(5):
            r = enrol(c, number, wrong(pin), [("x.png", hostile)])
            assert r.status_code == 403 and "PIN is not right" in alert(r), alert(r)
        r = enrol(c, number, wrong(pin), [("x.png", hostile)])
        assert r.status_code == 429 and "too many wrong PINs from this address" in alert(r)
        # the status page shares the throttle: no extra guesses through the other door
        token = re.search(r'name="csrf" value="([^"]+)"', c.get("/status").text).group(1)
        r = c.post("/status", data={"csrf": token, "case_number": number, "pin": wrong(pin)})
        assert r.status_code == 429
    with client_at(server) as owner:  # the owner elsewhere is not locked out
        r = enrol(owner, number, pin, [("x.png", hostile)])
        assert r.status_code == 422 and "x.png" in alert(r)  # now the photo is read: and refused


def test_many_files_refused_and_enrolments_per_case_bounded(server) -> None:
    with client_at(server) as c:
        number, pin = new_case(c)
        r = enrol(c, number, pin, [(f"{i}.jpg", b"x") for i in range(7)])
        assert r.status_code == 422 and "at most 5" in alert(r)
        # a valid case is not a face-embedding service: 10 enrolment tries an hour, then 429
        codes = [enrol(c, number, pin, [("tiny.jpg", b"not a photo")]).status_code for _ in range(11)]
        assert codes[:10] == [422] * 10 and codes[10] == 429, codes


def test_answers_say_nothing_about_other_faces_and_tenants_are_apart(server) -> None:
    with client_at(server) as c:
        first, first_pin = new_case(c)
        second, second_pin = new_case(c)
        r1 = enrol(c, first, first_pin, [("me.jpg", portrait("009"))])
        assert r1.status_code == 201, alert(r1)
        # the same face again, through another case: the same answer (no "already enrolled")
        r2 = enrol(c, second, second_pin, [("me.jpg", portrait("009"))])
        assert r2.status_code == 201

        def body(r: httpx.Response) -> str:
            return re.sub(r'name="csrf" value="[^"]+"', "", r.text)

        assert body(r1) == body(r2)
        assert not re.search(r"similar|\d\.\d{2}|NC-[0-9A-Z]{4}", body(r1))  # no score, no other case
    key_b = cli("keys", "create", "--db", server.db_url, "--tenant", "platform-face-b", "--scope", "match").stdout.split()[-1]
    deadline = time.monotonic() + 3
    while not flags(server, server.admin_key, reshared("009")) and time.monotonic() < deadline:
        time.sleep(0.1)
    found = flags(server, server.admin_key, reshared("009"))
    assert {f["bank"] for f in found} == {"victims"} and len(found) == 2  # one per enrolment (two cases)
    assert flags(server, key_b, reshared("009")) == []  # the case bank is not shared with tenant B


def test_no_route_takes_a_face_and_answers(server) -> None:
    with client_at(server) as c:
        # the step's GET ignores whatever it is sent; no other method is routed
        page = c.get("/protect/face", params={"case_number": "NC-0000-0000-0000-0000", "face": "x"}).text
        assert "NC-0000" not in page
        assert c.put("/protect/face", content=portrait("009")).status_code == 405
        # the JSON API has no face route at all
        paths = c.get("/openapi.json").json()["paths"]
        assert [p for p in paths if any(w in p.lower() for w in ("face", "likeness", "enrol", "identif"))] == []
