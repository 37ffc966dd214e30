"""Resumable, idempotent bank imports from hash-list files.

Formats: those of :mod:`ncii_shield.services.exchange.formats` (python-threatexchange lines and CSV,
JSON lines, HMA signals and content, StopNCII hash records, NCMEC XML) and ``plain`` (one hash per
line, with ``--signal-type``); ``auto`` tells them apart by the first line (a first line that only
opens a JSON document is pretty-printed StopNCII JSON). Withdrawals in the input (StopNCII
Withdrawn/Deleted, NCMEC deletedImage/deletedVideo, HMA deletions) withdraw the signal from the
bank. Records that must not match — pytx-csv NEGATIVE_CLASS/DISPUTED rows, disabled or deleted HMA
content — are kept in the bank withdrawn (``inactive``): a withdrawn row is added for a new hash and
an active one is withdrawn, so the bank records them and says why (their metadata).

Lines (or records) are committed in batches; each batch and the checkpoint (how many lines of *this* file,
identified by its SHA-256, are done) are written in the same transaction. A crash at any point
followed by a rerun therefore produces exactly the bank an uninterrupted run produces: no line lost,
and none added twice (adding is idempotent anyway).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from ncii_shield.errors import InvalidRequest, InvalidSignal, NciiShieldError
from ncii_shield.services.banks import SignalInput, canonical
from ncii_shield.services.exchange import formats
from ncii_shield.services.keys import Principal
from ncii_shield.store import banks as bank_store
from ncii_shield.store.database import Database
from ncii_shield.store.models import ExchangeCheckpoint, ImportRun, Signal, utcnow

FORMATS = ("auto", *formats.FORMATS, "csv", "plain")
BATCH = 1_000
# deletions that name an entry, not a hash: metadata key of the entry id, and of who it belongs to
ID_KINDS = {"ncmec-id": ("ncmec_id", "ncmec_member"), "hma-id": ("hma_content_id", "hma_bank")}


@dataclass
class ImportReport:
    lines: int = 0
    added: int = 0
    already_present: int = 0
    withdrawn: int = 0
    inactive: int = 0  # records kept withdrawn: not-positive pytx-csv rows, disabled or deleted HMA content
    skipped: int = 0
    skipped_from_checkpoint: int = 0
    invalid: list[str] = field(default_factory=list)


def file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _records(path: Path, fmt: str, signal_type: str | None) -> Iterator[formats.Record]:
    with open(path, encoding="utf-8", newline="") as handle:
        if fmt == "auto":
            first = ""
            for line in handle:  # the first line that is not blank or a comment decides the format
                if line.strip() and not line.lstrip().startswith("#"):
                    first = line
                    break
            handle.seek(0)
            fmt = formats.detect(first)
        yield from formats.read(handle, "pytx-csv" if fmt == "csv" else fmt, signal_type)


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
    pending: list[formats.Record] = []
    last_line = done

    def flush() -> None:
        nonlocal pending
        with db.write() as session:
            bank = bank_store.find_bank(session, principal.tenant_id, bank_name)
            applied = apply_records(session, bank, pending)
            report.added += applied.added
            report.already_present += applied.present
            report.withdrawn += applied.withdrawn
            report.inactive += applied.inactive
            run = session.get(ImportRun, run_id)
            run.lines_done = last_line
            run.updated_at = utcnow()
        pending = []
        if after_batch:
            after_batch(last_line)

    for record in _records(path, fmt, signal_type):
        number = record.number
        if number <= done:
            continue
        if number != last_line:
            report.lines += 1
        problem = record.error if record.op == "error" else None
        if record.op in ("add", "withdraw", "inactive") and record.signal_type not in ID_KINDS:
            try:
                canonical(SignalInput(record.signal_type, record.value))
            except NciiShieldError as exc:
                problem = str(exc)
        if problem:
            if not skip_invalid:
                last_line = number - 1
                flush()  # everything before the bad line is kept; a rerun resumes at it
                raise InvalidSignal(f"line {number}: {problem} (lines before it are imported; fix it or use "
                                    f"--skip-invalid, then rerun to resume)")
            report.invalid.append(f"line {number}: {problem}")
        elif record.op == "skip":
            report.skipped += 1
        else:
            pending.append(record)
        if number != last_line and len(pending) >= batch:
            flush()
        last_line = number
        if on_progress and number % 1000 == 0:
            on_progress(number)
    flush()
    with db.write() as session:
        session.get(ImportRun, run_id).finished = True
    return report


@dataclass(frozen=True)
class Applied:
    added: int = 0
    present: int = 0
    withdrawn: int = 0  # active signals withdrawn (by withdraw or inactive records)
    inactive: int = 0  # inactive records applied


def apply_records(session, bank, records: list[formats.Record]) -> Applied:  # noqa: ANN001
    """Apply valid add/withdraw/inactive records in order (runs of adds batched) in the caller's
    transaction."""
    added = present = withdrawn = inactive = 0
    adds: list = []
    for record in [*records, None]:
        if record is not None and record.op == "add":
            adds.append(canonical(SignalInput(record.signal_type, record.value, record.metadata)))
            continue
        if adds:
            result = bank_store.add_signals(session, bank, adds)
            added += sum(a.created for a in result)
            present += sum(not a.created for a in result)
            adds = []
        if record is not None and record.op == "withdraw":
            withdrawn += _withdraw(session, bank, record)
        elif record is not None and record.op == "inactive":
            withdrawn += _keep_inactive(session, bank, record)
            inactive += 1
    return Applied(added, present, withdrawn, inactive)


def apply_page(db: Database, principal: Principal, bank_name: str, checkpoint_name: str,
               records: list[formats.Record], checkpoint: dict,
               usable: Callable[[formats.Record], bool]) -> tuple[Applied, int]:
    """One fetched page of an exchange (StopNCII, NCMEC): the ``usable`` records applied to the bank
    and the exchange's checkpoint advanced, in one transaction, so a crash repeats or skips nothing.
    Returns what was applied and how many records were skipped as unusable."""
    with db.write() as session:
        bank = bank_store.find_bank(session, principal.tenant_id, bank_name)
        kept = [record for record in records if usable(record)]
        applied = apply_records(session, bank, kept)
        row = session.get(ExchangeCheckpoint, checkpoint_name)
        row.checkpoint = checkpoint
        row.records += len(records)
        row.updated_at = utcnow()
    return applied, len(records) - len(kept)


def valid_signal(record: formats.Record) -> bool:
    """Whether an exchange record names a signal type we match and a well-formed value (entry ids
    such as NCMEC's withdraw by id and have no value to check)."""
    if record.signal_type in ID_KINDS:
        return True
    try:
        canonical(SignalInput(record.signal_type, record.value))
    except InvalidRequest:
        return False
    return True


def _withdraw(session, bank, record: formats.Record) -> int:  # noqa: ANN001
    if record.signal_type in ID_KINDS:  # an NCMEC or HMA deletion names the entry, not the hash
        key, member = ID_KINDS[record.signal_type]
        rows = session.scalars(select(Signal).where(Signal.bank_id == bank.id, Signal.withdrawn_at.is_(None),
                                                    Signal.meta.is_not(None)))
        named = record.metadata or {}
        hits = [s for s in rows if isinstance(s.meta, dict) and str(s.meta.get(key)) == record.value
                and (named.get(member) is None or s.meta.get(member) in (None, named.get(member)))]
        for signal in hits:
            bank_store.withdraw_signal(session, bank, signal.id)
        return len(hits)
    signal = canonical(SignalInput(record.signal_type, record.value))
    return 1 if bank_store.withdraw_by_value(session, bank, signal.signal_type, signal.value) else 0


def _keep_inactive(session, bank, record: formats.Record) -> int:  # noqa: ANN001
    """The signal ends up in the bank, withdrawn, with the record's metadata (why it does not match).
    Returns 1 when an active signal was withdrawn."""
    signal = canonical(SignalInput(record.signal_type, record.value, record.metadata))
    row = session.scalar(select(Signal).where(Signal.bank_id == bank.id, Signal.signal_type == signal.signal_type,
                                              Signal.value_digest == bank_store.digest(signal.value)))
    if row is None:  # never seen: added and withdrawn in this transaction, so it is never matched
        row_id = bank_store.add_signals(session, bank, [signal])[0].id
        bank_store.withdraw_signal(session, bank, row_id)
        return 0
    was_active = row.withdrawn_at is None
    if record.metadata is not None:
        row.meta = {**(row.meta if isinstance(row.meta, dict) else {}), **record.metadata}
    bank_store.withdraw_signal(session, bank, row.id)
    return 1 if was_active else 0


def count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(buf.count(b"\n") for buf in iter(lambda: handle.read(1 << 20), b""))


