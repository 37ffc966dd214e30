"""``ncii-shield bank``: create and list banks, import hash lists (resumable)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ncii_shield.cli.common import DATA_DIR_OPTION, DB_OPTION, JSON_OPTION, TENANT_OPTION, err, fail, print_json
from ncii_shield.errors import NciiShieldError, RefusedSource

app = typer.Typer(help="Create and list banks; import hash lists into them.", no_args_is_help=True)


@app.command("create")
def create(name: str, tenant: str = TENANT_OPTION, shared: bool = typer.Option(False, help="Let other tenants match against it."),
           db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION) -> None:
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
def list_banks(tenant: str = TENANT_OPTION, db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION, json_output: bool = JSON_OPTION) -> None:
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
    bank: str | None = typer.Argument(None, help="Bank to import into (created if missing).", show_default=False),
    file: Path | None = typer.Argument(None, exists=True, dir_okay=False, readable=True, show_default=False),
    fmt: str = typer.Option("auto", "--format", "-f", help="auto, pytx ('pdq <hex>' lines), pytx-csv, jsonl, hma, stopncii, ncmec, plain."),
    signal_type: str | None = typer.Option(None, "--signal-type", help="For --format plain: pdq, md5, sha256, vpdq, or an indicator type (url, url_md5, domain, telegram, app_id)."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Report bad lines and go on instead of stopping."),
    from_hma: str | None = typer.Option(
        None, "--from-hma", metavar="URL", show_default=False,
        help="Instead of BANK FILE: migrate every bank of the running HMA 2.x at URL (each into the bank of "
             "the same name; resumable)."),
    allow_private_address: bool = typer.Option(
        False, "--allow-private-address",
        help="With --from-hma: allow an HMA on a loopback or private address (link-local never)."),
    max_gap: int = typer.Option(
        1_000, "--max-gap", min=1,
        help="With --from-hma: stop after this many content ids in a row are not found (HMA leaves a gap where "
             "content was deleted)."),
    tenant: str = TENANT_OPTION,
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Import a hash list into a bank, or migrate a running HMA. Resumable and idempotent.

    Interrupt it at any point (Ctrl-C, a crash, SIGKILL) and run the same command again: it resumes
    after the last committed batch, and the bank ends up exactly as if it had never stopped.

      ncii-shield bank import victims hashes.txt            # 'pdq <hex>' lines (python-threatexchange)

      ncii-shield bank import victims export.csv             # signal_type,signal_str,... CSV

      ncii-shield bank import victims md5s.txt -f plain --signal-type md5

      ncii-shield bank import nudify-services domains.txt -f plain --signal-type domain   # service indicators

      ncii-shield bank import victims stopncii-page.json -f stopncii   # Withdrawn/Deleted records withdraw

      ncii-shield bank import victims hma-content.jsonl -f hma   # HMA signals or content; disabled stays inactive

      ncii-shield bank import --from-hma http://hma.internal:5100 --allow-private-address   # all HMA's banks

    Signal type names: ours (pdq, md5, sha256, vpdq; url, url_md5, domain, telegram, app_id) or
    python-threatexchange's and HMA's (video_md5, video_sha256). See docs/interop.md.
    """
    from ncii_shield.core import Shield
    from ncii_shield.services.imports import count_lines, import_file

    if from_hma is not None:
        if bank is not None or file is not None:
            fail("give either BANK FILE or --from-hma URL, not both (HMA's banks keep their own names)", code=2)
        _import_from_hma(from_hma, allow_private_address, max_gap, skip_invalid, tenant, db, json_output)
        return
    if bank is None or file is None:
        fail("give BANK FILE, or --from-hma URL", code=2)
    if allow_private_address:
        fail("--allow-private-address goes with --from-hma", code=2)
    shield = Shield.open(db, load_index=False)
    principal = shield.local_principal(tenant)
    try:
        shield.banks.ensure(principal, bank)
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
        typer.echo(f"{report.added:,} added, {report.already_present:,} already present, {report.withdrawn:,} withdrawn, "
                   f"{report.inactive:,} kept inactive (not to match: disabled, deleted, negative or disputed), "
                   f"{report.skipped_from_checkpoint:,} lines done by an earlier run, {len(report.invalid):,} invalid")
        for line in report.invalid[:20]:
            err.print(f"  [yellow]{line}[/yellow]")
    if report.invalid:
        raise typer.Exit(1)


