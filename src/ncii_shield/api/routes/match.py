"""/v1/match: look up hash strings, or an uploaded photo or video hashed in memory."""

from __future__ import annotations

from fastapi import APIRouter, File, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from ncii_shield.api.deps import PrincipalDep, ShieldDep
from ncii_shield.api.schemas import ErrorOut, MatchIn, MatchList, MatchOut, MediaMatchOut
from ncii_shield.services.banks import SignalInput
from ncii_shield.services.matching import weak

ERRORS = {code: {"model": ErrorOut} for code in (401, 403, 413, 422, 503)}
router = APIRouter(prefix="/v1/match", tags=["match"], responses=ERRORS)


@router.post("", response_model=MatchList)
async def match(body: MatchIn, request: Request, shield: ShieldDep, principal: PrincipalDep) -> MatchList:
    """Match one hash, or up to 10,000 under "signals", against every bank the key can see.
    Each match says which query (its index in the request) it answers."""
    queries = [SignalInput(s.signal_type, s.value) for s in body.items()]
    if len(queries) > 16:  # big batches off the event loop
        found = await run_in_threadpool(shield.matcher.match, principal, queries, threshold=body.threshold)
    else:
        found = shield.matcher.match(principal, queries, threshold=body.threshold)
    count(request, [q.signal_type for q in queries], found)
    if found:
        shield.cases.record_matches([m.signal_id for m in found])
    return MatchList(matches=[MatchOut(**m.to_json()) for m in found])


@router.post("/media", response_model=MediaMatchOut)
async def match_media(
    request: Request,
    shield: ShieldDep,
    principal: PrincipalDep,
    file: UploadFile = File(description="a photo or a video; hashed in memory and dropped"),
    dihedral: bool = Query(False, description="also match the photo's 8 rotations/flips"),
) -> MediaMatchOut:
    """Hash an uploaded photo (PDQ, MD5, SHA-256) or video (vPDQ, MD5, SHA-256) and match it.
    The upload is never written to disk (videos: a RAM-backed temporary file, deleted at once)."""
    data = await file.read()
    await file.close()
    hashes, found = await run_in_threadpool(shield.matcher.match_media, principal, data, dihedral=dihedral)
    del data
    count(request, ["pdq" if hashes.content_type == "photo" else "vpdq", "md5", "sha256"], found)
    if found:
        shield.cases.record_matches([m.signal_id for m in found])
    js = hashes.to_json()
    js.pop("path", None)
    return MediaMatchOut(matches=[MatchOut(**m.to_json()) for m in found], content_type=js.pop("content_type"),
                         hashes=js, weak=weak(hashes))


def count(request: Request, looked_up: list[str], found: list) -> None:
    """Prometheus counters: hashes looked up and matches returned, per signal type."""
    metrics = request.app.state.metrics
    for signal_type in looked_up:
        metrics.lookups.labels(signal_type).inc()
    for m in found:
        metrics.matches.labels(m.signal_type).inc()
