"""Entry point of the ``ncii-shield`` command: builds the Typer app from one module per command."""

from __future__ import annotations

import typer

from ncii_shield import __version__
from ncii_shield.cli import audit, bank, feed, indicators, keys, match, monitor, notices, protect, serve
from ncii_shield.cli import scan as scan_command
from ncii_shield.cli import hash as hash_command
from ncii_shield.cli import likeness
from ncii_shield.cli import marks
from ncii_shield.cli import policy

app = typer.Typer(
    name="ncii-shield",
    help=(
        "Stop non-consensual intimate imagery with hashes, not images.\n\n"
        "Hash photos and videos exactly as the field's reference tools do (PDQ, vPDQ, MD5, SHA-256), "
        "keep victims' hashes in banks, and check uploads against them.\n\n"
        "Examples:\n\n"
        "  ncii-shield hash photo.jpg              # a table of hashes\n\n"
        "  ncii-shield hash --json -r uploads/     # one JSON object per file, for scripts\n\n"
        "  ncii-shield serve                       # the matcher service on SQLite under ./data\n\n"
        "  ncii-shield match upload.jpg            # match a file in-process, no server needed\n\n"
        "  ncii-shield protect add me.jpg --bank protected   # flag edited derivatives of a public photo\n\n"
        "  ncii-shield check upload.jpg --json     # matches and derivative flags"
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command(name="hash")(hash_command.hash_files)
app.command(name="serve")(serve.serve)
app.command(name="match")(match.match)
app.add_typer(keys.app, name="keys")
app.add_typer(bank.app, name="bank")
app.add_typer(feed.app, name="feed")
app.add_typer(audit.app, name="audit")
app.add_typer(notices.app, name="notices")
app.command(name="scan")(scan_command.scan)
app.add_typer(monitor.app, name="monitor")
app.command(name="check")(protect.check)
app.add_typer(protect.app, name="protect")
app.add_typer(marks.app, name="marks")
app.add_typer(indicators.app, name="indicators")
app.add_typer(likeness.app, name="likeness")
app.add_typer(policy.app, name="policy")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ncii-shield {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """ncii-shield command line."""


def run() -> None:  # console_scripts entry point
    app()
