"""The HTML report of a scan: counts, matches per bank, per source, distances; SVG plots inside.

One self-contained file (no script, no CDN, no external style), written from the checkpoint::

    write_report(checkpoint.results(), Path("report.html"), sources=["dump.zip"])
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from ncii_shield.charts import COLOURS, bar_chart
from ncii_shield.services.scanning.scanner import FOUND, STATUSES

_MAX_ROWS = 500  # matches and errors listed in the report; the JSON lines have them all


def summarise(results: Iterable[dict]) -> dict:
    status, per_bank, per_source, distances, errors = Counter(), Counter(), Counter(), Counter(), Counter()
    matched, failed = [], []
    for r in results:
        status[r["status"]] += 1
        per_source[r["source"]] += 1
        if r["status"] in FOUND:
            for bank in {m.get("bank", "?") for m in r.get("matches", [])}:
                per_bank[bank] += 1
            for m in r.get("matches", []):
                if m.get("signal_type") == "pdq":
                    distances[int(m["distance"])] += 1
            if len(matched) < _MAX_ROWS:
                matched.append(r)
        elif r["status"] == "error":
            errors[r.get("error_type", "error")] += 1
            if len(failed) < _MAX_ROWS:
                failed.append(r)
    return {"status": status, "per_bank": per_bank, "per_source": per_source, "distances": distances,
            "errors": errors, "matched": matched, "failed": failed}


def render_report(results: Iterable[dict], sources: list[str]) -> str:
    s = summarise(results)
    total = sum(s["status"].values())
    status_chart = bar_chart([(k, s["status"].get(k, 0)) for k in STATUSES], title="Items by result",
                             y_label="items", colors=COLOURS)
    bank_chart = bar_chart(sorted(s["per_bank"].items()), title="Matched items per bank")
    source_chart = bar_chart([(os.path.basename(sources[i]) if i < len(sources) else str(i), n)
                              for i, n in sorted(s["per_source"].items())], title="Items per source")
    dist_chart = bar_chart([(f"distance {d}", n) for d, n in sorted(s["distances"].items())],
                           title="PDQ distance of near matches (0-31 of 256)")
    error_chart = bar_chart(sorted(s["errors"].items()), title="Errors by type")
    rows = "".join(
        f"<tr><td>{escape(r['key'])}</td><td>{escape(r['status'])}</td><td>"
        + escape(", ".join(f"{m.get('bank')}#{m.get('signal_id')} {m.get('signal_type')} d={m.get('distance')}"
                           for m in r.get("matches", [])))
        + "</td></tr>" for r in s["matched"])
    err_rows = "".join(f"<tr><td>{escape(r['key'])}</td><td>{escape(r.get('error_type', ''))}</td>"
                       f"<td>{escape(r.get('error', ''))}</td></tr>" for r in s["failed"])
    counts = "".join(f"<tr><th>{k}</th><td>{s['status'].get(k, 0):,}</td></tr>" for k in STATUSES)
    listed = "".join(f"<li>{escape(src)}</li>" for src in sources)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ncii-shield scan report</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:"></head>
<body>
<h1>Scan report</h1>
<p>{total:,} items, written {when}. Sources:</p><ul>{listed}</ul>
<table><tr><th>result</th><th>items</th></tr>{counts}</table>
<p>exact: the file's MD5 or SHA-256 is in a bank; near: a perceptual hash (PDQ, vPDQ) within the
threshold; derivative: an edited copy of a banked photo; error: the item could not be read or decoded.</p>
{status_chart}
{bank_chart}
{source_chart}
{dist_chart}
{error_chart}
<h2>Matches{' (first ' + str(_MAX_ROWS) + ')' if len(s['matched']) >= _MAX_ROWS else ''}</h2>
<table><tr><th>item</th><th>result</th><th>matches</th></tr>{rows}</table>
<h2>Errors{' (first ' + str(_MAX_ROWS) + ')' if len(s['failed']) >= _MAX_ROWS else ''}</h2>
<table><tr><th>item</th><th>type</th><th>message</th></tr>{err_rows}</table>
</body></html>
"""


def write_report(results: Iterable[dict], path: Path, sources: list[str]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(render_report(results, sources), encoding="utf-8")
    os.replace(tmp, path)
