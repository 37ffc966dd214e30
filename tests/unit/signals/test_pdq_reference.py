"""PDQ is bit-exact with the reference implementation on every reference vector."""

from __future__ import annotations

import csv

import pytest

from ncii_shield.media.decode import decode_photo
from ncii_shield.signals.pdq import DIHEDRAL_VARIANTS, PdqSignal, hash_dihedral
from tests.conftest import PDQ_REFERENCE

ROWS = list(csv.DictReader(open(PDQ_REFERENCE / "expected.tsv"), delimiter="\t"))


def test_reference_table_is_complete():
    assert len(ROWS) == 40
    assert {r["file"].split("/")[0] for r in ROWS} >= {"bridge-mods", "misc-images", "reg-test-input"}


@pytest.mark.parametrize("row", ROWS, ids=[r["file"] for r in ROWS])
def test_stored_pixels_hash_and_quality_match_reference(row):
    photo = decode_photo((PDQ_REFERENCE / row["file"]).read_bytes(), apply_orientation=False)
    result = PdqSignal.hash_photo(photo)
    assert (result.value, result.quality) == (row["pdq_stored_pixels"], int(row["quality"]))


@pytest.mark.parametrize("row", ROWS, ids=[r["file"] for r in ROWS])
def test_exif_oriented_hash_and_quality_match_reference(row):
    photo = decode_photo((PDQ_REFERENCE / row["file"]).read_bytes())
    result = PdqSignal.hash_photo(photo)
    assert (result.value, result.quality) == (row["pdq_exif_oriented"], int(row["quality_exif_oriented"]))


def test_exif_rotated_file_differs_between_the_two_columns():
    """Guards the test above: orientation must really change something for exif-rotn-6."""
    row = next(r for r in ROWS if r["file"].endswith("exif-rotn-6.jpg"))
    assert row["pdq_stored_pixels"] != row["pdq_exif_oriented"]


DIH = PDQ_REFERENCE / "reg-test-input" / "dih"
DIH_FILES = {
    "original": "bridge-1-original.jpg",
    "rotate90": "bridge-2-rotate-90.jpg",
    "rotate180": "bridge-3-rotate-180.jpg",
    "rotate270": "bridge-4-rotate-270.jpg",
    "flipx": "bridge-5-flipx.jpg",
    "flipy": "bridge-6-flipy.jpg",
    "flip_minus1": "bridge-8-flip-minus-1.jpg",
}


@pytest.mark.parametrize("variant", list(DIH_FILES))
def test_dihedral_variant_is_near_the_transformed_file(variant):
    original = decode_photo((DIH / "bridge-1-original.jpg").read_bytes())
    variants = hash_dihedral(original)
    assert list(variants) == list(DIHEDRAL_VARIANTS)
    transformed = PdqSignal.hash_photo(decode_photo((DIH / DIH_FILES[variant]).read_bytes())).value
    distances = {name: PdqSignal.distance(r.value, transformed) for name, r in variants.items()}
    assert distances[variant] <= 10
    # and it is the *right* variant: every other one is far away
    assert all(d > 60 for name, d in distances.items() if name != variant), distances


def test_flip_plus1_is_the_transpose(original_image):
    """No reference file exists for flip_plus1; compare with a transposed copy made here."""
    from PIL import Image

    from tests.conftest import encode

    variants = hash_dihedral(decode_photo(encode(original_image, "PNG")))
    transposed = original_image.transpose(Image.Transpose.TRANSPOSE)
    value = PdqSignal.hash_photo(decode_photo(encode(transposed, "PNG"))).value
    assert PdqSignal.distance(variants["flip_plus1"].value, value) <= 10
