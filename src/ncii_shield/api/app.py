"""Build the FastAPI application around a :class:`~ncii_shield.core.Shield`.

``create_app(shield)`` for tests and embedding; ``create_app_from_env()`` is the factory that
``ncii-shield serve`` hands to uvicorn (one per worker process), configured by environment
variables (NCII_SHIELD_DB, NCII_SHIELD_MAX_BODY, NCII_SHIELD_METRICS_TOKEN, ...).
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from dataclasses import dataclass

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ncii_shield import __version__, logs
from ncii_shield.api import bodies, docs, errors
from ncii_shield.api.metrics import Metrics, ScrapeGuard, add_deadline_gauges
from ncii_shield.api.middleware import BodyLimit, RequestContext
from ncii_shield.api.routes import banks, cases, derivatives, feeds, health, hma, match, monitors, notices, review
from ncii_shield.api.routes import indicators as indicator_routes
from ncii_shield.api.routes import marks as mark_routes
from ncii_shield.api.routes import policy as policy_routes
from ncii_shield.core import Shield
from ncii_shield.web import likeness_pages, pages, review_pages
from ncii_shield.web.security import AuthThrottle, IpRateLimit, RateLimiter, SecurityHeaders

DEFAULT_MAX_BODY = 64 * 1024 * 1024


@dataclass
class Limits:
    per_key: RateLimiter
    auth_failures: AuthThrottle

DESCRIPTION = """
Check uploads against victims' hashes; keep banks of hashes. Authenticate with
`Authorization: Bearer <key>` (keys are created with `ncii-shield keys create`).

Errors are JSON: `{"error": {"type", "message", "request_id"}}`, where the message says what was
wrong and what is accepted.
"""


def create_app(shield: Shield, *, max_body: int = DEFAULT_MAX_BODY, follow: bool = True,
               case_rate: float = 1.0, case_burst: int = 30, case_create_per_hour: float = 10.0,
               key_rate: float = 5000.0,
               ip_rate: float = 10000.0, auth_failures_per_minute: int = 20, body_timeout: float = 30.0,
               run_monitors: bool = False, monitor_interval: float = 30.0,
               scrape_guard: ScrapeGuard | None = None) -> FastAPI:
    """Rates are per worker process: ``key_rate`` requests/s per API key, ``ip_rate`` per client
    address, ``auth_failures_per_minute`` failed authentications per address and per key prefix before failures
    get 429s (valid keys are never refused for others' failures)."""
    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        if follow:
            shield.start()
        runner = _monitor_runner(shield, monitor_interval) if run_monitors else None
        yield
        if runner is not None:
            runner.stop()
        shield.close()

    app = FastAPI(title="ncii-shield", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)  # /docs from our own assets (api/docs.py), not a CDN
    app.state.shield = shield
    app.state.metrics = Metrics(shield.follower, shield.db)
    app.state.scrape_guard = scrape_guard or ScrapeGuard(None)  # /metrics: a token, or loopback only
    add_deadline_gauges(app.state.metrics, shield.notices.counts)
    errors.install(app)
    docs.install(app)
    bodies.add_schemas(app)
    app.include_router(health.router)
    app.include_router(banks.router)
    app.include_router(match.router)
    app.include_router(feeds.router)
    app.include_router(cases.router)
    for router in (notices.router, notices.content_router, review.router, review.audit_router, review.keys_router):
        app.include_router(router)  # notice-and-removal (issue 7)
    app.include_router(monitors.router)
    app.include_router(derivatives.router)
    app.include_router(derivatives.case_router)
    app.include_router(mark_routes.router)
    app.include_router(policy_routes.router)  # per-tenant review-priority rules (issue 19)
    app.include_router(indicator_routes.router)
    app.include_router(hma.router)  # HMA drop-in: HMA 2.0's /h, /m and /c routes (issue 22)
    app.include_router(pages.router)
    app.include_router(review_pages.router)
    app.include_router(likeness_pages.router)  # the intake's "protect my face" step (issue 18)
    app.mount("/static", StaticFiles(directory=str(Path(pages.__file__).parent / "static")), name="static")
    app.state.case_limiter = RateLimiter(rate=case_rate, burst=case_burst)
    app.state.case_create_limiter = RateLimiter(rate=case_create_per_hour / 3600, burst=max(1, int(case_create_per_hour)))
    app.state.limits = Limits(
        per_key=RateLimiter(rate=key_rate, burst=int(key_rate * 2)),
        auth_failures=AuthThrottle(auth_failures_per_minute),
    )
    app.add_middleware(BodyLimit, max_bytes=max_body, read_timeout=body_timeout)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(IpRateLimit, limiter=RateLimiter(rate=ip_rate, burst=int(ip_rate * 2)))
    app.add_middleware(RequestContext, metrics=app.state.metrics)
    return app


def _monitor_runner(shield: Shield, interval: float):  # noqa: ANN202 - scans due monitors (issue 8)
    from ncii_shield.services.scanning.monitors import MonitorRunner, MonitorService
    from ncii_shield.services.scanning.scanner import Scanner

    service = MonitorService(shield.db)
    service.on_match = lambda tenant_id, monitor_id, result: shield.review.enqueue_scan_result(
        tenant_id, f"monitor:{monitor_id}", result)  # matches and derivative flags go to the review queue
    runner = MonitorRunner(service, lambda settings: Scanner(settings, shield.uploads), interval)
    runner.start()
    return runner


def create_app_from_env() -> FastAPI:
    import gc

    logs.configure(os.environ.get("NCII_SHIELD_LOG_LEVEL", "INFO"))
    scrape_guard = ScrapeGuard.from_env()  # a too-short NCII_SHIELD_METRICS_TOKEN stops the start here
    shield = Shield.open(os.environ.get("NCII_SHIELD_DB"), migrate=False)
    # Everything loaded so far lives as long as the process: keep it out of the garbage
    # collector's full passes, which otherwise add tens of milliseconds to unlucky requests.
    gc.collect()
    gc.freeze()
    return create_app(shield, max_body=int(os.environ.get("NCII_SHIELD_MAX_BODY", DEFAULT_MAX_BODY)),
                      case_rate=float(os.environ.get("NCII_SHIELD_CASE_RATE", "1")),
                      case_burst=int(os.environ.get("NCII_SHIELD_CASE_BURST", "30")),
                      case_create_per_hour=float(os.environ.get("NCII_SHIELD_CASE_CREATE_PER_HOUR", "10")),
                      key_rate=float(os.environ.get("NCII_SHIELD_KEY_RATE", "5000")),
                      ip_rate=float(os.environ.get("NCII_SHIELD_IP_RATE", "10000")),
                      auth_failures_per_minute=int(os.environ.get("NCII_SHIELD_AUTH_FAILURES_PER_MINUTE", "20")),
                      body_timeout=float(os.environ.get("NCII_SHIELD_BODY_TIMEOUT", "30")),
                      run_monitors=os.environ.get("NCII_SHIELD_MONITORS", "0") == "1",
                      monitor_interval=float(os.environ.get("NCII_SHIELD_MONITOR_INTERVAL", "30")),
                      scrape_guard=scrape_guard)
