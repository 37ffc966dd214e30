"""Copy sweep: among 10,000 content ids, removing one photo finds its identical copy (removed with
the request) and a re-encoded copy (a near copy: queued for a person), and not an unrelated photo.
Hashes are computed from real image bytes, as the platform does from its own copies."""

from __future__ import annotations

import io
import secrets

import pytest
from PIL import Image
from sqlalchemy import func, select

from ncii_shield.core import Shield
from ncii_shield.services import audit
from ncii_shield.services.banks import SignalInput
from ncii_shield.services.content import ContentInput
from ncii_shield.services.hashing import hash_bytes
from ncii_shield.services.notices import NoticeSubmission
from ncii_shield.signals.pdq import PdqSignal
from ncii_shield.store.models import PlatformContent
from tests.conftest import ORIGINAL_JPG, PDQ_REFERENCE

UNRELATED_JPG = PDQ_REFERENCE / "reg-test-input" / "labelme-subset" / "q0003.jpg"


def hashes_of(data: bytes) -> dict:
    h = hash_bytes(data)
    return {"pdq": h.pdq, "md5": h.md5, "sha256": h.sha256}


def reencoded(data: bytes) -> bytes:
    """The same photo saved again: smaller, lower JPEG quality (different bytes, near PDQ)."""
    with Image.open(io.BytesIO(data)) as im:
        small = im.convert("RGB").resize((im.width * 2 // 3, im.height * 2 // 3))
    out = io.BytesIO()
    small.save(out, "JPEG", quality=40)
    return out.getvalue()


@pytest.fixture
def shield(data_shield):
    return data_shield


def test_sweep_finds_identical_and_reencoded_copies_among_10000(shield):
    tenant = shield.local_principal().tenant_id
    original = ORIGINAL_JPG.read_bytes()
    h_orig, h_recoded, h_other = hashes_of(original), hashes_of(reencoded(original)), hashes_of(UNRELATED_JPG.read_bytes())
    recoded_distance = PdqSignal.distance(h_orig["pdq"], h_recoded["pdq"])
    assert 0 < recoded_distance <= 31 and h_recoded["md5"] != h_orig["md5"]
    assert PdqSignal.distance(h_orig["pdq"], h_other["pdq"]) > 31

    items = [ContentInput(f"post-{i}", pdq=secrets.token_hex(32), md5=secrets.token_hex(16),
                          sha256=secrets.token_hex(32)) for i in range(9_996)]
    items += [ContentInput("reported", **h_orig), ContentInput("identical-copy", **h_orig),
              ContentInput("reencoded-copy", **h_recoded), ContentInput("unrelated", **h_other)]
    for start in range(0, len(items), 5000):
        shield.content.register(tenant, items[start:start + 5000])
    assert shield.content.count(tenant) == 10_000
    assert shield.content.register(tenant, items[-4:]) == {"added": 0, "changed": 0, "unchanged": 4}  # idempotent

    ref = shield.notices.submit(NoticeSubmission(
        requester_role="depicted_person", signature="Sam Example", content_description="a photo",
        content_ids=["reported"], good_faith=True, contact_email="sam@example.org"), channel="api").notice.reference
    queue = shield.review.queue(tenant)
    assert [q.kind for q in queue] == ["notice"]
    shield.review.decide(tenant, queue[0].id, "remove", "published without consent", actor="key:rev")

    view = shield.notices.get(tenant, ref)
    linked = {i["value"]: i for i in view.items}
    assert set(linked) == {"reported", "identical-copy", "reencoded-copy"}  # not "unrelated", none of the 9,996
    assert linked["identical-copy"]["source"] == "sweep" and linked["identical-copy"]["distance"] == 0
    assert linked["identical-copy"]["status"] == "removed"
    assert linked["reencoded-copy"] == {**linked["reencoded-copy"], "match_type": "pdq", "distance": recoded_distance,
                                        "status": "open"}
    copies = [q for q in shield.review.queue(tenant) if q.kind == "copy"]
    assert len(copies) == 1 and copies[0].content_id == "reencoded-copy" and copies[0].reference == ref
    assert copies[0].deadline_at == view.deadline_at  # the request's deadline carries over
    shield.review.decide(tenant, copies[0].id, "remove", "a re-encoded copy of the removed photo", actor="key:rev")
    assert {i["value"]: i["status"] for i in shield.notices.get(tenant, ref).items}["reencoded-copy"] == "removed"
    with shield.db.read() as session:
        removed = set(session.scalars(select(PlatformContent.content_id).where(PlatformContent.removed_at.is_not(None))))
    assert removed == {"reported", "identical-copy", "reencoded-copy"}

    # the removed photo's hashes are now in the removed-content bank: a new upload of it matches
    shield.follower.catch_up()
    found = shield.matcher.match(shield.local_principal(), [SignalInput("pdq", h_recoded["pdq"])])
    assert any(m.bank == "removed-content" for m in found)
    assert audit.verify(shield.db).ok


def test_register_refuses_bad_hashes_and_replaces_changed_ones(shield):
    from ncii_shield.errors import InvalidRequest

    tenant = shield.local_principal().tenant_id
    with pytest.raises(InvalidRequest, match=r"items\[1\]\.pdq"):
        shield.content.register(tenant, [ContentInput("a", md5="0" * 32), ContentInput("b", pdq="xyz")])
    with pytest.raises(InvalidRequest, match="at least one hash"):
        shield.content.register(tenant, [ContentInput("a")])
    assert shield.content.register(tenant, [ContentInput("a", md5="0" * 32)]) == {"added": 1, "changed": 0, "unchanged": 0}
    assert shield.content.register(tenant, [ContentInput("a", md5="1" * 32)]) == {"added": 0, "changed": 1, "unchanged": 0}
    with shield.db.read() as session:
        assert session.scalar(select(func.count()).select_from(PlatformContent)) == 1
        hits = shield.content.sweep(session, tenant, [{"md5": "0" * 32}])
        assert hits == []
        assert [h.content_id for h in shield.content.sweep(session, tenant, [{"md5": "1" * 32}])] == ["a"]
