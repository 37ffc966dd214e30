"""Is this photo sexual? A score from NudeNet's detector, for triage where a platform does not say.

Optional: ``pip install 'ncii-shield[nudity]'`` installs ``nudenet`` 3.x, whose wheel ships its ONNX
model (``320n.onnx``, 12 MB); nothing is downloaded at run time. Licence: the nudenet 3.4.2 wheel's
METADATA says ``License: MIT`` (and the MIT classifier), but the licence files it ships
(``LICENSE``, ``LICENSE.md`` in its dist-info) are the GNU AGPL 3.0. We read it as AGPL-3.0, the
stricter of the two, and keep it an optional extra: the core never imports it and CI does not
install it (see docs/provenance.md).

The model is loaded on first use (one ONNX Runtime session per classifier, shared by threads).
Only nudenet's model file is used: the pixels come from our own safe decoder
(:mod:`ncii_shield.media.decode`), never from nudenet's ``cv2.imread``/``imdecode``. Preprocessing
is nudenet's ``_read_image`` (pad to a square at the bottom and right, 320 x 320, BGR, 0-1), the
same input to the model for photos up to 2,048 pixels on their longer side (tested against the
package's own ``NudeDetector.detect``); a larger photo is shrunk to 2,048 first, so the padded
square stays bounded::

    classifier = NudityClassifier()
    result = classifier.score_rgb(photo.rgb)     # NudityScore
    result.score, result.sexual                  # 0.03, False for a landscape

``score`` is the highest confidence of any *exposed* sexual body part (genitalia, breasts,
buttocks, anus) anywhere in the photo; ``sexual`` is ``score >= threshold``. The threshold (0.5)
is nudenet's usual cut, not one we measured on intimate imagery: this project never handles any.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ncii_shield.errors import InvalidRequest, Unavailable

#: nudenet 3.x's class order (``nudenet.nudenet.__labels``; a test checks it against the package)
LABELS = (
    "FEMALE_GENITALIA_COVERED", "FACE_FEMALE", "BUTTOCKS_EXPOSED", "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED", "MALE_BREAST_EXPOSED", "ANUS_EXPOSED", "FEET_EXPOSED", "BELLY_COVERED",
    "FEET_COVERED", "ARMPITS_COVERED", "ARMPITS_EXPOSED", "FACE_MALE", "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED", "ANUS_COVERED", "FEMALE_BREAST_COVERED", "BUTTOCKS_COVERED",
)
SEXUAL = frozenset({"FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "FEMALE_BREAST_EXPOSED",
                    "BUTTOCKS_EXPOSED", "ANUS_EXPOSED"})
_SEXUAL_COLUMNS = np.array([i for i, label in enumerate(LABELS) if label in SEXUAL])
SIZE = 320
PAD_LIMIT = 2048  # longest side padded as nudenet pads (larger photos are shrunk to it first)
MIN_SCORE = 0.2  # nudenet's: detections below it are dropped
DEFAULT_THRESHOLD = 0.5
EXTRA = "pip install 'ncii-shield[nudity]' (nudenet 3.x, AGPL-3.0)"


@dataclass(frozen=True)
class Detection:
    label: str
    score: float
    box: tuple[int, int, int, int]  # x, y, w, h in the photo's pixels

    def to_json(self) -> dict:
        return {"label": self.label, "score": round(self.score, 3), "box": list(self.box)}


@dataclass(frozen=True)
class NudityScore:
    score: float
    sexual: bool
    threshold: float
    detections: tuple[Detection, ...] = field(default=())

    def to_json(self) -> dict:
        return {"score": round(self.score, 3), "sexual": self.sexual, "threshold": self.threshold,
                "detections": [d.to_json() for d in self.detections]}


def available() -> bool:
    """Whether the ``[nudity]`` extra is installed (without importing it)."""
    return importlib.util.find_spec("nudenet") is not None and importlib.util.find_spec("onnxruntime") is not None


def model_path() -> Path:
    """The ONNX model inside the installed nudenet package."""
    spec = importlib.util.find_spec("nudenet")
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable(f"the nudity classifier is not installed; {EXTRA}")
    path = Path(next(iter(spec.submodule_search_locations))) / "320n.onnx"
    if not path.is_file():
        raise Unavailable(f"nudenet is installed but has no 320n.onnx model; reinstall it: {EXTRA}")
    return path


class NudityClassifier:
    """NudeNet's detector over decoded RGB pixels (see the module docstring)."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, *, threads: int = 1) -> None:
        if not 0 < threshold <= 1:
            raise InvalidRequest(f"threshold {threshold} is out of range; accepted: above 0, up to 1")
        self.threshold = threshold
        self.threads = threads
        self._session = None
        self._input = ""
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._session is None:
                try:
                    import onnxruntime
                except ImportError as exc:
                    raise Unavailable(f"the nudity classifier needs onnxruntime; {EXTRA}") from exc
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                session = onnxruntime.InferenceSession(str(model_path()), options,
                                                       providers=["CPUExecutionProvider"])
                self._input = session.get_inputs()[0].name
                self._session = session
        return self._session

    def score_rgb(self, rgb: np.ndarray) -> NudityScore:
        """Score an (height, width, 3) uint8 RGB photo."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or min(rgb.shape[:2]) < 1:
            raise InvalidRequest(f"expected an (height, width, 3) uint8 RGB array, got {rgb.shape} {rgb.dtype}")
        session = self._load()
        blob, side = _blob(rgb)
        output = session.run(None, {self._input: blob})[0]
        rows = np.asarray(output[0], dtype=np.float32).T  # (anchors, 4 box + classes)
        classes = rows[:, 4:]
        score = float(classes[:, _SEXUAL_COLUMNS].max()) if len(rows) else 0.0
        return NudityScore(score, score >= self.threshold, self.threshold,
                           _detections(rows, side, rgb.shape[1], rgb.shape[0]))


def _blob(rgb: np.ndarray) -> tuple[np.ndarray, int]:
    """nudenet's input: the photo padded with black at the bottom and right to a square, scaled to
    320 x 320, as (1, 3, 320, 320) float32 BGR in 0-1; and the side of that square in the photo's
    pixels. A photo whose longer side is over :data:`PAD_LIMIT` is first shrunk to it (area
    averaging), so the padded square never exceeds PAD_LIMIT² pixels."""
    import cv2

    # nudenet's blob is BGR: its cvtColor(RGBA2BGR) on a 3-channel BGR image swaps R and B, and
    # blobFromImage(swapRB=True) swaps them back; the model gets what the package gives it
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    height, width = bgr.shape[:2]
    side = max(height, width)
    shrink = 1.0
    if side > PAD_LIMIT:
        shrink = side / PAD_LIMIT
        size = (max(1, round(width / shrink)), max(1, round(height / shrink)))
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    h, w = bgr.shape[:2]
    square = np.zeros((max(h, w), max(h, w), 3), dtype=np.uint8)
    square[:h, :w] = bgr
    scaled = cv2.resize(square, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)
    return (scaled.astype(np.float32) / 255.0).transpose(2, 0, 1)[None], round(max(h, w) * shrink)


def _detections(rows: np.ndarray, side: int, width: int, height: int) -> tuple[Detection, ...]:
    """nudenet's ``_postprocess``: rows whose best class is >= 0.2, non-maximum suppression (0.25,
    0.45), boxes in the photo's pixels."""
    import cv2

    best = rows[:, 4:].max(axis=1)
    keep = np.flatnonzero(best >= MIN_SCORE)
    if not len(keep):
        return ()
    scale = side / SIZE
    boxes, scores, labels = [], [], []
    for i in keep:
        cx, cy, w, h = (float(v) * scale for v in rows[i, :4])
        x, y = max(0.0, min(cx - w / 2, width)), max(0.0, min(cy - h / 2, height))
        boxes.append([x, y, min(w, width - x), min(h, height - y)])
        scores.append(float(best[i]))
        labels.append(LABELS[int(rows[i, 4:].argmax())])
    chosen = cv2.dnn.NMSBoxes(boxes, scores, 0.25, 0.45)
    found = [Detection(labels[i], scores[i], tuple(int(v) for v in boxes[i])) for i in np.asarray(chosen).ravel()]
    return tuple(sorted(found, key=lambda d: -d.score))
