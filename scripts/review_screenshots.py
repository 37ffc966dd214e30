"""Screenshots of the notice-and-removal pages (removal form, reviewer queue, item, dashboard) at
360 px and 1280 px wide, for docs/screenshots/.

Usage::

    .venv/bin/python scripts/review_screenshots.py [OUTPUT_DIR]

Starts a throwaway server (SQLite in a temporary folder), seeds requests over the last days through
the API (back-dated with a reviewer key), a match flag, and decisions, then logs in as a reviewer in
Debian's headless Chromium. No image is involved: the match has no preview.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e.conftest import ARGS, CHROMIUM  # noqa: E402
from tests.servers import start_server  # noqa: E402


def seed(server) -> str:  # noqa: ANN001
    with server.client(server.admin_key) as admin:
        reviewer = admin.post("/v1/keys", json={"scopes": ["reviewer"], "name": "moderator"}).json()["key"]
        platform = admin.post("/v1/keys", json={"scopes": ["match"], "name": "platform"}).json()["key"]
    now = datetime.now(UTC)
    with server.client(reviewer) as rev, server.client(platform) as plat:
        # (hours ago, outcome): removals happen now, so their time to removal is their age
        seeds = [(3, "removed"), (8, "removed"), (20, "removed"), (30, "removed"), (40, "removed"), (52, "removed"),
                 (400, "rejected"), (300, "rejected"), (200, "rejected"), (47, None), (44, None), (10, None), (2, None)]
        for n, (hours_ago, outcome) in enumerate(seeds):
            body = {"requester_role": "depicted_person", "signature": f"Person {n}", "content_description": "a photo",
                    "urls": [f"https://forum.example/t/{n}"], "good_faith": True, "contact_email": "p@example.org",
                    "received_at": (now - timedelta(hours=hours_ago)).isoformat()}
            ref = rev.post("/v1/notices", json=body).json()["reference"]
            if outcome is not None:
                rev.post(f"/v1/notices/{ref}/transition", json={"to": "in_review"})
                rev.post(f"/v1/notices/{ref}/transition", json={"to": outcome, "reason": "not intimate imagery"})
        plat.post("/v1/review/items", json={"kind": "match", "content_id": "upload-5", "priority": 40,
                                            "summary": "Upload matched the victims bank (PDQ distance 4)"})
        plat.post("/v1/review/items", json={"kind": "derivative", "content_id": "upload-9", "priority": 60,
                                            "summary": "Possible edited derivative of a registered photo"})
    return reviewer


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp())
    server = start_server(f"sqlite:///{tmp / 's.db'}", tmp, extra=("--data-dir", str(tmp)))
    try:
        key = seed(server)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            for width in (360, 1280):
                page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
                page.goto(server.url + "/removal")
                page.screenshot(path=out / f"removal-{width}.png", full_page=True)
                page.goto(server.url + "/review/login")
                page.fill("#api_key", key)
                page.click("#login")
                page.wait_for_selector("#queue")
                page.screenshot(path=out / f"review-queue-{width}.png", full_page=True)
                page.click("#queue tr[data-kind=notice] a.open-item")
                page.screenshot(path=out / f"review-item-{width}.png", full_page=True)
                page.goto(server.url + "/review/dashboard")
                page.screenshot(path=out / f"review-dashboard-{width}.png", full_page=True)
            browser.close()
    finally:
        server.stop()
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
