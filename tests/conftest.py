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
