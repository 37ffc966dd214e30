"""Break-in: an upload must not make the server call out. A C2PA manifest can live at a URL that the
file names (XMP dcterms:provenance); the C2PA SDK's default settings fetch it (shown here against a
local server), so a hostile upload could point the server anywhere. The provenance reader reads with
remote fetch and OCSP off: the local server sees no request, and the verdict names the host."""

from __future__ import annotations

import http.server
import io
import threading

import numpy as np
import pytest

from ncii_shield.signals.provenance import ProvenanceReader
from ncii_shield.signals.provenance.content_credentials import C2paReader
from tests import provenance_fixtures as PF

c2pa = pytest.importorskip("c2pa")


@pytest.fixture()
def server():
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}/manifest.c2pa", hits
    srv.shutdown()
    srv.server_close()


def remote_manifest_jpeg(url: str) -> bytes:
    signer = PF.test_signer()
    manifest = {"claim_generator_info": [{"name": "ncii-shield-tests", "version": "1.0"}], "title": "remote",
                "assertions": [{"label": "c2pa.actions", "data": {"actions": PF.created(PF.AI)}}]}
    context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, signer.chain_pem.encode(), signer.key_pem.encode(), None)
    with c2pa.Signer.from_info(info) as c2pa_signer, c2pa.Builder(manifest, context) as builder:
        builder.set_no_embed()
        builder.set_remote_url(url)
        out = io.BytesIO()
        builder.sign(c2pa_signer, "image/jpeg", io.BytesIO(PF.encode(np.full((300, 300, 3), 90, np.uint8), "JPEG")),
                     out)
        return out.getvalue()


def test_the_sdk_default_would_fetch_but_the_reader_does_not(server):
    url, hits = server
    data = remote_manifest_jpeg(url)
    with pytest.raises(c2pa.C2paError):  # the SDK's defaults: fetched (our server answered 404)
        c2pa.Reader("image/jpeg", io.BytesIO(data))
    assert hits == ["/manifest.c2pa"]
    hits.clear()

    result = ProvenanceReader().read(data, rgb=np.full((300, 300, 3), 90, np.uint8))
    assert result.ai_generated is None
    assert any("remote manifest on 127.0.0.1" in e.detail and "never fetched" in e.detail for e in result.evidence)
    # Asked directly, the SDK with our settings refuses to fetch instead of fetching.
    direct = C2paReader().evidence(data, "image/jpeg")
    assert [e.kind for e in direct] == ["c2pa_error"] and "must fetch remote manifests" in direct[0].detail
    assert hits == [], "the reader made a network request"
