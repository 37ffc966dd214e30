"""A client for a StopNCII-shaped hash API (FetchHashes), with a checkpoint that survives crashes.

The request and response follow the public python-threatexchange client: ``GET {base}/FetchHashes``
with ``startTimestamp``, ``pageSize`` and ``nextPageToken``, headers ``x-functions-key`` and
``Ocp-Apim-Subscription-Key``; the answer holds ``hashRecords`` (``signalType``, ``hashValue``,
``hashStatus``, ``caseNumbers``), ``nextPageToken``, ``hasMoreRecords`` and ``nextSetTimestamp``.

Each page and the checkpoint (the page token while a pass is under way, then ``nextSetTimestamp``
for the next pass) are written in one transaction, so an interrupted sync resumes where it stopped.
Unlike python-threatexchange's adapter, records whose ``hashStatus`` is Withdrawn or Deleted
withdraw the hash.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import httpx

from ncii_shield.errors import InvalidRequest, Unavailable
from ncii_shield.services.exchange import formats
from ncii_shield.services.imports import apply_page, valid_signal
from ncii_shield.services.keys import Principal
from ncii_shield.store import banks as bank_store
from ncii_shield.store.database import Database
from ncii_shield.store.models import ExchangeCheckpoint

DEFAULT_START = 10  # as python-threatexchange's client


@dataclass
class SyncReport:
    pages: int = 0
    added: int = 0
    withdrawn: int = 0
    skipped: int = 0
    checkpoint: dict | None = None


class StopNCIIClient:
    def __init__(self, base_url: str, *, function_key: str, subscription_key: str, timeout: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(timeout=timeout, follow_redirects=False, headers={
            "x-functions-key": function_key, "Ocp-Apim-Subscription-Key": subscription_key})

    def fetch_hashes(self, *, start_timestamp: int, page_size: int = 800, next_page: str = "") -> dict:
        params: dict = {"startTimestamp": start_timestamp, "pageSize": page_size}
        if next_page:
            params["nextPageToken"] = next_page
        try:
            response = self.http.get(f"{self.base_url}/FetchHashes", params=params)
        except httpx.HTTPError as exc:
            raise Unavailable(f"StopNCII API unreachable: {exc}") from exc
        if response.status_code != 200:
            raise Unavailable(f"StopNCII API answered {response.status_code}: {response.text[:200]}")
        try:
            page = response.json()
            if not isinstance(page.get("hashRecords"), list):
                raise ValueError
        except (ValueError, AttributeError) as exc:
            raise InvalidRequest("StopNCII API sent a page without hashRecords") from exc
        return page

    def close(self) -> None:
        self.http.close()


def sync(db: Database, principal: Principal, bank_name: str, client: StopNCIIClient, *, name: str = "stopncii",
         page_size: int = 800, max_pages: int | None = None) -> SyncReport:
    """Fetch every page since the checkpoint into ``bank_name``; returns what was done."""
    principal.require("bank:write")
    report = SyncReport()
    with db.write() as session:
        bank = bank_store.find_bank(session, principal.tenant_id, bank_name)
        row = session.get(ExchangeCheckpoint, name)
        if row is None:
            row = ExchangeCheckpoint(name=name, bank_id=bank.id, records=0,
                                     checkpoint={"start_timestamp": DEFAULT_START, "next_page": ""})
            session.add(row)
        checkpoint = dict(row.checkpoint)
    while max_pages is None or report.pages < max_pages:
        page = client.fetch_hashes(start_timestamp=checkpoint["start_timestamp"], page_size=page_size,
                                   next_page=checkpoint["next_page"])
        records = list(formats.read(io.StringIO(json.dumps(page)), "stopncii"))
        more = bool(page.get("hasMoreRecords"))
        if more:
            checkpoint = {"start_timestamp": checkpoint["start_timestamp"], "next_page": page.get("nextPageToken") or ""}
        else:
            checkpoint = {"start_timestamp": int(page.get("nextSetTimestamp") or checkpoint["start_timestamp"]), "next_page": ""}
        applied, skipped = apply_page(  # VideoTMK, Text, URL records, or a malformed hash are skipped
            db, principal, bank_name, name, records, checkpoint,
            lambda record: record.op in ("add", "withdraw") and valid_signal(record))
        report.added += applied.added
        report.withdrawn += applied.withdrawn
        report.skipped += skipped
        report.pages += 1
        report.checkpoint = checkpoint
        if not more:
            break
    return report
