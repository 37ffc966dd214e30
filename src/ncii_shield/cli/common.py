"""Options and helpers shared by the CLI commands."""

from __future__ import annotations

import json
import sys
from typing import NoReturn

import typer
from rich.console import Console

from ncii_shield.errors import NciiShieldError

DB_OPTION = typer.Option(
    None, "--db", envvar="NCII_SHIELD_DB",
    help="Database URL: sqlite:///path.db or postgresql://user@host/db. Default: sqlite under the data directory.",
    show_default=False,
)
TENANT_OPTION = typer.Option("default", "--tenant", help="Tenant the command acts for.")
JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of text.")

err = Console(stderr=True)


def fail(exc: NciiShieldError | str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(code)


def print_json(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
