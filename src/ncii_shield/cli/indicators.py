"""``ncii-shield indicators``: bank service indicators and check URL or customer lists against them."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ncii_shield.cli.common import (
    DATA_DIR_OPTION,
    DB_OPTION,
    JSON_OPTION,
    TENANT_OPTION,
    err,
    fail,
    print_json,
)
from ncii_shield.errors import NciiShieldError

app = typer.Typer(help="Service indicators (URLs, domains, Telegram names, app ids): add them to banks, "
                       "check URL or customer lists against them.", no_args_is_help=True)

_TYPES = "url, url_md5, domain, telegram, app_id"


@app.command("add")
def add(
    bank: str = typer.Argument(..., help="Bank to add to (created if missing).", show_default=False),
    values: list[str] = typer.Argument(..., help="Indicators: URLs, domains, @names, app ids.", show_default=False),
    signal_type: str = typer.Option(..., "--type", "-t", help=f"Their signal type: {_TYPES}."),
    label: str | None = typer.Option(None, "--label", help="What they are, e.g. the service's name (kept as "
                                     "the entry's metadata; shown to keys with bank:read)."),
    tenant: str = TENANT_OPTION,
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Add indicators to a bank (idempotent). Lists of them come in with `ncii-shield bank import`
    (lines `domain nudify.example`, `url https://...`: python-threatexchange's local-file shape).

      ncii-shield indicators add nudify-services --type domain nudify.example undress.example --label "Nudify"

      ncii-shield indicators add nudify-services --type telegram @NudifyExampleBot
    """
    from ncii_shield.core import Shield
    from ncii_shield.services.banks import SignalInput
    from ncii_shield.services.indicators import TYPES

    if signal_type not in TYPES:
        fail(f"unknown indicator type {signal_type!r}; accepted: {_TYPES}", 2)
    shield = Shield.open(db, load_index=False)
    try:
        principal = shield.local_principal(tenant)
        shield.banks.ensure(principal, bank)
        metadata = {"label": label} if label else None
        added = shield.banks.add(principal, bank, [SignalInput(signal_type, v, metadata) for v in values])
    except NciiShieldError as exc:
        fail(exc)
    finally:
        shield.close()
    for value, signal in zip(values, added):
        if json_output:
            print_json({"input": value, "id": signal.id, "signal_type": signal.signal_type, "value": signal.value,
                        "created": signal.created})
        else:
            typer.echo(f"{signal.signal_type} {signal.value}: id {signal.id}" + ("" if signal.created else " (already there)"))


@app.command("check")
def check(
    file: str = typer.Argument(..., help="Text file, one indicator per line ('-': standard input).",
                               show_default=False),
    as_type: str | None = typer.Option(None, "--as", help=f"Read every line as this type ({_TYPES}); "
                                       "default: told apart line by line."),
    column: int | None = typer.Option(None, "--column", "-c", min=1, help="The file is CSV (a customer list): "
                                      "read this column (1 = the first) of each row."),
    bank: list[str] = typer.Option([], "--bank", "-b", help="Bank to match against (repeat for more). Default: "
                                   "every bank the tenant can see."),
    tenant: str = TENANT_OPTION,
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    json_output: bool = typer.Option(False, "--json", help="One JSON object per line of input (matches, "
                                     "no_match, error), instead of a table of the matches."),
) -> None:
    """Check a URL list or a customer list (domains, @telegram names, app ids) against the banks'
    service indicators. Each line is one indicator; blank lines and '#' comments are skipped.

    A URL matches an entry by its url or url_md5 (python-threatexchange's normalisation: lower case, no
    scheme; also without its #fragment and with its trailing '/' toggled), by its host's domain or any
    parent domain (cdn.nudify.example matches nudify.example; other.example does not), by the Telegram
    name of a t.me link, and by the app of a Google Play or App Store link. A line 'TYPE VALUE' is
    looked up as that type only.

      ncii-shield indicators check crawl-urls.txt --json > hits.jsonl

      ncii-shield indicators check customers.txt --bank nudify-services

      ncii-shield indicators check customers.csv --column 2        # id,domain,plan rows

      ncii-shield indicators check listings.txt --as app_id

    Exit status: 0 no match, 3 at least one match, 1 the check could not run.
    """
    from ncii_shield.core import Shield
    from ncii_shield.services.indicators import TYPES, IndicatorService, read_lines
    from ncii_shield.services.uploads.detectors import Scope

    if as_type is not None and as_type not in TYPES:
        fail(f"unknown indicator type {as_type!r}; accepted: {_TYPES}", 2)
    try:
        handle = sys.stdin if file == "-" else open(file, encoding="utf-8", errors="replace", newline=None)
    except OSError as exc:
        fail(f"{file}: {exc.strerror or exc}", 1)
    total = None if file == "-" else _count_lines(Path(file))
    shield = Shield.open(db)
    counts = {"match": 0, "no_match": 0, "error": 0}
    try:
        principal = shield.local_principal(tenant, ("match", "bank:read"))
        service = IndicatorService(shield.follower, shield.db)
        scope = Scope(principal, shield.follower, banks=frozenset(bank))
        visible = service.visible_banks(Scope(principal, shield.follower))
        missing = [b for b in bank if b not in visible]
        if missing:
            fail(f"no bank called {', '.join(map(repr, missing))} for tenant {tenant!r}; banks: "
                 f"{', '.join(visible) or 'none yet (ncii-shield indicators add BANK ...)'}", 1)
        columns = (TextColumn("checking"), BarColumn(), MofNCompleteColumn(), TextColumn("lines"),
                   TimeRemainingColumn(), TextColumn("{task.fields[matches]} matched"))
        rows = []
        with Progress(*columns, console=err, disable=not err.is_terminal) as progress:
            task = progress.add_task("check", total=total, matches=0)
            for result in service.check(scope, read_lines(handle, column=column), as_type=as_type):
                counts[result.status] += 1
                progress.update(task, completed=result.line, matches=counts["match"])
                if json_output:
                    print_json(result.to_json())
                elif result.status == "match":
                    rows.append(result)
                elif result.status == "error":
                    err.print(f"line {result.line}: [yellow]{result.error}[/yellow]", highlight=False)
    except NciiShieldError as exc:
        fail(exc, 1)
    finally:
        shield.close()
        if handle is not sys.stdin:
            handle.close()
    if not json_output:
        _print_table(rows)
    err.print(f"{sum(counts.values()):,} lines: {counts['match']:,} matched, {counts['no_match']:,} no match, "
              f"{counts['error']:,} not read")
    if counts["match"]:
        raise typer.Exit(3)


def _count_lines(path: Path) -> int | None:
    try:
        with open(path, "rb") as handle:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except OSError:
        return None


def _print_table(rows: list) -> None:
    if not rows:
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("line", "input", "bank", "entry", "type", "via", "matched", "label")
    for result in rows:
        for m in result.matches:
            label = (m.metadata or {}).get("label", "") if isinstance(m.metadata, dict) else ""
            table.add_row(str(result.line), result.input, m.bank + (" (shared)" if m.shared else ""),
                          str(m.signal_id), m.signal_type, m.via, m.matched, str(label))
    Console(width=200).print(table)
