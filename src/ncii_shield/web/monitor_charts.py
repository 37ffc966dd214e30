"""Monitors' per-run series as server-side SVG line charts (no script), for the API's dashboard
(``/v1/monitors/dashboard``, API key) and the reviewers' page (``/review/monitors``, login)."""

from __future__ import annotations

from datetime import datetime

from ncii_shield.charts import line_chart
from ncii_shield.services.keys import Principal
from ncii_shield.services.scanning.monitors import MonitorService, MonitorView

SERIES = (("items seen", "items_seen"), ("new items", "new_items"), ("matches", "matches"),
          ("derivatives", "derivatives"))


def monitor_charts(service: MonitorService, principal: Principal, runs: int = 500) -> list[tuple[MonitorView, str]]:
    """Each of the tenant's monitors with the SVG chart of its last ``runs`` runs."""
    charts = []
    for view in service.list(principal):
        rows = service.series(principal, view.id, runs)
        times = [datetime.fromisoformat(r["started_at"]).timestamp() for r in rows]
        series = {name: [(t, r[key]) for t, r in zip(times, rows)] for name, key in SERIES}
        labels = (_minute(rows[0]["started_at"]), _minute(rows[-1]["started_at"])) if rows else None
        charts.append((view, line_chart(series, title=f"Monitor {view.id}: per run", x_labels=labels)))
    return charts


def _minute(iso: str) -> str:
    return iso[:16].replace("T", " ")
