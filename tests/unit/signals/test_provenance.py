"""Provenance reading: real C2PA manifests (signed here with a test certificate), watermarks from the
package's own encoder and generator metadata as the generators write it are each found; plain photos
and look-alike metadata are not marked AI; a capture claim counts only from a trusted signer; what
could not be checked is said."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ncii_shield.signals.provenance import (
    KNOWN_PAYLOADS,
    ProvenanceLimits,
    ProvenanceReader,
    read_provenance,
    watermark,
)
from ncii_shield.signals.provenance.containers import read_metadata
from ncii_shield.signals.provenance.exif import read_exif_text
from tests import provenance_fixtures as PF

DATA = Path(__file__).parents[2] / "data" / "provenance"
try:
    import c2pa  # noqa: F401
    HAVE_C2PA = True
except ImportError:
    HAVE_C2PA = False
HAVE_WATERMARK = watermark.available()
needs_c2pa = pytest.mark.skipif(not HAVE_C2PA, reason="the provenance extra (c2pa-python) is not installed")
needs_watermark = pytest.mark.skipif(not HAVE_WATERMARK, reason="invisible-watermark is not installed")


def photo(name: str = "skimage-astronaut.jpg") -> np.ndarray:
    with Image.open(DATA / name) as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    return photo()


@pytest.fixture(scope="module")
def positives(rgb) -> dict[str, bytes]:
    return PF.fixtures(rgb, c2pa=HAVE_C2PA, watermarks=HAVE_WATERMARK)


@pytest.fixture(scope="module")
def reader() -> ProvenanceReader:
    return ProvenanceReader(trust_anchors=PF.test_signer().root_pem)


def pixels(data: bytes) -> np.ndarray:
    import io

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def kinds(result) -> list[str]:
    return [e.kind for e in result.evidence]


# --- every fixture kind is found ------------------------------------------------------------------

EXPECTED_KIND = {"png-a1111-parameters": "generator_metadata", "png-comfyui-prompt": "generator_metadata",
                 "png-comfyui-workflow": "generator_metadata", "png-novelai": "generator_metadata",
                 "png-invokeai": "generator_metadata", "jpeg-a1111-exif-usercomment": "generator_metadata",
                 "jpeg-exif-software-firefly": "generator_metadata",
                 "jpeg-xmp-digitalsourcetype": "digital_source_type", "jpeg-xmp-composite-ai": "digital_source_type",
                 "jpeg-c2pa-ai-created": "c2pa_ai", "png-c2pa-ai-composite": "c2pa_ai",
                 "jpeg-c2pa-edit-of-ai-ingredient": "c2pa_ai",
                 **{f"png-watermark-{p.name}": "watermark" for p in KNOWN_PAYLOADS}}


@pytest.mark.parametrize("name", sorted(EXPECTED_KIND))
def test_every_fixture_kind_is_marked_ai(positives, reader, name):
    if name not in positives:
        pytest.skip("the provenance extra is not installed")
    data = positives[name]
    result = reader.read(data, rgb=pixels(data))
    assert result.ai_generated is True, result.to_json()
    assert EXPECTED_KIND[name] in kinds(result), result.to_json()
    assert set(result.to_json()) == {"ai_generated", "evidence"}
    assert all(set(e) == {"kind", "detail"} for e in result.to_json()["evidence"])


@pytest.mark.parametrize("name", sorted(PF.negatives(np.zeros((300, 300, 3), np.uint8))))
@pytest.mark.parametrize("base", ["skimage-coffee.jpg", "skimage-astronaut.jpg"])
def test_plain_photos_and_look_alike_metadata_are_not_marked_ai(reader, name, base):
    rgb = photo(base)
    data = PF.negatives(rgb)[name]
    result = reader.read(data, rgb=pixels(data))
    assert result.ai_generated is None, result.to_json()
    assert "watermark" not in kinds(result)


@needs_watermark
def test_the_shipped_photos_have_no_marks_at_all(reader):
    for path in sorted(DATA.glob("*.jpg")):
        data = path.read_bytes()
        assert reader.read(data, rgb=pixels(data)).to_json() == {"ai_generated": None, "evidence": []}


def test_prompts_are_not_copied_into_the_evidence(positives, reader):
    for name in ("png-a1111-parameters", "jpeg-a1111-exif-usercomment", "png-comfyui-prompt"):
        text = json.dumps(reader.read(positives[name], rgb=np.zeros((8, 8, 3), np.uint8)).to_json())
        assert "fruit" not in text and "lighthouse" not in text, text
    detail = reader.read(positives["png-a1111-parameters"], rgb=np.zeros((8, 8, 3), np.uint8)).evidence[0].detail
    assert "AUTOMATIC1111" in detail and "v1-5-pruned-emaonly" in detail


# --- C2PA --------------------------------------------------------------------------------------


@needs_c2pa
def test_c2pa_reports_signer_validation_and_ai_action(positives, reader):
    result = reader.read(positives["jpeg-c2pa-ai-created"], rgb=np.zeros((8, 8, 3), np.uint8))
    summary, action = result.evidence[0].detail, result.evidence[1].detail
    assert "'Test Generator Signer'" in summary and "ncii-shield test CA" in summary
    assert "validation Trusted" in summary
    assert "c2pa.created" in action and "trainedAlgorithmicMedia" in action and "Test Diffusion" in action


@needs_c2pa
def test_untrusted_signer_is_reported_and_its_ai_claim_still_counts(positives):
    result = ProvenanceReader().read(positives["jpeg-c2pa-ai-created"], rgb=np.zeros((8, 8, 3), np.uint8))
    assert result.ai_generated is True
    assert "validation Valid" in result.evidence[0].detail


@needs_c2pa
def test_ai_ingredient_of_an_edit_is_found(positives, reader):
    result = reader.read(positives["jpeg-c2pa-edit-of-ai-ingredient"], rgb=np.zeros((8, 8, 3), np.uint8))
    assert "ingredients: 'generated.jpg' (parentOf)" in result.evidence[0].detail
    assert "ingredient manifest" in next(e.detail for e in result.evidence if e.kind == "c2pa_ai")


@needs_c2pa
def test_capture_claim_is_false_only_from_a_trusted_signer(rgb, reader):
    signed = PF.sign_c2pa(PF.encode(rgb, "JPEG"), "image/jpeg", PF.created(PF.CAPTURE, "Test Camera"))
    assert reader.read(signed, rgb=rgb).ai_generated is False
    untrusted = ProvenanceReader().read(signed, rgb=rgb)
    assert untrusted.ai_generated is None
    assert "not relied on (validation Valid" in next(e.detail for e in untrusted.evidence if e.kind == "c2pa_capture")
    other_root = ProvenanceReader(trust_anchors=PF.test_signer("another signer").root_pem)
    assert other_root.read(signed, rgb=rgb).ai_generated is None


@needs_c2pa
def test_capture_claim_on_altered_pixels_is_invalid_and_not_relied_on(rgb, reader):
    signed = bytearray(PF.sign_c2pa(PF.encode(rgb, "PNG"), "image/png", PF.created(PF.CAPTURE, "Test Camera")))
    idat = signed.index(b"IDAT")
    signed[idat + 100] ^= 0xFF  # pixel data changed after signing: the hash no longer matches
    result = reader.read(bytes(signed), rgb=rgb)
    assert result.ai_generated is None, result.to_json()
    assert "validation Invalid" in result.evidence[0].detail


@needs_c2pa
@needs_watermark
def test_capture_claim_loses_to_an_ai_watermark(rgb, reader):
    marked = watermark.encode(rgb, KNOWN_PAYLOADS[0])
    signed = PF.sign_c2pa(PF.encode(marked, "PNG"), "image/png", PF.created(PF.CAPTURE, "Test Camera"))
    result = reader.read(signed, rgb=pixels(signed))
    assert result.ai_generated is True
    assert {"c2pa_capture", "watermark"} <= set(kinds(result))


@needs_c2pa
def test_corrupt_c2pa_store_is_reported_not_guessed(positives, reader):
    data = bytearray(positives["jpeg-c2pa-ai-created"])
    at = data.index(b"jumb")
    data[at + 40:at + 400] = bytes(360)  # inside the JUMBF store
    result = reader.read(bytes(data), rgb=np.zeros((8, 8, 3), np.uint8))
    assert result.ai_generated is None, result.to_json()
    assert "c2pa_error" in kinds(result)


# --- watermarks -------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", KNOWN_PAYLOADS, ids=lambda p: p.name)
@needs_watermark
def test_block_vote_equals_the_packaged_decoder(rgb, payload):
    """Our one-decode-for-all-lengths reading gives the bits of the package's own decode()."""
    marked = watermark.encode(rgb, payload)
    strip = marked[:watermark.strip_rows(*marked.shape[:2], watermark.DEFAULT_MAX_PIXELS)]
    pixels_in = strip[:, :, ::-1] if payload.order == "bgr" else strip
    pixels_in = np.ascontiguousarray(pixels_in, dtype=np.float32 if payload.domain == "float" else np.uint8)
    ref = watermark.embed_max_dct()(watermarks=[], wmLen=len(payload.bits)).decode(pixels_in)
    ours = watermark.payload_bits(watermark.block_bits(marked, domain=payload.domain, order=payload.order),
                                  len(payload.bits))
    assert np.array_equal(np.asarray(ref, np.uint8), ours)
    assert watermark.match_counts(marked)[payload.name] == len(payload.bits)


