"""Monitors' time series for Prometheus, read from the store at each scrape (so every replica
reports the same numbers, whichever ran the monitor).

A label is never a secret: series are labelled by the monitor's id and by :func:`source_label`, the
source with any userinfo (``user:password@``), query string (tokens) and fragment removed. Labels
travel to every system that stores or shows metrics (Prometheus, Grafana, alert mails)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ncii_shield.store.database import Database

log = logging.getLogger("ncii_shield.monitors")


class MonitorCollector:
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self):  # noqa: ANN201 - prometheus_client's collector protocol
        from ncii_shield.services.scanning.monitors import totals

        labels = ["monitor", "source"]
        runs = CounterMetricFamily("ncii_monitor_runs", "Runs of a scan monitor", labels=labels)
        seen = GaugeMetricFamily("ncii_monitor_items_seen", "Items in the source at the monitor's last run",
                                 labels=labels)
        new = CounterMetricFamily("ncii_monitor_items_scanned", "New items scanned by a monitor", labels=labels)
        matches = CounterMetricFamily("ncii_monitor_matches", "Items matched (exact or near) by a monitor",
                                      labels=labels)
        derivatives = CounterMetricFamily("ncii_monitor_derivatives", "Derivatives found by a monitor", labels=labels)
        errors = CounterMetricFamily("ncii_monitor_errors", "Items a monitor could not scan", labels=labels)
        last = GaugeMetricFamily("ncii_monitor_last_run_timestamp_seconds", "When a monitor last ran", labels=labels)
        try:
            rows = totals(self.db)
        except Exception:  # the database may be away: no monitor series in this scrape
            log.warning("could not read monitor totals for /metrics", exc_info=True)
            rows = []
        for monitor_id, source, n_runs, n_seen, n_new, n_matches, n_derivatives, n_errors, last_at in rows:
            values = [str(monitor_id), source_label(source)]
            runs.add_metric(values, n_runs)
            seen.add_metric(values, n_seen)
            new.add_metric(values, n_new)
            matches.add_metric(values, n_matches)
            derivatives.add_metric(values, n_derivatives)
            errors.add_metric(values, n_errors)
            last.add_metric(values, last_at)
        return [runs, seen, new, matches, derivatives, errors, last]


def source_label(source: str, limit: int = 120) -> str:
    """``source`` fit for a label: a URL as scheme://host[:port]/path (no userinfo, query or
    fragment), a local path as it is; at most ``limit`` characters (its end, where names differ)."""
    if "://" in source:
        try:
            parts = urlsplit(source)
            host = parts.hostname or ""
            port = f":{parts.port}" if parts.port is not None else ""
        except ValueError:  # not a URL after all (a bad port, a stray bracket): keep no part after '//'
            return source.split("://", 1)[0] + "://"
        host = f"[{host}]" if ":" in host else host
        source = f"{parts.scheme}://{host}{port}{parts.path}"
    return source[-limit:]
