"""Checking URL and customer lists against banks of service indicators (SQLite and PostgreSQL):
matches name the bank and the entry; a key sees only its visible banks; parent domains match,
siblings do not; banks of indicators travel in exports, imports and feeds."""

from __future__ import annotations

import io
import json

import pytest

from ncii_shield.services.banks import SignalInput
from ncii_shield.services.exchange import formats
from ncii_shield.services.indicators import IndicatorService, read_lines
from ncii_shield.services.uploads.detectors import Scope
from ncii_shield.signals.indicator import MAX_LENGTH
from ncii_shield.signals.url_md5 import hash_url
from tests.servers import cli


def _bank(shield, principal, name, items, *, shared=False, label=None):
    shield.banks.create(principal, name, shared=shared)
    return [a.id for a in shield.banks.add(principal, name, [SignalInput(t, v, {"label": label} if label else None)
                                                             for t, v in items])]


def _check(shield, principal, lines, **kw):
    service = IndicatorService(shield.follower, shield.db)
    return list(service.check(Scope(principal, shield.follower, banks=frozenset(kw.pop("banks", ()))), lines, **kw))


def test_a_scan_names_bank_and_entry_for_every_kind_of_indicator(data_shield):
    admin = data_shield.local_principal("platform")
    ids = _bank(data_shield, admin, "nudify-services", [
        ("domain", "nudify.example"), ("url", "https://Undress.example/Pricing"),
        ("url_md5", hash_url("https://other.example/app")), ("telegram", "@NudifyExampleBot"),
        ("app_id", "com.example.undress"), ("app_id", "id1234567890"),
    ], label="Nudify")
    domain, url, url_md5, telegram, android, apple = ids
    results = _check(data_shield, data_shield.local_principal("platform", ("match",)), [
        "https://cdn.nudify.example/img/1.jpg",          # parent domain
        "http://undress.example/pricing#plans",          # url, other scheme and case, fragment
        "other.example/app/",                            # url_md5 with the trailing '/' toggled
        "https://t.me/s/nudifyexamplebot",               # telegram link
        "@NUDIFYEXAMPLEBOT",
        "https://play.google.com/store/apps/details?id=com.example.undress",
        "https://apps.apple.com/gb/app/undress/id1234567890",
        "com.example.undress",                           # a store's listing id
        "clean.example",
    ])
    found = [[(m.bank, m.signal_id, m.signal_type, m.via, m.matched) for m in r.matches] for r in results]
    assert found == [
        [("nudify-services", domain, "domain", "parent_domain", "nudify.example")],
        [("nudify-services", url, "url", "url", "undress.example/pricing")],
        [("nudify-services", url_md5, "url_md5", "url_md5", hash_url("other.example/app"))],
        [("nudify-services", telegram, "telegram", "telegram", "nudifyexamplebot")],
        [("nudify-services", telegram, "telegram", "telegram", "nudifyexamplebot")],
        [("nudify-services", android, "app_id", "app_id", "com.example.undress")],
        [("nudify-services", apple, "app_id", "app_id", "id1234567890")],
        [("nudify-services", android, "app_id", "app_id", "com.example.undress")],
        [],
    ]
    assert [r.status for r in results] == ["match"] * 8 + ["no_match"]
    assert [r.line for r in results] == list(range(1, 10))
    # a match-only key learns which entry matched, never the stored value or its label
    assert "value" not in results[1].matches[0].to_json()
    described = _check(data_shield, admin, ["http://undress.example/pricing"])[0].matches[0]
    assert described.value == "https://Undress.example/Pricing" and described.metadata == {"label": "Nudify"}


def test_parent_domains_match_but_siblings_and_lookalikes_do_not(data_shield):
    who = data_shield.local_principal("platform")
    (entry,) = _bank(data_shield, who, "services", [("domain", "b.nudify.example")])
    hits = {r.input: [m.via for m in r.matches] for r in _check(data_shield, who, [
        "b.nudify.example", "x.y.b.nudify.example", "https://deep.B.Nudify.Example:8443/x",
        "nudify.example", "a.nudify.example", "b.nudify.example.org", "xb.nudify.example", "b-nudify.example"])}
    assert hits == {"b.nudify.example": ["domain"], "x.y.b.nudify.example": ["parent_domain"],
                    "https://deep.B.Nudify.Example:8443/x": ["parent_domain"], "nudify.example": [],
                    "a.nudify.example": [], "b.nudify.example.org": [], "xb.nudify.example": [],
                    "b-nudify.example": []}
    assert entry


