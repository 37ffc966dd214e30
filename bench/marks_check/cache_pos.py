"""Cache, per positive upload of marks_bench (same rng), the frame crop around each stamped box."""
import os, sys, pickle
from pathlib import Path
import numpy as np
from PIL import Image
sys.path.insert(0, str(Path(__file__).resolve().parents[1])); sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
import marks_bench as B
from ncii_shield.signals.marks import template as T
from ncii_shield.signals.marks.search import UploadFrame

def crops_of(frame, boxes):
    out = []
    fh, fw = frame.rgb.shape[:2]
    for b in boxes:
        x, y, w, h = b
        m = max(w, h) * 0.8 + 8
        x0, y0 = max(0, int(x - m)), max(0, int(y - m))
        x1, y1 = min(fw, int(x + w + m) + 1), min(fh, int(y + h + m) + 1)
        out.append((frame.rgb[y0:y1, x0:x1].copy(), (x - x0, y - y0, w, h)))
    return out

def job(arg):
    n, path, cases, seed = arg
    rng = np.random.default_rng(seed * 1000 + n)
    marks = B.registered_marks()
    photo = np.asarray(Image.open(path).convert("RGB"))
    rows = []
    for c in B.positive_cases(photo, n, cases, marks, rng):
        frame = UploadFrame.from_rgb(c["upload"])
        boxes = [tuple(v / frame.to_upload for v in t) for t in c["boxes"][:4]]
        c = {k: v for k, v in c.items() if k != "upload"}
        c["photo"] = Path(path).name
        c["crops"] = crops_of(frame, boxes)
        rows.append(c)
    return rows

if __name__ == "__main__":
    import multiprocessing as mp
    files = sorted(str(p) for p in Path(os.environ.get("MARKS_PHOTOS", str(Path(__file__).resolve().parents[3] / "shared/data/photos"))).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    with mp.Pool(2) as pool:
        rows = sum(pool.map(job, [(n, f, 8, 7) for n, f in enumerate(files)], chunksize=2), [])
    marks = B.registered_marks()
    templates = [T.template_from_rgba(rgba, name) for name, _, rgba in marks]
    pickle.dump({"rows": rows, "templates": [T.encode(t) for t in templates]}, open(os.environ.get("MARKS_CHECK_DIR", "/tmp/marks_check") + "/pos.pkl", "wb"))
    print(len(rows))
