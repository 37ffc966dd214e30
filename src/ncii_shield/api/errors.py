"""Map the project's error tree to HTTP statuses, in one place."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ncii_shield import errors
from ncii_shield.api.bodies import TOO_DEEP

_HTTP_KINDS = {400: "InvalidRequest", 401: "Unauthenticated", 403: "PermissionDenied", 404: "NotFound",
               405: "MethodNotAllowed", 408: "RequestTimeout", 413: "TooLarge", 415: "UnsupportedMediaType",
               422: "InvalidRequest", 429: "TooManyRequests"}

STATUS: list[tuple[type[Exception], int]] = [
    (errors.Unauthenticated, 401),
    (errors.PermissionDenied, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.TooLarge, 413),
    (errors.MediaTooLarge, 413),
    (errors.UnknownSignalType, 422),
    (errors.InvalidRequest, 422),
    (errors.MediaError, 422),
    (errors.TooManyRequests, 429),
    (errors.Unavailable, 503),
]


def error_response(request: Request, status: int, kind: str, message: str, headers: dict | None = None,
                   fields: list[str] | None = None) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    body = {"type": kind, "message": message, "request_id": request_id}
    if fields:  # which request fields were missing or invalid (e.g. an incomplete removal request)
        body["fields"] = fields
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.NciiShieldError)
    async def _domain(request: Request, exc: errors.NciiShieldError) -> JSONResponse:
        status = next((code for cls, code in STATUS if isinstance(exc, cls)), 400)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            headers = {"Retry-After": str(retry_after)}
            if status == 403:  # a locked case: the client may retry after the lock, like a 429
                status = 429
        return error_response(request, status, type(exc).__name__, str(exc), headers, getattr(exc, "fields", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for e in exc.errors()[:10]:
            where = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
            problems.append(f"{where}: {e.get('msg', 'invalid')}")
        return error_response(request, 422, "InvalidRequest", "; ".join(problems))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Errors raised by the framework itself (a body it could not parse, an unknown route, a
        method not allowed) in the same shape as every other error."""
        message = str(exc.detail)
        if isinstance(exc.__cause__, RecursionError):  # a declared body nested past json.loads' limit
            message = TOO_DEEP
        elif exc.status_code == 400 and exc.__cause__ is not None:
            message = "the body could not be read: send JSON (UTF-8) in the documented shape"
        kind = _HTTP_KINDS.get(exc.status_code, "HTTPError")
        return error_response(request, exc.status_code, kind, message, getattr(exc, "headers", None))

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, DataError):
            return error_response(request, 422, "InvalidRequest", "a value is out of the range the database accepts")
        if isinstance(exc, IntegrityError):
            return error_response(request, 409, "Conflict", "a concurrent request changed the same data; retry")
        if "database or disk is full" in str(exc):
            return error_response(request, 507, "InsufficientStorage",
                                  "the database is full (no space left); nothing was written. Free disk space and retry")
        return error_response(request, 503, "Unavailable", "the database is unavailable; retry shortly",
                              {"Retry-After": "1"})
