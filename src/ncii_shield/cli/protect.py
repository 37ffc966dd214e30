"""``ncii-shield protect`` and ``ncii-shield check``: derivative protection from the command line, in-process.

``protect add`` registers a person's public photos (signatures computed in memory; the photos are
not copied anywhere); ``check`` checks files for exact and near matches and for edited derivatives
of registered photos.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ncii_shield.cli.common import DATA_DIR_OPTION, DB_OPTION, JSON_OPTION, TENANT_OPTION, err, fail, print_json
from ncii_shield.errors import NciiShieldError

app = typer.Typer(help="Protect a person's public photos against edited derivatives (fakes made from them).",
                  no_args_is_help=True)


def _progress(total: int, json_output: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=err, disable=json_output or total < 2, transient=True)


@app.command("add")
def add(
    paths: list[Path] = typer.Argument(..., help="Photos of the person, as posted publicly.", show_default=False),
    bank: str = typer.Option(..., "--bank", "-b", help="Bank to register them in (created if missing)."),
    tenant: str = TENANT_OPTION,
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Register photos so that uploads which are edited derivatives of them are flagged.

    Each photo's signature (keypoints and a coarse summary, no pixels) is stored; the photo itself
    is not. Photos too plain to recognise after edits (flat, blurred, tiny) are reported and skipped.

      ncii-shield protect add me-beach.jpg me-party.jpg --bank protected

      ncii-shield protect add photos/*.jpg --bank protected --json

    Exit status: 0 all registered, 4 some were too plain or unreadable, 1 an error.
    """
    from ncii_shield.core import Shield

    shield = Shield.open(db)
    results = []
    try:
        principal = shield.local_principal(tenant, ("bank:write", "match"))
        shield.banks.ensure(principal, bank, description="photos registered for derivative protection")
        with _progress(len(paths), json_output) as progress:
            task = progress.add_task("registering", total=len(paths))
            for path in paths:
                try:
                    data = path.read_bytes()
                except OSError as exc:
                    results.append({"name": str(path), "status": "error", "reason": str(exc)})
                else:
                    results += [r.to_json() for r in shield.derivatives.register(principal, bank, [(str(path), data)])]
                progress.advance(task)
    except NciiShieldError as exc:
        fail(exc, 1)
    finally:
        shield.close()
    for r in results:
        if json_output:
            print_json({"path": r.pop("name"), **r})
        elif r["status"] == "registered":
            typer.echo(f"{r['name']}: registered (signal {r['signal_id']}, {r['keypoints']} keypoints)")
            if r.get("warning"):
                typer.echo(f"  warning: {r['warning']}")
        else:
            typer.echo(f"{r['name']}: {r['status'].replace('_', ' ')}: {r['reason']}")
    if any(r["status"] != "registered" for r in results):
        raise typer.Exit(4)


def check(
    paths: list[Path] = typer.Argument(..., help="Photos or videos to check.", show_default=False),
    explicit: bool = typer.Option(False, "--explicit", help="The files are sexual content (as the platform holds "
                                  "them): only then are enrolled people's faces searched (likeness protection)."),
    dihedral: bool = typer.Option(False, "--dihedral", help="Also match the photos' rotations and flips."),
    tenant: str = TENANT_OPTION,
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Check files through the one upload pipeline: exact and near matches of banked hashes, edited
    derivatives of registered photos and, where installed, likeness, service marks and provenance.

    A *derivative* is a registered photo with a part replaced (the rest is the same photo, maybe
    re-encoded, resized, cropped, mirrored, slightly rotated, watermarked or screenshotted). The
    edited region is given as [x, y, w, h] in the registered photo's pixels.

      ncii-shield check upload.jpg

      ncii-shield check uploads/*.jpg --json     # {"path", "matches": [...], "derivatives": [...], "review": {...}}

      ncii-shield check --explicit clip.mp4      # also search enrolled faces (likeness)

    Exit status: 0 nothing found, 3 a match or any flag, 1 an error.
    """
    from ncii_shield.core import Shield
    from ncii_shield.services.uploads.pipeline import CheckOptions

    shield = Shield.open(db)
    results = []
    options = CheckOptions(dihedral=dihedral, explicit=explicit)
    try:
        principal = shield.local_principal(tenant, ("match",))
        with _progress(len(paths), json_output) as progress:
            task = progress.add_task("checking", total=len(paths))
            for path in paths:
                try:
                    verdict = shield.uploads.check(principal, path.read_bytes(), options)
                    results.append({"path": str(path), **verdict.findings_json(), "review": verdict.review.to_json(),
                                    **({"skipped": verdict.skipped} if verdict.skipped else {}),
                                    "_found": verdict.found})
                except (NciiShieldError, OSError) as exc:
                    results.append({"path": str(path), "error": str(exc)})
                progress.advance(task)
    except NciiShieldError as exc:
        fail(exc, 1)
    finally:
        shield.close()
    for r in results:
        found = r.pop("_found", False)
        if json_output:
            print_json(r)
        elif "error" in r:
            typer.echo(f"{r['path']}: error: {r['error']}")
        elif not found and not (r.get("provenance") or {}).get("ai_generated"):
            typer.echo(f"{r['path']}: nothing found")
        else:
            _echo_findings(r)
        r["_found"] = found
    if any("error" in r for r in results):
        raise typer.Exit(1)
    if any(r["_found"] for r in results):
        raise typer.Exit(3)


def _echo_findings(r: dict) -> None:
    path = r["path"]
    for m in r["matches"]:
        typer.echo(f"{path}: MATCH bank={m['bank']} signal={m['signal_id']} {m['signal_type']} distance={m['distance']}")
    for d in r.get("derivatives", []):
        typer.echo(f"{path}: DERIVATIVE bank={d['bank']} signal={d['signal_id']} score={d['score']} "
                   f"edited region [x, y, w, h]={d['edited_region']}")
    for f in r.get("likeness", []):
        typer.echo(f"{path}: LIKENESS bank={f['bank']} signal={f['signal_id']} similarity={f.get('similarity')} "
                   f"face [x, y, w, h]={f.get('face_box')}")
    for f in r.get("marks", []):
        typer.echo(f"{path}: MARK bank={f['bank']} signal={f['signal_id']} label={f.get('label')!r} "
                   f"score={f.get('score')} box [x, y, w, h]={f.get('box')}")
    provenance = r.get("provenance") or {}
    if provenance.get("ai_generated"):
        kinds = ", ".join(sorted({e.get("kind", "?") for e in provenance.get("evidence", [])}))
        typer.echo(f"{path}: AI-MADE according to {kinds}")
    review = r.get("review") or {}
    if review.get("queue"):
        typer.echo(f"{path}: review {review['kind']} at priority {review['priority']}: {'; '.join(review['reasons'])}")
