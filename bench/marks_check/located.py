"""The check against every mark at the places a wide candidate stage proposes (issue 19).

For every upload of ``bench/marks_bench.py`` (same photos, seed 7, 8 positives and 3 negatives a
photo, re-drawn here), the index (the 983 marks of ``$MARKS_CHECK_DIR/values.json``) proposes
candidates as ``MarkIndex._candidates`` does with ``LOCATED`` > 0: the keypoint and descriptor
places (up to ``PLACES``, default 32) and ``LOCATED`` (default 16) overlay extents named by
*every* mark's descriptor (no colour gate). Each candidate is checked (``search.inspect``: the
check's measurements, not only its score); on positives, the stamped mark at its stamped places
too (the oracle). Rows: ("oracle" | "neg" | "wrong", upload, candidate source, mark, features),
where "neg" is any candidate on a negative upload and "wrong" a candidate naming another mark
than the stamped one on a positive upload. The candidate lists are cached in
``$MARKS_CHECK_DIR/located_cands.pkl`` (``CANDS=reuse`` reads them instead of asking the index).

    python bench/marks_check/located.py OUT.pkl        # ~25 min of CPU on 2 processes
    SETS="NAME=VALUE ..." ...                          # constants of search.py, as oracle.py
    STEP=4 ...                                         # every 4th photo only
    STEP=3 OFFSETS=1,2 ...                             # photos n with n % 3 in (1, 2); the 8 marks stamped
                                                       # on a photo are those of n % 3, so STEP=3 alone is biased
    INDEX_SETS="LOCATE_MIN_VALUE=0.0 LOCATE_MIN_LEAD=0.0" CANDS_FILE=thick.pkl ...
        # constants of index/marks.py (here: every located window named, not only clearly named ones, as
        # the stress of 2026-12-06 #2 was before those requirements), candidate lists kept in another file
    REFINE=12 ...                                      # the located windows refined (describe.refine) first
"""
import ast
import json
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
import marks_bench as B  # noqa: E402

import ncii_shield.signals.marks.search as S  # noqa: E402
from ncii_shield.index import marks as M  # noqa: E402
from ncii_shield.signals.marks import template as T  # noqa: E402

DIR = os.environ.get("MARKS_CHECK_DIR", "/tmp/marks_check")
PLACES = int(os.environ.get("PLACES", "32"))
LOCATED = int(os.environ.get("LOCATED", "16"))
for kv in os.environ.get("SETS", "").split():
    k, v = kv.split("=", 1)
    setattr(S, k, ast.literal_eval(v))
for kv in os.environ.get("INDEX_SETS", "").split():
    k, v = kv.split("=", 1)
    setattr(M, k, ast.literal_eval(v))
if "REFINE" in os.environ:  # the located windows refined (describe.refine, 2026-12-06 #5; 0: off)
    import refined  # noqa: E402
    from ncii_shield.signals.marks import describe as _D  # noqa: E402

    _D.REFINE = int(os.environ["REFINE"])
    refined.wire()
CANDS_FILE = DIR + "/" + os.environ.get("CANDS_FILE", "located_cands.pkl")
IDX = None
PREP = None
CANDS = None


def init():
    global IDX, PREP, CANDS
    import faiss
    faiss.omp_set_num_threads(1)
    M.LOCATED = LOCATED
    values = [tuple(v) for v in json.loads(Path(DIR + "/values.json").read_text())]
    PREP = {i: S.Prepared.of(T.decode(v)) for v, i in values}
    if os.environ.get("CANDS") == "reuse":
        CANDS = pickle.load(open(CANDS_FILE, "rb"))
    else:
        IDX = M.MarkIndex()
        for k in range(0, len(values), 200):
            IDX.add_many(values[k:k + 200])


def uploads_of(n, path):
    """(kind, upload, stamped mark or None, stamped boxes in upload pixels) as marks_bench.py draws them."""
    rng = np.random.default_rng(7 * 1000 + n)
    marks = B.registered_marks()
    photo = np.asarray(Image.open(path).convert("RGB"))
    out = []
    for c in B.positive_cases(photo, n, 8, marks, rng):
        out.append(("positive", c["upload"], c["mark"], c["boxes"],
                     {k: c[k] for k in ("kind", "rel_width", "opacity", "transform", "tiled")}))
    out += [(kind, upload, None, [], {}) for kind, upload in B.negative_cases(photo, n, rng)]
    return out


def job(arg):
    n, path = arg
    rows, cands, checks, cpu = [], [], 0, 0.0
    for u, (kind, upload, mi, boxes, info) in enumerate(uploads_of(n, path)):
        frame = S.UploadFrame.from_rgb(upload)
        if CANDS is not None:
            places, located = CANDS[(n, u)]
        else:
            places, located = IDX._candidates(frame, None, PLACES)
        cands.append(((n, u), (places, located)))
        fboxes = [tuple(v / frame.to_upload for v in b) for b in boxes]
        key = {"photo": Path(path).name, "n": n, "u": u, "kind": kind} | info
        if mi is not None:
            for b in fboxes[:4]:
                c0 = time.process_time()
                f = S.inspect(PREP[mi], frame, b)
                cpu += time.process_time() - c0
                checks += 1
                if f:
                    rows.append(("oracle", key, "stamped", mi, f))
        for source, pairs in (("places", places), ("located", located)):
            for m, box in pairs:
                if mi is not None and m == mi:
                    continue
                c0 = time.process_time()
                f = S.inspect(PREP[m], frame, box)
                cpu += time.process_time() - c0
                checks += 1
                if f:
                    rows.append(("neg" if mi is None else "wrong", key, source, m, f))
    return rows, cands, checks, cpu


if __name__ == "__main__":
    import multiprocessing as mp
    files = sorted(str(p) for p in Path(os.environ.get("MARKS_PHOTOS", str(Path(__file__).resolve().parents[3] / "shared/data/photos"))).iterdir()
                   if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    step, offsets = int(os.environ.get("STEP", "1")), [int(v) for v in os.environ.get("OFFSETS", "0").split(",")]
    jobs = [(n, f) for n, f in enumerate(files) if n % step in offsets]
    rows, cands, checks, cpu = [], {}, 0, 0.0
    with mp.Pool(int(os.environ.get("WORKERS", "2")), initializer=init) as pool:
        for k, (r, c, n, t) in enumerate(pool.imap(job, jobs, chunksize=1)):
            rows += r
            cands.update(c)
            checks += n
            cpu += t
            print(f"{k + 1}/{len(jobs)}", file=sys.stderr, end="\r")
    if os.environ.get("CANDS") != "reuse":  # added to the lists of earlier runs (other photos)
        known = pickle.load(open(CANDS_FILE, "rb")) if os.path.exists(CANDS_FILE) else {}
        pickle.dump(known | cands, open(CANDS_FILE, "wb"))
    print(f"checks {checks}, CPU per check {1000 * cpu / max(1, checks):.1f} ms")
    pickle.dump(rows, open(sys.argv[1], "wb"))
