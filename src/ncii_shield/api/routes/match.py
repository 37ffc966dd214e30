"""/v1/match: look up hash strings, or an uploaded photo or video hashed in memory."""

from __future__ import annotations

from collections import Counter
from operator import attrgetter

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ncii_shield.api import bodies
from ncii_shield.api.deps import PrincipalDep, ShieldDep
from ncii_shield.api.schemas import DerivativeOut, ErrorOut, MatchIn, MatchList, MatchOut, MediaMatchOut
from ncii_shield.services.matching import weak

ERRORS = {code: {"model": ErrorOut} for code in (401, 403, 413, 422, 503)}
router = APIRouter(prefix="/v1/match", tags=["match"], responses=ERRORS)


@router.post("", response_model=MatchList, openapi_extra=bodies.documented(MatchIn))
async def match(request: Request, shield: ShieldDep, principal: PrincipalDep) -> JSONResponse:
    """Match one hash, or up to 10,000 under "signals", against every bank the key can see.
    Each match says which query (its index in the request) it answers."""
    body = await bodies.parse(request, MatchIn)
    queries = body.items()
    if len(queries) > 16:  # big batches off the event loop
        found = await run_in_threadpool(shield.matcher.match, principal, queries, threshold=body.threshold)
    else:
        found = shield.matcher.match(principal, queries, threshold=body.threshold)
    count(request, [q.signal_type for q in queries], found)
    if found:
        shield.cases.record_matches([m.signal_id for m in found])
    # Built directly (the shape MatchList documents): a batch's matches skip a second validation.
    return JSONResponse({"matches": [dict(zip(_MATCH_FIELDS, _match_row(m))) for m in found]})


@router.post("/media", response_model=MediaMatchOut)
async def match_media(
    request: Request,
    shield: ShieldDep,
    principal: PrincipalDep,
    file: UploadFile = File(description="a photo or a video; hashed in memory and dropped"),
    dihedral: bool = Query(False, description="also match the photo's 8 rotations/flips"),
    content_id: str | None = Query(None, min_length=1, max_length=200,
                                   description="the platform's id for this upload: its hashes go into the content "
                                               "index that removal requests' copy sweeps search"),
) -> MediaMatchOut:
    """Hash an uploaded photo (PDQ, MD5, SHA-256) or video (vPDQ, MD5, SHA-256) and match it.
    A photo is also compared with registered photos (derivative protection): unedited re-shares come
    back in ``matches`` (signal_type "derivative"), edited derivatives in ``derivatives`` with the
    replaced region. The upload is never written to disk (videos: a RAM-backed temporary file, deleted
    at once)."""
    data = await file.read()
    await file.close()
    checked = await run_in_threadpool(shield.matcher.check_media, principal, data, dihedral=dihedral)
    del data
    hashes, found = checked.hashes, checked.matches
    if content_id is not None:  # notice-and-removal: the upload check feeds the platform content index
        from ncii_shield.services.content import ContentInput

        photo = hashes.content_type == "photo"
        await run_in_threadpool(shield.content.register, principal.tenant_id, [ContentInput(
            content_id, getattr(hashes, "pdq", None) if photo else None, hashes.md5, hashes.sha256,
            media_type="image" if photo else "video")])
    count(request, ["pdq" if hashes.content_type == "photo" else "vpdq", "md5", "sha256"], found)
    for _ in checked.derivatives:
        request.app.state.metrics.matches.labels("derivative").inc()
    if found or checked.derivatives:
        shield.cases.record_matches([m.signal_id for m in found] + [d.signal_id for d in checked.derivatives])
    js = hashes.to_json()
    js.pop("path", None)
    return MediaMatchOut(matches=[MatchOut(**m.to_json()) for m in found], content_type=js.pop("content_type"),
                         hashes=js, weak=weak(hashes),
                         derivatives=[DerivativeOut(**d.to_json()) for d in checked.derivatives])


_MATCH_FIELDS = tuple(MatchOut.model_fields)
_match_row = attrgetter(*_MATCH_FIELDS)  # every field, None included


def count(request: Request, looked_up: list[str], found: list) -> None:
    """Prometheus counters: hashes looked up and matches returned, per signal type."""
    metrics = request.app.state.metrics
    for signal_type, n in Counter(looked_up).items():
        metrics.lookups.labels(signal_type).inc(n)
    for signal_type, n in Counter(m.signal_type for m in found).items():
        metrics.matches.labels(signal_type).inc(n)
