"""``ncii-shield notices``: list removal requests, purge expired personal data, and send statements
of reasons to the EU DSA Transparency Database."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from ncii_shield.cli.common import DATA_DIR_OPTION, DB_OPTION, JSON_OPTION, TENANT_OPTION, fail, print_json

app = typer.Typer(help="Removal requests (48-hour notices): list them, purge expired personal data, send "
                       "statements of reasons to the EU DSA Transparency Database.", no_args_is_help=True)


@app.command("list")
def list_notices(
    status: str | None = typer.Option(None, help="received, in_review, removed, rejected or withdrawn."),
    tenant: str = TENANT_OPTION, db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION, json_output: bool = JSON_OPTION,
) -> None:
    """List requests, soonest deadline first (no personal data is printed).

      ncii-shield notices list --status received
    """
    from ncii_shield.core import Shield

    shield = Shield.open(db, load_index=False)
    try:
        views = shield.notices.list(shield.local_principal(tenant).tenant_id, status=status, limit=1000)
    finally:
        shield.close()
    if json_output:
        print_json([v.to_json() for v in views])
        return
    for v in views:
        flag = "OVERDUE" if v.overdue else ""
        typer.echo(f"{v.reference}  {v.status:10} deadline {v.deadline_at:%Y-%m-%d %H:%M}Z  {len(v.items):3} item(s) {flag}")


@app.command("purge")
def purge(db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION, json_output: bool = JSON_OPTION) -> None:
    """Delete the personal data (signature, contact, description) of requests closed longer ago than
    NCII_SHIELD_NOTICE_RETENTION_DAYS (default 180). 'serve' also does this every hour.

      ncii-shield notices purge
    """
    from ncii_shield.core import Shield

    shield = Shield.open(db, load_index=False)
    try:
        purged = shield.notices.purge_expired()
    finally:
        shield.close()
    if json_output:
        print_json({"purged": purged})
    else:
        typer.echo(f"purged the personal data of {purged} request(s)")


@app.command("submit-statements")
def submit_statements(
    token_file: Path = typer.Option(None, "--token-file", exists=True, dir_okay=False,
                                    help="File holding the database's API token (or set NCII_SHIELD_DSA_TOKEN)."),
    api: str | None = typer.Option(None, "--api", envvar="NCII_SHIELD_DSA_API", show_default=False,
                                   help="The database's API address (its sandbox's while you are onboarded). "
                                        "Default: https://transparency.dsa.ec.europa.eu/api/v1"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count the review items not sent yet."),
    tenant: str = TENANT_OPTION, db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION, json_output: bool = JSON_OPTION,
) -> None:
    """Send the statements of reasons of removal decisions to the EU DSA Transparency Database
    (DSA Art. 24(5)): those not sent yet, 100 per request. Safe to rerun and to run from cron: what the
    database accepted is recorded and never sent twice, even after a crash in the middle.

      ncii-shield notices submit-statements --token-file /run/secrets/dsa-token

      ncii-shield notices submit-statements --api https://<sandbox>/api/v1 --token-file t --json
    """
    import httpx
    from rich.progress import Progress

    from ncii_shield.core import Shield
    from ncii_shield.services.transparency import PRODUCTION_API, SubmissionError, TransparencySubmitter

    token = (token_file.read_text().strip() if token_file else os.environ.get("NCII_SHIELD_DSA_TOKEN", "").strip())
    if not token and not dry_run:
        fail("no API token: pass --token-file FILE or set NCII_SHIELD_DSA_TOKEN", 2)
    shield = Shield.open(db, load_index=False)
    try:
        submitter = TransparencySubmitter(shield.db, shield.review)
        tenant_id = shield.local_principal(tenant).tenant_id
        pending = len(submitter.pending(tenant_id))
        if dry_run:
            print_json({"pending": pending}) if json_output else typer.echo(f"{pending} removal decision(s) not sent yet")
            return
        with httpx.Client(timeout=60) as client, Progress(disable=json_output or pending == 0, transient=True) as bar:
            task = bar.add_task("sending statements", total=pending)
            try:
                report = submitter.submit(tenant_id, client, api=api or PRODUCTION_API, token=token,
                                          progress=lambda n: bar.advance(task, n))
            except SubmissionError as exc:
                fail(exc)
    finally:
        shield.close()
    if json_output:
        print_json(report.to_json())
    else:
        typer.echo(f"sent {report.statements} statement(s) for {report.created} decision(s); "
                   f"{report.existing} were in the database already")
        for item_id, error in report.refused.items():
            typer.echo(f"refused: review item {item_id}: {error}")
    if report.refused:
        raise typer.Exit(1)
