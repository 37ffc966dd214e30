import os, sys, pickle, json
from pathlib import Path
import numpy as np
from PIL import Image
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
    uploads = B.negative_cases(photo, n, rng)
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
