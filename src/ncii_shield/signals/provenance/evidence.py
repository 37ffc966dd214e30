"""What the provenance reader reports: one :class:`Evidence` per thing it found or could not check."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Evidence:
    """One finding. ``kind`` names the signal (see docs/provenance.md); ``detail`` says what was
    found, for a reviewer; ``ai`` is what it says about the upload: True (made or edited by a
    generative model), False (a trusted claim of camera capture), None (neither)."""

    kind: str
    detail: str
    ai: bool | None = None

    def to_json(self) -> dict:
        return {"kind": self.kind, "detail": self.detail}


# Kinds, in the order the verdict lists them.
C2PA = "c2pa"                      # a C2PA manifest store was read: signer, validation state
C2PA_AI = "c2pa_ai"                # a C2PA action declares a generative-AI digital source type
C2PA_CAPTURE = "c2pa_capture"      # a C2PA action declares a camera capture
C2PA_ERROR = "c2pa_error"          # a C2PA store is embedded but could not be read
WATERMARK = "watermark"            # an invisible watermark with a known generator payload
GENERATOR_METADATA = "generator_metadata"    # PNG text, EXIF or XMP written by a generator's software
DIGITAL_SOURCE_TYPE = "digital_source_type"  # IPTC DigitalSourceType in XMP
NOT_CHECKED = "not_checked"        # a signal the reader could not check, and why

KIND_ORDER = (C2PA, C2PA_AI, C2PA_CAPTURE, C2PA_ERROR, WATERMARK, GENERATOR_METADATA, DIGITAL_SOURCE_TYPE,
              NOT_CHECKED)

IPTC_BASES = ("cv.iptc.org/newscodes/digitalsourcetype/", "c2pa.org/digitalsourcetype/")

#: IPTC / C2PA digital source types that say a generative model made the content or part of it.
AI_SOURCE_TYPES = frozenset({"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia",
                             "trainedAlgorithmicData"})
#: Digital source types that say a camera or scanner captured it (a trusted claim of one may give False).
CAPTURE_SOURCE_TYPES = frozenset({"digitalCapture", "computationalCapture", "negativeFilm", "positiveFilm",
                                  "print"})


def source_type_name(uri: str) -> str:
    """``http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia`` -> the last part."""
    return uri.rstrip("/").rsplit("/", 1)[-1].strip()


def clip(text: str, n: int = 120) -> str:
    """One line of at most ``n`` characters of outside text, for a detail string."""
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[:n - 1] + "…"
