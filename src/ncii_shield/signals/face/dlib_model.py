"""The default face model: dlib's HOG face detector, its 5-point landmarks and its ResNet embedding.

The weights ship inside the registry package ``face-recognition-models`` (public domain / CC0 1.0,
see its LICENSE; the package also holds dlib's 68-point predictor, whose training data forbid
commercial use: it is never loaded here) and run on ``dlib-bin``. Both come with the ``[likeness]``
extra; nothing is downloaded at run time. The package's own ``__init__`` needs ``pkg_resources``, so
the files are located with :func:`importlib.util.find_spec`, which does not import it.

Detection runs in passes: first on the photo scaled to at most ``work_side`` pixels (HOG finds faces
from about 80 px at the scale it runs); when that finds nothing and smaller faces could be there, a
second pass runs at the scale where a ``min_face``-pixel face is 80 px (capped at ``max_side``).
Landmarks and embeddings are computed on the full-resolution photo.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np

from ncii_shield.signals.face.base import FaceBox, FaceModelUnavailable, Located, normalize

HOG_WINDOW = 80  # dlib's frontal HOG detector's smallest face, in pixels at the scale it runs
PREDICTOR_FILE = "shape_predictor_5_face_landmarks.dat"
RESNET_FILE = "dlib_face_recognition_resnet_model_v1.dat"


def _dlib():
    try:
        import dlib
    except ImportError as exc:
        raise FaceModelUnavailable("face matching needs the [likeness] extra: pip install 'ncii-shield[likeness]' "
                                   "(dlib-bin, face-recognition-models)") from exc
    return dlib


def model_dir() -> Path:
    """The folder of the ``face-recognition-models`` package's weights (without importing it)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FaceModelUnavailable("face matching needs the [likeness] extra: pip install 'ncii-shield[likeness]' "
                                   "(the face-recognition-models package is not installed)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    for name in (PREDICTOR_FILE, RESNET_FILE):
        if not (folder / name).is_file():
            raise FaceModelUnavailable(f"{folder / name} is missing: reinstall face-recognition-models")
    return folder


class DlibLocator:
    """Faces and their 5 landmarks, largest first. Thread-safe (one lock: dlib holds the GIL anyway)."""

    def __init__(self, folder: Path | None = None, *, work_side: int = 640, max_side: int = 1600) -> None:
        dlib = _dlib()
        folder = folder or model_dir()
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(folder / PREDICTOR_FILE))
        self.work_side = work_side
        self.max_side = max_side
        self._lock = threading.Lock()

    def _detect(self, rgb: np.ndarray, scale: float, upsample: int = 0) -> list[tuple[FaceBox, float]]:
        import cv2

        img = rgb
        if abs(scale - 1.0) > 1e-3:
            h, w = rgb.shape[:2]
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            img = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        rects, scores, _ = self._detector.run(np.ascontiguousarray(img), upsample, 0.0)
        found = []
        for r, s in zip(rects, scores):
            x, y = r.left() / scale, r.top() / scale
            found.append((FaceBox(round(x), round(y), round(r.width() / scale), round(r.height() / scale)), float(s)))
        return found

    def locate(self, rgb: np.ndarray, *, min_face: int = 48) -> list[Located]:
        """Faces at least about ``min_face`` pixels tall (see the module docstring for the passes)."""
        h, w = rgb.shape[:2]
        first = min(1.0, self.work_side / max(h, w))
        with self._lock:
            boxes = self._detect(rgb, first)
            smallest = HOG_WINDOW / first  # the smallest face the first pass can see, in photo pixels
            if not boxes and smallest > min_face * 1.05:
                second = min(HOG_WINDOW / min_face, self.max_side / max(h, w))
                if second > first * 1.2:
                    boxes = self._detect(rgb, second)
            boxes = _unique(boxes)
            located = [Located(_clip(box, w, h), self._landmarks(rgb, box), score) for box, score in boxes]
        return sorted(located, key=lambda f: -f.box.h)

    def _landmarks(self, rgb: np.ndarray, box: FaceBox) -> np.ndarray:
        rect = self._dlib.rectangle(box.x, box.y, box.x + box.w, box.y + box.h)
        shape = self._predictor(rgb, rect)
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)


