"""Our exports read by python-threatexchange's own classes, and its (and HMA's) output read by us.

Issue 22: every check here runs the real tool's code (the ``threatexchange`` package, the library
HMA is built on): its signal types, its local-file reader, its NCMEC client and parser, its dataset
CSV writer and HMA's ``BankContentConfig.enabled``.
"""

from __future__ import annotations

import io
import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from threatexchange.exchanges.impl.file_api import FileCollaborationConfig, LocalFileSignalExchangeAPI
from threatexchange.extensions.vpdq.vpdq import VPDQSignal
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.sha256 import VideoSHA256Signal

from ncii_shield.services.exchange import formats

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
PDQ2 = "d8f8f1eec0f4a84f0e37022a078f63f0b36e2ed596621e1d33e6239c4e9c9b22"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
VPDQ = json.dumps([f"{PDQ},100,0.000", f"{PDQ2},100,1.000"], separators=(",", ":"))
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PYTX_TYPES = {t.get_name(): t for t in (PdqSignal, VideoMD5Signal, VideoSHA256Signal, VPDQSignal)}
SIGNALS = [
    formats.ExportSignal(1, "pdq", PDQ, {"case": "a"}, False, NOW),
    formats.ExportSignal(2, "md5", MD5, None, False, NOW),
    formats.ExportSignal(3, "sha256", SHA, {"k": 1}, False, NOW),
    formats.ExportSignal(4, "pdq", PDQ2, None, True, NOW),  # withdrawn
]


def records(text: str, fmt: str) -> list[formats.Record]:
    return [r for r in formats.read(io.StringIO(text), fmt) if r.op != "skip"]


# -- SHA-256 under pytx's name ---------------------------------------------------------------------


def test_pytx_export_names_every_type_as_pytx_does_and_its_reader_keeps_sha256(tmp_path):
    """pytx's ``VideoSHA256Signal.get_name()`` is ``video_sha256``: a ``sha256`` line was dropped."""
    assert VideoSHA256Signal.get_name() == "video_sha256"
    path = tmp_path / "export.txt"
    path.write_text(formats.write(SIGNALS, "pytx"))
    api = LocalFileSignalExchangeAPI.for_collab(FileCollaborationConfig(name="f", filename=str(path)))
    fetched = {key for delta in api.fetch_iter([], None) for key in delta.updates}
    assert fetched == {("pdq", PDQ), ("video_md5", MD5), ("video_sha256", SHA)}
    for name, value in fetched:  # every line is a signal type pytx knows, with a value it accepts
        assert PYTX_TYPES[name].validate_signal_str(value) == value


def test_vpdq_is_named_as_pytx_vpdq_extension_names_it():
    line = formats.write([formats.ExportSignal(9, "vpdq", VPDQ, None, False, NOW)], "pytx")
    name, _, value = line.strip().partition(" ")
    assert name == VPDQSignal.get_name()
    VPDQSignal.validate_signal_str(value)


@pytest.mark.parametrize("fmt,text", [
    ("pytx", f"video_sha256 {SHA}\nsha256 {SHA}\n"),
    ("pytx-csv", f"signal_type,signal_str,collab,category,tags\nvideo_sha256,{SHA},c,POSITIVE_CLASS,\n"),
    ("jsonl", json.dumps({"signal_type": "video_sha256", "value": SHA}) + "\n"),
    ("hma", json.dumps({"video_sha256": SHA}) + "\n"),
])
def test_import_accepts_video_sha256_and_our_old_sha256(fmt, text):
    assert {(r.op, r.signal_type, r.value) for r in records(text, fmt)} == {("add", "sha256", SHA)}
    assert [(r.signal_type, r.value) for r in formats.read(io.StringIO(SHA + "\n"), "plain", "video_sha256")] == \
        [("sha256", SHA)]


# -- NCMEC XML through pytx's NCMEC client ---------------------------------------------------------


class _Pages:
    """A loopback stand-in for NCMEC's GET /v2/entries that answers with the document it is given."""

    def __init__(self) -> None:
        self.document = ""
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = outer.document.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ncmec_stand_in():
    pages = _Pages()
    yield pages
    pages.close()


def _pytx_ncmec_fetch(url: str, fetched: dict) -> dict:
    """What pytx's NCMEC exchange does on a fetch: its client and parser (``NCMECHashAPI.get_entries``,
    ``GetEntriesResponse.from_xml``), its merge (a deletion removes the entry, keyed by member and id)
    and its conversion to signals."""
    from threatexchange.exchanges.clients.ncmec import hash_api
    from threatexchange.exchanges.impl.ncmec_api import NCMECCollabConfig, NCMECSignalExchangeAPI

    client = hash_api.NCMECHashAPI("user", "password", hash_api.NCMECEnvironment.test_Industry)
    client._base_url = url  # the stand-in instead of NCMEC's address
    for response in client.get_entries_iter(start_timestamp=0, end_timestamp=int(time.time())):
        assert response.max_timestamp == int(NOW.timestamp())  # from maxTimestamp, not the fallback
        for entry in response.updates:
            key = f"{entry.member_id}-{entry.id}"
            merged = NCMECSignalExchangeAPI.fetch_value_merge(fetched.get(key), entry)
            if merged is None:
                fetched.pop(key, None)
            else:
                fetched[key] = merged
    collab = NCMECCollabConfig(name="ncmec", environment=hash_api.NCMECEnvironment.test_Industry)
    return NCMECSignalExchangeAPI.naive_convert_to_signal_type([PdqSignal, VideoMD5Signal], collab, fetched)


