"""The scale run's synthetic registry (bench/derivative_scale.py) is honest by default (2026-12-06 #7):
no timed upload meets a window cut from its own photo or its pasted part's photo, and a window registers
only its real descriptors (no zero-padding rows in the index). ``--registry old`` keeps the former draws.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from ncii_shield.index.derivative import DerivativeIndex
from ncii_shield.signals.derivative import features as F
from tests.derivative_scenes import scene

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
import derivative_scale as S  # noqa: E402

N = 6


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("photos")
    paths = []
    for k in range(N):
        path = folder / f"p{k}.png"
        cv2.imwrite(str(path), scene(100 + k, 480, 360)[:, :, ::-1])
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def real(photos: list[Path]) -> list[F.PhotoFeatures]:
    return [F.photo_features(S.load_rgb(p)) for p in photos]


@pytest.mark.parametrize("n", [N, 129])
def test_honest_split_is_disjoint_and_covers_every_photo(n: int) -> None:
    windows, uploads = S.window_photos(n, "honest"), S.upload_photos(n, "honest")
    assert not set(windows) & set(uploads)
    assert sorted(windows + uploads) == list(range(n))
    assert S.window_photos(n, "old") == S.upload_photos(n, "old") == list(range(n))


def test_windows_show_no_upload_photo(photos: list[Path], real: list) -> None:
    reg = S.SyntheticRegistry(photos, size=60, real_windows=20, seed=7, registry="honest", real=real, cells=False)
    shown = {reg.photo_of(1_000_000 + k) for k in range(60)}
    assert shown == set(reg.window_photos) | {None}  # windows of the odd photos, then permuted copies
    assert not shown & set(reg.upload_photos)
    for k in range(20):  # a window carries its own photo's signature; a permuted copy another one
        assert reg.signature(1_000_000 + k) == reg.values[reg.photo_of(1_000_000 + k) + 1]
    assert reg.signature(1_000_000 + 20) not in reg.values.values()
    old = S.SyntheticRegistry(photos, size=60, real_windows=20, seed=7, registry="old", real=real)
    assert {old.photo_of(1_000_000 + k) for k in range(20)} == set(range(N))


def test_uploads_come_from_their_half_and_old_draws_are_kept(photos: list[Path]) -> None:
    honest = S.upload_photos(N, "honest")
    rng = np.random.default_rng(7)
    for q in range(4):
        _, i, j = S.make_upload(photos, rng, q, honest)
        assert i in honest and j in honest and i != j
    # without photos: the draws of the code before 2026-12-06 #7 (i and j are an upload's first two draws)
    for seed in range(4):
        _, i, j = S.make_upload(photos, np.random.default_rng(seed), 0)
        b = np.random.default_rng(seed)
        old_i = int(b.integers(0, N))
        assert (i, j) == (old_i, (old_i + 1 + int(b.integers(0, N - 1))) % N)


def test_a_window_registers_only_its_real_descriptors(photos: list[Path], real: list) -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(1, 256, (3, 64, 32), dtype=np.uint8)
    codes[0, 40:] = 0  # 40 real descriptors, 24 padding rows
    codes[1, :] = 0  # a window with no keypoint
    ids = np.arange(1_000_000, 1_000_003)
    honest = S.SyntheticRegistry(photos, 60, 20, 7, "honest", real=real)
    old = S.SyntheticRegistry(photos, 60, 20, 7, "old", real=real)
    assert [len(f.descriptors) for f, _ in honest.batch(codes, ids)] == [40, 0, 64]
    assert [len(f.descriptors) for f, _ in old.batch(codes, ids)] == [64, 64, 64]
    index = DerivativeIndex(honest.lookup)
    index.add_features_many(honest.batch(codes, ids))
    assert index._faiss.ntotal == 104
    assert len(index) == 3


def test_cache_names(photos: list[Path]) -> None:
    assert S.cache_tag(photos) == ""  # every photo of the folder: the old cache's name
    odd, even = S.cache_tag(photos[1::2]), S.cache_tag(photos[0::2])
    assert odd.startswith("-") and even.startswith("-") and odd != even


def test_the_latency_run_counts_the_rest_searches(monkeypatch, tmp_path: Path) -> None:
    """bench/derivative_latency.py run reports how many checks ran the rest search (REST_SHARE) and the
    verifications made from it on, per settings group: one upload whose first ranking holds only the pasted
    part's photo (the search replaced by a fixed ranking, as in test_derivative_large_candidates) runs it
    under the defaults and not with REST_CHECKS = 0; an unrelated upload never does."""
    import derivative_latency as L  # noqa: PLC0415

    from ncii_shield.index import derivative as D  # noqa: PLC0415
    from ncii_shield.index.derivative import Candidate  # noqa: PLC0415
    from tests.unit.index.test_derivative_large_candidates import CROP, at_one_spot  # noqa: PLC0415
    from tests.unit.index.test_derivative_large_part import OTHERS  # noqa: PLC0415
    from tests.unit.index.test_derivative_whole_candidates import CENTRE, shrunk, soft  # noqa: PLC0415
    from tests.unit.signals.test_derivative_kinds import replaced  # noqa: PLC0415

    index = DerivativeIndex()
    index.add_features(F.photo_features(scene(31)), 1)  # the photo around the pasted part
    index.add_features(F.photo_features(scene(81)), 4)  # the part's photo
    for k, id in enumerate(OTHERS):
        index.add_features(F.photo_features(soft(40 + k)), id)
    ranked = [Candidate(4, 40, False, 0)] + [Candidate(id, 4, False, 0, at_one_spot(4)) for id in OTHERS]
    # the first search replaced (run() wraps index.candidates and deletes its wrapper when done: a local index)
    index.candidates = lambda upload, allowed=None, limit=D.CANDIDATES: ranked[:limit]  # type: ignore[method-assign]

    class Photos:  # the registry's photo_of: id k shows photo k - 1
        @staticmethod
        def photo_of(i: int) -> int:
            return i - 1

    related = [(shrunk(replaced(scene(31), scene(81), CENTRE)[:, CROP]), 0, 3)]
    unrelated = [shrunk(soft(70))]
    monkeypatch.setattr(L, "load", lambda folder, photos, cells: (
        index, Photos, {"related": related, "unrelated": unrelated}, {}))
    args = SimpleNamespace(folder=str(tmp_path), photos="", set=["", "REST_CHECKS=0"], queries=1, unrelated_queries=1,
                           rounds=2, instances=False, hits=str(tmp_path / "hits.json"), no_cells=False)
    on, off = L.run(args)["groups"]
    assert (on["rest_searches"], off["rest_searches"]) == (2, 0)  # two rounds
    assert on["unrelated_rest_searches"] == off["unrelated_rest_searches"] == 0
    assert on["rest_verifications"] >= 2 and off["rest_verifications"] == 0
    assert (on["own_photo_verified"], off["own_photo_verified"]) == (1.0, 0.0)  # found by the rest search only
    assert on["false_flags"] == off["false_flags"] == 0
    assert 0 < on["unrelated_extract_cpu_ms_p50"] <= on["unrelated_critical_ms_p50"]  # the upload's extraction alone
    assert [g["rest"] for g in json.loads((tmp_path / "hits.json").read_text())] == [[1, 1], [0, 0]]
    assert D.REST_CHECKS == 4 and "_rest_candidates" not in vars(index)  # settings and the index restored


def test_the_latency_run_sets_other_modules_constants() -> None:
    """--set verify.NAME=... / panels.NAME=... (derivative_latency.py): another module's constant set for
    its group (a tuple's items split by ';', a bool as 0 / 1) and the default restored after."""
    import derivative_latency as L  # noqa: PLC0415

    from ncii_shield.index import derivative as D  # noqa: PLC0415
    from ncii_shield.signals.derivative import panels as P  # noqa: PLC0415
    from ncii_shield.signals.derivative import verify as V  # noqa: PLC0415

    group = L.parse_group("verify.RECOLOUR_PARTIAL=0.3;0.1,panels.AGAIN=0,REST_CHECKS=0")
    before = (V.RECOLOUR_PARTIAL, P.AGAIN, D.REST_CHECKS)
    defaults = {n: getattr(*L.owner(n)) for n in group}
    L.apply(group, defaults)
    try:
        assert (V.RECOLOUR_PARTIAL, P.AGAIN, D.REST_CHECKS) == ((0.3, 0.1), False, 0)
    finally:
        L.apply({}, defaults)
    assert (V.RECOLOUR_PARTIAL, P.AGAIN, D.REST_CHECKS) == before


def test_entries_have_cells_of_their_own_and_their_signatures_carry_them(photos: list[Path], real: list) -> None:
    """2026-12-07 #7: an entry's cell keys (entry_keys: its window's cells, moved by its transform for a copy, at
    its photo's shape) are the keys of the cells its signature carries, as the cell search keys a registered photo;
    a window's own cells unmoved, every copy of a window moved differently; patterns flipped with their cells."""
    from ncii_shield.index.derivative import _cell_keys  # noqa: PLC0415
    from ncii_shield.signals.derivative import verify as V  # noqa: PLC0415

    reg = S.SyntheticRegistry(photos, size=60, real_windows=20, seed=7, registry="honest", real=real)
    S.load_rgbs(reg.window_paths)
    windows = reg.summaries = S._window_summaries((0, 20, 7))  # (the cache in bench/results/ skipped)
    c = S.window_cells(3, 7)
    assert np.array_equal(S.stored_cells(windows[3]).pattern, c.pattern)
    assert all(np.array_equal(getattr(S.stored_cells(windows[3]), a), getattr(c, a)) for a in ("mean", "std", "cb", "cr"))
    ids, shapes, keys = reg.cell_keys(windows, 0, 60)
    assert ids == list(range(1_000_000, 1_000_060))
    for k in range(60):
        f = F.decode(reg.signature(1_000_000 + k))
        own = F.decode(reg.values[reg._window_photo(k) + 1])  # its photo's signature, as stored
        assert np.array_equal(f.points, own.points) and (f.frame_w, f.frame_h) == (own.frame_w, own.frame_h)
        assert np.array_equal(np.sort(keys[k]), np.sort(_cell_keys(f.cells, f.frame_w / f.frame_h)))
        assert shapes[k] == pytest.approx(f.frame_w / f.frame_h)
    t = S.cell_transform(np.arange(60), 20, 7)
    assert (t[:20] == 0).all() and (t[20:] > 0).all()
    assert len({(k % 20, int(t[k])) for k in range(60)}) == 60  # no copy repeats its window or another copy
    assert np.array_equal(S._BITS[1], V._MIRROR_BITS)  # mirrored: as the upload's mirrored cells are
    c = S.window_cells(3, 7)
    for t in (1 * 256, 2 * 256 + 5 * 16 + 9):  # mirrored; upside down, rolled 5 rows and 9 columns
        moved = S.transform_cells(c, t)
        assert sorted(moved.pattern.ravel().tolist()) == sorted(S._BITS[t // 256][c.pattern].ravel().tolist())
        assert np.isclose(np.sort(moved.std.ravel()), np.sort(c.std.ravel())).all()
    flipped = S.transform_cells(c, 3 * 256)  # both flips: a half turn, twice is none
    assert np.array_equal(S.transform_cells(flipped, 3 * 256).pattern, c.pattern)
