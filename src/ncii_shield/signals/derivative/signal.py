"""The ``derivative`` signal type: a registered photo's signature (see :mod:`.features`).

Values are ``d1:`` + base64 (about 26,000 characters). Two values are the same signal only when
they are equal (distance 0, else 100): signatures are not compared with each other but with
uploaded photos, through :class:`~ncii_shield.index.derivative.DerivativeIndex`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ncii_shield.index.base import SignalIndex
from ncii_shield.media.decode import DecodedPhoto
from ncii_shield.media.sniff import ContentType
from ncii_shield.signals.base import HashResult, PhotoHasher, SignalType
from ncii_shield.signals.derivative import features as F


def _example() -> str:
    """A valid (empty, featureless) signature, built from constants: for contract tests and docs."""
    g = F.GRID
    zeros = np.zeros((g, g), np.float32)
    cells = F.Cells(zeros, zeros, zeros, zeros, np.zeros((g, g), np.uint16))
    return F.encode(F.PhotoFeatures(640, 480, 640, 480, np.zeros((0, 2), np.float32),
                                    np.zeros((0, 32), np.uint8), cells))


class DerivativeSignal(SignalType, PhotoHasher):
    name = "derivative"
    content_types = frozenset({ContentType.PHOTO})
    default_threshold = 0
    examples = (_example(),)
    description = ("signature of a registered photo (keypoints + coarse cell summaries) that flags edited "
                   "derivatives of it; computed by the server from the photo, which is then dropped")

    @classmethod
    def validate(cls, value: str) -> str:
        F.decode(value)
        return value.strip()

    @classmethod
    def distance(cls, a: str, b: str) -> float:
        return 0.0 if a == b else 100.0

    @classmethod
    def hash_photo(cls, photo: DecodedPhoto) -> HashResult:
        """The signature of ``photo``; quality is 0 when the photo is too plain to protect, 50 when its
        protection is limited (little detail), else 100."""
        features = F.photo_features(photo.rgb)
        quality = 0 if F.plain_reason(features) else 50 if F.weak_reason(features) else 100
        return HashResult(F.encode(features), quality)

    @classmethod
    def index_factory(cls) -> Callable[[], SignalIndex]:
        from ncii_shield.index.derivative import DerivativeIndex

        return DerivativeIndex
