"""The one core object that the CLI, the HTTP API and tests all drive (as Datasette's ``Datasette``).

    shield = Shield.open("sqlite:///data/ncii-shield.db")   # migrates, loads the index
    shield.start()                                           # follow changes from other replicas
    ...
    shield.close()
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ncii_shield.index.follower import IndexFollower
from ncii_shield.services.banks import BankService
from ncii_shield.services.keys import SCOPES, KeyService, Principal
from ncii_shield.services.matching import Matcher
from ncii_shield.store import banks as bank_store
from ncii_shield.store.database import Database, open_database

DEFAULT_TENANT = "default"


def default_data_dir() -> Path:
    return Path(os.environ.get("NCII_SHIELD_DATA", "data"))


def default_db_url() -> str:
    return os.environ.get("NCII_SHIELD_DB") or f"sqlite:///{default_data_dir() / 'ncii-shield.db'}"


@dataclass
class Shield:
    db: Database
    follower: IndexFollower
    banks: BankService
    keys: KeyService
    matcher: Matcher

    @classmethod
    def open(cls, url: str | None = None, *, migrate: bool = True, load_index: bool = True,
             poll_interval: float = 0.05) -> Shield:
        db = open_database(url or default_db_url())
        if migrate:
            db.migrate()
        follower = IndexFollower(db, poll_interval=poll_interval)
        if load_index:
            follower.load()
        shield = cls(db=db, follower=follower, banks=BankService(db, on_change=follower.catch_up),
                     keys=KeyService(db), matcher=Matcher(follower))
        return shield

    def start(self) -> None:
        self.follower.start()

    def close(self) -> None:
        self.follower.stop()
        self.db.dispose()

    def local_principal(self, tenant: str = DEFAULT_TENANT, scopes: tuple[str, ...] = SCOPES) -> Principal:
        """A principal for in-process use (CLI, embedding): no key, the given tenant's rights."""
        with self.db.write() as session:
            tenant_row = bank_store.get_or_create_tenant(session, tenant)
            return Principal(key_id=0, key_prefix="local", tenant_id=tenant_row.id, scopes=frozenset(scopes))
