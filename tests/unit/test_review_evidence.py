"""The review page's derivative evidence (issue 20, item 4) is built only from well-formed numbers:
item details come from a platform (POST /v1/review/items) and are never trusted to be well formed."""

from __future__ import annotations

from ncii_shield.web.review_pages import derivative_evidence

FLAG = {"bank": "protected", "signal_id": 7, "upload_size": [1292, 480], "instance_box": [652, 0, 640, 480],
        "edited_outline": [[852, 120], [1092, 120], [1092, 320], [852, 320]], "unedited_boxes": [[0, 0, 640, 480]]}


def test_a_flag_becomes_boxes_in_the_upload_s_pixels():
    ev = derivative_evidence({"derivatives": [FLAG]})
    assert ev == {"width": 1292.0, "height": 480.0, "flags": [
        {"bank": "protected", "signal_id": "7", "box": [652.0, 0.0, 640.0, 480.0],
         "outline": "852,120 1092,120 1092,320 852,320", "unedited": [[0.0, 0.0, 640.0, 480.0]]}]}


def test_malformed_details_draw_nothing_or_only_what_is_well_formed():
    assert derivative_evidence(None) is None
    assert derivative_evidence({"derivatives": "x"}) is None
    assert derivative_evidence({"derivatives": [{**FLAG, "upload_size": [0, 480]}]}) is None
    assert derivative_evidence({"derivatives": [{**FLAG, "instance_box": ["652\" onload=\"x", 0, 1, 1]}]}) is None
    assert derivative_evidence({"derivatives": [{**FLAG, "instance_box": [True, 0, 1, 1]}]}) is None
    assert derivative_evidence({"derivatives": [{**FLAG, "instance_box": [float("nan"), 0, 1, 1]}]}) is None
    bad_outline = derivative_evidence({"derivatives": [{**FLAG, "edited_outline": [[1, "2"], [3, 4], [5, 6]],
                                                        "unedited_boxes": [[1, 2, 3], "x", [0, 0, 9, 9]]}]})
    assert bad_outline["flags"][0]["outline"] is None and bad_outline["flags"][0]["unedited"] == [[0.0, 0.0, 9.0, 9.0]]
    # flags of another upload size than the first are not drawn on the same picture; at most 20 flags
    mixed = derivative_evidence({"derivatives": [FLAG, {**FLAG, "upload_size": [640, 480]}] + [FLAG] * 30})
    assert len(mixed["flags"]) == 19
