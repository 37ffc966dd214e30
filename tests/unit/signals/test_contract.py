"""The contract every registered signal type keeps (one test, run on each type's examples)."""

from __future__ import annotations

import string

import pytest

from ncii_shield.errors import InvalidSignal, UnknownSignalType
from ncii_shield.index.base import SignalIndex
from ncii_shield.signals import registry

TYPES = registry.SIGNAL_TYPES
BAD_VALUES = ["", "xyz", "0" * 63, "g" * 64, "0" * 65, " ", "[]", "null", "0x" + "0" * 62]


def test_names_are_unique_lowercase_constants():
    names = [t.name for t in TYPES]
    assert len(names) == len(set(names))
    assert all(n == n.lower() and n.isidentifier() for n in names)
    assert registry.names() == ["pdq", "vpdq", "md5", "sha256", "derivative",
                              "url", "url_md5", "domain", "telegram", "app_id", "mark"]


def test_registry_rejects_duplicates():
    with pytest.raises(ValueError, match="unique"):
        registry._by_name((TYPES[0], TYPES[0]))


def test_unknown_type_lists_accepted_names():
    with pytest.raises(UnknownSignalType, match="accepted: pdq, vpdq, md5, sha256, derivative, url, url_md5, domain, telegram, app_id, mark"):
        registry.get("phash")


@pytest.mark.parametrize("signal_type", TYPES, ids=lambda t: t.name)
def test_examples_are_canonical_and_at_distance_zero(signal_type):
    assert signal_type.examples, "every type ships examples"
    for example in signal_type.examples:
        canonical = signal_type.validate(example)
        assert signal_type.validate(canonical) == canonical
        assert signal_type.format(canonical) == canonical
        assert signal_type.distance(canonical, canonical) == 0
        assert signal_type.matches(canonical, canonical)


@pytest.mark.parametrize("signal_type", TYPES, ids=lambda t: t.name)
@pytest.mark.parametrize("bad", BAD_VALUES)
def test_bad_values_raise_invalid_signal_with_what_is_accepted(signal_type, bad):
    with pytest.raises(InvalidSignal, match="expected"):
        signal_type.validate(bad)


@pytest.mark.parametrize("signal_type", TYPES, ids=lambda t: t.name)
def test_non_string_values_raise_invalid_signal(signal_type):
    for bad in (None, 12, b"00"):
        with pytest.raises(InvalidSignal):
            signal_type.validate(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("signal_type", TYPES, ids=lambda t: t.name)
def test_index_factory_makes_an_index(signal_type):
    index = signal_type.index_factory()()
    assert isinstance(index, SignalIndex)
    assert len(index) == 0


def test_hex_types_accept_upper_case_and_whitespace():
    pdq = registry.get("pdq")
    value = pdq.examples[0]
    assert pdq.validate("  " + value.upper() + "\n") == value


@pytest.mark.parametrize("signal_type", TYPES, ids=lambda t: t.name)
def test_validate_many_equals_validate_one_by_one(signal_type):
    """Batches take a faster path (hex types check the joined string once); it must accept and
    canonicalise exactly what ``validate`` does, and refuse a batch holding any bad value."""
    good = list(signal_type.examples)
    hex_values = [v for v in good if set(v) <= set(string.hexdigits)]
    variants = good + [v.upper() for v in hex_values] + [f" {v}\n" for v in good]
    assert signal_type.validate_many(variants) == [signal_type.validate(v) for v in variants]
    for batch in (good * 3, [v.upper() for v in hex_values] * 2):  # every value canonical-length: the fast path
        assert signal_type.validate_many(batch) == [signal_type.validate(v) for v in batch]
    for bad in [*BAD_VALUES, None, 12, good[0][:-2] + " " + good[0][-1]]:
        for position in (0, len(good)):
            batch = list(good)
            batch.insert(position, bad)
            with pytest.raises(InvalidSignal):
                signal_type.validate_many(batch)  # type: ignore[arg-type]
