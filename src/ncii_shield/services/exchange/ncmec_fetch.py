"""A fetcher for NCMEC's hash-sharing API (v2 ``entries``), with a checkpoint that survives crashes.

The requests follow python-threatexchange's client (``threatexchange.exchanges.clients.ncmec.
hash_api``): ``GET {base}/v2/entries?from=...&to=...`` with HTTP basic auth, then the ``paging/next``
path the answer gives (appended to the base URL) until there is none. Each page is a ``queryResult``
of ``images``/``videos`` read by :func:`formats.read` (``ncmec``): md5 and pdq fingerprints are
added, ``deletedImage``/``deletedVideo`` withdraw what that member's entry added.

NCMEC does not return entries in time order, and a ``next`` path is only valid with the ``from`` and
``to`` it was given for (pytx #1744), so the checkpoint keeps the pass's window with the next path;
each page and the checkpoint are written in one transaction. An interrupted pass resumes at the page
after the last one applied; a finished pass starts the next one at its ``to``.
"""

from __future__ import annotations

import io
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timezone

import httpx

from ncii_shield.errors import InvalidRequest, Unavailable
from ncii_shield.services.exchange import formats
from ncii_shield.services.imports import apply_page, valid_signal
from ncii_shield.services.keys import Principal
from ncii_shield.store import banks as bank_store
from ncii_shield.store.database import Database
from ncii_shield.store.models import ExchangeCheckpoint

INDUSTRY = "https://report.cybertip.org/hashsharing"  # pytx's NCMECEnvironment.Industry
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass
class FetchReport:
    pages: int = 0
    added: int = 0
    withdrawn: int = 0
    skipped: int = 0
    checkpoint: dict | None = None


def ncmec_time(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime(DATE_FORMAT)


class NCMECClient:
    """GETs pages of entries; raises Unavailable (unreachable, not 200) or InvalidRequest (not XML)."""

    def __init__(self, base_url: str, *, username: str, password: str, timeout: float = 60) -> None:
        if not username or not password:
            raise InvalidRequest("NCMEC needs a username and a password")
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(timeout=timeout, follow_redirects=False, auth=(username, password))

    def entries(self, *, start: int, end: int, next_path: str = "") -> str:
        if next_path and not next_path.startswith("/"):
            raise InvalidRequest(f"NCMEC sent a next page that is not a path on its server: {next_path[:100]!r}")
        try:
            if next_path:  # as given: its query is only valid as NCMEC wrote it
                response = self.http.get(self.base_url + next_path)
            else:
                response = self.http.get(f"{self.base_url}/v2/entries",
                                         params={"from": ncmec_time(start), "to": ncmec_time(end)})
        except httpx.HTTPError as exc:
            raise Unavailable(f"NCMEC hash-sharing API unreachable: {exc}") from exc
        if response.status_code != 200:
            raise Unavailable(f"NCMEC hash-sharing API answered {response.status_code}: {response.text[:200]}")
        return response.text

    def close(self) -> None:
        self.http.close()


def next_path(page: str) -> str:
    """The ``paging/next`` path of a page ('' on the last page)."""
    try:
        root = ET.fromstring(page)
    except ET.ParseError as exc:
        raise InvalidRequest(f"NCMEC sent a page that is not XML ({exc})") from exc
    for element in root.iter():
        element.tag = element.tag.rsplit("}", 1)[-1]
    return (root.findtext("paging/next") or "").strip()


def fetch(db: Database, principal: Principal, bank_name: str, client: NCMECClient, *, name: str = "ncmec",
          start: int = 0, now: int | None = None, max_pages: int | None = None) -> FetchReport:
    """Fetch every page since the checkpoint (or ``start``, a Unix time, the first time) into
    ``bank_name``; ``max_pages`` stops early (the next call resumes)."""
    principal.require("bank:write")
    report = FetchReport()
    with db.write() as session:
        bank = bank_store.find_bank(session, principal.tenant_id, bank_name)
        row = session.get(ExchangeCheckpoint, name)
        if row is None:
            row = ExchangeCheckpoint(name=name, bank_id=bank.id, records=0, checkpoint={"start": start, "end": None, "next": ""})
            session.add(row)
        elif row.bank_id != bank.id:
            raise InvalidRequest(f"the checkpoint {name!r} belongs to another bank; give another --name")
        checkpoint = dict(row.checkpoint)
    if checkpoint.get("end") is None:  # a new pass: its window stays fixed until its last page
        checkpoint = {"start": int(checkpoint["start"]), "end": int(now or time.time()), "next": ""}
    while max_pages is None or report.pages < max_pages:
        page = client.entries(start=checkpoint["start"], end=checkpoint["end"], next_path=checkpoint["next"])
        following = next_path(page)
        records = list(formats.read(io.StringIO(page), "ncmec"))
        if following:
            checkpoint = {**checkpoint, "next": following}
        else:
            checkpoint = {"start": checkpoint["end"], "end": None, "next": ""}
        applied, skipped = apply_page(db, principal, bank_name, name, records, checkpoint, valid_signal)
        report.added += applied.added
        report.withdrawn += applied.withdrawn
        report.skipped += skipped  # a malformed hash
        report.pages += 1
        report.checkpoint = checkpoint
        if not following:
            break
    return report
