"""/v1/banks/{bank}/marks: register a service's visible mark (signature in memory, image dropped)."""

from __future__ import annotations

from fastapi import APIRouter, File, Form, UploadFile, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ncii_shield.api.deps import PrincipalDep, ShieldDep
from ncii_shield.api.schemas import ErrorOut
from ncii_shield.services.marks import MarkService
from ncii_shield.signals.marks.template import MAX_LABEL, MAX_MARK_BYTES

ERRORS = {code: {"model": ErrorOut} for code in (401, 403, 404, 413, 415, 422)}
router = APIRouter(prefix="/v1/banks", tags=["marks"], responses=ERRORS)


class MarkOut(BaseModel):
    name: str = Field(description="the uploaded file's name, echoed back (never stored)")
    signal_id: int
    label: str
    width: int = Field(description="the mark's covered part in the image given, pixels")
    height: int
    keypoints: int


@router.post("/{bank}/marks", status_code=status.HTTP_201_CREATED, response_model=MarkOut)
async def register_mark(
    bank: str,
    shield: ShieldDep,
    principal: PrincipalDep,
    file: UploadFile = File(description="the mark: a logo or watermark cut from the service's output "
                            "(PNG with transparency works best)"),
    label: str = Form(min_length=1, max_length=MAX_LABEL, description="what the mark is, e.g. the service's name"),
) -> MarkOut:
    """Register a known service's visible mark (scope bank:write, in one of the caller's banks).
    Uploads checked with POST /v1/match/media then list it under ``marks`` with its place
    ``[x, y, w, h]`` when it appears anywhere, at any size and opacity >= 30 %. The mark's
    signature is computed in memory; the image is not kept. A flag says the image went through
    that service and sends it to review; it never removes anything by itself."""
    principal.require("bank:write")  # before reading the body
    data = await file.read(MAX_MARK_BYTES + 1)
    await file.close()
    result = await run_in_threadpool(MarkService(shield.banks).add, principal, bank, file.filename or "", data,
                                     label=label)
    return MarkOut(**result.to_json())
