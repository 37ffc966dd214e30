"""Secrets the instance must keep to do its work (a feed's access token, the credentials in a
monitor's URL) are sealed before they reach the database, like personal data.

They are encrypted with the same Fernet key as contact details and removal requests' personal data
(:func:`contact_key`: ``NCII_SHIELD_CONTACT_KEY`` or ``<data dir>/contact.key``, outside the
database), so a database dump, a backup or a stolen SQLite file alone does not give them away. The
key and its cipher live here, below the services that use them (cases, notices, mail, feeds,
monitors, likeness enrolments).

Rows written in clear by versions before sealing keep working: :func:`unseal` returns a value that is
not a Fernet token as it is, and the services seal it again at the row's next write (a feed at its
next pull, a monitor at its next run). A Fernet token always starts with ``gAAAAA`` (version byte
0x80 and a 64-bit timestamp below 2^40); a feed token (``nsf_``), a URL or a path never does.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from ncii_shield.errors import Unavailable
from ncii_shield.store.files import private_dir

_PREFIX = "gAAAAA"


def contact_cipher() -> Fernet:
    return Fernet(contact_key())


def contact_key() -> bytes:
    """The Fernet key for personal data (``NCII_SHIELD_CONTACT_KEY`` or ``<data dir>/contact.key``)."""
    key = os.environ.get("NCII_SHIELD_CONTACT_KEY")
    if not key:
        path = Path(os.environ.get("NCII_SHIELD_DATA", "data")) / "contact.key"
        if not path.exists():  # first use: write a complete file under a private name, then link it in
            private_dir(path.parent)  # the data directory: 0700 when we create it
            temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key())
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass  # another thread or process created it first: everyone uses that one
            finally:
                os.unlink(temporary)
        key = path.read_text().strip()
    return key.encode() if isinstance(key, str) else key


def is_sealed(stored: str | None) -> bool:
    return bool(stored) and stored.startswith(_PREFIX)


def seal(secret: str) -> str:
    return contact_cipher().encrypt(secret.encode()).decode()


def unseal(stored: str) -> str:
    """The secret held in ``stored``: decrypted if it is sealed, else (a legacy row) ``stored`` itself."""
    if not is_sealed(stored):
        return stored
    try:
        return contact_cipher().decrypt(stored.encode()).decode()
    except InvalidToken as exc:
        raise Unavailable("a secret stored in the database cannot be decrypted with this key: run every "
                          "command with the data directory (--data-dir / NCII_SHIELD_DATA) or "
                          "NCII_SHIELD_CONTACT_KEY that `ncii-shield serve` uses") from exc
