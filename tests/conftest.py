"""Shared fixtures: paths to the reference vectors shipped in tests/data."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

DATA = Path(__file__).parent / "data"
PDQ_REFERENCE = DATA / "pdq-reference"
ORIGINAL_JPG = PDQ_REFERENCE / "bridge-mods" / "aaa-orig.jpg"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return PDQ_REFERENCE


@pytest.fixture(scope="session")
def original_image() -> Image.Image:
    with Image.open(ORIGINAL_JPG) as im:
        return im.convert("RGB").copy()


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


# --- databases --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_database():
    """A PostgreSQL database for this test session (each xdist worker gets its own); dropped after."""
    from tests.servers import create_pg_database, drop_pg_database

    try:
        url = create_pg_database()
    except Exception as exc:  # never skip silently: the suite promises real PostgreSQL
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is required for the tests (scripts/dev setup starts it): {exc}")
    yield url
    drop_pg_database(url)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    """A fresh, empty database URL of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ncii.db'}"
        return
    from tests.servers import create_pg_database, drop_pg_database

    try:
        url = create_pg_database()
    except Exception as exc:
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is required for the tests: {exc}")
    yield url
    drop_pg_database(url)


@pytest.fixture
def data_shield(db_url, tmp_path, monkeypatch):
    """A Shield on a fresh database of each backend, with its data directory (and so the key that
    encrypts personal data) in a temporary folder."""
    from ncii_shield.core import Shield

    monkeypatch.setenv("NCII_SHIELD_DATA", str(tmp_path))
    monkeypatch.delenv("NCII_SHIELD_CONTACT_KEY", raising=False)
    s = Shield.open(db_url)
    yield s
    s.close()