def test_ncmec_export_is_parsed_by_pytx_and_its_deletions_are_honoured(ncmec_stand_in):
    active = [formats.ExportSignal(1, "pdq", PDQ, None, False, NOW), formats.ExportSignal(2, "md5", MD5, None, False, NOW)]
    ncmec_stand_in.document = formats.write(active, "ncmec")
    fetched: dict = {}
    signals = _pytx_ncmec_fetch(ncmec_stand_in.url, fetched)
    assert {t: set(v) for t, v in signals.items()} == {PdqSignal: {PDQ}, VideoMD5Signal: {MD5}}
    assert {e.member_id for e in fetched.values()} == {int(formats.NCMEC_MEMBER_ID)}

    # the PDQ is withdrawn: the next export holds a deletedImage for the same entry, and pytx drops it
    ncmec_stand_in.document = formats.write([formats.ExportSignal(1, "pdq", PDQ, None, True, NOW), active[1]], "ncmec")
    signals = _pytx_ncmec_fetch(ncmec_stand_in.url, fetched)
    assert {t: set(v) for t, v in signals.items()} == {VideoMD5Signal: {MD5}}


def test_ncmec_deletion_from_another_member_does_not_withdraw_ours():
    from ncii_shield.services.imports import ID_KINDS

    xml = formats.write([formats.ExportSignal(1, "pdq", PDQ, None, True, NOW)], "ncmec")
    record = records(xml, "ncmec")[0]
    assert record.metadata["ncmec_member"] == formats.NCMEC_MEMBER_ID and ID_KINDS["ncmec-id"][1] == "ncmec_member"


# -- HMA: what its write endpoint takes ------------------------------------------------------------


def test_hma_export_lines_are_bodies_hma_signal_endpoint_accepts():
    """Each line is what ``POST /c/bank/<BANK>/signal`` validates (HMA's curation blueprint): it pops
    ``note`` (a string of at most 255 characters), then every other key must be a configured signal
    type's ``get_name()`` and its value pass ``validate_signal_str``."""
    long_meta = {"case": "x" * 400}
    signals = [*SIGNALS, formats.ExportSignal(5, "vpdq", VPDQ, long_meta, False, NOW)]
    lines = formats.write(signals, "hma").splitlines()
    assert len(lines) == 4  # the withdrawn PDQ is not loaded into HMA
    seen = {}
    for line in lines:
        body = json.loads(line)
        note = body.pop("note", None)
        assert note is None or (isinstance(note, str) and 0 < len(note) <= 255)
        assert len(body) == 1
        (name, value), = body.items()
        assert PYTX_TYPES[name].validate_signal_str(value) == value
        seen[name] = note
    assert set(seen) == {"pdq", "video_md5", "video_sha256", "vpdq"}
    assert json.loads(seen["pdq"]) == {"case": "a"} and json.loads(seen["vpdq"]) == {"ncii_shield_signal": 5}
    assert "note" not in json.loads(lines[1])  # no metadata, no note
    # and it reads back as what was exported, metadata included
    back = records("\n".join(lines), formats.detect(lines[0]))
    assert {(r.signal_type, r.value) for r in back} == {("pdq", PDQ), ("md5", MD5), ("sha256", SHA), ("vpdq", VPDQ)}
    assert next(r.metadata for r in back if r.signal_type == "sha256") == {"k": 1}


@pytest.mark.parametrize("name,expected", [("victims", "VICTIMS"), ("stop-ncii 2026", "STOP_NCII_2026"),
                                           ("2026", "_2026"), ("ünï", "_N_")])
def test_hma_bank_names(name, expected):
    import re

    assert formats.hma_bank_name(name) == expected
    assert re.fullmatch("[A-Z_][A-Z0-9_]*", expected)  # HMA's _bank_name_ok


# -- HMA content: disabled and deleted -------------------------------------------------------------


