"""Build the FastAPI application around a :class:`~ncii_shield.core.Shield`.

``create_app(shield)`` for tests and embedding; ``create_app_from_env()`` is the factory that
``ncii-shield serve`` hands to uvicorn (one per worker process), configured by environment
variables (NCII_SHIELD_DB, NCII_SHIELD_MAX_BODY).
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from dataclasses import dataclass

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ncii_shield import __version__, logs
from ncii_shield.api import errors
from ncii_shield.api.metrics import Metrics
from ncii_shield.api.middleware import BodyLimit, RequestContext
from ncii_shield.api.routes import banks, cases, feeds, health, match
from ncii_shield.core import Shield
from ncii_shield.web import pages
from ncii_shield.web.security import IpRateLimit, RateLimiter, SecurityHeaders

DEFAULT_MAX_BODY = 64 * 1024 * 1024


@dataclass
class Limits:
    per_key: RateLimiter
    auth_failures: RateLimiter

DESCRIPTION = """
Check uploads against victims' hashes; keep banks of hashes. Authenticate with
`Authorization: Bearer <key>` (keys are created with `ncii-shield keys create`).

Errors are JSON: `{"error": {"type", "message", "request_id"}}`, where the message says what was
wrong and what is accepted.
"""


def create_app(shield: Shield, *, max_body: int = DEFAULT_MAX_BODY, follow: bool = True,
               case_rate: float = 1.0, case_burst: int = 30, key_rate: float = 5000.0,
               ip_rate: float = 10000.0, auth_failures_per_minute: int = 20, body_timeout: float = 30.0) -> FastAPI:
    """Rates are per worker process: ``key_rate`` requests/s per API key, ``ip_rate`` per client
    address, ``auth_failures_per_minute`` failed authentications per address before 429s."""
    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        if follow:
            shield.start()
        yield
        shield.close()

    app = FastAPI(title="ncii-shield", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.shield = shield
    app.state.metrics = Metrics(shield.follower)
    errors.install(app)
    app.include_router(health.router)
    app.include_router(banks.router)
    app.include_router(match.router)
    app.include_router(feeds.router)
    app.include_router(cases.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(Path(pages.__file__).parent / "static")), name="static")
    app.state.case_limiter = RateLimiter(rate=case_rate, burst=case_burst)
    app.state.limits = Limits(
        per_key=RateLimiter(rate=key_rate, burst=int(key_rate * 2)),
        auth_failures=RateLimiter(rate=auth_failures_per_minute / 60, burst=auth_failures_per_minute),
    )
    app.add_middleware(BodyLimit, max_bytes=max_body, read_timeout=body_timeout)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(IpRateLimit, limiter=RateLimiter(rate=ip_rate, burst=int(ip_rate * 2)))
    app.add_middleware(RequestContext, metrics=app.state.metrics)
    return app


def create_app_from_env() -> FastAPI:
    import gc

    logs.configure(os.environ.get("NCII_SHIELD_LOG_LEVEL", "INFO"))
    shield = Shield.open(os.environ.get("NCII_SHIELD_DB"), migrate=False)
    # Everything loaded so far lives as long as the process: keep it out of the garbage
    # collector's full passes, which otherwise add tens of milliseconds to unlucky requests.
    gc.collect()
    gc.freeze()
    return create_app(shield, max_body=int(os.environ.get("NCII_SHIELD_MAX_BODY", DEFAULT_MAX_BODY)),
                      case_rate=float(os.environ.get("NCII_SHIELD_CASE_RATE", "1")),
                      case_burst=int(os.environ.get("NCII_SHIELD_CASE_BURST", "30")),
                      key_rate=float(os.environ.get("NCII_SHIELD_KEY_RATE", "5000")),
                      ip_rate=float(os.environ.get("NCII_SHIELD_IP_RATE", "10000")),
                      auth_failures_per_minute=int(os.environ.get("NCII_SHIELD_AUTH_FAILURES_PER_MINUTE", "20")),
                      body_timeout=float(os.environ.get("NCII_SHIELD_BODY_TIMEOUT", "30")))
