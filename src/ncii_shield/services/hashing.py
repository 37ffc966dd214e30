"""Turn a file (or bytes) into the hashes the field exchanges.

Photos: PDQ with quality, MD5 and SHA-256 of the bytes. Videos: vPDQ frames, MD5 and SHA-256.
The media is decoded in memory and dropped; only hashes come back::

    result = hash_path("holiday.jpg")
    result.to_json()  # {"path": ..., "content_type": "photo", "pdq": ..., "pdq_quality": ..., ...}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ncii_shield.errors import MediaTooLarge
from ncii_shield.media.decode import DEFAULT_LIMITS, DecodedPhoto, PhotoLimits, decode_photo
from ncii_shield.media.sniff import ContentType, sniff_content_type
from ncii_shield.media.video import DEFAULT_VIDEO_LIMITS, VideoLimits, video_file_from_bytes
from ncii_shield.signals.md5 import Md5Signal
from ncii_shield.signals.pdq import PdqSignal, hash_dihedral
from ncii_shield.signals.sha256 import Sha256Signal
from ncii_shield.signals.vpdq import VpdqFrame, frames_to_value, hash_video_frames


@dataclass(frozen=True)
class HashOptions:
    apply_orientation: bool = True
    dihedral: bool = False
    photo_limits: PhotoLimits = DEFAULT_LIMITS
    video_limits: VideoLimits = DEFAULT_VIDEO_LIMITS


@dataclass
class PhotoHashes:
    pdq: str
    pdq_quality: int
    md5: str
    sha256: str
    path: str | None = None
    dihedral: dict[str, str] = field(default_factory=dict)
    content_type: ContentType = ContentType.PHOTO

    def to_json(self) -> dict:
        out = {"path": self.path, "content_type": "photo", "pdq": self.pdq,
               "pdq_quality": self.pdq_quality, "md5": self.md5, "sha256": self.sha256}
        if self.dihedral:
            out["pdq_dihedral"] = self.dihedral
        return out


@dataclass
class VideoHashes:
    frames: list[VpdqFrame]
    md5: str
    sha256: str
    path: str | None = None
    content_type: ContentType = ContentType.VIDEO

    @property
    def vpdq(self) -> str:
        return frames_to_value(self.frames)

    def to_json(self) -> dict:
        return {"path": self.path, "content_type": "video",
                "vpdq": [{"frame": f.frame, "timestamp": f.timestamp, "pdq": f.pdq, "quality": f.quality}
                         for f in self.frames],
                "md5": self.md5, "sha256": self.sha256}


def hash_photo_bytes(data: bytes, options: HashOptions = HashOptions()) -> PhotoHashes:
    photo = decode_photo(data, apply_orientation=options.apply_orientation, limits=options.photo_limits)
    return hash_decoded_photo(data, photo, options)


def hash_decoded_photo(data: bytes, photo: DecodedPhoto, options: HashOptions = HashOptions()) -> PhotoHashes:
    """The hashes of a photo already decoded from ``data`` (so callers that need pixels decode once)."""
    if options.dihedral:
        variants = hash_dihedral(photo)
        pdq = variants["original"]
        dihedral = {name: r.value for name, r in variants.items()}
    else:
        pdq, dihedral = PdqSignal.hash_photo(photo), {}
    return PhotoHashes(
        pdq=pdq.value, pdq_quality=int(pdq.quality or 0),
        md5=Md5Signal.hash_bytes(data).value, sha256=Sha256Signal.hash_bytes(data).value,
        dihedral=dihedral,
    )


def hash_video_path(path: str | os.PathLike[str], options: HashOptions = HashOptions()) -> VideoHashes:
    frames = hash_video_frames(path, limits=options.video_limits)  # probes, then one bounded decode pass
    return VideoHashes(frames=frames, md5=Md5Signal.hash_file(path).value,
                       sha256=Sha256Signal.hash_file(path).value)


def hash_bytes(data: bytes, options: HashOptions = HashOptions()) -> PhotoHashes | VideoHashes:
    """Hash an upload held in memory (photo or video, told apart by its bytes)."""
    if sniff_content_type(data[:512]) is ContentType.VIDEO:
        with video_file_from_bytes(data, options.video_limits) as path:
            return hash_video_path(path, options)
    return hash_photo_bytes(data, options)


def hash_path(path: str | os.PathLike[str], options: HashOptions = HashOptions()) -> PhotoHashes | VideoHashes:
    """Hash a file on disk; raises a MediaError subclass (or OSError) on failure."""
    p = Path(path)
    with open(p, "rb") as handle:
        head = handle.read(512)
    if sniff_content_type(head) is ContentType.VIDEO:
        result: PhotoHashes | VideoHashes = hash_video_path(p, options)
    else:
        size = p.stat().st_size
        if size > options.photo_limits.max_bytes:
            raise MediaTooLarge(
                f"the photo is {size:,} bytes; at most {options.photo_limits.max_bytes:,} bytes are accepted"
            )
        result = hash_photo_bytes(p.read_bytes(), options)
    result.path = str(path)
    return result
