"""/docs works offline (issue 22, item 6): Swagger UI's assets come from our server (a Python
package ships them), under the same security headers as every other page, and no request leaves it.

Real headless Chromium with the network closed: every request to anywhere but the server is aborted
and recorded; CSP violations are read from the console.
"""

from __future__ import annotations

import httpx

from tests.e2e.conftest import ARGS, CHROMIUM  # noqa: F401 - the browser fixture's settings


def test_docs_render_the_operation_list_with_the_network_closed(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    outside: list[str] = []

    def only_the_server(route) -> None:  # noqa: ANN001 - the network is closed but for loopback to the site
        if route.request.url.startswith(site.url + "/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_the_server)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    page.on("pageerror", lambda e: console.append(str(e)))
    try:
        page.goto(site.url + "/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=15_000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        assert any("/v1/match" in p for p in paths), paths
        assert page.locator(".information-container .title").inner_text().startswith("ncii-shield")
    finally:
        context.close()
    assert outside == []
    assert not [c for c in console if "Content Security Policy" in c], console


def test_docs_and_their_assets_carry_the_security_headers(site):
    page = httpx.get(site.url + "/docs", timeout=30)
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "script-src 'self'" in csp
    assert "cdn" not in page.text and "<script>" not in page.text  # no inline script, nothing from elsewhere
    assets = [a.split('"')[0] for a in page.text.split('src="')[1:] + page.text.split('href="')[1:]]
    assert assets and all(a.startswith("/") for a in assets), assets
    for asset in assets:
        r = httpx.get(site.url + asset, timeout=30)
        assert r.status_code == 200, asset
        assert r.headers["x-content-type-options"] == "nosniff" and "content-security-policy" in r.headers, asset
