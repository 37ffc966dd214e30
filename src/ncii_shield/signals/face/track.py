"""Faces tracked across a video's sampled frames: one track per person on screen, so a video gives
one likeness flag per appearance, not one per frame (and the track's vector, the mean over its
frames, is steadier than any one frame's: a test-time average over pose, expression and blur).

Frames are sampled sparsely (1 per second), so a face can move far between two samples: a face
joins a track when it is close in appearance to the track's last face (cosine >= ``same``), or
moderately close (>= ``near``) and overlapping its last box (IoU >= 0.3). A track ends when it is
not seen for more than ``max_gap`` sampled frames; a face that comes back later starts a new
track. Matching is greedy, most similar pair first, one face per track per frame. Pure numpy: no
face model needed."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ncii_shield.signals.face.base import Face, normalize

#: a face that moved far since the last sample joins a track only when very alike (about the
#: likeness threshold of the dlib masked embedding); one that stayed in place (IoU >= 0.3) when
#: moderately alike (a turned head or a blurred frame of the same person)
SAME = 0.96
NEAR = 0.92
MAX_GAP = 2


@dataclass(repr=False)
class Track:
    """One face followed over sampled frames: ``faces[i]`` seen at ``frames[i]`` (``seconds[i]``)."""

    faces: list[Face] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    seconds: list[float | None] = field(default_factory=list)

    def __repr__(self) -> str:  # never the embeddings
        return f"Track(frames={self.frames[0]}..{self.frames[-1]}, faces={len(self.faces)})"

    @property
    def last(self) -> Face:
        return self.faces[-1]

    def vector(self) -> np.ndarray:
        """The track's vector: the normalised mean of its faces' embeddings, each weighted by its
        face's height (a larger face carries more detail), capped so one close-up does not dominate."""
        weights = np.array([min(f.box.h, 160) for f in self.faces], dtype=np.float32)
        stacked = np.stack([f.embedding for f in self.faces]).astype(np.float32)
        return normalize((stacked * weights[:, None]).sum(axis=0, keepdims=True))[0]


def track_faces(frames, *, same: float = SAME, near: float = NEAR, max_gap: int = MAX_GAP) -> list[Track]:
    """``frames``: (frame number, seconds, faces) in time order. Returns the tracks, in the order
    they started."""
    tracks: list[Track] = []
    open_tracks: list[Track] = []
    for number, seconds, faces in frames:
        open_tracks = [t for t in open_tracks if number - t.frames[-1] <= max_gap + 1]
        pairs = []
        for ti, t in enumerate(open_tracks):
            for fi, face in enumerate(faces):
                sim = float(np.dot(t.last.embedding, face.embedding))
                if sim >= same or (sim >= near and t.last.box.iou(face.box) >= 0.3):
                    pairs.append((sim, ti, fi))
        used_t: set[int] = set()
        used_f: set[int] = set()
        for _sim, ti, fi in sorted(pairs, reverse=True):
            if ti in used_t or fi in used_f:
                continue
            used_t.add(ti)
            used_f.add(fi)
            t = open_tracks[ti]
            t.faces.append(faces[fi])
            t.frames.append(number)
            t.seconds.append(seconds)
        for fi, face in enumerate(faces):
            if fi not in used_f:
                t = Track([face], [number], [seconds])
                tracks.append(t)
                open_tracks.append(t)
    return tracks
