"""The one upload pipeline: detectors as plug-ins, context gates, failure isolation, policy, and the
same verdict from every entry point (in-process, scanner, CLI)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from ncii_shield.core import Shield
from ncii_shield.errors import PermissionDenied
from ncii_shield.services.scanning.items import BytesItem
from ncii_shield.services.scanning.scanner import ScanSettings, Scanner
from ncii_shield.services.uploads.derivative_flags import Derivatives
from ncii_shield.services.uploads.detectors import DecodedUpload, Findings, Scope
from ncii_shield.services.uploads.hash_matches import HashMatches
from ncii_shield.services.uploads.pipeline import CheckOptions, UploadPipeline
from ncii_shield.services.uploads.policy import Policy
from tests.scan_helpers import BANKED_MD5, make_store, photo
from tests.servers import cli


@dataclass
class Flag:
    bank: str
    signal_id: int
    note: str

    def to_json(self) -> dict:
        return {"bank": self.bank, "signal_id": self.signal_id, "note": self.note}


class NeedsExplicit:
    """A detector gated on explicit content (as likeness is): it flags every photo it is allowed to see."""

    name = "likeness"
    media = frozenset({"photo"})
    requires = frozenset({"explicit"})

    def __init__(self) -> None:
        self.seen = 0

    def detect(self, upload: DecodedUpload, scope: Scope) -> Findings:
        self.seen += 1
        assert upload.photo is not None and upload.photo.rgb.ndim == 3  # decoded once, by the pipeline
        return Findings(items=[Flag("faces", 1, f"{upload.photo.width}px")])


class GivesContext:
    """A classifier that says the upload is explicit (as the optional nudity classifier may)."""

    name = "nudity"
    media = frozenset({"photo"})
    requires: frozenset[str] = frozenset()

    def detect(self, upload: DecodedUpload, scope: Scope) -> Findings:
        return Findings(summary={"sexual": True}, context=frozenset({"explicit", "not-a-context"}))


class Broken:
    name = "marks"
    media = frozenset({"photo", "video"})
    requires: frozenset[str] = frozenset()

    def detect(self, upload: DecodedUpload, scope: Scope) -> Findings:
        raise RuntimeError("a plug-in bug")


@pytest.fixture()
def shield(tmp_path: Path):
    s = Shield.open(make_store(tmp_path))
    yield s
    s.close()


def pipeline(shield: Shield, *extra) -> UploadPipeline:  # noqa: ANN002
    return UploadPipeline(shield.matcher, shield.follower, content=shield.content, cases=shield.cases,
                          review=shield.review, detectors=[HashMatches(shield.matcher), Derivatives(), *extra])


def test_a_gated_detector_runs_only_with_its_context(shield: Shield) -> None:
    gated = NeedsExplicit()
    p = pipeline(shield, gated)
    who = shield.local_principal("default", ("match",))
    plain = p.check(who, photo(99))
    assert gated.seen == 0 and "likeness" not in plain.items
    assert "explicit" in plain.skipped["likeness"]
    said = p.check(who, photo(99), CheckOptions(explicit=True))
    assert gated.seen == 1 and [f.note for f in said.items["likeness"]] == ["160px"]
    assert "likeness" not in said.skipped
    assert said.review.kind == "likeness" and said.review.priority == 85


def test_a_detector_can_give_context_to_a_later_one(shield: Shield) -> None:
    gated = NeedsExplicit()
    verdict = pipeline(shield, GivesContext(), gated).check(shield.local_principal("default", ("match",)), photo(99))
    assert gated.seen == 1 and verdict.summaries["nudity"] == {"sexual": True}
    assert verdict.to_json()["nudity"] == {"sexual": True}


def test_a_failing_plugin_loses_no_hash_match(shield: Shield) -> None:
    verdict = pipeline(shield, Broken()).check(shield.local_principal("default", ("match",)), photo(BANKED_MD5))
    assert {m.signal_type for m in verdict.matches} >= {"md5"}
    assert verdict.skipped == {"marks": "failed (RuntimeError)"}
    assert verdict.review.queue and verdict.review.kind == "match"


def test_missing_plugins_are_skipped_or_reported(shield: Shield) -> None:
    p = UploadPipeline(shield.matcher, shield.follower,
                       plugins=("ncii_shield.services.uploads.no_such_module", "tests.integration.plugin_needs_extra"))
    assert [d.name for d in p.detectors] == ["matches", "derivatives"]
    assert "no_such_module" not in p.unavailable  # not part of this install: silent
    assert p.unavailable["plugin_needs_extra"].startswith("not installed")
    verdict = p.check(shield.local_principal("default", ("match",)), photo(99))
    assert verdict.skipped["plugin_needs_extra"].startswith("not installed")


def test_a_key_without_match_scope_is_refused_before_decoding(shield: Shield) -> None:
    with pytest.raises(PermissionDenied):
        shield.uploads.check(shield.local_principal("default", ("bank:write",)), b"not even a photo")


def test_policy_orders_rules_and_keeps_every_reason(shield: Shield) -> None:
    gated = NeedsExplicit()
    verdict = pipeline(shield, gated).check(shield.local_principal("default", ("match",)), photo(BANKED_MD5),
                                            CheckOptions(explicit=True))
    decision = Policy().decide(verdict)
    assert (decision.kind, decision.priority) == ("likeness", 85)
    assert len(decision.reasons) == 2 and "consent" in decision.reasons[0]


def test_review_queues_the_policys_kind_and_priority(shield: Shield) -> None:
    who = shield.local_principal("default", ("match",))
    verdict = pipeline(shield, NeedsExplicit()).check(who, photo(BANKED_MD5), CheckOptions(
        explicit=True, content_id="upload-7", review=True))
    assert verdict.review_item is not None
    item = next(i for i in shield.review.queue(who.tenant_id) if i.id == verdict.review_item)
    assert (item.kind, item.priority, item.content_id) == ("likeness", 85, "upload-7")


def test_scanner_and_cli_give_the_pipelines_verdict(shield: Shield, tmp_path: Path) -> None:
    who = shield.local_principal("default", ("match",))
    data = photo(BANKED_MD5)
    direct = shield.uploads.check(who, data)
    scanned = Scanner(ScanSettings(shield.db.url, who), shield.uploads).scan(BytesItem(0, 0, "k", len(data), data))
    assert scanned["status"] == "exact"
    assert sorted((m["bank"], m["signal_id"]) for m in scanned["matches"]) == sorted(
        {(m.bank, m.signal_id) for m in direct.matches})
    (tmp_path / "up.png").write_bytes(data)
    out = cli("check", str(tmp_path / "up.png"), "--db", shield.db.url, "--json")
    assert out.returncode == 3, out.stderr
    row = json.loads(out.stdout)
    assert sorted((m["bank"], m["signal_id"]) for m in row["matches"]) == sorted(
        (m.bank, m.signal_id) for m in direct.matches)
    assert row["review"] == direct.review.to_json()


def test_trust_policy_acts_mutes_and_recommends(shield: Shield) -> None:
    """Hits carry the trust policy's action; a trusted act-bank's hash may be acted on, an allow-listed
    image asks nothing of anyone, an anonymous source never acts unreviewed."""
    from ncii_shield.services.banks import SignalInput
    from ncii_shield.services.hashing import hash_photo_bytes
    from ncii_shield.services.signal_controls import controls_for

    admin, who = shield.local_principal("default"), shield.local_principal("default", ("match",))
    controls = controls_for(shield)
    data = photo(BANKED_MD5)
    default = shield.uploads.check(who, data)
    assert {a.action for a in default.assessments.values()} == {"review"}  # banks review first by default
    assert default.review.queue and default.review.recommended == "review"
    assert default.to_json()["matches"][0]["action"] == "review"

    controls.set_bank(admin, "victims", policy="act")
    acted = shield.uploads.check(who, data)
    assert acted.review.recommended == "act" and acted.review.queue

    controls.set_bank(admin, "victims", trust="anonymous")  # e.g. case intake: capped at review
    assert shield.uploads.check(who, data).review.recommended == "review"

    shield.banks.create(admin, "benign")
    shield.banks.add(admin, "benign", [SignalInput("md5", hash_photo_bytes(data).md5)])
    controls.set_bank(admin, "benign", kind="allow")
    shield.follower.catch_up()
    allowed = shield.uploads.check(who, data, CheckOptions(content_id="news-1", review=True))
    actions = {a.bank: a.action for a in allowed.assessments.values()}
    assert actions == {"benign": "observe", "victims": "suppressed"}
    assert not allowed.review.queue and allowed.review_item is None  # nothing queued, nothing acted on


def test_a_minors_hash_is_a_mandatory_report_whatever_else(shield: Shield) -> None:
    from ncii_shield.services.banks import SignalInput
    from ncii_shield.services.cases import MINOR_BANK
    from ncii_shield.services.hashing import hash_photo_bytes

    admin = shield.local_principal("default")
    shield.banks.create(admin, MINOR_BANK)
    shield.banks.add(admin, MINOR_BANK, [SignalInput("md5", hash_photo_bytes(photo(55)).md5)])
    shield.follower.catch_up()
    verdict = shield.uploads.check(shield.local_principal("default", ("match",)), photo(55),
                                   CheckOptions(content_id="upload-55"))  # no review=true: queued anyway
    assert (verdict.review.kind, verdict.review.priority) == ("mandatory_report", 100)
    assert verdict.mandatory_report_item is not None
    assert verdict.mandatory_report_item not in [i.id for i in shield.review.queue(admin.tenant_id)]  # hidden
    first = shield.review.queue(admin.tenant_id, minors=True)[0]  # top of the queue, for those allowed
    assert (first.id, first.kind) == (verdict.mandatory_report_item, "mandatory_report")


@pytest.mark.video
def test_a_video_showing_an_edited_registered_photo_is_flagged_at_its_frame(shield: Shield, tmp_path: Path) -> None:
    """A video's sampled frames go through the photo detectors: a fake made from a registered photo,
    shown in a clip, is flagged with the second it appears at; an unrelated clip is not."""
    import shutil
    import subprocess

    from tests.derivative_scenes import edit, jpeg, scene

    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is required (scripts/dev setup installs it)")
    admin = shield.local_principal("default")
    shield.banks.create(admin, "protected")
    [registered] = shield.derivatives.register(admin, "protected", [("me.jpg", jpeg(scene(31)))])
    shield.follower.catch_up()

    def clip(image: bytes, name: str) -> bytes:
        (tmp_path / f"{name}.jpg").write_bytes(image)
        out = tmp_path / f"{name}.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=black:s=800x600:d=2:r=10",
                        "-loop", "1", "-t", "3", "-r", "10", "-i", str(tmp_path / f"{name}.jpg"),
                        "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", "-pix_fmt", "yuv420p",
                        "-c:v", "libx264", "-crf", "20", str(out)], check=True)
        return out.read_bytes()

    who = shield.local_principal("default", ("match",))
    fake = shield.uploads.check(who, clip(jpeg(edit("blur", scene(31), (300, 200, 200, 220))), "fake"))
    assert fake.content_type == "video"
    [flag] = fake.items["derivatives"]
    assert (flag.bank, flag.signal_id) == ("protected", registered.signal_id)
    assert flag.frame >= 1.5  # black for the first 2 s
    assert flag.to_json()["frame"] == flag.frame and fake.review.kind == "derivative"
    other = shield.uploads.check(who, clip(jpeg(scene(32)), "other"))
    assert not other.items.get("derivatives") and not other.review.queue


def test_a_running_server_finds_past_uploads_of_a_new_hash(server) -> None:  # noqa: ANN001
    """Retroactive matching in `serve`: an upload checked before its hash was banked becomes a review
    item once the hash arrives (the server's retroactive follower, started with the app)."""
    import time

    from ncii_shield.services.hashing import hash_photo_bytes
    from tests.integration.test_api import make_bank, new_key

    platform = new_key(server, "retro-platform", "bank:write", "match")
    reviewer = new_key(server, "retro-platform", "reviewer")
    data = photo(4242)
    with server.client(platform) as c:
        first = c.post("/v1/match/media", params={"content_id": "past-upload-1"}, files={"file": ("a.jpg", data)})
        assert first.status_code == 200 and first.json()["matches"] == []
        bank = make_bank(c)
        added = c.post(f"/v1/banks/{bank}/signals", json={"signal_type": "md5", "value": hash_photo_bytes(data).md5})
        assert added.status_code in (200, 201), added.text
    deadline = time.monotonic() + 10
    with server.client(reviewer) as moderator:
        while True:
            items = moderator.get("/v1/review/queue").json()["items"]
            found = [i for i in items if i["content_id"] == "past-upload-1"]
            if found or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert [i["kind"] for i in found] == ["match"]
