"""HMA drop-in: HMA 2.0's (OpenMediaMatch's) paths, parameters and JSON shapes, served by our services.

Code written against HMA works when pointed at ncii-shield, with one addition: every call carries
``Authorization: Bearer <key>`` (HMA has none). Scopes: hashing and lookups ``match``; curation
reads ``bank:read``; curation writes ``bank:write``. Banks are the key's tenant's (see
``services/hma.py`` for the name, content and signal-type mapping). HMA's own errors come back in
HMA's shape ``{"message": ...}``; a missing key or scope answers in ours (``{"error": {...}}``).
Parse and render only.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ncii_shield.api.deps import PrincipalDep, ShieldDep
from ncii_shield.services.hma import URL_REFUSED, HmaError, Upload, parse_banks

# Not in our OpenAPI document: these routes answer in HMA's shapes (errors ``{"message"}``, not ours),
# documented by HMA's own OpenAPI and in docs/interop.md; /openapi.json stays the /v1 contract.
router = APIRouter(tags=["HMA drop-in"], include_in_schema=False)

Banks = Query(None, description="comma-separated bank names to restrict the lookup to")
ContentId = Annotated[int, Path(ge=0, le=2**63 - 1, description="the content id (a signal id)")]


async def _call(fn, *args: Any, status: int = 200, **kw: Any) -> JSONResponse:  # noqa: ANN001
    try:
        body = await run_in_threadpool(fn, *args, **kw)
    except HmaError as exc:
        return JSONResponse({"message": exc.message}, status_code=exc.status)
    return JSONResponse(body, status_code=status)


def _refused(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (ValueError, RecursionError):
        raise HmaError(400, "the body must be JSON") from None


async def _form(request: Request) -> tuple[list[Upload], dict[str, str]]:
    """A multipart body's files (field name, bytes) and text fields."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return [], {}
    form = await request.form()
    uploads, fields = [], {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            uploads.append(Upload(key, await value.read()))
        else:
            fields[key] = value
    await form.close()
    return uploads, fields


# -- hashing: blueprints/hashing.py ------------------------------------------------------------

@router.get("/h/hash")
async def hash_url(principal: PrincipalDep, url: str = Query(...)) -> JSONResponse:
    """HMA fetches ``url``; ncii-shield does not fetch URLs for hashing: 400 in HMA's shape."""
    principal.require("match")
    return _refused(400, URL_REFUSED)


@router.post("/h/hash")
async def hash_upload(request: Request, shield: ShieldDep, principal: PrincipalDep) -> JSONResponse:
    """One file as multipart/form-data, its field named ``photo`` or ``video`` (scope match)."""
    principal.require("match")
    uploads, _ = await _form(request)
    return await _call(shield.hma.hash_uploads, uploads, request.query_params.get("types"))


# -- matching: blueprints/matching.py ----------------------------------------------------------

@router.get("/m/raw_lookup")
async def raw_lookup(shield: ShieldDep, principal: PrincipalDep, signal: str = Query(...),
                     signal_type: str = Query(...), banks: str | None = Banks,
                     include_distance: bool = Query(False)) -> JSONResponse:
    return await _call(shield.hma.raw_lookup, principal, signal, signal_type, parse_banks(banks),
                       include_distance)


@router.get("/m/lookup")
async def lookup(shield: ShieldDep, principal: PrincipalDep, url: str | None = None, signal: str | None = None,
                 signal_type: str | None = None, banks: str | None = Banks, content_type: str | None = None,
                 types: str | None = None, seed: str | None = None, bypass_coinflip: bool = False) -> JSONResponse:
    """By hash (``signal`` and ``signal_type``): ``{"BANK": [{"bank_content_id", "distance"}]}``."""
    principal.require("match")
    if url:
        return _refused(400, URL_REFUSED)
    if not signal or not signal_type:
        return _refused(400, "Either url or both signal and signal_type are required")
    return await _call(shield.hma.lookup, principal, signal, signal_type, parse_banks(banks))


@router.post("/m/lookup")
async def lookup_upload(request: Request, shield: ShieldDep, principal: PrincipalDep) -> JSONResponse:
    """An uploaded file (field ``photo`` or ``video``): ``{"<signal type>": {"BANK": [...]}}``."""
    principal.require("match")
    uploads, _ = await _form(request)
    return await _call(shield.hma.lookup_media, principal, uploads,
                       parse_banks(request.query_params.get("banks")))


@router.post("/m/compare")
async def compare(request: Request, shield: ShieldDep, principal: PrincipalDep) -> JSONResponse:
    try:
        body = await _json(request)
    except HmaError as exc:
        return _refused(exc.status, exc.message)
    return await _call(shield.hma.compare, principal, body)


@router.get("/m/index/status")
async def index_status(shield: ShieldDep, principal: PrincipalDep, signal_type: str | None = None) -> JSONResponse:
    return await _call(shield.hma.index_status, principal, signal_type)


# -- curation: blueprints/curation.py ----------------------------------------------------------

@router.get("/c/banks")
async def list_banks(shield: ShieldDep, principal: PrincipalDep) -> JSONResponse:
    return await _call(shield.hma.list_banks, principal)


@router.post("/c/banks")
async def create_bank(request: Request, shield: ShieldDep, principal: PrincipalDep) -> JSONResponse:
    """``{"name", "enabled_ratio"?, "enabled"?}`` -> 201 ``{"name", "matching_enabled_ratio"}``."""
    principal.require("bank:write")
    try:
        body = await _json(request)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise HmaError(422, "name: field required (a string)")
    except HmaError as exc:
        return _refused(exc.status, exc.message)
    ratio = body.get("enabled_ratio", 1.0)
    return await _call(shield.hma.create_bank, principal, body["name"],
                       ratio if isinstance(ratio, (int, float)) or ratio is None else -1,
                       body.get("enabled"), status=201)


@router.get("/c/bank/{bank_name}")
async def get_bank(bank_name: str, shield: ShieldDep, principal: PrincipalDep) -> JSONResponse:
    return await _call(shield.hma.get_bank, principal, bank_name)


@router.put("/c/bank/{bank_name}")
async def update_bank(bank_name: str, request: Request, shield: ShieldDep, principal: PrincipalDep) -> JSONResponse:
    principal.require("bank:write")
    try:
        body = await _json(request)
        if not isinstance(body, dict):
            raise HmaError(400, "the body must be a JSON object")
    except HmaError as exc:
        return _refused(exc.status, exc.message)
    ratio = body.get("enabled_ratio")
    return await _call(shield.hma.update_bank, principal, bank_name, new_name=body.get("name"),
                       enabled=body.get("enabled"),
                       enabled_ratio=ratio if ratio is None or isinstance(ratio, (int, float)) else -1)


@router.delete("/c/bank/{bank_name}")
async def delete_bank(bank_name: str, shield: ShieldDep, principal: PrincipalDep) -> JSONResponse:
    return await _call(shield.hma.delete_bank, principal, bank_name)


@router.post("/c/bank/{bank_name}/signal")
async def add_signals(bank_name: str, request: Request, shield: ShieldDep, principal: PrincipalDep) -> JSONResponse:
    """``{"pdq": "<hash>", "note"?}`` -> ``{"id", "signals"}`` (HMA answers 200)."""
    principal.require("bank:write")
    try:
        body = await _json(request)
    except HmaError as exc:
        return _refused(exc.status, exc.message)
    return await _call(shield.hma.add_signals, principal, bank_name, body)


@router.post("/c/bank/{bank_name}/content")
async def add_content(bank_name: str, request: Request, shield: ShieldDep, principal: PrincipalDep) -> JSONResponse:
    """A multipart upload (field ``photo`` or ``video``; form fields ``note`` and ``metadata`` JSON)."""
    principal.require("bank:write")
    uploads, fields = await _form(request)
    metadata: Any = None
    if "metadata" in fields:
        try:
            metadata = json.loads(fields["metadata"])
        except ValueError:
            return _refused(400, "metadata form field must be valid JSON")
    return await _call(shield.hma.add_media, principal, bank_name, uploads,
                       url=request.query_params.get("url"), types=request.query_params.get("types"),
                       note=fields.get("note"), metadata=metadata)


@router.get("/c/bank/{bank_name}/content/{content_id}")
async def get_content(bank_name: str, content_id: ContentId, shield: ShieldDep, principal: PrincipalDep,
                      include_signals: str = "false", include_metadata: str = "true") -> JSONResponse:
    return await _call(shield.hma.get_content, principal, bank_name, content_id,
                       include_signals=include_signals.lower() == "true",
                       include_metadata=include_metadata.lower() == "true")


@router.put("/c/bank/{bank_name}/content/{content_id}")
async def update_content(bank_name: str, content_id: ContentId, request: Request, shield: ShieldDep,
                         principal: PrincipalDep) -> JSONResponse:
    principal.require("bank:write")
    try:
        body = await _json(request)
    except HmaError as exc:
        return _refused(exc.status, exc.message)
    return await _call(shield.hma.update_content, principal, bank_name, content_id, body)


@router.delete("/c/bank/{bank_name}/content/{content_id}")
async def delete_content(bank_name: str, content_id: ContentId, shield: ShieldDep, principal: PrincipalDep) -> JSONResponse:
    return await _call(shield.hma.delete_content, principal, bank_name, content_id)
