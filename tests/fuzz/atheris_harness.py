"""Coverage-guided fuzzing with atheris (libFuzzer) of the parsers that take outside input.

    .venv/bin/python tests/fuzz/atheris_harness.py decode  -runs=200000 tests/fuzz/corpus
    .venv/bin/python tests/fuzz/atheris_harness.py formats -max_total_time=600 tests/fuzz/corpus
    .venv/bin/python tests/fuzz/atheris_harness.py feed    -runs=100000

Targets: ``decode`` (photo decoding), ``formats`` (every import format and every signal parser),
``feed`` (feed page verification). An input that raises anything but the project's typed errors is a
crash: libFuzzer stops, writes the input to ``crash-*``, and it becomes a regression test.
"""

from __future__ import annotations

import io
import json
import sys

import atheris

with atheris.instrument_imports():
    from ncii_shield.errors import NciiShieldError
    from ncii_shield.media.decode import PhotoLimits, decode_photo
    from ncii_shield.services.banks import SignalInput, canonical
    from ncii_shield.services.exchange import formats, signing
    from ncii_shield.services.exchange.subscriber import check_page
    from ncii_shield.store.models import Subscription

LIMITS = PhotoLimits(max_pixels=2_000_000, max_bytes=4 * 1024 * 1024)
KEY = signing.Ed25519PrivateKey.generate()
SUBSCRIPTION = Subscription(name="s", url="http://x", feed="f", publisher_key=signing.public_key_b64(KEY),
                            token="t", bank_id=1, cursor="start")


def fuzz_decode(data: bytes) -> None:
    try:
        decode_photo(data, limits=LIMITS)
    except NciiShieldError:
        pass


def fuzz_formats(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    fmt = provider.PickValueInList([*formats.FORMATS, "plain"])
    text = provider.ConsumeUnicodeNoSurrogates(len(data))
    try:
        for record in formats.read(io.StringIO(text), fmt, "pdq"):
            if record.op in ("add", "withdraw") and record.signal_type != "ncmec-id":
                try:
                    canonical(SignalInput(record.signal_type, record.value))
                except NciiShieldError:
                    pass
    except NciiShieldError:
        pass


def fuzz_feed(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    signed = provider.ConsumeBool()
    text = provider.ConsumeUnicodeNoSurrogates(len(data))
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return
    envelope = signing.sign(KEY, obj) if signed and isinstance(obj, dict) else obj
    try:
        check_page(envelope, SUBSCRIPTION)
    except NciiShieldError:
        pass


TARGETS = {"decode": fuzz_decode, "formats": fuzz_formats, "feed": fuzz_feed}

if __name__ == "__main__":
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()
