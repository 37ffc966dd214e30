"""Temporal alignment and the video match rules (pure: frame pairs in, segments and verdicts out)."""

from __future__ import annotations

import numpy as np
import pytest

from ncii_shield.signals.video_match import align, covered, decide

VARIANTS = ["original"]


def pairs(upload: np.ndarray, speed: float, offset: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Upload frames on the line ``banked = speed x upload + offset``, each paired with the nearest
    banked frame (banked frames are one a second, as vPDQ samples them)."""
    banked = np.round(speed * upload + offset)
    return upload, banked, np.zeros(len(upload), dtype=np.int64)


def test_a_clip_is_one_segment_at_its_place():
    u, b, v = pairs(np.arange(0, 6, 0.5), 1.0, 40.3)
    (segment,) = align(u, b, v, VARIANTS)
    assert segment.upload == (0.0, 6.0)
    assert segment.banked == pytest.approx((40.3, 46.3), abs=0.3)
    assert segment.speed == pytest.approx(1.0, abs=0.05)


def test_a_compilation_holding_two_pieces_gives_two_segments():
    u1, b1, v1 = pairs(np.arange(10, 20, 0.5), 1.0, -10)  # upload 10-20 s = banked 0-10 s
    u2, b2, v2 = pairs(np.arange(40, 50, 0.5), 1.0, -10)  # upload 40-50 s = banked 30-40 s
    segments = align(np.r_[u1, u2], np.r_[b1, b2], np.r_[v1, v2], VARIANTS)
    assert [s.upload for s in segments] == [(10.0, 20.0), (40.0, 50.0)]
    assert [round(s.banked[0]) for s in segments] == [0, 30]


@pytest.mark.parametrize("speed", [0.8, 1.25, 1.5])
def test_speed_changes_are_followed(speed):
    u, b, v = pairs(np.arange(0, 12, 0.5), speed, 3.0)
    (segment,) = align(u, b, v, VARIANTS)
    assert segment.speed == pytest.approx(speed, rel=0.08)
    assert segment.banked[1] == pytest.approx(speed * 12 + 3.0, abs=1.0)


def test_scattered_coincident_frames_form_no_segment():
    rng = np.random.default_rng(1)
    u = np.sort(rng.uniform(0, 600, 40))
    b = rng.integers(0, 600, 40).astype(float)
    assert align(u, b, np.zeros(40, dtype=np.int64), VARIANTS) == []


def test_the_spread_rule_needs_min_seconds_and_the_reference_rule_needs_80_percent_of_the_query():
    u, b, v = pairs(np.arange(0, 2, 0.5), 1.0, 0)  # a 2-second intro in common
    short = align(u, b, v, VARIANTS)
    assert decide(1, short, upload_s=60, banked_s=60, rule="spread") is None
    u, b, v = pairs(np.arange(0, 5, 0.5), 1.0, 0)
    clip = align(u, b, v, VARIANTS)
    match = decide(1, clip, upload_s=5, banked_s=60, rule="spread")
    assert match is not None and match.query_share >= 90 and match.compared_share < 10
    assert decide(1, clip, upload_s=5, banked_s=60, rule="reference", reference_shares=(79.0, 8.0)) is None
    assert decide(1, clip, upload_s=5, banked_s=60, rule="reference", reference_shares=(80.0, 8.0)) is not None
    with pytest.raises(ValueError, match="accepted"):
        decide(1, clip, upload_s=5, banked_s=60, rule="loose")


def test_covered_counts_overlaps_once():
    assert covered([(0, 5), (3, 8), (10, 11)]) == 9