def test_a_key_sees_only_its_visible_banks(data_shield):
    mine = data_shield.local_principal("platform-a")
    theirs = data_shield.local_principal("platform-b")
    (own,) = _bank(data_shield, mine, "a-private", [("domain", "private.example")])
    (shared,) = _bank(data_shield, theirs, "b-shared", [("domain", "shared.example")], shared=True)
    _bank(data_shield, theirs, "b-private", [("domain", "hidden.example")])
    lines = ["private.example", "shared.example", "hidden.example"]
    seen = [[(m.bank, m.signal_id, m.shared) for m in r.matches] for r in _check(data_shield, mine, lines)]
    assert seen == [[("a-private", own, False)], [("b-shared", shared, True)], []]
    # bank:read (the local principal holds every scope) reads back its own entries, not a shared bank's
    described = {m.bank: (m.value, m.metadata) for r in _check(data_shield, mine, lines) for m in r.matches}
    assert described == {"a-private": ("private.example", None), "b-shared": (None, None)}
    assert "value" not in _check(data_shield, mine, ["shared.example"])[0].matches[0].to_json()
    other = [[m.bank for m in r.matches] for r in _check(data_shield, theirs, lines)]
    assert other == [[], ["b-shared"], ["b-private"]]
    # --bank narrows further; a disabled bank matches nothing
    assert [[m.bank for m in r.matches] for r in _check(data_shield, mine, lines, banks={"b-shared"})] == [[], ["b-shared"], []]
    data_shield.banks.update(theirs, "b-shared", enabled=False)
    assert [r.status for r in _check(data_shield, mine, lines)] == ["match", "no_match", "no_match"]


def test_withdrawn_entries_stop_matching_and_bad_lines_are_results(data_shield):
    who = data_shield.local_principal("platform")
    (entry,) = _bank(data_shield, who, "services", [("telegram", "nudifyexamplebot")])
    data_shield.banks.withdraw(who, "services", entry)
    results = _check(data_shield, who, ["@nudifyexamplebot", "xyz", "telegram not-a-name!", "domain nudify.example"])
    assert [r.status for r in results] == ["no_match", "error", "error", "no_match"]
    assert "prefix the line with its type" in results[1].error and "expected" in results[2].error


def test_check_needs_the_match_scope(data_shield):
    from ncii_shield.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        _check(data_shield, data_shield.local_principal("platform", ("reviewer",)), ["nudify.example"])


def test_read_lines_skips_blanks_and_comments_and_bounds_long_lines():
    text = "a.example\n\n# comment\n" + "x" * (MAX_LENGTH + 10) + "\nb.example\n" + "y" * MAX_LENGTH + "\n"
    lines = list(read_lines(io.StringIO(text)))
    assert lines == [(1, "a.example"), (4, None), (5, "b.example"), (6, "y" * MAX_LENGTH)]
    rows = io.StringIO('id,domain,plan\n17,"Cdn.Nudify.example",pro\n18\n# comment\n19,clean.example,free\n')
    assert list(read_lines(rows, column=2)) == [(1, "domain"), (2, "Cdn.Nudify.example"), (3, ""), (5, "clean.example")]


def test_indicator_banks_travel_in_exports_imports_and_pytx_files(data_shield, tmp_path):
    who = data_shield.local_principal("platform")
    items = [("url", "https://Undress.example/Pricing"), ("url_md5", hash_url("other.example/app")),
             ("domain", "nudify.example"), ("telegram", "nudifyexamplebot"), ("app_id", "com.example.undress")]
    ids = _bank(data_shield, who, "services", items)
    rows = [formats.ExportSignal(i, t, v, None, False, __import__("datetime").datetime.now()) for i, (t, v) in zip(ids, items)]
    pytx = formats.export(rows, "pytx")
    assert pytx.text == f"url https://Undress.example/Pricing\nurl_md5 {hash_url('other.example/app')}\n"
    assert pytx.unsupported == 3  # domain, telegram, app_id: no python-threatexchange name
    # python-threatexchange's own local-file reader takes the export
    from threatexchange.exchanges.impl.file_api import FileCollaborationConfig, LocalFileSignalExchangeAPI
    path = tmp_path / "pytx.txt"
    path.write_text(pytx.text)
    api = LocalFileSignalExchangeAPI.for_collab(FileCollaborationConfig(name="f", filename=str(path)))
    assert {k for d in api.fetch_iter([], None) for k in d.updates} == {
        ("url", "https://Undress.example/Pricing"), ("url_md5", hash_url("other.example/app"))}
    # every type round-trips through jsonl into another bank
    jsonl = formats.export(rows, "jsonl").text
    records = [r for r in formats.read(io.StringIO(jsonl), "jsonl") if r.op == "add"]
    data_shield.banks.create(who, "copy")
    data_shield.banks.add(who, "copy", [SignalInput(r.signal_type, r.value) for r in records])
    assert [r.matches[0].bank for r in _check(data_shield, who, ["http://undress.example/pricing"], banks={"copy"})] == ["copy"]
    assert {r.signal_type for r in records} == {t for t, _ in items}


