"""``ncii-shield monitor``: recurring scans of sources that grow (URL lists, folders, crawls)."""

from __future__ import annotations

from pathlib import Path

import typer

from ncii_shield.cli.common import DATA_DIR_OPTION, DB_OPTION, JSON_OPTION, TENANT_OPTION, err, fail, print_json
from ncii_shield.errors import NciiShieldError

app = typer.Typer(help="Scan a source again and again (new items only) and keep counts over time.",
                  no_args_is_help=True)


@app.command("add")
def add(
    source: str = typer.Argument(..., help="A URL list, folder, WARC file or archive (re-read at every run)."),
    every: str = typer.Option("1h", "--every", help="How often: 30m, 1h, 1d ... (at least 60 s)."),
    bank: list[str] = typer.Option([], "--bank", "-b", help="Bank to match against (repeat). Default: all visible."),
    allow_loopback: bool = typer.Option(False, "--allow-loopback", help="URL lists: fetch from 127.0.0.1 (dev/tests)."),
    explicit: bool = typer.Option(False, "--explicit", help="The source holds sexual content (an adult site's "
                                  "uploads): enrolled people's faces are searched in it too (likeness protection)."),
    tenant: str = TENANT_OPTION,
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Register a recurring scan. `ncii-shield serve` runs it when due, or run `monitor run-due` from cron.

      ncii-shield monitor add channel-urls.txt --every 1h --bank victims

      ncii-shield monitor add /srv/uploads --every 30m

      ncii-shield monitor add /srv/adult-uploads --every 1h --explicit    # also search enrolled faces
    """
    from ncii_shield.core import Shield
    from ncii_shield.services.scanning.monitors import MonitorService

    shield = Shield.open(db, load_index=False)
    try:
        view = MonitorService(shield.db).add(shield.local_principal(tenant), source, every=every, banks=bank,
                                             allow_loopback=allow_loopback, explicit=explicit)
    except NciiShieldError as exc:
        fail(exc)
    finally:
        shield.close()
    if json_output:
        print_json(view.to_json())
    else:
        typer.echo(f"monitor {view.id}: {view.source} every {view.every_seconds} s; first run now (when due)")


@app.command("list")
def list_(tenant: str = TENANT_OPTION, db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION, json_output: bool = JSON_OPTION) -> None:
    """List monitors with their totals (runs, items scanned, matches, derivatives)."""
    from ncii_shield.core import Shield
    from ncii_shield.services.scanning.monitors import MonitorService

    shield = Shield.open(db, load_index=False)
    try:
        views = MonitorService(shield.db).list(shield.local_principal(tenant))
    finally:
        shield.close()
    if json_output:
        print_json([v.to_json() for v in views])
        return
    for v in views:
        typer.echo(f"{v.id:>4}  {v.source}  every {v.every_seconds}s  runs {v.runs}  scanned {v.items_scanned:,}  "
                   f"matches {v.matches:,}  derivatives {v.derivatives:,}  next {v.next_run_at:%Y-%m-%d %H:%M} UTC"
                   + (f"  last error: {v.last_error}" if v.last_error else ""))


@app.command("remove")
def remove(monitor_id: int, tenant: str = TENANT_OPTION, db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION) -> None:
    """Remove a monitor, its history and the list of items it has seen."""
    from ncii_shield.core import Shield
    from ncii_shield.services.scanning.monitors import MonitorService

    shield = Shield.open(db, load_index=False)
    try:
        MonitorService(shield.db).remove(shield.local_principal(tenant), monitor_id)
    except NciiShieldError as exc:
        fail(exc)
    finally:
        shield.close()
    typer.echo(f"removed monitor {monitor_id}")


@app.command("run-due")
def run_due(
    all_: bool = typer.Option(False, "--all", help="Run every monitor now, due or not."),
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Run the monitors that are due (every tenant's), once. For cron, or instead of `serve`'s thread.

    Exit status: 0 nothing new matched, 3 new matches, 1 a monitor failed.
    """
    from ncii_shield.core import Shield
    from ncii_shield.services.scanning.monitors import MonitorService
    from ncii_shield.services.scanning.scanner import Scanner

    shield = Shield.open(db)
    try:
        reports = MonitorService(shield.db).run_due(lambda settings: Scanner(settings, shield.uploads), force=all_)
    finally:
        shield.close()
    for r in reports:
        if json_output:
            print_json(vars(r))
        else:
            typer.echo(f"monitor {r.monitor_id}: {r.items_seen:,} items, {r.new_items:,} new, {r.matches:,} matches, "
                       f"{r.derivatives:,} derivatives, {r.errors:,} errors" + (f"; FAILED: {r.error}" if r.error else ""))
    if not reports and not json_output:
        err.print("no monitor is due")
    if any(r.error for r in reports):
        raise typer.Exit(1)
    if any(r.matches or r.derivatives for r in reports):
        raise typer.Exit(3)
