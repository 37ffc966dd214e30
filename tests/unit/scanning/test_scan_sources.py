"""Every source kind on real files made here, and hostile archives refused item by item."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from ncii_shield.errors import InvalidRequest, MediaTooLarge, RefusedSource
from ncii_shield.services.scanning.items import ErrorItem, SourceLimits, UrlItem
from ncii_shield.services.scanning.opening import open_source
from ncii_shield.services.scanning.sources import unsafe_name
from tests.scan_helpers import photo, photo_folder, warc_of, zip_of


def read_all(source_path: Path | str, limits: SourceLimits = SourceLimits(), done: frozenset = frozenset()):
    source = open_source(str(source_path), 0, limits)
    return source, [item for shard in source.shards(done) for item in shard.items()]


def errors(items) -> dict[str, str]:  # noqa: ANN001
    out = {}
    for item in items:
        if isinstance(item, ErrorItem):
            out[item.key] = str(item.error)
    return out


def test_folder_is_recursive_sorted_and_reads_bytes(tmp_path: Path) -> None:
    paths = photo_folder(tmp_path / "f", 7)
    source, items = read_all(tmp_path / "f")
    assert source.kind == "folder" and source.total() == 7
    keys = [i.key for i in items]
    assert keys == sorted(keys) and len(set(keys)) == 7
    assert [i.member for i in items] == list(range(7))
    by_key = {i.key: i for i in items}
    for path in paths:
        key = f"{source.label}/{path.relative_to(tmp_path / 'f')}"
        assert by_key[key].read() == path.read_bytes()
        assert by_key[key].size == path.stat().st_size


def test_folder_refuses_links_and_fifos_and_skips_done(tmp_path: Path) -> None:
    photo_folder(tmp_path / "f", 3)
    (tmp_path / "secret.txt").write_text("outside")
    os.symlink(tmp_path / "secret.txt", tmp_path / "f" / "link.jpg")
    os.symlink(tmp_path, tmp_path / "f" / "loop")  # a link to a folder (would loop) is not followed
    os.mkfifo(tmp_path / "f" / "pipe.jpg")  # reading a FIFO would block the scan forever
    source, items = read_all(tmp_path / "f")
    refused = errors(items)
    assert set(refused) == {f"{source.label}/link.jpg", f"{source.label}/loop", f"{source.label}/pipe.jpg"}
    assert "symbolic link" in refused[f"{source.label}/link.jpg"]
    assert "not a regular file" in refused[f"{source.label}/pipe.jpg"]
    done = frozenset(i.key for i in items[:4])
    _, rest = read_all(tmp_path / "f", done=done)
    assert [i.key for i in rest] == [i.key for i in items[4:]]
    assert [i.member for i in rest] == [i.member for i in items[4:]]  # positions are stable


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_zip_members_in_order_with_duplicates_and_directories(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("dir/", b"")
        archive.writestr("dir/one.jpg", photo(1))
        archive.writestr("two.jpg", photo(2))
        archive.writestr("two.jpg", photo(3))  # the same name twice: both scanned, keys stay unique
    source, items = read_all(path)
    assert source.kind == "zip"
    assert [i.key for i in items] == [f"{path}!dir/one.jpg", f"{path}!two.jpg", f"{path}!two.jpg#3"]
    assert [i.read() for i in items] == [photo(1), photo(2), photo(3)]


def test_zip_bomb_and_unsafe_names_are_refused_per_member(tmp_path: Path) -> None:
    path = tmp_path / "hostile.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.jpg", b"\0" * (50 * 1024 * 1024))  # 50 MiB of zeros: ~1000:1
        archive.writestr("../../etc/passwd.jpg", photo(1))
        archive.writestr("/abs/path.jpg", photo(2))
        archive.writestr("C:\\win.jpg", photo(3))
        archive.writestr("fine.jpg", photo(4))
        link = zipfile.ZipInfo("link.jpg")
        link.external_attr = 0o120777 << 16  # a symbolic link stored in the zip
        archive.writestr(link, "/etc/passwd")
    _, items = read_all(path)
    refused = errors(items)
    assert "zip bomb" in refused[f"{path}!bomb.jpg"] and ":1" in refused[f"{path}!bomb.jpg"]
    assert "climbs out" in refused[f"{path}!../../etc/passwd.jpg"]
    assert "absolute" in refused[f"{path}!/abs/path.jpg"] and "absolute" in refused[f"{path}!C:\\win.jpg"]
    assert "link" in refused[f"{path}!link.jpg"]
    assert [i.key for i in items if not isinstance(i, ErrorItem)] == [f"{path}!fine.jpg"]
    with pytest.raises(RefusedSource):
        next(i for i in items if i.key.endswith("bomb.jpg")).read()


def test_zip_over_member_count_or_total_size_is_refused_whole(tmp_path: Path) -> None:
    path = zip_of(tmp_path / "many.zip", {f"{i}.jpg": b"x" for i in range(50)})
    _, items = read_all(path, SourceLimits(max_members=20))
    assert len(items) == 1 and "50 members" in str(items[0].error) and "at most 20" in str(items[0].error)
    _, items = read_all(path, SourceLimits(max_total_bytes=10))
    assert len(items) == 1 and "would expand to 50 bytes" in str(items[0].error)


def test_zip_member_that_lies_about_its_size_is_capped(tmp_path: Path) -> None:
    path = zip_of(tmp_path / "big.zip", {"big.jpg": os.urandom(3000)})
    _, items = read_all(path, SourceLimits(max_item_bytes=1000))
    assert "at most 1,000 bytes" in str(items[0].error)


def tar_with(path: Path, mode: str, build) -> Path:  # noqa: ANN001
    with tarfile.open(path, mode) as archive:
        build(archive)
    return path


def add(archive: tarfile.TarFile, name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    archive.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


@pytest.mark.parametrize("suffix,mode", [(".tar", "w"), (".tar.gz", "w:gz"), (".tar.bz2", "w:bz2")])
def test_tar_is_streamed_and_hostile_members_refused(tmp_path: Path, suffix: str, mode: str) -> None:
    def build(archive: tarfile.TarFile) -> None:
        add(archive, "photos", kind=tarfile.DIRTYPE)
        add(archive, "photos/a.jpg", photo(1))
        add(archive, "../escape.jpg", photo(2))
        add(archive, "/etc/abs.jpg", photo(3))
        add(archive, "photos/link.jpg", kind=tarfile.SYMTYPE, link="/etc/shadow")
        add(archive, "photos/hard.jpg", kind=tarfile.LNKTYPE, link="photos/a.jpg")
        add(archive, "dev/sda", kind=tarfile.BLKTYPE)
        add(archive, "dev/fifo", kind=tarfile.FIFOTYPE)
        add(archive, "photos/b.jpg", photo(4))

    path = tar_with(tmp_path / f"a{suffix}", mode, build)
    source, items = read_all(path)
    assert source.kind == "tar"
    readable = [i for i in items if not isinstance(i, ErrorItem)]
    assert [(i.key, i.read()) for i in readable] == [(f"{path}!photos/a.jpg", photo(1)), (f"{path}!photos/b.jpg", photo(4))]
    refused = errors(items)
    assert "climbs out" in refused[f"{path}!../escape.jpg"]
    assert "absolute" in refused[f"{path}!/etc/abs.jpg"]
    assert "link" in refused[f"{path}!photos/link.jpg"] and "link" in refused[f"{path}!photos/hard.jpg"]
    assert "special" in refused[f"{path}!dev/sda"] and "special" in refused[f"{path}!dev/fifo"]
    assert [i.member for i in items] == sorted(i.member for i in items)


def test_tar_member_count_total_size_and_truncation(tmp_path: Path) -> None:
    path = tar_with(tmp_path / "many.tar.gz", "w:gz", lambda a: [add(a, f"{i}.jpg", b"xy") for i in range(30)])
    _, items = read_all(path, SourceLimits(max_members=10))
    assert len(items) == 11 and "more than 10 members" in str(items[-1].error)
    _, items = read_all(path, SourceLimits(max_total_bytes=9))
    assert "expands past 9 bytes" in str(items[-1].error) and len(items) == 5
    path = tar_with(tmp_path / "big.tar.gz", "w:gz", lambda a: [add(a, f"{i}.jpg", os.urandom(100_000))
                                                                for i in range(3)])
    data = path.read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(data[: len(data) // 2])  # cut inside the second member
    _, items = read_all(tmp_path / "cut.tar.gz")
    assert len(items) == 2 and isinstance(items[-1], ErrorItem)
    assert "corrupt or truncated" in str(items[-1].error)


def test_tar_bomb_member_refused_without_reading_it(tmp_path: Path) -> None:
    def build(archive: tarfile.TarFile) -> None:
        add(archive, "zeros.jpg", b"\0" * (4 * 1024 * 1024))
        add(archive, "ok.jpg", photo(1))

    path = tar_with(tmp_path / "bomb.tar.gz", "w:gz", build)
    _, items = read_all(path, SourceLimits(max_item_bytes=1024 * 1024))
    assert "at most 1,048,576" in str(items[0].error)
    assert items[1].read() == photo(1)


def test_warc_yields_image_and_video_responses_only(tmp_path: Path) -> None:
    path = warc_of(tmp_path / "crawl.warc.gz", [
        ("https://example.org/", "text/html", b"<html></html>"),
        ("https://example.org/a.jpg", "image/jpeg", photo(1)),
        ("https://example.org/b.jpg", "image/jpeg; charset=binary", photo(2)),
        ("https://example.org/a.jpg", "image/jpeg", photo(3)),  # fetched twice by the crawler
        ("https://example.org/v.mp4", "video/mp4", b"\0\0\0\x18ftypmp42"),
    ])
    source, items = read_all(path)
    assert source.kind == "warc"
    assert [i.key for i in items] == [f"{path}!https://example.org/a.jpg", f"{path}!https://example.org/b.jpg",
                                      f"{path}!https://example.org/a.jpg#3", f"{path}!https://example.org/v.mp4"]
    assert [i.read() for i in items[:3]] == [photo(1), photo(2), photo(3)]
    _, rest = read_all(path, done=frozenset({items[0].key}))
    assert [i.key for i in rest] == [i.key for i in items[1:]]


def test_url_list_skips_comments_blank_and_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "urls.txt"
    path.write_text("# list\nhttps://example.org/a.jpg\n\nhttps://example.org/a.jpg\nftp://x/y.jpg\nhttp://e.org/b\n")
    source, items = read_all(path)
    assert source.kind == "urls" and source.total() == 3
    assert [(i.member, i.key) for i in items] == [(2, "https://example.org/a.jpg"), (5, "ftp://x/y.jpg"),
                                                 (6, "http://e.org/b")]
    assert isinstance(items[0], UrlItem) and "not an http(s) URL" in str(items[1].error)


def test_unknown_sources_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="no such file or folder"):
        open_source(str(tmp_path / "missing"), 0)
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01binary")
    with pytest.raises(InvalidRequest, match="not a source we read"):
        open_source(str(tmp_path / "blob.bin"), 0)


def test_unsafe_names() -> None:
    assert unsafe_name("a/b.jpg") is None and unsafe_name("a..b.jpg") is None
    for bad in ("../a", "a/../../b", "/a", "\\a", "C:a", "", "a\0b", "a\\..\\b"):
        assert unsafe_name(bad), bad


def test_file_item_over_cap_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "big.jpg").write_bytes(b"x" * 5000)
    _, items = read_all(tmp_path / "f", SourceLimits(max_item_bytes=100))
    with pytest.raises(MediaTooLarge, match="at most 100 bytes"):
        items[0].read()


RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>t</title>
<item><title>a</title><enclosure url="https://example.org/a.jpg" type="image/jpeg" length="1"/></item>
<item><title>b</title><media:content url="https://example.org/b.mp4" type="video/mp4"/></item>
<item><title>c</title><enclosure url="https://example.org/c.mp3" type="audio/mpeg" length="1"/></item>
<item><title>a again</title><enclosure url="https://example.org/a.jpg" type="image/jpeg" length="1"/></item>
</channel></rss>"""
ATOM = """<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><link rel="alternate" href="https://example.org/post"/>
<link rel="enclosure" href="https://example.org/x.png" type="image/png"/></entry></feed>"""


def test_rss_and_atom_feeds_yield_their_media_urls(tmp_path: Path) -> None:
    (tmp_path / "feed.xml").write_text(RSS)
    source, items = read_all(tmp_path / "feed.xml")
    assert source.kind == "feed"
    assert [(i.member, i.key) for i in items] == [(0, "https://example.org/a.jpg"), (1, "https://example.org/b.mp4")]
    assert all(isinstance(i, UrlItem) for i in items)
    (tmp_path / "atom.xml").write_text(ATOM)
    _, items = read_all(tmp_path / "atom.xml")
    assert [i.key for i in items] == ["https://example.org/x.png"]


def test_a_feed_with_entities_is_refused(tmp_path: Path) -> None:
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
            '<rss><channel><item><enclosure url="https://e.org/&lol2;.jpg"/></item></channel></rss>')
    (tmp_path / "bomb.xml").write_text(bomb)
    source, items = read_all(tmp_path / "bomb.xml")
    assert source.kind == "feed" and len(items) == 1 and "DOCTYPE" in str(items[0].error)
    (tmp_path / "broken.xml").write_text("<rss><channel><item>")
    _, items = read_all(tmp_path / "broken.xml")
    assert "not well-formed" in str(items[0].error)
