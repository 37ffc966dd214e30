"""Page security: CSRF tokens, security headers (strict CSP, no inline script), per-IP rate limits."""

from __future__ import annotations

import hmac
import secrets
import threading
import time

from fastapi import Request

from ncii_shield.errors import PermissionDenied, TooManyRequests

CSRF_COOKIE = "ncii_csrf"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
       "media-src 'self' blob:; worker-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def csp_with_images_from(origins: list[str]) -> str:
    """The CSP with ``img-src`` widened to the given origins (review pages showing a platform's own
    copy after a click); everything else stays as strict."""
    extra = " ".join(o for o in origins if o.startswith(("https://", "http://")) and " " not in o and ";" not in o)
    return CSP.replace("img-src 'self' blob: data:", f"img-src 'self' blob: data: {extra}".rstrip())


def csrf_token(request: Request) -> str:
    """The token for this browser (from its cookie, or a new one the response will set)."""
    token = request.cookies.get(CSRF_COOKIE)
    if not token or len(token) != 43:
        token = secrets.token_urlsafe(32)
    request.state.csrf_token = token
    return token


def check_csrf(request: Request, submitted: str | None) -> None:
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
        raise PermissionDenied("this form has expired or did not come from this site; reload the page and try again")


def set_csrf_cookie(response, request: Request) -> None:  # noqa: ANN001
    token = getattr(request.state, "csrf_token", None)
    if token:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                            path="/")


class SecurityHeaders:
    """Adds the CSP and friends to every response, the API docs (/docs, served from our own assets) included."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:  # noqa: ANN001
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                own_csp = any(k.lower() == b"content-security-policy" for k, _ in headers)  # a page's stricter/own
                message["headers"] = headers + [h for h in HEADERS if not (own_csp and h[0] == b"content-security-policy")]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RateLimiter:
    """Token buckets per client address: ``rate`` requests per second, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> int | None:
        """Take a token for ``key``: None if there was one, else the seconds until there is."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return int((1 - tokens) / self.rate) + 1
            self._buckets[key] = (tokens - 1, now)
            if len(self._buckets) > 100_000:
                self._buckets.clear()
        return None

    def check(self, key: str) -> None:
        retry_after = self.take(key)
        if retry_after is not None:
            raise TooManyRequests("too many requests from this address; wait a little and try again",
                                  retry_after=retry_after)


class AuthThrottle:
    """Throttles whoever guesses credentials, never the owner of a valid one.

    Only failures are counted: per client address, and per key prefix that the failed attempt names
    (``nsk_<prefix>_...``), so both a guesser behind one address and guessers spread over many
    addresses aiming at one key run out. Once either budget is spent, further failures get 429 with
    Retry-After instead of 401. A valid key is checked and accepted whatever the counters say: one
    attacker behind a shared proxy or NAT, or one who knows a key's (public) prefix, cannot lock the
    platforms out. Keys carry 190 random bits, so the throttle is not what keeps them unguessable; it
    bounds the noise and the work that guessing costs, and marks it (429s in the access log).
    """

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.by_address = RateLimiter(rate=per_minute / 60, burst=per_minute)
        self.by_prefix = RateLimiter(rate=per_minute / 60, burst=per_minute)

    def failed(self, address: str, prefix: str | None = None) -> None:
        """Count a failed authentication; raise TooManyRequests when the address or the prefix has
        failed more than ``per_minute`` times in the last minute (both are always counted)."""
        waits = [self.by_address.take(address)]
        if prefix:
            waits.append(self.by_prefix.take(prefix))
        retry_after = max((w for w in waits if w is not None), default=None)
        if retry_after is not None:
            raise TooManyRequests(
                f"too many failed API keys from this address or for this key (more than {self.per_minute} a minute); "
                f"wait {retry_after} s. A valid key is always accepted", retry_after=retry_after)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class IpRateLimit:
    """Caps requests per client address on the whole server (429 with Retry-After), before any work."""

    def __init__(self, app, limiter: RateLimiter) -> None:  # noqa: ANN001
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http" or scope["path"] in ("/healthz", "/metrics"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        try:
            self.limiter.check(client[0] if client else "unknown")
        except TooManyRequests as exc:
            import json

            body = json.dumps({"error": {"type": "TooManyRequests", "message": str(exc),
                                         "request_id": scope.get("state", {}).get("request_id")}}).encode()
            await send({"type": "http.response.start", "status": 429, "headers": [
                (b"content-type", b"application/json"), (b"retry-after", str(exc.retry_after).encode()),
                (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def limit_case_creation(request: Request) -> None:
    """Opening a case (``POST /v1/cases`` and the /protect page): every case operation's per-address
    limit, then the stricter one on new cases (``app.state.case_create_limiter``, built by
    ``create_app``), 429 naming the limit."""
    address = client_address(request)
    request.app.state.case_limiter.check(address)
    limiter: RateLimiter = request.app.state.case_create_limiter
    try:
        limiter.check(address)
    except TooManyRequests as exc:
        request.app.state.shield.cases.flag_flood(address, limit=limiter.burst)  # flagged once an hour per address
        raise TooManyRequests(f"too many new cases from this address (at most {limiter.burst} an hour); wait and "
                              "try again, or add to your existing case", retry_after=exc.retry_after) from None
