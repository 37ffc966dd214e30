"""HMA drop-in (issue 22, item 3): an HMA-style client against a live ``ncii-shield serve``.

The client is what a script written for HMA 2.0 (OpenMediaMatch) does: create a bank, add a signal,
look it up with ``/m/lookup`` and ``/m/raw_lookup``, read and delete the content. The expected answers
are written from HMA's source (facebook/ThreatExchange at baefb4ed, hasher-matcher-actioner/src/
OpenMediaMatch/...), each citing the file and function it comes from; the only change to the client is
the ``Authorization`` header HMA does not have. Real HTTP on loopback, SQLite and PostgreSQL. The
photo's hash is checked against python-threatexchange's own ``PdqSignal.hash_from_file``, which is
what HMA's ``/h/hash`` runs.
"""

from __future__ import annotations

import pytest

from tests.conftest import ORIGINAL_JPG

BANK = "HMA_TEST_BANK"
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def near(value: str, bits: int) -> str:
    """``value`` with its lowest ``bits`` bits flipped."""
    n = int(value, 16) ^ ((1 << bits) - 1)
    return f"{n:064x}"


@pytest.fixture(scope="module")
def hma(server):
    """An HMA client (base URL + JSON), plus the one header ncii-shield needs."""
    with server.client(server.admin_key) as client:
        yield client


def test_bank_create_list_show(hma):
    # blueprints/curation.py bank_create: 201 with jsonify(StoreBankConfig(name, matching_enabled_ratio))
    created = hma.post("/c/banks", json={"name": BANK})
    assert created.status_code == 201, created.text
    assert created.json() == {"name": BANK, "matching_enabled_ratio": 1.0}
    # bank_create_impl: IntegrityError -> abort(403, "Bank already exists"); flask_utils.api_error_handler
    # renders every abort as {"message": description}
    again = hma.post("/c/banks", json={"name": BANK})
    assert (again.status_code, again.json()) == (403, {"message": "Bank already exists"})
    # storage/postgres/database.py Bank.validate_name -> ValueError -> abort(400, *e.args)
    bad = hma.post("/c/banks", json={"name": "lower_case"})
    assert (bad.status_code, bad.json()) == (400, {"message": "Bank names must be UPPER_WITH_UNDERSCORE"})
    # banks_index: list(storage.get_banks().values()), each a BankConfig dataclass
    listed = hma.get("/c/banks")
    assert listed.status_code == 200 and {"name": BANK, "matching_enabled_ratio": 1.0} in listed.json()
    assert all(set(b) == {"name", "matching_enabled_ratio"} for b in listed.json())
    # bank_show_by_name: jsonify(bank), or abort(404, f"bank '{bank_name}' not found")
    assert hma.get(f"/c/bank/{BANK}").json() == {"name": BANK, "matching_enabled_ratio": 1.0}
    missing = hma.get("/c/bank/NO_SUCH_BANK")
    assert (missing.status_code, missing.json()) == (404, {"message": "bank 'NO_SUCH_BANK' not found"})


def test_add_lookup_delete(hma):
    """The issue's script: add signal, /m/lookup, /m/raw_lookup, read content, delete content."""
    hma.post("/c/banks", json={"name": BANK})
    # curation.bank_add_as_signals -> _bank_add_signals: {"id": content_id, "signals": {name: value}}
    added = hma.post(f"/c/bank/{BANK}/signal", json={"pdq": PDQ, "note": "case 17"})
    assert added.status_code == 200, added.text
    body = added.json()
    assert set(body) == {"id", "signals"} and isinstance(body["id"], int)
    assert body["signals"] == {"pdq": PDQ}
    cid = body["id"]
    # _bank_add_signals: abort(400, f"No such signal type {name}") -- what our old `hma` export got
    wrong = hma.post(f"/c/bank/{BANK}/signal", json={"signals": [PDQ]})
    assert (wrong.status_code, wrong.json()) == (400, {"message": "No such signal type signals"})

    # matching.lookup_get -> lookup(): {bank: [{"bank_content_id", "distance": pretty_str()}]};
    # PDQ's pretty_str is str(int distance) (pytx SignalSimilarityInfoWithSingleDistance)
    got = hma.get("/m/lookup", params={"signal": near(PDQ, 3), "signal_type": "pdq"})
    assert got.status_code == 200, got.text
    assert got.json() == {BANK: [{"bank_content_id": cid, "distance": "3"}]}
    # banks= restricts to the named banks
    assert hma.get("/m/lookup", params={"signal": PDQ, "signal_type": "pdq", "banks": "OTHER"}).json() == {}
    # matching.raw_lookup: RawLookupResponse(matches=[ids]) or [MatchWithDistance]
    raw = hma.get("/m/raw_lookup", params={"signal": PDQ, "signal_type": "pdq"})
    assert raw.json() == {"matches": [cid]}
    raw = hma.get("/m/raw_lookup", params={"signal": PDQ, "signal_type": "pdq", "include_distance": "true"})
    assert raw.json() == {"matches": [{"bank_content_id": cid, "distance": "0"}]}
    far = hma.get("/m/raw_lookup", params={"signal": near(PDQ, 40), "signal_type": "pdq"})
    assert far.json() == {"matches": []}
    # _validate_and_transform_signal_type: abort(400, f"No such SignalType '{name}'")
    unknown = hma.get("/m/raw_lookup", params={"signal": PDQ, "signal_type": "sha1"})
    assert (unknown.status_code, unknown.json()) == (400, {"message": "No such SignalType 'sha1'"})
    # lookup_get: abort(400, "Either url or both signal and signal_type are required")
    neither = hma.get("/m/lookup")
    assert (neither.status_code, neither.json()) == (
        400, {"message": "Either url or both signal and signal_type are required"})

    # curation.bank_get_content: BankContentResponse.model_dump(by_alias=True) without the None
    # signals/metadata/note; original_media_uri stays (None)
    content = hma.get(f"/c/bank/{BANK}/content/{cid}", params={"include_signals": "true"})
    assert content.status_code == 200, content.text
    assert content.json() == {"id": cid, "disable_until_ts": 1, "original_media_uri": None,
                              "bank": {"name": BANK, "matching_enabled_ratio": 1.0},
                              "signals": {"pdq": PDQ}, "note": "case 17"}
    assert "signals" not in hma.get(f"/c/bank/{BANK}/content/{cid}").json()

    # curation.bank_delete_content: {"deleted": storage.bank_remove_content(...)} (a row count)
    deleted = hma.delete(f"/c/bank/{BANK}/content/{cid}")
    assert (deleted.status_code, deleted.json()) == (200, {"deleted": 1})
    assert hma.get("/m/lookup", params={"signal": PDQ, "signal_type": "pdq"}).json() == {}
    assert hma.get("/m/raw_lookup", params={"signal": PDQ, "signal_type": "pdq"}).json() == {"matches": []}
    gone = hma.get(f"/c/bank/{BANK}/content/{cid}")
    assert (gone.status_code, gone.json()) == (404, {"message": f"content '{cid}' not found"})
    assert hma.delete(f"/c/bank/{BANK}/content/{cid}").json() == {"deleted": 0}


