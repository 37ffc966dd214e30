"""Fixtures shared by the integration tests."""

from __future__ import annotations

import pytest

from tests.servers import create_pg_database, drop_pg_database, start_server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request, tmp_path_factory):
    """A live ``ncii-shield serve`` over loopback, once on SQLite and once on a fresh PostgreSQL
    database. (Modules that need a differently configured server define their own ``server``.)"""
    tmp = tmp_path_factory.mktemp(request.param)
    url = f"sqlite:///{tmp / 'ncii.db'}" if request.param == "sqlite" else create_pg_database()
    live = start_server(url, tmp)
    yield live
    live.stop()
    if request.param == "postgres":
        drop_pg_database(url)
