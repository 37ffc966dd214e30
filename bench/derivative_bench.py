"""Derivative detection: recall on edited copies of registered photos, false flags on unrelated pairs,
with whole-image PDQ side by side in the same run.

Usage::

    python bench/derivative_bench.py [PHOTOS] [--limit N] [--workers 2] [--seed 7] [--json out.json]
    python bench/derivative_bench.py [PHOTOS] --registry-size 100000 [--queries 300]   # scale run

PHOTOS defaults to ``../shared/data/photos`` (relative to the repository root): harmless photos only.

**Accuracy run.** Every photo is registered (its derivative signature; the photo is then only used
to make test uploads); photos too plain to protect are refused and not indexed, as on the server,
so their derivatives count as missed; photos with little detail are indexed, as on the server (which
registers them with a warning), and their recall is also reported apart. For each photo, from a copy at most 1024 pixels on its longer side:

* *edits*: a rectangle covering 15-50 % of the area (random aspect 1:2 to 2:1, random place) is
  replaced by a flat colour, random noise, a strong blur, a patch of another photo, or OpenCV
  inpainting (Telea) of the rectangle;
* each edit combined with each *transform*: none, JPEG 60-90, resize 0.4-0.8x, crop (up to 20 % of
  each side's length removed), mirror, rotation 1-5 degrees, a text watermark, a phone screenshot
  frame (status bar, header, caption), and three chains (crop+resize+JPEG; mirror+rotation+
  watermark+JPEG; screenshot of a resized copy, re-encoded);
* *re-shares*: every transform without an edit (must come back as a re-share, never a flag).

Every upload is saved as JPEG (quality 92 unless the transform chose lower), decoded, and checked
end to end (candidate search over the whole registry, then verification). A derivative counts as
caught when it is flagged against its own photo. A *false flag* is a flag against any other photo.
On top, every photo (re-encoded) is verified directly against every other registered photo
(all ordered unrelated pairs, bypassing candidate search). PDQ column: the upload's PDQ (best of
its 8 rotations/flips) within 31 of its original's.

**Scale run** (``--registry-size``): a synthetic registry of N entries — windows of the photos
(30-80 % of each side, random offset, optional mirror, gamma 0.8-1.25, resized to 256-320 pixels),
each with its own keypoints, so entries share no exact content offset — plus the real photos.
Uploads are derivatives as above. Reported: time per upload (decode excluded, feature extraction,
candidate search and verification of up to 8 candidates included), whether the true photo is
among the candidates, and index memory per registered photo. Synthetic entries' full signatures
are not stored: a synthetic candidate is verified against the signature of the photo its window
came from (same cost).
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pdqhash
from PIL import Image, ImageDraw, ImageFont

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ncii_shield.index.derivative import DerivativeIndex  # noqa: E402
from ncii_shield.signals.derivative import features as F  # noqa: E402
from ncii_shield.signals.derivative.verify import Outcome, Upload, verify  # noqa: E402

EDITS = ("flat", "noise", "blur", "patch", "inpaint")
TRANSFORMS = ("none", "jpeg", "resize", "crop", "mirror", "rotate", "watermark", "screenshot",
              "chain-crop-resize-jpeg", "chain-mirror-rotate-watermark-jpeg", "chain-resize-screenshot-jpeg")
WORK_SIDE = 1024


# -- making test uploads -----------------------------------------------------------------------------

def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def shrink(rgb: np.ndarray, side: int = WORK_SIDE) -> np.ndarray:
    h, w = rgb.shape[:2]
    f = side / max(h, w)
    return rgb if f >= 1 else cv2.resize(rgb, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)


def region(rng: np.random.Generator, h: int, w: int) -> tuple[int, int, int, int]:
    share, aspect = rng.uniform(0.15, 0.5), rng.uniform(0.5, 2.0)
    rw = min(w, round(np.sqrt(share * w * h * aspect)))
    rh = min(h, round(share * w * h / rw))
    x, y = int(rng.integers(0, w - rw + 1)), int(rng.integers(0, h - rh + 1))
    return x, y, rw, rh


def apply_edit(kind: str, img: np.ndarray, box: tuple[int, int, int, int], rng: np.random.Generator,
               other: np.ndarray) -> np.ndarray:
    out = img.copy()
    x, y, w, h = box
    if kind == "flat":
        out[y:y + h, x:x + w] = rng.integers(0, 256, 3)
    elif kind == "noise":
        out[y:y + h, x:x + w] = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    elif kind == "blur":
        sigma = max(w, h) / 10
        out[y:y + h, x:x + w] = cv2.GaussianBlur(img[y:y + h, x:x + w], (0, 0), sigma,
                                                 borderType=cv2.BORDER_REPLICATE)
    elif kind == "patch":
        oh, ow = other.shape[:2]
        f = max(w / ow, h / oh)
        big = cv2.resize(other, (max(w, round(ow * f)), max(h, round(oh * f))), interpolation=cv2.INTER_AREA)
        out[y:y + h, x:x + w] = big[:h, :w]
    elif kind == "inpaint":  # at half resolution (Telea is slow on large holes), then put back
        small = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
        mask = np.zeros(small.shape[:2], np.uint8)
        mask[y // 2:(y + h) // 2 + 1, x // 2:(x + w) // 2 + 1] = 255
        filled = cv2.inpaint(small, mask, 5, cv2.INPAINT_TELEA)
        up = cv2.resize(filled, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)
        out[y:y + h, x:x + w] = up[y:y + h, x:x + w]
    return out


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, size))


def watermark(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    pil = Image.fromarray(img).convert("RGBA")
    layer = Image.new("RGBA", pil.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    size = int(h * rng.uniform(0.035, 0.06))
    text = f"@share_bot_{int(rng.integers(100, 9999))} | t.me/example"
    x, y = int(rng.uniform(0.02, 0.3) * w), int(rng.uniform(0.05, 0.9) * h)
    draw.text((x, y), text, font=_font(size), fill=(255, 255, 255, int(rng.integers(120, 220))))
    return np.asarray(Image.alpha_composite(pil, layer).convert("RGB"))


def screenshot(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cw = 720
    ih, iw = img.shape[:2]
    pw = int(cw * rng.uniform(0.85, 1.0))
    ph = round(ih * pw / iw)
    top, header, bottom = 40, 90, 220
    dark = bool(rng.integers(0, 2))
    bg, fg = ((0, 0, 0), (240, 240, 240)) if dark else ((255, 255, 255), (20, 20, 20))
    canvas = Image.new("RGB", (cw, top + header + ph + bottom), bg)
    canvas.paste(Image.fromarray(cv2.resize(img, (pw, ph), interpolation=cv2.INTER_AREA)), ((cw - pw) // 2, top + header))
    d = ImageDraw.Draw(canvas)
    d.rectangle([0, 0, cw, top], fill=(30, 30, 30) if dark else (235, 235, 235))
    d.text((20, 8), "21:47", font=_font(22), fill=fg)
    d.text((cw - 120, 8), "5G  87%", font=_font(22), fill=fg)
    d.ellipse([20, top + 15, 80, top + 75], fill=(120, 120, 200))
    d.text((95, top + 28), "someone.shared.this", font=_font(26), fill=fg)
    y = top + header + ph + 20
    for i in range(4):
        d.ellipse([20 + 70 * i, y, 60 + 70 * i, y + 40], outline=fg, width=3)
    d.text((20, y + 70), "look at this lol #trending", font=_font(26), fill=fg)
    return np.asarray(canvas)


def rotate(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    angle = float(rng.uniform(1, 5) * rng.choice([-1, 1]))
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))


def crop(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    cx, cy = rng.uniform(0.05, 0.2), rng.uniform(0.05, 0.2)
    lx, ty = rng.uniform(0, cx), rng.uniform(0, cy)
    return img[round(ty * h): h - round((cy - ty) * h), round(lx * w): w - round((cx - lx) * w)]


def resize(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    f = rng.uniform(0.4, 0.8)
    h, w = img.shape[:2]
    return cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


def apply_transform(kind: str, img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    quality = 92
    steps = kind.removeprefix("chain-").split("-")
    for step in steps:
        if step == "jpeg":
            quality = int(rng.integers(60, 91))
        elif step == "resize":
            img = resize(img, rng)
        elif step == "crop":
            img = crop(img, rng)
        elif step == "mirror":
            img = np.ascontiguousarray(img[:, ::-1])
        elif step == "rotate":
            img = rotate(img, rng)
        elif step == "watermark":
            img = watermark(img, rng)
        elif step == "screenshot":
            img = screenshot(img, rng)
    return img, quality


def reencode(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def pdq_variants(rgb: np.ndarray) -> np.ndarray:
    vectors, _ = pdqhash.compute_dihedral(rgb)
    return np.packbits(np.array(vectors, dtype=np.uint8), axis=1)


def pdq_distance(variants: np.ndarray, registered: np.ndarray) -> np.ndarray:
    """Best distance over the query's 8 variants to each registered hash: shape (n_registered,)."""
    x = np.bitwise_xor(variants[:, None, :], registered[None, :, :])
    return np.unpackbits(x, axis=2).sum(axis=2).min(axis=0)


