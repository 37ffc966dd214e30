"""Prometheus metrics, one registry per app (so tests can run several apps in one process), and who
may scrape them (:class:`ScrapeGuard`)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os

from fastapi import Request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ncii_shield.errors import PermissionDenied, Unauthenticated

from ncii_shield.index.follower import IndexFollower
from ncii_shield.store.database import Database


class Metrics:
    def __init__(self, follower: IndexFollower, db: Database | None = None) -> None:
        self.registry = CollectorRegistry()
        if db is not None:
            from ncii_shield.services.scanning.metrics import MonitorCollector

            from ncii_shield.services.trust_metrics import TrustCollector

            self.registry.register(MonitorCollector(db))
            self.registry.register(TrustCollector(db))  # quarantined and disabled signals (docs/trust.md)
        self.requests = Counter("ncii_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("ncii_http_request_seconds", "HTTP request latency", ["route"],
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5, 10),
                                 registry=self.registry)
        self.matches = Counter("ncii_matches_total", "Matches returned", ["signal_type"], registry=self.registry)
        self.lookups = Counter("ncii_lookups_total", "Hashes looked up", ["signal_type"], registry=self.registry)
        signals = Gauge("ncii_index_signals", "Active signals in this replica's index", ["signal_type"],
                        registry=self.registry)
        for name in ("pdq", "vpdq", "md5", "sha256"):
            signals.labels(name).set_function(lambda n=name: len(follower.indexes.get(n, ())))
        Gauge("ncii_index_seq", "Last change-log sequence number applied", registry=self.registry
              ).set_function(lambda: follower.seq)
        Gauge("ncii_index_last_applied_timestamp_seconds", "When a change was last applied",
              registry=self.registry).set_function(lambda: follower.last_applied_at)
        Gauge("ncii_index_follower_errors", "Failed change-log reads", registry=self.registry
              ).set_function(lambda: follower.errors)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def add_deadline_gauges(metrics: Metrics, counts) -> None:  # noqa: ANN001 - counts: () -> dict[str, int]
    """Removal-request gauges (notice-and-removal): open, overdue, due within 6 hours, review queue.
    One database count per scrape at most every 5 s; NaN while the database is away."""
    import math
    import time

    cache: dict = {"at": -10.0, "values": {}}

    def read(name: str) -> float:
        if time.monotonic() - cache["at"] > 5:
            try:
                cache["values"] = counts()
            except Exception:
                cache["values"] = {}
            cache["at"] = time.monotonic()
        return float(cache["values"].get(name, math.nan))

    for name, help_text in (("open", "Removal requests received or in review"),
                            ("overdue", "Open removal requests past their 48-hour deadline"),
                            ("due_soon", "Open removal requests due within 6 hours"),
                            ("queue", "Items in the review queue (open or escalated)")):
        metric = "ncii_review_queue_items" if name == "queue" else f"ncii_notices_{name}"
        Gauge(metric, help_text, registry=metrics.registry).set_function(lambda n=name: read(n))


TOKEN_ENV = "NCII_SHIELD_METRICS_TOKEN"
MIN_TOKEN_LENGTH = 16
_FORWARDED = (b"forwarded", b"x-forwarded-for", b"x-real-ip")


class ScrapeGuard:
    """Who may read /metrics: with a token configured (``NCII_SHIELD_METRICS_TOKEN``), whoever sends
    ``Authorization: Bearer <token>``, from anywhere; without one, only a client on this machine that
    comes directly (a loopback address, and no proxy's Forwarded / X-Forwarded-For / X-Real-IP header),
    e.g. a node exporter or Prometheus agent beside the server. The metrics describe the instance
    (request rates per route, index size, removal-request backlog, monitors): not for the world.

    Not an API key: a scraper's credential lives in a Prometheus config file, so it opens /metrics and
    nothing else. Wrong tokens count as failed authentications (``AuthThrottle``)."""

    def __init__(self, token: str | None) -> None:
        if token is not None and len(token) < MIN_TOKEN_LENGTH:
            raise ValueError(f"{TOKEN_ENV} must be at least {MIN_TOKEN_LENGTH} characters "
                             "(e.g. the output of `openssl rand -hex 32`)")
        self._digest = hashlib.sha256(token.encode()).digest() if token else None

    @classmethod
    def from_env(cls) -> ScrapeGuard:
        return cls(os.environ.get(TOKEN_ENV) or None)

    def check(self, request: Request) -> None:
        """Raise Unauthenticated (401) or PermissionDenied (403) unless this request may scrape."""
        if self._digest is not None:
            sent = request.headers.get("authorization", "")
            scheme, _, token = sent.partition(" ")
            given = hashlib.sha256(token.strip().encode()).digest()
            if scheme.lower() != "bearer" or not hmac.compare_digest(given, self._digest):
                from ncii_shield.web.security import client_address

                request.app.state.limits.auth_failures.failed(client_address(request))
                raise Unauthenticated(f"/metrics needs 'Authorization: Bearer <{TOKEN_ENV}>'")
            return
        proxied = any(name in _FORWARDED for name, _ in request.scope.get("headers", ()))
        if proxied or not _is_loopback(request.client.host if request.client else ""):
            raise PermissionDenied(f"/metrics answers only this machine (loopback, not through a proxy) unless "
                                   f"{TOKEN_ENV} is set; then scrape it with that bearer token")


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback
