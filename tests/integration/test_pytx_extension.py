"""python-threatexchange adopters follow an ncii-shield feed through the ``ncii_shield.pytx`` extension.

Everything here runs the REAL ``threatexchange`` CLI (1.2.17, a subprocess with HOME and TX_STATEDIR
in a temporary folder, so the user's own state is untouched) against a live ``ncii-shield serve`` on
loopback: ``config extensions add``, ``config collab edit ncii_shield``, ``fetch``, ``match photo``,
``dataset``. A stand-in proxy on loopback alters or replays pages for the refusal tests.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import pytest

pytest.importorskip("threatexchange")

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from ncii_shield.media.decode import decode_photo  # noqa: E402
from ncii_shield.signals import registry  # noqa: E402
from tests.conftest import ORIGINAL_JPG  # noqa: E402
from tests.servers import cli, free_port, start_server  # noqa: E402

rng = np.random.default_rng(22)


def rand_pdq() -> str:
    return rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex()


def tx_binary() -> list[str]:
    script = Path(sys.executable).parent / "threatexchange"
    return [str(script)] if script.exists() else [sys.executable, "-m", "threatexchange"]


def tx(home: Path, *args: str) -> subprocess.CompletedProcess:
    """The real python-threatexchange CLI with its state in ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TX_")}
    env.update(HOME=str(home), TX_STATEDIR=str(home / ".threatexchange"))
    return subprocess.run([*tx_binary(), *args], capture_output=True, text=True, timeout=180, env=env, cwd=home)


@pytest.fixture(scope="module")
def publisher(tmp_path_factory):
    """A live ncii-shield with bank ``victims`` (the test photo's PDQ and a decoy) published as a feed."""
    data = tmp_path_factory.mktemp("publisher")
    db_url = f"sqlite:///{data / 'p.db'}"
    server = start_server(db_url, data, extra=("--data-dir", str(data)))
    photo_pdq = registry.get("pdq").hash_photo(decode_photo(ORIGINAL_JPG.read_bytes())).value
    decoy = rand_pdq()  # keeps pytx's PDQ index non-empty after the withdrawal, so `match` runs and finds nothing
    with server.client(server.admin_key) as c:
        assert c.post("/v1/banks", json={"name": "victims"}).status_code == 201
        added = c.post("/v1/banks/victims/signals", json={"signals": [
            {"signal_type": "pdq", "value": photo_pdq}, {"signal_type": "pdq", "value": decoy}]})
        assert added.status_code == 201, added.text
        photo_id = added.json()["signals"][0]["id"]  # in the order given
    published = cli("feed", "publish", "victims", "--subscriber", "pytx-user", "--json", "--db", db_url,
                    env={"NCII_SHIELD_DATA": str(data)})  # the data directory whose key `serve` signs with
    assert published.returncode == 0, published.stderr
    info = json.loads(published.stdout)
    yield {"server": server, "db_url": db_url, "data": data, "photo_pdq": photo_pdq, "photo_id": photo_id,
           "decoy": decoy, "public_key": info["public_key"], "token": info["tokens"]["pytx-user"]}
    server.stop()


@pytest.fixture
def home(tmp_path):
    """A pytx user's home with the extension added (exactly as an adopter does it)."""
    added = tx(tmp_path, "config", "extensions", "add", "ncii_shield.pytx")
    assert added.returncode == 0, added.stderr
    assert "ncii_shield" in added.stdout
    return tmp_path


def add_collab(home: Path, name: str, **fields: str) -> None:
    created = tx(home, "config", "collab", "edit", "ncii_shield", "--create", "--json", json.dumps({"name": name, **fields}))
    assert created.returncode == 0, created.stderr


def collab_fields(publisher, **override: str) -> dict:
    return {"url": publisher["server"].url, "feed": "victims", "token": publisher["token"],
            "publisher_key": publisher["public_key"], **override}


def signals(home: Path) -> set[str]:
    """Every (type value) line in the pytx user's fetched state."""
    listed = tx(home, "dataset", "--print-signals", "--print-signals-only")
    if "No stored state available" in listed.stderr:  # pytx's answer when nothing was ever stored
        return set()
    assert listed.returncode == 0, listed.stderr
    return {line.strip() for line in listed.stdout.splitlines() if line.strip()}


