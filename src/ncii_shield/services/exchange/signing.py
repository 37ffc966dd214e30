"""Ed25519 signing of feed pages over a canonical JSON encoding.

The publisher's private key lives in a file (default ``<data dir>/feed-signing.key``, mode 0600),
never in the database; subscribers pin the public key (32 bytes, base64) out of band.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ncii_shield.errors import InvalidRequest
from ncii_shield.store.files import write_private


class BadSignature(InvalidRequest):
    """A page whose signature does not verify with the pinned key."""


def canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    if path.exists():
        return serialization.load_pem_private_key(path.read_bytes(), password=None)  # type: ignore[return-value]
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    write_private(path, pem)  # 0600, in a 0700 data directory when we create it
    return key


def default_key_path() -> Path:
    return Path(os.environ.get("NCII_SHIELD_FEED_KEY") or Path(os.environ.get("NCII_SHIELD_DATA", "data")) / "feed-signing.key")


def public_key_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def fingerprint(public_b64: str) -> str:
    return hashlib.sha256(base64.b64decode(public_b64)).hexdigest()[:16]


def sign(key: Ed25519PrivateKey, page: dict) -> dict:
    return {"page": page, "signature": base64.b64encode(key.sign(canonical(page))).decode()}


def verify(public_b64: str, envelope: object) -> dict:
    """Return the page if ``envelope`` carries a valid signature by ``public_b64``; else BadSignature."""
    if not isinstance(envelope, dict) or not isinstance(envelope.get("page"), dict) or not isinstance(envelope.get("signature"), str):
        raise BadSignature('not a signed page: expected {"page": {...}, "signature": "<base64>"}')
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64))
        public.verify(base64.b64decode(envelope["signature"], validate=True), canonical(envelope["page"]))
    except (InvalidSignature, ValueError) as exc:
        raise BadSignature("the page's signature does not verify with the pinned publisher key") from exc
    return envelope["page"]
