import ast, sys, pickle, os, time, math
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
from ncii_shield.signals.marks import template as T
import ncii_shield.signals.marks.search as S
for kv in os.environ.get("SETS", "").split():
    k, v = kv.split("=", 1); setattr(S, k, ast.literal_eval(v))  # as marks_bench.py --set does
D = pickle.load(open(os.environ.get("MARKS_CHECK_DIR", "/tmp/marks_check") + "/neg.pkl", "rb"))
P = pickle.load(open(os.environ.get("MARKS_CHECK_DIR", "/tmp/marks_check") + "/pos.pkl", "rb"))
reg = [S.Prepared.of(T.decode(v)) for v in P["templates"]]
cand = {m: S.Prepared.of(T.decode(v)) for m, v in D["values"].items()}
step = int(os.environ.get("STEP", "1")); places = int(os.environ.get("PLACES", "8"))
out = []
t0 = time.process_time(); n = 0
for ui, r in enumerate(D["rows"]):
    # (a) the index's own candidates (all of them), every upload
    for m, crop, box in r["cands"]:
        f = S.UploadFrame.from_rgb(crop)
        v = S.measure(cand[m], f, box); n += 1
        if v and v[0] >= 0.4:
            out.append(("cand", ui, r["kind"], r["photo"], m, v[0], v[1], v[2], S.decide(v[0], v[1], v[2], cand[m].complexity)))
    if ui % step:
        continue
    # (b) every registered mark at the first distinct candidate places (same centre and area)
    seen = []
    for m, crop, box in r["cands"][:places]:
        x, y, w, h = box
        cx, cy = x + w / 2, y + h / 2
        if any(abs(cx - a) < 0.3 * w and abs(cy - b) < 0.3 * h for a, b in seen):
            continue
        seen.append((cx, cy))
        f = S.UploadFrame.from_rgb(crop)
        for j, p in enumerate(reg):
            asp = p.template.aspect
            ww = math.sqrt(w * h * asp); hh = ww / asp
            v = S.measure(p, f, (cx - ww / 2, cy - hh / 2, ww, hh)); n += 1
            if v and v[0] >= 0.4:
                out.append(("all", ui, r["kind"], r["photo"], j, v[0], v[1], v[2], S.decide(v[0], v[1], v[2], p.complexity)))
print("checks", n, "cpu/check", round(1000 * (time.process_time() - t0) / n, 1))
pickle.dump(out, open(sys.argv[1], "wb"))