def test_cli_add_and_check(tmp_path):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    env = {"NCII_SHIELD_DB": db, "NCII_SHIELD_DATA": str(tmp_path)}
    added = cli("indicators", "add", "nudify-services", "--type", "domain", "nudify.example", "--label", "Nudify", env=env)
    assert added.returncode == 0, added.stderr
    urls = tmp_path / "urls.txt"
    urls.write_text("https://cdn.nudify.example/a.jpg\nhttps://clean.example/\n\nxyz\n")
    run = cli("indicators", "check", str(urls), "--json", env=env)
    assert run.returncode == 3, run.stderr
    out = [json.loads(line) for line in run.stdout.splitlines()]
    assert [o["status"] for o in out] == ["match", "no_match", "error"]
    assert out[0]["matches"][0] | {"signal_id": 0} == {
        "bank": "nudify-services", "signal_id": 0, "signal_type": "domain", "via": "parent_domain",
        "matched": "nudify.example", "shared": False, "value": "nudify.example", "metadata": {"label": "Nudify"}}
    table = cli("indicators", "check", str(urls), env=env)
    assert table.returncode == 3 and "nudify-services" in table.stdout and "Nudify" in table.stdout
    clean = tmp_path / "clean.txt"
    clean.write_text("clean.example\n")
    assert cli("indicators", "check", str(clean), env=env).returncode == 0
    # lists come in with bank import: plain lines of one type, or 'TYPE VALUE' lines (pytx's shape)
    plain, typed = tmp_path / "domains.txt", tmp_path / "mixed.txt"
    plain.write_text("clean.example\n")
    typed.write_text("telegram @NudifyExampleBot\nurl https://Undress.example/Pricing\n")
    assert cli("bank", "import", "more", str(plain), "-f", "plain", "--signal-type", "domain", env=env).returncode == 0
    assert cli("bank", "import", "more", str(typed), env=env).returncode == 0
    both = tmp_path / "both.txt"
    both.write_text("clean.example\nhttps://t.me/nudifyexamplebot\nhttp://undress.example/pricing\n")
    out = [json.loads(line) for line in cli("indicators", "check", str(both), "--json", "--bank", "more",
                                             env=env).stdout.splitlines()]
    assert [[m["signal_type"] for m in o["matches"]] for o in out] == [["domain"], ["telegram"], ["url"]]
    customers = tmp_path / "customers.csv"
    customers.write_text("customer,domain\n1,shop.other.example\n2,img.nudify.example\n")
    rows = [json.loads(line) for line in cli("indicators", "check", str(customers), "--column", "2", "--json",
                                              env=env).stdout.splitlines()]
    assert [(r["line"], r["status"]) for r in rows] == [(1, "error"), (2, "no_match"), (3, "match")]
    assert rows[2]["input"] == "img.nudify.example" and rows[2]["matches"][0]["via"] == "parent_domain"
    missing = cli("indicators", "check", str(clean), "--bank", "nope", env=env)
    assert missing.returncode == 1 and "no bank called 'nope'" in missing.stderr


def test_indicator_banks_travel_over_signed_feeds_with_withdrawals(tmp_path, monkeypatch):
    """A publishes a bank of the five indicator types; B applies its signed pages and matches them;
    a withdrawal on A reaches B's bank by the next page."""
    from sqlalchemy import select

    from ncii_shield.core import Shield
    from ncii_shield.services.exchange import subscriber
    from ncii_shield.store.models import Subscription

    monkeypatch.setenv("NCII_SHIELD_DATA", str(tmp_path))  # the key that seals B's token, A's signing key
    a = Shield.open(f"sqlite:///{tmp_path / 'a.db'}")
    b = Shield.open(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        pa, pb = a.local_principal("publisher"), b.local_principal("platform")
        items = [("url", "https://Undress.example/Pricing"), ("url_md5", hash_url("other.example/app")),
                 ("domain", "nudify.example"), ("telegram", "nudifyexamplebot"), ("app_id", "com.example.undress")]
        ids = _bank(a, pa, "services", items)
        a.publisher.publish(pa, "services")
        token = a.publisher.add_subscriber(pa, "services", "platform-b")
        access = a.publisher.authenticate("services", token)
        subscriber.subscribe(b.db, pb, name="from-a", url="http://127.0.0.1:9", feed="services",
                             publisher_key=a.publisher.public_key, token=token, bank="from-a",
                             allow_private_address=True)
        with b.db.read() as session:
            sub_id = session.scalar(select(Subscription.id).where(Subscription.name == "from-a"))

        def pull() -> None:
            for _ in range(10):
                with b.db.read() as session:
                    cursor = session.get(Subscription, sub_id).cursor
                envelope = a.publisher.page(access, cursor)
                subscriber.apply_page(b.db, sub_id, envelope)
                if not envelope["page"]["more"]:
                    break
            b.follower.catch_up()

        pull()
        lines = ["http://undress.example/pricing", "other.example/app", "https://cdn.nudify.example/x",
                 "@NudifyExampleBot", "https://play.google.com/store/apps/details?id=com.example.undress"]
        found = [[(m.bank, m.signal_type) for m in r.matches] for r in _check(b, pb, lines)]
        assert found == [[("from-a", t)] for t, _ in items]
        a.banks.withdraw(pa, "services", ids[2])  # the domain
        pull()
        assert [r.status for r in _check(b, pb, lines)] == ["match", "match", "no_match", "match", "match"]
    finally:
        a.close()
        b.close()