def matches(home: Path, photo: Path) -> str:
    matched = tx(home, "match", "photo", str(photo))
    assert matched.returncode == 0, matched.stderr
    return matched.stdout


def test_fetch_match_then_withdrawal_reaches_the_pytx_index(publisher, home):
    add_collab(home, "helpline", **collab_fields(publisher))
    listed = tx(home, "config", "collab", "list")
    assert "ncii_shield helpline" in listed.stdout, listed.stdout + listed.stderr

    fetched = tx(home, "fetch")
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    assert signals(home) == {f"pdq {publisher['photo_pdq']}", f"pdq {publisher['decoy']}"}
    found = matches(home, ORIGINAL_JPG)  # pytx hashes the photo itself and looks it up in its own index
    assert "(helpline)" in found and "ncii_shield feed=victims" in found, found

    with publisher["server"].client(publisher["server"].admin_key) as c:
        assert c.delete(f"/v1/banks/victims/signals/{publisher['photo_id']}").status_code == 204
        later = rand_pdq()
        assert c.post("/v1/banks/victims/signals", json={"signal_type": "pdq", "value": later}).status_code == 201

    again = tx(home, "fetch")  # resumes at the stored cursor: only the change log since the first fetch
    assert again.returncode == 0, again.stdout + again.stderr
    assert signals(home) == {f"pdq {publisher['decoy']}", f"pdq {later}"}
    assert matches(home, ORIGINAL_JPG).strip() == ""  # withdrawn on the publisher: no longer found


def test_a_tampered_page_fails_the_fetch_loudly_and_stores_nothing(publisher, home):
    with Proxy(publisher["server"].url, "tamper") as proxy:
        add_collab(home, "helpline", **collab_fields(publisher, url=proxy.url))
        fetched = tx(home, "fetch")
    assert fetched.returncode == 3, fetched.stdout + fetched.stderr  # pytx: "Some collabs had errors!"
    assert "signature does not verify" in fetched.stderr and "helpline" in fetched.stderr, fetched.stderr
    assert "failed to fetch" in fetched.stderr
    assert signals(home) == set()  # the altered page was refused whole
    # nothing was stored, so pointing the collaboration at the real publisher simply works
    assert tx(home, "config", "collab", "edit", "ncii_shield", "helpline", "--url", publisher["server"].url).returncode == 0
    assert tx(home, "fetch").returncode == 0
    assert f"pdq {publisher['decoy']}" in signals(home)


def test_a_replayed_page_is_refused(publisher, home):
    with Proxy(publisher["server"].url, "replay") as proxy:
        add_collab(home, "helpline", **collab_fields(publisher, url=proxy.url))
        fetched = tx(home, "fetch")
    assert fetched.returncode == 3, fetched.stdout + fetched.stderr
    assert "replayed or out-of-order" in fetched.stderr, fetched.stderr


def test_the_wrong_publisher_key_fails_the_fetch_loudly(publisher, home):
    other = Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    add_collab(home, "helpline", **collab_fields(publisher, publisher_key=base64.b64encode(other).decode()))
    fetched = tx(home, "fetch")
    assert fetched.returncode == 3, fetched.stdout + fetched.stderr
    assert "signature does not verify" in fetched.stderr, fetched.stderr
    assert signals(home) == set()


def test_changing_the_pinned_key_after_a_fetch_asks_for_a_clear(publisher, home):
    add_collab(home, "helpline", **collab_fields(publisher))
    assert tx(home, "fetch").returncode == 0
    other = Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert tx(home, "config", "collab", "edit", "ncii_shield", "helpline", "--publisher-key",
              base64.b64encode(other).decode()).returncode == 0
    fetched = tx(home, "fetch")
    assert fetched.returncode == 3 and "fetch --clear --only-collab helpline" in fetched.stderr, fetched.stderr


