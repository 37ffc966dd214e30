"""Issue 20, the large kind end to end: a candidate the check does not verify (too few votes that line
up, out-voted by the photo a large pasted part came from) is still compared as the upload's whole
frame when the upload has its shape (index/derivative.py ``check``, verify.py ``whole_frame``): most of
the photo replaced leaves its remainder too few keypoints for a fit, not its cells. Synthetic scenes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ncii_shield.index import derivative as D
from ncii_shield.index.derivative import Candidate, DerivativeIndex
from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative.verify import Outcome, Upload
from tests.derivative_scenes import scene
from tests.unit.signals.test_derivative_kinds import jpeg_rgb, replaced

CENTRE = (120, 80, 560, 470)


def soft(seed: int) -> np.ndarray:
    return cv2.GaussianBlur(scene(seed), (0, 0), 7)


def shrunk(img: np.ndarray) -> np.ndarray:
    return jpeg_rgb(cv2.resize(img, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA), 85)


@pytest.fixture(scope="module")
def index() -> DerivativeIndex:
    idx = DerivativeIndex()
    for id, img in ((1, soft(31)), (2, soft(32)), (3, soft(40)), (4, scene(81))):
        idx.add_features(F.photo_features(img), id)
    return idx


def skipped(index: DerivativeIndex, monkeypatch, ids: list[int]) -> None:  # noqa: ANN001
    """The candidate search returns ``ids`` as weak candidates the check's pass skips (MAX_WEAK 0)."""
    monkeypatch.setattr(index, "candidates", lambda upload, allowed=None, limit=D.CANDIDATES: [
        Candidate(id, 3, False, 0) for id in ids])
    monkeypatch.setattr(D, "MAX_WEAK", 0)


def test_a_skipped_candidate_of_the_uploads_shape_is_compared_as_its_whole_frame(index, monkeypatch):
    upload = Upload.from_rgb(shrunk(replaced(soft(31), scene(81), CENTRE)))
    skipped(index, monkeypatch, [1, 2, 3])
    hits = index.check(upload)
    assert [h.id for h in hits] == [1]  # the unrelated photos of the same shape are not flagged
    assert hits[0].verdict.outcome is Outcome.DERIVATIVE and hits[0].verdict.inliers == 0
    monkeypatch.setattr(D, "whole_frame", lambda *a, **k: None)
    assert index.check(upload) == []  # without the comparison: nothing


def test_a_candidate_of_another_shape_is_not_compared(index, monkeypatch):
    img = replaced(soft(31), scene(81), CENTRE)
    skipped(index, monkeypatch, [1])
    assert index.check(Upload.from_rgb(shrunk(img[:, :700]))) == []  # cropped: the frames do not line up


def test_a_verified_candidate_is_not_compared_twice(index, monkeypatch):
    upload = Upload.from_rgb(shrunk(replaced(soft(31), scene(81), CENTRE)))
    calls: list[int] = []
    real = D.whole_frame
    monkeypatch.setattr(D, "whole_frame", lambda reg, up, *a: calls.append(1) or real(reg, up, *a))
    monkeypatch.setattr(index, "candidates", lambda upload, allowed=None, limit=D.CANDIDATES: [
        Candidate(1, 30, False, 0)])  # strong: verified by the pass (its own whole-frame comparison)
    hits = index.check(upload)
    assert [h.id for h in hits] == [1] and not calls
