"""verify._pairs (the ratio-tested descriptor matches) through faiss gives exactly the pairs of the
cv2.BFMatcher.knnMatch version it replaced (kept here as the reference): synthetic scenes, related and
unrelated, both orientations."""

from __future__ import annotations

import cv2
import faiss
import numpy as np
import pytest

from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative import verify as V
from ncii_shield.signals.derivative.verify import Upload
from tests.derivative_scenes import edit, reshared, scene


def reference(up_desc: np.ndarray, reg: F.PhotoFeatures) -> list[tuple[int, int, float]]:
    """The knnMatch version (as in verify.py until 2026-12-06 #5)."""
    if len(up_desc) < V.MIN_INLIERS or len(reg.descriptors) < V.MIN_INLIERS:
        return []
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(up_desc, reg.descriptors, k=2)
    return [(p[0].queryIdx, p[0].trainIdx, p[0].distance) for p in pairs
            if len(p) == 2 and p[0].distance <= V.MAX_DESCRIPTOR_DISTANCE and p[0].distance < V.RATIO * p[1].distance]


@pytest.mark.parametrize("photo_seed, upload", [
    (31, lambda: reshared("jpeg", scene(31))),
    (31, lambda: reshared("resize", edit("patch", scene(31), (200, 150, 300, 200)))),
    (31, lambda: reshared("mirror", scene(31))),
    (31, lambda: scene(32)),  # unrelated
    (40, lambda: reshared("screenshot", scene(40))),
])
def test_the_pairs_are_those_of_the_knn_matcher(photo_seed, upload):
    reg = F.photo_features(scene(photo_seed))
    up = Upload.from_rgb(upload())
    for desc in (up.descriptors, up.mirrored_descriptors):
        got = [(m.queryIdx, m.trainIdx, m.distance) for m in V._pairs(desc, reg)]
        assert got == reference(desc, reg)
    assert V._pairs(up.descriptors[:V.MIN_INLIERS - 1], reg) == []


def test_the_search_runs_on_one_openmp_thread_and_restores_the_callers_setting():
    reg = F.photo_features(scene(31))
    up = Upload.from_rgb(scene(31))
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(2)
    try:
        seen: list[int] = []
        real = faiss.IndexBinaryFlat.search

        def spy(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            seen.append(faiss.omp_get_max_threads())
            return real(self, *args, **kwargs)

        faiss.IndexBinaryFlat.search = spy
        try:
            V._pairs(up.descriptors, reg)
        finally:
            faiss.IndexBinaryFlat.search = real
        assert seen == [1] and faiss.omp_get_max_threads() == 2
    finally:
        faiss.omp_set_num_threads(before)
