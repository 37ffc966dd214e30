"""The slower path to a guessed-at case, in real headless Chromium (issue 17, finding 6).

After a case's free wrong PINs for the day are spent (by guessers at other addresses), a PIN is
checked only with a proof of work that the status page computes in the browser (static/proof.js, a
SHA-256 written in JavaScript). These tests drive that page: the server asks for the proof, the
page says what it is doing, computes it, and the case opens for the right PIN; a wrong PIN with a
valid proof is still refused, and the page keeps the proof path for the next try.

The server runs with a low difficulty (12 bits, a few thousand hashes) so the tests take seconds;
the JavaScript hash rate measured here is printed with what it means at the default 20 bits.
Other client addresses are other loopback addresses (127.0.x.1), as in tests/security."""

from __future__ import annotations

import json
import re
import secrets

import httpx
import pytest

from ncii_shield.services.pin_guard import PinPolicy, proof_ok
from tests.servers import start_server

FREE, BITS = 3, 12

# Recorded in the page at each form.submit() (what proof.js calls once the proof is found): whether
# the "working" sentence was shown, the proof sent, and how long since the person pressed the button.
# sessionStorage survives the navigation that the submit starts.
HOOK = """
window.addEventListener("submit", () => { window.__pressed = performance.now(); }, true);
const original = HTMLFormElement.prototype.submit;
HTMLFormElement.prototype.submit = function () {
  const progress = document.getElementById("proof-progress");
  const button = this.querySelector("button[type=submit]");
  sessionStorage.setItem("proof-submit", JSON.stringify({
    ms: performance.now() - (window.__pressed ?? performance.now()),
    solve_ms: Number(this.dataset.proofMs ?? NaN),
    proof: this.querySelector("[name=proof]")?.value ?? "",
    shown: !!progress && !progress.hidden && getComputedStyle(progress).display !== "none",
    text: progress ? progress.textContent.trim() : "",
    live: progress ? progress.getAttribute("aria-live") || progress.getAttribute("role") : null,
    button_disabled: !!button && button.disabled,
  }));
  return original.call(this);
};
"""


@pytest.fixture(scope="module")
def proof_site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("proof-site")
    server = start_server(f"sqlite:///{tmp / 'p.db'}", tmp, extra=("--data-dir", str(tmp)),
                          env={"NCII_SHIELD_CASE_FREE_FAILURES_PER_DAY": str(FREE),
                               "NCII_SHIELD_CASE_MAX_FAILURES_PER_DAY": "100",
                               "NCII_SHIELD_CASE_POW_BITS": str(BITS),
                               "NCII_SHIELD_CASE_BURST": "100000", "NCII_SHIELD_CASE_RATE": "1000"})
    yield server
    server.stop()


_addresses = iter(range(20, 250))


def client_at(server) -> httpx.Client:
    """A client of its own loopback address: another machine to the server (the browser is 127.0.0.1)."""
    return httpx.Client(base_url=server.url, timeout=60,
                        transport=httpx.HTTPTransport(local_address=f"127.0.{next(_addresses)}.1"))


def wrong_pin(right: str) -> str:
    while (pin := f"{secrets.randbelow(10**8):08d}") == right:
        pass
    return pin


def guessed_at_case(server) -> dict:
    """A new case whose free wrong PINs for today were spent by guessers elsewhere."""
    with client_at(server) as owner:
        r = owner.post("/v1/cases", json={"signals": [{"signal_type": "pdq", "value": secrets.token_hex(32)}],
                                          "age": "adult", "consent": True})
        assert r.status_code == 201, r.text
        case = r.json()
    auth = {"case_number": case["case_number"]}
    with client_at(server) as guesser:
        for _ in range(FREE):
            assert guesser.post("/v1/cases/status", json={**auth, "pin": wrong_pin(case["pin"])}).status_code == 403
    with client_at(server) as elsewhere:  # now every PIN, the right one too, needs a proof
        r = elsewhere.post("/v1/cases/status", json={**auth, "pin": case["pin"]})
        assert r.status_code == 429 and "proof" in r.json()["error"]["message"], r.text
    return case


def press(page, pin: str, case_number: str | None = None) -> None:
    if case_number is not None:
        page.fill("#case_number", case_number)
    page.fill("#pin", pin)
    with page.expect_navigation(timeout=20_000):
        page.click("button[type=submit]")


