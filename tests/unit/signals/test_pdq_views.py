"""PDQ of a photo whose EXIF orientation was applied as a strided view (no copy) equals PDQ of the
turned pixels: the reference bindings read raw memory, so they must be given contiguous pixels."""

from __future__ import annotations

import io

import numpy as np
import pdqhash
import pytest
from PIL import Image, ImageOps

from ncii_shield.media.decode import decode_photo
from ncii_shield.signals.pdq import PdqSignal, bits_to_hex, hash_dihedral


def reference(data: bytes) -> str:
    turned = np.ascontiguousarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    bits, _ = pdqhash.compute(turned)
    return bits_to_hex(bits)


@pytest.mark.parametrize("size", [(800, 502), (2000, 1500)])  # the bindings' path and the strip path
@pytest.mark.parametrize("orientation", [3, 5, 6, 8])
def test_turned_views_hash_like_turned_pixels(size, orientation):
    rng = np.random.default_rng(orientation)
    image = Image.fromarray((rng.random((50, 80, 3)) * 255).astype(np.uint8)).resize(size)
    exif = image.getexif()
    exif[274] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif.tobytes())
    data = out.getvalue()
    photo = decode_photo(data)
    expected = reference(data)
    assert PdqSignal.hash_photo(photo).value == expected
    assert hash_dihedral(photo)["original"].value == expected
