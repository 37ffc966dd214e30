"""An operator's own embedding model, as an ONNX file run by onnxruntime (ArcFace-class models).

The face is aligned on 112x112 pixels (or the model's input size) by a similarity transform that
puts the eye centres and the nose base found by the 5-point locator where the ArcFace template puts
them; pixels are scaled as ``(value - mean) / std`` (ArcFace: 127.5, 127.5), RGB unless ``bgr``.
NCHW and NHWC inputs are both read from the model. The first output is the embedding; it is
L2-normalised here. The model file is read once, from a path the operator gives; nothing is
downloaded. ``threshold`` (cosine) must be measured for each model: run bench/likeness_bench.py
with ``--onnx`` and take the value it reports for zero false pairs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ncii_shield.signals.face.base import FaceModelUnavailable, Located, normalize

#: ArcFace's 112x112 template: left eye, right eye (as seen in the image), nose tip, mouth corners
ARCFACE_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                        [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float32)
#: where dlib's 5 landmarks land in that template: eye centres, and the nose base (below the tip)
_TEMPLATE_3 = np.array([ARCFACE_112[0], ARCFACE_112[1], [56.0252, 76.0]], dtype=np.float32)
MAX_MODEL_BYTES = 1 << 30


def dlib_points_to_3(landmarks: np.ndarray) -> np.ndarray:
    """dlib 5-point landmarks (two corners of each eye, nose base) -> image-left eye centre,
    image-right eye centre, nose base."""
    p = np.asarray(landmarks, dtype=np.float32)
    a, b = (p[0] + p[1]) / 2, (p[2] + p[3]) / 2
    left, right = (a, b) if a[0] <= b[0] else (b, a)
    return np.array([left, right, p[4]], dtype=np.float32)


def similarity_lsq(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 similarity (scale, rotation, shift) that maps ``src`` points onto ``dst`` with the
    least squared error over all of them (Umeyama 1991, as InsightFace aligns). A robust fit (RANSAC,
    LMedS) would keep only two of the three points and tilt a three-quarter face, whose nose base
    lies off the eyes' midline, by up to tens of degrees."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    var = float((s0 ** 2).sum()) / len(src)
    if var < 1e-9:  # all points in one place: shift only
        return np.array([[1, 0, mu_d[0] - mu_s[0]], [0, 1, mu_d[1] - mu_s[1]]], dtype=np.float64)
    u, sig, vt = np.linalg.svd(d0.T @ s0 / len(src))
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1] = -1
    rot = u @ np.diag(d) @ vt
    scale = float((sig * d).sum()) / var
    return np.hstack([scale * rot, (mu_d - scale * rot @ mu_s)[:, None]])


def align(rgb: np.ndarray, landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """The face warped onto a ``size`` x ``size`` ArcFace-aligned crop (uint8 RGB): the least-squares
    similarity from the eye centres and nose base to the template."""
    import cv2

    matrix = similarity_lsq(dlib_points_to_3(landmarks), _TEMPLATE_3 * (size / 112.0))
    return cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def inner_face_weight(size: int = 112) -> np.ndarray:
    """Per-pixel weight (size x size x 1) that keeps the inner face of an ArcFace-aligned crop: dlib's
    inner-face ellipse (signals/face/dlib_model.py) carried into the ArcFace template, centre (56, 75),
    half-axes 35 x 45 px at 112 px (eyebrows to chin, cheek to cheek), edge blurred (sigma 2.6 px)."""
    import cv2

    k = size / 112.0
    weight = np.zeros((size, size), np.float32)
    cv2.ellipse(weight, (round(56 * k), round(75 * k)), (round(35 * k), round(45 * k)), 0, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(weight, (0, 0), 2.6 * k)[..., None]


def mask_inner_face(crop: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The crop with everything outside the inner face faded to the inner face's mean colour: a face
    swap keeps the host's hair, ears and head outline, which would otherwise pull the vector towards
    the host."""
    inside = weight[..., 0] > 0.9
    fill = crop[inside].mean(axis=0) if inside.any() else np.array([128, 128, 128], np.float32)
    return np.ascontiguousarray((crop * weight + fill * (1 - weight)).astype(np.uint8))


