"""Options and helpers shared by the CLI commands."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console

from ncii_shield.errors import NciiShieldError

DB_OPTION = typer.Option(
    None, "--db", envvar="NCII_SHIELD_DB",
    help="Database URL: sqlite:///path.db or postgresql://user@host/db. Default: sqlite under the data directory.",
    show_default=False,
)


def _use_data_dir(data_dir: Path | None) -> Path | None:
    """Point this process at the data directory before the command runs: the default SQLite
    database and every key kept there (feed signing key, personal-data key, contact key, webhook
    secret) are then the ones ``ncii-shield serve --data-dir`` uses."""
    if data_dir is not None:
        os.environ["NCII_SHIELD_DATA"] = str(data_dir)
    return data_dir


DATA_DIR_OPTION = typer.Option(
    None, "--data-dir", envvar="NCII_SHIELD_DATA", callback=_use_data_dir, show_default=False,
    help="Data directory of the instance (as given to `ncii-shield serve --data-dir`): its keys, and its "
         "SQLite database unless --db. Default: ./data.",
)
TENANT_OPTION = typer.Option("default", "--tenant", help="Tenant the command acts for.")
JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of text.")

err = Console(stderr=True)


def fail(exc: NciiShieldError | str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(code)


def print_json(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
