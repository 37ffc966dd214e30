"""Issue 20, the large kind in screenshots end to end (index/derivative.py ``CELL_CONTENT``, 2026-12-08): the cell
search also looks up the cells of the picture inside a screenshot's bars (verify ``Upload.content``) at the
picture's shape, so the photo around a large pasted part, ranked by no keypoint search, is still compared at
that picture (verify ``WHOLE_CONTENT``). Synthetic scenes."""

from __future__ import annotations

import pytest

from ncii_shield.index import derivative as D
from ncii_shield.signals.derivative import verify as V
from ncii_shield.signals.derivative.verify import Outcome, Upload
from tests.derivative_scenes import scene, screenshot
from tests.unit.index.test_derivative_cells_hc import features, index, only  # noqa: F401 (fixtures)
from tests.unit.index.test_derivative_whole_candidates import CENTRE, soft
from tests.unit.signals.test_derivative_kinds import replaced


@pytest.fixture(autouse=True)
def _on(monkeypatch):
    """CELL_CONTENT and WHOLE_CONTENT are off by default (the 2026-12-08 review, R2: unedited zoom-cropped re-shares
    inside screenshots were flagged); these tests describe the search itself, so they turn both on."""
    monkeypatch.setattr(D, "CELL_CONTENT", True)
    monkeypatch.setattr(V, "WHOLE_CONTENT", True)


def shot() -> Upload:
    return Upload.from_rgb(screenshot(replaced(soft(31), scene(81), CENTRE)))


def test_a_screenshots_photo_no_keypoint_search_ranks_is_found_by_its_pictures_cells(index, monkeypatch):  # noqa: F811
    only(index, monkeypatch, [2])  # an unrelated photo ranked; the photo around the pasted part nowhere ...
    monkeypatch.setattr(index, "_rest_candidates", lambda *a, **k: [])  # ... nor in the rest search (the bars' text)
    up = shot()
    hits = {h.id: h.verdict for h in index.check(up)}
    assert set(hits) <= {1, 4}  # the photo around the part, and maybe the pasted part's own (scene 81, in place)
    v = hits[1]
    assert v.outcome is Outcome.DERIVATIVE and v.inliers == 0 and v.details["dense"] >= D.CELL_DENSE
    bx, by, bw, bh = v.instance_box  # the picture (680 x 510 at 20, 130), in the upload's pixels
    assert abs(bx - 20) <= 4 and abs(by - 130) <= 4 and abs(bw - 680) <= 6 and abs(bh - 510) <= 6
    monkeypatch.setattr(D, "CELL_CONTENT", False)
    assert 1 not in {h.id for h in index.check(shot())}  # the whole screenshot's cells find nothing of its shape
    monkeypatch.setattr(D, "CELL_CONTENT", True)
    monkeypatch.setattr(V, "WHOLE_CONTENT", False)
    assert 1 not in {h.id for h in index.check(shot())}  # nor with verify's comparison at the picture off