def _clip(box: FaceBox, w: int, h: int) -> FaceBox:
    x0, y0 = max(0, box.x), max(0, box.y)
    x1, y1 = min(w, box.x + box.w), min(h, box.y + box.h)
    return FaceBox(x0, y0, max(0, x1 - x0), max(0, y1 - y0))


def _unique(boxes: list[tuple[FaceBox, float]]) -> list[tuple[FaceBox, float]]:
    kept: list[tuple[FaceBox, float]] = []
    for box, score in sorted(boxes, key=lambda b: -b[1]):
        if all(box.iou(k) < 0.4 for k, _ in kept):
            kept.append((box, score))
    return kept


def _inner_face() -> np.ndarray:
    """Weights of the inner face in a 150-px chip (eyes at y 47, nose base at 86): 1 inside an
    ellipse from the eyebrows to the chin, falling to 0 over 8 px outside it."""
    import cv2

    weight = np.zeros((150, 150), np.float32)
    cv2.ellipse(weight, (74, 84), (54, 70), 0, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(weight, (0, 0), 4)[..., None]


_INNER = None


def _masked(chip: np.ndarray) -> np.ndarray:
    """The chip with hair, ears and background replaced by the face's mean colour: a face swap
    replaces the inner face and keeps the host's head, so only the inner face is compared."""
    global _INNER
    if _INNER is None:
        _INNER = _inner_face()
    inside = _INNER[..., 0] > 0.9
    fill = chip[inside].mean(axis=0) if inside.any() else np.array([128, 128, 128], np.float32)
    return np.ascontiguousarray((chip * _INNER + fill * (1 - _INNER)).astype(np.uint8))


class DlibResnetEmbedder:
    """dlib's ResNet (29 layers, 128-d, 150x150 face chips aligned on the 5 landmarks). ``mask``
    (default) keeps only the inner face of the chip (:func:`_masked`): in the benchmark it flagged
    78 % of synthetic face swaps at zero false matches where the whole chip flagged 60 %."""

    name = "dlib-resnet-v1"
    dim = 128
    # cosine similarity; bench/likeness_bench.py (docs/benchmarks.md, "Likeness"): the masked model,
    # enrolled with mirror averaging and scored against the mean enrolment vector, had no false
    # match above 0.958 among 20,923 distinct-person comparisons
    default_threshold = 0.96

    def __init__(self, folder: Path | None = None, *, mask: bool = True) -> None:
        dlib = _dlib()
        folder = folder or model_dir()
        self._dlib = dlib
        self._net = dlib.face_recognition_model_v1(str(folder / RESNET_FILE))
        self._lock = threading.Lock()
        self.mask = mask
        if mask:  # the default: only the inner face is compared (a swap keeps the host's head)
            self.name = "dlib-resnet-v1-masked"  # other vectors: never compared with unmasked ones

    def chips(self, rgb: np.ndarray, faces: list[Located]) -> list[np.ndarray]:
        dlib = self._dlib
        img = np.ascontiguousarray(rgb)
        out = []
        for face in faces:
            b = face.box
            shape = dlib.full_object_detection(dlib.rectangle(b.x, b.y, b.x + b.w, b.y + b.h),
                                               [dlib.point(round(float(x)), round(float(y))) for x, y in face.landmarks])
            chip = dlib.get_face_chip(img, shape, size=150, padding=0.25)
            out.append(_masked(chip) if self.mask else chip)
        return out

    def embed(self, rgb: np.ndarray, faces: list[Located], *, mirror: bool = False, jitter: int = 0) -> np.ndarray:
        """One unit vector per face; ``mirror`` averages with the mirrored face (test-time augmentation);
        ``jitter`` > 0 averages that many randomly shifted, rotated and scaled copies of each (dlib's
        ``num_jitters``: for enrolment, where time does not matter; not reproducible bit for bit)."""
        if not faces:
            return np.zeros((0, self.dim), dtype=np.float32)
        chips = self.chips(rgb, faces)
        if mirror:
            chips = chips + [np.ascontiguousarray(c[:, ::-1]) for c in chips]
        with self._lock:
            if jitter:
                raw = [self._net.compute_face_descriptor(c, jitter) for c in chips]
            else:
                raw = self._net.compute_face_descriptor(chips)
            vectors = normalize(np.array(raw, dtype=np.float32))
        if mirror:
            n = len(faces)
            vectors = normalize(vectors[:n] + vectors[n:])
        return vectors
