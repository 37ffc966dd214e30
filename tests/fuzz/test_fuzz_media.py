"""The decoder on the corpus photo mutated at random: pixels or a typed MediaError."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ncii_shield.errors import MediaError
from ncii_shield.media.decode import PhotoLimits, decode_photo
from ncii_shield.media.sniff import sniff_content_type
from tests.fuzz.conftest import CORPUS

SEED = (CORPUS / "wee.jpg").read_bytes()


@given(edits=st.lists(st.tuples(st.integers(0, len(SEED) - 1), st.integers(0, 255)), max_size=20),
       cut=st.integers(1, len(SEED)))
def test_decode_mutated_jpeg(edits, cut):
    data = bytearray(SEED)
    for where, value in edits:
        data[where] = value
    try:
        photo = decode_photo(bytes(data[:cut]), limits=PhotoLimits(max_pixels=4_000_000))
        assert photo.rgb.shape[2] == 3
    except MediaError:
        pass


@given(st.binary(max_size=600))
def test_sniff_never_fails(data):
    assert sniff_content_type(data) in (None, "photo", "video")
