"""The strip-by-strip PDQ (signals/pdq_strips.py) gives the reference bindings' bits and quality
exactly, for every size and stride, in a bounded amount of memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pdqhash
import pytest

from ncii_shield.signals import pdq_strips

pytestmark = pytest.mark.skipif(not pdq_strips.available(), reason="pdqhash does not export the reference's functions")

SIZES = [(64, 64), (5, 5), (4, 9), (7, 300), (300, 7), (129, 257), (1000, 1), (640, 480), (63, 65), (2000, 33),
         (33, 2000), (1024, 768), (1500, 2001)]


def _image(height: int, width: int, kind: str) -> np.ndarray:
    if kind == "noise":
        return np.random.default_rng(height * 7919 + width).integers(0, 256, (height, width, 3), dtype=np.uint8)
    y = np.linspace(0, 1, height)[:, None, None]
    x = np.linspace(0, 1, width)[None, :, None]
    return (255 * (0.5 + 0.5 * np.sin(7 * x + 3 * y + np.arange(3)))).astype(np.uint8)


@pytest.mark.parametrize("kind", ["noise", "smooth"])
@pytest.mark.parametrize("size", SIZES, ids=[f"{h}x{w}" for h, w in SIZES])
def test_bits_and_quality_equal_the_bindings(size, kind):
    image = _image(*size, kind)
    bits, quality = pdqhash.compute(image)
    (mine,), my_quality = pdq_strips.hash_bits(image)
    assert my_quality == quality
    assert np.array_equal(mine, bits)


@pytest.mark.parametrize("size", [(5, 5), (129, 257), (640, 480)], ids=str)
def test_dihedral_variants_equal_the_bindings(size):
    image = _image(*size, "noise")
    vectors, quality = pdqhash.compute_dihedral(image)
    mine, my_quality = pdq_strips.hash_bits(image, dihedral=True)
    assert my_quality == quality
    assert [v.tolist() for v in mine] == [v.tolist() for v in vectors]


def test_strided_views_hash_as_their_copies():
    """Decoded photos may be views (an RGBX buffer seen as RGB, or turned upright without a copy)."""
    rgbx = _image(700, 900, "noise")
    rgbx = np.concatenate([rgbx, np.zeros((700, 900, 1), dtype=np.uint8)], axis=2)
    for view in (rgbx[:, :, :3], np.rot90(rgbx[:, :, :3], -1), rgbx[::-1, :, :3].transpose(1, 0, 2)):
        (mine,), quality = pdq_strips.hash_bits(view)
        bits, expected = pdqhash.compute(np.ascontiguousarray(view))
        assert (np.array_equal(mine, bits), quality) == (True, expected)


def test_memory_stays_a_few_mb_on_a_large_photo():
    image = _image(3000, 4000, "smooth")  # 12 MP: the bindings' temporaries are ~300 MB
    tracemalloc.start()
    try:
        pdq_strips.hash_bits(image)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, peak


@pytest.mark.parametrize("window", [1, 2, 3, 8, 32, 33])
def test_compiled_row_filter_equals_the_interleaved_accumulate(window):
    """The numba loop and the numpy fallback (used without numba) are the same roundings."""
    if pdq_strips._compiled() is None:
        pytest.skip("numba is not installed")
    values = (np.random.default_rng(window).random((9, 4 * window + 37), dtype=np.float32) * 255).astype(np.float32)
    assert np.array_equal(pdq_strips._box_along_rows(values, window), pdq_strips._box_along_rows_numpy(values, window))
