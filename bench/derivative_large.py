"""Issue 20, the "large" edit kind (50-70 % of the photo replaced): its uploads, made exactly as
``derivative_bench.py`` makes them, verified directly and end to end, and the false-flag checks that
go with any change for it.

Usage::

    # 1. the bench's uploads (seed 7, every upload of a photo generated in order, so the random stream
    #    is the bench's): the large kind's single uploads (7 transforms) and the composites whose fake
    #    is of the large kind, saved as the JPEG bytes the bench decodes
    python bench/derivative_large.py gen CACHE [--workers 2] [--photos N]
    # 2. each single verified directly against its own photo (both orientations), and end to end
    #    (find_instances over an index of every protectable photo) with the composites; --negatives:
    #    every photo (re-encoded, as the bench's direct pass) verified against every other one,
    #    --held-out: the held-out kinds' singles (clothing, graded) verified against every unrelated photo
    python bench/derivative_large.py run CACHE [--e2e] [--negatives] [--set NAME=VALUE ...] [--json out.json]
    # another kind (or several, each summarised apart): its own cache, the same runs
    python bench/derivative_large.py gen CACHE --kinds regen; python bench/derivative_large.py run CACHE --kinds regen
    # --kinds re-share: the bench's unedited re-shares (11 transforms) and its two-copies composites, whose
    # "flagged" counts are wrong flags of the own photo; --filters: every photo through 13 whole-photo
    # filters (JPEG 85), verified directly against itself: a derivative verdict there is a wrong flag too

``--formats grid-9`` (or several, comma-separated) also keeps every composite of those share formats,
whatever its fake's kind (its edits then made in full, so ``gen`` is slower); ``run`` summarises them by
format (``formats``).
``--set`` changes a constant of ``verify.py`` (e.g. ``FEW_INLIERS=10`` turns the few-point path off),
``--set-index`` one of ``index/derivative.py`` (e.g. ``WHOLE_CANDIDATES=8``: the whole-frame hook over
the check's 8 candidates only, as before 2026-12-06 #6; ``REST_CHECKS=0``: no rest search, as before
2026-12-06 #8), ``--set-panels`` one of ``panels.py`` (e.g. ``PICTURE_STRIP=0``: photo-shaped parts under
PICTURE_SIDE not pictures, as before 2026-12-06 #7; ``AGAIN=0`` and ``ALIGNED_RING=0``: the cut before
2026-12-06 #8).
With ``--e2e`` the index's verifications per upload (all its checks) and its rest searches are counted
(``e2e_verifications_total_p50_p95``, ``e2e_rest_searches_uploads``: searches, uploads, of all uploads;
``e2e_rest_text_searches_uploads``: of them, those made after no hit in an upload with overlaid text,
``REST_TEXT``, and their uploads). ``--set-index REST_TEXT=0``: no rest search after no hit, as before
2026-12-07.
Every verdict that reaches the cell comparison is recorded (inliers, ``dense``, outcome), so the
statistic's spread over chance fits between unrelated photos is in the JSON (``chance``). With
``--negatives`` the voted crop fit (verify ``LEVEL_FIT``, 2026-12-07 #4) is summarised apart: its seeds that
reach ``LEVEL_VOTES`` of all seeds made (``chance_level_seeds_passed``), the best votes
(``chance_level_votes_top``), the outcomes of the fits it judged (``chance_level_judged``) and their
(inliers, dense, shared, outcome) from 10 points up (``chance_level_fits``).
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

os.environ.setdefault("OMP_NUM_THREADS", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import derivative_bench as B  # noqa: E402

from ncii_shield.index import derivative as D  # noqa: E402
from ncii_shield.index.derivative import DerivativeIndex, consistent_votes  # noqa: E402
from ncii_shield.signals.derivative import features as F  # noqa: E402
from ncii_shield.signals.derivative import panels as P  # noqa: E402
from ncii_shield.signals.derivative import verify as V  # noqa: E402
from ncii_shield.signals.derivative.instances import find_instances  # noqa: E402
from ncii_shield.signals.derivative.verify import Outcome, Upload, verify  # noqa: E402

KINDS: tuple = ("large",)  # --kinds
FORMATS: tuple = ()  # --formats
HELD = ("clothing", "graded")


def _jpeg(img: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


_SHRUNK: dict = {}
_DUMMY = np.zeros((120, 160, 3), np.uint8)


def _shrunk(path: Path) -> tuple[np.ndarray, np.ndarray]:
    rgb = B.load_rgb(path)
    return B.shrink(rgb), B.shrink(rgb, 640)


def _cached_shrink(rgb, side: int = B.WORK_SIDE) -> np.ndarray:  # noqa: ANN001
    """``shrink(load_rgb(path), side)`` from the photos decoded once (``load_rgb`` patched to the path)."""
    if isinstance(rgb, Path):
        return _SHRUNK[rgb][0 if side == B.WORK_SIDE else 1]
    return _SHRINK(rgb, side)


_SHRINK = B.shrink
_APPLY_EDIT, _APPLY_NEW = B.apply_edit, B.apply_new_edit
_IN_NEW = [False]


def _cheap_edit(kind: str, img: np.ndarray, box, rng, other):  # noqa: ANN001, ANN202
    """The benchmark's own kinds are not kept: a blur or an inpainting (which draw no random numbers) is
    skipped unless a kept kind (graded) asks for it."""
    if kind in ("blur", "inpaint") and not _IN_NEW[0]:
        return img
    return _APPLY_EDIT(kind, img, box, rng, other)


def _new_edit(kind: str, img: np.ndarray, rng, other):  # noqa: ANN001, ANN202
    if kind == "regen" and kind not in KINDS:  # not kept; its smoothing draws no random numbers
        real, cv2.edgePreservingFilter = cv2.edgePreservingFilter, lambda part, **_: part
        try:
            return _APPLY_NEW(kind, img, rng, other)
        finally:
            cv2.edgePreservingFilter = real
    _IN_NEW[0] = True
    try:
        return _APPLY_NEW(kind, img, rng, other)
    finally:
        _IN_NEW[0] = False


def gen_photo(i: int) -> list[dict]:
    out = []
    seed = B.STATE["seed"]
    base = None
    for edit, transform, fmt, share, img, rng, related, fake_boxes, base_boxes in B.uploads_for(i, seed):
        keep = (edit in KINDS + HELD and fmt == "single") or (edit in KINDS and fmt != "single") or fmt in FORMATS
        if edit == "re-share" and base is None:
            base = img  # the photo as the edits start from it (the bench's working copy)
        # the transforms draw the same random numbers whatever the image's size: an upload not kept
        # is transformed as a small dummy (the stream stays the bench's)
        img2, quality = B.apply_transform(transform, img if keep else _DUMMY, rng)
        if keep:
            row = {"photo": i, "edit": edit, "transform": transform, "format": fmt, "share": share,
                   "related": sorted(related), "fake_boxes": [list(map(int, b)) for b in fake_boxes],
                   "base_boxes": [list(map(int, b)) for b in base_boxes], "jpeg": _jpeg(img2, quality)}
            if fmt == "single" and edit != "re-share" and base is not None and img.shape == base.shape:
                # where the edit changed the photo, as shares of its width and height (x0, y0, x1, y1)
                ys, xs = np.nonzero(np.any(img != base, axis=2))
                h, w = base.shape[:2]
                if len(xs):
                    row["edit_box"] = [round(xs.min() / w, 4), round(ys.min() / h, 4),
                                       round((xs.max() + 1) / w, 4), round((ys.max() + 1) / h, 4)]
            out.append(row)
    return out


def _record(verdict, trace):  # noqa: ANN001, ANN202
    d = verdict.details or {}
    trace.append((verdict.inliers, int(d.get("dense", -1)), verdict.outcome.value, round(verdict.shared_share, 3),
                  round(float(d.get("precision", -1)), 2), IN_LEVEL[0]))


TRACE: list = []
PRE: list = []  # every whole-frame pre-test (verify._whole_pretest) and its value
# end to end: every pre-test and whole-frame comparison, with the registered photo (its features' id())
# and whether the index's hook (index/derivative.py ``whole_frame``) made it or verify() itself
E2E_PRE: list = []  # (id(reg), value, in the hook)
E2E_WHOLE: list = []  # (id(reg), dense, outcome, in the hook): whole-frame comparisons made in full
IN_HOOK = [False]
IN_WHOLE = [False]
IN_LEVEL = [False]  # inside verify's third try (verify._instances with level=True: the voted crop fit)
LEVELS: list = []  # every level seed's votes (verify._level_seed), as uploaded and mirrored
# end to end, per upload: verifications (index/derivative.py's verify calls) and rest searches (REST_SHARE)
COUNTS = {"verify": 0, "rest": 0, "text": 0}


def _counted(name, original):  # noqa: ANN001, ANN202
    def inner(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        COUNTS[name] += 1
        return original(*args, **kwargs)
    return inner


def _counted_true(name, original):  # noqa: ANN001, ANN202
    def inner(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        value = original(*args, **kwargs)
        COUNTS[name] += bool(value)
        return value
    return inner


def _traced_pretest(original):  # noqa: ANN001, ANN202
    def pretest(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        value = original(*args, **kwargs)
        PRE.append(value)
        E2E_PRE.append((id(args[0]), value, IN_HOOK[0]))
        return value
    return pretest


def _flagged(flag, original):  # noqa: ANN001, ANN202
    def inner(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        flag[0] = True
        try:
            return original(*args, **kwargs)
        finally:
            flag[0] = False
    return inner


def _traced_compare(original):  # noqa: ANN001, ANN202
    def compare(reg, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        v = original(reg, *args, **kwargs)
        if IN_WHOLE[0]:
            E2E_WHOLE.append((id(reg), int(v.details.get("dense", 0)), v.outcome.value, IN_HOOK[0]))
        return v
    return compare


def _traced_level_seed(original):  # noqa: ANN001, ANN202
    def seed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        votes, matrix = original(*args, **kwargs)
        LEVELS.append(votes)
        return votes, matrix
    return seed


def _level_flagged(original):  # noqa: ANN001, ANN202
    def instances(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        IN_LEVEL[0] = bool(kwargs.get("level"))
        try:
            return original(*args, **kwargs)
        finally:
            IN_LEVEL[0] = False
    return instances


def _traced_judge(original):  # noqa: ANN001, ANN202
    def judge(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        v = original(*args, **kwargs)
        _record(v, TRACE)
        return v
    return judge


def run_upload(k: int) -> dict:
    u = B.STATE["uploads"][k]
    feats, ids, index = B.STATE["features"], B.STATE["ids"], B.STATE["index"]
    rgb = _decode(u["jpeg"])
    i = u["photo"]
    row = {key: u[key] for key in ("photo", "edit", "transform", "format", "share")}
    prepared = Upload.from_rgb(rgb)
    if u["format"] == "single" and u["edit"] in KINDS:
        TRACE.clear()
        PRE.clear()
        v = verify(feats[i], prepared)
        row.update(direct=v.outcome.value, inliers=v.inliers, reason=v.reason, dense=v.details.get("dense"),
                   judged=list(TRACE), pretest=list(PRE))
    if u["format"] == "single" and u["edit"] in HELD and B.STATE["held_out"]:
        related = {i, *u["related"]}
        TRACE.clear()
        flags = []
        for j, reg in enumerate(feats):
            if j in related:
                continue
            v = verify(reg, prepared)
            if v.outcome is not Outcome.NONE:
                flags.append((j, v.outcome.value, v.inliers, v.reason))
        row.update(held_flags=flags, chance=list(TRACE))
    if B.STATE["e2e"]:
        E2E_PRE.clear()
        E2E_WHOLE.clear()
        COUNTS.update(verify=0, rest=0, text=0)
        started = time.process_time()
        found = find_instances(rgb, prepared, lambda p: [(None, h) for h in index.check(p)])
        row["cpu_ms"] = 1000 * (time.process_time() - started)
        row["verifications"], row["rest_searches"] = COUNTS["verify"], COUNTS["rest"]
        row["text_rest_searches"] = COUNTS["text"]  # of them, after no hit with overlaid text (REST_TEXT)
        by_reg = B.STATE["by_reg"]
        mine = {ids[i]} | {ids[j] for j in u["related"]}
        # (related to the upload?, value, in the hook) for every pre-test; the same for full comparisons
        row["e2e_pretests"] = [(by_reg.get(r) in mine, v, h) for r, v, h in E2E_PRE]
        row["e2e_whole"] = [(by_reg.get(r) in mine, d, o, h) for r, d, o, h in E2E_WHOLE]
        if B.STATE.get("candidates"):  # the own photo in the candidate stage (every candidate, no limit)
            cands = index.candidates(prepared, limit=10 ** 6)
            rank = next((k for k, c in enumerate(cands) if c.id == ids[i]), None)
            c = cands[rank] if rank is not None else None
            fh, fw = prepared.frame.grey.shape
            reg = feats[i]
            row["own_candidate"] = None if c is None else [rank, c.votes, c.other_votes,
                                                            consistent_votes(reg, prepared, c), bool(c.mirrored)]
            row["top_votes"] = cands[0].votes if cands else 0
            row["n_candidates"] = len(cands)
            row["same_shape"] = abs((fw / fh) / (reg.frame_w / reg.frame_h) - 1.0) <= V.WHOLE_ASPECT
        own = [f for f in found if f.id == ids[i] and f.verdict.outcome is Outcome.DERIVATIVE]
        related = {ids[i]} | {ids[j] for j in u["related"]}
        row["flags_unrelated"] = sum(1 for f in found if f.id not in related and f.verdict.outcome is Outcome.DERIVATIVE)
        row["reshare_unrelated"] = sum(1 for f in found if f.id not in related and f.verdict.outcome is Outcome.RESHARE)
        if u["format"] == "single":
            row["fakes"], row["caught"] = 1, min(1, len(own))
        else:
            hit = {B._centre_in(f.verdict.instance_box, [tuple(b) for b in u["fake_boxes"]]) for f in own}
            row["fakes"], row["caught"] = len(u["fake_boxes"]), len(hit - {None})
            row["on_original"] = sum(B._centre_in(f.verdict.instance_box, [tuple(b) for b in u["base_boxes"]])
                                     is not None for f in own)
    return row


def negatives(i: int) -> dict:
    """The bench's own direct pass over every other photo (``negatives_for``), with the chance fits traced."""
    TRACE.clear()
    PRE.clear()
    LEVELS.clear()
    out = B.negatives_for(i)
    return {**out, "chance": list(TRACE), "judged": len(TRACE), "pretest": list(PRE), "levels": list(LEVELS)}


