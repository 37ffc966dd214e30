import os, sys, pickle, json
from pathlib import Path
import numpy as np
from PIL import Image, ImageDraw
sys.path.insert(0, str(Path(__file__).resolve().parents[1])); sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
import marks_bench as B
import faiss
from ncii_shield.index.marks import MarkIndex
from ncii_shield.signals.marks.search import UploadFrame
from cache_pos import crops_of
IDX = None
def init():
    global IDX
    faiss.omp_set_num_threads(1)
    values = [tuple(v) for v in json.loads(Path(os.environ.get("MARKS_CHECK_DIR", "/tmp/marks_check") + "/values.json").read_text())]
    IDX = MarkIndex()
    for k in range(0, len(values), 200):
        IDX.add_many(values[k:k + 200])
def job(arg):
    n, path = arg
    rng = np.random.default_rng(7 * 1000 + n)
    marks = B.registered_marks()
    photo = np.asarray(Image.open(path).convert("RGB"))
    for _ in B.positive_cases(photo, n, 8, marks, rng):
        pass
    uploads = [("unmarked", B.jpeg(photo, 90))]
    others = B.other_marks(rng)
    img, _ = B.stamped(photo, others[n % len(others)], float(rng.uniform(0.06, 0.4)), float(rng.uniform(0.4, 1.0)), False, rng)
    uploads.append(("other mark", B.jpeg(img, 85)))
    pil = Image.fromarray(photo.copy())
    d = ImageDraw.Draw(pil)
    W, H = pil.size
    d.text((W * 0.05, H * 0.85), "Great day at the beach with friends!", font=B.font(B.FONTS[n % len(B.FONTS)], max(14, H // 20)),
           fill=(255, 255, 255), stroke_width=2, stroke_fill=(0, 0, 0))
    d.text((W * 0.6, H * 0.05), "@" + B.OTHER_WORDS[n % len(B.OTHER_WORDS)].strip("@").lower(),
           font=B.font(B.FONTS[(n + 3) % len(B.FONTS)], max(12, H // 25)), fill=(255, 255, 0))
    uploads.append(("plain text", B.jpeg(np.asarray(pil), 85)))
    out = []
    for label, up in uploads:
        frame = UploadFrame.from_rgb(up)
        cands = IDX.candidates(frame, None, 32)
        cs = crops_of(frame, [b for _, b in cands])
        out.append({"photo": Path(path).name, "kind": label, "cands": [(m, c, b) for (m, _), (c, b) in zip(cands, cs)]})
    return out
if __name__ == "__main__":
    import multiprocessing as mp
    files = sorted(str(p) for p in Path(os.environ.get("MARKS_PHOTOS", str(Path(__file__).resolve().parents[3] / "shared/data/photos"))).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    with mp.Pool(2, initializer=init) as pool:
        rows = sum(pool.map(job, list(enumerate(files)), chunksize=2), [])
    values = [tuple(v) for v in json.loads(Path(os.environ.get("MARKS_CHECK_DIR", "/tmp/marks_check") + "/values.json").read_text())]
    need = sorted({m for r in rows for m, _, _ in r["cands"]})
    vals = {i: v for v, i in values}
    pickle.dump({"rows": rows, "values": {m: vals[m] for m in need}}, open(os.environ.get("MARKS_CHECK_DIR", "/tmp/marks_check") + "/neg.pkl", "wb"))
    print(len(rows), sum(len(r["cands"]) for r in rows))