class OnnxEmbedder:
    """An ONNX embedding model. ``name`` is ``onnx:`` plus the SHA-256 prefix of the file (and of its
    pixel scaling when it is not ArcFace's), so vectors of two different models are never compared."""

    def __init__(self, path: str | Path, *, threshold: float, mean: float = 127.5, std: float = 127.5,
                 bgr: bool = False, threads: int = 1, mask: bool = False) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise FaceModelUnavailable("an ONNX face model needs onnxruntime: pip install 'ncii-shield[likeness]'") from exc
        path = Path(path)
        if not path.is_file():
            raise FaceModelUnavailable(f"face model file {path} does not exist")
        if path.stat().st_size > MAX_MODEL_BYTES:
            raise FaceModelUnavailable(f"face model file {path} is larger than {MAX_MODEL_BYTES >> 20} MiB")
        data = path.read_bytes()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: some exported models warn per initializer
        try:
            self._session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise FaceModelUnavailable(f"{path} is not an ONNX model onnxruntime can run: {exc}") from exc
        inp = self._session.get_inputs()[0]
        shape = list(inp.shape)
        if len(shape) != 4 or not (shape[1] == 3 or shape[3] == 3):
            raise FaceModelUnavailable(f"{path}: the input must be an image batch, NCHW or NHWC with 3 channels; "
                                       f"it is {inp.shape}")
        self._nchw = shape[1] == 3
        hw = shape[2:4] if self._nchw else shape[1:3]
        self.size = hw[0] if isinstance(hw[0], int) and hw[0] > 0 else 112
        self._input = inp.name
        self._fixed_batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        self.mean, self.std, self.bgr = mean, std, bgr
        self._weight = inner_face_weight(self.size) if mask else None
        self.default_threshold = threshold
        digest = hashlib.sha256(data)
        if (mean, std, bgr) != (127.5, 127.5, False):  # other pixels, other vectors: never compared
            digest.update(f"pixels {mean} {std} {bgr}".encode())
        if mask:
            digest.update(b"inner face")
        self.name = "onnx:" + digest.hexdigest()[:16]
        self.dim = int(self._run(np.zeros((1, self.size, self.size, 3), dtype=np.uint8)).shape[-1])

    def _run(self, crops: np.ndarray) -> np.ndarray:
        x = crops[..., ::-1] if self.bgr else crops
        x = (x.astype(np.float32) - self.mean) / self.std
        if self._nchw:
            x = x.transpose(0, 3, 1, 2)
        x = np.ascontiguousarray(x)
        if self._fixed_batch == 1 and len(x) > 1:
            return np.concatenate([self._run_raw(x[i:i + 1]) for i in range(len(x))])
        return self._run_raw(x)

    def _run_raw(self, x: np.ndarray) -> np.ndarray:
        out = self._session.run(None, {self._input: x})[0]
        return np.asarray(out, dtype=np.float32).reshape(len(x), -1)

    def embed(self, rgb: np.ndarray, faces: list[Located], *, mirror: bool = False, jitter: int = 0) -> np.ndarray:
        """Unit vectors, one per face (``jitter`` is dlib's; an ONNX model ignores it)."""
        if not faces:
            return np.zeros((0, getattr(self, "dim", 0)), dtype=np.float32)
        crops = np.stack([align(rgb, f.landmarks, self.size) for f in faces])
        if self._weight is not None:  # masked first, then mirrored (as measured)
            crops = np.stack([mask_inner_face(c, self._weight) for c in crops])
        if mirror:
            crops = np.concatenate([crops, crops[:, :, ::-1]])
        vectors = normalize(self._run(crops))
        if mirror:
            n = len(faces)
            vectors = normalize(vectors[:n] + vectors[n:])
        return vectors
