"""Write scan results (from the checkpoint, in item order) as JSON lines or CSV, atomically."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

FORMATS = ("jsonl", "csv")
CSV_COLUMNS = ("key", "status", "content_type", "size", "matches", "best_bank", "best_signal_id",
               "best_signal_type", "best_distance", "md5", "sha256", "pdq", "pdq_quality", "error_type", "error")


def format_for(path: Path | None, csv_flag: bool) -> str:
    if csv_flag or (path is not None and path.suffix.lower() == ".csv"):
        return "csv"
    return "jsonl"


def csv_row(result: dict) -> dict:
    matches = result.get("matches") or []
    best = matches[0] if matches else {}
    row = {c: result.get(c, "") for c in CSV_COLUMNS}
    row.update(matches=len(matches), best_bank=best.get("bank", ""), best_signal_id=best.get("signal_id", ""),
               best_signal_type=best.get("signal_type", ""), best_distance=best.get("distance", ""))
    return {k: ("" if v is None else v) for k, v in row.items()}


def write_results(results: Iterable[dict], out: TextIO, fmt: str) -> int:
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for result in results:
            writer.writerow(csv_row(result))
            count += 1
    else:
        for result in results:
            out.write(json.dumps(result, sort_keys=True) + "\n")
            count += 1
    return count


def write_file(results: Iterable[dict], path: Path, fmt: str) -> int:
    """Write to a temporary file beside ``path`` and rename it over ``path``: a reader (or a crash)
    sees the old file or the whole new one, never half."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8", newline="") as handle:
        count = write_results(results, handle, fmt)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return count


def to_text(results: Iterable[dict], fmt: str) -> str:
    buffer = io.StringIO()
    write_results(results, buffer, fmt)
    return buffer.getvalue()
