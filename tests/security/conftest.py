"""The break-in suite: each test tries an attack on a live server or a service and fails if it works.

Fixtures are shared with the integration tests (a live ``ncii-shield serve`` on SQLite and on a fresh
PostgreSQL database)."""

from __future__ import annotations

from tests.integration.conftest import server  # noqa: F401 - re-exported fixture
