"""Monitors over HTTP: their list, each one's time series, and a dashboard page with SVG plots.

The dashboard is plain HTML with server-side SVG (no script), behind the same API key as the JSON
(``Authorization: Bearer``, scope ``match`` or ``reviewer``). In a browser, reviewers see the same
charts at ``/review/monitors`` after logging in.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from ncii_shield.api.deps import PrincipalDep, ShieldDep
from ncii_shield.api.schemas import ErrorOut
from ncii_shield.services.scanning.monitors import MonitorService
from ncii_shield.web.monitor_charts import monitor_charts

ERRORS = {code: {"model": ErrorOut} for code in (401, 403, 404, 422, 429, 503)}
router = APIRouter(prefix="/v1/monitors", tags=["monitors"], responses=ERRORS)


@router.get("", summary="Monitors of this tenant, with totals")
async def list_monitors(shield: ShieldDep, principal: PrincipalDep) -> list[dict]:
    views = await run_in_threadpool(MonitorService(shield.db).list, principal)
    return [v.to_json() for v in views]


@router.get("/{monitor_id}/runs", summary="One monitor's runs, oldest first: the per-source time series")
async def monitor_runs(shield: ShieldDep, principal: PrincipalDep, monitor_id: int = Path(ge=1, le=2**31 - 1),
                       limit: int = 500) -> list[dict]:
    return await run_in_threadpool(MonitorService(shield.db).series, principal, monitor_id, max(1, min(limit, 5000)))


@router.get("/dashboard", response_class=HTMLResponse, summary="Dashboard: per-source plots (HTML, SVG)")
async def dashboard(shield: ShieldDep, principal: PrincipalDep) -> HTMLResponse:
    charts = await run_in_threadpool(monitor_charts, MonitorService(shield.db), principal)
    sections = [
        f"<section><h2>{escape(view.source)}</h2><p>every {view.every_seconds} s; {view.runs} runs; "
        f"{view.items_scanned:,} items scanned; {view.matches:,} matches; {view.derivatives:,} derivatives"
        + (f"; last error: {escape(view.last_error)}" if view.last_error else "") + f"</p>{chart}</section>"
        for view, chart in charts]
    body = "".join(sections) or "<p>No monitors yet. Add one with <code>ncii-shield monitor add SOURCE --every 1h</code>.</p>"
    html = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Monitors - ncii-shield</title>'
            f'<link rel="stylesheet" href="/static/style.css"></head><body><main><h1>Monitors</h1>{body}</main>'
            f"</body></html>")
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})
