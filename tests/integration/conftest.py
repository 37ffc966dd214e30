"""Fixtures shared by the integration tests."""

from __future__ import annotations

import pytest

from tests.servers import live_server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request, tmp_path_factory):
    """A live ``ncii-shield serve`` over loopback, once on SQLite and once on a fresh PostgreSQL
    database. (Modules that need a differently configured server define their own ``server``.)"""
    with live_server(request.param, tmp_path_factory) as live:
        yield live