def submitted(page) -> dict:
    record = page.evaluate("sessionStorage.getItem('proof-submit')")
    assert record, "proof.js did not submit the form"
    page.evaluate("sessionStorage.removeItem('proof-submit')")
    return json.loads(record)


def asked_for_proof(page) -> None:
    """The page the server answers with when a proof is needed: it says so, and will compute one."""
    assert page.get_attribute("#status-form", "data-proof-bits") == str(BITS), page.content()[:3000]
    assert "browser must do some work" in page.text_content("[role=alert]")


def test_the_status_page_computes_the_proof_and_the_case_opens(proof_site, page):
    case = guessed_at_case(proof_site)
    page.add_init_script(HOOK)
    page.goto(proof_site.url + "/status")
    press(page, case["pin"], case["case_number"])  # no proof yet: the server asks for one
    asked_for_proof(page)
    assert page.input_value("#case_number") == case["case_number"]  # kept: only the PIN is typed again
    press(page, case["pin"])
    sent = submitted(page)

    assert page.locator("#case-status").count() == 1, page.content()[:3000]
    assert page.text_content("#case-status").startswith("Active")
    assert int(page.text_content("#case-hashes")) == 1
    # the proof JavaScript computed is the one the server documents (checked here in Python)
    assert proof_ok(case["case_number"], case["pin"], sent["proof"], BITS)
    # while it worked, the page said so in a sentence (to screen readers too), and the button waited
    assert sent["solve_ms"] >= 0 and sent["ms"] >= sent["solve_ms"], sent  # proof.js reports its time
    assert sent["shown"] and re.search(r"\bbrowser\b.*\bseconds?\b", sent["text"], re.S), sent
    assert sent["live"], sent
    assert sent["button_disabled"], sent
    default_bits = PinPolicy().bits
    print(f"\nproof of work in Chromium: {BITS} bits, {int(sent['proof']) + 1} hashes in {sent['solve_ms']:.0f} ms, "
          f"{sent['ms']:.0f} ms from the press to the submit")
    # the same solver at the default difficulty's rate: 16-bit proofs for half a second, timed in the page
    rate = page.evaluate("""async () => {
      const { solve } = await import("/static/proof.js");
      let hashes = 0, i = 0; const t0 = performance.now();
      while (performance.now() - t0 < 500 || i < 4) hashes += Number(solve(`ncii-shield-pin:NC-0000-0000-0000-0000:${i++}:2026-01-01:`, 16)) + 1;
      return hashes / (performance.now() - t0) * 1000;
    }""")
    print(f"proof.js in Chromium: {rate:,.0f} hashes/s; at the default {default_bits} bits (about "
          f"{2 ** default_bits:,} hashes) about {2 ** default_bits / rate:.1f} s on average on this machine")

    # the withdrawal form on the case page carries the proof: the case can be withdrawn from here
    page.check("input[name=confirm]")
    with page.expect_navigation():
        page.click("button.danger")
    assert "withdrawn" in page.text_content("#withdrawn")


def test_a_wrong_pin_with_a_valid_proof_is_refused_and_the_next_try_still_computes_one(proof_site, page):
    case = guessed_at_case(proof_site)
    page.add_init_script(HOOK)
    page.goto(proof_site.url + "/status")
    # typed as a person might: lower case, spaces, O for 0 and l for 1; the page normalises as the server does
    typed = case["case_number"].lower().replace("-", " ").replace("0", "o").replace("1", "l")
    press(page, case["pin"], typed)
    asked_for_proof(page)

    bad = wrong_pin(case["pin"]) + "12345"  # 13 digits: the text fills whole blocks (proof.js's other branch)
    press(page, bad)
    sent = submitted(page)
    assert proof_ok(case["case_number"], bad, sent["proof"], BITS)  # a valid proof, for the wrong PIN...
    assert page.locator("#case-status").count() == 0
    assert "not right" in page.text_content("[role=alert]"), page.content()[:3000]  # ...is refused as wrong
    # the next try still computes a proof: the right PIN opens the case at once, not after another round
    assert page.get_attribute("#status-form", "data-proof-bits") == str(BITS), page.content()[:3000]
    press(page, case["pin"])
    sent = submitted(page)
    assert proof_ok(case["case_number"], case["pin"], sent["proof"], BITS)
    assert page.locator("#case-status").count() == 1, page.content()[:3000]
    assert case["pin"] not in proof_site.log()
