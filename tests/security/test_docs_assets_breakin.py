"""Break-in: the API docs' new public routes (/docs, /docs/init.js, /docs/assets/*, /redoc; issue 22,
item 6). They need no key, like /openapi.json before them (no tenant, no scope: they hold only
Swagger UI's files and our script), so the attacks are the ones on public files: reading files
outside the asset folder, listing it, framing the docs page (clickjacking), and a page without the
CSP. Real HTTP against a live server."""

from __future__ import annotations

import socket

import pytest

from tests.servers import start_server


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("docs")
    server = start_server(f"sqlite:///{tmp / 'ncii.db'}", tmp, extra=("--data-dir", str(tmp)))
    yield server
    server.stop()


def raw_get(url: str, path: str) -> tuple[int, bytes]:
    """A GET with the path sent byte for byte (no client-side normalisation of dot segments)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), data


@pytest.mark.parametrize("path", [
    "/docs/assets/../../../../../../etc/passwd",
    "/docs/assets/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/docs/assets/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/docs/assets/../__init__.py",
    "/docs/assets/..%2f__init__.py",
    "/docs/assets//etc/passwd",
    "/docs/assets/",
])
def test_no_file_outside_the_assets_and_no_listing(live, path):
    status, body = raw_get(live.url, path)
    assert status in (400, 404), (path, status)
    assert b"root:" not in body and b"swagger_ui_path" not in body and b"swagger-ui.css" not in body


def test_docs_cannot_be_framed_and_keep_the_strict_csp(live):
    for path in ("/docs", "/docs/init.js", "/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"):
        status, raw = raw_get(live.url, path)
        head = raw.split(b"\r\n\r\n", 1)[0].lower()
        assert status == 200, path
        assert b"x-frame-options: deny" in head and b"frame-ancestors 'none'" in head, path
        assert b"script-src 'self';" in head and b"unsafe-inline" not in head, path


def test_redoc_no_longer_loads_from_a_cdn(live):
    status, raw = raw_get(live.url, "/redoc")
    assert status == 307 and b"location: /docs" in raw.lower()
