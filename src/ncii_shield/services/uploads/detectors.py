"""What a detector of the upload pipeline is, and what it sees and returns.

A detector is a small object with one method over an upload decoded once by the pipeline
(:class:`DecodedUpload`) and the caller's view of the banks (:class:`Scope`)::

    class MarksDetector:
        name = "marks"                       # its key in the verdict
        media = frozenset({"photo"})         # the kinds of upload it looks at
        requires = frozenset()               # context it needs, e.g. {"explicit"} for likeness

        def detect(self, upload: DecodedUpload, scope: Scope) -> Findings:
            ...
            return Findings(items=[MarkFlag(...), ...])

A detector that needs a context the caller did not give (likeness searches faces only in sexual
content: ``explicit``) is skipped, and the verdict says so. Detectors never write: the pipeline
records, applies the tenant's policy and queues for review. They are pure over the decoded media and
the in-memory indexes (rebuildable caches of the store), so scans and monitors in worker processes
run the same detectors as the API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ncii_shield.index.follower import BankInfo, IndexFollower
    from ncii_shield.media.decode import DecodedPhoto
    from ncii_shield.services.hashing import PhotoHashes, VideoHashes
    from ncii_shield.services.keys import Principal
    from ncii_shield.services.matching import Match


@dataclass
class DecodedUpload:
    """An upload decoded once. ``photo`` holds the pixels of a photo (None for a video);
    ``video_path`` is a private RAM-backed copy of a video while the detectors run (deleted after);
    ``hashes`` are the exchanged hashes (PDQ/vPDQ, MD5, SHA-256), computed before any detector runs."""

    data: bytes
    kind: str  # "photo" | "video"
    hashes: PhotoHashes | VideoHashes
    photo: DecodedPhoto | None = None
    video_path: Path | None = None
    video: Any = None  # signals.vpdq.DecodedVideo: a video's one decode pass (readings, frames for photo detectors)


@dataclass(frozen=True)
class Scope:
    """Who is asking and what they may see: detectors report only hits in visible banks."""

    principal: Principal
    follower: IndexFollower
    context: frozenset[str] = frozenset()  # what the caller says of the upload: "explicit"
    dihedral: bool = False  # also try the photo's rotations and flips
    banks: frozenset[str] = frozenset()  # restrict to these bank names (a scan's --bank); empty: all visible

    def visible(self, bank: BankInfo) -> bool:
        if not bank.enabled or not (bank.tenant_id == self.principal.tenant_id or bank.shared):
            return False
        return not self.banks or bank.name in self.banks

    def shared(self, bank: BankInfo) -> bool:
        return bank.tenant_id != self.principal.tenant_id


class Finding(Protocol):
    """One thing a detector found: it names the bank and signal it came from, and renders as JSON."""

    bank: str
    signal_id: int

    def to_json(self) -> dict: ...


@dataclass
class Findings:
    """A detector's answer. ``matches`` join the verdict's hash matches (exact, near, re-shares);
    ``items`` are the detector's own flags, listed under its name (``derivatives``, ``likeness``,
    ``marks``); ``summary`` is an object under its name instead (``provenance``)."""

    matches: list[Match] = field(default_factory=list)
    items: list[Any] = field(default_factory=list)
    summary: Any | None = None
    context: frozenset[str] = frozenset()  # what it learnt of the upload for later detectors: "explicit"


class Detector(Protocol):
    name: str
    media: frozenset[str]
    requires: frozenset[str]

    def detect(self, upload: DecodedUpload, scope: Scope) -> Findings: ...


@dataclass(frozen=True)
class FrameTap:
    """What a video detector reads in the pipeline's one decode pass, besides the evenly spread
    stills every photo detector sees: frames at a steady ``fps`` (at most ``most`` in all; fewer and
    evenly spaced for a long video), at most ``max_side`` pixels a side, each handed to ``read`` in
    the decoder's thread as it arrives (nothing is kept but what ``read`` returns: a face detector
    keeps its faces, not the frame). A detector offers one with an optional method
    ``frame_tap(scope) -> FrameTap | None``; what ``read`` returned lands in
    ``upload.video.tapped[detector.name]`` as ``[(seconds, result), ...]``."""

    fps: float
    max_side: int
    most: int
    read: Callable[[Any], Any]


class TapFailed(Exception):
    """What a frame tap's reader left in ``tapped`` when it raised (the pipeline catches it): the
    detector raises it from ``detect`` and is reported failed; the upload's hashes and the other
    detectors stand, where the decode pass itself would have failed."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(f"frame tap failed: {type(exc).__name__}: {exc}")
        self.exc = exc


#: A plug-in module (listed in ``pipeline.PLUGINS``) exposes ``detector(follower) -> Detector | None``:
#: None when it is not configured (the verdict then lists it as unavailable); an ImportError of its
#: optional extra is reported the same way.
DetectorFactory = Callable[["IndexFollower"], "Detector | None"]
