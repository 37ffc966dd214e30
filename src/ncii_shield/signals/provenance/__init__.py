"""Provenance: what an upload says about who or what made it (see docs/provenance.md).

C2PA manifests (``c2pa-python``), invisible watermarks with known generator payloads
(``invisible-watermark``'s DWT-DCT decoder) and generator metadata (PNG text, EXIF, XMP), read from
the bytes with bounded work. The optional ``provenance`` extra installs the first two; without it
the reader says what it could not check.
"""

from ncii_shield.signals.provenance.evidence import Evidence
from ncii_shield.signals.provenance.reader import (
           Provenance,
           ProvenanceLimits,
           ProvenanceReader,
           read_provenance,
)
from ncii_shield.signals.provenance.watermark import KNOWN_PAYLOADS, KnownPayload

__all__ = ["KNOWN_PAYLOADS", "Evidence", "KnownPayload", "Provenance", "ProvenanceLimits", "ProvenanceReader",
           "read_provenance"]
