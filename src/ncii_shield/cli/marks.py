"""``ncii-shield marks``: register a service's visible mark (logo, watermark), in-process.

``marks add`` computes the mark's signature in memory and stores it in a bank; ``ncii-shield
check`` (and every other check of an upload) then flags photos that show the mark anywhere.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ncii_shield.cli.common import DATA_DIR_OPTION, DB_OPTION, JSON_OPTION, TENANT_OPTION, fail, print_json
from ncii_shield.errors import NciiShieldError

app = typer.Typer(help="Register the visible marks (logos, watermarks) of known nudify and deepfake services.",
                  no_args_is_help=True)


@app.command("add")
def add(
    path: Path = typer.Argument(..., help="The mark: a logo or watermark cut from the service's output "
                                "(PNG with transparency works best).", show_default=False),
    bank: str = typer.Option(..., "--bank", "-b", help="Bank to register it in (created if missing)."),
    label: str = typer.Option(..., "--label", "-l", help="What the mark is, e.g. \"nudify.example watermark\"."),
    tenant: str = TENANT_OPTION,
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Register a service's mark so that uploads showing it are flagged (anywhere, at any size,
    opacity >= 30 %, tiled or single, re-encoded, resized, cropped or screenshotted).

    The mark's signature (a small normalised template and its keypoints) is stored; the file is not.
    A flag says an image went through that service; a missing mark proves nothing.

      ncii-shield marks add watermark.png --bank nudify-services --label "nudify.example free tier"

    Exit status: 0 registered, 1 an error (unreadable, too faint or too thin a mark).
    """
    from ncii_shield.core import Shield
    from ncii_shield.services.marks import MarkService

    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}", 1)
    shield = Shield.open(db)
    try:
        principal = shield.local_principal(tenant, ("bank:write", "match"))
        shield.banks.ensure(principal, bank, description="marks of known services")
        result = MarkService(shield.banks).add(principal, bank, str(path), data, label=label)
    except NciiShieldError as exc:
        fail(exc, 1)
    finally:
        shield.close()
    if json_output:
        out = result.to_json()
        print_json({"path": out.pop("name"), "bank": bank, "status": "registered", **out})
    else:
        typer.echo(f"{path}: registered in {bank} (signal {result.signal_id}, \"{result.label}\", "
                   f"{result.width} x {result.height} pixels, {result.keypoints} keypoints)")
