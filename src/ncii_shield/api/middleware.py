"""ASGI middleware: request ids, access logs and metrics, and a cap on request body size."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid

from ncii_shield.api.metrics import Metrics
from ncii_shield.logs import request_id

log = logging.getLogger("ncii_shield.access")


class RequestContext:
    """Gives each request an id (or keeps a sane X-Request-ID), logs it as JSON, counts it."""

    def __init__(self, app, metrics: Metrics) -> None:  # noqa: ANN001
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if 0 < len(incoming) <= 64 and incoming.replace("-", "").isalnum() else uuid.uuid4().hex
        token = request_id.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message) -> None:  # noqa: ANN001
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = list(message.get("headers", [])) + [(b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.observe_request(scope["method"], path, status, elapsed)
            log.info("request", extra={"method": scope["method"], "path": scope["path"], "route": path,
                                       "status": status, "ms": round(elapsed * 1000, 2)})
            request_id.reset(token)


class BodyLimit:
    """Answers 413 when a body is over ``max_bytes`` (by Content-Length or while streaming), and 408
    when a client stops sending its body for ``read_timeout`` seconds (a slow-loris upload)."""

    def __init__(self, app, max_bytes: int, read_timeout: float = 30.0) -> None:  # noqa: ANN001
        self.app = app
        self.max_bytes = max_bytes
        self.read_timeout = read_timeout

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                too_big = False
            if too_big:
                await self._reject(scope, send)
                return
        received = 0
        problem: tuple[int, str, str] | None = None  # set when we cut the body off
        answered = False

        async def limited_receive():  # noqa: ANN202
            nonlocal received, problem
            if problem is not None:
                return {"type": "http.disconnect"}
            try:
                message = await asyncio.wait_for(receive(), self.read_timeout)
            except TimeoutError:
                problem = (408, "RequestTimeout", f"the request body stalled for {self.read_timeout:.0f} s; send it in one go")
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    problem = (413, "TooLarge", "")
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message) -> None:  # noqa: ANN001
            nonlocal answered
            if problem is not None:  # the app's own answer to a cut-off body is replaced by ours
                if not answered and message["type"] == "http.response.start":
                    answered = True
                    await self._reject(scope, send, *problem)
                return
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if problem is None:
                raise
        if problem is not None and not answered:
            await self._reject(scope, send, *problem)

    async def _reject(self, scope, send, status: int = 413, kind: str = "TooLarge", message: str = "") -> None:  # noqa: ANN001
        body = json.dumps({"error": {
            "type": kind,
            "message": message or f"the request body is over {self.max_bytes:,} bytes, the most this server accepts",
            "request_id": scope.get("state", {}).get("request_id"),
        }}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
