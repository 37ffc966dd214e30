"""Reviewer page sessions: opened with a ``reviewer`` (or ``admin``) API key, kept as a random token
in a cookie (the table stores its SHA-256), valid for ``NCII_SHIELD_REVIEW_SESSION_HOURS`` (default
8) and only while the key is not revoked."""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import timedelta

from sqlalchemy import delete, select

from ncii_shield.errors import PermissionDenied
from ncii_shield.services import audit
from ncii_shield.services.audit import as_utc
from ncii_shield.services.keys import KeyService, Principal
from ncii_shield.store.database import Database
from ncii_shield.store.models import ApiKey, ReviewSession, utcnow


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def lifetime() -> timedelta:
    return timedelta(hours=float(os.environ.get("NCII_SHIELD_REVIEW_SESSION_HOURS", "8")))


class ReviewSessions:
    def __init__(self, db: Database, keys: KeyService) -> None:
        self.db = db
        self.keys = keys

    def open(self, api_key: str) -> tuple[str, Principal]:
        """Check the key (Unauthenticated if wrong) and its scope; return (session token, principal)."""
        principal = self.keys.authenticate(api_key)
        if not principal.allows("reviewer"):
            raise PermissionDenied("this key cannot review: it needs the reviewer (or admin) scope")
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self.db.write() as session:
            session.execute(delete(ReviewSession).where(ReviewSession.expires_at < now))
            session.add(ReviewSession(token_hash=_hash(token), key_id=principal.key_id, created_at=now,
                                      expires_at=now + lifetime()))
            audit.append(session, tenant_id=principal.tenant_id, actor=f"key:{principal.key_prefix}",
                         action="review.session_opened", subject="review")
        return token, principal

    def resolve(self, token: str | None) -> Principal | None:
        if not token or len(token) > 100:
            return None
        with self.db.read() as session:
            row = session.execute(select(ReviewSession.expires_at, ApiKey).join(ApiKey, ApiKey.id == ReviewSession.key_id)
                                  .where(ReviewSession.token_hash == _hash(token))).first()
        if row is None:
            return None
        expires, key = row
        if as_utc(expires) < utcnow() or key.revoked_at is not None:
            return None
        principal = Principal(key.id, key.prefix, key.tenant_id, frozenset(key.scopes.split()))
        return principal if principal.allows("reviewer") else None

    def close(self, token: str | None) -> None:
        if token:
            with self.db.write() as session:
                session.execute(delete(ReviewSession).where(ReviewSession.token_hash == _hash(token)))
