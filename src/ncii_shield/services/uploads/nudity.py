"""The nudity detector: "is this sexual?" where the caller does not say (docs/provenance.md).

Listed under ``nudity`` in the verdict as ``{"sexual", "score", "threshold", "detections", "by"}``
(``by``: "classifier", or "caller" when the request already said ``explicit``, in which case the
photo is not classified). A photo scored sexual gives the later detectors the ``explicit`` context
(likeness searches faces only in sexual content). It is for triage: a score never removes anything.

Optional: without the ``[nudity]`` extra (nudenet, AGPL-3.0; see :mod:`ncii_shield.signals.nudity`)
importing this module raises ModuleNotFoundError for ``nudenet``, which the pipeline reports as
"not installed". ``NCII_SHIELD_NUDITY_THRESHOLD`` (0-1, default 0.5) sets the cut.
"""

from __future__ import annotations

import os

from ncii_shield.errors import InvalidRequest
from ncii_shield.services.uploads.detectors import DecodedUpload, Findings, Scope
from ncii_shield.signals.nudity import DEFAULT_THRESHOLD, NudityClassifier, available

if not available():
    raise ModuleNotFoundError("the nudity detector needs the [nudity] extra (nudenet)", name="nudenet")

THRESHOLD_ENV = "NCII_SHIELD_NUDITY_THRESHOLD"


class NudityDetector:
    name = "nudity"
    media = frozenset({"photo"})
    requires: frozenset[str] = frozenset()

    def __init__(self, classifier: NudityClassifier | None = None) -> None:
        self.classifier = classifier or NudityClassifier()  # the model loads on the first photo

    @classmethod
    def from_env(cls, environ: dict | None = None) -> NudityDetector:
        env = os.environ if environ is None else environ
        text = env.get(THRESHOLD_ENV) or str(DEFAULT_THRESHOLD)
        try:
            threshold = float(text)
        except ValueError:
            raise InvalidRequest(f"{THRESHOLD_ENV}={text!r} is not a number; accepted: above 0, up to 1") from None
        return cls(NudityClassifier(threshold))

    def detect(self, upload: DecodedUpload, scope: Scope) -> Findings:
        if "explicit" in scope.context:
            return Findings(summary={"sexual": True, "by": "caller"})
        if upload.photo is None:
            return Findings()
        result = self.classifier.score_rgb(upload.photo.rgb)
        return Findings(summary={**result.to_json(), "by": "classifier"},
                        context=frozenset({"explicit"}) if result.sexual else frozenset())


def detector(follower) -> NudityDetector:
    return NudityDetector.from_env()
