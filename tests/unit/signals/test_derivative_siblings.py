"""A composite's picture whose own candidate search missed its photo is verified against the photos
found in the composite's other pictures (issue 20: a before/after's fake half, a fake cropped to fill a
small cell: 0-3 candidate votes where the fit itself still holds). The candidate search is made to
miss on purpose (a wrapped search); verification is real. Images are synthetic scenes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ncii_shield.index.derivative import DerivativeIndex
from ncii_shield.signals.derivative import features as F
from ncii_shield.signals.derivative.instances import Part, find_instances
from ncii_shield.signals.derivative.verify import Outcome, Upload

from tests.derivative_scenes import edit, scene
from tests.unit.signals.test_derivative_instances import BOX, inside, jpeg_rgb, side_by_side


@pytest.fixture(scope="module")
def index() -> DerivativeIndex:
    idx = DerivativeIndex()
    idx.add_features_many([(F.photo_features(scene(seed)), seed) for seed in (1, 2, 5)])
    return idx


def missing_search(index: DerivativeIndex):  # noqa: ANN201
    """A search whose candidate search finds nothing in a picture of a composite, and only re-shares in
    the whole upload (as when the fake's picture is too small for its photo's votes)."""

    def search(u: Upload) -> list:
        if getattr(u, "only", ()):
            return [(None, h) for h in index.check(u)]
        if not u.cut:  # a picture of the composite checked on its own
            return []
        out = []
        for h in index.check(u):
            kept = [v for v in (h.verdict.instances or [h.verdict]) if v.outcome is Outcome.RESHARE]
            if kept:
                out.append((None, replace(h, verdict=replace(kept[0], instances=kept))))
        return out
    return search


@pytest.mark.parametrize("fake_first", [False, True])
def test_the_fake_half_is_verified_against_the_photo_found_beside_it(index, fake_first):
    fake = edit("noise", scene(1), BOX, seed=3)
    pictures = (fake, scene(1)) if fake_first else (scene(1), fake)
    collage = jpeg_rgb(side_by_side(*pictures), 85)
    found = find_instances(collage, Upload.from_rgb(collage), missing_search(index))
    flags = [i for i in found if i.verdict.outcome is Outcome.DERIVATIVE]
    assert [i.id for i in flags] == [1], [(i.id, i.verdict.outcome, i.verdict.instance_box) for i in found]
    half = (0, 0, 640, 480) if fake_first else (652, 0, 640, 480)
    assert inside(flags[0].verdict.instance_box, half) > 0.9, flags[0].verdict.instance_box


def test_two_unedited_copies_stay_a_reshare_and_unrelated_pictures_are_not_flagged(index):
    for pictures in ((scene(1), scene(1)), (scene(1), scene(9))):
        collage = jpeg_rgb(side_by_side(*pictures), 85)
        found = find_instances(collage, Upload.from_rgb(collage), missing_search(index))
        assert not [i for i in found if i.verdict.outcome is Outcome.DERIVATIVE], found
        assert {i.id for i in found} <= {1}


def test_a_part_naming_its_photos_is_verified_against_those_only(index):
    fake = jpeg_rgb(edit("noise", scene(1), BOX, seed=3), 85)
    upload = Upload.from_rgb(fake, panels=False)
    assert [h.id for h in index.check(Part.of(upload, (2, 5)))] == []
    hits = index.check(Part.of(upload, (2, 1)))
    assert [h.id for h in hits] == [1] and hits[0].verdict.outcome is Outcome.DERIVATIVE
    assert index.check(Part.of(upload, (1,)), allowed=lambda i: i != 1) == []
    # no search is made: a photo the candidate search would find is not verified unless named
    assert np.all([h.id != 1 for h in index.check(Part.of(upload, (5,)))])


@pytest.mark.parametrize("seed", [1, 2, 5])
@pytest.mark.parametrize("shot_first", [False, True])
def test_a_second_shot_of_the_scene_beside_the_photo_is_not_flagged(index, seed, shot_first):
    """The risk of verifying a picture against the photo found beside it: another photo of the same
    scene (moved camera) is close to it everywhere, and must stay unflagged."""
    pictures = (scene(seed, moved=True), scene(seed)) if shot_first else (scene(seed), scene(seed, moved=True))
    collage = jpeg_rgb(side_by_side(*pictures), 85)
    search, named = missing_search(index), []

    def recording(u: Upload) -> list:
        named.extend(getattr(u, "only", ()))
        return search(u)

    found = find_instances(collage, Upload.from_rgb(collage), recording)
    assert {i.id for i in found} == {seed}  # the photo itself is found (a re-share) ...
    assert named == [seed]  # ... so the second shot's picture is verified against it, and
    assert not [i for i in found if i.verdict.outcome is Outcome.DERIVATIVE], \
        [(i.id, i.verdict.outcome, i.verdict.reason) for i in found]
