"""The likeness detector: an enrolled person's face in sexual content (docs/likeness.md).

It runs only with the ``explicit`` context (the platform says the upload is sexual, or the nudity
classifier does): faces are never searched anywhere else. Photos: every face at least 48 px tall.
Videos: frames sampled at 1 per second (at most 640 px on the long side; at most 600 frames, spread
evenly over a longer video), read for faces in the pipeline's one decode pass; faces are tracked across
the sampled frames (signals/face/track.py) and each track is compared as a whole (the mean of its
faces' vectors) and frame by frame: one flag per track and enrolled person, at the frame where the
face is most alike. A person who leaves the picture and comes back later is a second track. Each
flag is ``{"bank", "signal_id", "similarity", "face_box": [x, y, w, h], "frame", "time_s", "track"}``
(``signal_id`` is the enrolment's id; ``frame``, ``time_s`` and ``track`` are None for a photo;
``track`` is ``{"start_s", "end_s", "faces"}``): evidence for a reviewer who checks the platform's
consent records, never a removal by itself.

Optional: without the ``[likeness]`` extra, :func:`detector` returns None and the verdict lists the
detector as not configured. ``NCII_SHIELD_LIKENESS_THRESHOLD`` (cosine, default the model's
measured threshold) and ``NCII_SHIELD_FACE_MODEL`` / ``NCII_SHIELD_FACE_MODEL_THRESHOLD`` (an
operator's ONNX embedder and its measured threshold; its pixel scaling and mask:
:func:`onnx_settings`) configure it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass

import numpy as np

from ncii_shield.services.uploads.detectors import DecodedUpload, Findings, FrameTap, Scope, TapFailed

log = logging.getLogger("ncii_shield.likeness")

VIDEO_FPS = 1.0
VIDEO_SIDE = 640
#: a long video's frames are spread evenly: at most this many are searched for faces (10 minutes at 1 a second)
VIDEO_MAX_FRAMES = int(os.environ.get("NCII_SHIELD_LIKENESS_VIDEO_FRAMES", "600"))
MIN_FACE = 48


@dataclass(frozen=True)
class LikenessFlag:
    bank: str
    signal_id: int
    similarity: float
    face_box: list[int]
    frame: int | None = None
    time_s: float | None = None
    track: dict | None = None  # a video's face track: {"start_s", "end_s", "faces"}

    def to_json(self) -> dict:
        return asdict(self)


class LikenessDetector:
    name = "likeness"
    media = frozenset({"photo", "video"})
    requires = frozenset({"explicit"})

    def __init__(self, index, model, threshold: float | None = None) -> None:
        self.index = index  # services.likeness.LikenessIndex (follows enrolments)
        self._model = model  # signals.face.FaceModel, or a callable that loads it (on first use)
        self._threshold = threshold

    @property
    def model(self):
        if not hasattr(self._model, "faces"):
            self._model = self._model()
        return self._model

    @property
    def threshold(self) -> float:
        return self.model.default_threshold if self._threshold is None else self._threshold

    def frame_tap(self, scope: Scope) -> FrameTap | None:
        """A video's frames for faces, read in the pipeline's one decode pass: 1 a second (fewer past
        ``VIDEO_MAX_FRAMES``), each frame's faces kept, the frame dropped."""
        if len(self.index) == 0:
            return None
        return FrameTap(VIDEO_FPS, VIDEO_SIDE, VIDEO_MAX_FRAMES, self._faces)

    def _faces(self, rgb):  # noqa: ANN001, ANN202
        return self.model.faces(rgb, min_face=MIN_FACE)

    def _sampled(self, upload: DecodedUpload):
        """``(frame, seconds, faces)`` of a video: from the decode pass's tap, or (the context arrived
        after decoding, from the nudity classifier) by reading the video's frames once more."""
        tapped = upload.video.tapped.get(self.name) if upload.video is not None else None
        if tapped is not None:
            for n, (seconds, faces) in enumerate(tapped):
                if isinstance(faces, TapFailed):
                    raise faces
                yield n, seconds, faces
        elif upload.video_path is not None:
            from ncii_shield.media.video import probe_video, sample_frames

            info = probe_video(upload.video_path)
            fps = min(VIDEO_FPS, VIDEO_MAX_FRAMES / max(info.duration_s, 1e-3))
            for n, (seconds, rgb) in enumerate(sample_frames(upload.video_path, info, fps=fps, max_side=VIDEO_SIDE)):
                yield n, seconds, self._faces(rgb)

    def detect(self, upload: DecodedUpload, scope: Scope) -> Findings:
        if len(self.index) == 0:
            return Findings()
        if upload.kind == "video":
            flags = self._video(upload, scope)
        else:
            flags = self._photo(upload, scope)
        if flags:
            log.info("likeness: %d enrolled face(s) flagged in a %s", len(flags), upload.kind)
        return Findings(items=flags)

    def _visible(self, scope: Scope, bank_id: int):  # noqa: ANN202 - the bank's info, or None
        bank = scope.follower.banks.get(bank_id) or self.index.bank_info(bank_id)
        return bank if bank is not None and scope.visible(bank) else None

    def _photo(self, upload: DecodedUpload, scope: Scope) -> list[LikenessFlag]:
        """Every face; one flag per enrolled person, at their most alike face."""
        best: dict[int, LikenessFlag] = {}
        if upload.photo is not None:
            faces = self.model.faces(upload.photo.rgb, min_face=MIN_FACE)
            found = self.index.search(np.stack([f.embedding for f in faces]), self.threshold) if faces else []
            for face, hits in zip(faces, found):
                for enrolment_id, bank_id, sim in hits:
                    bank = self._visible(scope, bank_id)
                    if bank is None:
                        continue
                    held = best.get(enrolment_id)
                    if held is None or sim > held.similarity:
                        best[enrolment_id] = LikenessFlag(bank.name, enrolment_id, round(float(sim), 4),
                                                          face.box.as_list())
        return sorted(best.values(), key=lambda f: -f.similarity)

    def _video(self, upload: DecodedUpload, scope: Scope) -> list[LikenessFlag]:
        """Faces tracked over the sampled frames; a track is flagged for an enrolment when its mean
        vector, or one of its faces, reaches the threshold: one flag per track and enrolment."""
        from ncii_shield.signals.face.track import track_faces

        sampled = list(self._sampled(upload))
        tracks = track_faces([s for s in sampled if s[2]])
        if not tracks:
            return []
        members = [(ti, fi) for ti, t in enumerate(tracks) for fi in range(len(t.faces))]
        per_face = self.index.search(np.stack([tracks[ti].faces[fi].embedding for ti, fi in members]),
                                     self.threshold)
        per_track = self.index.search(np.stack([t.vector() for t in tracks]), self.threshold)
        # (track, enrolment) -> [best similarity, bank id, index of the evidence face in the track]
        hits: dict[tuple[int, int], list] = {}
        for (ti, fi), found in zip(members, per_face):
            for enrolment_id, bank_id, sim in found:
                held = hits.get((ti, enrolment_id))
                if held is None or sim > held[0]:
                    hits[(ti, enrolment_id)] = [sim, bank_id, fi]
        for ti, found in enumerate(per_track):
            for enrolment_id, bank_id, sim in found:
                held = hits.get((ti, enrolment_id))
                if held is None:  # only the track as a whole: its largest face is the evidence
                    largest = max(range(len(tracks[ti].faces)), key=lambda i: tracks[ti].faces[i].box.h)
                    hits[(ti, enrolment_id)] = [sim, bank_id, largest]
                elif sim > held[0]:
                    held[0] = sim
        flags = []
        for (ti, enrolment_id), (sim, bank_id, fi) in hits.items():
            bank = self._visible(scope, bank_id)
            if bank is None:
                continue
            t = tracks[ti]
            seconds = t.seconds[fi]
            span = {"start_s": _round(t.seconds[0]), "end_s": _round(t.seconds[-1]), "faces": len(t.faces)}
            flags.append(LikenessFlag(bank.name, enrolment_id, round(float(sim), 4), t.faces[fi].box.as_list(),
                                      t.frames[fi], _round(seconds), span))
        return sorted(flags, key=lambda f: (f.time_s or 0.0, -f.similarity))


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(float(seconds), 2)


