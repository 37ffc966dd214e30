import ast, sys, pickle, time, os
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
from ncii_shield.signals.marks import template as T
import ncii_shield.signals.marks.search as S
for kv in os.environ.get("SETS", "").split():
    k, v = kv.split("=", 1); setattr(S, k, ast.literal_eval(v))  # as marks_bench.py --set does
D = pickle.load(open(os.environ.get("MARKS_CHECK_DIR", "/tmp/marks_check") + "/pos.pkl", "rb"))
preps = [S.Prepared.of(T.decode(v)) for v in D["templates"]]
out = []
t0 = time.process_time(); n = 0
for r in D["rows"][::int(os.environ.get("STEP", "1"))]:
    best, score = None, -1.0
    for crop, box in r["crops"]:
        f = S.UploadFrame.from_rgb(crop)
        v = S.measure(preps[r["mark"]], f, box); n += 1
        s = S.decide(v[0], v[1], v[2], preps[r["mark"]].complexity) if v else -1.0  # verify()'s score
        if v and (best is None or s > score):
            best, score = v, s
    out.append({k: r[k] for k in ("mark", "kind", "rel_width", "opacity", "transform", "tiled")} | {"shape": best[0] if best else -1, "colour": best[1] if best else -1, "box": best[2] if best else None, "score": score})
print("cpu/check", round(1000 * (time.process_time() - t0) / n, 1))
tgt = [o for o in out if o["rel_width"] >= 0.04 and o["opacity"] >= 0.4]
print("verify >= THRESHOLD: target", sum(o["score"] >= S.THRESHOLD for o in tgt), "of", len(tgt), "all", sum(o["score"] >= S.THRESHOLD for o in out), "of", len(out))
pickle.dump(out, open(sys.argv[1], "wb"))
