"""The one upload pipeline: decode once, run every detector, apply the policy, record, queue.

Every way an upload is checked (``POST /v1/match/media``, ``ncii-shield check`` and ``match``,
scans, monitors, HMA's ``/m/lookup``) calls :meth:`UploadPipeline.check`; routes and commands only
parse options and render the :class:`Verdict`::

    shield = Shield.open("sqlite:///data/ncii-shield.db")
    verdict = shield.uploads.check(shield.local_principal(), data, CheckOptions(dihedral=True))
    verdict.matches, verdict.items["derivatives"], verdict.review.priority
    verdict.to_json()   # {"content_type", "hashes", "weak", "matches", "derivatives", ..., "review"}

The upload is decoded in memory (a video: a private RAM-backed temporary file, deleted before
``check`` returns) and dropped; only hashes and findings come back.
"""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ncii_shield.errors import InvalidRequest
from ncii_shield.index.follower import IndexFollower
from ncii_shield.media.decode import decode_photo
from ncii_shield.media.sniff import ContentType, sniff_content_type
from ncii_shield.media.video import video_file_from_bytes
from ncii_shield.services.hashing import HashOptions, PhotoHashes, VideoHashes, hash_decoded_photo
from ncii_shield.services.keys import Principal
from ncii_shield.services.matching import Match, Matcher
from ncii_shield.services.uploads.derivative_flags import Derivatives
from ncii_shield.services.uploads.detectors import DecodedUpload, Detector, Findings, Scope, TapFailed
from ncii_shield.services.uploads.hash_matches import HashMatches
from ncii_shield.services.uploads.policy import Policy, ReviewDecision
from ncii_shield.signals.md5 import Md5Signal
from ncii_shield.signals.pdq import is_weak
from ncii_shield.signals.sha256 import Sha256Signal
from ncii_shield.signals.vpdq import DecodedVideo, decode_video

log = logging.getLogger("ncii_shield.uploads")

#: Plug-in detectors beyond the hash matches and derivative flags every install has: each module
#: exposes ``detector(follower) -> Detector | None`` (None: nothing to search, or its optional extra
#: is not installed). Order matters where one detector gives context to another (a nudity
#: classifier's "explicit" before likeness).
PLUGINS: tuple[str, ...] = (
    "ncii_shield.services.uploads.provenance",
    "ncii_shield.services.uploads.marks",
    "ncii_shield.services.uploads.nudity",
    "ncii_shield.services.uploads.likeness",
)

CONTEXTS = frozenset({"explicit"})
#: A video's sampled frames also go to the photo detectors (derivatives, marks): at most this many
#: frames, evenly spread (``NCII_SHIELD_VIDEO_PHOTO_FRAMES``), each at most ``FRAME_SIDE`` pixels a side.
VIDEO_PHOTO_FRAMES = int(os.environ.get("NCII_SHIELD_VIDEO_PHOTO_FRAMES", "16"))
FRAME_SIDE = 640
MUTED = frozenset({"suppressed", "disabled", "observe"})  # trust actions under which a hit asks nothing of anyone
FLAG_TYPES = {"derivatives": "derivative", "likeness": "face", "marks": "mark"}  # a flag's signal type


@dataclass(frozen=True)
class CheckOptions:
    """What the caller says about the upload and what should happen with the verdict.

    ``explicit``: the platform says the upload is sexual content (likeness searches faces only then).
    ``content_id``: the platform's id of the upload: its hashes join the content index that removal
    requests' copy sweeps search. ``review``: queue the verdict for a person when the policy says
    so (needs ``content_id``). ``banks``: report only hits in these banks (a scan's ``--bank``)."""

    dihedral: bool = False
    explicit: bool = False
    content_id: str | None = None
    review: bool = False
    banks: tuple[str, ...] = ()
    hash_options: HashOptions = field(default_factory=HashOptions)
    actor: str | None = None  # who queued it ("key:abcd1234", "monitor:name"); default: the key


