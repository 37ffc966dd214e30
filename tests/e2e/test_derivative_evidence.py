"""A reviewer sees a derivative flag's evidence drawn over the platform's own (blurred) copy, in real
headless Chromium (issue 20, item 4): a photo is registered over HTTP, a before/after collage of it
and an edited copy is checked through /v1/match/media, the platform queues the flags with its preview
URL, and the item page draws the edited picture's box, the replaced region and the unedited copy's
box over the blurred preview, where they lie in the upload. Synthetic scenes only
(tests/derivative_scenes.py), served by a loopback HTTP server playing the platform's media host."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest

from tests.derivative_scenes import edit, jpeg, scene
from tests.servers import free_port, start_server

BOX = (250, 150, 300, 250)  # the replaced rectangle in the 800 x 600 scene
GUTTER = 12


def collage() -> np.ndarray:
    """The registered scene (left) and a copy with BOX replaced by noise (right), 640 x 480 each."""
    left = cv2.resize(scene(41), (640, 480), interpolation=cv2.INTER_AREA)
    right = cv2.resize(edit("noise", scene(41), BOX, seed=5), (640, 480), interpolation=cv2.INTER_AREA)
    out = np.full((480, 1280 + GUTTER, 3), 255, np.uint8)
    out[:, :640], out[:, 640 + GUTTER:] = left, right
    return out


class MediaHost:
    def __init__(self, body: bytes) -> None:
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def upload() -> bytes:
    return jpeg(collage(), 88)


@pytest.fixture(scope="module")
def media(upload):
    m = MediaHost(upload)
    yield m
    m.server.shutdown()


@pytest.fixture(scope="module")
def site(tmp_path_factory, media):
    tmp = tmp_path_factory.mktemp("evidence")
    server = start_server(f"sqlite:///{tmp / 'evidence.db'}", tmp, extra=("--data-dir", str(tmp)),
                          env={"NCII_SHIELD_PREVIEW_ORIGINS": media.origin})
    yield server
    server.stop()


def test_the_flag_s_boxes_are_drawn_over_the_blurred_preview(site, browser, media, upload):
    with site.client(site.admin_key) as admin:
        keys = {name: admin.post("/v1/keys", json={"scopes": scopes, "name": name}).json()["key"]
                for name, scopes in (("org", ["bank:write", "match"]), ("reviewer", ["reviewer"]))}
    with site.client(keys["org"]) as org:
        assert org.post("/v1/banks", json={"name": "protected"}).status_code == 201
        r = org.post("/v1/banks/protected/photos", files=[("files", ("beach.jpg", jpeg(scene(41)), "image/jpeg"))])
        assert r.status_code == 201, r.text
        signal = r.json()["photos"][0]["signal_id"]
        out = org.post("/v1/match/media", files={"file": ("upload.jpg", upload)}).json()
        flags = out["derivatives"]
        # the edited (right) half is flagged; the unedited left half is named as the original beside it
        assert [f["signal_id"] for f in flags] == [signal], out
        flag = flags[0]
        assert flag["upload_size"] == [1280 + GUTTER, 480]
        x, y, w, h = flag["instance_box"]
        assert x >= 640 and x + w <= 1280 + GUTTER + 2 and w > 560, flag["instance_box"]
        assert len(flag["unedited_boxes"]) == 1 and flag["unedited_boxes"][0][0] + flag["unedited_boxes"][0][2] <= 660
        item = org.post("/v1/review/items", json={  # the platform queues what it found, with its preview URL
            "kind": "derivative", "content_id": "upload-77", "priority": 70, "summary": "before/after collage",
            "details": {"derivatives": flags}, "preview_url": f"{media.origin}/media/upload-77.jpg"})
        assert item.status_code == 201, item.text
        item_id = item.json()["id"]

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(site.url + "/review/login")
        page.fill("#api_key", keys["reviewer"])
        page.click("#login")
        page.wait_for_selector("#queue")
        page.goto(f"{site.url}/review/items/{item_id}")
        # the evidence is described in words before anything is loaded; nothing is drawn or fetched yet
        assert "1292 × 480 upload" in page.text_content("#evidence-list")
        assert media.hits == [] and page.query_selector("#preview-frame svg") is None
        page.click("#show-preview")
        page.wait_for_selector("#preview-frame .evidence-wrap img.blurred")
        page.wait_for_function("document.querySelector('#preview-frame img').naturalWidth === 1292")
        assert media.hits == ["/media/upload-77.jpg"]
        img = page.query_selector("#preview-frame img").bounding_box()
        box = page.query_selector("#preview-frame svg rect.instance").bounding_box()
        edited = page.query_selector("#preview-frame svg polygon.edited").bounding_box()
        original = page.query_selector("#preview-frame svg rect.unedited").bounding_box()
        scale = img["width"] / 1292
        # the yellow box covers the right half of the shown image, the blue one the left half
        assert abs(box["x"] - (img["x"] + x * scale)) < 4 and abs(box["width"] - w * scale) < 6
        assert box["x"] > img["x"] + img["width"] * 0.45 and original["x"] + original["width"] < img["x"] + img["width"] * 0.55
        # the replaced region: BOX scaled 0.8 into the right half
        bx, by, bw, bh = (v * 0.8 for v in BOX)
        centre_x = (edited["x"] - img["x"] + edited["width"] / 2) / scale
        centre_y = (edited["y"] - img["y"] + edited["height"] / 2) / scale
        assert abs(centre_x - (640 + GUTTER + bx + bw / 2)) < 40 and abs(centre_y - (by + bh / 2)) < 40
        # the drawing is not blurred with the copy; clicking the copy unblurs it and keeps the drawing
        assert page.evaluate("getComputedStyle(document.querySelector('#preview-frame svg')).filter") == "none"
        page.click("#preview-frame img")
        assert page.get_attribute("#preview-frame img", "class") == "preview-image"
        assert page.query_selector("#preview-frame svg rect.instance") is not None
    finally:
        context.close()
