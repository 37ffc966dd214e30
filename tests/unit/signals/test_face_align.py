"""The ArcFace-template alignment of an operator's ONNX face model: a least-squares similarity over
the eye centres and the nose base, so a three-quarter face is not tilted (pure numpy and OpenCV: no
face model needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from ncii_shield.signals.face.onnx_model import (  # noqa: E402
    _TEMPLATE_3, align, dlib_points_to_3, similarity_lsq)


def _similarity(scale: float, degrees: float, shift: tuple[float, float]) -> np.ndarray:
    a = math.radians(degrees)
    return np.array([[scale * math.cos(a), -scale * math.sin(a), shift[0]],
                     [scale * math.sin(a), scale * math.cos(a), shift[1]]])


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


@pytest.mark.parametrize("scale,degrees,shift", [(3.0, 0.0, (200.0, 150.0)), (0.7, 25.0, (-10.0, 40.0)),
                                                 (5.5, -160.0, (900.0, 20.0))])
def test_exact_similarity_is_recovered(scale: float, degrees: float, shift: tuple[float, float]) -> None:
    # points placed in a photo by a known similarity: the fit maps them back onto the template exactly
    to_photo = _similarity(scale, degrees, shift)
    photo = _apply(to_photo, _TEMPLATE_3)
    fitted = similarity_lsq(photo, _TEMPLATE_3)
    assert np.allclose(_apply(fitted, photo), _TEMPLATE_3, atol=1e-6)
    assert np.allclose(_apply(fitted, _apply(to_photo, np.array([[0.0, 0.0], [112.0, 112.0]]))),
                       [[0.0, 0.0], [112.0, 112.0]], atol=1e-6)


@pytest.mark.parametrize("lms", [
    # dlib's 5 points (two corners of each eye, nose base) on two three-quarter studio portraits
    [[466, 393], [414, 401], [322, 427], [354, 415], [345, 522]],
    [[478, 485], [436, 487], [352, 498], [385, 493], [391, 575]],
])
def test_three_quarter_face_spreads_the_error_over_all_three_points(lms: list) -> None:
    # the nose base lies off the eyes' midline: no similarity fits all three points. A robust fit
    # (LMedS) fits two exactly and misplaces the third by 15-26 px of the 112-px crop, turning and
    # zooming the face; least squares keeps every point within 10 px of the template.
    src = dlib_points_to_3(np.array(lms, dtype=np.float32))
    matrix = similarity_lsq(src, _TEMPLATE_3)
    errors = np.linalg.norm(_apply(matrix, src) - _TEMPLATE_3, axis=1)
    assert errors.max() < 10, errors
    assert abs(math.degrees(math.atan2(matrix[1, 0], matrix[0, 0]))) < 8
    # and the crop is the face: a bright disc drawn around the eyes and nose fills its centre
    img = np.zeros((800, 800, 3), np.uint8)
    cv2.circle(img, tuple(int(v) for v in src.mean(0)), 160, (255, 255, 255), -1)
    crop = align(img, np.array(lms, dtype=np.float32), 112)
    assert crop.shape == (112, 112, 3) and crop[30:90, 30:90].mean() > 200


def test_points_in_one_place_give_a_shift() -> None:
    same = np.array([[10.0, 20.0]] * 3)
    matrix = similarity_lsq(same, _TEMPLATE_3)
    assert np.allclose(matrix[:, :2], np.eye(2))


def test_pixel_scaling_is_part_of_the_model_name(tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from ncii_shield.signals.face.onnx_model import OnnxEmbedder

    # per-channel means of the crop, plus a bias, times a 3x4 matrix: the pixel scaling shows
    nodes = [helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
             helper.make_node("Add", ["flat", "b"], ["shifted"]),
             helper.make_node("MatMul", ["shifted", "w"], ["embedding"])]
    weights = np.random.default_rng(5).standard_normal((3, 4)).astype(np.float32)
    graph = helper.make_graph(nodes, "tiny",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 112, 112])],
                              [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 4])],
                              [numpy_helper.from_array(weights, "w"),
                               numpy_helper.from_array(np.array([1.0, -2.0, 0.5], np.float32), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "face.onnx"
    onnx.save(model, str(path))
    arcface = OnnxEmbedder(path, threshold=0.5)
    raw = OnnxEmbedder(path, threshold=0.5, mean=0.0, std=1.0)
    assert arcface.name != raw.name and arcface.name == OnnxEmbedder(path, threshold=0.5).name
    crop = np.full((1, 112, 112, 3), 200, np.uint8)
    assert not np.allclose(arcface._run(crop), raw._run(crop))  # the pixels really are scaled otherwise


def test_inner_face_mask_keeps_the_face_and_fades_the_head() -> None:
    from ncii_shield.signals.face.onnx_model import inner_face_weight, mask_inner_face

    weight = inner_face_weight(112)
    assert weight.shape == (112, 112, 1)
    assert weight[75, 56, 0] > 0.99 and weight[51, 38, 0] > 0.9 and weight[92, 56, 0] > 0.9  # eyes, mouth
    assert weight[5, 5, 0] < 1e-3 and weight[75, 5, 0] < 1e-3 and weight[18, 56, 0] < 1e-3  # hair, ear, top of head
    # a "host" head (dark outline) around a "donor" inner face (bright): only the inner face is left
    crop = np.zeros((112, 112, 3), np.uint8)
    crop[35:115, 25:88] = 200
    masked = mask_inner_face(crop, weight)
    assert np.all(masked[:8] == masked[0, 0]) and abs(int(masked[0, 0, 0]) - 200) <= 2
    assert np.array_equal(masked[75, 56], crop[75, 56])
    assert np.allclose(inner_face_weight(224)[150, 112, 0], 1.0, atol=0.01)  # scaled with the crop


def test_masked_onnx_model_has_its_own_name_and_ignores_the_head(tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from ncii_shield.signals.face.base import FaceBox, Located
    from ncii_shield.signals.face.onnx_model import OnnxEmbedder

    # the embedding is the crop's top-left 8x8 corner (hair, in an aligned face), averaged per channel
    nodes = [helper.make_node("Slice", ["input", "starts", "ends", "axes"], ["corner"]),
             helper.make_node("GlobalAveragePool", ["corner"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["embedding"], axis=1)]
    graph = helper.make_graph(nodes, "corner",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 112, 112])],
                              [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 3])],
                              [helper.make_tensor("starts", TensorProto.INT64, [2], [0, 0]),
                               helper.make_tensor("ends", TensorProto.INT64, [2], [8, 8]),
                               helper.make_tensor("axes", TensorProto.INT64, [2], [2, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "corner.onnx"
    onnx.save(model, str(path))
    plain = OnnxEmbedder(path, threshold=0.5, mean=0.0, std=1.0)
    masked = OnnxEmbedder(path, threshold=0.5, mean=0.0, std=1.0, mask=True)
    assert plain.name != masked.name
    # two photos with the same inner face and different hair colours
    lms = np.array([[466, 400], [414, 400], [322, 400], [354, 400], [390, 470]], dtype=np.float32)
    face = Located(FaceBox(300, 330, 200, 200), lms)
    a = np.full((800, 800, 3), (200, 30, 30), np.uint8)
    b = np.full((800, 800, 3), (30, 30, 200), np.uint8)
    for img in (a, b):
        cv2.ellipse(img, (392, 440), (95, 125), 0, 0, 360, (180, 140, 120), -1)
    assert float(plain.embed(a, [face])[0] @ plain.embed(b, [face])[0]) < 0.5  # the hair decides
    assert float(masked.embed(a, [face])[0] @ masked.embed(b, [face])[0]) > 0.99  # the face decides