def _detail(part: dict, singles: list[dict], e2e: bool) -> None:
    """Per transform: flagged directly (and end to end), and why the others were not (the verdict directly)."""
    by_t: dict = defaultdict(lambda: [0, 0, 0])
    why: dict = defaultdict(Counter)
    for r in singles:
        t = by_t[r["transform"]]
        t[0] += r["direct"] == "derivative"
        t[1] += bool(r.get("caught"))
        t[2] += 1
        if r["direct"] != "derivative":
            why[r["transform"]][f"{r['direct']}: {r['reason'].split(' (')[0]}"] += 1
    part["direct_e2e_by_transform"] = {t: f"{a} / {b} of {n}" if e2e else f"{a} of {n}" for t, (a, b, n) in by_t.items()}
    part["direct_lost_by_transform"] = {t: c.most_common() for t, c in why.items()}
    if e2e:
        part["direct_vs_e2e"] = Counter(f"direct {r['direct'] == 'derivative'}, e2e {bool(r['caught'])}"
                                        for r in singles).most_common()


def _lift(img: np.ndarray, f) -> np.ndarray:  # noqa: ANN001
    return np.clip(f(img.astype(np.float32) / 255.0) * 255.0, 0, 255).astype(np.uint8)


def _saturation(img: np.ndarray, gain: float) -> np.ndarray:
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 1] = np.clip(hsv[..., 1] * gain, 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)