def test_exact_types_compare_and_status(hma):
    hma.post("/c/banks", json={"name": BANK})
    md5 = "0123456789abcdef0123456789abcdef"
    added = hma.post(f"/c/bank/{BANK}/signal", json={"video_md5": md5})
    assert added.json()["signals"] == {"video_md5": md5}
    # exact types' similarity has no distance: pytx NO_DISTANCE_STR "-"
    assert hma.get("/m/lookup", params={"signal": md5, "signal_type": "video_md5"}).json() == {
        BANK: [{"bank_content_id": added.json()["id"], "distance": "-"}]}
    # matching.compare: CompareResponse of pytx SignalComparisonResult (a NamedTuple -> a list)
    compared = hma.post("/m/compare", json={"pdq": [PDQ, near(PDQ, 9)], "video_md5": [md5, md5]})
    assert compared.json() == {"pdq": [True, {"distance": 9}], "video_md5": [True, {}]}
    assert hma.post("/m/compare", json={"pdq": [PDQ]}).json() == {
        "message": "Comparison hash list length must be exactly 2"}
    # matching.index_status: {name: {"present", "built_to", "size"}}
    status = hma.get("/m/index/status", params={"signal_type": "video_md5"}).json()
    assert list(status) == ["video_md5"] and status["video_md5"]["present"] is True
    assert status["video_md5"]["size"] >= 1 and status["video_md5"]["built_to"] > 0
    assert hma.get("/m/index/status", params={"signal_type": "nope"}).json() == {
        "message": "No such signal type 'nope'"}


def test_photo_upload_hash_bank_and_lookup(hma):
    """/h/hash, /c/bank/<name>/content and POST /m/lookup with a photo, as HMA's multipart field
    ``photo`` (hashing.hash_media_from_form_data); the PDQ is pytx's own."""
    from threatexchange.signal_type.pdq.signal import PdqSignal

    expected = PdqSignal.hash_from_file(ORIGINAL_JPG)
    data = ORIGINAL_JPG.read_bytes()
    hashed = hma.post("/h/hash", files={"photo": ("a.jpg", data, "image/jpeg")})
    assert hashed.status_code == 200, hashed.text
    assert hashed.json() == {"pdq": expected}
    # _lookup_content_type: abort(400, f"no such content_type: '{arg}'")
    assert hma.post("/h/hash", files={"image": ("a.jpg", data, "image/jpeg")}).json() == {
        "message": "no such content_type: 'image'"}
    hma.post("/c/banks", json={"name": BANK})
    added = hma.post(f"/c/bank/{BANK}/content", files={"photo": ("a.jpg", data, "image/jpeg")})
    assert added.status_code == 200, added.text
    assert added.json()["signals"] == {"pdq": expected}
    # matching.lookup_post: {signal_type: {bank: [matches]}}
    found = hma.post("/m/lookup", files={"photo": ("a.jpg", data, "image/jpeg")})
    assert found.json() == {"pdq": {BANK: [{"bank_content_id": added.json()["id"], "distance": "0"}]}}
    # a URL is not fetched (documented): HMA's shape, 400
    refused = hma.get("/h/hash", params={"url": "http://127.0.0.1/x.jpg"})
    assert refused.status_code == 400 and "not supported" in refused.json()["message"]
