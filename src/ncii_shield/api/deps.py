"""Request dependencies: the core object and the caller's principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ncii_shield.core import Shield
from ncii_shield.services.keys import Principal

_bearer = HTTPBearer(auto_error=False, description="An API key: Authorization: Bearer nsk_...")


def get_shield(request: Request) -> Shield:
    return request.app.state.shield


def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    shield: Shield = request.app.state.shield
    principal = shield.keys.authenticate(credentials.credentials if credentials else None)
    request.state.key_prefix = principal.key_prefix
    return principal


ShieldDep = Annotated[Shield, Depends(get_shield)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