def _radial(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    return (np.hypot((xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2)) / np.sqrt(2))[..., None]


def _clahe(img: np.ndarray) -> np.ndarray:
    lab = cv2.cvtColor(img, cv2.COLOR_RGB2LAB)
    lab[..., 0] = cv2.createCLAHE(2.0, (8, 8)).apply(np.ascontiguousarray(lab[..., 0]))
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def _tint(img: np.ndarray) -> np.ndarray:  # a graduated tint: orange at the top fading out by the middle
    ramp = np.clip(1.0 - np.linspace(0, 2, img.shape[0]), 0, 1)[:, None, None]
    return _lift(img, lambda x: x * (1 - 0.35 * ramp) + 0.35 * ramp * np.array([1.0, 0.55, 0.1]))


def _graded(img: np.ndarray, t: np.ndarray, full: float, zero: float, colour, strength: float) -> np.ndarray:
    """A graduated filter along ``t`` (0-1 over the picture): full strength up to ``full``, fading linearly to
    nothing at ``zero`` (a plateau and a feathered end when ``full`` > 0)."""
    ramp = np.clip((zero - t) / max(zero - full, 1e-6), 0, 1)[..., None]
    return _lift(img, lambda x: x * (1 - strength * ramp) + strength * ramp * np.array(colour))


def _coords(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = img.shape[:2]
    return np.mgrid[0:h, 0:w][1] / max(w - 1, 1), np.mgrid[0:h, 0:w][0] / max(h - 1, 1)


def _angled(img: np.ndarray, degrees: float, colour, strength: float = 0.35) -> np.ndarray:
    """A graduated tint whose band runs at ``degrees`` from the horizontal (0: the bench tint's top band)."""
    x, y = _coords(img)
    a = np.radians(degrees)
    t = np.sin(a) * x + np.cos(a) * y
    t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
    return _graded(img, t, 0.0, 0.5, colour, strength)


def _corner(img: np.ndarray) -> np.ndarray:
    """A blue tint from the top-left corner, fading out by 60 % of the diagonal."""
    x, y = _coords(img)
    return _graded(img, np.hypot(x, y) / np.sqrt(2), 0.1, 0.6, (0.25, 0.45, 1.0), 0.3)


_ORANGE, _BLUE = (1.0, 0.55, 0.1), (0.25, 0.45, 1.0)
_SEPIA = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])
# whole-photo filters an app applies to a re-share (about those of the 2026-12-06 #2 check): not edits
FILTERS = {
    "gamma 0.7": lambda i: _lift(i, lambda x: x ** 0.7),
    "gamma 1.4": lambda i: _lift(i, lambda x: x ** 1.4),
    "channel gains": lambda i: _lift(i, lambda x: x * np.array([1.12, 1.0, 0.82])),
    "lifted blacks": lambda i: _lift(i, lambda x: 0.12 + 0.88 * x),
    "saturation x0.4": lambda i: _saturation(i, 0.4),
    "saturation x1.6": lambda i: _saturation(i, 1.6),
    "black and white": lambda i: np.repeat(cv2.cvtColor(i, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2),
    "vignette": lambda i: _lift(i, lambda x: x * (1 - 0.6 * _radial(i) ** 2)),
    "clahe": _clahe,
    "sepia": lambda i: _lift(i, lambda x: x @ _SEPIA.T),
    "graduated tint": _tint,
    "bilateral": lambda i: cv2.bilateralFilter(i, 9, 40, 7),
    "contrast x1.4": lambda i: _lift(i, lambda x: (x - 0.5) * 1.4 + 0.5),
    # graduated filters of other profiles (2026-12-07 #6, after the review of #5 found them called recoloured):
    # a plateau with a feathered end, a darkened foot, bands at 30 and 60 degrees, a corner tint
    "plateau tint": lambda i: _graded(i, _coords(i)[1], 0.3, 0.5, _ORANGE, 0.35),
    "blue sky plateau": lambda i: _graded(i, _coords(i)[1], 0.35, 0.5, _BLUE, 0.3),
    "dark foot plateau": lambda i: _graded(i, 1 - _coords(i)[1], 0.3, 0.45, (0.0, 0.0, 0.0), 0.35),
    "angled tint 30": lambda i: _angled(i, 30, _ORANGE),
    "angled tint 60": lambda i: _angled(i, 60, _BLUE),
    "corner tint": _corner,
}


def filtered(i: int) -> list[tuple]:
    """Photo ``i`` through each of FILTERS, re-encoded (JPEG 85), verified directly against itself."""
    base = B.shrink(B.load_rgb(B.STATE["paths"][i]))
    out = []
    for name, f in FILTERS.items():
        v = verify(B.STATE["features"][i], Upload.from_rgb(B.reencode(f(base), 85)))
        out.append((i, name, v.outcome.value, v.reason.split(" (")[0]))
    return out


def _set_constants(module, items: list[str]) -> None:  # noqa: ANN001
    """``NAME=VALUE`` items set on ``module``, each value of the constant's own type ("1"/"true" for a flag)."""
    for item in items:
        name, value = item.split("=", 1)
        old = getattr(module, name)
        setattr(module, name, value.lower() in ("1", "true") if isinstance(old, bool) else type(old)(float(value)))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("gen", "run"))
    parser.add_argument("cache")
    parser.add_argument("--photos-dir", default=str(HERE.parent.parent / "shared" / "data" / "photos"))
    parser.add_argument("--photos", type=int, help="only the first N photos (sorted names)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--e2e", action="store_true")
    parser.add_argument("--negatives", action="store_true")
    parser.add_argument("--held-out", action="store_true")
    parser.add_argument("--candidates", action="store_true", help="with --e2e: the own photo's place among the candidates")
    parser.add_argument("--no-direct", action="store_true", help="skip the large singles (negatives only)")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--set-index", action="append", default=[], help="NAME=VALUE: a constant of index/derivative.py")
    parser.add_argument("--json")
    parser.add_argument("--kinds", default="large", help="comma-separated edit kinds of the bench (default large)")
    parser.add_argument("--formats", default="", help="comma-separated composite formats kept whatever their fake's kind")
    parser.add_argument("--set-panels", action="append", default=[], help="NAME=VALUE: a constant of panels.py")
    parser.add_argument("--detail", action="store_true", help="per transform: flagged directly / end to end, reasons")
    parser.add_argument("--filters", action="store_true", help="every photo through FILTERS, verified against itself")
    args = parser.parse_args()
    global KINDS, FORMATS
    KINDS = tuple(args.kinds.split(","))
    FORMATS = tuple(f for f in args.formats.split(",") if f)
    paths = sorted(p for p in Path(args.photos_dir).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    B.STATE.update(paths=paths, seed=args.seed)
    cache = Path(args.cache)
    makers = list(range(len(paths)))[: args.photos or len(paths)]
    ctx = mp.get_context("fork")
    if args.mode == "gen":
        cache.mkdir(parents=True, exist_ok=True)
        with ctx.Pool(args.workers) as pool:
            _SHRUNK.update(zip(paths, pool.map(_shrunk, paths)))
        B.load_rgb, B.shrink = (lambda path: path), _cached_shrink
        if not FORMATS:  # a kept composite's fake may be of any kind: its edits made in full
            B.apply_edit, B.apply_new_edit = _cheap_edit, _new_edit
        with ctx.Pool(args.workers) as pool:
            for rows in pool.imap(gen_photo, makers):
                i = rows[0]["photo"]
                (cache / f"{i:03d}.json").write_text(json.dumps([{**r, "jpeg": r["jpeg"].hex()} for r in rows]))
                print(f"photo {i}: {len(rows)} uploads", file=sys.stderr, flush=True)
        return 0
    _set_constants(V, args.set)
    _set_constants(P, args.set_panels)
    _set_constants(D, args.set_index)
    V._judge = _traced_judge(V._judge)
    if hasattr(V, "_whole_pretest"):
        V._whole_pretest = _traced_pretest(V._whole_pretest)
        V._compare = _traced_compare(V._compare)
        V._whole_frame = _flagged(IN_WHOLE, V._whole_frame)
    if hasattr(V, "_level_seed"):  # the voted crop fit (2026-12-07 #4): its seeds and the verdicts it judged
        V._level_seed = _traced_level_seed(V._level_seed)
        V._instances = _level_flagged(V._instances)
    if hasattr(D, "whole_frame"):
        D.whole_frame = _flagged(IN_HOOK, D.whole_frame)
    D.verify = _counted("verify", D.verify)
    if hasattr(DerivativeIndex, "_rest_candidates"):
        DerivativeIndex._rest_candidates = _counted("rest", DerivativeIndex._rest_candidates)
    if hasattr(D, "_overlaid_text"):  # asked after no hit with candidates ranked: True starts a rest search
        D._overlaid_text = _counted_true("text", D._overlaid_text)
    started = time.perf_counter()
    with ctx.Pool(args.workers) as pool:
        feats = pool.map(B.register, paths)
    feats = [f for f, _ in feats]
    plain = {k for k, f in enumerate(feats) if F.plain_reason(f)}
    ids = list(range(1, len(paths) + 1))
    index = DerivativeIndex()
    index.add_features_many([(f, ids[k]) for k, f in enumerate(feats) if k not in plain])
    uploads = []
    for i in makers:
        for r in json.loads((cache / f"{i:03d}.json").read_text()):
            if r["format"] in FORMATS:
                uploads.append({**r, "jpeg": bytes.fromhex(r["jpeg"])})
                continue
            if args.no_direct and not (args.held_out and r["edit"] in HELD):
                continue
            if r["edit"] in HELD and not args.held_out:
                continue
            if r["edit"] not in KINDS + HELD:  # a cache made with more kinds than this run's
                continue
            uploads.append({**r, "jpeg": bytes.fromhex(r["jpeg"])})
    B.STATE.update(features=feats, ids=ids, index=index, uploads=uploads, e2e=args.e2e, held_out=args.held_out,
                   candidates=args.candidates, by_reg={id(f): ids[k] for k, f in enumerate(feats)})
    print(f"registered in {time.perf_counter() - started:.0f} s; {len(uploads)} uploads", file=sys.stderr, flush=True)
    with ctx.Pool(args.workers) as pool:
        rows = pool.map(run_upload, range(len(uploads)), chunksize=4)
        neg = pool.map(negatives, makers) if args.negatives else []
        filt = [f for fs in pool.map(filtered, makers) for f in fs] if args.filters else []
    out: dict = {"settings": args.set + args.set_index + args.set_panels, "seconds": round(time.perf_counter() - started)}
    if FORMATS and args.e2e:  # every composite of the formats asked for, whatever its fake's kind
        kept = [r for r in rows if r["format"] in FORMATS]
        out["formats"] = {f: f"{sum(r['caught'] for r in rs)}/{sum(r['fakes'] for r in rs)}"
                          for f in FORMATS for rs in [[r for r in kept if r["format"] == f]]}
        out["formats_flags_unrelated"] = sum(r["flags_unrelated"] for r in kept)
    for kind in KINDS:  # one kind: its figures at the top level, as before; several: one dict each
        part: dict = out if len(KINDS) == 1 else out.setdefault(kind, {})
        singles = [r for r in rows if r["format"] == "single" and r["edit"] == kind]
        if singles:
            part["direct_flagged"] = sum(r["direct"] == "derivative" for r in singles)
            part["direct_of"] = len(singles)
            part["direct_reasons"] = Counter(r["reason"].split(" (")[0] if r["direct"] != "derivative" else "flagged"
                                            for r in singles).most_common(12)
            part["few_flagged"] = sum(r["direct"] == "derivative" and r["inliers"] < V.MIN_INLIERS for r in singles)
            part["own_dense"] = sorted(t[1] for r in singles for t in r["judged"] if t[0] < V.MIN_INLIERS)
            # the whole-frame flags (no keypoint fit): their largest pre-test value (the bar: WHOLE_PRETEST)
            part["whole_flag_pretests"] = sorted(max(r["pretest"], default=-1) for r in singles
                                                if r["direct"] == "derivative" and r["inliers"] == 0)
        if args.e2e:
            by = defaultdict(lambda: [0, 0])
            for r in rows:
                if r["edit"] != kind:
                    continue
                key = "single" if r["format"] == "single" else "composite"
                by[key][0] += r["caught"]
                by[key][1] += r["fakes"]
                by[f"{key} {r['format'] if key == 'composite' else r['transform']}"][0] += r["caught"]
                by[f"{key} {r['format'] if key == 'composite' else r['transform']}"][1] += r["fakes"]
            part["e2e"] = {k: f"{a}/{b} ({a / max(1, b):.1%})" for k, (a, b) in sorted(by.items())}
            mine = rows if len(KINDS) == 1 else [r for r in rows if r["edit"] == kind]
            part["e2e_flags_unrelated"] = sum(r.get("flags_unrelated", 0) for r in mine)
            part["e2e_reshare_unrelated"] = sum(r.get("reshare_unrelated", 0) for r in mine)
            part["e2e_on_original"] = sum(r.get("on_original", 0) for r in mine)
            if args.candidates:  # flagged directly, not end to end: where the own photo stood among the candidates
                lost = [r for r in singles if r["direct"] == "derivative" and not r["caught"]]
                part["lost_e2e"] = len(lost)
                part["lost_e2e_stage"] = Counter(
                    ("no candidate" if r["own_candidate"] is None else
                     f"rank {'<8' if r['own_candidate'][0] < 8 else '>=8'}, lines up {'>=3' if r['own_candidate'][3] >= 3 else '<3'}")
                    + (", same shape" if r["same_shape"] else "") for r in lost).most_common()
                part["lost_e2e_votes"] = sorted(r["own_candidate"][1] for r in lost if r["own_candidate"])
                # (rank, votes, same shape) of those lost past the check's CANDIDATES
                part["lost_e2e_past"] = sorted((r["own_candidate"][0], r["own_candidate"][1], r["same_shape"]) for r in lost
                                              if r["own_candidate"] and r["own_candidate"][0] >= D.CANDIDATES)
        if args.detail and singles:
            _detail(part, singles, args.e2e)
    if args.e2e:
        cpu = [r["cpu_ms"] for r in rows if "cpu_ms" in r]
        if any("n_candidates" in r for r in rows):
            n = [r["n_candidates"] for r in rows if "n_candidates" in r]
            out["candidates_per_upload_p50_p95_max"] = [int(np.percentile(n, 50)), int(np.percentile(n, 95)), max(n)]
        # the whole-frame step end to end, against the photos the upload is not made from
        pre = [(v, h) for r in rows for rel, v, h in r.get("e2e_pretests", []) if not rel]
        whole = [(d, o, h) for r in rows for rel, d, o, h in r.get("e2e_whole", []) if not rel]
        out["e2e_unrelated_pretests_hook_verify"] = [sum(h for _, h in pre), sum(not h for _, h in pre)]
        out["e2e_unrelated_pretest_top"] = sorted((v for v, _ in pre), reverse=True)[:12]
        out["e2e_unrelated_pretest_hist"] = sorted(Counter(v for v, _ in pre).items())
        out["e2e_unrelated_compared_hook_verify"] = [sum(h for *_, h in whole), sum(not h for *_, h in whole)]
        out["e2e_unrelated_compared_dense_top"] = sorted((d for d, *_ in whole), reverse=True)[:12]
        rel_pre = [(v, h) for r in rows for rel, v, h in r.get("e2e_pretests", []) if rel]
        out["e2e_related_pretests_hook_verify"] = [sum(h for _, h in rel_pre), sum(not h for _, h in rel_pre)]
        out["e2e_cpu_ms_p50_p95"] = [round(float(np.percentile(cpu, q)), 1) for q in (50, 95)]
        # the index's verifications end to end (all checks of an upload) and its rest searches (REST_SHARE)
        ver = [r["verifications"] for r in rows if "verifications" in r]
        out["e2e_verifications_total_p50_p95"] = [sum(ver), int(np.percentile(ver, 50)), int(np.percentile(ver, 95))]
        out["e2e_rest_searches_uploads"] = [sum(r.get("rest_searches", 0) for r in rows),
                                            sum(r.get("rest_searches", 0) > 0 for r in rows), len(rows)]
        # of them, the searches after no hit in an upload with overlaid text (REST_TEXT), and their uploads
        out["e2e_rest_text_searches_uploads"] = [sum(r.get("text_rest_searches", 0) for r in rows),
                                                 sum(r.get("text_rest_searches", 0) > 0 for r in rows)]
    held = [r for r in rows if "held_flags" in r]
    if held:
        out["held_out_uploads"] = len(held)
        out["held_out_pairs"] = sum(len(paths) - 1 - len({r["photo"], *r.get("related", [])}) for r in held)
        out["held_out_flags"] = [(r["photo"], r["edit"], r["transform"], f) for r in held for f in r["held_flags"]]
        out["held_out_chance"] = Counter((t[0], t[1]) for r in held for t in r["chance"]).most_common()
    if neg:
        counts: Counter = Counter()
        for n in neg:
            counts.update(n["counts"])
        out["negatives"] = dict(counts)
        out["negatives_flagged"] = [f for n in neg for f in n["flagged"]]
        chance = [t for n in neg for t in n["chance"]]
        out["chance_fits_judged"] = len(chance)
        out["chance_dense_hist"] = sorted(Counter(t[1] for t in chance).items())
        out["chance_dense_by_outcome"] = sorted(Counter((t[2], t[1]) for t in chance if t[1] >= 4).items())
        out["chance_outcomes"] = Counter(t[2] for t in chance).most_common()
        out["chance_max_dense"] = max((t[1] for t in chance), default=None)
        # consistent points of the chance fits judged, and their (inliers, dense, shared) from 15 points up
        out["chance_inliers_hist"] = sorted(Counter(t[0] for t in chance).items())
        out["chance_strong"] = sorted((t[0], t[1], t[3], t[2]) for t in chance if t[0] >= 15)
        # the voted crop fit (verify LEVEL_FIT): seeds over LEVEL_VOTES, the verdicts it judged and their spread
        levels = [v for n in neg for v in n.get("levels", [])]
        if levels:
            bar = getattr(V, "LEVEL_VOTES", 0)
            out["chance_level_seeds_passed"] = [sum(v >= bar for v in levels), len(levels)]
            out["chance_level_votes_top"] = sorted(levels, reverse=True)[:12]
            judged = [t for t in chance if len(t) > 5 and t[5]]
            out["chance_level_judged"] = Counter(t[2] for t in judged).most_common()
            out["chance_level_fits"] = sorted((t[0], t[1], t[3], t[2]) for t in judged if t[0] >= 10)
        pre = [p for n in neg for p in n.get("pretest", [])]
        out["chance_pretests"] = len(pre)
        out["chance_pretest_hist"] = sorted(Counter(pre).items())
    if filt:
        out["filters_outcomes"] = Counter(f[2] for f in filt).most_common()
        out["filters_flagged_by_filter"] = Counter(f[1] for f in filt if f[2] == "derivative").most_common()
        out["filters_flagged"] = [f[:2] for f in filt if f[2] == "derivative"]
    summary = {k: ({a: b for a, b in v.items() if a != "own_dense"} if k in KINDS else v)
               for k, v in out.items() if k not in ("own_dense",)}
    print(json.dumps(summary, indent=1, default=str))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": out, "rows": [{k: v for k, v in r.items() if k != "judged"}
                                                                       for r in rows]}, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
