"""The ``mark`` signal type: a service's visible mark (logo, watermark) as a signature.

Values are ``m1:`` + base64 (see :mod:`.template`): the mark's label, a small normalised template
and its keypoints. Two values are the same signal only when equal (distance 0, else 100): marks are
not compared with each other but looked for in uploaded photos, through
:class:`~ncii_shield.index.marks.MarkIndex`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ncii_shield.index.base import SignalIndex
from ncii_shield.media.sniff import ContentType
from ncii_shield.signals.base import SignalType
from ncii_shield.signals.marks import template as T


def _example() -> str:
    """A valid signature of a drawn mark (a ring with a bar), built from constants: for contract tests."""
    yy, xx = np.mgrid[0:40, 0:64]
    ring = (np.abs(np.hypot(xx - 20, yy - 20) - 14) < 4) | ((xx > 40) & (xx < 60) & (yy > 14) & (yy < 26))
    rgba = np.zeros((40, 64, 4), np.uint8)
    rgba[ring] = (255, 255, 255, 255)
    return T.encode(T.template_from_rgba(rgba, "example mark"))


class MarkSignal(SignalType):
    name = "mark"
    content_types = frozenset({ContentType.PHOTO})
    default_threshold = 0
    examples = (_example(),)
    description = ("a service's visible mark (logo or watermark) with its label: uploads showing it anywhere, "
                   "at any size and opacity >= 30 %, are flagged; computed by the server from the mark image")

    @classmethod
    def validate(cls, value: str) -> str:
        T.decode(value)
        return value.strip()

    @classmethod
    def distance(cls, a: str, b: str) -> float:
        return 0.0 if a == b else 100.0

    @classmethod
    def index_factory(cls) -> Callable[[], SignalIndex]:
        from ncii_shield.index.marks import MarkIndex

        return MarkIndex
