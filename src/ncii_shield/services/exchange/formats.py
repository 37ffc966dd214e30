"""The field's hash-list formats: read them into records, write banks out in them.

| name | shape | withdrawals |
|---|---|---|
| ``pytx`` | python-threatexchange local file: ``<signal_type> <value>`` lines | — |
| ``pytx-csv`` | python-threatexchange ``dataset --csv``: ``signal_type,signal_str,collab,category,tags`` | by category |
| ``jsonl`` | ncii-shield: ``{"signal_type","value","metadata"}`` per line (``"op":"withdraw"`` too) | yes |
| ``hma`` | HMA 2.x: ``POST /c/bank/<BANK>/signal`` bodies per line (:func:`_read_hma_line`) | disabled, deleted |
| ``stopncii`` | StopNCII FetchHashes JSON: ``hashRecords`` of ``signalType``/``hashValue``/``hashStatus`` | Withdrawn, Deleted |
| ``ncmec`` | NCMEC hash-sharing XML ``queryResult``: image/video ``fingerprints`` (md5, pdq) | deletedImage/deletedVideo |

Signal type names are python-threatexchange's (``SignalType.get_name()``) where they differ from ours:
our ``md5`` is its ``video_md5`` and our ``sha256`` its ``video_sha256``; HMA uses the same names.
``url`` and ``url_md5`` are the same in both; our ``domain``, ``telegram`` and ``app_id`` have no
pytx name and travel in ``jsonl`` and feeds only.
Reading accepts both spellings. A bank's signals of a type a format has no name for (our
``derivative`` signals, vPDQ in StopNCII/NCMEC) are left out of it and counted (:class:`Export`).

Records ops: ``add``; ``withdraw`` (withdraw the signal if the bank has it); ``inactive`` (the signal
must be in the bank but not match: added as withdrawn when new, withdrawn when active, so the
bank keeps a record of it); ``skip``; ``error``.

Note that python-threatexchange's own StopNCII adapter compares ``hashValue`` instead of
``hashStatus`` with Withdrawn/Deleted and so keeps withdrawn hashes; we read ``hashStatus``.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from ncii_shield.errors import InvalidRequest

FORMATS = ("pytx", "pytx-csv", "jsonl", "hma", "stopncii", "ncmec")
NCMEC_NS = "https://hashsharing.ncmec.org/hashsharing/v2"
# NCMEC entries name the member (ESP) that shared them; pytx keys entries by "<member id>-<entry id>",
# so every entry of one export carries the same member, and a deletion names the entry it deletes.
NCMEC_MEMBER_ID = "0"
NCMEC_MEMBER_NAME = "ncii-shield"
HMA_NOTE_MAX = 255  # HMA's _validate_note: "note must be at most 255 characters"

# python-threatexchange's names (SignalType.get_name()) <-> ours; the left column is also read
_FROM_PYTX = {"video_md5": "md5", "photo_md5": "md5", "md5": "md5", "pdq": "pdq", "video_sha256": "sha256",
              "sha256": "sha256", "vpdq": "vpdq", "video_vpdq": "vpdq", "url": "url", "url_md5": "url_md5"}
_TO_PYTX = {"md5": "video_md5", "pdq": "pdq", "sha256": "video_sha256", "vpdq": "vpdq", "url": "url",
            "url_md5": "url_md5"}
_FROM_STOPNCII = {"ImagePDQ": "pdq", "VideoMD5": "md5"}
_TO_STOPNCII = {"pdq": "ImagePDQ", "md5": "VideoMD5"}
_TO_NCMEC = {"pdq": "image", "md5": "video"}  # pytx reads (image, pdq) and (video, md5) only
# pytx-csv categories (pytx AggregateSignalOpinionCategory) that must not match: see _read_pytx_csv
NOT_POSITIVE = ("NEGATIVE_CLASS", "DISPUTED")


@dataclass(frozen=True)
class Record:
    """One line or entry of an input: an add, a withdrawal, an inactive record, a skip (blank,
    unsupported) or an error."""

    number: int
    op: str  # "add" | "withdraw" | "inactive" | "skip" | "error"
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


@dataclass(frozen=True)
class Export:
    """A written export and what it holds: ``entries`` signals written (active and withdrawn),
    ``withdrawn_omitted`` withdrawn signals the format cannot carry, ``unsupported`` signals of a
    type the format has no name for."""

    text: str
    entries: int
    withdrawn_omitted: int
    unsupported: int


def pytx_type(name: str) -> str:
    """Our name for a python-threatexchange / HMA signal type name (unknown names pass through)."""
    name = (name or "").strip().lower()
    return _FROM_PYTX.get(name, name)


def hma_bank_name(name: str) -> str:
    """An HMA bank name for one of ours: HMA takes ``[A-Z_][A-Z0-9_]*`` only."""
    upper = "".join(c if c.isascii() and c.isalnum() else "_" for c in name.upper())
    return upper if upper and not upper[0].isdigit() else "_" + upper


def detect(first_line: str) -> str:
    """The format of an input, told from its first line that is not blank or a comment.

    A first line that starts a JSON value but is not a whole JSON object (``{`` alone, or ``{"count":
    3,``) begins a document spread over lines: pretty-printed StopNCII JSON, as we write it.
    """
    text = first_line.strip()
    if text.startswith("<"):
        return "ncmec"
    if text.startswith("["):
        return "stopncii"
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            return "stopncii"
        if "hashRecords" in obj:
            return "stopncii"
        if "signal_type" in obj:
            return "jsonl"
        hma_keys = {*_FROM_PYTX, "note", "id", "deleted"}
        if "signals" in obj or "disable_until_ts" in obj or (obj and set(obj) <= hma_keys):
            return "hma"
        return "jsonl"
    if text.replace(" ", "").lower().startswith("signal_type,signal_str"):
        return "pytx-csv"
    if len(text.split()) == 2:
        return "pytx"
    return "plain"


# -- reading -------------------------------------------------------------------------------------


def read(handle: io.TextIOBase, fmt: str, plain_type: str | None = None) -> Iterator[Record]:
    if fmt == "pytx-csv":
        yield from _read_pytx_csv(handle)
    elif fmt == "stopncii":
        yield from _read_stopncii(handle.read())
    elif fmt == "ncmec":
        yield from _read_ncmec(handle.read())
    elif fmt in ("pytx", "plain", "jsonl", "hma"):
        if fmt == "plain" and not plain_type:
            raise InvalidRequest("the plain format needs --signal-type (pdq, md5, sha256, vpdq, url, url_md5, domain, "
                                 "telegram, app_id)")
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                yield Record(number, "skip")
            elif fmt == "pytx":
                kind, _, value = text.partition(" ")
                yield Record(number, "add", pytx_type(kind), value.strip())
            elif fmt == "plain":
                yield Record(number, "add", pytx_type(plain_type or ""), text)
            elif fmt == "jsonl":
                yield from _read_jsonl_line(number, text)
            else:
                yield from _read_hma_line(number, text)
    else:
        raise InvalidRequest(f"unknown format {fmt!r}; accepted: {', '.join(FORMATS)}, plain")


def _read_pytx_csv(handle: io.TextIOBase) -> Iterator[Record]:
    """python-threatexchange's ``dataset --csv`` rows (its aggregate opinion per signal and collab).

    Rows whose category is NEGATIVE_CLASS (members say matches do not belong: false positives,
    test data) or DISPUTED (some say they do, some say they do not) become ``inactive`` records: the
    hash is kept in the bank, withdrawn, with its category. A pytx user expects such a hash not to
    be acted on — ``threatexchange match`` labels it so, and its next fetch replaces the opinion —
    and ncii-shield acts on every match (blocks the upload, queues a removal), so a contested hash
    must not match; keeping it withdrawn (rather than skipping the row) also withdraws it when an
    earlier import had it as positive, and a later import that finds it positive again
    re-activates it. INVESTIGATION_SEED and POSITIVE_CLASS rows are added.
    """
    number = 1
    try:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            meta = {k: row[k] for k in ("collab", "category", "tags") if isinstance(row.get(k), str) and row.get(k)}
            kind, value = row.get("signal_type"), row.get("signal_str")
            if not isinstance(kind, str) or not isinstance(value, str):
                yield Record(number, "error", error="a CSV row without signal_type and signal_str")
                continue
            category = str(row.get("category") or "").strip().upper()
            op = "inactive" if category in NOT_POSITIVE else "add"
            yield Record(number, op, pytx_type(kind), value, meta or None)
    except csv.Error as exc:  # NUL bytes, stray carriage returns...
        raise InvalidRequest(f"malformed CSV after line {number}: {exc}") from exc


def _read_jsonl_line(number: int, text: str) -> Iterator[Record]:
    try:
        obj = json.loads(text)
        op = obj.get("op", "add")
        if op not in ("add", "withdraw"):
            raise ValueError
        yield Record(number, op, pytx_type(str(obj["signal_type"])), str(obj["value"]), obj.get("metadata"))
    except (ValueError, KeyError, TypeError, AttributeError):
        yield Record(number, "error", error='not a JSON object of the shape {"signal_type", "value"}')


def hma_enabled(disable_until_ts: int, now: float | None = None) -> bool:
    """HMA's ``BankContentConfig.enabled``: 0 is disabled, 1 enabled, else disabled until that time."""
    if disable_until_ts == 0:
        return False
    if disable_until_ts == 1:
        return True
    return disable_until_ts <= (time.time() if now is None else now)


def _read_hma_line(number: int, text: str) -> Iterator[Record]:
    """One HMA line: a ``POST /c/bank/<BANK>/signal`` body (``{"pdq": "...", "note": "..."}``, what we
    write), HMA's content JSON (``{"id", "disable_until_ts", "signals", "metadata", "note", ...}``, what
    ``GET /c/bank/<BANK>/content/<id>?include_signals=true`` answers) or a deletion ``{"id": 7,
    "deleted": 1}`` (``DELETE /c/bank/<BANK>/content/7`` answers ``{"deleted": 1}``).

    Disabled content (``disable_until_ts`` 0, or a time still to come) becomes ``inactive``: kept,
    not matching. A deletion withdraws the content's signals (by value when it names them, which
    leaves a withdrawn record even for a hash never imported, else by the HMA content id recorded when
    it was imported: signal type ``hma-id``).
    """
    try:
        obj = json.loads(text)
        if not isinstance(obj, dict):
            raise TypeError
        content_id = obj.get("id")
        note = obj.get("note")
        meta: dict = {}
        if isinstance(note, str) and note:  # our own export's note is our metadata as JSON
            meta = _json_object(note) or {"hma_note": note}
        if content_id is not None:
            meta["hma_content_id"] = int(content_id)
        if isinstance(obj.get("bank"), dict) and obj["bank"].get("name"):
            meta["hma_bank"] = str(obj["bank"]["name"])
        if isinstance(obj.get("metadata"), dict) and obj["metadata"]:
            meta["hma_metadata"] = obj["metadata"]
        if "signals" in obj or "disable_until_ts" in obj:
            signals = dict(obj.get("signals") or {})
            disable = int(obj.get("disable_until_ts", 1))
            op = "add" if hma_enabled(disable) else "inactive"
            if op == "inactive":
                meta["hma_disable_until_ts"] = disable
        else:
            signals = {k: v for k, v in obj.items() if k not in ("note", "id", "deleted", "metadata")}
            unknown = sorted(k for k in signals if k.lower() not in _FROM_PYTX)
            if unknown:
                yield Record(number, "error", error=f"unknown signal type {unknown[0]!r} (accepted: "
                                                    f"{', '.join(sorted(_FROM_PYTX))})")
                return
            op = "add"
        if obj.get("deleted"):
            op = "inactive"
            meta["hma_deleted"] = True
            if not signals:
                if content_id is None:
                    raise KeyError("id")
                yield Record(number, "withdraw", "hma-id", str(int(content_id)), meta or None)
                return
        if not signals:
            raise KeyError("signals")
        for kind, value in signals.items():
            if not isinstance(value, str):
                raise TypeError
            yield Record(number, op, pytx_type(kind), value, meta or None)
    except (ValueError, KeyError, TypeError, AttributeError):
        yield Record(number, "error", error='not HMA JSON: {"<signal type>": "<value>", "note": ...}, HMA content '
                                           '{"id", "disable_until_ts", "signals": {...}} or {"id", "deleted"}')


def _json_object(text: str) -> dict | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


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
                if not fingerprints:  # deletions name entries by member and id: withdraw what that entry added
                    yield Record(number, "withdraw", "ncmec-id", entry_id, meta)
                    continue
            for name, value in fingerprints.items():
                if name in ("md5", "pdq"):
                    yield Record(number, "withdraw" if deleted else "add", name, value, meta)


# -- writing -------------------------------------------------------------------------------------


def write(signals: list[ExportSignal], fmt: str) -> str:
    return export(signals, fmt).text


def export(signals: list[ExportSignal], fmt: str) -> Export:
    """Write ``signals`` (a bank's, withdrawn ones included) in ``fmt``, with what it holds."""
    names = {"pytx": _TO_PYTX, "pytx-csv": _TO_PYTX, "hma": _TO_PYTX, "stopncii": _TO_STOPNCII,
             "ncmec": _TO_NCMEC}.get(fmt)
    if fmt not in FORMATS:
        raise InvalidRequest(f"unknown format {fmt!r}; accepted: {', '.join(FORMATS)}")
    carried = [s for s in signals if names is None or s.signal_type in names]
    unsupported = len(signals) - len(carried)
    if fmt in ("jsonl", "stopncii", "ncmec"):  # formats with withdrawals
        written = carried
    else:
        written = [s for s in carried if not s.withdrawn]
    text = _WRITERS[fmt](written)
    return Export(text, len(written), len(carried) - len(written), unsupported)


def _write_pytx(signals: list[ExportSignal]) -> str:
    return "".join(f"{_TO_PYTX[s.signal_type]} {s.value}\n" for s in signals)


def _write_pytx_csv(signals: list[ExportSignal]) -> str:
    """As ``threatexchange dataset --csv`` writes; our signals are positive by the bank's purpose."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["signal_type", "signal_str", "collab", "category", "tags"])
    for s in signals:
        writer.writerow([_TO_PYTX[s.signal_type], s.value, (s.metadata or {}).get("collab", ""), "POSITIVE_CLASS", ""])
    return out.getvalue()


def _write_jsonl(signals: list[ExportSignal]) -> str:
    return "".join(json.dumps({"op": "withdraw" if s.withdrawn else "add", "signal_type": s.signal_type,
                               "value": s.value, "metadata": s.metadata}) + "\n" for s in signals)


def _write_hma(signals: list[ExportSignal]) -> str:
    """One ``POST /c/bank/<BANK>/signal`` body per line: ``{"<pytx type>": "<value>", "note": ...}``.

    HMA keeps nothing else with a signal: the note (at most 255 characters) holds our metadata as
    compact JSON when it fits, else only our signal id.
    """
    lines = []
    for s in signals:
        body: dict = {_TO_PYTX[s.signal_type]: s.value}
        note = json.dumps(s.metadata, separators=(",", ":"), sort_keys=True) if s.metadata else ""
        if len(note) > HMA_NOTE_MAX:
            note = json.dumps({"ncii_shield_signal": s.id}, separators=(",", ":"))
        if note:
            body["note"] = note
        lines.append(json.dumps(body) + "\n")
    return "".join(lines)


def _write_stopncii(signals: list[ExportSignal]) -> str:
    records = [{"lastModtimestamp": int(_utc(s.modified).timestamp()), "signalType": _TO_STOPNCII[s.signal_type],
                "hashValue": s.value, "hashStatus": "Withdrawn" if s.withdrawn else "Active",
                "caseNumbers": {}, "CSPFeedbacks": []} for s in signals]
    last = max((r["lastModtimestamp"] for r in records), default=0)
    return json.dumps({"count": len(records), "nextPageToken": None, "nextSetTimestamp": last,
                       "hasMoreRecords": False, "hashRecords": records}, indent=1) + "\n"


def _write_ncmec(signals: list[ExportSignal]) -> str:
    """NCMEC ``GET /v2/entries`` XML: each group with ``count`` and ``maxTimestamp`` and each entry with
    its ``member`` (pytx's ``GetEntriesResponse.from_xml`` requires both); a withdrawn signal is a
    ``deletedImage``/``deletedVideo`` under the entry id it had when active (pytx deletes by member and
    id), keeping its fingerprint so that an importer without the earlier entry still knows the hash."""
    ns = f"{{{NCMEC_NS}}}"
    ET.register_namespace("", NCMEC_NS)
    root = ET.Element(f"{ns}queryResult")
    groups = {"image": ET.SubElement(root, f"{ns}images"), "video": ET.SubElement(root, f"{ns}videos")}
    latest: dict[str, datetime] = {}
    for s in signals:
        kind = _TO_NCMEC[s.signal_type]
        entry = ET.SubElement(groups[kind], f"{ns}{'deleted' + kind.title() if s.withdrawn else kind}")
        member = ET.SubElement(entry, f"{ns}member", id=NCMEC_MEMBER_ID)
        member.text = NCMEC_MEMBER_NAME
        ET.SubElement(entry, f"{ns}timestamp").text = _ncmec_time(s.modified)
        ET.SubElement(entry, f"{ns}id").text = f"ncii-shield-{s.id}"
        fingerprints = ET.SubElement(entry, f"{ns}fingerprints")
        ET.SubElement(fingerprints, f"{ns}{s.signal_type}").text = s.value
        latest[kind] = max(latest.get(kind, _utc(s.modified)), _utc(s.modified))
    for kind, group in groups.items():
        group.set("count", str(len(group)))
        if kind in latest:
            group.set("maxTimestamp", _ncmec_time(latest[kind]))
    return '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


_WRITERS = {"pytx": _write_pytx, "pytx-csv": _write_pytx_csv, "jsonl": _write_jsonl, "hma": _write_hma,
            "stopncii": _write_stopncii, "ncmec": _write_ncmec}


def _ncmec_time(value: datetime) -> str:
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
