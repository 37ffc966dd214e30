"""A face model = a locator plus an embedder; :func:`load_model` builds the configured one."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ncii_shield.signals.face.base import Embedder, Face, Locator


class FaceModel:
    """Find every face of a photo and embed it::

        model = load_model()
        for face in model.faces(rgb):
            print(face.box, similarity(face.embedding, enrolled))
    """

    def __init__(self, locator: Locator, embedder: Embedder) -> None:
        self.locator = locator
        self.embedder = embedder

    @property
    def name(self) -> str:
        return self.embedder.name

    @property
    def dim(self) -> int:
        return self.embedder.dim

    @property
    def default_threshold(self) -> float:
        return self.embedder.default_threshold

    def faces(self, rgb: np.ndarray, *, min_face: int = 48, mirror: bool = False, max_faces: int = 32) -> list[Face]:
        """Faces about ``min_face`` px tall or larger, largest first, at most ``max_faces``."""
        rgb = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
        located = [f for f in self.locator.locate(rgb, min_face=min_face) if f.box.h >= min_face * 0.8]
        located = located[:max_faces]
        vectors = self.embedder.embed(rgb, located, mirror=mirror)
        return [Face(f.box, f.landmarks, v, f.score) for f, v in zip(located, vectors)]


_DEFAULT: FaceModel | None = None


def load_model(onnx_path: str | Path | None = None, *, onnx_threshold: float | None = None,
               work_side: int = 640, onnx_mean: float = 127.5, onnx_std: float = 127.5,
               onnx_bgr: bool = False, onnx_mask: bool = False) -> FaceModel:
    """dlib's public-domain model (cached, one per process), or an operator's ONNX embedder on dlib's
    locator, fed ``(pixel - onnx_mean) / onnx_std`` (ArcFace's 127.5 / 127.5, RGB, unless the model
    wants others: OpenCV Zoo's SFace normalises inside its graph, so 0 / 1); ``onnx_mask``: only the
    inner face is embedded (:func:`~ncii_shield.signals.face.onnx_model.mask_inner_face`). Raises
    :class:`FaceModelUnavailable` when the [likeness] extra is missing."""
    global _DEFAULT
    from ncii_shield.signals.face.dlib_model import DlibLocator, DlibResnetEmbedder

    if onnx_path is not None:
        from ncii_shield.signals.face.onnx_model import OnnxEmbedder

        if onnx_threshold is None:
            raise ValueError("an ONNX face model needs its threshold (cosine), measured with bench/likeness_bench.py")
        return FaceModel(DlibLocator(work_side=work_side),
                         OnnxEmbedder(onnx_path, threshold=onnx_threshold, mean=onnx_mean, std=onnx_std,
                                      bgr=onnx_bgr, mask=onnx_mask))
    if _DEFAULT is None or getattr(_DEFAULT.locator, "work_side", None) != work_side:
        _DEFAULT = FaceModel(DlibLocator(work_side=work_side), DlibResnetEmbedder())
    return _DEFAULT
