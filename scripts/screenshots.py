"""Screenshots of every intake page at 360 px and 1280 px wide, for docs/screenshots/.

Usage::

    .venv/bin/python scripts/screenshots.py [OUTPUT_DIR]

Starts a throwaway server (SQLite in a temporary folder), walks the flow in Debian's headless
Chromium with a harmless reference photo, and saves one PNG per page and width.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e.conftest import ARGS, CHROMIUM  # noqa: E402
from tests.servers import start_server  # noqa: E402

PHOTO = ROOT / "tests" / "data" / "pdq-reference" / "bridge-mods" / "aaa-orig.jpg"


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp())
    server = start_server(f"sqlite:///{tmp / 's.db'}", tmp, extra=("--data-dir", str(tmp)))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            for width in (360, 1280):
                page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
                page.goto(server.url + "/")
                page.screenshot(path=out / f"start-{width}.png", full_page=True)
                page.goto(server.url + "/protect")
                page.set_input_files("#files", [str(PHOTO)])
                page.wait_for_selector("#submit:not([disabled])")
                page.check("input[value=adult]")
                page.check("input[name=consent]")
                page.screenshot(path=out / f"protect-{width}.png", full_page=True)
                page.click("#submit")
                case_number, pin = page.text_content("#case-number"), page.text_content("#pin")
                page.screenshot(path=out / f"created-{width}.png", full_page=True)
                page.goto(server.url + "/status")
                page.screenshot(path=out / f"status-{width}.png", full_page=True)
                page.fill("#case_number", case_number)
                page.fill("#pin", pin)
                page.click("button[type=submit]")
                page.screenshot(path=out / f"case-{width}.png", full_page=True)
                page.check("input[name=confirm]")
                page.click("button.danger")
                page.screenshot(path=out / f"withdrawn-{width}.png", full_page=True)
            browser.close()
    finally:
        server.stop()
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
