"""Resumable, idempotent bank imports from hash-list files.

Formats (one signal per line; ``auto`` tells them apart by the first line):

* ``pytx``: python-threatexchange's local_file lines, ``<signal_type> <value>`` (e.g. ``pdq f8f8...``);
* ``csv``: python-threatexchange dataset CSV with columns ``signal_type,signal_str,...``;
* ``jsonl``: ``{"signal_type": ..., "value": ..., "metadata": {...}}`` per line;
* ``plain``: one hash per line, with ``--signal-type``.

Lines are committed in batches; each batch and the checkpoint (how many lines of *this* file,
identified by its SHA-256, are done) are written in the same transaction. A crash at any point
followed by a rerun therefore produces exactly the bank an uninterrupted run produces: no line lost,
and none added twice (adding is idempotent anyway).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from ncii_shield.errors import InvalidRequest, InvalidSignal, NciiShieldError
from ncii_shield.services.banks import SignalInput, canonical
from ncii_shield.services.keys import Principal
from ncii_shield.store import banks as bank_store
from ncii_shield.store.database import Database
from ncii_shield.store.models import ImportRun, utcnow

FORMATS = ("auto", "pytx", "csv", "jsonl", "plain")
BATCH = 1_000


@dataclass
class ImportReport:
    lines: int = 0
    added: int = 0
    already_present: int = 0
    skipped_from_checkpoint: int = 0
    invalid: list[str] = field(default_factory=list)


def file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def detect_format(first_line: str) -> str:
    text = first_line.strip()
    if text.startswith("{"):
        return "jsonl"
    if text.replace(" ", "").lower().startswith("signal_type,signal_str"):
        return "csv"
    if len(text.split()) == 2:
        return "pytx"
    return "plain"


def _records(path: Path, fmt: str, signal_type: str | None) -> Iterator[tuple[int, SignalInput | str]]:
    """(line number, SignalInput or an error message) for every data line."""
    with open(path, encoding="utf-8", newline="") as handle:
        first = ""
        for line in handle:  # the first line that is not blank or a comment decides the format
            if line.strip() and not line.lstrip().startswith("#"):
                first = line
                break
        handle.seek(0)
        if fmt == "auto":
            fmt = detect_format(first)
        if fmt == "plain" and not signal_type:
            raise InvalidRequest("the plain format needs --signal-type (pdq, md5, sha256, vpdq)")
        if fmt == "csv":
            reader = csv.DictReader(handle)
            for number, row in enumerate(reader, start=2):
                meta = {k: row[k] for k in ("collab", "category", "tags") if row.get(k)}
                yield number, SignalInput(_pytx_type(row.get("signal_type", "")), row.get("signal_str", ""), meta or None)
            return
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                yield number, ""
                continue
            if fmt == "jsonl":
                try:
                    obj = json.loads(text)
                    yield number, SignalInput(str(obj["signal_type"]), str(obj["value"]), obj.get("metadata"))
                except (ValueError, KeyError, TypeError):
                    yield number, 'not a JSON object with "signal_type" and "value"'
            elif fmt == "pytx":
                kind, _, value = text.partition(" ")
                yield number, SignalInput(_pytx_type(kind), value.strip())
            else:
                yield number, SignalInput(signal_type or "", text)


def _pytx_type(name: str) -> str:
    """python-threatexchange names some types differently (e.g. video_md5, vpdq)."""
    name = name.strip().lower()
    return {"video_md5": "md5", "photo_md5": "md5", "pdq_ocr": "pdq"}.get(name, name)


def import_file(
    db: Database, principal: Principal, bank_name: str, path: Path, *, fmt: str = "auto",
    signal_type: str | None = None, skip_invalid: bool = False, batch: int = BATCH,
    on_progress: Callable[[int], None] | None = None, after_batch: Callable[[int], None] | None = None,
) -> ImportReport:
    principal.require("bank:write")
    if fmt not in FORMATS:
        raise InvalidRequest(f"unknown format {fmt!r}; accepted: {', '.join(FORMATS)}")
    digest = file_sha256(path)
    report = ImportReport()
    with db.write() as session:
        bank = bank_store.find_bank(session, principal.tenant_id, bank_name)
        run = session.scalar(select(ImportRun).where(ImportRun.bank_id == bank.id, ImportRun.source_sha256 == digest))
        if run is None:
            run = ImportRun(bank_id=bank.id, source_sha256=digest, source_name=path.name, lines_done=0, finished=False)
            session.add(run)
            session.flush()
        run_id, done = run.id, run.lines_done
    report.skipped_from_checkpoint = done
    pending: list[tuple[int, SignalInput]] = []
    last_line = done

    def flush() -> None:
        nonlocal pending
        with db.write() as session:
            bank = bank_store.find_bank(session, principal.tenant_id, bank_name)
            new = [canonical(item) for _, item in pending]
            added = bank_store.add_signals(session, bank, new) if new else []
            run = session.get(ImportRun, run_id)
            run.lines_done = last_line
            run.updated_at = utcnow()
        report.added += sum(a.created for a in added)
        report.already_present += sum(not a.created for a in added)
        pending = []
        if after_batch:
            after_batch(last_line)

    for number, record in _records(path, fmt, signal_type):
        if number <= done:
            continue
        report.lines += 1
        problem = record if isinstance(record, str) else None
        if problem is None:
            try:
                canonical(record)
                pending.append((number, record))
            except NciiShieldError as exc:
                problem = str(exc)
        if problem:
            if not skip_invalid:
                flush()  # everything before the bad line is kept; a rerun resumes at it
                raise InvalidSignal(f"line {number}: {problem} (lines before it are imported; fix it or use "
                                    f"--skip-invalid, then rerun to resume)")
            report.invalid.append(f"line {number}: {problem}")
        last_line = number
        if len(pending) >= batch:
            flush()
        if on_progress and number % 1000 == 0:
            on_progress(number)
    flush()
    with db.write() as session:
        session.get(ImportRun, run_id).finished = True
    return report


def count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(buf.count(b"\n") for buf in iter(lambda: handle.read(1 << 20), b""))


