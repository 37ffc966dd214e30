"""``ncii-shield hash``: hash photos and videos, as a table or as JSON lines."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ncii_shield.errors import NciiShieldError
from ncii_shield.services.hashing import HashOptions, PhotoHashes, VideoHashes, hash_path

PROGRESS_MIN_FILES = 5


def hash_files(
    paths: list[Path] = typer.Argument(..., help="Photos, videos or (with --recursive) folders.", show_default=False),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object per input, one per line."),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Hash every file under the folders given."),
    stored_pixels: bool = typer.Option(
        False, "--stored-pixels",
        help="Hash the pixels as stored, ignoring the EXIF orientation tag (default: as a person sees the photo).",
    ),
    dihedral: bool = typer.Option(False, "--dihedral", help="Also print the PDQ of the 8 rotations/flips of each photo."),
) -> None:
    """Hash photos (PDQ + MD5 + SHA-256) and videos (vPDQ + MD5 + SHA-256).

    Nothing leaves this machine and nothing is stored: files are read, hashed and dropped.

    [bold]Examples[/bold]

      ncii-shield hash photo.jpg clip.mp4

      ncii-shield hash --json --recursive ./uploads > hashes.jsonl

      ncii-shield hash --stored-pixels rotated.jpg

    With --json each line is {"path","content_type":"photo","pdq","pdq_quality","md5","sha256"}
    for a photo, {"path","content_type":"video","vpdq":[{"frame","timestamp","pdq","quality"}],
    "md5","sha256"} for a video, or {"path","error"} for a file that could not be hashed.

    Exit status: 0 all hashed, 1 some files failed (the others are still hashed), 2 usage error.
    """
    options = HashOptions(apply_orientation=not stored_pixels, dihedral=dihedral)
    files = list(_expand(paths, recursive))
    out = Console() if sys.stdout.isatty() else Console(width=320)
    err = Console(stderr=True)
    results: list[PhotoHashes | VideoHashes | dict] = []
    failed = 0
    show_progress = len(files) >= PROGRESS_MIN_FILES and err.is_terminal
    with Progress(
        TextColumn("hashing"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(), console=err, transient=True, disable=not show_progress,
    ) as progress:
        task = progress.add_task("hash", total=len(files), rate="")
        for path in files:
            try:
                result: PhotoHashes | VideoHashes | dict = hash_path(path, options)
            except (NciiShieldError, OSError) as exc:
                failed += 1
                result = {"path": str(path), "error": _message(exc)}
            if json_output:
                sys.stdout.write(json.dumps(result if isinstance(result, dict) else result.to_json()) + "\n")
                sys.stdout.flush()
            else:
                results.append(result)
            progress.advance(task)
            elapsed = progress.tasks[0].elapsed or 0
            if elapsed:
                progress.update(task, rate=f"{progress.tasks[0].completed / elapsed:.1f} files/s")
    if not json_output:
        _print_table(out, err, results)
    if failed:
        raise typer.Exit(code=1)


def _expand(paths: list[Path], recursive: bool) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            if not recursive:
                yield path  # reported as an error that suggests --recursive
                continue
            for root, dirs, names in os.walk(path):
                dirs.sort()
                for name in sorted(names):
                    yield Path(root) / name
        else:
            yield path


def _message(exc: BaseException) -> str:
    if isinstance(exc, IsADirectoryError):
        return "is a folder; use --recursive to hash the files inside it"
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, OSError):
        return f"could not read the file ({exc.strerror or exc})"
    return str(exc)


def _print_table(out: Console, err: Console, results: list) -> None:
    table = Table(show_lines=False)
    table.add_column("path", overflow="fold")
    table.add_column("type", no_wrap=True)
    table.add_column("PDQ / vPDQ", overflow="fold", min_width=64)
    table.add_column("quality", no_wrap=True)
    table.add_column("MD5", no_wrap=True, min_width=32)
    table.add_column("SHA-256", no_wrap=True, min_width=64)
    for r in results:
        if isinstance(r, dict):
            table.add_row(r["path"], "[red]error[/red]", f"[red]{r['error']}[/red]", "", "", "")
        elif isinstance(r, PhotoHashes):
            table.add_row(r.path, "photo", r.pdq, str(r.pdq_quality), r.md5, r.sha256)
            for name, value in r.dihedral.items():
                table.add_row("", f"  {name}", value, "", "", "")
        else:
            table.add_row(r.path, "video", f"{len(r.frames)} frames; first {r.frames[0].pdq}",
                          str(min(f.quality for f in r.frames)), r.md5, r.sha256)
    out.print(table)
