"""Request dependencies: the core object and the caller's principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ncii_shield.core import Shield
from ncii_shield.errors import Unauthenticated
from ncii_shield.web.security import client_address
from ncii_shield.services.keys import Principal

_bearer = HTTPBearer(auto_error=False, description="An API key: Authorization: Bearer nsk_...")


def get_shield(request: Request) -> Shield:
    return request.app.state.shield


def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller's key. Failed attempts are limited per address (brute force gets 429), and every
    key has its own request rate (429 with Retry-After)."""
    shield: Shield = request.app.state.shield
    address = client_address(request)
    limits = request.app.state.limits
    limits.auth_failures.peek(address)  # an address that failed too often is refused outright
    try:
        principal = shield.keys.authenticate(credentials.credentials if credentials else None)
    except Unauthenticated:
        limits.auth_failures.check(address)
        raise
    limits.per_key.check(principal.key_prefix)
    request.state.key_prefix = principal.key_prefix
    return principal


ShieldDep = Annotated[Shield, Depends(get_shield)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]  # a key, if one was sent
