"""The hash-match detector: the exchanged hashes of an upload looked up in every visible bank.

Photos: PDQ (and, with ``dihedral``, its 7 rotations and flips), MD5 and SHA-256 of the bytes.
Videos: MD5 and SHA-256, and banked videos found in the upload as videos spread (docs/video.md):
the upload's vPDQ frames plus its query-side readings (mirrored, border-cropped, zoomed out) are
aligned in time with each candidate's banked frames; a match needs 3 seconds in common on both
sides (``rule="spread"``: clips, compilations, re-edits) and names the matched segments. The
banked values stay the reference vPDQ exchanged with others.
"""

from __future__ import annotations

import os

from ncii_shield.services.matching import Match, Matcher
from ncii_shield.services.uploads.detectors import DecodedUpload, Findings, Scope

#: "spread" (ours: 3 s in common on both sides) or "reference" (python-threatexchange's: >= 80 % of
#: the upload found in the banked video); NCII_SHIELD_VIDEO_RULE.
VIDEO_RULE = os.environ.get("NCII_SHIELD_VIDEO_RULE", "spread")


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
            found += self._videos(upload, scope)
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

    @staticmethod
    def _videos(upload: DecodedUpload, scope: Scope) -> list[Match]:
        from ncii_shield.signals.vpdq import hash_query_video, value_to_frames

        index = scope.follower.indexes.get("vpdq")
        if index is None or len(index) == 0:
            return []
        frames = value_to_frames(upload.hashes.vpdq)  # type: ignore[union-attr]
        if upload.video is not None:  # the pipeline's one decode pass made them with the reference frames
            extra = upload.video.readings
        else:
            extra = hash_query_video(upload.video_path, dihedral=scope.dihedral) if upload.video_path else []
        found = []
        for vm in index.video_matches(frames, extra=extra, rule=VIDEO_RULE):  # type: ignore[attr-defined]
            bank_id = scope.follower.bank_id_of(vm.signal_id)
            bank = scope.follower.banks.get(bank_id) if bank_id is not None else None
            if bank is None or not scope.visible(bank):
                continue
            found.append(Match(0, bank.name, vm.signal_id, "vpdq",
                               round(100.0 - max(vm.query_share, vm.compared_share), 2), shared=scope.shared(bank),
                               variant=None if vm.variant == "original" else vm.variant,
                               query_share=round(vm.query_share, 2), compared_share=round(vm.compared_share, 2),
                               matched_seconds=round(vm.matched_seconds, 2),
                               segments=[seg.to_json() for seg in vm.segments]))
        return found
