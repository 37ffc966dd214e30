"""Prometheus metrics, one registry per app (so tests can run several apps in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ncii_shield.index.follower import IndexFollower


class Metrics:
    def __init__(self, follower: IndexFollower) -> None:
        self.registry = CollectorRegistry()
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
