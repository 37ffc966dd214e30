"""The provenance detector: what an upload says about who or what made it (docs/provenance.md).

Listed under ``provenance`` in the verdict as ``{"ai_generated": true | false | null, "evidence":
[{"kind", "detail"}]}``. It reads C2PA manifests, known invisible watermarks and generator metadata
(:mod:`ncii_shield.signals.provenance`); it needs no bank. Without the ``provenance`` extra it still
reads metadata and says, in the evidence, what it could not check.

``NCII_SHIELD_C2PA_TRUST_ANCHORS`` names a PEM file of root certificates whose C2PA signers are
trusted; only a trusted manifest's claim of camera capture can make ``ai_generated`` false.
"""

from __future__ import annotations

import os
from pathlib import Path

from ncii_shield.services.uploads.detectors import DecodedUpload, Findings, Scope
from ncii_shield.signals.provenance import ProvenanceReader

TRUST_ANCHORS_ENV = "NCII_SHIELD_C2PA_TRUST_ANCHORS"


class ProvenanceDetector:
    name = "provenance"
    media = frozenset({"photo", "video"})
    requires: frozenset[str] = frozenset()

    def __init__(self, reader: ProvenanceReader | None = None) -> None:
        self.reader = reader or ProvenanceReader()

    @classmethod
    def from_env(cls, environ: dict | None = None) -> ProvenanceDetector:
        env = os.environ if environ is None else environ
        path = env.get(TRUST_ANCHORS_ENV)
        anchors = Path(path).read_text() if path else None
        return cls(ProvenanceReader(trust_anchors=anchors))

    def detect(self, upload: DecodedUpload, scope: Scope) -> Findings:
        result = self.reader.read(upload.data, photo=upload.photo, kind=upload.kind)
        return Findings(summary=result.to_json())


def detector(follower) -> ProvenanceDetector:
    return ProvenanceDetector.from_env()