@needs_watermark
def test_sdxl_mark_read_as_8_bit_is_noise_but_as_float_is_exact(rgb):
    """The 'dwtDct returns all ones' report: the float-encoded SDXL mark must be decoded as float."""
    sdxl = KNOWN_PAYLOADS[0]
    marked = watermark.encode(rgb, sdxl)
    as_uint8 = watermark.payload_bits(watermark.block_bits(marked, domain="uint8", order="bgr"), 48)
    as_float = watermark.payload_bits(watermark.block_bits(marked, domain="float", order="bgr"), 48)
    assert np.array_equal(as_float, np.asarray(sdxl.bits, np.uint8))
    assert (as_uint8 == np.asarray(sdxl.bits, np.uint8)).sum() < sdxl.min_match


def test_payload_table_matches_the_public_sources():
    by_name = {p.name: p for p in KNOWN_PAYLOADS}
    assert "".join(map(str, by_name["sdxl"].bits)) == bin(0b101100111110110010010000011110111011000110011110)[2:]
    assert np.packbits(by_name["sd1"].bits).tobytes() == b"StableDiffusionV1"
    assert np.packbits(by_name["sd2"].bits).tobytes() == b"SDV2"
    assert all(p.source and p.min_match > len(p.bits) * 0.85 for p in KNOWN_PAYLOADS)


