"""A seam between two pictures of a grid that continues a cut made beside it (the same column line
between the cells of the next row) is cut on less evidence: two photos side by side without a
gutter often look alike along part of their seam (issue 20: a 3 x 3 grid's cells left as one panel).
A seam that continues no cut needs the full evidence, so a single photo is cut as before. Among seams
continuing no cut, one that halves the box wins over a stronger one off-centre (a large patch's edge)."""

from __future__ import annotations

import numpy as np

from ncii_shield.signals.derivative import panels as P


def two_pictures(alike_parts: int, n: int = 200, length: int = 160) -> np.ndarray:
    """Grey lines (n, length): two flat-textured pictures meeting between lines 99 and 100, alike (no
    step) along ``alike_parts`` of the line's SEAM_PARTS parts."""
    rng = np.random.default_rng(0)
    across = np.linspace(40, 120, length)[None, :] + rng.integers(0, 3, (1, length))
    lines = np.repeat(across, n, axis=0).astype(np.uint8)
    step = np.full(length, 70)
    step[: alike_parts * length // P.SEAM_PARTS] = 0
    lines[100:] = np.clip(lines[100:].astype(int) + step[None, :], 0, 255).astype(np.uint8)
    return lines


def test_a_seam_alike_along_two_parts_is_cut_only_where_it_continues_a_cut():
    lines = two_pictures(alike_parts=2)
    assert P._seams(lines, 20) == []
    found = P._seams(lines, 20, aligned=[100])
    assert len(found) == 1 and abs(found[0][0] - 100) <= 1 and 2.0 < found[0][2] <= P.GUTTER_STRENGTH, found
    assert P._seams(lines, 20, aligned=[140]) == []  # a cut elsewhere does not help


def test_a_seam_alike_along_three_parts_is_not_cut_even_where_it_continues_a_cut():
    lines = two_pictures(alike_parts=3)
    assert P._seams(lines, 20, aligned=[100]) == []


def test_a_clear_seam_is_cut_with_or_without_a_cut_beside_it():
    lines = two_pictures(alike_parts=0)
    plain = P._seams(lines, 20)
    assert plain and all(abs(s[0] - 100) <= 1 and s[2] <= 2.0 for s in plain), plain
    # ranked above any seam continuing nothing
    assert max(s[2] for s in P._seams(lines, 20, aligned=[100])) > max(s[2] for s in plain)


def test_a_seam_splitting_the_box_evenly_wins_over_a_stronger_one_off_centre():
    """Two pictures side by side without a gutter, one holding a patch whose edge runs the whole height
    (a large edit): the patch's edge is a stronger seam than the join, but the join halves the row (as
    collage apps lay pictures out) and is cut; the patch stays inside its picture."""
    h, w = 200, 640
    rows = np.arange(h)
    a = np.random.default_rng(0).integers(40, 120, h)[:, None].repeat(w, axis=1)  # rows of texture: columns alike
    grey = a.copy()
    grey[:, 320:] += np.where(rows % 10 < 6, 40, 8)[:, None]  # the join: 60 % of the rows step (8: no seam, no one-colour row)
    grey[:, 346:] += np.where(rows % 10 < 8, 60, 8)[:, None]  # the patch's edge: 80 % of the rows step
    grey = np.clip(grey, 0, 255).astype(np.uint8)
    tex = P._texture_map(grey)
    first, second, _ = P._best_cut(P._Lines([grey]), tex, (0, 0, w, h), (w, h))
    assert abs(first[2] - 320) <= 2 and abs(second[0] - 320) <= 2, (first, second)
