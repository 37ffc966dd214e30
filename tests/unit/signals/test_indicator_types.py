"""Service indicator signal types: url and url_md5 exactly as python-threatexchange normalises them
(checked against the installed ``threatexchange`` package), domain, telegram and app_id."""

from __future__ import annotations

import hashlib

import pytest
from threatexchange import common as pytx_common
from threatexchange.signal_type.url import URLSignal
from threatexchange.signal_type.url_md5 import UrlMD5Signal

from ncii_shield.errors import InvalidSignal
from ncii_shield.index.exact import KeyedExactIndex
from ncii_shield.signals.app_id import AppIdSignal
from ncii_shield.signals.domain import DomainSignal
from ncii_shield.signals.indicator import MAX_LENGTH, parents
from ncii_shield.signals.telegram import TelegramSignal
from ncii_shield.signals.url import UrlSignal, normalize_url, url_key
from ncii_shield.signals.url_md5 import UrlMd5Signal, hash_url

# URLs where a home-made normaliser would go wrong: case, schemes, ports, user info, IDN, percent
# escapes, empty query and fragment (urllib drops them), ';' parameters, a second '://' in the path
# (pytx removes the first "scheme://" wherever it is), no scheme at all, '//' without scheme, opaque
# schemes, tabs and newlines inside (urllib removes them), unicode paths, trailing dots.
TRICKY = [
    "https://developers.facebook.com/docs/threat-exchange/reference/apis/",
    "HtTPs://wWw.faCeBook.cOM",
    "http://Example.com:8080/A/B?Q=1#Frag",
    "www.facebook.com",
    "drive.google.com/drive/u/0/folders/",
    "twitter.com/userabc/status/1452649689363451231217/?lang=fr",
    "https://example.com/?",
    "https://example.com/#",
    "https://example.com/path;params?x=1",
    "https://user:PASS@example.com/x",
    "http://example.com/redirect?to=https://nudify.example/a",
    "example.com/a://b",
    "//cdn.example.com/x.png",
    "ftp://files.example.com/pub/",
    "http:example.com/x",
    "mailto:someone@example.com",
    "https://bücher.example/straße?q=ä",
    "https://xn--bcher-kva.example/",
    "https://example.com/%7Euser/%E2%9C%93",
    "https://example.com/a b",
    "https://exa\tmple.com/\nx",
    "HTTPS://EXAMPLE.COM.",
    "https://[2001:db8::1]:443/x",
    "https://t.me/s/Nudify_Bot/12",
    "https://play.google.com/store/apps/details?id=com.Example.App&hl=en",
    "data:text/plain,hello",
    "https://example.com/../a/./b",
    "  https://example.com/padded  ",
]


@pytest.mark.parametrize("url", TRICKY)
def test_normalize_url_equals_threatexchanges(url):
    assert normalize_url(url).encode("utf-8") == pytx_common.normalize_url(url)


@pytest.mark.parametrize("url", TRICKY)
def test_url_md5_equals_threatexchanges_hash_from_str(url):
    assert hash_url(url) == UrlMD5Signal.hash_from_str(url)
    assert UrlMd5Signal.validate(hash_url(url)) == UrlMD5Signal.validate_signal_str(hash_url(url))


def test_url_md5_is_the_md5_of_the_normalised_url():
    assert hash_url("HTTPS://Example.com/A") == hashlib.md5(b"example.com/a").hexdigest()
    assert UrlMd5Signal.examples[0] == UrlMD5Signal.get_examples()[0]


@pytest.mark.parametrize("url", [u for u in TRICKY if UrlSignal.accepts(u)])
def test_url_values_are_kept_as_threatexchange_keeps_them(url):
    """pytx's URLSignal.validate_signal_str strips and keeps the rest: so do we, so an exported
    ``url`` line is the value that came in."""
    assert UrlSignal.validate(url) == URLSignal.validate_signal_str(url)


def test_url_refuses_what_names_no_host_and_bounds_length():
    for bad in ("xyz", "null", "https://", "mailto", "http://[::1/x", "a b.example", "https://example.com/a b",
                "x" * 10 + ".example/" + "a" * MAX_LENGTH):
        with pytest.raises(InvalidSignal, match="expected"):
            UrlSignal.validate(bad)
    assert UrlSignal.validate("https://192.0.2.7/x") == "https://192.0.2.7/x"


def test_url_index_matches_by_the_normal_form():
    index = UrlSignal.index_factory()()
    index.add(UrlSignal.validate("HTTPS://Nudify.Example/Pricing"), 7)
    assert [m.id for m in index.query("http://nudify.example/pricing")] == [7]
    assert [m.id for m in index.query("nudify.example/pricing")] == [7]
    assert index.query("nudify.example/pricing/x") == []
    assert url_key("http://[::1/x") == "http://[::1/x"  # urllib refuses it: the key is the lower-cased text


