"""One mark per place (index/marks.py ``ONE_PER_PLACE``, issue 19, 2026-12-06 #6) on the thick stress's rows
and on single cached uploads.

``rows``: the rows of ``located.py`` (the thick look-alike stress: every candidate checked alone) read
with the index's rule: a wrong mark or a negative's mark is left out where, in the same upload, a
better-scoring mark of another look (descriptors correlating under ``SAME_LOOK``) was checked at a box
overlapping it more than ``PLACE_OVERLAP`` (kept in turn, best first, as ``MarkIndex._one_per_place``
does). On positives the stamped mark's own rows are the oracle's (the stamped mark checked at its
stamped places): the index reaches it at most there, so this is the rule's best case, to be checked
upload by upload with ``upload``. Prints the best rows before and after and the rows left out.

``upload``: one cached upload (``marks_cached.py cache``) checked by the whole index (``_checked``)
with the rule off and on: every check's score, mark and box.

    python bench/marks_check/one_per_place.py rows D/thick_all.pkl [--top 12] [--values V.json]
    python bench/marks_check/one_per_place.py upload /tmp/H2/all --values V.json --photo 65 --case 0
    python bench/marks_check/one_per_place.py cached /tmp/H2/all --values V.json [--set NAME=VALUE ...] [--limit N]

``cached``: ``marks_cached.py run``'s figures with the rule off and on from the same checks (each
upload's ``_checked`` with the rule off, then ``MarkIndex._one_per_place`` on its list: the rule is a
selection after the checks), with constants of index/marks.py set (e.g. the located windows named
without the naming bars: ``--set LOCATE_MIN_VALUE=0.0 --set LOCATE_MIN_LEAD=0.0``).
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from ncii_shield.index import marks as M  # noqa: E402
from ncii_shield.signals.marks import describe as D  # noqa: E402
from ncii_shield.signals.marks import template as T  # noqa: E402
from ncii_shield.signals.marks.search import THRESHOLD, Prepared, UploadFrame, overlap  # noqa: E402


def _score(row) -> float:
    f = row[4]
    return float(f.get("score", f["wide"]))  # under the wide bar inspect stops: the wide score, as verify


class _Looks:
    """Each mark's descriptor (aspect class, unit vector), made when first needed."""

    def __init__(self, values_path: str) -> None:
        self.values = {i: v for v, i in json.loads(Path(values_path).read_text())}
        self.made: dict[int, tuple[int, object]] = {}

    def alike(self, a: int, b: int) -> bool:
        ka, va = self._of(a)
        kb, vb = self._of(b)
        return ka == kb and float(va @ vb) >= M.SAME_LOOK

    def _of(self, m: int):
        if m not in self.made:
            self.made[m] = D.mark_descriptor(Prepared.of(T.decode(self.values[m])))
        return self.made[m]


def rows(args) -> None:
    looks = _Looks(args.values)
    data = []
    for path in args.pickles:
        data += pickle.load(open(path, "rb"))
    by_upload = defaultdict(list)
    for r in data:
        by_upload[(r[1]["n"], r[1]["u"])].append(r)
    kept, dropped = [], []
    for group in by_upload.values():
        group.sort(key=lambda r: -_score(r))
        mine = []
        for r in group:
            shadow = None
            if r[0] != "oracle":
                for o in mine:
                    if o[3] != r[3] and overlap(o[4]["box"], r[4]["box"]) > M.PLACE_OVERLAP and \
                            _score(o) > _score(r) and not looks.alike(o[3], r[3]):
                        shadow = o
                        break
            if shadow is None:
                mine.append(r)
                kept.append(r)
            else:
                dropped.append((r, shadow))

    def line(r) -> str:
        k = r[1]
        return (f"{r[0]:6s} {k['photo']:24s} u{k['u']:<2d} {k['kind']:11s} {r[2]:8s} mark {r[3]:4d} "
                f"{_score(r):.6f} box {tuple(r[4]['box'])}")

    for name, pool in (("before", data), ("after (one mark per place)", kept)):
        rest = sorted((r for r in pool if r[0] != "oracle"), key=lambda r: -_score(r))
        print(f"-- {name}: {len(rest)} non-oracle rows; wrong >= {THRESHOLD}: "
              f"{sum(r[0] == 'wrong' and _score(r) >= THRESHOLD for r in rest)}, negatives >= {THRESHOLD}: "
              f"{sum(r[0] == 'neg' and _score(r) >= THRESHOLD for r in rest)}")
        for kind in ("wrong", "neg"):
            for r in [r for r in rest if r[0] == kind][:args.top]:
                print("   ", line(r))
    near = [(r, o) for r, o in dropped if _score(r) >= args.near]
    print(f"-- left out: {len(dropped)} rows, {len(near)} of them scoring >= {args.near} "
          f"(by an oracle row: {sum(o[0] == 'oracle' for _, o in near)})")
    for r, o in sorted(near, key=lambda p: -_score(p[0])):
        print("   ", line(r), f"<- {o[0]} mark {o[3]} {_score(o):.6f} box {tuple(o[4]['box'])} "
                                f"overlap {overlap(o[4]['box'], r[4]['box']):.2f}")


