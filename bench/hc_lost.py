"""HC probe (issue 20, large kind): for the singles flagged directly but not end to end in a
``derivative_large.py run --e2e --json`` output, where the own photo stands in the index's candidate
search: its rank and votes among the first QUERY_DESCRIPTORS rows (``candidates``) and on all the upload's
rows (``_rest_candidates``), whether its votes line up, what ``check`` found, and whether the upload has the
photo's shape.

    python bench/hc_lost.py CACHE RUN.json --photos-dir DIR [--all]   (--all: every single, not only the lost)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import derivative_bench as B  # noqa: E402
import derivative_large as L  # noqa: E402

from ncii_shield.index import derivative as D  # noqa: E402
from ncii_shield.index.derivative import DerivativeIndex, consistent_votes  # noqa: E402
from ncii_shield.signals.derivative import features as F  # noqa: E402
from ncii_shield.signals.derivative import verify as V  # noqa: E402
from ncii_shield.signals.derivative.verify import Upload  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("cache")
    p.add_argument("run")
    p.add_argument("--photos-dir", required=True)
    p.add_argument("--all", action="store_true")
    a = p.parse_args()
    rows = json.loads(Path(a.run).read_text())["rows"]
    keys = {(r["photo"], r["transform"]) for r in rows if r["format"] == "single"
            and (a.all or (r["direct"] == "derivative" and not r["caught"]))}
    paths = sorted(q for q in Path(a.photos_dir).iterdir() if q.suffix.lower() in (".jpg", ".jpeg", ".png"))
    feats = [B.register(q)[0] for q in paths]
    ids = list(range(1, len(paths) + 1))
    index = DerivativeIndex()
    index.add_features_many([(f, ids[k]) for k, f in enumerate(feats) if not F.plain_reason(f)])
    out = []
    for i in sorted({k[0] for k in keys}):
        for u in json.loads((Path(a.cache) / f"{i:03d}.json").read_text()):
            if u["format"] != "single" or u["edit"] != "large" or (i, u["transform"]) not in keys:
                continue
            up = Upload.from_rgb(L._decode(bytes.fromhex(u["jpeg"])))
            own = ids[i]
            first = index.candidates(up, limit=10 ** 6)
            rest = index._rest_candidates(up, None, 10 ** 6)

            def where(cands):  # noqa: ANN001, ANN202
                k = next((n for n, c in enumerate(cands) if c.id == own), None)
                if k is None:
                    return None
                c = cands[k]
                return [k, c.votes, c.other_votes, consistent_votes(feats[i], up, c)]
            hits = index.check(up)
            # every photo's votes on all the upload's rows, with no MIN_VOTES / RELATIVE_VOTES cut
            rows_ = np.concatenate([up.descriptors, up.mirrored_descriptors])
            with index._lock:
                d_, l_ = index._search_all(np.ascontiguousarray(rows_, dtype=np.uint8))
            hit_, keys_ = D._votes(d_, l_, np.arange(len(rows_)) >= len(up.descriptors))
            key_, n_ = np.unique(keys_[hit_], return_counts=True)
            per = {}
            for k_, v_ in zip(key_.tolist(), n_.tolist()):
                per[k_ // 2] = max(per.get(k_ // 2, 0), v_)
            mine_ = per.get(own, 0)
            all_votes = [mine_, 1 + sum(v > mine_ for v in per.values()) if mine_ else None, len(per)]
            fh, fw = up.frame.grey.shape
            same = abs((fw / fh) / (feats[i].frame_w / feats[i].frame_h) - 1.0) <= V.WHOLE_ASPECT
            row = {"photo": i, "transform": u["transform"], "related": [ids[j] for j in u["related"]],
                   "first": where(first), "rest": where(rest), "all_votes": all_votes, "top": [(c.id, c.votes) for c in first[:3]],
                   "hits": [(h.id, h.verdict.outcome.value, round(h.verdict.details.get("covered", 1.0), 2)) for h in hits],
                   "same_shape": bool(same)}
            out.append(row)
            print(json.dumps(row), flush=True)
    c = Counter(("first" if r["first"] and r["first"][0] < D.CANDIDATES else "first>=8" if r["first"] else
                 "rest" if r["rest"] else "none") + (" same" if r["same_shape"] else "")
                + (" pasted-hit" if any(h[0] in r["related"] for h in r["hits"]) else "") for r in out)
    print(json.dumps(c.most_common()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
