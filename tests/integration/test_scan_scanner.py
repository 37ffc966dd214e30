"""The scanner on its own: statuses, bank filter, rotations, and the derivative-check hook."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from ncii_shield.core import Shield
from ncii_shield.services.scanning.items import BytesItem, ErrorItem
from ncii_shield.services.scanning.scanner import ScanSettings, Scanner
from ncii_shield.errors import RefusedSource
from tests.scan_helpers import BANKED_MD5, OTHER_PDQ, make_store, photo


def rotated(data: bytes) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).rotate(90, expand=True).save(out, format="PNG")
    return out.getvalue()


def item(data: bytes, member: int = 0) -> BytesItem:
    return BytesItem(0, member, f"k{member}", len(data), data)


def scanner(tmp_path: Path, **settings) -> tuple[Shield, Scanner]:  # noqa: ANN003
    url = make_store(tmp_path)
    shield = Shield.open(url)
    principal = shield.local_principal("default", ("match",))
    return shield, Scanner(ScanSettings(url, principal, **settings), shield.uploads)


def test_statuses_and_bank_filter(tmp_path: Path) -> None:
    shield, every_bank = scanner(tmp_path)
    try:
        assert every_bank.scan(item(photo(BANKED_MD5)))["status"] == "exact"
        assert every_bank.scan(item(photo(1)))["status"] == "near"
        assert every_bank.scan(item(photo(OTHER_PDQ)))["status"] == "near"
        assert every_bank.scan(item(photo(99)))["status"] == "no_match"
        refused = every_bank.scan(ErrorItem(0, 1, "x", None, RefusedSource("refused: test")))
        assert (refused["status"], refused["error_type"], refused["error"]) == ("error", "RefusedSource", "refused: test")
        only_victims = Scanner(ScanSettings(every_bank.settings.db_url, every_bank.settings.principal,
                                            banks=("victims",)), shield.uploads)
        assert only_victims.scan(item(photo(OTHER_PDQ)))["status"] == "no_match"
    finally:
        shield.close()


def test_rotations_only_with_dihedral(tmp_path: Path) -> None:
    from ncii_shield.services.banks import SignalInput
    from ncii_shield.services.hashing import hash_photo_bytes
    from tests.conftest import ORIGINAL_JPG

    shield, plain = scanner(tmp_path)
    try:
        original = ORIGINAL_JPG.read_bytes()  # a real photo: PDQ's rotations are exact enough on it
        shield.banks.add(shield.local_principal("default"), "victims",
                         [SignalInput("pdq", hash_photo_bytes(original).pdq)])
        shield.follower.catch_up()
        turned = rotated(original)
        assert plain.scan(item(turned))["status"] == "no_match"
        with_dihedral = Scanner(ScanSettings(plain.settings.db_url, plain.settings.principal, dihedral=True),
                                shield.uploads)
        found = with_dihedral.scan(item(turned))
        assert found["status"] == "near" and found["matches"][0]["variant"] in ("rotate90", "rotate270")
    finally:
        shield.close()


def test_derivative_hook(tmp_path: Path) -> None:
    shield, base = scanner(tmp_path)
    calls = []

    def check(data: bytes, hashes) -> list[dict]:  # noqa: ANN001 - stands for the derivative check to come
        calls.append(hashes.pdq)
        return [{"bank": "victims", "signal_id": 99, "score": 0.9}] if data == photo(50) else []

    try:
        hooked = Scanner(base.settings, shield.uploads, derivative=check)
        found = hooked.scan(item(photo(50)))
        assert found["status"] == "derivative"
        assert found["matches"] == [{"signal_type": "derivative", "bank": "victims", "signal_id": 99, "score": 0.9}]
        assert hooked.scan(item(photo(51)))["status"] == "no_match"
        assert hooked.scan(item(photo(1)))["status"] == "near" and len(calls) == 2  # not asked when hashes match

        def broken(data: bytes, hashes) -> list[dict]:  # noqa: ANN001
            raise RuntimeError("model file missing")

        failed = Scanner(base.settings, shield.uploads, derivative=broken).scan(item(photo(50)))
        assert failed["status"] == "no_match" and "model file missing" in failed["derivative_error"]
    finally:
        shield.close()


def test_a_worker_crash_costs_one_item_not_the_scan(tmp_path: Path) -> None:
    """A worker process killed by SIGSEGV on one item: that item becomes an error result, the pool is
    replaced and every other item is scanned, with the same results as without the crash."""
    from dataclasses import replace

    from ncii_shield.services.scanning.checkpoint import Checkpoint
    from ncii_shield.services.scanning.runner import fingerprint, open_sources, run_scan
    from tests.scan_helpers import photo_folder

    url = make_store(tmp_path)
    shield = Shield.open(url, load_index=False)
    principal = shield.local_principal("default", ("match",))
    shield.close()
    photo_folder(tmp_path / "f", 40)
    base = ScanSettings(url, principal)
    outcomes = {}
    for name, settings in (("plain", base), ("crashing", replace(base, derivative="tests.scan_helpers:crash_on_seed_13"))):
        sources = open_sources([str(tmp_path / "f")], settings)
        checkpoint = Checkpoint.open(tmp_path / f"{name}.sqlite", fingerprint(sources, settings), resume=False)
        summary = run_scan(sources, settings, checkpoint, workers=2)
        outcomes[name] = {r["key"]: r for r in checkpoint.results()}
        checkpoint.close()
        assert summary.total == 40
    crashed_key = next(k for k in outcomes["crashing"] if k.endswith("photo-00013.jpg"))
    assert outcomes["crashing"][crashed_key]["error_type"] == "WorkerCrashed"
    del outcomes["crashing"][crashed_key], outcomes["plain"][crashed_key]
    assert outcomes["crashing"] == outcomes["plain"]


def test_registered_photos_flag_edited_copies_not_reshares(tmp_path: Path) -> None:
    """With a public photo registered for derivative protection, the scan flags an edited copy (with
    the replaced region) and reports an unedited re-share without counting it as a match."""
    from tests import derivative_scenes as scenes

    shield, every_bank = scanner(tmp_path)
    try:
        original = scenes.scene(3)
        admin = shield.local_principal("default", ("bank:write", "match"))
        shield.banks.ensure(admin, "protected")
        [registered] = shield.derivatives.register(admin, "protected", [("me.jpg", scenes.jpeg(original, 95))])
        assert registered.signal_id is not None
        shield.follower.catch_up()
        edited = scenes.jpeg(scenes.edit("flat", original, (250, 180, 300, 260)), 85)
        flagged = every_bank.scan(item(edited, 1))
        assert flagged["status"] == "derivative", flagged
        [flag] = flagged["matches"]
        assert flag["signal_type"] == "derivative" and flag["signal_id"] == registered.signal_id
        x, y, w, h = flag["edited_region"]
        assert x < 400 < x + w and y < 310 < y + h  # the replaced rectangle's centre is inside
        reshare = every_bank.scan(item(scenes.jpeg(scenes.reshared("resize", original), 80), 2))
        assert reshare["status"] == "no_match" and reshare["matches"] == []
        assert [r["signal_id"] for r in reshare["reshares"]] == [registered.signal_id]
        assert every_bank.scan(item(scenes.jpeg(scenes.scene(4), 90), 3))["status"] == "no_match"
    finally:
        shield.close()
