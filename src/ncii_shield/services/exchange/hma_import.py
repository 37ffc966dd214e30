"""Migrate a running HMA 2.x (OpenMediaMatch) into ncii-shield: its banks and their content.

HMA has no endpoint that lists a bank's content, so the walker does what an HMA operator can do
with HMA's own API: ``GET /c/banks`` for the banks, then ``GET /c/bank/<bank>/content/<id>
?include_signals=true`` for content ids 1, 2, 3, ... (HMA's ``bank_get_content`` answers a content of
any bank through any bank's path, naming its real bank), until ``max_gap`` ids in a row answer 404
(deleted content leaves gaps). Each content is read exactly as an ``hma`` import line
(:func:`ncii_shield.services.exchange.formats.read`): disabled content (``disable_until_ts`` 0 or
still to come) is kept in the bank withdrawn, so it stays disabled; HMA's id, bank, note and
metadata go with the signals (``hma_content_id``, ``hma_bank``, ``hma_note``, ``hma_metadata``).

Each HMA bank becomes the tenant's bank of the same name (HMA names are valid ncii-shield names).
Resumable: each batch and the checkpoint (the content id walked to) commit together, in an import
run per bank keyed by the HMA's URL; a rerun resumes from the lowest checkpoint (adding is
idempotent), and a rerun after a finished walk picks up content added since. HMA content deleted
after it was migrated is not detected by a rerun (HMA keeps no tombstones): subscribe to what
replaces it instead.

The HMA URL is the operator's and goes through the address guard
(:mod:`ncii_shield.services.netguard`); an HMA on a private network needs ``allow_private=True``.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from sqlalchemy import select

from ncii_shield.errors import FetchFailed, InvalidSignal, NciiShieldError, RefusedSource
from ncii_shield.services import netguard
from ncii_shield.services.banks import SignalInput, canonical
from ncii_shield.services.exchange import formats
from ncii_shield.services.imports import apply_records
from ncii_shield.services.keys import Principal
from ncii_shield.store import banks as bank_store
from ncii_shield.store.database import Database
from ncii_shield.store.models import Bank, ImportRun, utcnow

HMA_BANK_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
MAX_GAP = 1_000
BATCH = 500


@dataclass
class HmaImportReport:
    banks: list[str] = field(default_factory=list)
    resumed_from: int = 0  # content ids up to this one were done by an earlier run
    walked_to: int = 0
    contents: int = 0  # contents read in this run
    missing: int = 0  # ids that answered 404 (deleted content, or past the end)
    added: int = 0
    already_present: int = 0
    inactive: int = 0  # disabled content kept withdrawn
    withdrawn: int = 0
    invalid: list[str] = field(default_factory=list)


def source_key(url: str) -> str:
    """The import runs' key for an HMA: the SHA-256 of ``hma:<url>``."""
    return hashlib.sha256(f"hma:{url}".encode()).hexdigest()


class _Hma:
    """GETs against one HMA, each through the address guard (pinned to the checked address)."""

    def __init__(self, url: str, client: httpx.Client, allow_private: bool) -> None:
        self.url, self.client, self.allow_private = url, client, allow_private

    def get(self, path: str, params: dict | None = None) -> httpx.Response:
        target = netguard.pin(f"{self.url}{path}", allow_private=self.allow_private)
        try:
            return self.client.get(target.url, params=params, headers={"Host": target.host_header},
                                   extensions=target.extensions)
        except httpx.HTTPError as exc:
            raise FetchFailed(f"HMA at {self.url} did not answer {path}: {exc}") from exc


def import_from_hma(db: Database, principal: Principal, url: str, *, allow_private: bool = False,
                    max_gap: int = MAX_GAP, batch: int = BATCH, skip_invalid: bool = False,
                    client: httpx.Client | None = None,
                    after_batch: Callable[[int], None] | None = None) -> HmaImportReport:
    """Walk the HMA at ``url`` into the caller's tenant (scope bank:write); see the module docstring."""
    principal.require("bank:write")
    base = url.strip().rstrip("/")
    netguard.pin(base, allow_private=allow_private)  # refuse early, before anything is written
    own = client is None
    http = _Hma(base, client or httpx.Client(timeout=30, follow_redirects=False), allow_private)
    try:
        return _walk(db, principal, base, http, max_gap, batch, skip_invalid, after_batch)
    finally:
        if own:
            http.client.close()