@dataclass
class Verdict:
    hashes: PhotoHashes | VideoHashes
    matches: list[Match] = field(default_factory=list)
    items: dict[str, list] = field(default_factory=dict)  # detector name -> its flags
    summaries: dict[str, Any] = field(default_factory=dict)  # detector name -> its summary object
    skipped: dict[str, str] = field(default_factory=dict)  # detector name -> why it did not run
    review: ReviewDecision = field(default_factory=lambda: ReviewDecision(False))
    review_item: int | None = None
    assessments: dict[int, Any] = field(default_factory=dict)  # signal id -> services.trust.Assessment
    mandatory_report_item: int | None = None

    def hits(self) -> list[tuple[str, int, str]]:
        """(bank, signal id, signal type) of every match and every detector's flag."""
        out = [(m.bank, m.signal_id, m.signal_type) for m in self.matches]
        for name, flags in self.items.items():
            kind = FLAG_TYPES.get(name, name)
            out += [(f.bank, f.signal_id, kind) for f in flags if getattr(f, "signal_id", None) is not None]
        return out

    def live(self, signal_id: int) -> bool:
        """Whether a hit still counts after the trust policy (not suppressed by an allow-list, not
        disabled or deconfirmed for this tenant, not a bank that only observes)."""
        a = self.assessments.get(signal_id)
        return a is None or a.action not in MUTED

    @property
    def content_type(self) -> str:
        return "video" if isinstance(self.hashes, VideoHashes) else "photo"

    @property
    def derivatives(self) -> list:
        return self.items.get("derivatives", [])

    @property
    def weak(self) -> bool:
        return isinstance(self.hashes, PhotoHashes) and is_weak(self.hashes.pdq_quality)

    @property
    def found(self) -> bool:
        """Anything a person should look at: a match or any detector's flag."""
        return bool(self.matches) or any(self.items.values())

    def findings_json(self) -> dict:
        """Every detector's findings by name (``matches``, ``derivatives``, ``likeness``, ``marks``,
        ``provenance``, ...), as the API and ``--json`` render them."""
        out: dict[str, Any] = {"matches": [self._with_action(m.to_json()) for m in self.matches]}
        for name, flags in self.items.items():
            out[name] = [self._with_action(f.to_json()) for f in flags]
        for name, summary in self.summaries.items():
            out[name] = summary.to_json() if hasattr(summary, "to_json") else summary
        out.setdefault("derivatives", [])
        return out

    def _with_action(self, hit: dict) -> dict:
        a = self.assessments.get(hit.get("signal_id"))  # type: ignore[arg-type]
        if a is not None:
            hit["action"], hit["action_reason"] = a.action, a.reason
        return hit

    def to_json(self) -> dict:
        hashes = self.hashes.to_json()
        hashes.pop("path", None)
        content_type = hashes.pop("content_type")
        out = {"content_type": content_type, "hashes": hashes, "weak": self.weak, **self.findings_json(),
               "review": self.review.to_json(), "review_item": self.review_item}
        if self.skipped:
            out["skipped"] = dict(self.skipped)
        return out


@dataclass(frozen=True)
class InFrame:
    """A photo detector's flag found in one sampled frame of a video (``frame``: its second)."""

    flag: Any
    frame: float

    @property
    def bank(self) -> str:
        return self.flag.bank

    @property
    def signal_id(self) -> int:
        return self.flag.signal_id

    def to_json(self) -> dict:
        return {**self.flag.to_json(), "frame": self.frame}