def _import_from_hma(url: str, allow_private: bool, max_gap: int, skip_invalid: bool, tenant: str,
                     db: str | None, json_output: bool) -> None:
    """``bank import --from-hma``: walk the HMA (services/exchange/hma_import.py) and print its report."""
    from rich.progress import SpinnerColumn
    from rich.table import Table

    from ncii_shield.core import Shield
    from ncii_shield.services.exchange.hma_import import import_from_hma

    shield = Shield.open(db, load_index=False)
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=err, transient=True,
                      disable=json_output or not err.is_terminal) as progress:
            task = progress.add_task(f"walking HMA content at {url}")
            report = import_from_hma(
                shield.db, shield.local_principal(tenant), url, allow_private=allow_private, max_gap=max_gap,
                skip_invalid=skip_invalid,
                after_batch=lambda n: progress.update(task, description=f"HMA content ids up to {n:,} imported"))
    except RefusedSource as exc:
        fail(f"{exc}" + ("" if allow_private else " (an HMA on your own network: add --allow-private-address)"))
    except NciiShieldError as exc:
        fail(exc)
    finally:
        shield.close()
    if json_output:
        print_json(vars(report))
    else:
        table = Table(title=f"HMA at {url}", show_header=False)
        for label, value in (
                ("banks", ", ".join(report.banks) or "(none)"),
                ("content ids done by an earlier run", f"{report.resumed_from:,}"),
                ("content ids walked to", f"{report.walked_to:,}"),
                ("contents read", f"{report.contents:,}"),
                ("ids not found (deleted, or past the end)", f"{report.missing:,}"),
                ("signals added", f"{report.added:,}"),
                ("already present", f"{report.already_present:,}"),
                ("kept inactive (disabled in HMA)", f"{report.inactive:,}"),
                ("withdrawn", f"{report.withdrawn:,}"),
                ("invalid contents", f"{len(report.invalid):,}")):
            table.add_row(label, value)
        Console().print(table)
        for line in report.invalid[:20]:
            err.print(f"  [yellow]{line}[/yellow]")
    if report.invalid:
        raise typer.Exit(1)


@app.command("export")
def export(
    bank: str,
    fmt: str = typer.Option("jsonl", "--format", "-f", help="pytx, pytx-csv, jsonl, hma, stopncii, ncmec."),
    output: Path | None = typer.Option(None, "--output", "-o", help="File to write (default: standard output)."),
    tenant: str = TENANT_OPTION,
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """Export a bank in one of the field's formats (withdrawn signals too, where the format has withdrawals).

      ncii-shield bank export victims -f pytx > victims.txt        # python-threatexchange local file

      ncii-shield bank export victims -f hma -o victims.hma.jsonl  # bodies for HMA's POST /c/bank/<BANK>/signal

      ncii-shield bank export victims -f stopncii -o records.json

    How to load each into python-threatexchange or HMA: docs/interop.md.
    """
    from sqlalchemy import select

    from ncii_shield.core import Shield
    from ncii_shield.services.exchange import formats
    from ncii_shield.store import banks as bank_store
    from ncii_shield.store.models import Signal

    shield = Shield.open(db, load_index=False)
    try:
        with shield.db.read() as session:
            bank_row = bank_store.find_bank(session, shield.local_principal(tenant).tenant_id, bank)
            rows = [formats.ExportSignal(s.id, s.signal_type, s.value, s.meta, s.withdrawn_at is not None,
                                         s.withdrawn_at or s.created_at)
                    for s in session.scalars(select(Signal).where(Signal.bank_id == bank_row.id).order_by(Signal.id))]
        written = formats.export(rows, fmt)
    except NciiShieldError as exc:
        fail(exc)
    finally:
        shield.close()
    left_out = [f"{n:,} {why}" for n, why in (
        (written.withdrawn_omitted, f"withdrawn (the {fmt} format has no withdrawals)"),
        (written.unsupported, f"of a signal type the {fmt} format has no name for")) if n]
    if output:
        output.write_text(written.text)
        err.print(f"wrote {written.entries:,} signals to {output}"
                  + (f"; left out {', '.join(left_out)}" if left_out else ""))
        if fmt == "hma":
            err.print(f"load it into HMA's bank {formats.hma_bank_name(bank)} as docs/interop.md shows")
    else:
        typer.echo(written.text, nl=False)


@app.command("trust")
def trust(name: str, kind: str | None = typer.Option(None, help="block (victims' hashes) or allow (known benign)"),
          trust_level: str | None = typer.Option(None, "--trust", help="trusted, partner, unverified or anonymous"),
          policy: str | None = typer.Option(None, help="act, review or observe"), tenant: str = TENANT_OPTION,
          db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION, json_output: bool = JSON_OPTION) -> None:
    """Set a bank's kind, source trust and policy (docs/trust.md).   ncii-shield bank trust partner --trust partner --policy act"""
    from ncii_shield.core import Shield
    from ncii_shield.services.signal_controls import SignalControls

    shield = Shield.open(db, load_index=False)
    try:
        out = SignalControls(shield.db).set_bank(shield.local_principal(tenant), name, kind=kind, trust=trust_level,
                                                  policy=policy)
    except NciiShieldError as exc:
        fail(exc)
    finally:
        shield.close()
    if json_output:
        print_json(out)
    else:
        typer.echo(f"bank {out['name']!r}: kind {out['kind']}, trust {out['trust']}, policy {out['policy']}")


@app.command("release")
def release(signal_id: int = typer.Argument(..., help="the quarantined signal's id"),
            db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION) -> None:
    """Lift a signal's quarantine (instance-wide; the operator's call, recorded in the audit log)."""
    import getpass

    from ncii_shield.core import Shield
    from ncii_shield.services.signal_controls import SignalControls

    shield = Shield.open(db, load_index=False)
    try:
        released = SignalControls(shield.db).release(signal_id, actor=f"operator:{getpass.getuser()}"[:100])
    finally:
        shield.close()
    if not released:
        err(f"signal {signal_id} is not quarantined")
        raise typer.Exit(1)
    typer.echo(f"signal {signal_id} released from quarantine")