def _walk(db: Database, principal: Principal, base: str, http: _Hma, max_gap: int, batch: int,
          skip_invalid: bool, after_batch: Callable[[int], None] | None) -> HmaImportReport:
    report = HmaImportReport()
    listed = http.get("/c/banks")
    if listed.status_code != 200 or not isinstance(listed.json(), list):
        raise FetchFailed(f"HMA at {base} answered GET /c/banks with {listed.status_code}; is it HMA 2.x?")
    report.banks = [b["name"] for b in listed.json() if isinstance(b, dict) and _hma_name(b.get("name"))]
    if not report.banks:
        return report
    key = source_key(base)
    with db.write() as session:
        for bank_json in listed.json():
            if isinstance(bank_json, dict) and bank_json.get("name") in report.banks:
                _ensure_bank(session, principal, bank_json["name"], key, bank_json.get("matching_enabled_ratio", 1))
        runs = _runs(session, principal, report.banks, key)
        report.resumed_from = min(run.lines_done for run in runs)
    probe = report.banks[0]
    pending: list[tuple[str, formats.Record]] = []
    content_id = report.resumed_from
    done_to = last_found = report.resumed_from
    gap = 0

    def flush(checkpoint: int) -> None:
        nonlocal pending
        with db.write() as session:
            by_bank: dict[str, list[formats.Record]] = {}
            for bank_name, record in pending:
                by_bank.setdefault(bank_name, []).append(record)
            for bank_name, records in by_bank.items():
                bank = _ensure_bank(session, principal, bank_name, key, 1)
                applied = apply_records(session, bank, records)
                report.added += applied.added
                report.already_present += applied.present
                report.withdrawn += applied.withdrawn
                report.inactive += applied.inactive
            for run in _runs(session, principal, sorted({*report.banks, *by_bank}), key):
                run.lines_done = max(run.lines_done, checkpoint)
                run.updated_at = utcnow()
        pending = []
        if after_batch:
            after_batch(checkpoint)

    while gap < max_gap:
        content_id += 1
        answer = http.get(f"/c/bank/{probe}/content/{content_id}",
                          {"include_signals": "true", "include_metadata": "true"})
        if answer.status_code == 404:
            gap += 1
            report.missing += 1
            continue
        if answer.status_code != 200:
            raise FetchFailed(f"HMA at {base} answered content {content_id} with {answer.status_code}")
        gap = 0
        last_found = content_id
        report.contents += 1
        obj = answer.json()
        bank_name = (obj.get("bank") or {}).get("name") if isinstance(obj, dict) else None
        problem = None if _hma_name(bank_name) else "no valid bank name"
        records = [] if problem else list(formats.read(io.StringIO(json.dumps(obj)), "hma"))
        for record in records:
            if record.op == "error":
                problem = record.error
            elif record.op in ("add", "inactive"):
                try:
                    canonical(SignalInput(record.signal_type, record.value))
                except NciiShieldError as exc:
                    problem = str(exc)
        if problem:
            if not skip_invalid:
                flush(content_id - 1)
                raise InvalidSignal(f"HMA content {content_id}: {problem} (content before it is imported; "
                                    f"rerun with skip_invalid to go on)")
            report.invalid.append(f"content {content_id}: {problem}")
        else:
            pending.extend((bank_name, r) for r in records if r.op in ("add", "withdraw", "inactive"))
        if report.contents % batch == 0:
            flush(content_id)
            done_to = content_id
    flush(max(last_found, done_to))  # the trailing gap is not checkpointed: new content takes those ids
    report.walked_to = content_id
    return report


def _hma_name(name: object) -> bool:
    return isinstance(name, str) and bool(HMA_BANK_NAME.fullmatch(name))


def _ensure_bank(session, principal: Principal, name: str, key: str, ratio: object):  # noqa: ANN001, ANN202
    """The tenant's bank ``name`` (created, disabled if HMA's ratio is 0) and its import run."""
    bank = session.scalar(select(Bank).where(Bank.tenant_id == principal.tenant_id,
                                                        Bank.name == name))
    if bank is None:
        bank = bank_store.create_bank(session, principal.tenant_id, name,
                                      description="migrated from HMA")
        if ratio == 0:
            bank_store.set_bank(session, bank, enabled=False)
    run = session.scalar(select(ImportRun).where(ImportRun.bank_id == bank.id, ImportRun.source_sha256 == key))
    if run is None:
        session.add(ImportRun(bank_id=bank.id, source_sha256=key, source_name="hma", lines_done=0, finished=False))
        session.flush()
    return bank


def _runs(session, principal: Principal, names: list[str], key: str) -> list[ImportRun]:  # noqa: ANN001
    return list(session.scalars(
        select(ImportRun).join(Bank, Bank.id == ImportRun.bank_id)
        .where(Bank.tenant_id == principal.tenant_id, Bank.name.in_(names),
               ImportRun.source_sha256 == key)))


__all__ = ["HmaImportReport", "import_from_hma", "source_key", "RefusedSource"]
