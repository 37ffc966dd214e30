"""Every parser of outside input either parses or raises its typed error — never anything else."""

from __future__ import annotations

import io
import json

from hypothesis import given
from hypothesis import strategies as st

from ncii_shield.errors import InvalidRequest, NciiShieldError
from ncii_shield.services.banks import SignalInput, canonical
from ncii_shield.services.exchange import formats, signing
from ncii_shield.services.exchange.publisher import parse_cursor
from ncii_shield.services.exchange.subscriber import check_page
from ncii_shield.services.cases import normalise_case_number
from ncii_shield.signals import registry
from ncii_shield.store.models import Subscription
from tests.fuzz.conftest import CORPUS

SEEDS = {p.name: p.read_text(errors="replace") for p in CORPUS.iterdir() if p.suffix != ".jpg"}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)


@given(kind=st.sampled_from(registry.names() + ["phash", "", "PDQ"]),
       value=st.text(max_size=300) | st.sampled_from(["f" * 64, "0" * 32, '["' + "a" * 64 + ',100,0.0"]']))
def test_signal_parsers(kind, value):
    try:
        canonical(SignalInput(kind, value))
    except NciiShieldError:
        pass


@given(seed=st.sampled_from(sorted(SEEDS)), edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.characters()), max_size=8),
       cut=st.floats(0, 1), fmt=st.sampled_from([*formats.FORMATS, "plain"]))
def test_import_formats_on_mutated_seeds(seed, edits, cut, fmt):
    text = list(SEEDS[seed])
    for where, char in edits:
        if text:
            text[int(where * len(text))] = char
    data = "".join(text)[: max(1, int(cut * len(text)))]
    try:
        for record in formats.read(io.StringIO(data), fmt, "pdq"):
            assert record.op in ("add", "withdraw", "skip", "error")
            if record.op in ("add", "withdraw") and record.signal_type != "ncmec-id":
                try:
                    canonical(SignalInput(record.signal_type, record.value))
                except NciiShieldError:
                    pass
    except InvalidRequest:
        pass


@given(st.text(max_size=2000))
def test_import_formats_on_random_text(text):
    fmt = formats.detect(text.splitlines()[0] if text.splitlines() else "")
    try:
        list(formats.read(io.StringIO(text), fmt if fmt != "plain" else "pytx"))
    except InvalidRequest:
        pass


KEY = signing.Ed25519PrivateKey.generate()
PUBLIC = signing.public_key_b64(KEY)


def _subscription() -> Subscription:
    return Subscription(name="s", url="http://x", feed="f", publisher_key=PUBLIC, token="t", bank_id=1, cursor="start")


@given(json_values)
def test_feed_page_verification_on_random_json(envelope):
    try:
        check_page(envelope, _subscription())
    except NciiShieldError:
        pass


@given(entries=st.lists(json_values, max_size=5), cursor=st.sampled_from(["start", "log:5", 7, None]),
       feed=st.sampled_from(["f", "g", None]))
def test_feed_page_verification_on_signed_random_pages(entries, cursor, feed):
    """Even a page with a valid signature must not crash the subscriber whatever it holds."""
    page = {"format": "ncii-shield-feed/1", "feed": feed, "cursor": cursor, "next_cursor": "log:9", "entries": entries}
    try:
        check_page(signing.sign(KEY, page), _subscription())
    except NciiShieldError:
        pass


@given(st.text(max_size=60))
def test_cursors_and_case_numbers(text):
    for parse in (parse_cursor, normalise_case_number):
        try:
            parse(text)
        except InvalidRequest:
            pass


@given(json_values)
def test_case_request_model(body):
    from pydantic import ValidationError

    from ncii_shield.api.routes.cases import CaseAuth, CaseCreate

    for model in (CaseCreate, CaseAuth):
        try:
            model.model_validate(body)
        except ValidationError:
            pass
    json.dumps(body)


# -- regressions found by the long fuzz run ---------------------------------------------------


def test_regression_csv_with_a_stray_carriage_return_is_a_clear_error():
    """Found by HYPOTHESIS_PROFILE=long: csv.Error escaped from the pytx-csv reader."""
    import pytest

    text = "signal_type,signal_str\npdq,ab\rcd\n"
    with pytest.raises(InvalidRequest, match="malformed CSV"):
        list(formats.read(io.StringIO(text), "pytx-csv"))


def test_regression_csv_row_with_missing_columns():
    records = list(formats.read(io.StringIO("signal_type,signal_str\npdq\n"), "pytx-csv"))
    assert [r.op for r in records] == ["error"]
