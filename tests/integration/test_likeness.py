"""Likeness protection end to end: enrol (service and CLI), a flag in an explicit photo and video
through the one upload pipeline, none when not explicit, withdrawal within a second (enrolment and
case), tenant isolation, no identity route, embeddings sealed and absent from logs and exports."""

from __future__ import annotations

import base64
import io
import logging
import shutil
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select, text

from ncii_shield.services.likeness import LikenessService, unseal_vectors
from ncii_shield.services.uploads.pipeline import CheckOptions
from ncii_shield.signals.face import load_model
from ncii_shield.signals.face.enrol import EnrolmentRefused
from ncii_shield.store.models import LikenessEnrolment

FACES = Path(__file__).resolve().parents[1] / "data" / "faces"


def photo_bytes(name: str) -> bytes:
    return (FACES / f"ifaces-{name}.jpg").read_bytes()


def rgb(name: str) -> np.ndarray:
    return np.asarray(Image.open(FACES / f"ifaces-{name}.jpg").convert("RGB"))


def jpeg(img: np.ndarray, quality: int = 75) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def reshared(name: str) -> bytes:
    """The portrait mirrored and shrunk onto a larger canvas, as a re-shared screenshot would be."""
    face = cv2.resize(np.ascontiguousarray(rgb(name)[:, ::-1]), (260, 260), interpolation=cv2.INTER_AREA)
    canvas = np.full((520, 400, 3), 235, np.uint8)
    canvas[120:380, 70:330] = face
    return jpeg(canvas)


def likeness(verdict) -> list:
    return [f.to_json() for f in verdict.items.get("likeness", [])]


def wait_for(predicate, timeout: float = 3.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout} s")


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture
def shield(data_shield):
    return data_shield


def test_enrol_flag_in_explicit_photo_only(shield, model) -> None:
    principal = shield.local_principal()
    enrolled = LikenessService(shield.db, model).enrol("default", "faces", [photo_bytes("001")], names=["me.jpg"])
    pipeline = shield.uploads
    detector = next(d for d in pipeline.detectors if d.name == "likeness")
    wait_for(lambda: len(detector.index) == 1)

    verdict = pipeline.check(principal, reshared("001"), CheckOptions(explicit=True))
    flags = likeness(verdict)
    assert len(flags) == 1
    flag = flags[0]
    assert flag["bank"] == "faces" and flag["signal_id"] == enrolled.id and flag["frame"] is None
    assert flag["similarity"] >= model.default_threshold
    x, y, _w, h = flag["face_box"]
    assert 40 <= x <= 200 and 90 <= y <= 260 and 60 <= h <= 200  # the face, inside the 260-px portrait
    assert verdict.review.queue and verdict.review.kind == "likeness"

    # not explicit: faces are not searched at all
    quiet = pipeline.check(principal, reshared("001"), CheckOptions(explicit=False))
    assert likeness(quiet) == [] and "likeness" in quiet.skipped
    # explicit, other people: no flag
    for other in ("007", "009"):
        assert likeness(pipeline.check(principal, reshared(other), CheckOptions(explicit=True))) == []


@pytest.mark.video
def test_flag_in_explicit_video(shield, model, tmp_path: Path) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is required (scripts/dev setup installs it)")
    LikenessService(shield.db, model).enrol("default", "faces", [photo_bytes("009")])
    face = cv2.resize(np.ascontiguousarray(rgb("009")[:, ::-1]), (240, 240), interpolation=cv2.INTER_AREA)
    for n in range(8):  # 4 s at 2 fps: 1.5 s of an empty room, then the face
        frame = np.full((360, 480, 3), 60 + 10 * n, np.uint8)
        if n >= 3:
            frame[60:300, 120 + 4 * n:360 + 4 * n] = face
        Image.fromarray(frame).save(tmp_path / f"f{n:03d}.png")
    video = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-framerate", "2", "-i", str(tmp_path / "f%03d.png"),
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-r", "10", str(video)], check=True)
    pipeline = shield.uploads
    detector = next(d for d in pipeline.detectors if d.name == "likeness")
    wait_for(lambda: len(detector.index) == 1)
    flags = likeness(pipeline.check(shield.local_principal(), video.read_bytes(), CheckOptions(explicit=True)))
    assert len(flags) == 1  # one flag per enrolled person in the video, at its best frame
    assert flags[0]["frame"] is not None and flags[0]["time_s"] >= 1.5
    assert flags[0]["similarity"] >= model.default_threshold


