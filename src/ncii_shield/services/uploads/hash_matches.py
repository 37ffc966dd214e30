"""The hash-match detector: the exchanged hashes of an upload looked up in every visible bank.

Photos: PDQ (and, with ``dihedral``, its 7 rotations and flips), MD5 and SHA-256 of the bytes.
Videos: vPDQ (frame shares on both sides), MD5 and SHA-256. Distances are the signal type's own.
"""

from __future__ import annotations

from ncii_shield.services.matching import Match, Matcher
from ncii_shield.services.uploads.detectors import DecodedUpload, Findings, Scope


class HashMatches:
    name = "matches"
    media = frozenset({"photo", "video"})
    requires: frozenset[str] = frozenset()

    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher

    def detect(self, upload: DecodedUpload, scope: Scope) -> Findings:
        hashes = upload.hashes
        lookup = self.matcher.lookup_visible
        found: list[Match] = []
        if upload.kind == "video":
            found += lookup(scope, "vpdq", hashes.vpdq)  # type: ignore[union-attr]
        else:
            found += lookup(scope, "pdq", hashes.pdq)  # type: ignore[union-attr]
            seen = {m.signal_id for m in found}
            for variant, value in hashes.dihedral.items():  # type: ignore[union-attr]
                if variant == "original":
                    continue
                for m in lookup(scope, "pdq", value, variant=variant):
                    if m.signal_id not in seen:
                        seen.add(m.signal_id)
                        found.append(m)
        found += lookup(scope, "md5", hashes.md5)
        found += lookup(scope, "sha256", hashes.sha256)
        return Findings(matches=found)
