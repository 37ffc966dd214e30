"""The intake's "protect my face" step in real headless Chromium (likeness protection, issue 18).

A person with a case enrols a photo of their face (the CC0 portraits in tests/data/faces), with
JavaScript switched off, since the step is a plain form; the page says plainly that these photos are
sent, used once and dropped. An explicit upload of a re-shared copy of that face is then flagged
for the platform, and withdrawing the case through the status page stops it. Refusals (two faces in
one photo, too many photos, a wrong PIN) are shown on the page as an alert that says what to do."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("dlib", reason="likeness protection needs the [likeness] extra")

FACES = Path(__file__).resolve().parents[1] / "data" / "faces"


def portrait(name: str) -> np.ndarray:
    return np.asarray(Image.open(FACES / f"ifaces-{name}.jpg").convert("RGB"))


def jpeg(img: np.ndarray, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def reshared(name: str) -> bytes:
    """The portrait mirrored and shrunk onto a larger canvas (a screenshot someone re-shares)."""
    import cv2

    face = cv2.resize(np.ascontiguousarray(portrait(name)[:, ::-1]), (260, 260), interpolation=cv2.INTER_AREA)
    canvas = np.full((520, 400, 3), 235, np.uint8)
    canvas[120:380, 70:330] = face
    return jpeg(canvas)


def open_case(site) -> tuple[str, str]:
    import secrets

    with site.client() as c:
        r = c.post("/v1/cases", json={"signals": [{"signal_type": "pdq", "value": secrets.token_hex(32)}],
                                      "age": "adult", "consent": True})
        assert r.status_code == 201, r.text
        return r.json()["case_number"], r.json()["pin"]


def likeness_flags(site, data: bytes, explicit: bool = True) -> list[dict]:
    with site.client(site.admin_key) as api:
        r = api.post("/v1/match/media", params={"explicit": str(explicit).lower()}, files={"file": ("u.jpg", data)})
        assert r.status_code == 200, r.text
        return r.json().get("likeness") or []


@pytest.fixture
def no_js_page(browser):
    context = browser.new_context(viewport={"width": 360, "height": 800}, java_script_enabled=False)
    p = context.new_page()
    yield p
    context.close()


def fill(page, number: str, pin: str, files: list) -> None:
    page.get_by_label("Case number").fill(number)
    page.get_by_label("PIN").fill(pin)
    page.get_by_label("photos of your face").set_input_files(files)
    page.get_by_label("These photos show me").check()


def test_enrol_without_javascript_flag_then_withdraw(site, no_js_page, tmp_path: Path) -> None:
    page = no_js_page
    number, pin = open_case(site)
    page.goto(site.url + "/protect/face")
    text = page.inner_text("main")
    # it says plainly what happens to these photos, unlike the intimate ones
    assert "these photos are sent to us" in text
    assert "used once and dropped" in text
    assert "Withdrawing your case erases your face numbers too" in text
    assert "sent, used once and dropped" in page.inner_text("footer")
    assert "never leave this device: only their hashes" not in page.inner_text("footer")

    fill(page, number, pin, [str(FACES / "ifaces-009.jpg")])
    page.get_by_role("button", name="Send the photos").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Your face is protected", page.content()[:3000]
    assert page.inner_text("#face-done").startswith("1 photo used")
    assert "similarity" not in page.content()

    # an explicit upload showing that face is flagged for the platform's reviewer; not when not explicit
    deadline = time.monotonic() + 3
    while not (flags := likeness_flags(site, reshared("009"))) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(flags) == 1 and flags[0]["bank"] == "victims", flags
    assert likeness_flags(site, reshared("009"), explicit=False) == []
    assert likeness_flags(site, reshared("001")) == []  # another person

    # withdrawing the case (the status page, as a person does it) erases the face within a second
    page.goto(site.url + "/status")
    page.get_by_label("Case number").fill(number)
    page.get_by_label("PIN").fill(pin)
    page.get_by_role("button", name="Show my case").click()
    page.get_by_role("link", name="Protect my face too").wait_for()
    page.check("input[name=confirm]")
    page.click("button.danger")
    assert "withdrawn" in page.text_content("#withdrawn")
    deadline = time.monotonic() + 1.0
    while likeness_flags(site, reshared("009")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert likeness_flags(site, reshared("009")) == []

    # a withdrawn case cannot enrol again
    page.goto(site.url + "/protect/face")
    fill(page, number, pin, [str(FACES / "ifaces-009.jpg")])
    page.get_by_role("button", name="Send the photos").click()
    page.wait_for_load_state()
    assert "this case is withdrawn" in page.get_by_role("alert").inner_text()


def test_refusals_are_clear(site, page, tmp_path: Path) -> None:
    number, pin = open_case(site)
    group = tmp_path / "group.jpg"
    group.write_bytes(jpeg(np.concatenate([portrait("001"), portrait("009")], axis=1)))
    page.goto(site.url + "/protect/face")
    fill(page, number, pin, [str(FACES / "ifaces-007.jpg"), str(group)])
    page.get_by_role("button", name="Send the photos").click()
    page.wait_for_load_state()
    alert = page.get_by_role("alert").inner_text()
    assert "group.jpg: 2 faces found" in alert and "only the person enrolling" in alert, alert
    assert "choose them again" in page.inner_text("#photos-help")
    assert page.get_by_label("Case number").input_value() == number  # kept; the PIN and photos are not
    assert page.get_by_label("PIN").input_value() == ""
    assert likeness_flags(site, reshared("007")) == []  # nothing was enrolled

    many = [str(FACES / "ifaces-007.jpg")] * 6
    fill(page, number, pin, many)
    page.get_by_role("button", name="Send the photos").click()
    page.wait_for_load_state()
    assert "at most 5 photos" in page.get_by_role("alert").inner_text()

    fill(page, number, "00000000" if pin != "00000000" else "11111111", [str(FACES / "ifaces-007.jpg")])
    page.get_by_role("button", name="Send the photos").click()
    page.wait_for_load_state()
    assert "case number or PIN is not right" in page.get_by_role("alert").inner_text()

    # every field has its label (the fill() above found them by label) and the page has one h1
    assert page.locator("h1").count() == 1


from tests.e2e.test_case_proof import guessed_at_case, proof_site  # noqa: E402,F401 - a server with a low proof bar


def test_a_guessed_at_case_enrols_after_the_browser_proof(proof_site, page) -> None:  # noqa: F811
    """A case whose free wrong PINs for today were spent elsewhere: the face step, like the status
    page, asks the browser for a proof of work (static/face.js), then enrols with the right PIN."""
    case = guessed_at_case(proof_site)
    page.goto(proof_site.url + "/protect/face")
    fill(page, case["case_number"], case["pin"], [str(FACES / "ifaces-009.jpg")])
    page.get_by_role("button", name="Send the photos").click()
    page.wait_for_load_state()
    alert = page.get_by_role("alert").inner_text()
    assert "your browser must do some work" in alert and "choose the photos again" in alert, alert
    assert page.locator("#face-form[data-proof-bits]").count() == 1
    fill(page, case["case_number"], case["pin"], [str(FACES / "ifaces-009.jpg")])
    with page.expect_navigation(timeout=60_000):
        page.get_by_role("button", name="Send the photos").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Your face is protected", page.content()[:2000]
