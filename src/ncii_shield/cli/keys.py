"""``ncii-shield keys``: create, list and revoke API keys."""

from __future__ import annotations

from pathlib import Path

import typer

from ncii_shield.cli.common import DATA_DIR_OPTION, DB_OPTION, JSON_OPTION, TENANT_OPTION, fail, print_json
from ncii_shield.errors import NciiShieldError
from ncii_shield.services.keys import SCOPES

app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


@app.command("create")
def create(
    scope: list[str] = typer.Option(..., "--scope", "-s", help=f"Repeat for several: {', '.join(SCOPES)}."),
    tenant: str = TENANT_OPTION,
    name: str = typer.Option("", "--name", help="A label to recognise the key by."),
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Create an API key and print it once (it is stored only as a hash).

    The key is the last word of the output, so scripts can take it with `| awk '{print $NF}'`.

      ncii-shield keys create --scope match --name upload-checker

      ncii-shield keys create -s bank:write -s match --tenant helpline --json
    """
    from ncii_shield.core import Shield

    shield = Shield.open(db, load_index=False)
    try:
        key, principal = shield.keys.create(tenant=tenant, scopes=scope, name=name)
    except NciiShieldError as exc:
        fail(exc, 2)
    finally:
        shield.close()
    if json_output:
        print_json({"key": key, "prefix": principal.key_prefix, "tenant": tenant, "scopes": sorted(principal.scopes)})
    else:
        typer.echo(f"Created a {'+'.join(sorted(principal.scopes))} key for tenant {tenant!r} "
                   f"(shown once, store it now): {key}")


@app.command("list")
def list_keys(tenant: str = TENANT_OPTION, db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION, json_output: bool = JSON_OPTION) -> None:
    """List a tenant's keys (prefixes and scopes only; secrets are never stored)."""
    from ncii_shield.core import Shield
    from ncii_shield.store import banks as bank_store
    from ncii_shield.store import keys as key_store

    shield = Shield.open(db, load_index=False)
    with shield.db.read() as session:
        tenant_row = bank_store.get_tenant(session, tenant)
        rows = [{"prefix": k.prefix, "name": k.name, "scopes": k.scopes.split(), "created_at": k.created_at,
                 "revoked": k.revoked_at is not None} for k in key_store.list_keys(session, tenant_row.id)]
    shield.close()
    if json_output:
        print_json(rows)
    else:
        for r in rows:
            typer.echo(f"{r['prefix']}  {','.join(r['scopes']):20} {'revoked' if r['revoked'] else 'active':8} {r['name']}")


@app.command("revoke")
def revoke(prefix: str, tenant: str = TENANT_OPTION, db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION) -> None:
    """Revoke a key by its prefix (the 10 characters after nsk_). Replicas stop accepting it within 5 s."""
    from ncii_shield.core import Shield
    from ncii_shield.store import banks as bank_store

    shield = Shield.open(db, load_index=False)
    try:
        with shield.db.read() as session:
            tenant_id = bank_store.get_tenant(session, tenant).id
        shield.keys.revoke(tenant_id, prefix)
    except NciiShieldError as exc:
        fail(exc)
    finally:
        shield.close()
    typer.echo(f"revoked {prefix}")
