"""Break-in: registering marks in another tenant's bank, with a match-only key, or with hostile
files; and seeing another tenant's marks in one's own uploads. Real HTTP against a live server on
SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.derivative_scenes import jpeg, scene
from tests.integration.test_api import make_bank, new_key
from tests.marks_scenes import paste, photo, png, text_mark

MARK = text_mark("NUDIFY")


@pytest.fixture(scope="module")
def tenants(server):
    """Tenant A (bank:write + match) owns a private bank with one mark; tenant B has its own keys."""
    a = new_key(server, "marks-a", "bank:write", "match")
    with server.client(a) as c:
        bank = make_bank(c)
        r = c.post(f"/v1/banks/{bank}/marks", files={"file": ("logo.png", png(MARK))}, data={"label": "a's mark"})
        assert r.status_code == 201, r.text
    return {"a": a, "a_match": new_key(server, "marks-a", "match"), "b": new_key(server, "marks-b", "bank:write", "match"),
            "bank": bank, "signal_id": r.json()["signal_id"]}


def marked_upload() -> bytes:
    return jpeg(paste(photo(51), MARK, 200, 200, scale=0.6, opacity=0.8)[0], 85)


def test_another_tenants_bank_is_not_found_and_nothing_is_stored(server, tenants):
    with server.client(tenants["b"]) as c:
        r = c.post(f"/v1/banks/{tenants['bank']}/marks", files={"file": ("x.png", png(text_mark("EVIL")))},
                   data={"label": "planted"})
        assert r.status_code == 404, r.text
        assert "planted" not in r.text
    with server.client(tenants["a"]) as c:  # a's bank still holds only a's mark: nothing planted
        out = c.post("/v1/match/media", files={"file": ("u.jpg", jpeg(paste(scene(52), text_mark("EVIL"), 100, 100)[0]))})
        assert out.status_code == 200 and out.json().get("marks", []) == []


def test_a_match_only_key_cannot_register_marks(server, tenants):
    with server.client(tenants["a_match"]) as c:
        r = c.post(f"/v1/banks/{tenants['bank']}/marks", files={"file": ("x.png", png(MARK))}, data={"label": "x"})
        assert r.status_code == 403 and "bank:write" in r.json()["error"]["message"]
        found = c.post("/v1/match/media", files={"file": ("u.jpg", marked_upload())}).json()  # matching still works
        assert [m["signal_id"] for m in found["marks"]] == [tenants["signal_id"]]


def test_another_tenants_private_marks_are_not_reported(server, tenants):
    with server.client(tenants["b"]) as c:
        out = c.post("/v1/match/media", files={"file": ("u.jpg", marked_upload())})
        assert out.status_code == 200 and out.json().get("marks", []) == []
        assert "a's mark" not in out.text


@pytest.mark.parametrize("data, status", [
    (b"", 422), (b"GIF89a" + b"\x00" * 20, 422), (b"<svg xmlns='http://www.w3.org/2000/svg'/>", 422),
    (png(MARK)[:200], 422),
])
def test_hostile_mark_files_are_refused(server, tenants, data, status):
    with server.client(tenants["a"]) as c:
        r = c.post(f"/v1/banks/{tenants['bank']}/marks", files={"file": ("x.png", data)}, data={"label": "x"})
        assert r.status_code == status, (r.status_code, r.text)
        assert r.json()["error"]["message"]


def test_a_mark_file_declaring_a_huge_size_is_refused_before_decoding(server, tenants):
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 6, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b"")
    with server.client(tenants["a"]) as c:
        r = c.post(f"/v1/banks/{tenants['bank']}/marks", files={"file": ("bomb.png", bomb)}, data={"label": "x"})
        assert r.status_code == 413 and "pixels" in r.json()["error"]["message"]