@pytest.mark.video
def test_video_faces_read_in_the_one_decode_pass(shield, model, tmp_path: Path, monkeypatch) -> None:
    """The likeness detector reads a video's faces from the pipeline's one decode pass (a frame tap):
    one decoder for the hashes, the readings and the faces; its own frame sampler is never used. A
    tap that raises leaves the detector reported failed while the upload's hashes stand."""
    import ncii_shield.media.video as video

    service = LikenessService(shield.db, model)
    service.enrol("default", "faces", [photo_bytes("009")])
    detector = next(d for d in shield.uploads.detectors if d.name == "likeness")
    wait_for(lambda: len(detector.index) == 1)
    face = cv2.resize(np.ascontiguousarray(rgb("009")[:, ::-1]), (220, 220), interpolation=cv2.INTER_AREA)
    frames = []
    for n in range(8):
        frame = np.full((360, 480, 3), 40 + 9 * n, np.uint8)
        frame[60:280, 100 + 5 * n:320 + 5 * n] = face
        frames.append(frame)
    data = clip(tmp_path, frames)
    passes: list[int] = []
    real = video.decode_pass

    def counted(path, info, streams, **kw):  # noqa: ANN001, ANN202 - the real decoder, counted
        passes.append(len(streams))
        return real(path, info, streams, **kw)

    def never(*a, **kw):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("the likeness detector decoded the video again")

    monkeypatch.setattr(video, "decode_pass", counted)
    monkeypatch.setattr(video, "sample_frames", never)
    verdict = shield.uploads.check(shield.local_principal(), data, CheckOptions(explicit=True))
    flags = likeness(verdict)
    assert len(passes) == 1 and passes[0] >= 2, passes  # the reference frames and the face tap, one decoder
    assert len(flags) == 1 and flags[0]["frame"] is not None, flags
    # not explicit: no face tap at all
    passes.clear()
    shield.uploads.check(shield.local_principal(), data, CheckOptions())
    assert len(passes) == 1

    def broken(rgb):  # noqa: ANN001, ANN202
        raise RuntimeError("model file unreadable")

    monkeypatch.setattr(detector, "_faces", broken)
    verdict = shield.uploads.check(shield.local_principal(), data, CheckOptions(explicit=True))
    assert verdict.skipped.get("likeness", "").startswith("failed"), verdict.skipped
    assert verdict.hashes.frames, "the video's hashes stand when a frame tap fails"


def clip(tmp_path: Path, frames: list[np.ndarray], fps: int = 2) -> bytes:
    for n, frame in enumerate(frames):
        Image.fromarray(frame).save(tmp_path / f"c{n:03d}.png")
    video = tmp_path / "tracks.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-framerate", str(fps), "-i", str(tmp_path / "c%03d.png"),
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-r", "10", str(video)], check=True)
    return video.read_bytes()


@pytest.mark.video
def test_video_one_flag_per_face_track(shield, model, tmp_path: Path) -> None:
    """A face tracked over the sampled frames gives one flag however long it stays; when it leaves
    and comes back it is a second track and a second flag; two enrolled people on screen at once are
    two tracks. Each flag names its track's span."""
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is required (scripts/dev setup installs it)")
    service = LikenessService(shield.db, model)
    first = service.enrol("default", "faces", [photo_bytes("009")])
    second = service.enrol("default", "faces", [photo_bytes("001")])
    detector = next(d for d in shield.uploads.detectors if d.name == "likeness")
    wait_for(lambda: len(detector.index) == 2)
    a = cv2.resize(np.ascontiguousarray(rgb("009")[:, ::-1]), (200, 200), interpolation=cv2.INTER_AREA)
    b = cv2.resize(np.ascontiguousarray(rgb("001")[:, ::-1]), (200, 200), interpolation=cv2.INTER_AREA)
    frames = []
    for n in range(24):  # 12 s at 2 fps; sampled at 1 fps
        frame = np.full((360, 640, 3), 50 + 3 * n, np.uint8)
        if n < 8 or n >= 18:  # a: 0-4 s moving right, away 4-9 s, back 9-12 s
            x = 20 + 12 * n if n < 8 else 400
            frame[80:280, x:x + 200] = a
        if 4 <= n < 14:  # b: 2-7 s, on screen with a for a while
            frame[80:280, 420:620] = b
        frames.append(frame)
    flags = likeness(shield.uploads.check(shield.local_principal(), clip(tmp_path, frames), CheckOptions(explicit=True)))
    by_person = {}
    for f in flags:
        by_person.setdefault(f["signal_id"], []).append(f)
    assert sorted(by_person) == sorted([first.id, second.id]), flags
    a_flags = sorted(by_person[first.id], key=lambda f: f["time_s"])
    assert len(a_flags) == 2, a_flags  # two appearances, not one flag per frame
    assert a_flags[0]["track"]["start_s"] < 1.0 and a_flags[0]["track"]["end_s"] < 4.5
    assert a_flags[1]["track"]["start_s"] >= 8.5 and a_flags[1]["track"]["faces"] >= 2, flags
    assert a_flags[0]["track"]["faces"] >= 3
    assert len(by_person[second.id]) == 1 and by_person[second.id][0]["track"]["faces"] >= 4
    for f in flags:
        assert f["track"]["start_s"] <= f["time_s"] <= f["track"]["end_s"]
        assert f["similarity"] >= model.default_threshold


