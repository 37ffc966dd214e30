"""Repository for API keys. Only a SHA-256 of each key's secret is stored; the key is shown once."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ncii_shield.store.models import ApiKey, utcnow


def insert_key(session: Session, *, tenant_id: int, prefix: str, secret_hash: str, scopes: list[str], name: str) -> ApiKey:
    key = ApiKey(tenant_id=tenant_id, prefix=prefix, secret_hash=secret_hash, scopes=" ".join(sorted(scopes)), name=name)
    session.add(key)
    session.flush()
    return key


def find_by_prefix(session: Session, prefix: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))


def list_keys(session: Session, tenant_id: int) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.id)))


def revoke(session: Session, key: ApiKey) -> None:
    key.revoked_at = utcnow()
    session.flush()


def count_keys(session: Session) -> int:
    from sqlalchemy import func

    return int(session.scalar(select(func.count()).select_from(ApiKey)) or 0)
