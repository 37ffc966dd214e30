"""The database: the source of truth. SQLAlchemy 2 models, repositories and Alembic migrations.

SQLite (WAL) is the embedded default; PostgreSQL is the production database. Every bank change is
recorded in the change log (:mod:`.changes`) with a monotonically increasing sequence number.
"""
