"""``ncii-shield likeness``: enrol a person's face for likeness protection, count, withdraw.

For support organisations enrolling a person who asked them to (docs/likeness.md): the photos are
read, embedded in memory and dropped; only sealed vectors are stored. There is deliberately no
command that takes a face and says who it is or where it appears.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ncii_shield.cli.common import DATA_DIR_OPTION, DB_OPTION, JSON_OPTION, TENANT_OPTION, fail, print_json
from ncii_shield.errors import NciiShieldError

app = typer.Typer(help="Likeness protection: enrol a person's face (1-5 photos), count, withdraw.",
                  no_args_is_help=True)

MAX_PHOTO_BYTES = 50 * 1024 * 1024


@app.command("enroll")
def enroll(
    photos: list[Path] = typer.Argument(..., help="1 to 5 photos of the person, one face each.", exists=True,
                                        dir_okay=False, readable=True),
    bank: str = typer.Option(..., "--bank", "-b", help="Bank to enrol into (created if missing)."),
    tenant: str = TENANT_OPTION,
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Enrol one person's face from 1-5 ordinary photos (one face each; photos are not kept).

      ncii-shield likeness enroll front.jpg side.jpg --bank faces
    """
    from ncii_shield.core import Shield
    from ncii_shield.services.likeness import LikenessService

    datas = []
    for path in photos:
        if path.stat().st_size > MAX_PHOTO_BYTES:
            fail(f"{path.name}: larger than {MAX_PHOTO_BYTES >> 20} MB", 2)
        datas.append(path.read_bytes())
    shield = Shield.open(db, load_index=False)
    try:
        enrolled = LikenessService(shield.db).enrol(tenant, bank, datas, names=[p.name for p in photos])
    except NciiShieldError as exc:
        fail(exc, 2)
    finally:
        shield.close()
    if json_output:
        print_json({"enrolment": enrolled.id, "bank": enrolled.bank, "photos": enrolled.photos, "model": enrolled.model})
    else:
        typer.echo(f"Enrolled {enrolled.photos} photo(s) as enrolment {enrolled.id} in bank {enrolled.bank!r}; "
                   "the photos were not kept.")


@app.command("withdraw")
def withdraw(
    enrolment: int = typer.Argument(..., help="The enrolment number `enroll` printed."),
    tenant: str = TENANT_OPTION,
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """Withdraw an enrolment: its vectors are erased and stop matching within a second."""
    from ncii_shield.core import Shield
    from ncii_shield.services.likeness import LikenessService

    shield = Shield.open(db, load_index=False)
    try:
        LikenessService(shield.db).withdraw(tenant, enrolment)
    except NciiShieldError as exc:
        fail(exc, 2)
    finally:
        shield.close()
    typer.echo(f"Withdrew enrolment {enrolment}; its vectors are erased.")


@app.command("count")
def count(
    bank: str = typer.Option(..., "--bank", "-b"),
    tenant: str = TENANT_OPTION,
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """How many people are enrolled in a bank (counts only)."""
    from ncii_shield.core import Shield
    from ncii_shield.services.likeness import LikenessService

    shield = Shield.open(db, load_index=False)
    try:
        n = LikenessService(shield.db).count(tenant, bank)
    except NciiShieldError as exc:
        fail(exc, 2)
    finally:
        shield.close()
    if json_output:
        print_json({"bank": bank, "enrolled": n})
    else:
        typer.echo(f"{n} enrolment(s) in bank {bank!r}")
