"""Monitors: a source (URL list, folder, crawl or archive that grows) scanned again and again.

    monitors = MonitorService(db)
    monitors.add(principal, "feeds/channel-urls.txt", every="1h", banks=["victims"])
    monitors.run_due(scanner_for)       # from `ncii-shield monitor run-due`, or serve's thread

Each run lists the source's items, scans only those whose key it has not seen (the SHA-256 of each
key seen is kept in ``monitor_items``), and records one ``monitor_runs`` row: items seen, new items,
matches, derivatives, errors. That table is the per-source time series of the dashboard and
/metrics. Items and the run's counters are committed together in batches, so a crash mid-run loses
nothing and counts nothing twice: the next run scans exactly the items whose results were not
committed. Several processes may call :meth:`run_due` at once: a monitor is claimed by moving its
``next_run_at`` with a compare-and-set, so only one of them runs it.

A source URL that carries credentials (``user:password@``, a query string with a token) is sealed at
rest like personal data (:mod:`ncii_shield.services.sealing`); a row written in clear by an older
version is read as it is and sealed at its next run.

Matches and derivative flags go to :attr:`MonitorService.on_match` (``(tenant id, monitor id,
result) -> None``); ``ncii-shield serve`` puts them in the review queue there.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update

from ncii_shield.errors import InvalidRequest, NciiShieldError, NotFound
from ncii_shield.services.keys import Principal
from ncii_shield.services.scanning.items import SourceLimits
from ncii_shield.services.scanning.opening import open_source
from ncii_shield.services.scanning.scanner import ScanSettings, Scanner
from ncii_shield.services.sealing import is_sealed, seal, unseal
from ncii_shield.store.database import Database
from ncii_shield.store.models import Bank, Monitor, MonitorItem, MonitorRun

log = logging.getLogger("ncii_shield.monitors")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_BATCH = 50
MIN_EVERY = 60


def parse_every(text: str) -> int:
    """``90s``, ``15m``, ``1h``, ``2d`` -> seconds (at least a minute)."""
    found = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text or "")
    if not found:
        raise InvalidRequest(f"--every {text!r} is not a period; accepted: a number and s, m, h or d (e.g. 1h, 30m)")
    seconds = int(found.group(1)) * _UNITS[found.group(2)]
    if seconds < MIN_EVERY:
        raise InvalidRequest(f"--every {text} is too often; at least {MIN_EVERY} s between runs")
    return seconds


@dataclass(frozen=True)
class MonitorView:
    id: int
    source: str
    every_seconds: int
    banks: list[str]
    next_run_at: datetime
    last_run_at: datetime | None
    last_error: str | None
    runs: int
    items_scanned: int
    matches: int
    derivatives: int
    explicit: bool = False  # the source holds sexual content: enrolled faces are searched (likeness)

    def to_json(self) -> dict:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in vars(self).items()}


@dataclass(frozen=True)
class RunReport:
    monitor_id: int
    items_seen: int
    new_items: int
    matches: int
    derivatives: int
    errors: int
    error: str | None = None


class MonitorService:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.on_match: Callable[[int, int, dict], None] | None = None  # the review queue's hook

    # -- registry ------------------------------------------------------------------------------

    def add(self, principal: Principal, source: str, *, every: str, banks: list[str] | None = None,
            allow_loopback: bool = False, explicit: bool = False) -> MonitorView:
        """Register a recurring scan of ``source``. ``explicit``: the source holds sexual content (an
        adult site's uploads), so the likeness detector searches enrolled faces in it too."""
        principal.require("bank:write")
        import os

        seconds = parse_every(every)
        open_source(source, 0)  # refuse now what could never be read
        if not source.lower().startswith(("http://", "https://")):
            source = os.path.abspath(source)  # runs happen elsewhere (serve's thread, cron)
        with self.db.write() as session:
            known = set(session.scalars(select(Bank.name).where(Bank.tenant_id == principal.tenant_id)))
            missing = [b for b in banks or [] if b not in known]
            if missing:
                raise NotFound(f"no bank called {', '.join(map(repr, missing))}; banks: {', '.join(sorted(known))}")
            # sealed sources differ at every encryption: compare what they hold (a tenant has few monitors)
            stored = session.scalars(select(Monitor.source).where(Monitor.tenant_id == principal.tenant_id))
            if any(unseal(s) == source for s in stored):
                raise InvalidRequest(f"{redact_secrets(source)} is already monitored; remove it first to change it")
            row = Monitor(tenant_id=principal.tenant_id, source=_at_rest(source), every_seconds=seconds,
                          banks=list(banks or []),
                          options={"allow_loopback": allow_loopback, "explicit": explicit},
                          next_run_at=datetime.now(UTC))
            session.add(row)
            session.flush()
            monitor_id = row.id
        return self.get(principal, monitor_id)

    def remove(self, principal: Principal, monitor_id: int) -> None:
        principal.require("bank:write")
        with self.db.write() as session:
            row = session.get(Monitor, monitor_id)
            if row is None or row.tenant_id != principal.tenant_id:
                raise NotFound(f"no monitor {monitor_id}; `ncii-shield monitor list` shows them")
            session.execute(delete(MonitorItem).where(MonitorItem.monitor_id == monitor_id))
            session.execute(delete(MonitorRun).where(MonitorRun.monitor_id == monitor_id))
            session.delete(row)

    def list(self, principal: Principal) -> list[MonitorView]:
        """The tenant's monitors with their totals; a key that matches or reviews may read them. A
        reviewer (a person, not the platform's system) sees sources and errors without the secrets a
        feed address may carry (``user:password@``, the query string)."""
        _require_reader(principal)
        views = self._list(principal)
        if principal.allows("match"):
            return views
        return [replace(v, source=redact_secrets(v.source),
                        last_error=redact_secrets(v.last_error) if v.last_error else None) for v in views]

    def _list(self, principal: Principal) -> list[MonitorView]:
        with self.db.read() as session:
            rows = session.scalars(select(Monitor).where(Monitor.tenant_id == principal.tenant_id).order_by(Monitor.id))
            totals = {r[0]: r[1:] for r in session.execute(  # this tenant's runs only
                select(MonitorRun.monitor_id, func.count(), func.coalesce(func.sum(MonitorRun.new_items), 0),
                       func.coalesce(func.sum(MonitorRun.matches), 0), func.coalesce(func.sum(MonitorRun.derivatives), 0))
                .join(Monitor, Monitor.id == MonitorRun.monitor_id).where(Monitor.tenant_id == principal.tenant_id)
                .group_by(MonitorRun.monitor_id))}
            return [MonitorView(m.id, unseal(m.source), m.every_seconds, list(m.banks), _utc(m.next_run_at),
                                _utc(m.last_run_at), m.last_error, *[int(x) for x in totals.get(m.id, (0, 0, 0, 0))],
                                explicit=bool((m.options or {}).get("explicit")))
                    for m in rows]

    def get(self, principal: Principal, monitor_id: int) -> MonitorView:
        for view in self.list(principal):
            if view.id == monitor_id:
                return view
        raise NotFound(f"no monitor {monitor_id}")

    def series(self, principal: Principal, monitor_id: int, limit: int = 500) -> list[dict]:
        """The monitor's runs, oldest first (at most ``limit``, the latest)."""
        _require_reader(principal)
        if not 0 < monitor_id < 2**31:  # no such id (and no integer a database would refuse)
            raise NotFound(f"no monitor {monitor_id}")
        with self.db.read() as session:
            if session.scalar(select(Monitor.id).where(Monitor.id == monitor_id,
                                                       Monitor.tenant_id == principal.tenant_id)) is None:
                raise NotFound(f"no monitor {monitor_id}")
            rows = list(session.scalars(select(MonitorRun).where(MonitorRun.monitor_id == monitor_id)
                                        .order_by(MonitorRun.started_at.desc(), MonitorRun.id.desc()).limit(limit)))
        return [{"started_at": _utc(r.started_at).isoformat(), "items_seen": r.items_seen, "new_items": r.new_items,
                 "matches": r.matches, "derivatives": r.derivatives, "errors": r.errors, "error": r.error}
                for r in reversed(rows)]

    # -- running -------------------------------------------------------------------------------

    def run_due(self, scanner_for: Callable[[ScanSettings], Scanner], *, now: datetime | None = None,
                force: bool = False) -> list[RunReport]:
        """Run every monitor whose time has come (all of them with ``force``) that this process claims."""
        now = now or datetime.now(UTC)
        with self.db.read() as session:
            query = select(Monitor.id, Monitor.next_run_at)
            if not force:
                query = query.where(Monitor.next_run_at <= now)
            due = list(session.execute(query.order_by(Monitor.next_run_at, Monitor.id)))
        reports = []
        for monitor_id, next_run_at in due:
            if self._claim(monitor_id, next_run_at, now):
                reports.append(self.run(monitor_id, scanner_for))
        return reports

    def _claim(self, monitor_id: int, seen_next: datetime, now: datetime) -> bool:
        with self.db.write() as session:
            every = session.scalar(select(Monitor.every_seconds).where(Monitor.id == monitor_id))
            if every is None:
                return False
            moved = session.execute(update(Monitor).where(Monitor.id == monitor_id, Monitor.next_run_at == seen_next)
                                    .values(next_run_at=now + timedelta(seconds=every)))
            return moved.rowcount == 1

    def run(self, monitor_id: int, scanner_for: Callable[[ScanSettings], Scanner]) -> RunReport:
        with self.db.write() as session:
            monitor = session.get(Monitor, monitor_id)
            if monitor is None:
                raise NotFound(f"no monitor {monitor_id}")
            run = MonitorRun(monitor_id=monitor_id, started_at=datetime.now(UTC), items_seen=0, new_items=0,
                             matches=0, derivatives=0, errors=0)
            session.add(run)
            session.flush()
            run_id, stored, banks, options, tenant_id = run.id, monitor.source, monitor.banks, monitor.options, monitor.tenant_id
            source = unseal(stored)
            seen = set(session.scalars(select(MonitorItem.key_digest).where(MonitorItem.monitor_id == monitor_id)))
        principal = Principal(key_id=0, key_prefix="monitor", tenant_id=tenant_id, scopes=frozenset({"match"}))
        limits = SourceLimits(allow_loopback=bool((options or {}).get("allow_loopback")))
        settings = ScanSettings(db_url=self.db.url, principal=principal, banks=tuple(banks or ()), limits=limits,
                                explicit=bool((options or {}).get("explicit")))
        counts = {"items_seen": 0, "new_items": 0, "matches": 0, "derivatives": 0, "errors": 0}
        error = None
        try:
            source_obj = open_source(source, 0, limits)
            scanner = scanner_for(settings)
            pending: list[tuple[str, dict]] = []
            for shard in source_obj.shards():
                for item in shard.items():
                    counts["items_seen"] += 1
                    digest = hashlib.sha256(item.key.encode()).hexdigest()
                    if digest in seen:
                        continue
                    seen.add(digest)
                    pending.append((digest, scanner.scan(item)))
                    if len(pending) >= _BATCH:
                        self._commit(tenant_id, monitor_id, run_id, pending, counts)
                        pending = []
            self._commit(tenant_id, monitor_id, run_id, pending, counts)
        except NciiShieldError as exc:
            error = str(exc)
        except Exception as exc:  # a monitor must not take its runner down
            log.exception("monitor run failed", extra={"monitor": monitor_id})
            error = f"{type(exc).__name__}: {exc}"
        if error:  # an error may quote a URL (a redirect's, a refused one's): never its credentials
            error = redact_secrets(error)
        with self.db.write() as session:
            finished = datetime.now(UTC)
            session.execute(update(MonitorRun).where(MonitorRun.id == run_id)
                            .values(finished_at=finished, items_seen=counts["items_seen"], error=error))
            values = {"last_run_at": finished, "last_error": error}
            if has_secrets(source) and not is_sealed(stored):
                values["source"] = seal(source)  # written in clear by an older version: seal it now
            session.execute(update(Monitor).where(Monitor.id == monitor_id).values(**values))
        return RunReport(monitor_id, error=error, **counts)

    def _commit(self, tenant_id: int, monitor_id: int, run_id: int, pending: list[tuple[str, dict]],
                counts: dict) -> None:
        if not pending:
            return
        matched = [r for _, r in pending if r["status"] in ("exact", "near", "flagged")]
        derivative = [r for _, r in pending if r["status"] == "derivative"]
        counts["new_items"] += len(pending)
        counts["matches"] += len(matched)
        counts["derivatives"] += len(derivative)
        counts["errors"] += sum(r["status"] == "error" for _, r in pending)
        with self.db.write() as session:  # the items and the counters that include them, together
            session.add_all([MonitorItem(monitor_id=monitor_id, key_digest=d, status=r["status"]) for d, r in pending])
            session.execute(update(MonitorRun).where(MonitorRun.id == run_id).values(
                new_items=counts["new_items"], matches=counts["matches"], derivatives=counts["derivatives"],
                errors=counts["errors"], items_seen=counts["items_seen"]))
        if self.on_match:
            for result in matched + derivative:
                try:
                    self.on_match(tenant_id, monitor_id, result)
                except Exception:
                    log.exception("monitor match hook failed", extra={"monitor": monitor_id})


class MonitorRunner:
    """A background thread that runs due monitors every ``interval`` seconds (``ncii-shield serve``)."""

    def __init__(self, service: MonitorService, scanner_for: Callable[[ScanSettings], Scanner],
                 interval: float = 30.0) -> None:
        import threading

        self.service, self.scanner_for, self.interval = service, scanner_for, interval
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="monitor-runner", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.runs += len(self.service.run_due(self.scanner_for))
            except Exception:  # the database may be away; try again next time
                log.warning("monitor runner could not run due monitors", exc_info=True)
            self._stop.wait(self.interval)


def totals(db: Database) -> list[tuple[int, str, int, int, int, int, int, float]]:
    """Per monitor, for /metrics: (id, source without its credentials, runs, items seen in the last run,
    new items, matches, derivatives, last run as a UNIX time); every tenant."""
    with db.read() as session:
        monitors = {m.id: m for m in session.scalars(select(Monitor))}
        sums = {r[0]: r[1:] for r in session.execute(
            select(MonitorRun.monitor_id, func.count(), func.coalesce(func.sum(MonitorRun.new_items), 0),
                   func.coalesce(func.sum(MonitorRun.matches), 0), func.coalesce(func.sum(MonitorRun.derivatives), 0),
                   func.coalesce(func.sum(MonitorRun.errors), 0))
            .group_by(MonitorRun.monitor_id))}
        last_seen = dict(session.execute(
            select(MonitorRun.monitor_id, MonitorRun.items_seen).where(MonitorRun.id.in_(
                select(func.max(MonitorRun.id)).group_by(MonitorRun.monitor_id)))).all())
    out = []
    for monitor_id, m in monitors.items():
        runs, new, matches, derivatives, errors = (int(x) for x in sums.get(monitor_id, (0, 0, 0, 0, 0)))
        last = _utc(m.last_run_at).timestamp() if m.last_run_at else 0.0
        out.append((monitor_id, redact_secrets(unseal(m.source)), runs, int(last_seen.get(monitor_id, 0)), new, matches,
                    derivatives, errors, last))
    return out


def _require_reader(principal: Principal) -> None:
    """Monitors are read by the platform's match keys and by reviewers."""
    if not principal.allows("reviewer"):
        principal.require("match")


def has_secrets(source: str) -> bool:
    """Whether a source URL carries credentials: ``user:password@`` or a query string (tokens)."""
    return source.lower().startswith(("http://", "https://")) and redact_secrets(source) != source


def _at_rest(source: str) -> str:
    """What the database keeps: the source sealed when it carries credentials, else as it is."""
    return seal(source) if has_secrets(source) else source


def redact_secrets(text: str) -> str:
    """``text`` with URL credentials and query strings replaced by ``***``."""
    text = re.sub(r"(\w+://)[^/\s@]+@", r"\1***@", text)
    return re.sub(r"(\w+://[^\s?#]*)\?[^\s#]*", r"\1?***", text)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