def test_keyed_index_add_remove_replace_and_arrays():
    index = KeyedExactIndex(str.lower)
    index.add("A.example", 1)
    index.add("a.EXAMPLE", 2)
    index.add("b.example", 3)
    assert [m.id for m in index.query("a.example")] == [1, 2]
    index.add("c.example", 2)  # same id again: replaces its value
    assert [m.id for m in index.query("a.example")] == [1]
    query, ids, distance = index.query_arrays(["zzz", "C.example", "a.example", "b.example"])
    assert query.tolist() == [1, 2, 3] and ids.tolist() == [2, 1, 3] and distance.tolist() == [0, 0, 0]
    index.remove(1)
    index.remove(99)  # unknown: nothing happens
    assert index.query("a.example") == [] and len(index) == 2


@pytest.mark.parametrize(("given", "canonical"), [
    ("Nudify.Example", "nudify.example"),
    ("nudify.example.", "nudify.example"),
    ("*.nudify.example", "nudify.example"),
    (".nudify.example", "nudify.example"),
    ("BÜCHER.example", "xn--bcher-kva.example"),
    ("my_site.host.example", "my_site.host.example"),
])
def test_domain_canonical_forms(given, canonical):
    assert DomainSignal.validate(given) == canonical


@pytest.mark.parametrize("bad", ["https://nudify.example", "nudify.example/x", "nudify.example:80", "localhost",
                                 "192.0.2.1", "-bad.example", "bad-.example", "a..example", "a" * 64 + ".example",
                                 "user@nudify.example", "example.123"])
def test_domain_refusals(bad):
    with pytest.raises(InvalidSignal, match="expected"):
        DomainSignal.validate(bad)


@pytest.mark.parametrize("suffix", ["co.uk", "github.io", "Blogspot.com", "*.s3.amazonaws.com"])
def test_domain_refuses_public_suffixes(suffix):
    # One entry for a public suffix would match every site registered under it.
    with pytest.raises(InvalidSignal, match="public suffix"):
        DomainSignal.validate(suffix)
    assert DomainSignal.validate("nudify." + suffix.removeprefix("*.")) == "nudify." + suffix.removeprefix("*.").lower()


def test_parents_stop_at_two_labels():
    assert parents("a.b.nudify.example") == ["a.b.nudify.example", "b.nudify.example", "nudify.example"]
    assert parents("nudify.example") == ["nudify.example"]


@pytest.mark.parametrize("given", ["@NudifyExampleBot", "NudifyExampleBot", "nudifyexamplebot", "t.me/NudifyExampleBot",
                                   "https://t.me/NudifyExampleBot", "https://t.me/s/NudifyExampleBot",
                                   "https://t.me/NudifyExampleBot/123", "telegram.me/nudifyexamplebot",
                                   "https://telegram.dog/NudifyExampleBot?start=x", "NudifyExampleBot.t.me",
                                   "tg://resolve?domain=NudifyExampleBot"])
def test_telegram_spellings_share_one_canonical_form(given):
    assert TelegramSignal.validate(given) == "nudifyexamplebot"


@pytest.mark.parametrize("bad", ["@abc", "@" + "a" * 33, "@1nudify", "@nudify_", "https://t.me/+AbCdEfGh",
                                 "https://t.me/joinchat/AbCdEf", "https://t.me/share/url?url=x", "https://example.com/nudifybot",
                                 "@nudi-fybot", "tg://msg?text=hello"])
def test_telegram_refusals(bad):
    with pytest.raises(InvalidSignal, match="expected"):
        TelegramSignal.validate(bad)


@pytest.mark.parametrize(("given", "canonical"), [
    ("com.example.undress", "com.example.undress"),
    ("Com.Example.Undress", "com.example.undress"),
    ("ai.nudify-example.ios", "ai.nudify-example.ios"),
    ("id1234567890", "id1234567890"),
    ("ID1234567890", "id1234567890"),
    ("https://play.google.com/store/apps/details?id=com.Example.Undress&hl=en", "com.example.undress"),
    ("market://details?id=com.example.undress", "com.example.undress"),
    ("https://apps.apple.com/us/app/undress-ai/id1234567890", "id1234567890"),
    ("https://itunes.apple.com/app/id1234567890?mt=8", "id1234567890"),
])
def test_app_id_canonical_forms(given, canonical):
    assert AppIdSignal.validate(given) == canonical


@pytest.mark.parametrize("bad", ["undress", "1234567890", "id12", "com", ".com.example", "com.example.",
                                 "https://play.google.com/store/apps/details", "https://apps.apple.com/us/app/x",
                                 "https://example.com/details?id=com.example.app", "com.exa mple.app"])
def test_app_id_refusals(bad):
    with pytest.raises(InvalidSignal, match="expected"):
        AppIdSignal.validate(bad)
