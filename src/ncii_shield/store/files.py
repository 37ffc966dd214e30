"""The instance's files on disk are private to the user that runs it.

The data directory holds the SQLite database (every hash, sealed feed tokens, encrypted personal
data), the key that decrypts personal data (``contact.key``), the feed-signing key and the webhook
secret. Anyone else on the machine who can read them has all of it, so:

* directories we create (the data directory, a database's folder) are 0700;
* a SQLite database is created 0600 before SQLite opens it, and SQLite gives its ``-wal`` and
  ``-shm`` files the database file's mode; a database (or WAL) that an older version left readable
  by group or others is set to 0600 when it is opened;
* key files are written 0600 with ``O_EXCL`` (:func:`write_private`).

A directory that already exists is left as it is: it may be one the operator shares on purpose
(``--data-dir /srv``); the files in it are private either way.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def private_dir(path: Path) -> Path:
    """``path`` as a directory, created 0700 (with its missing parents) if it does not exist."""
    path = Path(path)
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)  # whatever the umask
    return path


def private_sqlite(path: Path) -> None:
    """Create the SQLite file ``path`` 0600 if missing (in a 0700 folder); tighten an existing one."""
    path = Path(path)
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return
    except FileExistsError:
        pass
    for each in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if stat.S_IMODE(each.stat().st_mode) & 0o077:
                os.chmod(each, 0o600)
        except FileNotFoundError:
            continue
        except PermissionError:  # not ours: the operator arranged it; SQLite reports it if it cannot open it
            continue


def write_private(path: Path, data: bytes) -> None:
    """Write a new file readable by this user only (``FileExistsError`` if it exists)."""
    path = Path(path)
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
