"""Break-in: the victims' intake as a membership oracle (issue 17, finding 3).

Anyone may open a case without a key. An outsider who registers a value that is banked (a victim's
hash, uploaded again and again on a platform) must see exactly what they see for a value nobody
has: the same registration answer, in the same time, and a case status that shows only what was
decided about that case's own requests, never the live match count of a shared hash."""

from __future__ import annotations

import re
import secrets
import statistics
import time

import httpx
import pytest

from tests.servers import live_server

VICTIM_PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
VICTIM_MD5 = "5d41402abc4b2a76b9719d911017c592"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request, tmp_path_factory):
    """A live server whose case-creation limit is raised: the timing probe opens many cases."""
    with live_server(request.param, tmp_path_factory, prefix="oracle-", data_dir=True,
                     env={"NCII_SHIELD_CASE_CREATE_PER_HOUR": "100000", "NCII_SHIELD_CASE_BURST": "100000",
                          "NCII_SHIELD_CASE_RATE": "1000"}) as live:
        yield live


def open_case(c: httpx.Client, signals: list[dict]) -> httpx.Response:
    return c.post("/v1/cases", json={"signals": signals, "age": "adult", "consent": True})


def fresh_pdq() -> str:
    return secrets.token_hex(32)


def without_identity(body: dict) -> dict:
    """The answer without what is random per case (number, PIN)."""
    return {k: v for k, v in body.items() if k not in ("case_number", "pin")}


def web_status(c: httpx.Client, number: str, pin: str) -> str:
    """The status page a person sees (real form, real CSRF cookie), with the case number taken out."""
    form = c.get("/status").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    r = c.post("/status", data={"csrf": csrf, "case_number": number, "pin": pin})
    assert r.status_code == 200, r.text[:2000]
    page = r.text.replace(number, "NUMBER").replace(pin, "PIN")
    return re.sub(r'name="csrf" value="[^"]+"', "", page)


def test_a_banked_and_uploaded_value_looks_like_a_new_one(server):
    with httpx.Client(base_url=server.url, timeout=30) as outsider, server.client(server.admin_key) as platform:
        victim = open_case(outsider, [{"signal_type": "pdq", "value": VICTIM_PDQ},
                                      {"signal_type": "md5", "value": VICTIM_MD5}])
        assert victim.status_code == 201, victim.text
        for _ in range(3):  # a platform keeps receiving the victim's image
            r = platform.post("/v1/match", json={"signal_type": "pdq", "value": VICTIM_PDQ})
            assert any(m["bank"] == "victims" for m in r.json()["matches"])

        # the outsider probes the victim's hash and a control value nobody has
        probe = open_case(outsider, [{"signal_type": "pdq", "value": VICTIM_PDQ}])
        control = open_case(outsider, [{"signal_type": "pdq", "value": fresh_pdq()}])
        assert (probe.status_code, control.status_code) == (201, 201)
        assert without_identity(probe.json()) == without_identity(control.json())
        assert probe.headers.get("content-length") == control.headers.get("content-length")

        time.sleep(2.5)  # match counts are recorded about once a second: give them every chance to show
        for _ in range(2):
            platform.post("/v1/match", json={"signal_type": "pdq", "value": VICTIM_PDQ})
        time.sleep(1.5)
        seen = []
        for case in (probe.json(), control.json()):
            r = outsider.post("/v1/cases/status", json={"case_number": case["case_number"], "pin": case["pin"]})
            assert r.status_code == 200, r.text
            seen.append(without_identity(r.json()))
        assert seen[0] == seen[1], f"the case status tells a banked value from a new one: {seen}"
        assert "matches" not in seen[0]  # live match counts of a shared hash are not the case's outcome

        # the web status page shows the same as the API: nothing that tells the two apart
        pages = [web_status(outsider, c.json()["case_number"], c.json()["pin"]) for c in (probe, control)]
        assert pages[0] == pages[1]
        assert "case-matches" not in pages[0] and "Matches so far" not in pages[0]


def test_registering_a_banked_value_takes_as_long_as_a_new_one(server):
    """Medians over interleaved registrations; generous tolerance so that noise does not fail it."""
    with httpx.Client(base_url=server.url, timeout=30) as outsider:
        assert open_case(outsider, [{"signal_type": "pdq", "value": VICTIM_PDQ}]).status_code == 201
        open_case(outsider, [{"signal_type": "pdq", "value": fresh_pdq()}])  # warm up
        banked, new, bodies = [], [], set()
        for _ in range(12):
            for value, times in ((VICTIM_PDQ, banked), (fresh_pdq(), new)):
                start = time.perf_counter()
                r = open_case(outsider, [{"signal_type": "pdq", "value": value}])
                times.append(time.perf_counter() - start)
                assert r.status_code == 201, r.text
                bodies.add(tuple(sorted(without_identity(r.json()).items())))
        assert len(bodies) == 1  # every answer the same but for number and PIN
        m_banked, m_new = statistics.median(banked), statistics.median(new)
        assert abs(m_banked - m_new) <= max(0.010, 0.25 * min(m_banked, m_new)), (m_banked, m_new)
