"""Service indicators: 1M banked URLs, URL MD5s, domains, Telegram names and app ids; a scan of
100k URLs against them, end to end through the store, the index follower and the service.

Usage::

    nice -n 10 python bench/indicators_bench.py [--indicators 1000000] [--urls 100000] [--json out.json]

Steps, each timed:

1. *bank*: a fresh SQLite database; the indicators go in through ``BankService.add`` in batches of
   10,000 (validation, insert, change log), in one bank of the scanning tenant, plus 1 % of them in
   another tenant's private bank (which must never match);
2. *load*: a new ``Shield`` builds its indexes from the store's snapshot (what ``ncii-shield
   indicators check`` and every server replica do at start), with its memory growth;
3. *scan*: ``IndicatorService.check`` over 100k URLs, 10 % planted hits of five kinds (a banked
   URL in another case and scheme, a banked URL MD5's URL, a subdomain of a banked domain, a t.me
   link, a Play Store link) and 90 % clean URLs on hosts no bank holds; every planted hit must be
   reported with its entry, and nothing else;
4. *cli*: the same list through ``ncii-shield indicators check --json`` in a new process (start,
   index load, scan, JSON out).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ncii_shield.core import Shield
from ncii_shield.services.banks import SignalInput
from ncii_shield.services.indicators import IndicatorService
from ncii_shield.services.uploads.detectors import Scope
from ncii_shield.signals.url import url_key
from ncii_shield.signals.url_md5 import hash_url

SHARES = {"url_md5": 0.40, "domain": 0.30, "url": 0.20, "telegram": 0.05, "app_id": 0.05}
TLDS = ("example", "test", "invalid")  # reserved names: no real service is named here


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def word(rng: random.Random, n: int = 8) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))


def make_indicators(n: int, rng: random.Random) -> dict[str, list[tuple[str, str]]]:
    """(value to bank, the URL/handle it came from) per type."""
    out: dict[str, list[tuple[str, str]]] = {}
    for kind, share in SHARES.items():
        count = int(n * share)
        rows = []
        for i in range(count):
            tag = f"{word(rng, 6)}{i}"
            if kind == "url_md5":
                url = f"https://{tag}.nudify.{TLDS[i % 3]}/p/{word(rng, 5)}?id={i}"
                rows.append((hash_url(url), url))
            elif kind == "url":
                url = f"https://files.{tag}.{TLDS[i % 3]}/img/{word(rng, 10)}.jpg"
                rows.append((url, url))
            elif kind == "domain":
                rows.append((f"{tag}.{TLDS[i % 3]}", f"{tag}.{TLDS[i % 3]}"))
            elif kind == "telegram":
                rows.append((f"n{tag}_bot", f"n{tag}_bot"))
            else:
                rows.append((f"com.{tag}.undress", f"com.{tag}.undress"))
        out[kind] = rows
    return out


def make_urls(n: int, banked: dict[str, list[tuple[str, str]]], rng: random.Random) -> tuple[list[str], list[str | None]]:
    """URLs to scan and, per URL, the banked value it must match (None: must match nothing)."""
    urls: list[str] = []
    expect: list[str | None] = []
    kinds = list(SHARES)
    for i in range(n):
        if i % 10 == 0:  # a planted hit
            kind = kinds[(i // 10) % len(kinds)]
            value, source = rng.choice(banked[kind])
            if kind == "url":
                url = source.replace("https://", "HTTP://").upper() if i % 20 == 0 else source + "#x"
            elif kind == "url_md5":
                url = source.replace("https://", "http://")
            elif kind == "domain":
                url = f"https://cdn{i}.{source}/{word(rng, 6)}/{word(rng, 4)}.webp?w=640"
            elif kind == "telegram":
                url = f"https://t.me/{source.upper()}/{i}"
            else:
                url = f"https://play.google.com/store/apps/details?id={source}&hl=en"
            urls.append(url)
            expect.append(url_key(value) if kind == "url" else value)  # a url match reports its normal form
        else:  # clean: hosts under .org/.net with words no bank holds
            host = ".".join(word(rng, rng.randint(3, 10)) for _ in range(rng.randint(1, 3))) + rng.choice((".org", ".net"))
            path = "/".join(word(rng, rng.randint(2, 9)) for _ in range(rng.randint(0, 4)))
            query = f"?q={word(rng, 5)}" if rng.random() < 0.3 else ""
            urls.append(f"https://{host}/{path}{query}")
            expect.append(None)
    return urls, expect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--indicators", type=int, default=1_000_000)
    parser.add_argument("--urls", type=int, default=100_000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--workdir", type=Path, help="Keep the database here (default: a temporary folder).")
    parser.add_argument("--reuse", action="store_true", help="The database in --workdir was banked by an earlier "
                        "run with the same --indicators: skip step 1 (the indicators come from a fixed seed).")
    args = parser.parse_args()
    rng = random.Random(19)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="indicators-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    db = f"sqlite:///{work / 'bench.db'}"
    os.environ["NCII_SHIELD_DATA"] = str(work)
    report: dict = {"indicators": args.indicators, "urls": args.urls, "shares": SHARES}

    banked = make_indicators(args.indicators, rng)
    if args.reuse:
        report["bank_seconds"] = None
    else:
        bank(db, banked, report)
        print(f"banked {args.indicators:,} indicators in {report['bank_seconds']} s", flush=True)
    scan(db, banked, args, rng, report, work)


def bank(db: str, banked: dict[str, list[tuple[str, str]]], report: dict) -> None:
    started = time.perf_counter()
    shield = Shield.open(db, load_index=False)
    me = shield.local_principal("platform")
    other = shield.local_principal("someone-else")
    shield.banks.create(me, "nudify-services")
    shield.banks.create(other, "private-elsewhere")
    for kind, rows in banked.items():
        for start in range(0, len(rows), 10_000):
            shield.banks.add(me, "nudify-services", [SignalInput(kind, v) for v, _ in rows[start:start + 10_000]])
        hidden = rows[: max(1, len(rows) // 100)]  # also banked by another tenant, privately
        shield.banks.add(other, "private-elsewhere", [SignalInput(kind, v) for v, _ in hidden])
    shield.close()
    report["bank_seconds"] = round(time.perf_counter() - started, 1)


def scan(db: str, banked: dict, args: argparse.Namespace, rng: random.Random, report: dict, work: Path) -> None:
    before = rss_mb()
    started = time.perf_counter()
    shield = Shield.open(db, migrate=False)
    report["load_seconds"] = round(time.perf_counter() - started, 2)
    report["load_rss_mb"] = round(rss_mb() - before)
    report["indexed"] = shield.follower.size()
    print(f"loaded {report['indexed']:,} entries in {report['load_seconds']} s (+{report['load_rss_mb']} MB)", flush=True)

    urls, expect = make_urls(args.urls, banked, rng)
    me = shield.local_principal("platform", ("match",))
    service = IndicatorService(shield.follower, shield.db)
    started, cpu = time.perf_counter(), time.process_time()
    results = list(service.check(Scope(me, shield.follower), urls))
    report["scan_seconds"] = round(time.perf_counter() - started, 2)
    report["scan_cpu_seconds"] = round(time.process_time() - cpu, 2)
    report["urls_per_second"] = round(args.urls / report["scan_seconds"])
    missed = wrong = extra_private = 0
    for result, want in zip(results, expect):
        values = {m.matched for m in result.matches}
        banks = {m.bank for m in result.matches}
        if "private-elsewhere" in banks:
            extra_private += 1
        if want is None:
            wrong += bool(result.matches)
        elif want not in values:
            missed += 1
    planted = sum(e is not None for e in expect)
    report.update(planted=planted, missed=missed, false_matches=wrong, other_tenant_matches=extra_private,
                  matched_lines=sum(r.status == "match" for r in results),
                  errors=sum(r.status == "error" for r in results))
    print(f"scanned {args.urls:,} URLs in {report['scan_seconds']} s ({report['urls_per_second']:,}/s, "
          f"CPU {report['scan_cpu_seconds']} s): {planted - missed}/{planted} planted hits found, "
          f"{wrong} false matches, {extra_private} from another tenant's private bank", flush=True)
    shield.close()

    listing = work / "urls.txt"
    listing.write_text("\n".join(urls) + "\n")
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "ncii_shield.cli", "indicators", "check", str(listing), "--json",
                          "--db", db, "--tenant", "platform"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    report["cli_seconds"] = round(time.perf_counter() - started, 1)
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    report["cli_exit"] = run.returncode
    report["cli_matched_lines"] = sum(o["status"] == "match" for o in lines)
    print(f"CLI: {len(lines):,} results, {report['cli_matched_lines']:,} matched, exit {run.returncode}, "
          f"{report['cli_seconds']} s in all (start, index load, scan, JSON)", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if missed or wrong or extra_private or report["cli_matched_lines"] != report["matched_lines"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