def test_withdrawal_reaches_the_index_within_a_second(shield, model) -> None:
    principal = shield.local_principal()
    service = LikenessService(shield.db, model)
    pipeline = shield.uploads
    detector = next(d for d in pipeline.detectors if d.name == "likeness")
    enrolled = service.enrol("default", "faces", [photo_bytes("007")])
    wait_for(lambda: len(detector.index) == 1)
    assert likeness(pipeline.check(principal, reshared("007"), CheckOptions(explicit=True)))

    service.withdraw("default", enrolled.id)
    took = wait_for(lambda: len(detector.index) == 0, timeout=1.0)
    assert took < 1.0
    assert likeness(pipeline.check(principal, reshared("007"), CheckOptions(explicit=True))) == []
    with shield.db.read() as session:
        row = session.get(LikenessEnrolment, enrolled.id)
        assert row.status == "withdrawn" and row.vectors_sealed is None and row.withdrawn_at is not None

    # through a case: the person's case withdrawn -> the enrolment leaves the index at the next poll
    from ncii_shield.services.banks import SignalInput
    from ncii_shield.store.models import Case

    new = shield.cases.open_case([SignalInput("md5", "0" * 31 + "1")], age="adult", consent=True)
    with shield.db.read() as session:
        case_id = session.scalar(select(Case.id).where(Case.case_number == new.case_number))
    service.enrol("default", "victims", [photo_bytes("007")], case_id=case_id)
    wait_for(lambda: len(detector.index) == 1)
    shield.cases.withdraw(new.case_number, new.pin)
    took = wait_for(lambda: len(detector.index) == 0, timeout=1.0)
    assert took < 1.0
    assert service.withdraw_case(case_id) == 0  # already erased by the case's withdrawal, in its own commit
    with shield.db.read() as session:
        assert session.scalar(select(LikenessEnrolment.vectors_sealed).where(LikenessEnrolment.case_id == case_id)) is None


def test_tenant_isolation(shield, model) -> None:
    LikenessService(shield.db, model).enrol("helpline-a", "faces", [photo_bytes("001")])
    pipeline = shield.uploads
    detector = next(d for d in pipeline.detectors if d.name == "likeness")
    wait_for(lambda: len(detector.index) == 1)
    owner = shield.local_principal("helpline-a")
    stranger = shield.local_principal("platform-b")
    assert likeness(pipeline.check(owner, reshared("001"), CheckOptions(explicit=True)))
    assert likeness(pipeline.check(stranger, reshared("001"), CheckOptions(explicit=True))) == []
    with pytest.raises(Exception, match="no active likeness enrolment"):
        LikenessService(shield.db, model).withdraw("platform-b", 1)


def test_two_face_photo_refused(shield, model) -> None:
    two = jpeg(np.concatenate([rgb("001"), rgb("009")], axis=1), 90)
    with pytest.raises(EnrolmentRefused, match="group.jpg: 2 faces found"):
        LikenessService(shield.db, model).enrol("default", "faces", [photo_bytes("007"), two],
                                                names=["me.jpg", "group.jpg"])
    with shield.db.read() as session:
        assert session.scalars(select(LikenessEnrolment)).all() == []  # nothing stored


