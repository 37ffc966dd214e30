"""Scoped API keys: created with a secret shown once, stored as a SHA-256 of that secret.

A key looks like ``nsk_<prefix>_<secret>``: the prefix (public, 10 characters) finds the row, the
secret (32 random URL-safe characters, 190 bits) is compared in constant time with the stored hash.
A slow password hash is not needed for secrets this long; a fast one keeps every request cheap.

Scopes: ``match`` (look up hashes), ``bank:read`` (read a bank's signals back: values, metadata,
withdrawals), ``bank:write`` (add and withdraw signals, create banks; implies ``bank:read``),
``reviewer`` (read the review queue and removal requests, decide; see services/review.py),
``mandatory_report`` (with ``reviewer``: see and decide the ``mandatory_report`` items an under-18
case's hash makes, and export their report drafts; reviewers without it never see them),
``policy`` (set the tenant's review-priority rules, services/policy_rules.py) and ``admin``
(everything, including keys, bank settings and the audit export). A key sees only its own
tenant's banks, plus the banks other tenants share for matching.

Matching never needs to read a bank: a ``match`` or ``reviewer`` key learns which signal matched
(bank and id), never the values banked, so a leaked upload-checker key does not leak the bank.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from ncii_shield.errors import InvalidRequest, PermissionDenied, Unauthenticated
from ncii_shield.store import banks as bank_store
from ncii_shield.store import keys as key_store
from ncii_shield.store.database import Database

SCOPES = ("match", "bank:read", "bank:write", "reviewer", "mandatory_report", "policy", "admin")
IMPLIED = {"bank:write": frozenset({"bank:read"})}  # admin implies every scope (Principal.allows)
KEY_PREFIX = "nsk"
_CACHE_SECONDS = 5.0  # how long a revoked key may still be accepted by a replica


@dataclass(frozen=True)
class Principal:
    key_id: int
    key_prefix: str
    tenant_id: int
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return ("admin" in self.scopes or scope in self.scopes
                or any(scope in IMPLIED.get(held, ()) for held in self.scopes))

    def require(self, scope: str) -> None:
        if not self.allows(scope):
            raise PermissionDenied(
                f"this key has scopes {sorted(self.scopes)}; this operation needs {scope!r}"
            )


def validate_scopes(scopes: list[str]) -> list[str]:
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise InvalidRequest(f"unknown scopes {bad}; accepted: {', '.join(SCOPES)}")
    return sorted(set(scopes))


def named_prefix(token: str | None) -> str | None:
    """The key prefix that ``token`` names (``nsk_<prefix>_...``), if it is shaped like a key: what a
    failed attempt is counted against besides its address (see web/security.AuthThrottle)."""
    parts = (token or "").strip().split("_", 2)
    if len(parts) == 3 and parts[0] == KEY_PREFIX and len(parts[1]) == 10 and parts[1].isascii():
        return parts[1]
    return None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyService:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[str, tuple[float, Principal | None, str]] = {}
        self._lock = threading.Lock()

    def create(self, *, tenant: str, scopes: list[str], name: str = "") -> tuple[str, Principal]:
        """Create a key; returns (the key — shown once, never stored —, its principal)."""
        scopes = validate_scopes(scopes)
        prefix = secrets.token_hex(5)
        secret = secrets.token_urlsafe(24)
        with self.db.write() as session:
            tenant_row = bank_store.get_or_create_tenant(session, tenant)
            row = key_store.insert_key(session, tenant_id=tenant_row.id, prefix=prefix,
                                       secret_hash=_hash(secret), scopes=scopes, name=name)
            principal = Principal(row.id, prefix, tenant_row.id, frozenset(scopes))
        return f"{KEY_PREFIX}_{prefix}_{secret}", principal

    def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise Unauthenticated("an API key is required: send 'Authorization: Bearer <key>'")
        parts = token.strip().split("_", 2)
        if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 10:
            raise Unauthenticated("the API key is malformed; keys look like nsk_<10 chars>_<secret>")
        _, prefix, secret = parts
        now = time.monotonic()
        cached = self._cache.get(prefix)
        if cached is None or now - cached[0] > _CACHE_SECONDS:
            with self.db.read() as session:
                row = key_store.find_by_prefix(session, prefix)
                if row is None or row.revoked_at is not None:
                    cached = (now, None, "")
                else:
                    cached = (now, Principal(row.id, prefix, row.tenant_id, frozenset(row.scopes.split())), row.secret_hash)
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[prefix] = cached
        _, principal, stored = cached
        if principal is None or not hmac.compare_digest(stored, _hash(secret)):
            raise Unauthenticated("the API key is not valid (wrong, revoked or unknown)")
        return principal

    def revoke(self, tenant_id: int, prefix: str) -> None:
        from ncii_shield.errors import NotFound

        with self.db.write() as session:
            row = key_store.find_by_prefix(session, prefix)
            if row is None or row.tenant_id != tenant_id:
                raise NotFound(f"no key {prefix!r} in this tenant")
            key_store.revoke(session, row)
        self._cache.pop(prefix, None)

    def any_keys(self) -> bool:
        with self.db.read() as session:
            return key_store.count_keys(session) > 0
