"""/v1/banks/{bank}/photos: register photos for derivative protection (signature in memory, photo dropped)."""

from __future__ import annotations

from fastapi import APIRouter, File, Form, Request, UploadFile, status
from starlette.concurrency import run_in_threadpool

from ncii_shield.api.deps import PrincipalDep, ShieldDep
from ncii_shield.api.schemas import ErrorOut, PhotoRegistrationList, PhotoRegistrationOut
from ncii_shield.web.security import client_address

ERRORS = {code: {"model": ErrorOut} for code in (401, 403, 404, 413, 422, 503)}
router = APIRouter(prefix="/v1/banks", tags=["derivatives"], responses=ERRORS)
case_router = APIRouter(prefix="/v1/cases", tags=["cases"], responses={c: {"model": ErrorOut} for c in (403, 409, 413, 422, 429)})


@router.post("/{bank}/photos", status_code=status.HTTP_201_CREATED, response_model=PhotoRegistrationList)
async def register_photos(
    bank: str,
    shield: ShieldDep,
    principal: PrincipalDep,
    files: list[UploadFile] = File(description="up to 50 photos of the person, as posted publicly"),
) -> PhotoRegistrationList:
    """Register a person's public photos so that edited derivatives of them are flagged (scope
    bank:write). Each photo's signature is computed in memory and the photo dropped; photos too plain
    to recognise after edits come back as ``too_plain`` and are not stored, undecodable ones as
    ``error``; photos with little detail are registered with a ``warning`` that their protection is
    limited. Uploads are then checked with POST /v1/match/media."""
    photos = []
    for f in files:
        photos.append((f.filename or "", await f.read()))
        await f.close()
    results = await run_in_threadpool(shield.derivatives.register, principal, bank, photos)
    del photos
    return PhotoRegistrationList(photos=[PhotoRegistrationOut(**r.to_json()) for r in results])


@case_router.post("/photos", status_code=status.HTTP_201_CREATED, response_model=PhotoRegistrationList)
async def register_case_photos(
    request: Request,
    case_number: str = Form(max_length=40),
    pin: str = Form(max_length=40),
    proof: str | None = Form(default=None, max_length=64, description="only when asked: the PIN's proof of work"),
    files: list[UploadFile] = File(description="up to 50 of your public photos to protect against edited fakes"),
) -> PhotoRegistrationList:
    """A person registers their own public photos into their case (case number + PIN in the form
    body, never in the URL). The case number and PIN are checked before any photo is read or
    decoded. Signatures are computed in memory, the photos dropped; withdrawing the case withdraws
    them. No API key; rate-limited per address like every case operation."""
    request.app.state.case_limiter.check(client_address(request))
    shield = request.app.state.shield
    case = await run_in_threadpool(shield.cases.authorise, case_number, pin, address=client_address(request),
                                   proof=proof)
    shield.derivatives.check_case_room(case, len(files))
    photos = []
    for f in files:
        photos.append((f.filename or "", await f.read()))
        await f.close()
    results = await run_in_threadpool(shield.derivatives.register_for_case, shield.cases, case, photos)
    del photos
    return PhotoRegistrationList(photos=[PhotoRegistrationOut(**r.to_json()) for r in results])
