"""``marks_cached.py run`` with constants of ``signals/marks/search.py`` set, and its JSON split by photo.

    SETS="LOCAL_CHANCE=True ..." python bench/marks_check/cached_check.py run DIR --values V.json --json out.json
    python bench/marks_check/cached_check.py split out.json [PHOTOS]    # caught etc. on even / odd photos

(``marks_cached.py --set`` sets constants of ``index/marks.py`` only.) Photo n is the n-th of the sorted
photo files, as in ``marks_bench.py`` and ``located.py``.
"""
import ast
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

import ncii_shield.signals.marks.search as S  # noqa: E402


def split(path: str, photos: str) -> None:
    names = sorted(p.name for p in Path(photos).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    index = {name: n for n, name in enumerate(names)}
    data = json.loads(Path(path).read_text())
    print(json.dumps(data["report"]))
    for half, label in ((0, "even"), (1, "odd")):
        pos = [r for r in data["positives"] if index[r["photo"]] % 2 == half]
        tgt = [r for r in pos if r["rel"] >= 0.04 and r["opacity"] >= 0.4]
        neg = [r for r in data["negatives"] if index[r["photo"]] % 2 == half]
        print(f"{label}: caught {sum(r['caught'] for r in tgt)}/{len(tgt)}, lands {sum(r['lands'] for r in tgt)}, "
              f"all positives {sum(r['caught'] for r in pos)}/{len(pos)}, false flags "
              f"{sum(bool(r['flags']) for r in neg)}/{len(neg)}, wrong marks {sum(bool(r['wrong']) for r in pos)}, "
              f"best negative {max(r['best'] for r in neg):.3f}")


if __name__ == "__main__":
    if sys.argv[1] == "split":
        split(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else
              str(Path(__file__).resolve().parents[3] / "shared/data/photos"))
    else:
        for kv in os.environ.get("SETS", "").split():
            k, v = kv.split("=", 1)
            setattr(S, k, ast.literal_eval(v))
        import marks_cached  # noqa: E402

        marks_cached.main()
