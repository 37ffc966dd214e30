"""Test material for scans, generated on the spot: harmless synthetic photos, archives, WARC files,
and a loopback HTTP server that serves a folder (with optional redirects, stalls and huge bodies)."""

from __future__ import annotations

import io
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image


BANKED_PDQ = (0, 1, 2)  # seeds whose PDQ make_store banks in "victims": their copies are "near" matches
BANKED_MD5 = 7  # seed whose MD5 is banked in "victims": "exact"
OTHER_PDQ = 20  # seed banked in the bank "other"


def make_store(tmp_path: Path) -> str:
    """A SQLite store with banks "victims" and "other" holding the hashes of the seeds above."""
    from ncii_shield.core import Shield
    from ncii_shield.services.banks import SignalInput
    from ncii_shield.services.hashing import hash_photo_bytes

    url = f"sqlite:///{tmp_path / 'store.db'}"
    shield = Shield.open(url, load_index=False)
    who = shield.local_principal("default")
    shield.banks.create(who, "victims")
    shield.banks.create(who, "other")
    signals = [SignalInput("pdq", hash_photo_bytes(photo(s)).pdq) for s in BANKED_PDQ]
    shield.banks.add(who, "victims", signals + [SignalInput("md5", hash_photo_bytes(photo(BANKED_MD5)).md5)])
    shield.banks.add(who, "other", [SignalInput("pdq", hash_photo_bytes(photo(OTHER_PDQ)).pdq)])
    shield.close()
    return url


def crash_on_seed_13(data: bytes, hashes) -> list[dict]:  # noqa: ANN001
    """A "derivative check" that kills its process on one photo: stands for a native decoder crash."""
    import os
    import signal

    if data == photo(13):
        os.kill(os.getpid(), signal.SIGSEGV)
    return []


def photo(seed: int, size: int = 160) -> bytes:
    """A smooth random colour field (distinct PDQ per seed, quality 100), as JPEG bytes."""
    rng = np.random.default_rng(seed)
    blocks = (rng.random((6, 6, 3)) * 255).astype(np.uint8)
    image = Image.fromarray(blocks).resize((size, size), Image.BILINEAR)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def photo_folder(root: Path, count: int, *, size: int = 160, start: int = 0) -> list[Path]:
    """``count`` photos in ``root`` and a nested folder (every third one), named by seed."""
    paths = []
    for seed in range(start, start + count):
        path = root / ("nested/deeper" if seed % 3 == 0 else "") / f"photo-{seed:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(photo(seed, size))
        paths.append(path)
    return paths


def zip_of(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def warc_of(path: Path, records: list[tuple[str, str, bytes]]) -> Path:
    """A gzipped WARC of HTTP responses: (target URI, Content-Type, body)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        for uri, ctype, body in records:
            headers = StatusAndHeaders("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body)))],
                                       protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(uri, "response", payload=io.BytesIO(body),
                                                          http_headers=headers))
    return path


class LoopbackServer:
    """A real HTTP server on 127.0.0.1 serving ``files`` by path; ``/redirect?to=URL`` answers 302,
    ``/stall`` sends headers then nothing, ``/huge`` streams an endless body."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

            def do_GET(self) -> None:  # noqa: N802
                path, _, query = self.path.partition("?")
                if path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", query.removeprefix("to="))
                    self.end_headers()
                elif path == "/stall":
                    self.send_response(200)
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.flush()
                    time.sleep(5)
                elif path == "/huge":
                    self.send_response(200)
                    self.end_headers()
                    try:
                        for _ in range(10_000):
                            self.wfile.write(b"\0" * 65536)
                    except OSError:
                        pass
                elif path in owner.files:
                    body = owner.files[path]
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
