"""Trust metrics for Prometheus, read from the store at each scrape (every replica reports the same):

* ``ncii_trust_quarantined_signals``: signals quarantined now (instance-wide). Alert on any rise::

      - alert: NciiSignalQuarantined
        expr: increase(ncii_trust_quarantined_signals[10m]) > 0
        annotations: {summary: "a hash over-matched or was rejected by reviewers: see docs/trust.md"}

* ``ncii_trust_quarantines``: quarantines ever made (released ones included);
* ``ncii_trust_disabled_signals``: per-tenant disables in force, all tenants together (no tenant label:
  labels travel to every system that shows metrics).

Register with ``registry.register(TrustCollector(db))`` (api/metrics.py's registry).
"""

from __future__ import annotations

import logging

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, or_, select

from ncii_shield.store.database import Database
from ncii_shield.store.models import SignalDisable, SignalQuarantine, utcnow

log = logging.getLogger("ncii_shield.trust")


def totals(db: Database) -> tuple[int, int, int]:
    """(quarantined now, quarantines ever, disables in force)."""
    with db.read() as session:
        now_q = session.scalar(select(func.count()).select_from(SignalQuarantine).where(
            SignalQuarantine.quarantined_at.is_not(None), SignalQuarantine.released_at.is_(None)))
        ever = session.scalar(select(func.count()).select_from(SignalQuarantine).where(
            SignalQuarantine.quarantined_at.is_not(None)))
        disabled = session.scalar(select(func.count()).select_from(SignalDisable).where(
            or_(SignalDisable.until.is_(None), SignalDisable.until > utcnow())))
    return int(now_q or 0), int(ever or 0), int(disabled or 0)


class TrustCollector:
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self):
        try:
            quarantined, ever, disabled = totals(self.db)
        except Exception:  # the database may be away: no trust series in this scrape
            log.warning("could not read trust totals for /metrics", exc_info=True)
            return
        yield GaugeMetricFamily("ncii_trust_quarantined_signals", "Signals quarantined now (review only)",
                                value=quarantined)
        yield CounterMetricFamily("ncii_trust_quarantines", "Signals ever quarantined", value=ever)
        yield GaugeMetricFamily("ncii_trust_disabled_signals", "Per-tenant signal disables in force",
                                value=disabled)
