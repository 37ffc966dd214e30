"""DSA statements of reasons type each removed item by what is known of it (issue 22, item 6): the
content index's media type for a platform content id, the URL's file type for a request URL, and
``CONTENT_TYPE_OTHER`` when nothing is known, never "image" by default."""

from __future__ import annotations

from ncii_shield.services.content import ContentInput
from tests.integration.test_notices import complete

URLS = {"https://cdn.example/v/clip.MP4?token=1": "CONTENT_TYPE_VIDEO",
        "https://img.example/a/photo.jpeg": "CONTENT_TYPE_IMAGE",
        "https://forum.example/t/9": "CONTENT_TYPE_OTHER"}
CONTENT = {"vid-1": "CONTENT_TYPE_VIDEO", "img-1": "CONTENT_TYPE_IMAGE", "not-indexed": "CONTENT_TYPE_OTHER"}


def test_statement_content_types_use_what_is_known(data_shield):
    shield = data_shield
    t = shield.local_principal().tenant_id
    shield.content.register(t, [ContentInput("vid-1", md5="a" * 32, media_type="video"),
                                ContentInput("img-1", md5="b" * 32, media_type="image")])
    reference = shield.notices.submit(complete(urls=list(URLS), content_ids=list(CONTENT)), channel="api").notice.reference
    item = next(q for q in shield.review.queue(t) if q.reference == reference)
    shield.review.open(t, item.id, actor="key:rev")
    shield.review.decide(t, item.id, "remove", "intimate image published without consent", actor="key:rev")
    statements = shield.review.statement(t, item.id)["statements"]
    facts = {s["puid"]: s for s in statements}
    assert len(facts) == len(URLS) + len(CONTENT)
    got = sorted(tuple(s["content_type"]) for s in statements)
    assert got == sorted((c,) for c in [*URLS.values(), *CONTENT.values()])
    for s in statements:
        assert ("content_type_other" in s) == (s["content_type"] == ["CONTENT_TYPE_OTHER"])