# -- workers (forked: they share the parent's registry and index) ------------------------------------

STATE: dict = {}


def uploads_for(i: int, seed: int):  # noqa: ANN201
    photos, others = STATE["paths"], len(STATE["paths"])
    rng = np.random.default_rng([seed, i])
    base = shrink(load_rgb(photos[i]))
    h, w = base.shape[:2]
    for t in TRANSFORMS:
        yield "re-share", t, None, base, rng, None
    for e in EDITS:
        for t in TRANSFORMS:
            box = region(rng, h, w)
            j = int(rng.integers(0, others - 1))
            other = shrink(load_rgb(photos[j if j < i else j + 1]), 640) if e == "patch" else None
            yield e, t, box, apply_edit(e, base, box, rng, other), rng, (j if j < i else j + 1) if e == "patch" else None


def run_photo(i: int) -> list[dict]:
    index: DerivativeIndex = STATE["index"]
    ids, pdqs, seed = STATE["ids"], STATE["pdq"], STATE["seed"]
    rows = []
    for edit, transform, box, img, rng, source in uploads_for(i, seed):
        out, quality = apply_transform(transform, img, rng)
        upload = reencode(out, quality)
        started = time.perf_counter()
        prepared = Upload.from_rgb(upload)
        hits = index.check(prepared)
        elapsed = time.perf_counter() - started
        own = [h for h in hits if h.id == ids[i]]
        # the photo a patch was taken from is related, not unrelated: counted apart
        related = {ids[i]} | ({ids[source]} if source is not None else set())
        flags_other = sum(1 for h in hits if h.id not in related and h.verdict.outcome is Outcome.DERIVATIVE)
        reshare_other = sum(1 for h in hits if h.id not in related and h.verdict.outcome is Outcome.RESHARE)
        flags_source = sum(1 for h in hits if source is not None and h.id == ids[source]
                           and h.verdict.outcome is not Outcome.NONE)
        reason = own[0].verdict.reason if own else ""
        if not own:
            direct = verify(STATE["features"][i], prepared)
            votes = {c.id: c.votes for c in index.candidates(prepared, limit=50)}
            reason = f"votes {votes.get(ids[i])} (top {sorted(votes.values())[-4:]}); direct: {direct.outcome.value}: {direct.reason} {direct.details}"
        elif own[0].verdict.outcome is not Outcome.DERIVATIVE:
            reason += f" {own[0].verdict.details} edited={own[0].verdict.edited_share:.2f} shared={own[0].verdict.shared_share:.2f} scatter={own[0].verdict.scatter:.2f}"
        d = pdq_distance(pdq_variants(upload), pdqs)
        others = np.delete(d, [i] if source is None else [i, source])
        rows.append({"photo": i, "edit": edit, "transform": transform, "share": None if box is None else
                     box[2] * box[3] / (img.shape[0] * img.shape[1]),
                     "own": own[0].verdict.outcome.value if own else "none",
                     "reason": reason, "flags_source": flags_source,
                     "flags_other": flags_other, "reshare_other": reshare_other, "seconds": elapsed,
                     "pdq_own": int(d[i]), "pdq_other_hits": int((others <= 31).sum())})
    return rows