def test_no_route_answers_an_identity_question(shield) -> None:
    from ncii_shield.api.app import create_app

    app = create_app(shield, follow=False)
    routes: dict[str, set[str]] = {}

    def walk(found, prefix: str = "") -> None:  # noqa: ANN001 - included routers' routes too
        for r in found:
            if hasattr(r, "original_router"):  # FastAPI >= 0.165 keeps included routers as such
                walk(r.original_router.routes, prefix + r.include_context.prefix)
            elif getattr(r, "routes", None):
                walk(r.routes, prefix + getattr(r, "path", ""))
            else:
                routes.setdefault(prefix + getattr(r, "path", ""), set()).update(getattr(r, "methods", None) or ())

    walk(app.routes)
    assert "/v1/match/media" in routes and "/protect" in routes  # the walk sees the whole app
    words = ("likeness", "face", "identif", "who", "person", "enrol")
    # the one face route is the intake's enrolment step: a form (GET) and the person's own photos
    # into their own case (POST, case number + PIN; tests/security/test_face_step_breakin.py)
    assert {p: m for p, m in routes.items() if any(w in p.lower() for w in words)} == {
        "/protect/face": {"GET", "POST"}}


def test_embeddings_sealed_and_absent_from_logs_exports_and_feeds(shield, model, tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    service = LikenessService(shield.db, model)
    enrolled = service.enrol("default", "faces", [photo_bytes("009")])
    pipeline = shield.uploads
    detector = next(d for d in pipeline.detectors if d.name == "likeness")
    wait_for(lambda: len(detector.index) == 1)
    assert likeness(pipeline.check(shield.local_principal(), reshared("009"), CheckOptions(explicit=True)))
    with shield.db.read() as session:
        token = session.get(LikenessEnrolment, enrolled.id).vectors_sealed
        # the change log that feeds publish carries nothing of it
        assert session.execute(text("SELECT count(*) FROM changes WHERE signal_type IS NOT NULL "
                                    "AND signal_type NOT IN ('pdq','vpdq','md5','sha256','derivative')")).scalar() == 0
    assert token.startswith("gAAAAA")  # sealed with the personal-data key
    vectors = unseal_vectors(token)
    assert vectors.shape == (1, 128)
    raw = vectors.astype("<f4").tobytes()
    b64 = base64.b64encode(raw).decode()
    # logs: no vector, in any usual rendering
    logged = caplog.text
    for value in vectors[0][:16]:
        for fmt in ("{:.4f}", "{:.3f}", "{}"):
            assert fmt.format(float(value)) not in logged
    assert b64[:24] not in logged
    # the database file (SQLite) holds no clear vector bytes
    url = str(shield.db.engine.url)
    if url.startswith("sqlite"):
        data = Path(url.removeprefix("sqlite:///")).read_bytes()
        assert raw[:32] not in data and b64[:24].encode() not in data
    # exports of the bank, in every format, carry nothing of it
    from typer.testing import CliRunner

    from ncii_shield.cli.main import app

    for fmt in ("jsonl", "pytx", "hma"):
        result = CliRunner().invoke(app, ["bank", "export", "faces", "-f", fmt, "--db", url])
        assert result.exit_code == 0, result.output
        assert token[:40] not in result.output and b64[:24] not in result.output


def test_an_operators_onnx_model_takes_its_pixel_settings_from_the_environment(shield, tmp_path: Path,
                                                                               monkeypatch) -> None:
    """NCII_SHIELD_FACE_MODEL_MEAN/_STD/_BGR/_MASK reach the operator's model (its name changes with
    them, so vectors made with other pixels are never compared); a bad value leaves the detector
    unconfigured with a reason instead of a half-set model."""
    from ncii_shield.services.uploads import likeness as plugin
    from tests.unit.signals.test_face import tiny_onnx

    path = tmp_path / "face.onnx"
    tiny_onnx(path)
    names = {}
    follower = shield.follower
    monkeypatch.setenv("NCII_SHIELD_FACE_MODEL", str(path))
    monkeypatch.setenv("NCII_SHIELD_FACE_MODEL_THRESHOLD", "0.5")
    for label, env in {"default": {}, "sface": {"NCII_SHIELD_FACE_MODEL_MEAN": "0", "NCII_SHIELD_FACE_MODEL_STD": "1"},
                       "masked": {"NCII_SHIELD_FACE_MODEL_MASK": "1"}}.items():
        for key in ("MEAN", "STD", "BGR", "MASK"):
            monkeypatch.delenv(f"NCII_SHIELD_FACE_MODEL_{key}", raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        detector = plugin.detector(follower)
        assert detector is not None, label
        names[label] = detector.model.name
    assert len(set(names.values())) == 3, names
    monkeypatch.setenv("NCII_SHIELD_FACE_MODEL_STD", "0")
    assert plugin.detector(follower) is None
    monkeypatch.setenv("NCII_SHIELD_FACE_MODEL_STD", "1")
    monkeypatch.setenv("NCII_SHIELD_FACE_MODEL_MASK", "sometimes")
    assert plugin.detector(follower) is None