@needs_watermark
def test_watermark_decoder_reads_a_bounded_strip(rgb, monkeypatch):
    seen = []
    real = watermark.block_bits
    monkeypatch.setattr(watermark, "block_bits", lambda img, **kw: seen.append(kw["max_pixels"]) or real(img, **kw))
    big = np.zeros((4000, 3000, 3), np.uint8)
    assert watermark.watermark_evidence(big) == []
    assert watermark.strip_rows(4000, 3000, watermark.DEFAULT_MAX_PIXELS) * 3000 <= watermark.DEFAULT_MAX_PIXELS
    assert watermark.strip_rows(10, 70000, 1000) == 8


def test_small_or_reduced_photos_are_not_checked_and_say_so(rgb):
    small = ProvenanceReader().read(PF.encode(rgb[:200, :200], "PNG"), rgb=rgb[:200, :200])
    assert small.ai_generated is None and "smaller than 256 x 256" in small.evidence[0].detail

    class Reduced:
        rgb = np.zeros((1000, 1000, 3), np.uint8)
        reduced_by = 2

    reduced = ProvenanceReader().read(b"\xff\xd8\xff\xd9", photo=Reduced())
    assert "decoded at reduced size" in reduced.evidence[-1].detail


# --- without the extra ------------------------------------------------------------------------


@needs_c2pa
@needs_watermark
def test_without_the_extra_the_reader_says_what_it_could_not_check(positives, monkeypatch):
    monkeypatch.setitem(sys.modules, "c2pa", None)  # import c2pa -> ImportError

    def missing():
        raise watermark.WatermarkUnavailable("No module named 'imwatermark'")

    monkeypatch.setattr(watermark, "embed_max_dct", missing)
    rgb_ = pixels(positives["png-watermark-sdxl"])
    c2pa_file = ProvenanceReader().read(positives["jpeg-c2pa-ai-created"], rgb=rgb_)
    assert c2pa_file.ai_generated is None
    details = " | ".join(e.detail for e in c2pa_file.evidence)
    assert "c2pa-python is not installed" in details and "decoder is not installed" in details
    # metadata needs no extra
    assert ProvenanceReader().read(positives["png-a1111-parameters"], rgb=rgb_).ai_generated is True


# --- the pieces -------------------------------------------------------------------------------


@needs_c2pa
def test_metadata_walk_finds_text_exif_xmp_and_c2pa(positives):
    png = read_metadata(positives["png-novelai"])
    assert png.format == "png" and ("Software", "NovelAI") in png.texts
    jpeg = read_metadata(positives["jpeg-a1111-exif-usercomment"])
    assert read_exif_text(jpeg.exif[0])["UserComment"].startswith("a bowl of fruit")
    assert "trainedAlgorithmicMedia" in read_metadata(positives["jpeg-xmp-digitalsourcetype"]).xmp[0]
    assert read_metadata(positives["jpeg-c2pa-ai-created"]).c2pa_embedded
    assert read_metadata(positives["png-c2pa-ai-composite"]).c2pa_embedded
    assert not read_metadata(PF.encode(np.zeros((9, 9, 3), np.uint8), "PNG")).c2pa_embedded


def test_webp_metadata_is_read(rgb):
    exif = Image.Exif()
    exif[0x0131] = "NovelAI"
    data = PF.encode(rgb, "WEBP", exif=exif, xmp=PF.xmp_packet(f'Iptc4xmpExt:DigitalSourceType="{PF.AI}"'))
    result = read_provenance(data, rgb=rgb)
    assert result.ai_generated is True
    assert {"generator_metadata", "digital_source_type"} <= set(kinds(result))


def test_oversized_upload_is_not_read():
    reader = ProvenanceReader(limits=ProvenanceLimits(max_bytes=1000))
    result = reader.read(b"\x89PNG\r\n\x1a\n" + bytes(2000))
    assert result.ai_generated is None and "at most 1,000 bytes" in result.evidence[0].detail
