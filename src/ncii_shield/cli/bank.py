"""``ncii-shield bank``: create and list banks, import hash lists (resumable)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ncii_shield.cli.common import DB_OPTION, JSON_OPTION, TENANT_OPTION, err, fail, print_json
from ncii_shield.errors import NciiShieldError

app = typer.Typer(help="Create and list banks; import hash lists into them.", no_args_is_help=True)


@app.command("create")
def create(name: str, tenant: str = TENANT_OPTION, shared: bool = typer.Option(False, help="Let other tenants match against it."),
           db: str | None = DB_OPTION) -> None:
    """Create a bank.   ncii-shield bank create victims"""
    from ncii_shield.core import Shield

    shield = Shield.open(db, load_index=False)
    try:
        shield.banks.create(shield.local_principal(tenant), name, shared=shared)
    except NciiShieldError as exc:
        fail(exc)
    finally:
        shield.close()
    typer.echo(f"created bank {name!r}")


@app.command("list")
def list_banks(tenant: str = TENANT_OPTION, db: str | None = DB_OPTION, json_output: bool = JSON_OPTION) -> None:
    """List banks with their active signal counts."""
    from ncii_shield.core import Shield

    shield = Shield.open(db, load_index=False)
    views = shield.banks.list(shield.local_principal(tenant))
    shield.close()
    if json_output:
        print_json([vars(v) for v in views])
    else:
        for v in views:
            typer.echo(f"{v.name:30} {v.signals:>10,} signals  {'enabled' if v.enabled else 'DISABLED'}"
                       f"{'  shared' if v.shared else ''}")


@app.command("import")
def import_(
    bank: str = typer.Argument(..., help="Bank to import into (created if missing)."),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    fmt: str = typer.Option("auto", "--format", "-f", help="auto, pytx ('pdq <hex>' lines), csv (pytx dataset), jsonl, plain."),
    signal_type: str | None = typer.Option(None, "--signal-type", help="For --format plain: pdq, md5, sha256 or vpdq."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Report bad lines and go on instead of stopping."),
    tenant: str = TENANT_OPTION,
    db: str | None = DB_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Import a hash list into a bank. Resumable and idempotent.

    Interrupt it at any point (Ctrl-C, a crash, SIGKILL) and run the same command again: it resumes
    after the last committed batch, and the bank ends up exactly as if it had never stopped.

      ncii-shield bank import victims hashes.txt            # 'pdq <hex>' lines (python-threatexchange)

      ncii-shield bank import victims export.csv             # signal_type,signal_str,... CSV

      ncii-shield bank import victims md5s.txt -f plain --signal-type md5
    """
    from ncii_shield.core import Shield
    from ncii_shield.errors import Conflict
    from ncii_shield.services.imports import count_lines, import_file

    shield = Shield.open(db, load_index=False)
    principal = shield.local_principal(tenant)
    try:
        try:
            shield.banks.create(principal, bank)
        except Conflict:
            pass
        total = count_lines(file)
        with Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=err, transient=True, disable=json_output or not err.is_terminal) as progress:
            task = progress.add_task("import", total=total)
            report = import_file(shield.db, principal, bank, file, fmt=fmt, signal_type=signal_type,
                                 skip_invalid=skip_invalid, on_progress=lambda n: progress.update(task, completed=n))
    except NciiShieldError as exc:
        fail(exc)
    finally:
        shield.close()
    if json_output:
        print_json(vars(report))
    else:
        typer.echo(f"{report.added:,} added, {report.already_present:,} already present, "
                   f"{report.skipped_from_checkpoint:,} lines done by an earlier run, {len(report.invalid):,} invalid")
        for line in report.invalid[:20]:
            err.print(f"  [yellow]{line}[/yellow]")
    if report.invalid:
        raise typer.Exit(1)