def test_hma_content_disabled_as_hma_decides_it_is_imported_inactive():
    """``disable_until_ts``: HMA's own rule (pytx's ``BankContentConfig.enabled``: 0 disabled, 1 enabled,
    else disabled until then) decides; disabled content is kept, inactive."""
    from threatexchange.storage.interfaces import BankConfig, BankContentConfig

    now = int(time.time())
    values = {0: PDQ, 1: PDQ2, now - 3600: MD5, now + 86400: SHA}
    lines = []
    for n, (disable, value) in enumerate(values.items(), start=1):
        kind = {PDQ: "pdq", PDQ2: "pdq", MD5: "video_md5", SHA: "video_sha256"}[value]
        lines.append(json.dumps({"id": n, "disable_until_ts": disable, "original_media_uri": None,
                                 "bank": {"name": "NCII", "matching_enabled_ratio": 1.0},
                                 "signals": {kind: value}, "note": "from a report"}))
    text = "\n".join(lines) + "\n"
    assert formats.detect(lines[0]) == "hma"
    got = {r.value: r for r in records(text, "hma")}
    for n, (disable, value) in enumerate(values.items(), start=1):
        hma = BankContentConfig(n, disable, {}, None, BankConfig("NCII", 1.0))
        assert got[value].op == ("add" if hma.enabled else "inactive"), (disable, hma.enabled)
        assert got[value].metadata["hma_content_id"] == n and got[value].metadata["hma_bank"] == "NCII"
    assert got[SHA].metadata["hma_disable_until_ts"] == now + 86400
    assert [r.op for r in got.values()] == ["inactive", "add", "add", "inactive"]


def test_hma_deletions_are_withdrawals():
    text = json.dumps({"id": 7, "deleted": 1}) + "\n" + json.dumps({"id": 8, "deleted": 1, "pdq": PDQ}) + "\n"
    by_id, by_value = records(text, "hma")
    assert (by_id.op, by_id.signal_type, by_id.value) == ("withdraw", "hma-id", "7")
    assert (by_value.op, by_value.signal_type, by_value.value) == ("inactive", "pdq", PDQ)
    assert by_value.metadata == {"hma_content_id": 8, "hma_deleted": True}


# -- pytx dataset CSV opinions -----------------------------------------------------------------------


def test_pytx_dataset_csv_negative_and_disputed_rows_are_not_imported_as_active():
    """Rows written by pytx's own ``threatexchange dataset --csv`` writer from real opinion metadata."""
    import csv

    from threatexchange.cli.dataset_cmd import DatasetCommand
    from threatexchange.exchanges.clients.stopncii.api import StopNCIICSPFeedback, StopNCIICSPFeedbackValue
    from threatexchange.exchanges.fetch_state import SignalOpinionCategory
    from threatexchange.exchanges.impl.fb_threatexchange_api import (
        FBThreatExchangeIndicatorRecord,
        FBThreatExchangeOpinion,
    )
    from threatexchange.exchanges.impl.stop_ncii_api import StopNCIISignalMetadata

    def te(category: SignalOpinionCategory) -> FBThreatExchangeIndicatorRecord:
        return FBThreatExchangeIndicatorRecord([FBThreatExchangeOpinion(False, category, {"t"}, 1, 2)])

    rows = {  # value -> (metadata, the aggregate category pytx writes)
        PDQ: (te(SignalOpinionCategory.POSITIVE_CLASS), "POSITIVE_CLASS"),
        PDQ2: (te(SignalOpinionCategory.NEGATIVE_CLASS), "NEGATIVE_CLASS"),
        MD5: (StopNCIISignalMetadata([StopNCIICSPFeedback(StopNCIICSPFeedbackValue.NotBlocked)]), "DISPUTED"),
        SHA: (StopNCIISignalMetadata([]), "INVESTIGATION_SEED"),
    }
    out = io.StringIO()
    writer = csv.DictWriter(out, ["signal_type", "signal_str", "collab", "category", "tags"])
    writer.writeheader()
    types = {PDQ: PdqSignal, PDQ2: PdqSignal, MD5: VideoMD5Signal, SHA: VideoSHA256Signal}
    for value, (metadata, _) in rows.items():
        DatasetCommand._print_csv(None, writer, "collab", types[value], value, metadata)
    text = out.getvalue()
    assert formats.detect(text.splitlines()[0]) == "pytx-csv"
    got = {r.value: r for r in records(text, "pytx-csv")}
    for value, (_, category) in rows.items():
        assert got[value].metadata["category"] == category
        assert got[value].op == ("inactive" if category in ("NEGATIVE_CLASS", "DISPUTED") else "add"), category


# -- detection and counts ----------------------------------------------------------------------------


def test_pretty_printed_stopncii_is_detected_from_its_first_line():
    text = formats.write(SIGNALS, "stopncii")
    first = text.splitlines()[0]
    assert first.strip() == "{"  # pretty-printed: the first line alone is no JSON object
    assert formats.detect(first) == "stopncii"
    assert formats.detect('{"count": 3,') == "stopncii" and formats.detect("[") == "stopncii"
    assert formats.detect(json.dumps({"signal_type": "pdq", "value": PDQ})) == "jsonl"


@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_export_counts_what_it_wrote(fmt):
    derivative = formats.ExportSignal(6, "derivative", "x", None, False, NOW)
    written = formats.export([*SIGNALS, derivative], fmt)
    entries = [r for r in records(written.text, fmt)]
    assert written.entries == len(entries)
    assert written.entries + written.withdrawn_omitted + written.unsupported == len(SIGNALS) + 1
    if fmt in ("pytx", "pytx-csv", "hma"):
        assert (written.entries, written.withdrawn_omitted, written.unsupported) == (3, 1, 1)
