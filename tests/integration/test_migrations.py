"""The Alembic migrations build exactly the schema the models declare, on SQLite and PostgreSQL
(a column, index or constraint added to one and not the other shows up as a difference)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ncii_shield.core import Shield
from ncii_shield.store.models import Base


def test_migrated_database_matches_the_models(db_url):
    shield = Shield.open(db_url, load_index=False)
    try:
        with shield.db.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        shield.close()
    assert differences == []
