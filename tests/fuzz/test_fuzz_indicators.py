"""Service indicators on hostile text: every line is a result or a typed error, and every canonical
value is a fixed point (what a bank stores validates to itself when it comes back in a feed)."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from ncii_shield.errors import InvalidRequest, InvalidSignal
from ncii_shield.services.indicators import TYPES, candidates, read_lines
from ncii_shield.signals import registry

PIECES = ["https://", "http://", "//", "tg://resolve?domain=", "market://details?id=", "t.me/", "t.me/s/", "@",
          "play.google.com/store/apps/details?id=", "apps.apple.com/us/app/x/id", "nudify.example", "xn--bcher-kva",
          "bücher", ".", "/", "?", "#", ":", "[", "]", "%", "*.", "com.example.app", "id1234567", "_", "-", " ",
          "\t", "\x00", "://", "a" * 70, "1234567890"]
urlish = st.lists(st.sampled_from(PIECES) | st.text(max_size=6), max_size=12).map("".join)


@given(text=urlish, as_type=st.none() | st.sampled_from(TYPES))
def test_candidates_is_a_lookup_list_or_a_typed_error(text, as_type):
    try:
        found = candidates(text, as_type)
    except (InvalidSignal, InvalidRequest):
        return
    for c in found:
        assert c.signal_type in TYPES and c.key and c.matched


@given(kind=st.sampled_from(TYPES), text=urlish)
def test_canonical_values_are_fixed_points(kind, text):
    signal_type = registry.get(kind)
    try:
        value = signal_type.validate(text)
    except InvalidSignal:
        return
    assert signal_type.validate(value) == value


@given(st.text(max_size=3000), st.integers(1, 200))
def test_read_lines_never_yields_a_line_over_the_limit(text, limit):
    for number, line in read_lines(io.StringIO(text), limit):
        assert number >= 1 and (line is None or len(line) <= limit)
