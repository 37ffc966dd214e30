"""The intake's "protect my face" step (likeness protection, docs/likeness.md): a person enrols 1-5
ordinary photos of their face through their case (case number + PIN). Unlike the intimate images of
the intake, these photos are sent: each is used once, in memory, to compute the face vectors and is
then dropped; the vectors are sealed with the personal-data key and withdrawn with the case.

Works without JavaScript (a plain multipart form); only a case that had many wrong PINs today needs
the browser's proof of work (static/face.js, as the status page). The answer never says anything
about where, or whether, a face was seen: only how many photos were used.
"""

from __future__ import annotations

import threading

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from ncii_shield.errors import InvalidRequest, NciiShieldError, TooLarge, Unavailable
from ncii_shield.services.cases import ProofOfWorkRequired
from ncii_shield.web.pages import _status, render
from ncii_shield.web.security import RateLimiter, check_csrf, client_address

router = APIRouter(include_in_schema=False)

MAX_PHOTOS = 5
MAX_PHOTO_BYTES = 20 * 1024 * 1024
#: enrolments per case per hour (each costs a few seconds of CPU): a person retrying a refused photo
#: has room; a script with a valid case does not get a face-embedding service
CASE_ENROLMENTS_PER_HOUR = 10
_WORKING = threading.BoundedSemaphore(2)  # enrolments computed at once in this process


def _service(request: Request):  # noqa: ANN202 - services.likeness.LikenessService, or None
    """The likeness service (Shield.likeness), or None when likeness protection is not installed or
    not configured here."""
    return request.app.state.shield.likeness


def _case_limiter(request: Request) -> RateLimiter:
    limiter = getattr(request.app.state, "face_case_limiter", None)
    if limiter is None:
        limiter = RateLimiter(rate=CASE_ENROLMENTS_PER_HOUR / 3600, burst=CASE_ENROLMENTS_PER_HOUR)
        request.app.state.face_case_limiter = limiter
    return limiter


def _page(request: Request, code: int = 200, **context) -> HTMLResponse:
    return render(request, "face.html", code, available=_service(request) is not None, max_photos=MAX_PHOTOS,
                  max_mb=MAX_PHOTO_BYTES // (1024 * 1024), **context)


@router.get("/protect/face", response_class=HTMLResponse)
def face_form(request: Request) -> HTMLResponse:
    return _page(request)


@router.post("/protect/face", response_class=HTMLResponse)
async def face_submit(request: Request) -> HTMLResponse:
    case_number, proof, files = "", "", []
    try:
        try:  # at most the form's own fields and MAX_PHOTOS + 1 files are parsed (more is refused below)
            form = await request.form(max_files=MAX_PHOTOS + 1, max_fields=10)
        except HTTPException as exc:  # too many files or fields, or not a form
            raise InvalidRequest(f"this form could not be read ({exc.detail}); choose at most {MAX_PHOTOS} "
                                 "photos and send it again") from None
        check_csrf(request, _text(form.get("csrf")))
        address = client_address(request)
        request.app.state.case_limiter.check(address)
        case_number, pin, proof = _text(form.get("case_number"), 40), _text(form.get("pin"), 40), _text(form.get("proof"), 64)
        service = _service(request)
        if service is None:
            raise Unavailable("face protection is not switched on for this service")
        files = [f for f in form.getlist("photos") if isinstance(f, UploadFile) and (f.filename or f.size)]
        if not files:
            raise InvalidRequest("choose 1 to 5 photos of your face")
        if len(files) > MAX_PHOTOS:
            raise InvalidRequest(f"choose at most {MAX_PHOTOS} photos; you chose {len(files)}")
        if _text(form.get("consent")) != "yes":
            raise InvalidRequest("tick the box to confirm that the photos show you (or the person you are the "
                                 "guardian of)")
        # the case number and PIN are checked before any photo is read or decoded
        shield = request.app.state.shield
        case = await run_in_threadpool(shield.cases.authorise, case_number, pin, address=address,
                                       proof=proof or None)
        _case_limiter(request).check(f"case:{case.id}")
        photos, names = [], []
        for n, f in enumerate(files, 1):
            data = await f.read(MAX_PHOTO_BYTES + 1)
            await f.close()
            name = _name(f.filename, n)
            if len(data) > MAX_PHOTO_BYTES:
                raise TooLarge(f"{name} is larger than {MAX_PHOTO_BYTES // (1024 * 1024)} MB: send a smaller copy")
            if not data:
                raise InvalidRequest(f"{name} is empty")
            photos.append(data)
            names.append(name)
        replaced = await run_in_threadpool(service.case_enrolment, case.id) > 0
        enrolled = await run_in_threadpool(_enrol, service, case.id, photos, names)
        del photos
    except NciiShieldError as exc:
        for f in files:
            await f.close()
        return _again(request, exc, case_number, proof)
    return render(request, "face_done.html", 201, photos=enrolled.photos, replaced=replaced)


def _enrol(service, case_id: int, photos: list[bytes], names: list[str]):  # noqa: ANN001, ANN202
    with _WORKING:
        return service.enrol_case(case_id, photos, names=names)


def _again(request: Request, exc: Exception, case_number: str, proof: str) -> HTMLResponse:
    """The form again with the error (the photos are not kept: the page asks for them again)."""
    if isinstance(exc, ProofOfWorkRequired):
        bits = exc.bits
        message = ("This case had many wrong PINs today, so to keep it safe your browser must do some work before "
                   "the PIN is checked. Enter the PIN again, choose the photos again and wait a few seconds.")
    else:
        bits = request.app.state.shield.cases.policy.bits if proof else None
        message = str(exc)
    return _page(request, _status(exc), error=message, case_number=case_number, proof_bits=bits)


def _text(value, limit: int = 200) -> str:  # noqa: ANN001
    return value[:limit] if isinstance(value, str) else ""


def _name(filename: str | None, n: int) -> str:
    """A file's name as the person chose it, for error messages only (never stored or logged)."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    base = "".join(c for c in base if c.isprintable())[:80]
    return base or f"photo {n}"
