"""``ncii-shield scan``: scan folders, archives, WARC files and URL lists against the banks."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.text import Text

from ncii_shield.cli.common import DATA_DIR_OPTION, DB_OPTION, TENANT_OPTION, err, fail
from ncii_shield.errors import NciiShieldError


class _Rate(ProgressColumn):
    def render(self, task) -> Text:  # noqa: ANN001
        return Text(f"{task.speed or 0:,.1f} items/s")


def scan(
    sources: list[str] = typer.Argument(..., help="Folders, .zip, .tar(.gz), .warc(.gz) files, or text files of URLs.",
                                        show_default=False),
    bank: list[str] = typer.Option([], "--bank", "-b", help="Bank to match against (repeat for more). Default: "
                                   "every bank the tenant can see."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write results here (.jsonl or .csv). "
                                       "Default: standard output, once the scan ends."),
    json_output: bool = typer.Option(False, "--json", help="Results as JSON lines, one object per item (the default)."),
    csv_output: bool = typer.Option(False, "--csv", help="Results as CSV, one row per item."),
    report: Path | None = typer.Option(None, "--report", help="Also write an HTML report with counts and plots."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Worker processes (each holds its own index); "
                                "with --ray, the size of the actor pool."),
    ray: str | None = typer.Option(None, "--ray", help="Run on Ray: a cluster address (HOST:PORT, ray://...) or "
                                   "'auto' (the cluster on this machine, or a new local one)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted scan from its checkpoint "
                                "(same sources and options). Without it a scan starts over."),
    checkpoint: Path | None = typer.Option(None, "--checkpoint", help="Checkpoint file. Default: OUTPUT.checkpoint"
                                           ".sqlite, or under the data directory when there is no --output."),
    dihedral: bool = typer.Option(False, "--dihedral", help="Also match photos' rotations and flips (slower)."),
    explicit: bool = typer.Option(False, "--explicit", help="The sources hold sexual content (e.g. an adult site's "
                                  "uploads): enrolled people's faces are searched too (likeness protection)."),
    max_item_bytes: int = typer.Option(256 * 1024 * 1024, help="Largest item (file, member, download) read."),
    max_members: int = typer.Option(1_000_000, help="Most entries read from one archive or WARC file."),
    max_total_bytes: int = typer.Option(64 * 1024 ** 3, help="Most uncompressed bytes read from one archive."),
    max_ratio: float = typer.Option(100.0, help="Highest compression ratio of a zip member over 1 MiB."),
    timeout: float = typer.Option(20.0, help="URL lists: seconds to wait for a server to answer or send more."),
    allow_loopback: bool = typer.Option(False, "--allow-loopback", help="URL lists: also fetch from 127.0.0.1/::1 "
                                        "(development and tests only; private addresses stay refused)."),
    tenant: str = TENANT_OPTION,
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """Scan collections against the banks: every item is hashed (PDQ, MD5, SHA-256; vPDQ for videos) and
    matched through the one upload pipeline; each gets a result: exact, near, derivative, flagged (a service's
    mark or an enrolled face, no hash match), no_match or error.

    SOURCES may be mixed: a folder (recursive; links are not followed), a zip or tar archive (read as a
    stream, nothing is extracted to disk), a WARC file from a crawl (image and video responses), or a text
    file with one http(s) URL per line (fetched with timeouts and a size cap; private addresses refused).

    Hostile input never stops a scan: zip bombs, '../' or absolute member names, links in archives,
    corrupt or undecodable files each become an error result saying why.

    Interrupt it at any time (Ctrl-C, a crash, kill -9) and run the same command with --resume: finished
    items are skipped, and the output is exactly that of an uninterrupted scan.

      ncii-shield scan ~/dump.zip --bank victims -o results.jsonl --report report.html

      ncii-shield scan crawl.warc.gz urls.txt --bank victims --csv -o results.csv --workers 2

      ncii-shield scan /archive --bank victims -o r.jsonl --resume         # continue after a crash

      ncii-shield scan /archive --bank victims -o r.jsonl --ray auto --workers 8

    Exit status: 0 no match, 3 at least one match, 1 the scan could not run, 130 interrupted.
    """
    from sqlalchemy import or_, select

    from ncii_shield.core import Shield, default_data_dir
    from ncii_shield.services.scanning import output as out
    from ncii_shield.services.scanning.checkpoint import Checkpoint
    from ncii_shield.services.scanning.items import SourceLimits
    from ncii_shield.services.scanning.report import write_report
    from ncii_shield.services.scanning.runner import default_checkpoint, fingerprint, open_sources, run_scan
    from ncii_shield.services.scanning.scanner import FOUND, STATUSES, ScanSettings
    from ncii_shield.store.models import Bank

    if json_output and csv_output:
        fail("choose one of --json and --csv", 2)
    fmt = out.format_for(output, csv_output)
    shield = Shield.open(db, load_index=False)
    try:
        principal = shield.local_principal(tenant, ("match",))
        with shield.db.read() as session:
            visible = set(session.scalars(select(Bank.name).where(
                or_(Bank.tenant_id == principal.tenant_id, Bank.shared.is_(True)))))
        missing = [b for b in bank if b not in visible]
        if missing:
            fail(f"no bank called {', '.join(map(repr, missing))} for tenant {tenant!r}; banks: "
                 f"{', '.join(sorted(visible)) or 'none yet (ncii-shield bank create NAME)'}", 1)
        url = _absolute(shield.db.url)
    finally:
        shield.close()
    limits = SourceLimits(max_item_bytes=max_item_bytes, max_members=max_members, max_total_bytes=max_total_bytes,
                          max_ratio=max_ratio, read_timeout_s=timeout, allow_loopback=allow_loopback)
    settings = ScanSettings(db_url=url, principal=principal, banks=tuple(bank), dihedral=dihedral, limits=limits,
                            explicit=explicit)
    try:
        opened = open_sources(sources, settings)
        path = checkpoint or default_checkpoint(output, opened, settings, default_data_dir())
        cp = Checkpoint.open(path, fingerprint(opened, settings), resume=resume)
    except NciiShieldError as exc:
        fail(exc, 1)
    columns = (TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), _Rate(), TextColumn("ETA"),
               TimeRemainingColumn(), TextColumn("{task.fields[matches]} matched"))
    try:
        with Progress(*columns, console=err, disable=not err.is_terminal) as progress:
            task = progress.add_task("scan", total=None, matches=0)
            matched = [0]

            def on_result(result: dict) -> None:
                if result["status"] in FOUND:
                    matched[0] += 1
                progress.update(task, advance=1, matches=matched[0])

            summary = run_scan(opened, settings, cp, workers=workers, ray=ray,
                               on_total=lambda n: progress.update(task, total=n), on_result=on_result)
    except KeyboardInterrupt:
        done = cp.count()
        cp.close()
        err.print(f"[yellow]interrupted[/yellow]: {done:,} items are in the checkpoint {path}; run the same "
                  f"command with --resume to continue")
        raise typer.Exit(130) from None
    except NciiShieldError as exc:
        cp.close()
        fail(exc, 1)
    cp.set_meta("finished", "1")
    if output is not None:
        out.write_file(cp.results(), output, fmt)
    else:
        out.write_results(cp.results(), sys.stdout, fmt)
        sys.stdout.flush()
    if report is not None:
        write_report(cp.results(), report, [s.label for s in opened])
    cp.close()
    counts = summary.counts
    err.print(f"{summary.total:,} items ({summary.resumed:,} from an earlier run), "
              + ", ".join(f"{k} {counts.get(k, 0):,}" for k in STATUSES)
              + f"; {summary.rate:,.1f} items/s" + (f"; results in {output}" if output else ""))
    if any(counts.get(k) for k in FOUND):
        raise typer.Exit(3)


def _absolute(url: str) -> str:
    """Workers (processes, Ray actors) may run elsewhere: give SQLite an absolute path."""
    import os

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        parsed = parsed.set(database=os.path.abspath(parsed.database))
    return parsed.render_as_string(hide_password=False)