def onnx_settings(env) -> dict:  # noqa: ANN001 - os.environ or a mapping
    """An operator's ONNX model's pixel scaling and mask, from ``NCII_SHIELD_FACE_MODEL_MEAN`` /
    ``_STD`` (default ArcFace's 127.5 / 127.5; a model that normalises inside its graph, as OpenCV
    Zoo's SFace: 0 / 1), ``_BGR`` and ``_MASK`` (1: embed the inner face only). A non-default setting
    is part of the model's name, so vectors made with other pixels are never compared."""
    def flag(name: str) -> bool:
        value = env.get(name, "").strip().lower()
        if value not in ("", "0", "1", "true", "false", "yes", "no"):
            raise ValueError(f"{name} must be 1 or 0, not {value!r}")
        return value in ("1", "true", "yes")

    def number(name: str, default: float) -> float:
        value = env.get(name, "").strip()
        try:
            out = float(value) if value else default
        except ValueError:
            raise ValueError(f"{name} must be a number, not {value!r}") from None
        if name.endswith("_STD") and out <= 0:
            raise ValueError(f"{name} must be above 0")
        return out

    return {"onnx_mean": number("NCII_SHIELD_FACE_MODEL_MEAN", 127.5),
            "onnx_std": number("NCII_SHIELD_FACE_MODEL_STD", 127.5),
            "onnx_bgr": flag("NCII_SHIELD_FACE_MODEL_BGR"), "onnx_mask": flag("NCII_SHIELD_FACE_MODEL_MASK")}


