"""Face tracks over a video's sampled frames (signals/face/track.py), with made-up vectors: no face
model needed."""

from __future__ import annotations

import numpy as np

from ncii_shield.signals.face.base import Face, FaceBox, normalize
from ncii_shield.signals.face.track import track_faces

rng = np.random.default_rng(7)
PEOPLE = normalize(rng.normal(size=(3, 128)))


def face(person: int, x: int, noise: float = 0.1, h: int = 100) -> Face:
    v = normalize(PEOPLE[person] + noise * rng.normal(size=128) / np.sqrt(128))
    return Face(FaceBox(x, 50, h, h), np.zeros((5, 2), np.float32), v[0] if v.ndim == 2 else v)


def test_one_track_per_continuous_appearance_and_a_new_one_after_a_gap() -> None:
    frames = [(n, float(n), [face(0, 40 + 30 * n)]) for n in range(5)]  # moving across the picture
    frames += [(n, float(n), [face(0, 100)]) for n in range(9, 12)]  # back after 4 s away
    tracks = track_faces(frames)
    assert [t.frames for t in tracks] == [[0, 1, 2, 3, 4], [9, 10, 11]]


def test_two_people_at_once_stay_apart_even_when_they_swap_places() -> None:
    frames = []
    for n in range(6):
        a, b = (40, 300) if n < 3 else (300, 40)  # they cross between two samples
        frames.append((n, float(n), [face(0, a), face(1, b)]))
    tracks = track_faces(frames)
    assert len(tracks) == 2
    for t in tracks:
        assert len(t.faces) == 6
        people = {int(np.argmax(PEOPLE @ f.embedding)) for f in t.faces}
        assert len(people) == 1  # never the other person's face


def test_a_different_person_in_the_same_place_starts_a_new_track() -> None:
    frames = [(0, 0.0, [face(0, 100)]), (1, 1.0, [face(2, 100)])]
    assert len(track_faces(frames)) == 2


def test_track_vector_averages_noise() -> None:
    frames = [(n, float(n), [face(0, 100, noise=2.0)]) for n in range(8)]
    tracks = track_faces(frames, same=-1.0, near=-1.0)  # link regardless: measure only the average
    assert len(tracks) == 1
    single = np.mean([float(f.embedding @ PEOPLE[0]) for f in tracks[0].faces])
    assert float(tracks[0].vector() @ PEOPLE[0]) > single + 0.05
    assert repr(tracks[0]) == "Track(frames=0..7, faces=8)"  # never a vector
