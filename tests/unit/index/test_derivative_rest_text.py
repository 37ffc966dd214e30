"""Issue 20, censor bars and a caption over a fake, the candidate stage: when nothing verifies although the
search ranked candidates and the upload carries overlaid text (``REST_TEXT``, index/derivative.py ``check``),
the photos are ranked again on all the upload's query descriptors (the rest search) and those whose votes
line up are verified: the captioned fake's photo, absent from the first ranking, is flagged. An upload
without overlaid text searches nothing more, nor does a part of an upload in which an edit was flagged
already (signals/derivative/instances.py marks it). Synthetic scenes; the first candidate search is
replaced by a fixed ranking of chance candidates, the rest search is the index's own."""

from __future__ import annotations

import numpy as np

from ncii_shield.index import derivative as D
from ncii_shield.index.derivative import Candidate, DerivativeHit, DerivativeIndex
from ncii_shield.signals.derivative.instances import find_instances
from ncii_shield.signals.derivative.verify import Outcome, Upload, Verdict
from tests.derivative_scenes import edit, scene
from tests.unit.index.test_derivative_large_candidates import CROP, at_one_spot, first_ranking
from tests.unit.index.test_derivative_large_part import OTHERS, index  # noqa: F401  (the fixture: the same index)
from tests.unit.index.test_derivative_whole_candidates import shrunk
from tests.unit.signals.test_derivative_kinds import captioned

BOX = (260, 180, 300, 240)  # the fake's edit, inside the photo (registered as id 1: scene 31)


def censored(img: np.ndarray) -> np.ndarray:
    """Two black censor bars across the edit, as the benchmark's censor-caption kind draws them."""
    out = img.copy()
    x, y, w, h = BOX
    for k in (0.3, 0.6):
        top = y + int(h * k)
        out[top:top + h // 10, x - w // 8:x + w + w // 8] = 0
    return out


def fake(*, caption: bool) -> Upload:
    """The fake (a flat box over photo 1), censored, maybe captioned, cropped to another shape than the
    photo's (no whole-frame comparison can reach it) and shrunk."""
    img = censored(edit("flat", scene(31), BOX))
    return Upload.from_rgb(shrunk((captioned(img) if caption else img)[:, CROP]))


def chance() -> list[Candidate]:
    """A first ranking of chance candidates whose votes cannot line up: none verifies, photo 1 is absent."""
    return [Candidate(id, 4, False, 0, at_one_spot(4)) for id in OTHERS]


def test_a_captioned_fake_whose_photo_is_absent_from_the_first_ranking_is_found_by_the_rest_search(
        index: DerivativeIndex, monkeypatch):  # noqa: ANN001
    upload = fake(caption=True)
    assert D._overlaid_text(upload)
    calls = first_ranking(index, monkeypatch, chance())
    found = {h.id: h.verdict for h in index.check(upload)}
    assert calls == [1]
    assert found[1].outcome is Outcome.DERIVATIVE and found[1].inliers >= D.MIN_INLIERS
    assert not set(found) & set(OTHERS), found  # no chance candidate flagged
    monkeypatch.setattr(D, "REST_TEXT", False)  # off: nothing verifies, nothing else reaches the photo
    calls.clear()
    assert index.check(upload) == [] and calls == []


def test_an_upload_without_overlaid_text_searches_nothing_more(index: DerivativeIndex, monkeypatch):  # noqa: ANN001
    upload = fake(caption=False)  # the same fake and bars, no caption
    assert not D._overlaid_text(upload)
    calls = first_ranking(index, monkeypatch, chance())
    assert index.check(upload) == [] and calls == []


def test_no_candidate_no_rest_search(index: DerivativeIndex, monkeypatch):  # noqa: ANN001
    """An upload no photo gave enough votes (at scale: stopped by the staged search's first stage) pays
    nothing, caption or not."""
    calls = first_ranking(index, monkeypatch, [])
    assert index.check(fake(caption=True)) == [] and calls == []


def test_overlaid_text_is_a_line_of_outlined_letters():
    plain = scene(31)
    assert not D._overlaid_text(Upload.from_rgb(plain))
    assert D._overlaid_text(Upload.from_rgb(captioned(plain)))


def test_a_part_of_an_upload_with_an_edit_flagged_already_does_not_search_the_rest():
    """find_instances marks each part it checks: ``rest_text`` False once an edit is flagged in the upload
    (its parts' checks then skip the rest search), True while nothing is."""
    from tests.unit.signals.test_derivative_instances import side_by_side

    rgb = side_by_side(scene(1), scene(2))  # two pictures: each checked on its own
    upload = Upload.from_rgb(rgb)
    assert len(upload.panels) == 2
    flag = Verdict(Outcome.DERIVATIVE, 90.0, instance_box=[0, 0, 100, 100])
    for whole, expected in (([DerivativeHit(7, 20, flag)], False), ([], True)):
        seen: list = []

        def search(u: Upload, whole=whole, seen=seen) -> list:  # noqa: ANN001
            if u is upload:
                return [(None, h) for h in whole]
            if not getattr(u, "only", ()):  # (a sibling check names its photos: no search at all)
                seen.append(u.rest_text)
            return []

        find_instances(rgb, upload, search)
        assert seen and set(seen) == {expected}, seen
