"""The provenance detector plugs the reader into the upload pipeline: its summary is the reader's
answer, trust anchors come from NCII_SHIELD_C2PA_TRUST_ANCHORS, videos get C2PA and metadata only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ncii_shield.media.decode import DecodedPhoto
from ncii_shield.services.uploads.detectors import DecodedUpload
from ncii_shield.services.uploads.provenance import TRUST_ANCHORS_ENV, ProvenanceDetector, detector
from ncii_shield.signals.provenance import watermark
from tests import provenance_fixtures as PF

PHOTO = Path(__file__).parents[2] / "data" / "provenance" / "skimage-astronaut.jpg"


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    with Image.open(PHOTO) as im:
        return np.asarray(im.convert("RGB"))


def upload(data: bytes, rgb: np.ndarray | None, kind: str = "photo") -> DecodedUpload:
    photo = DecodedPhoto(rgb, "PNG", "RGB", 1, False) if rgb is not None else None
    return DecodedUpload(data, kind, None, photo=photo)  # hashes are not used by this detector


def test_detector_reports_the_readers_summary(rgb):
    found = detector(None).detect(upload(PF.png_with_text(rgb, [("tEXt", "parameters", PF.A1111_PARAMETERS)]), rgb),
                                  None)
    assert found.summary["ai_generated"] is True
    assert found.summary["evidence"][0]["kind"] == "generator_metadata"
    assert found.matches == [] and found.items == []
    assert ProvenanceDetector.name == "provenance" and ProvenanceDetector.requires == frozenset()


def test_plain_photo_is_null_with_no_evidence(rgb):
    if not watermark.available():
        pytest.skip("invisible-watermark is not installed: the evidence says so")
    found = detector(None).detect(upload(PHOTO.read_bytes(), rgb), None)
    assert found.summary == {"ai_generated": None, "evidence": []}


def test_trust_anchors_from_the_environment(rgb, tmp_path):
    pytest.importorskip("c2pa")
    signed = PF.sign_c2pa(PF.encode(rgb, "JPEG"), "image/jpeg", PF.created(PF.CAPTURE, "Test Camera"))
    anchors = tmp_path / "anchors.pem"
    anchors.write_text(PF.test_signer().root_pem)
    trusted = ProvenanceDetector.from_env({TRUST_ANCHORS_ENV: str(anchors)})
    assert trusted.detect(upload(signed, rgb), None).summary["ai_generated"] is False
    assert ProvenanceDetector.from_env({}).detect(upload(signed, rgb), None).summary["ai_generated"] is None


def test_video_reads_metadata_but_not_watermarks():
    xmp = PF.xmp_packet(f'Iptc4xmpExt:DigitalSourceType="{PF.AI}"')
    fake_mp4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 64 + xmp
    found = detector(None).detect(upload(fake_mp4, None, kind="video"), None)
    assert found.summary["ai_generated"] is True
    assert all("watermark" not in e["detail"] for e in found.summary["evidence"])
