"""Monitors: new items only, per-run time series, claims across processes, serve's background
thread, /v1/monitors, the dashboard's SVG and /metrics, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from ncii_shield.core import Shield
from ncii_shield.errors import InvalidRequest, NotFound, PermissionDenied
from ncii_shield.services.banks import SignalInput
from ncii_shield.services.hashing import hash_photo_bytes
from ncii_shield.services.scanning.monitors import MonitorService, parse_every
from ncii_shield.services.scanning.scanner import Scanner
from tests.scan_helpers import LoopbackServer, photo, photo_folder
from tests.servers import cli, start_server


def banked(url: str) -> Shield:
    shield = Shield.open(url)
    who = shield.local_principal("default")
    shield.banks.create(who, "victims")
    shield.banks.add(who, "victims", [SignalInput("pdq", hash_photo_bytes(photo(s)).pdq) for s in (0, 1)])
    shield.follower.catch_up()
    return shield


def test_new_items_only_and_a_time_series(db_url: str, tmp_path: Path) -> None:
    shield = banked(db_url)
    try:
        who = shield.local_principal("default")
        monitors = MonitorService(shield.db)
        hits: list[tuple[int, str]] = []
        monitors.on_match = lambda tenant_id, monitor_id, result: hits.append((monitor_id, result["key"]))
        folder = tmp_path / "drop"
        photo_folder(folder, 4, start=2)  # nothing banked yet
        view = monitors.add(who, str(folder), every="1h", banks=["victims"])
        scanner_for = lambda settings: Scanner(settings, shield.uploads)  # noqa: E731
        first = monitors.run_due(scanner_for)
        assert [(r.items_seen, r.new_items, r.matches) for r in first] == [(4, 4, 0)]
        assert monitors.run_due(scanner_for) == []  # not due again for an hour
        (folder / "copy-of-0.jpg").write_bytes(photo(0))
        (folder / "copy-of-1.jpg").write_bytes(photo(1))
        (folder / "broken.jpg").write_bytes(b"\xff\xd8 nope")
        later = datetime.now(UTC) + timedelta(hours=1, seconds=1)
        second = monitors.run_due(scanner_for, now=later)
        assert [(r.items_seen, r.new_items, r.matches, r.errors) for r in second] == [(7, 3, 2, 1)]
        assert sorted(k.rsplit("/", 1)[1] for _, k in hits) == ["copy-of-0.jpg", "copy-of-1.jpg"]
        third = monitors.run_due(scanner_for, force=True)
        assert [(r.items_seen, r.new_items) for r in third] == [(7, 0)]
        series = monitors.series(who, view.id)
        assert [(s["items_seen"], s["new_items"], s["matches"]) for s in series] == [(4, 4, 0), (7, 3, 2), (7, 0, 0)]
        listed = monitors.list(who)[0]
        assert (listed.runs, listed.items_scanned, listed.matches) == (3, 7, 2)
        other = shield.local_principal("someone-else")
        assert monitors.list(other) == []  # tenants see their own monitors only
        with pytest.raises(NotFound):
            monitors.series(other, view.id)  # nor their time series
        with pytest.raises(NotFound):
            monitors.series(who, 2**70)  # an id no database integer holds: not found, not a crash
        with pytest.raises(NotFound):
            monitors.remove(other, view.id)
        monitors.remove(who, view.id)
        assert monitors.list(who) == []
    finally:
        shield.close()


def test_reviewers_see_sources_without_their_secrets(db_url: str) -> None:
    """A feed address may carry credentials or a token: the platform's keys see it whole, a reviewer
    (a person reading the monitors page) without them."""
    from dataclasses import replace

    shield = banked(db_url)
    try:
        who = shield.local_principal("default")
        monitors = MonitorService(shield.db)
        view = monitors.add(who, "https://crawler:hunter2@feeds.example/new.rss?token=abc123", every="1h",
                            banks=["victims"])
        assert monitors.list(who)[0].source == view.source  # admin (and match keys): whole
        reviewer = replace(who, scopes=frozenset({"reviewer"}))
        seen = monitors.list(reviewer)[0].source
        assert seen == "https://***@feeds.example/new.rss?***" and "hunter2" not in seen and "abc123" not in seen
        assert monitors.series(reviewer, view.id) == []
        with pytest.raises(PermissionDenied):
            monitors.list(replace(who, scopes=frozenset({"bank:write"})))
    finally:
        shield.close()


def test_a_due_monitor_runs_once_when_two_runners_race(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    shield = banked(url)
    try:
        folder = tmp_path / "f"
        photo_folder(folder, 6)
        monitors = MonitorService(shield.db)
        monitors.add(shield.local_principal("default"), str(folder), every="1m")
        reports: list = []
        barrier = threading.Barrier(3)

        def race() -> None:
            barrier.wait()
            reports.extend(MonitorService(shield.db).run_due(lambda s: Scanner(s, shield.uploads)))

        threads = [threading.Thread(target=race) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [(r.new_items, r.matches) for r in reports] == [(6, 2)]
    finally:
        shield.close()


def test_add_refuses_bad_input(tmp_path: Path) -> None:
    shield = banked(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        who = shield.local_principal("default")
        monitors = MonitorService(shield.db)
        with pytest.raises(InvalidRequest, match="no such file"):
            monitors.add(who, str(tmp_path / "missing"), every="1h")
        with pytest.raises(NotFound, match="no bank called 'nope'"):
            monitors.add(who, str(tmp_path), every="1h", banks=["nope"])
        monitors.add(who, str(tmp_path), every="1h")
        with pytest.raises(InvalidRequest, match="already monitored"):
            monitors.add(who, str(tmp_path), every="2h")
    finally:
        shield.close()
    assert parse_every("90s") == 90 and parse_every("1h") == 3600 and parse_every("2d") == 172800
    for bad in ("1", "h", "5s", "1 week", ""):
        with pytest.raises(InvalidRequest):
            parse_every(bad)


@pytest.mark.slow
def test_serve_runs_due_monitors_and_shows_them(tmp_path: Path) -> None:
    """A real server: its background thread runs a URL-list monitor fetched from a loopback server;
    /v1/monitors, the dashboard and /metrics show the series."""
    db = f"sqlite:///{tmp_path / 'store.db'}"
    banked(db).close()
    files = LoopbackServer({"/0.jpg": photo(0), "/5.jpg": photo(5)})
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{files.url}/0.jpg\n{files.url}/5.jpg\n")
    added = cli("monitor", "add", str(urls), "--every", "1m", "--bank", "victims", "--allow-loopback", "--db", db)
    assert added.returncode == 0, added.stderr
    server = start_server(db, tmp_path, env={"NCII_SHIELD_MONITOR_INTERVAL": "0.5"})
    try:
        key = cli("keys", "create", "--scope", "match", "--db", db).stdout
        token = re.search(r"nsk_[0-9a-f]{10}_[A-Za-z0-9_\-]+", key).group(0)
        headers = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 60
        listed: list = []
        while time.monotonic() < deadline:
            listed = httpx.get(f"{server.url}/v1/monitors", headers=headers).json()
            if listed and listed[0]["runs"] >= 1:
                break
            time.sleep(0.2)
        assert listed[0]["runs"] == 1 and listed[0]["items_scanned"] == 2 and listed[0]["matches"] == 1, listed
        runs = httpx.get(f"{server.url}/v1/monitors/{listed[0]['id']}/runs", headers=headers).json()
        assert httpx.get(f"{server.url}/v1/monitors/{2**70}/runs", headers=headers).status_code == 422
        assert [(r["items_seen"], r["new_items"], r["matches"]) for r in runs] == [(2, 2, 1)]
        page = httpx.get(f"{server.url}/v1/monitors/dashboard", headers=headers)
        assert page.status_code == 200 and "<svg" in page.text and "<polyline" in page.text
        assert "<script" not in page.text and "script-src 'self'" in page.headers["content-security-policy"]
        assert httpx.get(f"{server.url}/v1/monitors/dashboard").status_code == 401
        reviewer = re.search(r"nsk_[0-9a-f]{10}_[A-Za-z0-9_\-]+",
                             cli("keys", "create", "--scope", "reviewer", "--db", db).stdout).group(0)
        queue = httpx.get(f"{server.url}/v1/review/queue", headers={"Authorization": f"Bearer {reviewer}"}).json()
        queued = [i for i in queue["items"] if i["kind"] == "match"]  # the match went to the review queue
        assert len(queued) == 1 and queued[0]["content_id"] == f"{files.url}/0.jpg", queue
        # reviewers read the monitors too: over the API, and in the browser after logging in
        assert httpx.get(f"{server.url}/v1/monitors", headers={"Authorization": f"Bearer {reviewer}"}).json() == listed
        writer = re.search(r"nsk_[0-9a-f]{10}_[A-Za-z0-9_\-]+",
                           cli("keys", "create", "--scope", "bank:write", "--db", db).stdout).group(0)
        assert httpx.get(f"{server.url}/v1/monitors", headers={"Authorization": f"Bearer {writer}"}).status_code == 403
        with httpx.Client(base_url=server.url) as browser:
            assert browser.get("/review/monitors").headers["location"] == "/review/login"
            form = browser.get("/review/login").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
            assert browser.post("/review/login", data={"csrf": csrf, "api_key": reviewer}).status_code == 303
            page = browser.get("/review/monitors")
            assert page.status_code == 200 and 'id="monitor-1"' in page.text and "urls.txt" in page.text
            assert "<polyline" in page.text and "2 items scanned" in page.text and "1 matches" in page.text
            assert "<script>" not in page.text and "script-src 'self'" in page.headers["content-security-policy"]
        metrics = httpx.get(f"{server.url}/metrics").text
        assert re.search(r'ncii_monitor_matches_total\{monitor="1",source="[^"]*urls.txt"\} 1.0', metrics), metrics
        assert re.search(r'ncii_monitor_items_scanned_total\{monitor="1",[^}]*\} 2.0', metrics)
    finally:
        server.stop()
        files.stop()


def test_a_remote_feed_monitor_scans_what_the_feed_adds(tmp_path: Path) -> None:
    """An RSS feed on a loopback server: each run scans only the enclosures it has not seen."""
    shield = banked(f"sqlite:///{tmp_path / 'store.db'}")
    server = LoopbackServer({"/0.jpg": photo(0), "/5.jpg": photo(5), "/1.jpg": photo(1)})

    def feed(*names: str) -> bytes:
        items = "".join(f'<item><enclosure url="{server.url}/{n}" type="image/jpeg"/></item>' for n in names)
        return f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'.encode()

    try:
        server.files["/feed.xml"] = feed("5.jpg")
        monitors = MonitorService(shield.db)
        who = shield.local_principal("default")
        view = monitors.add(who, f"{server.url}/feed.xml", every="1h", allow_loopback=True)
        assert view.source == f"{server.url}/feed.xml"
        scanner_for = lambda settings: Scanner(settings, shield.uploads)  # noqa: E731
        first = monitors.run_due(scanner_for)
        server.files["/feed.xml"] = feed("0.jpg", "1.jpg", "5.jpg")  # newest first, as feeds do
        second = monitors.run_due(scanner_for, force=True)
        assert [(r.items_seen, r.new_items, r.matches, r.errors) for r in first + second] == [(1, 1, 0, 0), (3, 2, 2, 0)]
    finally:
        server.stop()
        shield.close()


def test_an_explicit_monitor_scans_with_the_explicit_context(tmp_path: Path) -> None:
    """A per-source flag: a monitor of an adult site's uploads passes ``explicit`` to the pipeline
    (so likeness searches faces there); an ordinary monitor does not."""
    url = f"sqlite:///{tmp_path / 'm.db'}"
    shield = banked(url)
    try:
        admin = shield.local_principal("default")
        folder = tmp_path / "adult"
        photo_folder(folder, 2)
        plain_folder = tmp_path / "plain"
        photo_folder(plain_folder, 2)
        service = MonitorService(shield.db)
        explicit = service.add(admin, str(folder), every="1h", explicit=True)
        plain = service.add(admin, str(plain_folder), every="1h")
        assert (explicit.explicit, plain.explicit) == (True, False)
        seen: dict[int, bool] = {}

        def scanner_for(settings):  # noqa: ANN001, ANN202
            seen[len(seen)] = settings.explicit
            return Scanner(settings, shield.uploads)

        service.run(explicit.id, scanner_for)
        service.run(plain.id, scanner_for)
        assert seen == {0: True, 1: False}
    finally:
        shield.close()
