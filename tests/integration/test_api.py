"""The matcher service over real HTTP on loopback, on SQLite and on real PostgreSQL."""

from __future__ import annotations

import io
import uuid

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ORIGINAL_JPG, encode
from tests.servers import LiveServer, cli, start_server

BASE = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def flip_bits(value: str, count: int, seed: int = 0) -> str:
    number = int(value, 16)
    for bit in np.random.default_rng(seed).choice(256, count, replace=False):
        number ^= 1 << int(bit)
    return f"{number:064x}"


def new_key(server: LiveServer, tenant: str, *scopes: str) -> str:
    args = ["keys", "create", "--db", server.db_url, "--tenant", tenant]
    for s in scopes:
        args += ["--scope", s]
    proc = cli(*args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()[-1]  # the key is the last word of the output


@pytest.fixture(scope="module")
def tenant_a(server):
    return new_key(server, "tenant-a", "bank:write", "match")


@pytest.fixture(scope="module")
def tenant_b(server):
    return new_key(server, "tenant-b", "bank:write", "match")


def bank_name() -> str:
    return f"bank-{uuid.uuid4().hex[:8]}"


def make_bank(client, name: str | None = None) -> str:
    name = name or bank_name()
    r = client.post("/v1/banks", json={"name": name})
    assert r.status_code == 201, r.text
    return name


def pdq_matches(client, value: str) -> list[dict]:
    r = client.post("/v1/match", json={"signal_type": "pdq", "value": value})
    assert r.status_code == 200, r.text
    return r.json()["matches"]


def test_first_start_created_an_admin_key_outside_the_log(server):
    assert server.admin_key and server.admin_key.startswith("nsk_")
    assert server.admin_key not in server.log()  # no terminal: written to a 0600 file, never logged


def test_add_match_near_not_far_then_withdraw(server, tenant_a):
    with server.client(tenant_a) as c:
        bank = make_bank(c)
        r = c.post(f"/v1/banks/{bank}/signals", json={"signal_type": "pdq", "value": BASE, "metadata": {"case": "x"}})
        assert r.status_code == 201, r.text
        signal_id = r.json()["signals"][0]["id"]
        near = pdq_matches(c, flip_bits(BASE, 10))
        assert [(m["bank"], m["signal_id"], m["distance"]) for m in near] == [(bank, signal_id, 10)]
        assert pdq_matches(c, flip_bits(BASE, 60)) == []
        assert c.delete(f"/v1/banks/{bank}/signals/{signal_id}").status_code == 204
        assert pdq_matches(c, BASE) == []
        assert c.delete(f"/v1/banks/{bank}/signals/{signal_id}").status_code == 204  # idempotent
        got = c.get(f"/v1/banks/{bank}/signals/{signal_id}").json()
        assert got["withdrawn_at"] and got["metadata"] == {"case": "x"}


def test_bulk_add_is_idempotent_and_batched_lookup(server, tenant_a):
    values = [f"{i:064x}" for i in range(1, 10_001)]
    with server.client(tenant_a) as c:
        bank = make_bank(c)
        body = {"signals": [{"signal_type": "md5" if i % 2 else "sha256", "value": v[-32:] if i % 2 else v}
                            for i, v in enumerate(values)]}
        first = c.post(f"/v1/banks/{bank}/signals", json=body)
        assert first.status_code == 201, first.text
        assert all(s["created"] for s in first.json()["signals"])
        again = c.post(f"/v1/banks/{bank}/signals", json=body)
        assert [s["id"] for s in again.json()["signals"]] == [s["id"] for s in first.json()["signals"]]
        assert not any(s["created"] for s in again.json()["signals"])
        listed = {b["name"]: b["signals"] for b in c.get("/v1/banks").json()["banks"]}
        assert listed[bank] == 10_000
        query = {"signals": [{"signal_type": "sha256", "value": values[0]}, {"signal_type": "md5", "value": values[1][-32:]},
                             {"signal_type": "md5", "value": "0" * 32}]}
        matches = c.post("/v1/match", json=query).json()["matches"]
        assert sorted(m["query"] for m in matches) == [0, 1]


def test_a_plain_batch_and_the_same_batch_through_the_model_answer_alike(server, tenant_a):
    """The usual batch shape is read without a model per query; give one query a (null) metadata
    field and the request goes through MatchIn instead. Both must give the same matches, every field."""
    with server.client(tenant_a) as c:
        bank = make_bank(c)
        stored = [flip_bits(BASE, 100, seed) for seed in range(5)]
        c.post(f"/v1/banks/{bank}/signals", json={"signals": [{"signal_type": "pdq", "value": v} for v in stored]})
        queries = [{"signal_type": "pdq", "value": flip_bits(v, d, d)} for v in stored for d in (0, 12, 31, 40)]
        queries.append({"signal_type": "md5", "value": "F" * 32})
        plain = c.post("/v1/match", json={"signals": queries})
        modelled = c.post("/v1/match", json={"signals": [{**queries[0], "metadata": None}, *queries[1:]]})
        assert plain.status_code == modelled.status_code == 200
        assert plain.headers["content-type"] == "application/json"
        assert plain.json() == modelled.json()
        found = plain.json()["matches"]
        assert sorted(m["query"] for m in found) == [i for i in range(20) if i % 4 != 3]
        assert set(found[0]) == {"query", "bank", "signal_id", "signal_type", "distance", "shared", "variant",
                                 "query_share", "compared_share"}


def test_tenant_isolation(server, tenant_a, tenant_b):
    with server.client(tenant_a) as a, server.client(tenant_b) as b:
        bank = make_bank(a)
        signal_id = a.post(f"/v1/banks/{bank}/signals", json={"signal_type": "pdq", "value": BASE}).json()["signals"][0]["id"]
        # B cannot see, read, write, withdraw or match A's bank
        assert bank not in [x["name"] for x in b.get("/v1/banks").json()["banks"]]
        assert b.get(f"/v1/banks/{bank}/signals/{signal_id}").status_code == 404
        assert b.delete(f"/v1/banks/{bank}/signals/{signal_id}").status_code == 404
        assert b.post(f"/v1/banks/{bank}/signals", json={"signal_type": "pdq", "value": BASE}).status_code == 404
        assert b.patch(f"/v1/banks/{bank}", json={"enabled": False}).status_code == 404
        assert all(m["bank"] != bank for m in pdq_matches(b, BASE))
        # B's own bank of the same name is a different bank
        make_bank(b, bank)
        assert b.delete(f"/v1/banks/{bank}/signals/{signal_id}").status_code == 404
        assert [m["signal_id"] for m in pdq_matches(a, BASE) if m["bank"] == bank] == [signal_id]
        # once A shares the bank, B's keys match against it (and only match)
        assert a.patch(f"/v1/banks/{bank}", json={"shared": True}).status_code == 200
        shared = [m for m in pdq_matches(b, BASE) if m["signal_id"] == signal_id]
        assert shared and shared[0]["shared"] is True
        assert b.delete(f"/v1/banks/{bank}/signals/{signal_id}").status_code == 404
        # a disabled bank matches nothing
        assert a.patch(f"/v1/banks/{bank}", json={"enabled": False}).status_code == 200
        assert all(m["signal_id"] != signal_id for m in pdq_matches(a, BASE))


def test_scopes(server, tenant_a):
    match_only = new_key(server, "tenant-a", "match")
    writer_only = new_key(server, "tenant-a", "bank:write")
    with server.client(tenant_a) as a, server.client(match_only) as m, server.client(writer_only) as w:
        bank = make_bank(a)
        r = m.post(f"/v1/banks/{bank}/signals", json={"signal_type": "pdq", "value": BASE})
        assert r.status_code == 403 and "bank:write" in r.json()["error"]["message"]
        assert m.post("/v1/banks", json={"name": bank_name()}).status_code == 403
        assert m.delete(f"/v1/banks/{bank}/signals/1").status_code == 403
        assert w.post("/v1/match", json={"signal_type": "pdq", "value": BASE}).status_code == 403
        assert m.post("/v1/match", json={"signal_type": "pdq", "value": BASE}).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"},
                                     {"Authorization": "Bearer nsk_0123456789_wrongsecretwrongsecret"}, {"Authorization": "Basic x"}])