def negatives_for(i: int) -> dict:
    feats, ids = STATE["features"], STATE["ids"]
    upload = Upload.from_rgb(reencode(shrink(load_rgb(STATE["paths"][i])), 90))
    counts: dict[str, int] = defaultdict(int)
    worst = []
    for j, reg in enumerate(feats):
        if j == i:
            continue
        v = verify(reg, upload)
        counts[v.outcome.value] += 1
        if v.outcome is not Outcome.NONE:
            worst.append((i, j, v.outcome.value, v.reason))
    return {"counts": dict(counts), "flagged": worst}


def register(path: Path) -> tuple[F.PhotoFeatures, np.ndarray]:
    rgb = load_rgb(path)
    bits, _ = pdqhash.compute(rgb)
    return F.photo_features(rgb), np.packbits(bits.astype(np.uint8))


# -- report ----------------------------------------------------------------------------------------

def table(rows: list[dict], key: str, title: str) -> list[str]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[r[key]].append(r)
    lines = [f"| {title} | uploads | flagged (ours) | PDQ <= 31 |", "|---|---:|---:|---:|"]
    for name, rs in groups.items():
        ours = sum(r["own"] == "derivative" for r in rs)
        pdq = sum(r["pdq_own"] <= 31 for r in rs)
        lines.append(f"| {name} | {len(rs)} | {ours / len(rs):.1%} | {pdq / len(rs):.1%} |")
    ours = sum(r["own"] == "derivative" for r in rows)
    pdq = sum(r["pdq_own"] <= 31 for r in rows)
    lines.append(f"| **all** | {len(rows)} | **{ours / len(rows):.2%}** ({ours:,}) | {pdq / len(rows):.1%} |")
    return lines


