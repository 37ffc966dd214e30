"""The field's formats: our exports read back identically, and read by python-threatexchange."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from ncii_shield.errors import InvalidRequest
from ncii_shield.services.exchange import formats

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
PDQ2 = "d8f8f1eec0f4a84f0e37022a078f63f0b36e2ed596621e1d33e6239c4e9c9b22"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
NOW = datetime(2026, 11, 24, tzinfo=UTC)
SIGNALS = [
    formats.ExportSignal(1, "pdq", PDQ, {"case": "a"}, False, NOW),
    formats.ExportSignal(2, "md5", MD5, None, False, NOW),
    formats.ExportSignal(3, "pdq", PDQ2, None, True, NOW),  # withdrawn
]


def read(text: str, fmt: str) -> list[formats.Record]:
    return [r for r in formats.read(io.StringIO(text), fmt) if r.op != "skip"]


@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_round_trip(fmt):
    text = formats.write(SIGNALS, fmt)
    assert formats.detect(text.splitlines()[0] if fmt != "stopncii" else text.replace("\n", "")) in (fmt, "stopncii")
    records = read(text, fmt)
    active = {(r.signal_type, r.value) for r in records if r.op == "add"}
    assert active == {("pdq", PDQ), ("md5", MD5)}
    withdrawn = {(r.signal_type, r.value) for r in records if r.op == "withdraw"}
    if fmt in ("jsonl", "stopncii", "ncmec"):  # formats that carry withdrawals
        assert withdrawn == {("pdq", PDQ2)}
    else:
        assert withdrawn == set()


def test_stopncii_withdrawn_and_deleted_records_are_withdrawals():
    text = """{"count": 4, "nextPageToken": null, "nextSetTimestamp": 1700000000, "hasMoreRecords": false,
      "hashRecords": [
        {"lastModtimestamp": 1, "signalType": "ImagePDQ", "hashValue": "%s", "hashStatus": "Active", "caseNumbers": {"c1": "Active"}},
        {"lastModtimestamp": 2, "signalType": "ImagePDQ", "hashValue": "%s", "hashStatus": "Withdrawn", "caseNumbers": []},
        {"lastModtimestamp": 3, "signalType": "VideoMD5", "hashValue": "%s", "hashStatus": "Deleted", "caseNumbers": {}},
        {"lastModtimestamp": 4, "signalType": "VideoTMK", "hashValue": "xx", "hashStatus": "Active", "caseNumbers": {}}]}
    """ % (PDQ, PDQ2, MD5)
    records = list(formats.read(io.StringIO(text), "stopncii"))
    assert [(r.op, r.signal_type) for r in records] == [("add", "pdq"), ("withdraw", "pdq"), ("withdraw", "md5"), ("skip", "")]
    assert records[0].metadata["case_numbers"] == ["c1"]


NCMEC = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">
  <images count="2" maxTimestamp="2017-10-24T15:10:00Z">
    <image><member id="42">Example Member</member><timestamp>2017-10-24T15:00:00Z</timestamp>
      <id>image1</id><classification>A1</classification>
      <fingerprints><md5>{MD5}</md5><pdq>{PDQ}</pdq><sha1>da39a3ee5e6b4b0d3255bfef95601890afd80709</sha1></fingerprints></image>
    <deletedImage><member id="43">M2</member><id>image4</id><timestamp>2017-10-24T15:10:00Z</timestamp></deletedImage>
  </images>
  <videos count="1" maxTimestamp="2017-10-24T15:20:00Z">
    <deletedVideo><member id="42">Example Member</member><id>video4</id><timestamp>2017-10-24T15:20:00Z</timestamp></deletedVideo>
  </videos>
  <paging><next>/v2/entries?from=2017-10-20T00%3A00%3A00.000Z&amp;start=2001</next></paging>
</queryResult>"""


def test_ncmec_xml_entries_and_deletions():
    records = list(formats.read(io.StringIO(NCMEC), "ncmec"))
    assert [(r.op, r.signal_type, r.value) for r in records] == [
        ("add", "md5", MD5), ("add", "pdq", PDQ), ("withdraw", "ncmec-id", "image4"), ("withdraw", "ncmec-id", "video4")]
    assert records[0].metadata == {"ncmec_id": "image1", "ncmec_member": "42", "ncmec_type": "image"}


@pytest.mark.parametrize("fmt,text", [("stopncii", "[not json"), ("ncmec", "<unclosed"), ("stopncii", '{"x": 1}')])
def test_malformed_documents_get_a_clear_error(fmt, text):
    with pytest.raises(InvalidRequest, match="StopNCII|NCMEC"):
        list(formats.read(io.StringIO(text), fmt))


def test_malformed_json_lines_are_errors_not_crashes():
    records = read('{"signals": 3}\nnot json\n{"signal_type": "pdq"}\n', "hma")
    assert [r.op for r in records] == ["error", "error", "error"]


def test_our_pytx_export_is_read_and_matched_by_python_threatexchange(tmp_path):
    from threatexchange.exchanges.impl.file_api import FileCollaborationConfig, LocalFileSignalExchangeAPI
    from threatexchange.signal_type.pdq.signal import PdqSignal

    path = tmp_path / "export.txt"
    path.write_text(formats.write(SIGNALS, "pytx"))
    api = LocalFileSignalExchangeAPI.for_collab(FileCollaborationConfig(name="f", filename=str(path)))
    updates = {key for delta in api.fetch_iter([], None) for key in delta.updates}
    assert updates == {("pdq", PDQ), ("video_md5", MD5)}
    index = PdqSignal.get_index_cls().build([(value, n) for n, (kind, value) in enumerate(sorted(updates)) if kind == "pdq"])
    near = f"{int(PDQ, 16) ^ 0b1011:064x}"
    assert [m.similarity_info.distance for m in index.query(near)] == [3]


def test_python_threatexchange_file_imports_with_identical_signals(tmp_path):
    """A file in python-threatexchange's local-file format imports into us with identical signals.

    pytx's own writer (``LocalFileSignalExchangeAPI.report_opinion``) opens the file with mode "wta",
    which Python 3.11 refuses, so the lines are written as it writes them: ``f"{get_name()} {signal}"``
    with its signal types' names; pytx's reader then confirms what the file holds.
    """
    from threatexchange.exchanges.impl.file_api import FileCollaborationConfig, LocalFileSignalExchangeAPI
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.pdq.signal import PdqSignal

    path = tmp_path / "pytx.txt"
    path.write_text("".join(f"{t.get_name()} {v}\n" for t, v in ((PdqSignal, PDQ), (VideoMD5Signal, MD5))))
    api = LocalFileSignalExchangeAPI.for_collab(FileCollaborationConfig(name="f", filename=str(path)))
    theirs = {key for delta in api.fetch_iter([], None) for key in delta.updates}
    records = read(path.read_text(), formats.detect(path.read_text().splitlines()[0]))
    ours = {(r.signal_type, r.value) for r in records}
    assert ours == {("pdq", PDQ), ("md5", MD5)}
    assert {(formats.pytx_type(k), v) for k, v in theirs} == ours
