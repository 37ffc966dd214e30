"""API keys: shown once, stored hashed, scoped, revocable; secrets never logged."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from ncii_shield.core import Shield
from ncii_shield.errors import InvalidRequest, PermissionDenied, Unauthenticated
from ncii_shield.logs import JsonFormatter, redact
from ncii_shield.store.models import ApiKey


@pytest.fixture
def shield(tmp_path):
    s = Shield.open(f"sqlite:///{tmp_path / 'k.db'}", load_index=False)
    yield s
    s.close()


def test_key_is_stored_only_as_a_hash(shield):
    key, principal = shield.keys.create(tenant="t", scopes=["match"])
    secret = key.split("_", 2)[2]
    with shield.db.read() as session:
        row = session.scalar(select(ApiKey))
    assert secret not in (row.secret_hash, row.prefix) and len(row.secret_hash) == 64
    assert shield.keys.authenticate(key) == principal


def test_scopes_and_admin(shield):
    key, _ = shield.keys.create(tenant="t", scopes=["match"])
    who = shield.keys.authenticate(key)
    who.require("match")
    with pytest.raises(PermissionDenied, match="bank:write"):
        who.require("bank:write")
    admin = shield.keys.authenticate(shield.keys.create(tenant="t", scopes=["admin"])[0])
    admin.require("bank:write")
    with pytest.raises(InvalidRequest, match="accepted: match, bank:read, bank:write, reviewer, mandatory_report, policy, admin"):
        shield.keys.create(tenant="t", scopes=["root"])
    reviewer = shield.keys.authenticate(shield.keys.create(tenant="t", scopes=["reviewer"])[0])
    reviewer.require("reviewer")
    for scope in ("admin", "bank:write", "match", "mandatory_report"):
        with pytest.raises(PermissionDenied):
            reviewer.require(scope)


@pytest.mark.parametrize("token", [None, "", "Bearer x", "nsk_short_x", "nsk_0123456789_", "xyz_0123456789_abc"])
def test_malformed_tokens(shield, token):
    with pytest.raises(Unauthenticated):
        shield.keys.authenticate(token)


def test_wrong_secret_and_revocation(shield):
    key, principal = shield.keys.create(tenant="t", scopes=["match"])
    prefix = key.split("_")[1]
    with pytest.raises(Unauthenticated):
        shield.keys.authenticate(f"nsk_{prefix}_{'a' * 32}")
    shield.keys.revoke(principal.tenant_id, prefix)
    with pytest.raises(Unauthenticated):
        shield.keys.authenticate(key)


def test_log_lines_redact_keys():
    key = "nsk_0123456789_S3cretS3cretS3cretS3cretS3cret"
    assert "S3cret" not in redact(f"got {key}")
    record = logging.makeLogRecord({"msg": "header was %s", "args": (key,)})
    line = JsonFormatter().format(record)
    assert "S3cret" not in line and "nsk_0123456789_<redacted>" in line
