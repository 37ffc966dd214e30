"""Face signals for likeness protection: find faces, align them on 5 landmarks, embed, compare.

Needs the ``[likeness]`` extra (dlib-bin, face-recognition-models; onnxruntime for an operator's
ONNX model); importing this package does not, so everything else works without it.
"""

from ncii_shield.signals.face.base import (
    Face,
    FaceBox,
    FaceModelUnavailable,
    Located,
    normalize,
    similarity,
)
from ncii_shield.signals.face.model import FaceModel, load_model

__all__ = ["Face", "FaceBox", "FaceModel", "FaceModelUnavailable", "Located", "load_model", "normalize",
           "similarity"]
