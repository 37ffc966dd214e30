"""``ncii-shield scan`` end to end: every source kind, outputs, workers, and SIGKILL + --resume."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from tests.scan_helpers import BANKED_MD5, BANKED_PDQ, LoopbackServer, make_store, photo, photo_folder, warc_of, zip_of
from tests.servers import cli

@pytest.fixture
def store(tmp_path: Path) -> str:
    return make_store(tmp_path)


def scan(store: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return cli("scan", "--db", store, *args, timeout=timeout, env={"NCII_SHIELD_DATA": str(Path(store[10:]).parent)})


def said(result: subprocess.CompletedProcess) -> str:
    return " ".join(result.stderr.split())  # Rich wraps long messages


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_source_kind_in_one_scan(store: str, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    photo_folder(folder, 4)  # seeds 0-3: 0, 1, 2 banked
    (folder / "corrupt.jpg").write_bytes(photo(9)[:300])
    (folder / "video.mp4").write_bytes(b"\0\0\0\x18ftypmp42" + os.urandom(2000))  # undecodable video
    archive = zip_of(tmp_path / "a.zip", {"x/seven.jpg": photo(BANKED_MD5), "x/eight.jpg": photo(8),
                                          "../evil.jpg": photo(1)})
    tgz = tmp_path / "b.tar.gz"
    with tarfile.open(tgz, "w:gz") as t:
        for name, data in (("p/one.jpg", photo(1)), ("p/twenty.jpg", photo(20))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    warc = warc_of(tmp_path / "c.warc.gz", [("https://example.org/2.jpg", "image/jpeg", photo(2)),
                                            ("https://example.org/", "text/html", b"<p>hi</p>")])
    server = LoopbackServer({"/0.jpg": photo(0), "/11.jpg": photo(11)})
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.url}/0.jpg\n{server.url}/11.jpg\n{server.url}/missing.jpg\n")
    try:
        out = tmp_path / "out.jsonl"
        report = tmp_path / "report.html"
        done = scan(store, str(folder), str(archive), str(tgz), str(warc), str(urls), "--bank", "victims",
                    "-o", str(out), "--report", str(report), "--allow-loopback")
        refused = scan(store, str(urls), "--bank", "victims", "--json")
    finally:
        server.stop()
    assert done.returncode == 3, done.stderr
    got = {r["key"]: r for r in lines(out)}
    status = {k: r["status"] for k, r in got.items()}
    f, a, b, c = str(folder), str(archive), str(tgz), str(warc)
    assert status == {
        f"{f}/corrupt.jpg": "error", f"{f}/nested/deeper/photo-00000.jpg": "near", f"{f}/nested/deeper/photo-00003.jpg":
        "no_match", f"{f}/photo-00001.jpg": "near", f"{f}/photo-00002.jpg": "near", f"{f}/video.mp4": "error",
        f"{a}!x/seven.jpg": "exact", f"{a}!x/eight.jpg": "no_match", f"{a}!../evil.jpg": "error",
        f"{b}!p/one.jpg": "near", f"{b}!p/twenty.jpg": "no_match",  # banked in "other", not scanned
        f"{c}!https://example.org/2.jpg": "near",
        f"{server.url}/0.jpg": "near", f"{server.url}/11.jpg": "no_match", f"{server.url}/missing.jpg": "error",
    }
    assert got[f"{f}/corrupt.jpg"]["error_type"] == "CorruptMedia"
    assert got[f"{f}/video.mp4"]["error_type"] in ("UndecodableVideo", "Unavailable")
    assert "climbs out" in got[f"{a}!../evil.jpg"]["error"]
    assert "HTTP 404" in got[f"{server.url}/missing.jpg"]["error"]
    near = got[f"{f}/photo-00001.jpg"]["matches"]
    assert near and near[0]["bank"] == "victims" and near[0]["signal_type"] == "pdq" and near[0]["distance"] == 0
    assert [m["signal_type"] for m in got[f"{a}!x/seven.jpg"]["matches"]] == ["md5"]
    assert all("query" not in m for r in got.values() for m in r.get("matches", []))
    # item order: sources in command-line order, then members in source order
    order = [(r["source"], r["member"]) for r in lines(out)]
    assert order == sorted(order)
    html = report.read_text()
    assert "<svg" in html and "<script" not in html.lower() and "http" not in html.split("<body>")[0].replace(
        "http-equiv", "")
    assert "exact" in html and "Items by result" in html
    assert "15 items" in said(done)
    # without --allow-loopback the same list is refused item by item, and the scan still finishes
    assert refused.returncode == 0, refused.stderr
    assert {json.loads(x)["error_type"] for x in refused.stdout.splitlines()} == {"RefusedSource"}


def test_csv_output_every_bank_and_two_workers_identical(store: str, tmp_path: Path) -> None:
    folder = tmp_path / "f"
    photo_folder(folder, 24)
    one = scan(store, str(folder), "--csv")
    two = scan(store, str(folder), "--csv", "--workers", "2")
    assert one.returncode == two.returncode == 3, one.stderr + two.stderr
    assert one.stdout == two.stdout
    rows = list(csv.DictReader(io.StringIO(one.stdout)))
    assert len(rows) == 24
    matched = {r["key"].rsplit("-", 1)[1]: r["best_bank"] for r in rows if r["status"] != "no_match"}
    assert matched == {"00000.jpg": "victims", "00001.jpg": "victims", "00002.jpg": "victims", "00007.jpg": "victims",
                       "00020.jpg": "other"}
    assert {r["status"] for r in rows if r["key"].endswith("00007.jpg")} == {"exact"}


def test_unknown_bank_and_source_fail_clearly(store: str, tmp_path: Path) -> None:
    result = scan(store, str(tmp_path), "--bank", "nope")
    assert result.returncode == 1 and "no bank called 'nope'" in said(result) and "victims" in said(result)
    result = scan(store, str(tmp_path / "missing.zip"), "--bank", "victims")
    assert result.returncode == 1 and "no such file or folder" in said(result)


def _count(checkpoint: Path) -> int:
    try:
        with sqlite3.connect(f"file:{checkpoint}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT count(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in found]


def _gone(pids: list[int]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        alive = [p for p in pids if Path(f"/proc/{p}").exists() and "Z" not in _state(p)]
        if not alive:
            return
        time.sleep(0.1)
    pytest.fail(f"worker processes outlived the killed scan: {alive}")


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def _start(store: str, *args: str) -> subprocess.Popen:
    # Ctrl-C as in a terminal: when the test run itself was started in the background (`cmd &`), the
    # shell set SIGINT to "ignore", which children inherit, and Python then never raises KeyboardInterrupt.
    return subprocess.Popen([sys.executable, "-m", "ncii_shield.cli", "scan", "--db", store, *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigkill_mid_scan_then_resume_equals_an_uninterrupted_scan(store: str, tmp_path: Path, workers: str) -> None:
    folder = tmp_path / "f"
    total = 360
    photo_folder(folder, total, size=640)
    for seed in (*BANKED_PDQ, BANKED_MD5):  # banked photos among them, so matches are compared too
        (folder / "nested" / f"banked-{seed}.jpg").write_bytes(photo(seed))
    tgz = tmp_path / "more.tar.gz"
    with tarfile.open(tgz, "w:gz") as t:
        t.add(folder / "nested", arcname="nested")
    reference = tmp_path / "reference.jsonl"
    whole = scan(store, str(folder), str(tgz), "--bank", "victims", "-o", str(reference), timeout=600)
    assert whole.returncode == 3, whole.stderr
    expected = reference.read_text()
    items = len(expected.splitlines())
    out = tmp_path / "out.jsonl"
    checkpoint = Path(f"{out}.checkpoint.sqlite")
    args = (str(folder), str(tgz), "--bank", "victims", "-o", str(out), "--workers", workers)
    kills = []
    for stop_at in (items // 4, items // 2):  # killed twice, at different points; each run resumes
        proc = _start(store, *args, *(("--resume",) if kills else ()))
        deadline = time.monotonic() + 300
        while _count(checkpoint) < stop_at and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        workers_of = _children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        _gone(workers_of)  # worker processes die with the scan, none lingers
        kills.append(_count(checkpoint))
        assert not out.exists()  # no output until the scan is whole
    assert 0 < kills[0] <= kills[1] < items, f"the kills must land mid-scan: {kills} of {items}"
    resumed = scan(store, *args, "--resume", timeout=600)
    assert resumed.returncode == 3, resumed.stderr
    assert f"({kills[1]:,} from an earlier run)" in said(resumed)
    assert out.read_text() == expected  # nothing missing, nothing twice, same order, same bytes
    keys = [json.loads(line)["key"] for line in expected.splitlines()]
    assert len(keys) == len(set(keys)) == 2 * (total + 4) - (total - total // 3)
    assert sum(json.loads(line)["status"] in ("near", "exact") for line in expected.splitlines()) == 8


@pytest.mark.slow
def test_ctrl_c_commits_and_resume_finishes(store: str, tmp_path: Path) -> None:
    folder = tmp_path / "f"
    items = 240  # + 1 banked
    photo_folder(folder, items, size=640)
    (folder / "banked.jpg").write_bytes(photo(0))
    out = tmp_path / "out.jsonl"
    checkpoint = Path(f"{out}.checkpoint.sqlite")
    proc = _start(store, str(folder), "-o", str(out))
    while _count(checkpoint) < 40 and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the scan finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "--resume" in stderr
    partial = _count(checkpoint)
    assert 40 <= partial < items + 1
    other = scan(store, str(tmp_path), "-o", str(out), "--resume")  # another source: refused, not mixed in
    assert other.returncode == 1 and "belongs to a scan of other sources" in said(other)
    resumed = scan(store, str(folder), "-o", str(out), "--resume")
    assert resumed.returncode == 3, resumed.stderr
    assert len(lines(out)) == items + 1 and len({r["key"] for r in lines(out)}) == items + 1
    fresh = scan(store, str(folder), "-o", str(tmp_path / "fresh.jsonl"))
    assert (tmp_path / "fresh.jsonl").read_text() == out.read_text()
