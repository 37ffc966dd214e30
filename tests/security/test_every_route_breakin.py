"""Break-in: every route of the application, walked from the app itself (included routers too, and
routes left out of the OpenAPI document), called over real HTTP with no key and with a made-up key.

Only the routes a person uses without an account may answer: the intake and removal pages and their
API (``/v1/cases``, ``/v1/notices`` submission, status and withdrawal, each behind its own proof: a
case number and PIN, a reference and token, CSRF on the pages), the docs, ``/healthz`` and ``/metrics``
(a direct local client, as here; tests/security/test_metrics_breakin.py covers the rest). Every other
API route answers 401, every review page sends the browser to the login page. A new route is covered
the day it is added: it fails here until it asks for a key or is added, with its reason, to PUBLIC.
SQLite and PostgreSQL."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.servers import live_server

# (method, path) -> why it answers without a key
PUBLIC = {
    ("GET", "/"): "the start page",
    ("GET", "/protect"): "intake page", ("POST", "/protect"): "intake form (CSRF)",
    ("GET", "/protect/face"): "face step page", ("POST", "/protect/face"): "face step form (CSRF, case + PIN)",
    ("GET", "/status"): "case status page", ("POST", "/status"): "case status form (CSRF, case + PIN)",
    ("POST", "/withdraw"): "case withdrawal form (CSRF, case + PIN)",
    ("GET", "/removal"): "removal request page", ("POST", "/removal"): "removal request form (CSRF)",
    ("GET", "/removal/status"): "removal status page", ("POST", "/removal/status"): "removal status form (CSRF, reference + token)",
    ("GET", "/review/login"): "reviewers' login page", ("POST", "/review/login"): "reviewers' login (CSRF, key)",
    ("POST", "/review/logout"): "reviewers' logout (CSRF)",
    ("POST", "/v1/cases"): "victim intake: hashes only", ("POST", "/v1/cases/photos"): "case photos (case + PIN first)",
    ("POST", "/v1/cases/status"): "case status (case + PIN)", ("POST", "/v1/cases/withdraw"): "case withdrawal (case + PIN)",
    ("POST", "/v1/notices"): "public removal requests", ("POST", "/v1/notices/status"): "removal status (reference + token)",
    ("POST", "/v1/notices/withdraw"): "removal withdrawal (reference + token)",
    ("GET", "/docs"): "API docs", ("GET", "/docs/init.js"): "API docs", ("GET", "/redoc"): "API docs (redirect)",
    ("GET", "/openapi.json"): "API description", ("GET", "/favicon.ico"): "icon",
    ("GET", "/healthz"): "health (no data)", ("GET", "/metrics"): "metrics: direct local clients or a token",
}


def app_routes() -> set[tuple[str, str]]:
    """Every (method, path) the application serves, walked from the app (not from its OpenAPI
    document, which leaves out pages and hidden routes)."""
    import tempfile
    from pathlib import Path

    from ncii_shield.api.app import create_app
    from ncii_shield.core import Shield

    found: set[tuple[str, str]] = set()

    def walk(routes, prefix: str = "") -> None:  # noqa: ANN001 - FastAPI >= 0.165 keeps included routers
        for r in routes:
            if hasattr(r, "original_router"):
                walk(r.original_router.routes, prefix + r.include_context.prefix)
            elif getattr(r, "routes", None):
                walk(r.routes, prefix + getattr(r, "path", ""))
            elif getattr(r, "methods", None):
                found.update((m, prefix + r.path) for m in r.methods if m not in ("HEAD", "OPTIONS"))

    shield = Shield.open(f"sqlite:///{Path(tempfile.mkdtemp()) / 'routes.db'}", load_index=False)
    try:
        walk(create_app(shield, follow=False).routes)
    finally:
        shield.close()
    return found


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def live(request, tmp_path_factory):
    # every probe here is a failed authentication: lift the per-address lock-out, which would
    # otherwise answer 429 after 20 (tests/security/test_lockout_keys.py tests it)
    with live_server(request.param, tmp_path_factory, prefix="routes-",
                     env={"NCII_SHIELD_AUTH_FAILURES_PER_MINUTE": "100000"}) as server:
        yield server


@pytest.fixture(scope="module")
def routes(tmp_path_factory) -> set[tuple[str, str]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NCII_SHIELD_DATA", str(tmp_path_factory.mktemp("routes-data")))
        return app_routes()


def test_the_walk_sees_the_whole_app(routes):
    assert {("POST", "/v1/match/media"), ("GET", "/protect"), ("GET", "/v1/policy/rules"),
            ("POST", "/m/lookup"), ("GET", "/review/items/{item_id}")} <= routes
    assert len(routes) > 80
    assert not {r for r in PUBLIC if r not in routes} - {("GET", "/redoc")}, "a public route was removed: update PUBLIC"


@pytest.mark.parametrize("key", [None, "nsk_" + "0" * 40], ids=["no key", "made-up key"])
def test_no_route_but_the_public_ones_answers_without_a_valid_key(live, routes, key):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    wrong = []
    with httpx.Client(base_url=live.url, timeout=30, follow_redirects=False) as client:
        for method, path in sorted(routes - set(PUBLIC)):
            url = re.sub(r"\{[^}]+\}", "1", path)
            r = client.request(method, url, headers=headers)
            if path.startswith("/review"):
                ok = r.status_code == 303 and r.headers.get("location", "").endswith("/review/login")
            else:
                ok = r.status_code == 401
            if not ok:
                wrong.append((method, path, r.status_code, r.text[:120]))
    assert wrong == [], f"routes that answered without a valid key: {wrong}"
