"""The check at the stamped place, taken apart (issue 19, 2026-12-07 #4, H3).

For every *target* positive in scope (mark >= 4 % of the width, >= 40 % opaque, scale 0.3-3x) of the cached
uploads of ``bench/marks_cached.py cache``, the stamped mark is checked at its stamped places (the first 4
boxes, as ``cands.py check --oracle``) and, per view (colour; chroma for a coloured mark), what the decision
used: the wide score, the parts' shape scores, the colour agreement (whole and per channel), the find's
size and the mark's complexity, the local chance model, and each margin of :func:`search.decide` (which one
binds). ``--crops DIR`` writes the upload around the stamped place of each failing target (PNG)::

    python bench/marks_check/at_place.py run DIR --values V.json [--set search.NAME=VALUE] [--all] --out F.pkl
    python bench/marks_check/at_place.py summary F.pkl [--fail]        # one line a target
"""

from __future__ import annotations

import argparse
import glob
import json
import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

import marks_bench as MB  # noqa: E402
from ncii_shield.signals.marks import search as S  # noqa: E402
from ncii_shield.signals.marks import template as T  # noqa: E402


def margins(shape: float, colour: float, found, complexity: float, null) -> dict:
    """decide()'s margins by name (JOINT), as it computes them."""
    evidence = max(1.0, float(np.sqrt(found[2] * found[3]))) * (max(complexity, 1e-3) / S.COMPLEXITY_REF) ** S.COMPLEXITY_POWER
    local = S.LOCAL_CHANCE and null is not None
    size = S.LOCAL_SIZE if local else 1.0
    out = {"shape": shape - size * S.SHAPE_PER_PIXEL / evidence - (S.LOCAL_SHAPE if local else S.JOINT_SHAPE),
           "colour": colour - size * S.COLOUR_PER_PIXEL / evidence - (S.LOCAL_COLOUR if local else S.JOINT_COLOUR),
           "evidence": evidence}
    if local and null is not S._LATER:
        (_, ms, ss, *_), (_, mc, sc, *_) = null
        zs, zc = (shape - ms) / max(ss, 1e-3), (colour - mc) / max(sc, 1e-3)
        out["zs"], out["zc"] = zs, zc
        out["z_shape"], out["z_colour"] = S.LOCAL_KAPPA * (zs - S.LOCAL_Z_SHAPE), S.LOCAL_KAPPA * (zc - S.LOCAL_Z_COLOUR)
    return out


def view_detail(prepared, frame, box, view) -> dict | None:
    m = S._measured(prepared, frame, box, view)
    if m is None:
        return None
    shape, colour, found, context = m
    d = {"shape": shape, "colour": colour, "found": tuple(found)}
    if context is None:
        d["wide_only"] = True
        return d
    null = None
    if S.LOCAL_CHANCE and S.JOINT and S.decide(shape, colour, found, prepared.complexity, S._LATER) >= S.LOCAL_FROM:
        null = S._surround(prepared, frame, found, *context, view=view)
    d["null"] = null
    d["score"] = S.decide(shape, colour, found, prepared.complexity, null)
    d["margins"] = margins(shape, colour, found, prepared.complexity, null)
    # the parts and channels at the find
    size = context[0]
    ev = S._evidence(prepared, frame, found, size, view)
    if ev is not None:
        t, change, seen = ev[:3]
        whole, channels = S._agreements(change, seen)
        d["colour_whole"], d["colour_channels"] = whole, channels
    return d


