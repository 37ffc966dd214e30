"""Request dependencies: the core object and the caller's principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ncii_shield.core import Shield
from ncii_shield.errors import Unauthenticated
from ncii_shield.web.security import client_address
from ncii_shield.services.keys import Principal, named_prefix

_bearer = HTTPBearer(auto_error=False, description="An API key: Authorization: Bearer nsk_...")


def get_shield(request: Request) -> Shield:
    return request.app.state.shield


def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller's key. Failed attempts are counted per address and per key prefix they name, and
    only failures are refused once too many (429): a valid key is always accepted, whoever failed
    before it from the same address. Every key has its own request rate (429 with Retry-After)."""
    shield: Shield = request.app.state.shield
    limits = request.app.state.limits
    token = credentials.credentials if credentials else None
    try:
        principal = shield.keys.authenticate(token)
    except Unauthenticated:
        limits.auth_failures.failed(client_address(request), named_prefix(token))
        raise
    limits.per_key.check(principal.key_prefix)
    request.state.key_prefix = principal.key_prefix
    return principal


ShieldDep = Annotated[Shield, Depends(get_shield)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]  # a key, if one was sent
