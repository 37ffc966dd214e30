"""The provenance reader: what an upload says about who or what made it.

    reader = ProvenanceReader()                       # or ProvenanceReader(trust_anchors=pem)
    result = reader.read(data, photo=decoded_photo)  # photo optional: decoded here when absent
    result.to_json()  # {"ai_generated": True | False | None, "evidence": [{"kind", "detail"}, ...]}

``ai_generated`` is

* ``True`` when any signal says a generative model made or edited the upload: a C2PA action with
  an AI digital source type, a known invisible watermark, generator metadata (PNG text, EXIF, XMP);
* ``False`` only when a C2PA manifest whose signer chains to a configured trust anchor, with no
  validation failure, declares a camera capture and nothing says AI;
* ``None`` otherwise: nothing is known. Pixels alone never decide; a missing mark proves nothing.

Hostile input: the reader never raises on any bytes. Bytes over ``limits.max_bytes`` are not read
(``None``, with a ``not_checked`` evidence); the metadata walk is bounded (:mod:`.containers`); the
watermark decoder reads a bounded strip; the photo is decoded, when the caller has not, by the
project's safe decoder (:func:`ncii_shield.media.decode.decode_photo`) with its limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ncii_shield.errors import MediaError
from ncii_shield.signals.provenance import watermark
from ncii_shield.signals.provenance.containers import MetadataLimits, read_metadata
from ncii_shield.signals.provenance.content_credentials import C2paReader
from ncii_shield.signals.provenance.evidence import C2PA_CAPTURE, KIND_ORDER, NOT_CHECKED, Evidence
from ncii_shield.signals.provenance.markers import metadata_evidence


@dataclass(frozen=True)
class ProvenanceLimits:
    """``max_bytes``: larger uploads are not read; ``watermark_pixels``: the most pixels the
    watermark decoder reads; ``metadata``: bounds on the container walk."""

    max_bytes: int = 64 * 1024 * 1024
    watermark_pixels: int = watermark.DEFAULT_MAX_PIXELS
    metadata: MetadataLimits = field(default_factory=MetadataLimits)


@dataclass
class Provenance:
    """The reader's answer for one upload."""

    ai_generated: bool | None
    evidence: list[Evidence] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"ai_generated": self.ai_generated, "evidence": [e.to_json() for e in self.evidence]}


def decide(evidence: list[Evidence]) -> bool | None:
    """True if any evidence says AI; False if a trusted capture claim stands alone; else None."""
    if any(e.ai is True for e in evidence):
        return True
    if any(e.ai is False and e.kind == C2PA_CAPTURE for e in evidence):
        return False
    return None


class ProvenanceReader:
    """Reads C2PA, known invisible watermarks and generator metadata. Thread-safe; reuse one."""

    def __init__(self, *, trust_anchors: str | None = None, limits: ProvenanceLimits = ProvenanceLimits(),
                 payloads: tuple[watermark.KnownPayload, ...] = watermark.KNOWN_PAYLOADS) -> None:
        self.limits = limits
        self.payloads = payloads
        self.c2pa = C2paReader(trust_anchors)

    def read(self, data: bytes, *, photo=None, rgb: np.ndarray | None = None, kind: str = "photo") -> Provenance:
        """Read ``data`` (the upload's bytes). ``photo`` (a DecodedPhoto) or ``rgb`` (H x W x 3 uint8)
        give the pixels for the watermark check; without either a photo is decoded here. ``kind``
        "video" reads C2PA and metadata only."""
        if len(data) > self.limits.max_bytes:
            return Provenance(None, [Evidence(NOT_CHECKED, f"the upload is {len(data):,} bytes; at most "
                                              f"{self.limits.max_bytes:,} bytes are read for provenance")])
        evidence: list[Evidence] = []
        meta = read_metadata(data, self.limits.metadata)
        if meta.c2pa_embedded:
            evidence.extend(self.c2pa.evidence(data, meta.mime))
        evidence.extend(metadata_evidence(meta))
        if kind == "photo" and meta.exhausted and photo is None and rgb is None:
            evidence.append(Evidence(NOT_CHECKED, "invisible watermark: not decoded, the file's metadata "
                                     "structure is over the walk's bounds"))
        elif kind == "photo":
            evidence.extend(self._watermarks(data, photo, rgb))
        for problem in meta.problems[:3]:
            evidence.append(Evidence(NOT_CHECKED, f"metadata: {problem}"))
        evidence.sort(key=lambda e: KIND_ORDER.index(e.kind))
        return Provenance(decide(evidence), evidence)

    def _watermarks(self, data: bytes, photo, rgb: np.ndarray | None) -> list[Evidence]:
        if rgb is None and photo is not None:
            if getattr(photo, "reduced_by", 1) > 1:
                return [Evidence(NOT_CHECKED, "invisible watermark: the photo was decoded at reduced size "
                                 "(over the decoder's full-size limit); the mark does not survive scaling")]
            rgb = photo.rgb
        if rgb is None:
            from ncii_shield.media.decode import decode_photo

            try:
                decoded = decode_photo(data)
            except MediaError as exc:
                return [Evidence(NOT_CHECKED, f"invisible watermark: the photo could not be decoded ({exc})")]
            return self._watermarks(data, decoded, None)
        return watermark.watermark_evidence(rgb, max_pixels=self.limits.watermark_pixels, payloads=self.payloads)


_default: ProvenanceReader | None = None


def read_provenance(data: bytes, *, photo=None, rgb: np.ndarray | None = None, kind: str = "photo") -> Provenance:
    """:meth:`ProvenanceReader.read` with a shared default reader (no trust anchors)."""
    global _default
    if _default is None:
        _default = ProvenanceReader()
    return _default.read(data, photo=photo, rgb=rgb, kind=kind)