def test_authentication_required(server, headers):
    import httpx

    r = httpx.post(server.url + "/v1/match", json={"signal_type": "pdq", "value": BASE}, headers=headers)
    assert r.status_code == 401 and r.json()["error"]["type"] == "Unauthenticated"
    assert httpx.get(server.url + "/v1/banks", headers=headers).status_code == 401


def test_wrong_secret_for_a_real_prefix_is_refused(server, tenant_a):
    prefix = tenant_a.split("_")[1]
    with server.client(f"nsk_{prefix}_{'x' * 32}") as c:
        assert c.get("/v1/banks").status_code == 401


@pytest.mark.parametrize("body,needle", [
    ({"signal_type": "pdq", "value": "abc"}, "64 hexadecimal"),
    ({"signal_type": "pdq", "value": "g" * 64}, "64 hexadecimal"),
    ({"signal_type": "phash", "value": BASE}, "accepted: pdq, vpdq, md5, sha256"),
    ({"signal_type": "md5", "value": BASE}, "32 hexadecimal"),
    ({"signal_type": "vpdq", "value": "[1,2]"}, "vPDQ"),
    ({"signal_type": "pdq"}, "both"),
    ({"signal_type": "pdq", "value": BASE, "signals": []}, "either"),
    ({"signals": [{"signal_type": "pdq", "value": BASE}, {"signal_type": "pdq", "value": "x"}]}, "signals[1]"),
    # batches are checked per signal type, but the error still names the first bad query
    ({"signals": [{"signal_type": "pdq", "value": BASE}, {"signal_type": "md5", "value": "0" * 31},
                  {"signal_type": "pdq", "value": BASE[:-1] + " "}]}, "signals[1]"),
    ({"signals": [{"signal_type": "pdq", "value": BASE}, {"signal_type": "pdq", "value": BASE[:-2] + " a"}]},
     "signals[1]"),
    ({"signals": [{"signal_type": "pdq", "value": BASE}, {"signal_type": "phash", "value": BASE}]}, "signals[1]"),
    ({"signal_type": "pdq", "value": BASE, "threshold": 99}, "0 to 31"),
    ({"signal_type": "pdq", "value": BASE, "extra": 1}, "extra"),
])
def test_malformed_requests_get_422_with_what_is_accepted(server, tenant_a, body, needle):
    with server.client(tenant_a) as c:
        r = c.post("/v1/match", json=body)
        assert r.status_code == 422, r.text
        assert needle in r.json()["error"]["message"]
        assert r.json()["error"]["request_id"]