def test_a_malformed_config_is_named_before_any_request(home):
    add_collab(home, "helpline", url="https://helpline.example", feed="victims", token="nsf_x_y", publisher_key="not a key")
    fetched = tx(home, "fetch")
    assert fetched.returncode != 0
    assert "publisher_key must be the publisher's Ed25519 public key" in fetched.stderr, fetched.stderr


def test_the_extension_imports_light_and_ncii_shield_runs_without_threatexchange():
    loaded = subprocess.run([sys.executable, "-c", (
        "import sys, ncii_shield.pytx\n"
        "heavy = ['sqlalchemy', 'fastapi', 'uvicorn', 'cv2', 'alembic', 'ncii_shield.store.database',"
        " 'ncii_shield.services.exchange.subscriber', 'ncii_shield.api']\n"
        "print([m for m in heavy if m in sys.modules])")], capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0 and loaded.stdout.strip() == "[]", loaded.stdout + loaded.stderr
    # threatexchange stays optional: the server and the CLI import with it made unimportable
    without = subprocess.run([sys.executable, "-c", (
        "import sys; sys.modules['threatexchange'] = None\n"
        "import ncii_shield.api.app, ncii_shield.cli.main, ncii_shield.core\n"
        "print('ok')")], capture_output=True, text=True, timeout=120)
    assert without.returncode == 0 and without.stdout.strip() == "ok", without.stderr


def test_the_page_format_is_the_publishers():
    from ncii_shield.pytx import feed
    from ncii_shield.services.exchange import publisher

    assert feed.FORMAT == publisher.FORMAT


class Proxy:
    """A stand-in between the pytx user and the publisher: ``tamper`` adds a hash to every page it
    passes on (keeping the signature); ``replay`` answers every request with the first page."""

    def __init__(self, upstream: str, mode: str) -> None:
        self.upstream, self.mode = upstream, mode
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                path = self.path
                if proxy.mode == "replay":
                    path = path.split("?", 1)[0] + "?cursor=start"
                answer = httpx.get(proxy.upstream + path, headers={"Authorization": self.headers["Authorization"]})
                body = answer.content
                if proxy.mode == "tamper" and answer.status_code == 200:
                    envelope = answer.json()
                    envelope["page"]["entries"].append({"op": "add", "signal_type": "pdq", "value": rand_pdq()})
                    body = json.dumps(envelope).encode()
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Proxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()



def test_url_indicators_reach_pytx_and_its_own_matcher_finds_them(publisher, home):
    """A bank of service indicators published as a feed: pytx fetches the ``url`` and ``url_md5``
    entries (its own types, same values) and skips ``domain`` (no pytx type); its matcher, which
    hashes with its own ``normalize_url``, finds a URL by our url_md5 entry."""
    from ncii_shield.signals.url_md5 import hash_url

    server, data = publisher["server"], publisher["data"]
    banked_url, other = "https://Undress.example/Pricing", "https://nudify.example/app?ref=tg"
    with server.client(server.admin_key) as c:
        assert c.post("/v1/banks", json={"name": "services"}).status_code == 201
        added = c.post("/v1/banks/services/signals", json={"signals": [
            {"signal_type": "url", "value": banked_url}, {"signal_type": "url_md5", "value": hash_url(other)},
            {"signal_type": "domain", "value": "nudify.example"}]})
        assert added.status_code == 201, added.text
    published = cli("feed", "publish", "services", "--subscriber", "pytx-services", "--json", "--db",
                    publisher["db_url"], env={"NCII_SHIELD_DATA": str(data)})
    assert published.returncode == 0, published.stderr
    token = json.loads(published.stdout)["tokens"]["pytx-services"]
    add_collab(home, "services", **collab_fields(publisher, feed="services", token=token))
    fetched = tx(home, "fetch")
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    assert signals(home) == {f"url {banked_url}", f"url_md5 {hash_url(other)}"}
    found = tx(home, "match", "url", "--", "HTTP://NUDIFY.example/app?ref=tg")
    assert found.returncode == 0 and "url_md5" in found.stdout and "(services)" in found.stdout, found.stdout + found.stderr
    assert tx(home, "match", "url", "--", "https://clean.example/app").stdout.strip() == ""
