"""``ncii-shield notices``: list removal requests and purge expired personal data."""

from __future__ import annotations

import typer

from ncii_shield.cli.common import DB_OPTION, JSON_OPTION, TENANT_OPTION, print_json

app = typer.Typer(help="Removal requests (48-hour notices): list them, purge expired personal data.",
                  no_args_is_help=True)


@app.command("list")
def list_notices(
    status: str | None = typer.Option(None, help="received, in_review, removed, rejected or withdrawn."),
    tenant: str = TENANT_OPTION, db: str | None = DB_OPTION, json_output: bool = JSON_OPTION,
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
def purge(db: str | None = DB_OPTION, json_output: bool = JSON_OPTION) -> None:
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