class UploadPipeline:
    def __init__(self, matcher: Matcher, follower: IndexFollower, *, content=None, cases=None,  # noqa: ANN001
                 review=None, detectors: list[Detector] | None = None, policy: Policy | None = None,  # noqa: ANN001
                 plugins: tuple[str, ...] = PLUGINS, trust=None, mandatory=None) -> None:  # noqa: ANN001
        self.matcher = matcher
        self.trust = trust  # services.trust.TrustPolicy: per-hit actions from the source's trust
        self.mandatory = mandatory  # services.mandatory_reports.MandatoryReports
        self.follower = follower
        self.content = content
        self.cases = cases
        self.review_service = review
        self.policy = policy or Policy()
        self.unavailable: dict[str, str] = {}
        self.detectors: list[Detector] = detectors if detectors is not None else self._default_detectors(plugins)

    def _default_detectors(self, plugins: tuple[str, ...]) -> list[Detector]:
        found: list[Detector] = [HashMatches(self.matcher), Derivatives()]
        for module_name in plugins:
            short = module_name.rsplit(".", 1)[-1]
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name == module_name:  # not part of this install
                    continue
                self.unavailable[short] = f"not installed ({exc.name} is missing)"
                continue
            detector = module.detector(self.follower)
            if detector is None:
                self.unavailable[short] = "not configured"
            else:
                found.append(detector)
        return found

    # -- the check -------------------------------------------------------------------------------

    def check(self, principal: Principal, data: bytes, options: CheckOptions | None = None) -> Verdict:
        """Decode ``data`` once, run every detector over it, apply the policy, record and queue."""
        principal.require("match")
        options = options or CheckOptions()
        if options.review and options.content_id is None:
            raise InvalidRequest("review needs a content_id: the queue item names the upload a moderator acts on")
        scope = Scope(principal, self.follower, frozenset({"explicit"}) if options.explicit else frozenset(),
                      options.dihedral, frozenset(options.banks))
        hash_options = options.hash_options
        if options.dihedral and not hash_options.dihedral:
            hash_options = replace(hash_options, dihedral=True)
        if sniff_content_type(data[:512]) is ContentType.VIDEO:
            with video_file_from_bytes(data, hash_options.video_limits) as path:
                video = self._decode_video(path, scope, hash_options)
                hashes = VideoHashes(frames=video.frames, md5=Md5Signal.hash_bytes(data).value,
                                     sha256=Sha256Signal.hash_bytes(data).value)
                verdict = self._detect(DecodedUpload(data, "video", hashes, video_path=path, video=video), scope)
        else:
            photo = decode_photo(data, apply_orientation=hash_options.apply_orientation,
                                 limits=hash_options.photo_limits)
            verdict = self._detect(DecodedUpload(data, "photo", hash_decoded_photo(data, photo, hash_options), photo),
                                   scope)
        hits = verdict.hits()
        if self.trust is not None and hits:
            verdict.assessments = {a.signal_id: a for a in self.trust.assess(
                principal.tenant_id, hits, content_id=options.content_id,
                actor=options.actor or f"key:{principal.key_prefix}")}
        verdict.review = self.policy.decide(verdict, principal.tenant_id)
        self._record(principal, verdict, options)
        return verdict

    def _decode_video(self, path: Path, scope: Scope, options: HashOptions) -> DecodedVideo:
        """One decode pass of a video for every detector: the reference vPDQ frames, the query-side
        readings (when a banked video could match) and the frames the photo detectors see (when
        one of them wants frames)."""
        index = self.follower.indexes.get("vpdq")
        stills = VIDEO_PHOTO_FRAMES if any(
            "video" not in d.media and "photo" in d.media and getattr(d, "wants", lambda s: True)(scope)
            for d in self.detectors) else 0
        taps = {}
        for d in self.detectors:
            offer = getattr(d, "frame_tap", None)
            tap = offer(scope) if offer is not None and "video" in d.media and not (d.requires - scope.context) else None
            if tap is not None:
                taps[d.name] = (tap.fps, tap.max_side, tap.most, _guarded(d.name, tap.read))
        return decode_video(path, limits=options.video_limits, readings=index is not None and len(index) > 0,
                            dihedral=scope.dihedral, stills=max(0, stills), still_side=FRAME_SIDE, taps=taps)

    def _detect(self, upload: DecodedUpload, scope: Scope) -> Verdict:
        verdict = Verdict(upload.hashes, skipped=dict(self.unavailable))
        photo_only: list[Detector] = []
        for detector in self.detectors:
            if upload.kind not in detector.media:
                if upload.kind == "video" and "photo" in detector.media:
                    photo_only.append(detector)
                continue
            missing = detector.requires - scope.context
            if missing:
                verdict.skipped[detector.name] = (f"needs {', '.join(sorted(missing))} content "
                                                  f"(say so with explicit=true)")
                continue
            try:
                findings = detector.detect(upload, scope)
            except Exception as exc:  # noqa: BLE001 - a plug-in's failure must not lose the hash verdict
                if isinstance(detector, (HashMatches, Derivatives)):
                    raise
                log.exception("detector failed", extra={"detector": detector.name})
                verdict.skipped[detector.name] = f"failed ({type(exc).__name__})"
                continue
            self._merge(verdict, detector.name, findings)
            if findings.context:
                scope = replace(scope, context=scope.context | (findings.context & CONTEXTS))
        if photo_only and upload.video is not None:
            self._detect_frames(upload, scope, photo_only, verdict)
        return verdict

    def _detect_frames(self, upload: DecodedUpload, scope: Scope, detectors: list[Detector],
                       verdict: Verdict) -> None:
        """A video's sampled frames through the photo detectors (a fake made from a registered photo
        shown in a video; a service's mark on a clip): each frame decoded once, for every detector;
        each finding once per signal, at the first frame it is seen in."""
        wanted = [d for d in detectors if getattr(d, "wants", lambda s: True)(scope)
                  and not (d.requires - scope.context)]
        for d in detectors:
            if d.requires - scope.context:
                verdict.skipped[d.name] = f"needs {', '.join(sorted(d.requires - scope.context))} content"
        if not wanted or VIDEO_PHOTO_FRAMES <= 0 or upload.video is None:
            return
        from ncii_shield.media.decode import DecodedPhoto

        seen: set[tuple[str, int]] = {("matches", m.signal_id) for m in verdict.matches}
        for t, rgb in upload.video.stills:  # sampled in the one decode pass (_decode_video)
            frame = DecodedUpload(upload.data, "photo", upload.hashes,
                                  DecodedPhoto(np.ascontiguousarray(rgb), "video-frame", "RGB", 1, False))
            for detector in wanted:
                try:
                    findings = detector.detect(frame, scope)
                except Exception as exc:  # noqa: BLE001 - as for the whole upload: reported, the rest stands
                    log.exception("detector failed on a video frame", extra={"detector": detector.name})
                    verdict.skipped[detector.name] = f"failed on a frame ({type(exc).__name__})"
                    continue
                for m in findings.matches:
                    if ("matches", m.signal_id) not in seen:
                        seen.add(("matches", m.signal_id))
                        verdict.matches.append(replace(m, variant=f"frame at {t:.1f} s"))
                for item in findings.items:
                    key = (detector.name, getattr(item, "signal_id", -1))
                    if key not in seen:
                        seen.add(key)
                        verdict.items.setdefault(detector.name, []).append(InFrame(item, round(t, 2)))

    @staticmethod
    def _merge(verdict: Verdict, name: str, findings: Findings) -> None:
        verdict.matches += findings.matches
        if findings.items or name in ("derivatives",):
            verdict.items.setdefault(name, []).extend(findings.items)
        if findings.summary is not None:
            verdict.summaries[name] = findings.summary

    # -- record and queue ------------------------------------------------------------------------

    def _record(self, principal: Principal, verdict: Verdict, options: CheckOptions) -> None:
        media_type = "video" if verdict.content_type == "video" else "image"
        if options.content_id is not None and self.content is not None:
            from ncii_shield.services.content import ContentInput

            hashes = verdict.hashes
            self.content.register(principal.tenant_id, [ContentInput(
                options.content_id, getattr(hashes, "pdq", None) if verdict.content_type == "photo" else None,
                hashes.md5, hashes.sha256, media_type=media_type)])
        ids = [signal_id for _, signal_id, _ in verdict.hits()]
        if ids and self.cases is not None:
            self.cases.record_matches(ids)
        actor = options.actor or f"key:{principal.key_prefix}"
        if verdict.review.kind == "mandatory_report":  # a minor's hash: queued whenever the upload has an id
            if options.content_id is not None and self.mandatory is not None:
                verdict.mandatory_report_item = self.mandatory.enqueue_assessed(
                    principal.tenant_id, options.content_id, verdict.assessments.values(), actor=actor,
                    media_type=media_type)
                verdict.review_item = verdict.mandatory_report_item
            return
        if options.review and verdict.review.queue and self.review_service is not None:
            item = self.review_service.enqueue_upload(
                principal.tenant_id, actor, options.content_id, media_type,
                verdict.review, verdict.findings_json())
            verdict.review_item = item.id


def _guarded(name: str, read):  # noqa: ANN001, ANN202 - a frame reader that never raises into the decoder
    failed: list[TapFailed] = []

    def guarded(rgb):  # noqa: ANN001, ANN202
        if failed:
            return failed[0]
        try:
            return read(rgb)
        except Exception as exc:  # noqa: BLE001 - reported by the detector, not by the decode pass
            log.exception("frame tap failed", extra={"detector": name})
            failed.append(TapFailed(exc))
            return failed[0]

    return guarded