def test_bad_bodies(server, tenant_a):
    with server.client(tenant_a) as c:
        bank = make_bank(c)
        assert c.post("/v1/match", content=b"{not json", headers={"content-type": "application/json"}).status_code == 422
        too_many = {"signals": [{"signal_type": "md5", "value": f"{i:032x}"} for i in range(10_001)]}
        assert c.post(f"/v1/banks/{bank}/signals", json=too_many).status_code == 422
        assert c.post("/v1/banks", json={"name": "has spaces!"}).status_code == 422
        assert c.post("/v1/banks", json={"name": bank}).status_code == 409
        assert c.delete(f"/v1/banks/{bank}/signals/999999999").status_code == 404
        assert c.delete("/v1/banks/no-such-bank/signals/1").status_code == 404


def test_oversized_body_gets_413(tmp_path, tenant_a, server):
    small = start_server(server.db_url, tmp_path, extra=("--max-body", "100000"))
    try:
        with small.client(tenant_a) as c:
            r = c.post("/v1/match/media", files={"file": ("big.bin", b"\0" * 200_000)})
            assert r.status_code == 413 and "100,000 bytes" in r.json()["error"]["message"]
            chunked = c.post("/v1/match", content=(b"x" * 10_000 for _ in range(30)),
                             headers={"content-type": "application/json"})  # no Content-Length
            assert chunked.status_code == 413 and chunked.json()["error"]["type"] == "TooLarge"
            assert c.post("/v1/match", json={"signal_type": "pdq", "value": BASE}).status_code == 200
    finally:
        small.stop()


def test_match_media_photo_rotated_and_bad_uploads(server, tenant_a):
    with server.client(tenant_a) as c:
        bank = make_bank(c)
        with Image.open(ORIGINAL_JPG) as im:
            photo = im.convert("RGB")
        r = c.post("/v1/match/media", files={"file": ("a.png", encode(photo, "PNG"))})
        assert r.status_code == 200, r.text
        pdq = r.json()["hashes"]["pdq"]
        c.post(f"/v1/banks/{bank}/signals", json={"signal_type": "pdq", "value": pdq})
        assert any(m["bank"] == bank for m in c.post("/v1/match/media", files={"file": ("a.jpg", ORIGINAL_JPG.read_bytes())}).json()["matches"])
        rotated = encode(photo.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=92)
        plain = c.post("/v1/match/media", files={"file": ("r.jpg", rotated)}).json()["matches"]
        assert not any(m["bank"] == bank for m in plain)
        dihedral = c.post("/v1/match/media?dihedral=true", files={"file": ("r.jpg", rotated)}).json()["matches"]
        hits = [m for m in dihedral if m["bank"] == bank]
        assert hits and hits[0]["variant"] in ("rotate90", "rotate270")
        # hostile uploads: clear 4xx, server keeps working
        truncated = encode(photo, "JPEG")[:3000]
        r = c.post("/v1/match/media", files={"file": ("t.jpg", truncated)})
        assert r.status_code == 422 and "truncated" in r.json()["error"]["message"]
        r = c.post("/v1/match/media", files={"file": ("e.jpg", b"")})
        assert r.status_code == 422 and "empty" in r.json()["error"]["message"]
        bomb = io.BytesIO()
        Image.new("L", (15_000, 15_000)).save(bomb, format="PNG")
        r = c.post("/v1/match/media", files={"file": ("bomb.png", bomb.getvalue())})
        assert r.status_code == 413 and "pixels" in r.json()["error"]["message"]
        assert c.get("/healthz").status_code == 200