def detector(follower):
    """The pipeline's factory: None without the [likeness] extra (the verdict says not configured)."""
    from ncii_shield.services.likeness import LikenessIndex
    from ncii_shield.signals.face import FaceModelUnavailable, load_model

    path = os.environ.get("NCII_SHIELD_FACE_MODEL")
    try:
        if path:  # an operator's model: loaded now (its name is its file's digest)
            measured = os.environ.get("NCII_SHIELD_FACE_MODEL_THRESHOLD")
            if not measured:
                raise ValueError("NCII_SHIELD_FACE_MODEL needs NCII_SHIELD_FACE_MODEL_THRESHOLD (cosine, measured "
                                 "with bench/likeness_bench.py --onnx)")
            model = load_model(path, onnx_threshold=float(measured), **onnx_settings(os.environ))
            name, dim = model.name, model.dim
        else:  # dlib's: its files are checked now, its weights loaded at the first face to search
            import importlib.util

            from ncii_shield.signals.face.dlib_model import DlibResnetEmbedder, model_dir

            if importlib.util.find_spec("dlib") is None:
                raise FaceModelUnavailable("the [likeness] extra is not installed (dlib-bin)")
            model_dir()
            model, name, dim = load_model, "dlib-resnet-v1-masked", DlibResnetEmbedder.dim
    except (FaceModelUnavailable, ValueError) as exc:
        log.warning("likeness detector not configured: %s", exc)
        return None
    threshold = os.environ.get("NCII_SHIELD_LIKENESS_THRESHOLD")
    # follow enrolments until the main index follower stops (the shield closing)
    index = LikenessIndex(follower.db, name, dim, stop_with=getattr(follower, "stopping", None))
    index.load()
    index.start()
    return LikenessDetector(index, model, float(threshold) if threshold else None)
