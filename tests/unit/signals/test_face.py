"""Face signals (likeness): detection and embedding on CC0 portraits, enrolment rules, an operator's
ONNX model (built here with the onnx package), and embeddings kept out of logs."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from ncii_shield.signals.face import FaceModelUnavailable, load_model, similarity
from ncii_shield.signals.face.base import Located
from ncii_shield.signals.face.enrol import EnrolmentRefused, enrolment_vectors

FACES = Path(__file__).resolve().parents[2] / "data" / "faces"


def rgb(name: str) -> np.ndarray:
    return np.asarray(Image.open(FACES / f"ifaces-{name}.jpg").convert("RGB"))


def reshared(img: np.ndarray) -> np.ndarray:
    """The same photo re-shared: mirrored, rotated 4 degrees, scaled to 0.7x, JPEG 70."""
    h, w = img.shape[:2]
    img = np.ascontiguousarray(img[:, ::-1])
    img = cv2.warpAffine(img, cv2.getRotationMatrix2D((w / 2, h / 2), 4, 1.0), (w, h), borderMode=cv2.BORDER_REFLECT)
    img = cv2.resize(img, (round(w * 0.7), round(h * 0.7)), interpolation=cv2.INTER_AREA)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=70)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


@pytest.fixture(scope="module")
def model():
    return load_model()


def test_detect_and_embed_is_deterministic(model) -> None:
    from ncii_shield.signals.face.dlib_model import DlibLocator, DlibResnetEmbedder
    from ncii_shield.signals.face.model import FaceModel

    img = rgb("001")
    first, second = model.faces(img), model.faces(img.copy())
    fresh = FaceModel(DlibLocator(), DlibResnetEmbedder()).faces(img)
    assert len(first) == len(second) == len(fresh) == 1
    assert first[0].box == second[0].box == fresh[0].box
    assert np.array_equal(first[0].embedding, second[0].embedding)
    assert np.array_equal(first[0].embedding, fresh[0].embedding)
    face = first[0]
    assert face.embedding.shape == (128,) and face.embedding.dtype == np.float32
    assert abs(float(np.linalg.norm(face.embedding)) - 1.0) < 1e-5
    b = face.box  # the face of a head-and-shoulders portrait: inside the photo, a sizeable part of it
    assert 0 <= b.x and 0 <= b.y and b.x + b.w <= 400 and b.y + b.h <= 400 and 100 <= b.h <= 300


def test_same_person_closer_than_different_persons(model) -> None:
    a = model.faces(rgb("001"))[0].embedding
    again = model.faces(reshared(rgb("001")))
    others = [model.faces(rgb(n))[0].embedding for n in ("007", "009")]
    assert len(again) == 1
    same = similarity(a, again[0].embedding)
    different = [similarity(a, o) for o in others]
    assert same >= model.default_threshold, same
    assert all(d < model.default_threshold for d in different), different
    assert same > max(different) + 0.02


def test_no_face_and_blank_photo(model) -> None:
    assert model.faces(np.full((300, 300, 3), 128, np.uint8)) == []
    assert model.faces(np.zeros((10, 10, 3), np.uint8)) == []


def test_small_face_found_by_the_second_pass(model) -> None:
    # the portrait shrunk so its face is ~60 px tall in a 1000-px canvas: below the first pass's
    # ~80 / (640/1000) = 125 px, found by the second pass
    small = cv2.resize(rgb("007"), (160, 160), interpolation=cv2.INTER_AREA)
    canvas = np.full((1000, 1000, 3), 200, np.uint8)
    canvas[500:660, 300:460] = small
    faces = model.faces(canvas)
    assert len(faces) == 1 and 40 <= faces[0].box.h <= 90
    assert 300 <= faces[0].box.x <= 460 and 500 <= faces[0].box.y <= 660


def test_enrolment_takes_one_face_per_photo(model) -> None:
    vectors = enrolment_vectors(model, [rgb("001"), reshared(rgb("001"))])
    assert vectors.shape == (2, 128)
    assert float(vectors[0] @ vectors[1]) >= model.default_threshold


def test_two_face_photo_refused_for_enrolment(model) -> None:
    two = np.concatenate([rgb("001"), rgb("009")], axis=1)
    with pytest.raises(EnrolmentRefused, match="2 faces found"):
        enrolment_vectors(model, [rgb("007"), two], names=["a.jpg", "b.jpg"])
    with pytest.raises(EnrolmentRefused, match="no face found"):
        enrolment_vectors(model, [np.full((300, 300, 3), 90, np.uint8)])
    with pytest.raises(EnrolmentRefused, match="1 to 5 photos"):
        enrolment_vectors(model, [rgb("001")] * 6)
    tiny = cv2.resize(rgb("001"), (150, 150), interpolation=cv2.INTER_AREA)
    with pytest.raises(EnrolmentRefused, match="px tall"):
        enrolment_vectors(model, [tiny])


# -- an operator's ONNX model ----------------------------------------------------------------------

WEIGHTS = np.random.default_rng(3).standard_normal((3, 8)).astype(np.float32)


def tiny_onnx(path: Path, *, nhwc: bool = False) -> None:
    """A small embedding graph: per-channel mean of the 112x112 crop, times a 3x8 matrix."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    shape = ["N", 112, 112, 3] if nhwc else ["N", 3, 112, 112]
    nodes = []
    first = "input"
    if nhwc:
        nodes.append(helper.make_node("Transpose", ["input"], ["nchw"], perm=[0, 3, 1, 2]))
        first = "nchw"
    nodes += [helper.make_node("GlobalAveragePool", [first], ["pooled"]),
              helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
              helper.make_node("MatMul", ["flat", "w"], ["embedding"])]
    graph = helper.make_graph(nodes, "tiny-face-embedder",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 8])],
                              [numpy_helper.from_array(WEIGHTS, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


@pytest.mark.parametrize("nhwc", [False, True])
def test_onnx_model_loads_and_embeds(tmp_path: Path, model, nhwc: bool) -> None:
    from ncii_shield.signals.face.onnx_model import align

    path = tmp_path / "face.onnx"
    tiny_onnx(path, nhwc=nhwc)
    onnx_model = load_model(path, onnx_threshold=0.5)
    assert onnx_model.name.startswith("onnx:") and len(onnx_model.name) == 5 + 16
    assert onnx_model.dim == 8
    img = rgb("009")
    faces = onnx_model.faces(img)
    assert len(faces) == 1
    # the same numbers by hand: aligned crop, (x - 127.5) / 127.5, channel means, matrix, unit norm
    crop = align(img, faces[0].landmarks, 112).astype(np.float32)
    expected = ((crop - 127.5) / 127.5).mean(axis=(0, 1)) @ WEIGHTS
    expected /= np.linalg.norm(expected)
    assert np.allclose(faces[0].embedding, expected, atol=1e-4)
    # the aligned crop puts the eyes where ArcFace's template has them: the face is centred
    assert crop.shape == (112, 112, 3)
    mirrored = onnx_model.embedder.embed(img, [Located(faces[0].box, faces[0].landmarks)], mirror=True)
    assert mirrored.shape == (1, 8) and abs(float(np.linalg.norm(mirrored)) - 1) < 1e-5


def test_onnx_model_errors(tmp_path: Path) -> None:
    from ncii_shield.signals.face.onnx_model import OnnxEmbedder

    with pytest.raises(FaceModelUnavailable, match="does not exist"):
        OnnxEmbedder(tmp_path / "missing.onnx", threshold=0.5)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(FaceModelUnavailable, match="not an ONNX model"):
        OnnxEmbedder(bad, threshold=0.5)
    with pytest.raises(ValueError, match="threshold"):
        good = tmp_path / "good.onnx"
        tiny_onnx(good)
        load_model(good)


def test_embeddings_never_appear_in_logs_or_reprs(model, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    faces = model.faces(rgb("007"))
    vectors = enrolment_vectors(model, [rgb("007")])
    logging.getLogger("ncii_shield.test").info("found %s; %r", faces, faces[0])
    text = caplog.text + repr(faces) + str(faces[0])
    assert "hidden" in text
    for vector in (faces[0].embedding, vectors[0]):
        for value in vector[:16]:
            for fmt in ("{:.4f}", "{:.3f}", "{}"):
                assert fmt.format(float(value)) not in text
