"""Secrets the instance must keep to do its work (a feed's access token, the credentials in a
monitor's URL) are sealed before they reach the database, like personal data.

They are encrypted with the same Fernet key as contact details and removal requests' personal data
(:func:`ncii_shield.services.cases.contact_key`: ``NCII_SHIELD_CONTACT_KEY`` or
``<data dir>/contact.key``, outside the database), so a database dump, a backup or a stolen SQLite
file alone does not give them away.

Rows written in clear by versions before sealing keep working: :func:`unseal` returns a value that is
not a Fernet token as it is, and the services seal it again at the row's next write (a feed at its
next pull, a monitor at its next run). A Fernet token always starts with ``gAAAAA`` (version byte
0x80 and a 64-bit timestamp below 2^40); a feed token (``nsf_``), a URL or a path never does.
"""

from __future__ import annotations

from cryptography.fernet import InvalidToken

from ncii_shield.errors import Unavailable

_PREFIX = "gAAAAA"


def is_sealed(stored: str | None) -> bool:
    return bool(stored) and stored.startswith(_PREFIX)


def seal(secret: str) -> str:
    from ncii_shield.services.cases import contact_cipher

    return contact_cipher().encrypt(secret.encode()).decode()


def unseal(stored: str) -> str:
    """The secret held in ``stored``: decrypted if it is sealed, else (a legacy row) ``stored`` itself."""
    if not is_sealed(stored):
        return stored
    from ncii_shield.services.cases import contact_cipher

    try:
        return contact_cipher().decrypt(stored.encode()).decode()
    except InvalidToken as exc:
        raise Unavailable("a secret stored in the database cannot be decrypted with this key: run every "
                          "command with the data directory (--data-dir / NCII_SHIELD_DATA) or "
                          "NCII_SHIELD_CONTACT_KEY that `ncii-shield serve` uses") from exc
