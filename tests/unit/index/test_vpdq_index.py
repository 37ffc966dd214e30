"""The vPDQ index over synthetic frame hashes: reference shares, video matches, changes."""

from __future__ import annotations

import numpy as np
import pytest

from ncii_shield.index.vpdq import VpdqIndex
from ncii_shield.signals.vpdq import VpdqFrame, frames_to_value, match_shares


def random_hashes(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex() for _ in range(n)]


def video(hashes: list[str], start: float = 0.0, variant: str = "") -> list[VpdqFrame]:
    return [VpdqFrame(i, start + i, h, 100, variant) for i, h in enumerate(hashes)]


def nudge(value: str, bits: int) -> str:
    raw = bytearray(bytes.fromhex(value))
    for i in range(bits):
        raw[i] ^= 1
    return raw.hex()


BANKED = random_hashes(60, 1)


def make_index() -> VpdqIndex:
    index = VpdqIndex()
    index.add_many([(frames_to_value(video(BANKED)), 10), (frames_to_value(video(random_hashes(30, 2))), 11)])
    return index


def test_reference_shares_and_query_follow_the_reference_rule():
    index = make_index()
    clip = video([nudge(h, 10) for h in BANKED[20:30]])
    assert index.shares(frames_to_value(clip), 10) == match_shares(clip, video(BANKED))
    assert index.shares(frames_to_value(clip), 10) == (100.0, 10 / 60 * 100)
    assert [m.id for m in index.query(frames_to_value(clip), 100)] == [10]
    assert index.query(frames_to_value(clip), 20) == []  # 100 - min(100, 16.7) > 20


def test_a_clip_and_a_compilation_match_with_segments():
    index = make_index()
    (clip,) = index.video_matches(video([nudge(h, 10) for h in BANKED[20:30]]))
    assert clip.signal_id == 10 and clip.segments[0].banked == pytest.approx((20, 30))
    filler = random_hashes(20, 3)
    compilation = video(filler[:10] + BANKED + filler[10:])
    (match,) = index.video_matches(compilation)
    assert match.segments[0].upload == (10, 70) and match.compared_share == 100
    assert index.video_matches(compilation, rule="reference") == []


def test_extra_readings_are_matched_and_named():
    index = make_index()
    upload = video(random_hashes(12, 4))  # the upload's own reference frames: nothing in common
    mirrored = video(BANKED[5:17], variant="mirrored")
    assert index.video_matches(upload) == []
    (match,) = index.video_matches(upload, extra=mirrored)
    assert match.variant == "mirrored" and match.segments[0].banked == pytest.approx((5, 17))
    assert index.video_matches(upload, extra=mirrored, rule="reference") == []


def test_two_shared_frames_do_not_match():
    index = make_index()
    upload = video(BANKED[:2] + random_hashes(30, 5))
    assert index.video_matches(upload) == []


def test_remove_and_replace():
    index = make_index()
    index.remove(10)
    assert index.video_matches(video(BANKED)) == [] and len(index) == 1
    index.add(frames_to_value(video(BANKED)), 12)
    assert [m.signal_id for m in index.video_matches(video(BANKED))] == [12]
    assert index.frame_count() == 90 and index.memory_bytes() > 0


def flip(value: str, bits: int) -> str:
    raw = bytearray(bytes.fromhex(value))
    for i in range(bits):
        raw[i // 8] ^= 1 << (i % 8)
    return raw.hex()


def test_crop_readings_count_within_40_only_at_the_places_and_scales_that_found_the_candidate():
    index = make_index()
    upload = video(random_hashes(12, 5))  # the upload's own reference frames: nothing in common
    near = video([flip(h, 36) for h in BANKED[5:17]], variant="corner-top-left-87")  # 36 bits: no lookup finds them
    elsewhere = video([flip(h, 36) for h in BANKED[5:17]], variant="corner-bottom-right")
    assert index.video_matches(upload, extra=near + elsewhere) == []  # no reading within 31: no candidate
    found_by = video([flip(BANKED[9], 20)], start=4.0, variant="corner-top-left-88")  # the cell 1 % away finds it
    (match,) = index.video_matches(upload, extra=near + elsewhere + found_by)
    assert match.signal_id == 10 and match.segments[0].banked == pytest.approx((5, 17))
    assert [(s.variant, s.frames) for s in match.segments] == [("corner-top-left-87", 13)]  # not the bottom-right ones
    assert index.video_matches(upload, extra=near + found_by, corner_distance=31) == []  # 36 bits count only to 40


def pictures(n: int, seed: int) -> list[np.ndarray]:
    """Smooth random pictures (random 9 x 16 colours, enlarged), one per second."""
    import cv2

    rng = np.random.default_rng(seed)
    return [cv2.resize(rng.integers(0, 256, (9, 16, 3), dtype=np.uint8), (320, 180), interpolation=cv2.INTER_CUBIC)
            for _ in range(n)]


def hashed(images: list[np.ndarray]) -> list[VpdqFrame]:
    import pdqhash

    from ncii_shield.signals.pdq import bits_to_hex

    return [VpdqFrame(i, float(i), bits_to_hex(pdqhash.compute(np.ascontiguousarray(f))[0]), 100) for i, f in enumerate(images)]


def test_a_crop_between_the_corners_matches_through_the_luma_copies_and_an_unrelated_one_does_not():
    import cv2

    from ncii_shield.signals.frames import hash_query_frames

    banked = pictures(16, 5)
    index = VpdqIndex()
    index.add(frames_to_value(hashed(banked)), 7)
    index.add(frames_to_value(video(random_hashes(16, 3))), 8)

    def cropped(images: list[np.ndarray]) -> tuple[list[VpdqFrame], list[VpdqFrame]]:
        # 13 % cut from the width and the height, 4 % of it on the left and 9 % at the top; enlarged back
        out = [cv2.resize(f[16:16 + 157, 13:13 + 278], (320, 180), interpolation=cv2.INTER_AREA) for f in images]
        return hashed(out), hash_query_frames([(float(i), f) for i, f in enumerate(out)])

    frames, readings = cropped(banked)
    assert readings.crops is not None and len(readings.crops) == 16
    assert index.video_matches(frames, extra=list(readings)) == []  # without the luma copies: not found
    (match,) = index.video_matches(frames, extra=readings)
    assert match.signal_id == 7 and match.variant.startswith("cropped-8")
    (segment,) = match.segments
    assert segment.banked[0] == pytest.approx(0, abs=1) and segment.banked[1] == pytest.approx(16, abs=1)
    frames, readings = cropped(pictures(16, 6))  # other pictures, cropped the same way
    assert index.video_matches(frames, extra=readings) == []
