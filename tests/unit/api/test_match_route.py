"""The /v1/match route's fast paths: the plain batch read without a model per query, and the
response written row by row. Both must agree exactly with the slow, general ways."""

from __future__ import annotations

import json

import pytest

from ncii_shield.api.routes.match import matches_json, plain_batch
from ncii_shield.api.schemas import MatchIn, MatchOut
from ncii_shield.services.matching import Match

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def test_plain_batch_reads_the_usual_shape_like_the_model_does():
    items = [{"signal_type": "pdq", "value": PDQ}, {"signal_type": "md5", "value": "0" * 32},
             {"value": "x", "signal_type": "pdq"}, {"signal_type": "pdq", "value": "é\\u00e9"}]
    raw = json.dumps({"signals": items}).encode()
    model = MatchIn.model_validate_json(raw)
    assert plain_batch(raw) == ([q.signal_type for q in model.items()], [q.value for q in model.items()])


@pytest.mark.parametrize("body", [
    b"{not json", b"\xff\xfe", b"[]", b'"signals"', b"{}",
    json.dumps({"signal_type": "pdq", "value": PDQ}).encode(),                        # a single hash
    json.dumps({"signals": [{"signal_type": "pdq", "value": PDQ}]}).encode(),          # a batch of one
    json.dumps({"signals": []}).encode(),
    json.dumps({"signals": [{"signal_type": "pdq", "value": PDQ}] * 2, "threshold": 10}).encode(),
    json.dumps({"signals": [{"signal_type": "pdq", "value": PDQ, "metadata": {}}] * 2}).encode(),
    json.dumps({"signals": [{"signal_type": "pdq", "value": PDQ}, {"signal_type": "pdq"}]}).encode(),
    json.dumps({"signals": [{"signal_type": "pdq", "value": PDQ}, {"signal_type": "pdq", "valu": PDQ}]}).encode(),
    json.dumps({"signals": [{"signal_type": "pdq", "value": PDQ}, {"signal_type": "pdq", "value": 5}]}).encode(),
    json.dumps({"signals": [{"signal_type": "pdq", "value": PDQ}, {"signal_type": ["pdq"], "value": PDQ}]}).encode(),
    json.dumps({"signals": [{"signal_type": "pdq", "value": PDQ}, {"signal_type": "p" * 33, "value": PDQ}]}).encode(),
    json.dumps({"signals": [{"signal_type": "pdq", "value": PDQ}, ["pdq", PDQ]]}).encode(),
    json.dumps({"signals": [{"signal_type": "md5", "value": "0" * 32}] * 10_001}).encode(),
    json.dumps({"signals": {"signal_type": "pdq", "value": PDQ}}).encode(),
])
def test_anything_else_is_left_to_the_model(body):
    """None means: MatchIn validates it (and words the error if there is one)."""
    assert plain_batch(body) is None


def test_matches_json_equals_the_documented_model_dump():
    found = [
        Match(0, "victims", 12, "pdq", 7),
        Match(3, 'odd "bank" \\ é', 9_007_199_254_740_993, "md5", 0, shared=True),
        Match(4, "v", 5, "vpdq", 70.0, query_share=100.0, compared_share=33.33),
        Match(5, "v", 6, "pdq", 12, variant="rotate90"),
    ]
    written = json.loads(matches_json(found))
    assert written == {"matches": [MatchOut(**m.to_json()).model_dump() for m in found]}
    assert json.loads(matches_json([])) == {"matches": []}
    with pytest.raises(ValueError, match="non-finite"):
        matches_json([Match(0, "v", 1, "vpdq", float("nan"))])
