"""Connecting to the database and bringing its schema up to date.

URLs: ``sqlite:///path/to/file.db`` (the embedded default, WAL mode) or ``postgresql://user@host/db``
(psycopg 3). A SQLite file is created readable by this user only (:mod:`.files`).
:func:`open_database` returns a :class:`Database` holding the engine and a session
factory; :meth:`Database.migrate` runs the Alembic migrations shipped in this package.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from ncii_shield.store.files import private_sqlite

MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATE_LOCK = threading.Lock()  # Alembic keeps its context in module globals


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` / ``postgres://`` URLs and use psycopg 3 for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


@dataclass
class Database:
    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    write_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session for one write transaction, committed on success.

        SQLite allows one writer at a time: writes in this process queue on a lock instead of
        failing with "database is locked"; other processes wait on SQLite's busy timeout.
        """
        lock = self.write_lock if self.is_sqlite else _NO_LOCK
        with lock, self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self.sessions() as session:
            yield session

    def migrate(self) -> None:
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with _MIGRATE_LOCK, self.engine.begin() as connection:
            if self.is_postgres:  # two processes starting at once: one migrates, the other waits
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7466723)")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def dispose(self) -> None:
        self.engine.dispose()


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_LOCK = _NoLock()


def open_database(url: str, *, pool_size: int = 10) -> Database:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        import os

        # a cap on the database file (pages of 4 KiB), e.g. to keep room on a small disk; when it
        # is reached writes fail cleanly with "database or disk is full", exactly as a full disk does
        max_pages = os.environ.get("NCII_SHIELD_SQLITE_MAX_PAGES")
        if parsed.database and parsed.database != ":memory:":
            private_sqlite(Path(parsed.database))  # 0600 (its WAL and SHM follow), in a 0700 folder
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # noqa: ANN001
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            if max_pages:
                cursor.execute(f"PRAGMA max_page_count={int(max_pages)}")
            cursor.close()
    else:
        engine = create_engine(
            url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, pool_recycle=600,
            connect_args={"connect_timeout": 10},
        )
    return Database(url=url, engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))