def accuracy(args: argparse.Namespace, paths: list[Path]) -> dict:
    started = time.perf_counter()
    with mp.get_context("fork").Pool(args.workers) as pool:
        registered = pool.map(register, paths)
    feats = [f for f, _ in registered]
    pdq = np.stack([p for _, p in registered])
    plain = [(p.name, F.plain_reason(f)) for p, f in zip(paths, feats) if F.plain_reason(f)]
    plain_names = {name for name, _ in plain}
    weak = [(p.name, F.weak_reason(f)) for p, f in zip(paths, feats) if not F.plain_reason(f) and F.weak_reason(f)]
    weak_names = {name for name, _ in weak}
    index = DerivativeIndex()
    ids = list(range(1, len(paths) + 1))
    # as the server does: a photo too plain to protect is refused, so its derivatives cannot be flagged
    index.add_features_many([(f, k) for p, f, k in zip(paths, feats, ids) if p.name not in plain_names])
    STATE.update(paths=paths, features=feats, pdq=pdq, index=index, ids=ids, seed=args.seed)
    print(f"registered {len(paths)} photos in {time.perf_counter() - started:.1f} s; too plain: {plain}; "
          f"protected with a warning: {weak}", file=sys.stderr)
    with mp.get_context("fork").Pool(args.workers) as pool:
        rows = [r for chunk in pool.imap(run_photo, range(len(paths))) for r in chunk]
        print(f"checked {len(rows)} uploads", file=sys.stderr)
        negatives = pool.map(negatives_for, range(len(paths)))
    edited = [r for r in rows if r["edit"] != "re-share"]
    reshares = [r for r in rows if r["edit"] == "re-share"]
    neg_counts: dict[str, int] = defaultdict(int)
    for n in negatives:
        for k, v in n["counts"].items():
            neg_counts[k] += v
    direct_pairs = sum(neg_counts.values())
    e2e_pairs = len(rows) * (len(paths) - 1) - sum(r["edit"] == "patch" for r in rows)
    false_flags = sum(r["flags_other"] for r in rows) + neg_counts.get("derivative", 0)
    pdq_false = sum(r["pdq_other_hits"] for r in rows)
    seconds = np.array([r["seconds"] for r in rows]) * 1000
    missed = [f"{paths[r['photo']].name} {r['edit']} {r['transform']} share={r['share']:.2f}: {r['own']} "
              f"({r['reason']})" for r in edited if r["own"] != "derivative" and paths[r["photo"]].name not in plain_names]
    protectable = [r for r in edited if paths[r["photo"]].name not in plain_names]
    of_weak = [r for r in edited if paths[r["photo"]].name in weak_names]
    summary = {
        "photos": len(paths), "too_plain": plain, "weak": weak, "edited_uploads": len(edited),
        "weak_edited_uploads": len(of_weak),
        "recall_weak": sum(r["own"] == "derivative" for r in of_weak) / max(1, len(of_weak)),
        "protectable_edited_uploads": len(protectable),
        "recall": sum(r["own"] == "derivative" for r in protectable) / max(1, len(protectable)),
        "recall_all_edited": sum(r["own"] == "derivative" for r in edited) / max(1, len(edited)),
        "pdq_recall": sum(r["pdq_own"] <= 31 for r in edited) / max(1, len(edited)),
        "reshares": len(reshares),
        "reshare_outcomes": {k: sum(r["own"] == k for r in reshares) for k in ("reshare", "derivative", "none")},
        "pdq_reshare_recall": sum(r["pdq_own"] <= 31 for r in reshares) / max(1, len(reshares)),
        "unrelated_pairs_end_to_end": e2e_pairs, "unrelated_pairs_direct": direct_pairs,
        "false_flags": false_flags, "false_reshare_matches": sum(r["reshare_other"] for r in rows)
        + neg_counts.get("reshare", 0),
        "pdq_false_matches_end_to_end": pdq_false,
        "patch_source_matches": sum(r["flags_source"] for r in rows),
        "rule_of_three_bound": 3 / (e2e_pairs + direct_pairs),
        "check_ms_p50": float(np.percentile(seconds, 50)), "check_ms_p95": float(np.percentile(seconds, 95)),
        "negatives_flagged": [x for n in negatives for x in n["flagged"]][:50],
        "reshares_flagged": [f"{paths[r['photo']].name} {r['transform']}: {r['reason']}" for r in reshares
                             if r["own"] == "derivative"],
        "missed": missed,
        "seconds": time.perf_counter() - started,
    }
    lines = ["## Derivative detection, accuracy", "",
             f"{len(paths) - len(plain)} photos protectable; {len(plain)} refused at registration as too plain "
             f"({', '.join(sorted(plain_names)) or 'none'}) and not indexed: their "
             f"{len(edited) - len(protectable)} edited uploads count as missed in the tables below "
             f"(recall over the protectable photos only: {summary['recall']:.1%}) and stay in as negatives "
             "against every other photo.",
             f"{len(weak)} photos protected with a warning (little detail: {', '.join(sorted(weak_names)) or 'none'}): "
             f"{summary['recall_weak']:.1%} of their {len(of_weak)} edited uploads flagged.", ""]
    lines += table(edited, "edit", "edit") + [""] + table(edited, "transform", "transform") + [""]
    lines += [f"- re-shares (no edit): {len(reshares)}: {summary['reshare_outcomes']}; PDQ <= 31: "
              f"{summary['pdq_reshare_recall']:.1%}",
              f"- unrelated pairs: {e2e_pairs:,} end to end (every upload x every other registered photo) + "
              f"{direct_pairs:,} verified directly; false flags: {false_flags} "
              f"(rule of three: < {summary['rule_of_three_bound']:.1e} per pair at 95 %); "
              f"false re-share matches: {summary['false_reshare_matches']}; PDQ false matches end to end: {pdq_false}",
              f"- time per check (features + search + verification, 1 thread): p50 {summary['check_ms_p50']:.0f} ms, "
              f"p95 {summary['check_ms_p95']:.0f} ms ({args.workers} worker processes)",
              f"- missed: {len(missed)}"]
    print("\n".join(lines))
    for m in missed[:40]:
        print("  missed:", m)
    for n in summary["negatives_flagged"][:20]:
        print("  unrelated flagged:", n)
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photos", nargs="?", default=str(ROOT.parent / "shared" / "data" / "photos"))
    parser.add_argument("--limit", type=int, help="use only this many photos (a seeded sample)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--registry-size", type=int, help="scale run: synthetic registry of this many photos")
    parser.add_argument("--queries", type=int, default=300, help="scale run: uploads to time")
    parser.add_argument("--json", help="write the summary here")
    args = parser.parse_args()
    folder = Path(args.photos)
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    if not paths:
        parser.error(f"no photos in {folder}")
    if args.limit:
        rng = np.random.default_rng(args.seed)
        paths = sorted(rng.choice(paths, size=min(args.limit, len(paths)), replace=False).tolist())
    if args.registry_size:
        from derivative_scale import scale_run  # noqa: PLC0415 - bench/derivative_scale.py

        summary = scale_run(args, paths)
    else:
        summary = accuracy(args, paths)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
