"""``ncii-shield audit``: verify, export and show the head of the hash-chained audit log.

These commands read the database directly, so they are the instance operator's: they see every
tenant's entries (a tenant's admin key sees only its own over /v1/audit; ``export --tenant`` writes
that same view, e.g. to hand a tenant its log)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ncii_shield.cli.common import DB_OPTION, JSON_OPTION, err, fail, print_json
from ncii_shield.errors import NciiShieldError

app = typer.Typer(help="Verify and export the tamper-evident audit log.", no_args_is_help=True)
DATA_DIR_OPTION = typer.Option(None, "--data-dir", envvar="NCII_SHIELD_DATA",
                               help="Use the SQLite database in this data directory (instead of --db).",
                               show_default=False)


def _database(db: str | None, data_dir: Path | None):  # noqa: ANN202
    from ncii_shield.store.database import open_database

    url = db or f"sqlite:///{(data_dir or Path('data')) / 'ncii-shield.db'}"
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        fail(f"no database at {url[len('sqlite:///'):]}; give --db URL or --data-dir DIR", 2)
    return open_database(url)


def _head(text: str | None) -> tuple[int, str] | None:
    if not text:
        return None
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        fail("--head looks like SEQ:HASH (as printed by 'ncii-shield audit head')", 2)
    return int(seq), digest.lower()


@app.command("verify")
def verify(
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    file: Path | None = typer.Option(None, "--file", help="Verify an exported JSON-lines file instead of a database."),
    head: str | None = typer.Option(None, "--head", help="SEQ:HASH recorded earlier: also detects removal of the newest entries."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Walk the hash chain; exit 1 and name the first bad entry if any entry was changed, removed or
    reordered (exit 0 when the chain is intact).

      ncii-shield audit verify --data-dir data

      ncii-shield audit verify --db postgresql://postgres@127.0.0.1/ncii --head 1042:9f3c...

      ncii-shield audit verify --file audit-2026-11.jsonl
    """
    from ncii_shield.services import audit

    expect = _head(head)
    if file is not None:
        with open(file, encoding="utf-8") as handle:
            result = audit.verify_export(handle, expect)
    else:
        database = _database(db, data_dir)
        try:
            result = audit.verify(database, expect)
        finally:
            database.dispose()
    if json_output:
        print_json(result.to_json())
    elif result.ok:
        typer.echo(f"ok: {result.entries} entries, chain intact; head {result.head_seq}:{result.head_hash}")
    else:
        err.print(f"[red]TAMPERED:[/red] first bad entry {result.first_bad}: {result.problem}")
    raise typer.Exit(0 if result.ok else 1)


@app.command("export")
def export(
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    out: Path | None = typer.Option(None, "--out", "-o", help="Write to this file (default: standard output)."),
    tenant: str | None = typer.Option(None, "--tenant", help="Only this tenant's view: its entries in full, every "
                                      "other entry as its links (seq, prev_hash, hash). Default: every entry."),
) -> None:
    """Export the log as JSON lines, oldest first, each entry with its prev_hash and hash (every
    tenant's entries: this is the operator's view).

      ncii-shield audit export --data-dir data -o audit.jsonl && ncii-shield audit verify --file audit.jsonl

      ncii-shield audit export --data-dir data --tenant helpline -o helpline-audit.jsonl
    """
    from ncii_shield.services import audit
    from ncii_shield.store import banks as bank_store

    database = _database(db, data_dir)
    try:
        view = {"operator": True}
        if tenant is not None:
            try:
                with database.read() as session:
                    view = {"tenant_id": bank_store.get_tenant(session, tenant).id}
            except NciiShieldError as exc:
                fail(exc, 2)
        handle = open(out, "w", encoding="utf-8") if out else sys.stdout
        count = 0
        for line in audit.export_lines(database, **view):
            handle.write(line)
            count += 1
        if out:
            handle.close()
            err.print(f"wrote {count} entries to {out}")
    finally:
        database.dispose()


@app.command("head")
def show_head(db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION, json_output: bool = JSON_OPTION) -> None:
    """Print the newest entry as SEQ:HASH. Keep it somewhere else (a ticket, a signed e-mail): with
    it, 'audit verify --head' also detects the removal of the newest entries."""
    from ncii_shield.services import audit

    database = _database(db, data_dir)
    try:
        seq, digest = audit.head(database)
    finally:
        database.dispose()
    if json_output:
        print_json({"seq": seq, "hash": digest})
    else:
        typer.echo(f"{seq}:{digest}")
