"""The optional nudity classifier (``[nudity]`` extra, nudenet 3.x): harmless photos and harmless
classes only. Tests that need the model skip when the extra is not installed (CI does not install
it: AGPL-3.0, see docs/provenance.md); those of the module's behaviour without it always run."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest
from PIL import Image

from ncii_shield.errors import InvalidRequest, Unavailable
from ncii_shield.media.decode import decode_photo
from ncii_shield.services.keys import Principal
from ncii_shield.services.uploads.detectors import DecodedUpload, Scope
from ncii_shield.signals import nudity
from tests.conftest import DATA, ORIGINAL_JPG

ASTRONAUT = DATA / "provenance" / "skimage-astronaut.jpg"  # a portrait: a face, nothing else of note
COFFEE = DATA / "provenance" / "skimage-coffee.jpg"  # a cup of coffee, not square
LANDSCAPE = ORIGINAL_JPG  # a bridge over water, 1600 x 1004
SCOPE = Scope(Principal(0, "test", 1, frozenset({"match"})), None)  # type: ignore[arg-type]

needs_model = pytest.mark.skipif(not nudity.available(), reason="the [nudity] extra (nudenet) is not installed")


def rgb(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture(scope="module")
def classifier():
    return nudity.NudityClassifier()


def test_without_the_extra_it_is_unavailable_and_the_detector_reports_it_missing(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nudenet" else real(name, *a))
    assert not nudity.available()
    with pytest.raises(Unavailable, match=r"ncii-shield\[nudity\]"):
        nudity.model_path()
    monkeypatch.delitem(sys.modules, "ncii_shield.services.uploads.nudity", raising=False)
    with pytest.raises(ModuleNotFoundError) as caught:
        importlib.import_module("ncii_shield.services.uploads.nudity")
    assert caught.value.name == "nudenet"  # what the pipeline lists as "not installed (nudenet is missing)"


def test_threshold_is_checked():
    for bad in (0, -0.1, 1.5):
        with pytest.raises(InvalidRequest, match="out of range"):
            nudity.NudityClassifier(bad)


@needs_model
def test_labels_are_the_packages():
    import nudenet.nudenet as package

    assert tuple(getattr(package, "__labels")) == nudity.LABELS


@needs_model
def test_the_model_sees_exactly_nudenets_input(classifier):
    """Our pixels (from our decoder) reach the model as nudenet's own ``_read_image`` prepares them."""
    import nudenet.nudenet as package

    for path in (ASTRONAUT, COFFEE, LANDSCAPE):
        theirs = package._read_image(str(path), 320)[0]
        ours, _ = nudity._blob(rgb(path))
        assert np.abs(theirs - ours).max() < 1e-6, path


@needs_model
def test_detections_equal_nudenets_own_on_harmless_photos(classifier):
    import nudenet

    reference = nudenet.NudeDetector()
    for path in (ASTRONAUT, COFFEE, LANDSCAPE):
        theirs = sorted((d["class"], round(d["score"], 3), tuple(d["box"])) for d in reference.detect(str(path)))
        ours = sorted((d.label, round(d.score, 3), d.box) for d in classifier.score_rgb(rgb(path)).detections)
        assert ours == theirs, path


@needs_model
def test_a_landscape_and_a_coffee_cup_score_low_and_a_portrait_is_a_face(classifier):
    landscape = classifier.score_rgb(rgb(LANDSCAPE))
    assert landscape.score < 0.1 and not landscape.sexual and landscape.detections == ()
    assert not classifier.score_rgb(rgb(COFFEE)).sexual
    portrait = classifier.score_rgb(rgb(ASTRONAUT))
    assert not portrait.sexual and portrait.score < 0.1
    (face,) = portrait.detections
    assert face.label == "FACE_FEMALE" and face.score > 0.6
    x, y, w, h = face.box  # around the face, in the photo's pixels (512 x 512)
    assert 150 < x < 200 and 60 < y < 110 and 80 < w < 130 and 80 < h < 130


@needs_model
def test_large_and_odd_shaped_photos_are_bounded(classifier):
    wide = np.full((600, 9000, 3), 90, dtype=np.uint8)
    result = classifier.score_rgb(wide)
    assert 0 <= result.score < 0.5
    blob, side = nudity._blob(wide)
    assert blob.shape == (1, 3, 320, 320) and side == 9000
    assert classifier.score_rgb(np.zeros((1, 1, 3), dtype=np.uint8)).score >= 0
    with pytest.raises(InvalidRequest, match="uint8 RGB"):
        classifier.score_rgb(np.zeros((10, 10), dtype=np.uint8))


@needs_model
def test_the_detector_classifies_photos_and_gives_explicit_only_when_sexual():
    from ncii_shield.services.uploads.nudity import NudityDetector, detector

    found = detector(None)
    assert found.name == "nudity" and found.media == frozenset({"photo"})
    data = LANDSCAPE.read_bytes()
    upload = DecodedUpload(data, "photo", None, decode_photo(data))  # type: ignore[arg-type]
    findings = found.detect(upload, SCOPE)
    assert findings.summary["by"] == "classifier" and findings.summary["sexual"] is False
    assert findings.context == frozenset()

    class Refuses:
        def score_rgb(self, rgb):
            raise AssertionError("the caller already said: no need to classify")

    said = NudityDetector(Refuses()).detect(upload, Scope(SCOPE.principal, None, frozenset({"explicit"})))  # type: ignore[arg-type]
    assert said.summary == {"sexual": True, "by": "caller"}

    class Sexual:
        def score_rgb(self, rgb):
            return nudity.NudityScore(0.9, True, 0.5)

    assert NudityDetector(Sexual()).detect(upload, SCOPE).context == frozenset({"explicit"})
    with pytest.raises(InvalidRequest, match="NCII_SHIELD_NUDITY_THRESHOLD"):
        NudityDetector.from_env({"NCII_SHIELD_NUDITY_THRESHOLD": "high"})
    assert NudityDetector.from_env({"NCII_SHIELD_NUDITY_THRESHOLD": "0.7"}).classifier.threshold == 0.7