def test_operations_endpoints(server, tenant_a):
    import httpx

    assert httpx.get(server.url + "/healthz").json()["database"] == "ok"
    spec = httpx.get(server.url + "/openapi.json").json()
    assert {"/v1/banks", "/v1/match", "/v1/match/media", "/v1/banks/{bank}/signals/{signal_id}"} <= set(spec["paths"])
    # /v1/match parses its body itself (one pass) but documents it as a declared body would
    body = spec["paths"]["/v1/match"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/MatchIn"}
    schemas = spec["components"]["schemas"]
    assert {"signals", "signal_type", "value", "threshold"} <= set(schemas["MatchIn"]["properties"])
    assert schemas["MatchIn"]["properties"]["signals"]["anyOf"][0]["items"] == {"$ref": "#/components/schemas/SignalIn"}
    assert "SignalIn" in schemas
    assert "text/html" in httpx.get(server.url + "/docs").headers["content-type"]
    with server.client(tenant_a) as c:
        c.post("/v1/match", json={"signal_type": "pdq", "value": BASE})
    metrics = httpx.get(server.url + "/metrics").text
    assert 'ncii_http_requests_total{method="POST",route="/v1/match",status="200"}' in metrics
    assert "ncii_index_signals" in metrics and "ncii_index_seq" in metrics
    assert 'ncii_lookups_total{signal_type="pdq"}' in metrics


def test_logs_are_json_with_request_ids_and_no_secrets(server, tenant_a):
    import json

    with server.client(tenant_a) as c:
        rid = c.post("/v1/match", json={"signal_type": "pdq", "value": BASE}, headers={"X-Request-ID": "trace-123"}).headers["x-request-id"]
    assert rid == "trace-123"
    import time

    deadline = time.monotonic() + 5  # the access log line is written after the response is sent
    while True:
        lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
        if any(line.get("request_id") == "trace-123" and line.get("route") == "/v1/match" for line in lines):
            break
        assert time.monotonic() < deadline, "no access log line with the request id"
        time.sleep(0.05)
    secret = tenant_a.split("_", 2)[2]
    assert secret not in server.log()
    assert server.admin_key.split("_", 2)[2] not in "\n".join(line for line in server.log().splitlines() if line.startswith("{"))


def test_match_media_video_and_reencoded_copy(server, tenant_a, tmp_path):
    import shutil
    import subprocess

    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is required (scripts/dev setup installs it)")
    original, copy = tmp_path / "o.mp4", tmp_path / "c.webm"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=duration=4:size=320x240:rate=25",
                    "-pix_fmt", "yuv420p", str(original)], check=True, timeout=60)
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(original), "-c:v", "libvpx-vp9", "-b:v", "300k", str(copy)],
                   check=True, timeout=120)
    with server.client(tenant_a) as c:
        bank = make_bank(c)
        first = c.post("/v1/match/media", files={"file": ("o.mp4", original.read_bytes())}).json()
        assert first["content_type"] == "video" and len(first["hashes"]["vpdq"]) == 4
        value = "[" + ",".join(f'"{f["pdq"]},{f["quality"]},{f["timestamp"]:.3f}"' for f in first["hashes"]["vpdq"]) + "]"
        assert c.post(f"/v1/banks/{bank}/signals", json={"signal_type": "vpdq", "value": value}).status_code == 201
        found = c.post("/v1/match/media", files={"file": ("c.webm", copy.read_bytes())}).json()["matches"]
        hit = [m for m in found if m["bank"] == bank and m["signal_type"] == "vpdq"]
        # shares are the seconds each side has in common (docs/video.md): a re-encode covers nearly all of both
        assert hit and hit[0]["query_share"] >= 80.0 and hit[0]["compared_share"] >= 80.0
        assert hit[0]["matched_seconds"] >= 3.0 and hit[0]["segments"][0]["banked"][0] <= 0.5
        r = c.post("/v1/match/media", files={"file": ("fake.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 5000)})
        assert r.status_code == 422 and "video" in r.json()["error"]["message"]
