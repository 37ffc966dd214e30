"""Enrolment: 1-5 photos of one person, one face each, turned into vectors in memory.

Each photo must show exactly one face large enough to embed well; otherwise it is refused with the
reason, so the person can pick another photo. Each vector is the mean of the face and its mirror
image, each averaged over 10 jittered copies (measured in bench/likeness_bench.py), normalised. The photos are
not kept: only the vectors leave this function.
"""

from __future__ import annotations

import numpy as np

from ncii_shield.errors import InvalidRequest
from ncii_shield.signals.face.model import FaceModel

MAX_PHOTOS = 5
MIN_ENROL_FACE = 80  # pixels: smaller faces embed poorly and would make a weak enrolment
#: dlib's jitter copies averaged per enrolment photo and its mirror image: in the benchmark 82.6 %
#: of swaps flagged at zero false matches against 79.9 % without (about 1.5 s per photo on one core)
ENROL_JITTER = 10


class EnrolmentRefused(InvalidRequest):
    """A photo cannot be used for enrolment; the message says why and what to send instead."""


def enrolment_vectors(model: FaceModel, photos: list[np.ndarray], *, names: list[str] | None = None) -> np.ndarray:
    """One vector per photo (n, dim), or :class:`EnrolmentRefused` naming the first bad photo."""
    if not 1 <= len(photos) <= MAX_PHOTOS:
        raise EnrolmentRefused(f"enrolment takes 1 to {MAX_PHOTOS} photos of the person; {len(photos)} were given")
    names = names or [f"photo {i + 1}" for i in range(len(photos))]
    vectors = []
    for name, rgb in zip(names, photos):
        # look for faces down to 40 px, so a small second face in the background is seen and refused
        found = model.locator.locate(np.ascontiguousarray(rgb[..., :3], dtype=np.uint8), min_face=40)
        if not found:
            raise EnrolmentRefused(f"{name}: no face found; send a photo where the face is seen from the front "
                                   "or three-quarters, unobstructed and well lit")
        if len(found) > 1:
            raise EnrolmentRefused(f"{name}: {len(found)} faces found; an enrolment photo must show only the "
                                   "person enrolling (crop the others out or pick another photo)")
        face = found[0]
        if face.box.h < MIN_ENROL_FACE:
            raise EnrolmentRefused(f"{name}: the face is {face.box.h} px tall; enrolment needs at least "
                                   f"{MIN_ENROL_FACE} px: send a larger or closer photo")
        vectors.append(model.embedder.embed(np.ascontiguousarray(rgb[..., :3], dtype=np.uint8), [face], mirror=True,
                                            jitter=ENROL_JITTER)[0])
    return np.stack(vectors).astype(np.float32)