def run(args) -> None:
    MB.apply_settings(args.set)
    values = json.loads(Path(args.values).read_text())
    marks = MB.registered_marks()
    prepared = [S.Prepared.of(T.decode(values[i][0])) for i in range(len(marks))]
    visible = [MB.visible_width(rgba) for _, _, rgba in marks]
    rows = []
    files = sorted(glob.glob(str(Path(args.dir) / "*.pkl")))
    for n, path in enumerate(files[: args.limit or None]):
        data = pickle.load(open(path, "rb"))
        for k, r in enumerate(data["pos"]):
            boxes = r["upload_boxes"]
            scale = max(b[2] for b in boxes) / visible[r["mark"]]
            if not (r["rel"] >= 0.04 and r["opacity"] >= 0.4 and MB.in_scope(scale)):
                continue
            frame = S.UploadFrame.from_rgb(r["rgb"])
            frame.to_upload = r["to_upload"]
            p = prepared[r["mark"]]
            at = [tuple(v / frame.to_upload for v in t) for t in boxes[:4]]
            scores = [S.verify(p, frame, b) for b in at]
            oracle = max([c[0] for c in scores if c], default=-1.0)
            row = dict(key=(n, "pos", k), photo=r["photo"], mark=r["mark"], name=marks[r["mark"]][0],
                       opacity=r["opacity"], rel=r["rel"], transform=r["transform"], tiled=r["tiled"],
                       scale=round(scale, 3), oracle=oracle, complexity=p.complexity, boxes=at)
            if oracle < S.THRESHOLD or args.all:
                best = int(np.argmax([c[0] if c else -9 for c in scores]))
                row["views"] = {"colour": view_detail(p, frame, at[best], None)}
                if p.chroma is not None:
                    row["views"]["chroma"] = view_detail(p, frame, at[best], p.chroma)
                if args.crops and oracle < S.THRESHOLD:
                    import cv2
                    x, y, w, h = at[best]
                    e = 0.5 * max(w, h)
                    fh, fw = frame.rgb.shape[:2]
                    cut = frame.rgb[max(0, int(y - e)):min(fh, int(y + h + e)), max(0, int(x - e)):min(fw, int(x + w + e))]
                    f = max(1.0, 200 / max(cut.shape[:2]))
                    cut = cv2.resize(cut, None, fx=f, fy=f, interpolation=cv2.INTER_NEAREST)
                    Path(args.crops).mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(Path(args.crops) / f"{n:03d}_{k}_{marks[r['mark']][0]}.png"), cut[:, :, ::-1])
            rows.append(row)
        print(n, len(rows), sum(r["oracle"] < S.THRESHOLD for r in rows), file=sys.stderr, end="\r")
    pickle.dump(rows, open(args.out, "wb"))
    print(f"\n{sum(r['oracle'] >= S.THRESHOLD for r in rows)}/{len(rows)} pass at their place")


def _fmt_view(d) -> str:
    if d is None:
        return "none"
    if d.get("wide_only"):
        return f"wide {d['shape']:.2f}"
    m = d["margins"]
    z = f" zs {m['zs']:.1f} zc {m['zc']:.1f}" if "zs" in m else " nonull"
    ch = ",".join(f"{c:.2f}" for c in d.get("colour_channels", []))
    return (f"score {d['score']:.3f} shape {d['shape']:.2f} col {d['colour']:.2f} (whole {d.get('colour_whole', 0):.2f} ch {ch})"
            f" ev {m['evidence']:.0f} mS {m['shape']:+.3f} mC {m['colour']:+.3f}{z}")


def summary(args) -> None:
    rows = []
    for p in args.files:
        rows += pickle.load(open(p, "rb"))
    print(f"{sum(r['oracle'] >= S.THRESHOLD for r in rows)}/{len(rows)} pass at their place")
    for r in sorted(rows, key=lambda r: (r["mark"], r["oracle"])):
        if args.fail and r["oracle"] >= S.THRESHOLD:
            continue
        print(f"{r['key'][0]:3d}/{r['key'][2]} {r['name']:13s} op {r['opacity']:.2f} sc {r['scale']:.2f} {r['transform']:10s}"
              f" {'T' if r['tiled'] else ' '} oracle {r['oracle']:.3f} cx {r['complexity']:.1f}")
        for v, d in r.get("views", {}).items():
            print(f"      {v:6s} {_fmt_view(d)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("run")
    c.add_argument("dir")
    c.add_argument("--values", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--limit", type=int, default=0)
    c.add_argument("--set", action="append", metavar="NAME=VALUE")
    c.add_argument("--all", action="store_true", help="the views' detail for passing targets too")
    c.add_argument("--crops", help="a folder for the failing targets' crops")
    s = sub.add_parser("summary")
    s.add_argument("files", nargs="+")
    s.add_argument("--fail", action="store_true")
    args = parser.parse_args()
    {"run": run, "summary": summary}[args.command](args)


if __name__ == "__main__":
    main()