def upload(args) -> None:
    import faiss

    import marks_bench as MB

    faiss.omp_set_num_threads(1)
    values = [tuple(v) for v in json.loads(Path(args.values).read_text())]
    index = MB.built_index(values)
    data = pickle.load(open(Path(args.dir) / f"{args.photo:03d}.pkl", "rb"))
    cases = data["pos"] + data["neg"]
    for u in args.case:
        r = cases[u]
        frame = UploadFrame.from_rgb(r["rgb"])
        frame.to_upload = r["to_upload"]
        print(f"photo {args.photo} ({r['photo']}) case {u}: {'stamped mark ' + str(r['mark']) if 'mark' in r else r['kind']}")
        for on in (False, True):
            M.ONE_PER_PLACE = on
            found = index._checked(frame, None, M.CANDIDATES)
            print(f"  ONE_PER_PLACE={on}: " + "; ".join(f"{i} {s:.6f} {tuple(int(v) for v in b)}" for s, i, b in found))


def cached(args) -> None:
    import glob
    import math
    import statistics
    import time

    import faiss

    import marks_bench as MB

    faiss.omp_set_num_threads(1)
    MB.apply_settings(args.set)
    M.ONE_PER_PLACE = False
    values = [tuple(v) for v in json.loads(Path(args.values).read_text())]
    index = MB.built_index(values)
    files = sorted(glob.glob(str(Path(args.dir) / "*.pkl")))[: args.limit or None]
    runs = {False: ([], []), True: ([], [])}
    cpu = []
    for path in files:
        data = pickle.load(open(path, "rb"))
        for positive, r in [(True, r) for r in data["pos"]] + [(False, r) for r in data["neg"]]:
            frame = UploadFrame.from_rgb(r["rgb"])
            frame.to_upload = r["to_upload"]
            c = time.process_time()
            off = index._checked(frame, None, M.CANDIDATES)
            cpu.append(time.process_time() - c)
            entries = {i: index._entries.get(i) for _, i, _ in off}
            on = index._one_per_place(off, THRESHOLD, entries)
            # the rule at every threshold: what a threshold down to each mark's own score would report
            anywhere = {False: off, True: index._one_per_place(off, -math.inf, entries)}
            for rule, found in ((False, off), (True, on)):
                pos, neg = runs[rule]
                if positive:
                    mi, boxes = r["mark"], r["upload_boxes"]
                    at = [(s, i) for s, i, b in found if any(MB.iou(frame.to_upload_box(b), t) > 0.3 for t in boxes)]
                    pos.append(dict(photo=r["photo"], mark=mi, target=r["rel"] >= 0.04 and r["opacity"] >= 0.4,
                                    caught=any(i == mi and s >= THRESHOLD for s, i in at),
                                    lands=any(i == mi for s, i in at),
                                    wrong=[(i, round(s, 4)) for s, i, b in found if i != mi and s >= THRESHOLD],
                                    best_wrong=max([s for s, i, _ in anywhere[rule] if i != mi], default=-1.0)))
                else:
                    neg.append(dict(photo=r["photo"], kind=r["kind"],
                                    flags=[(i, round(s, 4)) for s, i, _ in found if s >= THRESHOLD],
                                    best=max([s for s, _, _ in found], default=-1.0)))
    report = {"photos": len(files), "set": args.set or [],
              "cpu_ms_p50 (checks, rule off)": round(1000 * statistics.median(cpu), 1) if cpu else None}
    for rule, (pos, neg) in runs.items():
        target = [r for r in pos if r["target"]]
        best_wrong = max((s for r in pos for _, s in r["wrong"]), default=None)
        report[f"ONE_PER_PLACE={rule}"] = {
            "caught": f"{sum(r['caught'] for r in target)}/{len(target)}",
            "lands": sum(r["lands"] for r in target),
            "positives": f"{sum(r['caught'] for r in pos)}/{len(pos)}",
            "false_flags": f"{sum(bool(r['flags']) for r in neg)}/{len(neg)}",
            "flags_on_negatives": sum(len(r["flags"]) for r in neg),
            "wrong_marks (uploads)": sum(bool(r["wrong"]) for r in pos),
            "wrong_marks (flags)": sum(len(r["wrong"]) for r in pos),
            "best_wrong_flag": best_wrong,
            "best_negative": round(max((r["best"] for r in neg), default=-1.0), 6),
            "best_wrong_score (reported at a threshold down to it)": round(max((r["best_wrong"] for r in pos),
                                                                               default=-1.0), 6),
            "uploads_with_wrong": [(r["photo"], r["mark"], r["wrong"]) for r in pos if r["wrong"]][:20],
            "negatives_flagged": [(r["photo"], r["kind"], r["flags"]) for r in neg if r["flags"]][:20]}
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps({"report": report, "runs": {str(k): v for k, v in runs.items()}}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("rows")
    r.add_argument("pickles", nargs="+")
    r.add_argument("--values", default="/tmp/marks_check/values.json")
    r.add_argument("--top", type=int, default=8)
    r.add_argument("--near", type=float, default=0.6, help="list the rows left out that score this much or more")
    u = sub.add_parser("upload")
    u.add_argument("dir")
    u.add_argument("--values", required=True)
    u.add_argument("--photo", type=int, required=True)
    u.add_argument("--case", type=int, action="append", required=True, help="positives first, then negatives")
    c = sub.add_parser("cached")
    c.add_argument("dir")
    c.add_argument("--values", required=True)
    c.add_argument("--set", action="append", metavar="NAME=VALUE", help="a constant of ncii_shield/index/marks.py")
    c.add_argument("--limit", type=int, default=0, help="only the first N photos")
    c.add_argument("--json")
    args = p.parse_args()
    {"rows": rows, "upload": upload, "cached": cached}[args.cmd](args)


if __name__ == "__main__":
    main()
