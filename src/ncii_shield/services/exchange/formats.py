"""The field's hash-list formats: read them into records, write banks out in them.

| name | shape | withdrawals |
|---|---|---|
| ``pytx`` | python-threatexchange local file: ``<signal_type> <value>`` lines | — |
| ``pytx-csv`` | python-threatexchange dataset CSV: ``signal_type,signal_str,collab,category,tags`` | — |
| ``jsonl`` | ncii-shield: ``{"signal_type","value","metadata"}`` per line (``"op":"withdraw"`` too) | yes |
| ``hma`` | HMA 2.x bank content: ``{"signals": {type: value}, "metadata": {...}, "note"}`` per line | — |
| ``stopncii`` | StopNCII FetchHashes JSON: ``hashRecords`` of ``signalType``/``hashValue``/``hashStatus`` | Withdrawn, Deleted |
| ``ncmec`` | NCMEC hash-sharing XML ``queryResult``: image/video ``fingerprints`` (md5, pdq) | deletedImage/deletedVideo |

Signal type names follow python-threatexchange where they differ (``video_md5`` is our ``md5``).
Note that python-threatexchange's own StopNCII adapter compares ``hashValue`` instead of
``hashStatus`` with Withdrawn/Deleted and so keeps withdrawn hashes; we read ``hashStatus``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from ncii_shield.errors import InvalidRequest

FORMATS = ("pytx", "pytx-csv", "jsonl", "hma", "stopncii", "ncmec")
NCMEC_NS = "https://hashsharing.ncmec.org/hashsharing/v2"

_FROM_PYTX = {"video_md5": "md5", "photo_md5": "md5", "md5": "md5", "pdq": "pdq", "sha256": "sha256",
              "vpdq": "vpdq", "video_vpdq": "vpdq"}
_TO_PYTX = {"md5": "video_md5", "pdq": "pdq", "sha256": "sha256", "vpdq": "vpdq"}
_FROM_STOPNCII = {"ImagePDQ": "pdq", "VideoMD5": "md5"}
_TO_STOPNCII = {"pdq": "ImagePDQ", "md5": "VideoMD5"}


@dataclass(frozen=True)
class Record:
    """One line or entry of an input: an add, a withdrawal, a skip (blank, unsupported) or an error."""

    number: int
    op: str  # "add" | "withdraw" | "skip" | "error"
    signal_type: str = ""
    value: str = ""
    metadata: dict | None = None
    error: str = ""


@dataclass(frozen=True)
class ExportSignal:
    id: int
    signal_type: str
    value: str
    metadata: dict | None
    withdrawn: bool
    modified: datetime


def pytx_type(name: str) -> str:
    name = (name or "").strip().lower()
    return _FROM_PYTX.get(name, name)


def detect(first_line: str) -> str:
    text = first_line.strip()
    if text.startswith("<"):
        return "ncmec"
    if text.startswith("{") and ('"hashRecords"' in text or '"count"' in text):
        return "stopncii"
    if text.startswith("{") and '"signals"' in text and '"signal_type"' not in text:
        return "hma"
    if text.startswith("{"):
        return "jsonl"
    if text.replace(" ", "").lower().startswith("signal_type,signal_str"):
        return "pytx-csv"
    if len(text.split()) == 2:
        return "pytx"
    return "plain"


# -- reading -------------------------------------------------------------------------------------


def read(handle: io.TextIOBase, fmt: str, plain_type: str | None = None) -> Iterator[Record]:
    if fmt == "pytx-csv":
        number = 1
        try:
            for number, row in enumerate(csv.DictReader(handle), start=2):
                meta = {k: row[k] for k in ("collab", "category", "tags") if isinstance(row.get(k), str) and row.get(k)}
                kind, value = row.get("signal_type"), row.get("signal_str")
                if not isinstance(kind, str) or not isinstance(value, str):
                    yield Record(number, "error", error="a CSV row without signal_type and signal_str")
                    continue
                yield Record(number, "add", pytx_type(kind), value, meta or None)
        except csv.Error as exc:  # NUL bytes, stray carriage returns...
            raise InvalidRequest(f"malformed CSV after line {number}: {exc}") from exc
    elif fmt == "stopncii":
        yield from _read_stopncii(handle.read())
    elif fmt == "ncmec":
        yield from _read_ncmec(handle.read())
    elif fmt in ("pytx", "plain", "jsonl", "hma"):
        if fmt == "plain" and not plain_type:
            raise InvalidRequest("the plain format needs --signal-type (pdq, md5, sha256, vpdq)")
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                yield Record(number, "skip")
            elif fmt == "pytx":
                kind, _, value = text.partition(" ")
                yield Record(number, "add", pytx_type(kind), value.strip())
            elif fmt == "plain":
                yield Record(number, "add", plain_type or "", text)
            else:
                yield from _read_json_line(number, text, fmt)
    else:
        raise InvalidRequest(f"unknown format {fmt!r}; accepted: {', '.join(FORMATS)}, plain")


def _read_json_line(number: int, text: str, fmt: str) -> Iterator[Record]:
    try:
        obj = json.loads(text)
        if fmt == "jsonl":
            op = obj.get("op", "add")
            if op not in ("add", "withdraw"):
                raise ValueError
            yield Record(number, op, str(obj["signal_type"]), str(obj["value"]), obj.get("metadata"))
            return
        meta = obj.get("metadata") or None
        for kind, value in dict(obj["signals"]).items():
            yield Record(number, "add", pytx_type(kind), str(value), meta)
    except (ValueError, KeyError, TypeError, AttributeError):
        shape = '{"signal_type", "value"}' if fmt == "jsonl" else '{"signals": {type: value}}'
        yield Record(number, "error", error=f"not a JSON object of the shape {shape}")


def _read_stopncii(text: str) -> Iterator[Record]:
    try:
        data = json.loads(text)
        records = data["hashRecords"] if isinstance(data, dict) else data
        if not isinstance(records, list):
            raise TypeError
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidRequest('not a StopNCII FetchHashes response: expected {"hashRecords": [...]}') from exc
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            yield Record(number, "error", error="hash record is not an object")
            continue
        kind = _FROM_STOPNCII.get(str(record.get("signalType")))
        if kind is None:
            yield Record(number, "skip")  # VideoTMK, Text, URL: not signal types we match
            continue
        status = str(record.get("hashStatus", "Active"))
        op = "withdraw" if status in ("Withdrawn", "Deleted") else "add"
        meta = {"stopncii_status": status}
        cases = record.get("caseNumbers")
        if isinstance(cases, dict) and cases:
            meta["case_numbers"] = sorted(cases)
        yield Record(number, op, kind, str(record.get("hashValue", "")), meta)


def _read_ncmec(text: str) -> Iterator[Record]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise InvalidRequest(f"not NCMEC hash-sharing XML ({exc})") from exc
    for element in root.iter():
        element.tag = element.tag.rsplit("}", 1)[-1]  # drop the namespace
    number = 0
    for group in ("images", "videos"):
        for entry in root.findall(group + "/*"):
            number += 1
            deleted = entry.tag.lower().startswith("deleted")
            entry_id = (entry.findtext("id") or "").strip()
            member = entry.find("member")
            meta = {"ncmec_id": entry_id, "ncmec_member": member.get("id") if member is not None else None,
                    "ncmec_type": entry.tag.lower().removeprefix("deleted")}
            fingerprints = {f.tag.lower(): (f.text or "").strip() for f in entry.findall("fingerprints/*") if (f.text or "").strip()}
            if deleted:
                if not fingerprints:  # deletions name entries by id: withdraw what that entry added
                    yield Record(number, "withdraw", "ncmec-id", entry_id, meta)
                    continue
            for name, value in fingerprints.items():
                if name in ("md5", "pdq"):
                    yield Record(number, "withdraw" if deleted else "add", name, value, meta)


# -- writing -------------------------------------------------------------------------------------


def write(signals: list[ExportSignal], fmt: str) -> str:
    active = [s for s in signals if not s.withdrawn]
    if fmt == "pytx":
        return "".join(f"{_TO_PYTX[s.signal_type]} {s.value}\n" for s in active)
    if fmt == "pytx-csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["signal_type", "signal_str", "collab", "category", "tags"])
        for s in active:
            writer.writerow([_TO_PYTX[s.signal_type], s.value, (s.metadata or {}).get("collab", ""), "", ""])
        return out.getvalue()
    if fmt == "jsonl":
        return "".join(json.dumps({"op": "withdraw" if s.withdrawn else "add", "signal_type": s.signal_type,
                                   "value": s.value, "metadata": s.metadata}) + "\n" for s in signals)
    if fmt == "hma":
        return "".join(json.dumps({"signals": {_TO_PYTX[s.signal_type]: s.value},
                                   "metadata": {"content_id": str(s.id), "json": s.metadata or {}}}) + "\n"
                       for s in active)
    if fmt == "stopncii":
        records = [{"lastModtimestamp": int(_utc(s.modified).timestamp()), "signalType": _TO_STOPNCII[s.signal_type],
                    "hashValue": s.value, "hashStatus": "Withdrawn" if s.withdrawn else "Active",
                    "caseNumbers": {}, "CSPFeedbacks": []}
                   for s in signals if s.signal_type in _TO_STOPNCII]
        last = max((r["lastModtimestamp"] for r in records), default=0)
        return json.dumps({"count": len(records), "nextPageToken": None, "nextSetTimestamp": last,
                           "hasMoreRecords": False, "hashRecords": records}, indent=1) + "\n"
    if fmt == "ncmec":
        return _write_ncmec(signals)
    raise InvalidRequest(f"unknown format {fmt!r}; accepted: {', '.join(FORMATS)}")


def _write_ncmec(signals: list[ExportSignal]) -> str:
    ET.register_namespace("", NCMEC_NS)
    root = ET.Element(f"{{{NCMEC_NS}}}queryResult")
    groups = {"image": ET.SubElement(root, f"{{{NCMEC_NS}}}images"), "video": ET.SubElement(root, f"{{{NCMEC_NS}}}videos")}
    for s in signals:
        if s.signal_type not in ("pdq", "md5"):
            continue
        kind = "image" if s.signal_type == "pdq" else "video"
        entry = ET.SubElement(groups[kind], f"{{{NCMEC_NS}}}{'deleted' + kind.title() if s.withdrawn else kind}")
        ET.SubElement(entry, f"{{{NCMEC_NS}}}id").text = f"ncii-shield-{s.id}"
        ET.SubElement(entry, f"{{{NCMEC_NS}}}timestamp").text = _utc(s.modified).strftime("%Y-%m-%dT%H:%M:%SZ")
        fingerprints = ET.SubElement(entry, f"{{{NCMEC_NS}}}fingerprints")
        ET.SubElement(fingerprints, f"{{{NCMEC_NS}}}{s.signal_type}").text = s.value
    for group in groups.values():
        group.set("count", str(len(group)))
    return '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
