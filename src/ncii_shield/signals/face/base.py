"""What a face signal is: a face found in a photo, its 5 landmarks and its embedding.

A face model has two parts, a *locator* (find faces and their 5 landmarks) and an *embedder* (turn
an aligned face into a unit vector); two faces of one person have a high cosine similarity::

    model = load_model()                       # dlib's public-domain models (the [likeness] extra)
    faces = model.faces(rgb)                   # every face, largest first
    score = similarity(faces[0].embedding, enrolled)   # cosine, -1..1

Embeddings are biometric data. :class:`Face` never shows its embedding in ``repr`` or ``str``, so
a face logged by mistake does not put the vector in a log file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ncii_shield.errors import Unavailable


class FaceModelUnavailable(Unavailable):
    """The face model cannot be loaded: the [likeness] extra is missing or a model file is wrong."""


@dataclass(frozen=True)
class FaceBox:
    """A face's box in the photo's pixels: left, top, width, height."""

    x: int
    y: int
    w: int
    h: int

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]

    def iou(self, other: FaceBox) -> float:
        ix = max(0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.w * self.h + other.w * other.h - inter
        return inter / union if union else 0.0


@dataclass(frozen=True, repr=False)
class Located:
    """A face the locator found: box, 5 landmarks (dlib order: right eye outer, right eye inner, left
    eye outer, left eye inner, nose base; as (x, y) in the photo's pixels) and detector score."""

    box: FaceBox
    landmarks: np.ndarray  # (5, 2) float32
    score: float = 0.0

    def __repr__(self) -> str:
        return f"Located(box={self.box}, score={self.score:.2f})"


@dataclass(frozen=True, repr=False, eq=False)
class Face:
    """A located face with its embedding (unit L2 norm, float32)."""

    box: FaceBox
    landmarks: np.ndarray = field(repr=False)
    embedding: np.ndarray = field(repr=False)
    score: float = 0.0

    def __repr__(self) -> str:  # never the embedding: it is biometric data
        return f"Face(box={self.box}, score={self.score:.2f}, embedding=<{self.embedding.shape[0]}-d hidden>)"

    __str__ = __repr__


class Locator(Protocol):
    def locate(self, rgb: np.ndarray, *, min_face: int = 48) -> list[Located]: ...


class Embedder(Protocol):
    name: str  # stored with each enrolled embedding: a vector is compared only with its model's
    dim: int
    #: cosine similarity at or above which two faces are taken as one person (measured; see docs)
    default_threshold: float

    def embed(self, rgb: np.ndarray, faces: list[Located], *, mirror: bool = False,
              jitter: int = 0) -> np.ndarray: ...


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (float32)."""
    v = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(norms, 1e-12)


def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray | float:
    """Cosine similarity of unit vectors: a (d,) or (n, d) against b (d,) or (m, d)."""
    out = np.asarray(a, dtype=np.float32) @ np.asarray(b, dtype=np.float32).T
    return float(out) if np.ndim(out) == 0 else out
