"""Derivative protection end to end: photos registered over real HTTP (SQLite and real PostgreSQL),
uploads checked through /v1/match/media, the CLI's ``protect add`` and ``check --json``, and
signatures withdrawn with a person's case. Images are synthetic scenes (tests/derivative_scenes.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ncii_shield.services.banks import SignalInput
from tests.derivative_scenes import edit, jpeg, reshared, scene
from tests.integration.test_api import make_bank, new_key
from tests.servers import cli

BOX = (250, 150, 300, 250)


@pytest.fixture(scope="module")
def org_key(server):
    return new_key(server, "support-org", "bank:write", "match")


@pytest.fixture(scope="module")
def platform_key(server):
    return new_key(server, "platform", "match")


def little_detail(seed: int) -> np.ndarray:
    """A plain backdrop with one detailed part (14 % of the area): protected, with a warning."""
    image = np.full((600, 800, 3), 120, np.uint8)
    image[200:440, 280:560] = scene(seed)[200:440, 280:560]
    return image


def register(client, bank: str, files: list[tuple[str, bytes]]):
    return client.post(f"/v1/banks/{bank}/photos", files=[("files", (n, d, "image/jpeg")) for n, d in files])


def check(client, data: bytes) -> dict:
    r = client.post("/v1/match/media", files={"file": ("upload.jpg", data)})
    assert r.status_code == 200, r.text
    return r.json()


def test_register_check_withdraw_over_http(server, org_key):
    with server.client(org_key) as c:
        bank = make_bank(c)
        r = register(c, bank, [("a.jpg", jpeg(scene(11))), ("b.jpg", jpeg(scene(12))),
                               ("flat.png", jpeg(np.full((500, 700, 3), 90, np.uint8))),
                               ("broken.jpg", jpeg(scene(13))[:900]), ("junk.jpg", b"not a photo"),
                               ("detail.jpg", jpeg(little_detail(14)))])
        assert r.status_code == 201, r.text
        photos = r.json()["photos"]
        assert [p["status"] for p in photos] == ["registered", "registered", "too_plain", "error", "error", "registered"]
        assert "too little detail" in photos[2]["reason"] and photos[3]["reason"] and photos[4]["reason"]
        assert photos[0].get("warning") is None and photos[5]["warning"].startswith("protected, but")
        signal_a = photos[0]["signal_id"]

        # an edited derivative (mirrored, cropped, shrunk, watermarked, JPEG 60) of photo a
        derivative = jpeg(reshared("chain", edit("flat", scene(11), BOX)), 60)
        out = check(c, derivative)
        assert [(d["bank"], d["signal_id"]) for d in out["derivatives"]] == [(bank, signal_a)]
        flag = out["derivatives"][0]
        assert flag["mirrored"] and 0 < flag["score"] <= 100
        x, y, w, h = flag["edited_region"]
        assert x <= BOX[0] + 40 and y <= BOX[1] + 40 and x + w >= BOX[0] + BOX[2] - 40 and y + h >= BOX[1] + BOX[3] - 40
        assert "hashes" in out and "pdq" in out["hashes"]  # the existing response is unchanged

        # an unedited re-share is a match of signal type "derivative", not a flag
        out = check(c, jpeg(reshared("screenshot", scene(12)), 80))
        assert out["derivatives"] == []
        assert [(m["signal_type"], m["bank"]) for m in out["matches"]] == [("derivative", bank)]

        # unrelated, and a second shot of the same scene: nothing
        assert check(c, jpeg(scene(14)))["derivatives"] == []
        second = check(c, jpeg(scene(11, moved=True)))
        assert second["derivatives"] == []

        # re-registering is idempotent; withdrawal stops the flags at once
        again = register(c, bank, [("a.jpg", jpeg(scene(11)))]).json()["photos"]
        assert again[0]["signal_id"] == signal_a
        assert c.delete(f"/v1/banks/{bank}/signals/{signal_a}").status_code == 204
        assert check(c, derivative)["derivatives"] == []


def test_scopes_and_tenants(server, org_key, platform_key):
    with server.client(org_key) as c:
        bank = make_bank(c)
        assert register(c, bank, [("a.jpg", jpeg(scene(21)))]).status_code == 201
        assert register(c, "no-such-bank", [("a.jpg", jpeg(scene(21)))]).status_code == 404
        assert register(c, bank, []).status_code == 422
    derivative = jpeg(edit("noise", scene(21), BOX))
    with server.client(platform_key) as p:
        assert register(p, bank, [("a.jpg", jpeg(scene(21)))]).status_code == 403  # match-only key
        assert check(p, derivative)["derivatives"] == []  # another tenant's private bank
    with server.client(org_key) as c:
        assert c.patch(f"/v1/banks/{bank}", json={"shared": True}).status_code == 200
    with server.client(platform_key) as p:
        flags = check(p, derivative)["derivatives"]
        assert [(f["bank"], f["shared"]) for f in flags] == [(bank, True)]
    with server.client() as anonymous:
        assert register(anonymous, bank, [("a.jpg", jpeg(scene(21)))]).status_code == 401


def test_signature_strings_cannot_be_matched_as_hashes(server, org_key):
    from ncii_shield.signals.derivative.signal import DerivativeSignal

    with server.client(org_key) as c:
        r = c.post("/v1/match", json={"signal_type": "derivative", "value": DerivativeSignal.examples[0]})
        assert r.status_code == 422 and "check the photo" in r.text
        r = c.post(f"/v1/banks/{make_bank(c)}/signals", json={"signal_type": "derivative", "value": "d1:@@@"})
        assert r.status_code == 422 and "derivative signature" in r.text


def test_openapi_documents_the_new_route(server):
    with server.client() as c:
        spec = c.get("/openapi.json").json()
    assert "/v1/banks/{bank}/photos" in spec["paths"]
    assert "derivatives" in spec["components"]["schemas"]["MediaMatchOut"]["properties"]


def test_cli_protect_add_and_check_json(tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    (tmp_path / "me.jpg").write_bytes(jpeg(scene(31)))
    (tmp_path / "plain.jpg").write_bytes(jpeg(np.full((400, 400, 3), 200, np.uint8)))
    (tmp_path / "fake.jpg").write_bytes(jpeg(reshared("rotate", edit("blur", scene(31), BOX)), 75))
    (tmp_path / "other.jpg").write_bytes(jpeg(scene(32)))
    added = cli("protect", "add", str(tmp_path / "me.jpg"), str(tmp_path / "plain.jpg"), "--bank", "mine",
                "--db", db, "--json")
    assert added.returncode == 4, added.stderr  # one photo too plain
    rows = [json.loads(line) for line in added.stdout.splitlines()]
    assert [r["status"] for r in rows] == ["registered", "too_plain"]
    checked = cli("check", str(tmp_path / "fake.jpg"), str(tmp_path / "other.jpg"), "--db", db, "--json")
    assert checked.returncode == 3, checked.stderr
    fake, other = [json.loads(line) for line in checked.stdout.splitlines()]
    assert fake["path"].endswith("fake.jpg") and fake["matches"] == []
    assert [(d["bank"], d["signal_id"]) for d in fake["derivatives"]] == [("mine", rows[0]["signal_id"])]
    assert set(fake["derivatives"][0]) >= {"bank", "signal_id", "score", "edited_region"}
    assert other.pop("provenance", {"ai_generated": None})["ai_generated"] is None  # a plain photo: nothing known
    assert other.pop("nudity", {"sexual": False})["sexual"] is False  # the optional classifier, where installed
    assert set(other.pop("skipped", {})) <= {"likeness", "nudity", "marks", "provenance"}  # optional detectors
    assert other == {"path": str(tmp_path / "other.jpg"), "matches": [], "derivatives": [],
                     "review": {"queue": False, "kind": "match", "priority": 0, "reasons": [], "recommended": "none"}}
    missing = cli("check", str(tmp_path / "nope.jpg"), "--db", db, "--json")
    assert missing.returncode == 1 and "error" in json.loads(missing.stdout)


def test_signatures_are_withdrawn_with_the_case(db_url):
    from ncii_shield.core import Shield
    from ncii_shield.services.cases import OPERATOR_TENANT
    from ncii_shield.services.derivatives import signature_of

    shield = Shield.open(db_url)
    try:
        value = signature_of(jpeg(scene(41))).value
        case = shield.cases.open_case([SignalInput("derivative", value)], age="adult", consent=True)
        operator = shield.local_principal(OPERATOR_TENANT, ("match",))  # owns the victims' bank
        fake = jpeg(edit("patch", scene(41), BOX))
        assert len(shield.uploads.check(operator, fake).derivatives) == 1
        fresh = Shield.open(db_url)  # another replica: builds its index from the store's snapshot
        try:
            flags = fresh.uploads.check(fresh.local_principal(OPERATOR_TENANT, ("match",)), fake).derivatives
            assert len(flags) == 1 and fresh.follower.indexes["derivative"]._values == {}  # signatures stay in the store
        finally:
            fresh.close()
        shield.cases.withdraw(case.case_number, case.pin)
        shield.follower.catch_up()
        assert shield.uploads.check(operator, fake).derivatives == []
    finally:
        shield.close()


def test_person_registers_photos_into_their_case_over_http(server):
    pdq = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    with server.client() as anonymous:
        r = anonymous.post("/v1/cases", json={"signals": [{"signal_type": "pdq", "value": pdq}],
                                              "age": "adult", "consent": True})
        assert r.status_code == 201, r.text
        case = r.json()
        files = [("files", ("me.jpg", jpeg(scene(51)), "image/jpeg")), ("files", ("x.jpg", b"junk", "image/jpeg"))]
        wrong = anonymous.post("/v1/cases/photos", data={"case_number": case["case_number"], "pin": "00000000"},
                               files=files)
        assert wrong.status_code == 403
        r = anonymous.post("/v1/cases/photos", data={"case_number": case["case_number"], "pin": case["pin"]},
                           files=files)
        assert r.status_code == 201, r.text
        assert [p["status"] for p in r.json()["photos"]] == ["registered", "error"]
        status = anonymous.post("/v1/cases/status", json={"case_number": case["case_number"], "pin": case["pin"]})
        assert status.json()["hashes"] == 2
    fake = jpeg(edit("inpaint", scene(51), BOX))
    with server.client(server.admin_key) as operator:  # the operator tenant owns the victims' bank
        assert len(check(operator, fake)["derivatives"]) == 1
        with server.client() as anonymous:
            assert anonymous.post("/v1/cases/withdraw", json={"case_number": case["case_number"],
                                                              "pin": case["pin"]}).status_code == 200
        assert check(operator, fake)["derivatives"] == []


def test_review_true_queues_a_flag_for_a_moderator(server, org_key):
    """/v1/match/media?review=true&content_id=...: an edited derivative becomes one review queue item
    (kind derivative, with the flag in its details); nothing to review makes no item."""
    reviewer = new_key(server, "support-org", "reviewer")
    with server.client(org_key) as c:
        bank = make_bank(c)
        signal = register(c, bank, [("a.jpg", jpeg(scene(31)))]).json()["photos"][0]["signal_id"]
        derivative = jpeg(edit("noise", scene(31), BOX))
        r = c.post("/v1/match/media", params={"review": "true"}, files={"file": ("upload.jpg", derivative)})
        assert r.status_code == 422 and "needs content_id" in r.text  # nothing to point a moderator at
        r = c.post("/v1/match/media", params={"review": "true", "content_id": "upload-31"},
                   files={"file": ("upload.jpg", derivative)})
        assert r.status_code == 200, r.text
        out = r.json()
        assert [f["signal_id"] for f in out["derivatives"]] == [signal] and out["review_item"] is not None
        unrelated = c.post("/v1/match/media", params={"review": "true", "content_id": "upload-32"},
                           files={"file": ("upload.jpg", jpeg(scene(32)))}).json()
        assert unrelated["derivatives"] == [] and unrelated["matches"] == [] and unrelated["review_item"] is None
        plain = check(c, derivative)  # without review=true nothing is queued
        assert plain["review_item"] is None
    with server.client(reviewer) as moderator:
        item = moderator.get(f"/v1/review/items/{out['review_item']}").json()
        assert item["kind"] == "derivative" and item["content_id"] == "upload-31" and item["status"] == "open"
        assert [f["signal_id"] for f in item["details"]["derivatives"]] == [signal] and bank in item["summary"]
        queued = [i["content_id"] for i in moderator.get("/v1/review/queue").json()["items"]]
        assert "upload-31" in queued and "upload-32" not in queued
