"""Property tests: whatever the bytes, the decoder returns pixels or raises one of its typed errors."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ncii_shield.errors import MediaError
from ncii_shield.media.decode import PhotoLimits, decode_photo
from tests.conftest import ORIGINAL_JPG, encode

LIMITS = PhotoLimits(max_pixels=4_000_000, max_bytes=8 * 1024 * 1024)


def _small_seeds() -> list[bytes]:
    with Image.open(ORIGINAL_JPG) as im:
        small = im.convert("RGB").resize((64, 48))
    seeds = [encode(small, f) for f in ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP")]
    seeds.append(encode(small, "HEIF", quality=50))
    seeds.append(encode(small, "AVIF", quality=50))
    return seeds


SEEDS = _small_seeds()


def _decode_is_safe(data: bytes) -> None:
    try:
        photo = decode_photo(data, limits=LIMITS)
    except MediaError as exc:
        assert str(exc), "typed errors carry a message"
    else:
        assert photo.rgb.ndim == 3 and photo.rgb.shape[2] == 3


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_random_bytes(data):
    _decode_is_safe(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(SEEDS),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=12),
    cut=st.one_of(st.none(), st.floats(0.05, 1.0)),
)
def test_mutated_real_files(seed, edits, cut):
    data = bytearray(seed)
    for where, value in edits:
        data[int(where * len(data))] = value
    if cut is not None:
        data = data[: max(1, int(cut * len(data)))]
    _decode_is_safe(bytes(data))


@settings(max_examples=100, deadline=None)
@given(seed=st.sampled_from(SEEDS), prefix=st.binary(min_size=1, max_size=16))
def test_garbage_prefix(seed, prefix):
    _decode_is_safe(prefix + seed)


def test_seeds_decode():
    for seed in SEEDS:
        assert decode_photo(seed).rgb.shape == (48, 64, 3)
