"""``ncii-shield match``: match files or hash strings against the banks, in-process (no server)."""

from __future__ import annotations

from pathlib import Path

import typer

from ncii_shield.cli.common import DATA_DIR_OPTION, DB_OPTION, JSON_OPTION, TENANT_OPTION, fail, print_json
from ncii_shield.errors import NciiShieldError


def match(
    paths: list[Path] = typer.Argument(None, help="Photos or videos to hash and match.", show_default=False),
    signal: list[str] = typer.Option([], "--signal", "-s", help="A hash to match, as TYPE:VALUE (e.g. pdq:f8f8...)."),
    dihedral: bool = typer.Option(False, "--dihedral", help="Also match the photos' rotations and flips."),
    tenant: str = TENANT_OPTION,
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Match photos, videos or hash strings against every bank the tenant can see.

      ncii-shield match upload.jpg

      ncii-shield match --signal pdq:f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22 --json

    Exit status: 0 no match, 3 at least one match, 1 an error.
    """
    from ncii_shield.core import Shield
    from ncii_shield.services.banks import SignalInput
    from ncii_shield.services.uploads.pipeline import CheckOptions

    if not paths and not signal:
        fail("give files to hash or --signal TYPE:VALUE", 2)
    shield = Shield.open(db)
    principal = shield.local_principal(tenant, ("match",))
    results = []
    try:
        for item in signal:
            kind, _, value = item.partition(":")
            found = shield.matcher.match(principal, [SignalInput(kind, value)])
            results.append({"input": item, "matches": [m.to_json() for m in found]})
        for path in paths or []:
            try:
                verdict = shield.uploads.check(principal, path.read_bytes(), CheckOptions(dihedral=dihedral))
                results.append({"input": str(path), "matches": [m.to_json() for m in verdict.matches]})
            except (NciiShieldError, OSError) as exc:
                results.append({"input": str(path), "error": str(exc)})
    except NciiShieldError as exc:
        fail(exc, 2)
    finally:
        shield.close()
    for r in results:
        if json_output:
            print_json(r)
        elif "error" in r:
            typer.echo(f"{r['input']}: error: {r['error']}")
        elif not r["matches"]:
            typer.echo(f"{r['input']}: no match")
        else:
            for m in r["matches"]:
                typer.echo(f"{r['input']}: MATCH bank={m['bank']} signal={m['signal_id']} "
                           f"{m['signal_type']} distance={m['distance']}")
    if any("error" in r for r in results):
        raise typer.Exit(1)
    if any(r.get("matches") for r in results):
        raise typer.Exit(3)
