"""/healthz (no key needed) and /metrics (a bearer token, or loopback only: api/metrics.ScrapeGuard)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from ncii_shield.api.deps import ShieldDep
from ncii_shield.api.schemas import Health

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
def healthz(shield: ShieldDep) -> JSONResponse:
    """200 when the database answers and the index is loaded; 503 otherwise."""
    try:
        with shield.db.read() as session:
            session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:
        database = "unavailable"
    body = Health(status="ok" if database == "ok" else "degraded", signals=shield.follower.size(),
                  seq=shield.follower.seq, database=database)
    return JSONResponse(body.model_dump(), status_code=200 if database == "ok" else 503)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text; 401 without the metrics token when one is set, 403 from another machine or
    through a proxy when none is."""
    request.app.state.scrape_guard.check(request)
    return Response(request.app.state.metrics.render(), media_type="text/plain; version=0.0.4")
