"""Run the HMA-style client of tests/integration/test_hma_routes.py against any HMA 2.x API and
record every answer, so a real HMA and ``ncii-shield serve`` can be compared field by field.

    python scripts/hma_compare.py http://127.0.0.1:5100 --settle 15 > hma.json           # a real HMA
    python scripts/hma_compare.py http://127.0.0.1:8000 --key nsk_... > ours.json        # ncii-shield
    python scripts/hma_compare.py --diff hma.json ours.json

The calls and their order are the test's (bank create/list/show, add signal, lookups, read and delete
content, exact types, compare, index status, photo hash/bank/lookup), plus a few the test does not
make (create a bank with ``enabled: false``, ``PUT`` a content's ``disable_until_ts``). Content ids
are replaced by the name of the step that created them (they differ between two servers), and
``built_to``/``size`` of the index status by their types. ``--settle`` waits after each write for an
HMA whose index is rebuilt in the background (its indexer and index cache intervals).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import httpx

BANK = "HMA_TEST_BANK"
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
MD5 = "0123456789abcdef0123456789abcdef"
PHOTO = Path(__file__).resolve().parent.parent / "tests/data/pdq-reference/bridge-mods/aaa-orig.jpg"


def near(value: str, bits: int) -> str:
    return f"{int(value, 16) ^ ((1 << bits) - 1):064x}"


class Recorder:
    def __init__(self, client: httpx.Client, settle: float) -> None:
        self.client, self.settle_s, self.ids, self.steps = client, settle, {}, []

    def call(self, step: str, method: str, path: str, **kw) -> object:
        answer = self.client.request(method, path, **kw)
        try:
            body = answer.json()
        except ValueError:
            body = {"<not JSON>": answer.text[:200]}
        self.steps.append({"step": step, "request": f"{method} {path} {kw.get('params') or kw.get('json') or ''}",
                           "status": answer.status_code, "body": body})
        return body

    def created(self, name: str, body: object) -> int | None:
        if isinstance(body, dict) and isinstance(body.get("id"), int):
            self.ids.setdefault(body["id"], f"<{name}>")  # an id given again keeps its first name
            return body["id"]
        return None

    def settle(self) -> None:
        time.sleep(self.settle_s)

    def normalised(self) -> list[dict]:
        def walk(value: object, key: str | None = None) -> object:
            if isinstance(value, dict):
                return {k: walk(v, k) for k, v in value.items()}
            if isinstance(value, list):
                return [walk(v, key) for v in value]
            if key in ("built_to", "size"):
                return f"<{type(value).__name__}>"
            if isinstance(value, int) and not isinstance(value, bool) and key in ("id", "bank_content_id", "matches"):
                return self.ids.get(value, value)
            if isinstance(value, str):
                for cid, name in self.ids.items():
                    value = value.replace(f"'{cid}'", f"'{name}'").replace(f"/{cid}", f"/{name}")
            return value
        return [{**s, "request": walk(s["request"]), "body": walk(s["body"])} for s in self.steps]


def run(rec: Recorder) -> None:
    c = rec.call
    c("bank create", "POST", "/c/banks", json={"name": BANK})
    c("bank create again", "POST", "/c/banks", json={"name": BANK})
    c("bank create lower case", "POST", "/c/banks", json={"name": "lower_case"})
    listed = c("bank list", "GET", "/c/banks")
    rec.steps[-1]["body"] = {"our bank": [b for b in listed if b.get("name") == BANK] if isinstance(listed, list) else listed,
                             "every key set": sorted({",".join(sorted(b)) for b in listed}) if isinstance(listed, list) else None}
    c("bank show", "GET", f"/c/bank/{BANK}")
    c("bank show missing", "GET", "/c/bank/NO_SUCH_BANK")
    c("bank create enabled false", "POST", "/c/banks", json={"name": BANK + "_OFF", "enabled": False})

    cid = rec.created("pdq content", c("add pdq", "POST", f"/c/bank/{BANK}/signal", json={"pdq": PDQ, "note": "case 17"}))
    c("add wrong body", "POST", f"/c/bank/{BANK}/signal", json={"signals": [PDQ]})
    rec.settle()
    c("lookup near 3", "GET", "/m/lookup", params={"signal": near(PDQ, 3), "signal_type": "pdq"})
    c("lookup banks=OTHER", "GET", "/m/lookup", params={"signal": PDQ, "signal_type": "pdq", "banks": "OTHER"})
    c("raw_lookup", "GET", "/m/raw_lookup", params={"signal": PDQ, "signal_type": "pdq"})
    c("raw_lookup distance", "GET", "/m/raw_lookup", params={"signal": PDQ, "signal_type": "pdq", "include_distance": "true"})
    c("raw_lookup far", "GET", "/m/raw_lookup", params={"signal": near(PDQ, 40), "signal_type": "pdq"})
    c("raw_lookup unknown type", "GET", "/m/raw_lookup", params={"signal": PDQ, "signal_type": "sha1"})
    c("lookup neither", "GET", "/m/lookup")
    c("content with signals", "GET", f"/c/bank/{BANK}/content/{cid}", params={"include_signals": "true"})
    c("content", "GET", f"/c/bank/{BANK}/content/{cid}")
    c("content disable", "PUT", f"/c/bank/{BANK}/content/{cid}", json={"disable_until_ts": 0})
    c("content enable", "PUT", f"/c/bank/{BANK}/content/{cid}", json={"disable_until_ts": 1})
    c("delete content", "DELETE", f"/c/bank/{BANK}/content/{cid}")
    rec.settle()
    c("lookup after delete", "GET", "/m/lookup", params={"signal": PDQ, "signal_type": "pdq"})
    c("raw_lookup after delete", "GET", "/m/raw_lookup", params={"signal": PDQ, "signal_type": "pdq"})
    c("content after delete", "GET", f"/c/bank/{BANK}/content/{cid}")
    c("delete again", "DELETE", f"/c/bank/{BANK}/content/{cid}")

    md5 = rec.created("md5 content", c("add video_md5", "POST", f"/c/bank/{BANK}/signal", json={"video_md5": MD5}))
    rec.settle()
    c("lookup video_md5", "GET", "/m/lookup", params={"signal": MD5, "signal_type": "video_md5"})
    c("compare", "POST", "/m/compare", json={"pdq": [PDQ, near(PDQ, 9)], "video_md5": [MD5, MD5]})
    c("compare one hash", "POST", "/m/compare", json={"pdq": [PDQ]})
    c("index status video_md5", "GET", "/m/index/status", params={"signal_type": "video_md5"})
    c("index status unknown", "GET", "/m/index/status", params={"signal_type": "nope"})
    assert md5 is None or md5 > 0

    data = PHOTO.read_bytes()
    c("hash photo", "POST", "/h/hash", files={"photo": ("a.jpg", data, "image/jpeg")})
    c("hash field image", "POST", "/h/hash", files={"image": ("a.jpg", data, "image/jpeg")})
    rec.created("photo content", c("add photo content", "POST", f"/c/bank/{BANK}/content",
                                   files={"photo": ("a.jpg", data, "image/jpeg")}))
    rec.settle()
    c("lookup photo", "POST", "/m/lookup", files={"photo": ("a.jpg", data, "image/jpeg")})


def diff(a: list[dict], b: list[dict]) -> list[str]:
    """Each step whose status or body differs, field by field."""
    found = []
    for x, y in zip(a, b):
        if x["status"] != y["status"]:
            found.append(f"{x['step']}: status {x['status']} != {y['status']}")
        for path, u, v in _fields(x["body"], y["body"]):
            found.append(f"{x['step']}: {path or 'body'}: {json.dumps(u)} != {json.dumps(v)}")
    return found


def _fields(u: object, v: object, path: str = ""):  # noqa: ANN202
    if isinstance(u, dict) and isinstance(v, dict):
        for k in sorted({*u, *v}):
            if k not in u or k not in v:
                yield f"{path}.{k}", u.get(k, "<absent>"), v.get(k, "<absent>")
            else:
                yield from _fields(u[k], v[k], f"{path}.{k}")
    elif isinstance(u, list) and isinstance(v, list) and len(u) == len(v):
        for i, (p, q) in enumerate(zip(u, v)):
            yield from _fields(p, q, f"{path}[{i}]")
    elif u != v or type(u) is not type(v):
        yield path, u, v


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?")
    parser.add_argument("--key", help="ncii-shield API key (HMA has none)")
    parser.add_argument("--settle", type=float, default=0.0)
    parser.add_argument("--diff", nargs=2, metavar=("A", "B"))
    args = parser.parse_args()
    if args.diff:
        a, b = (json.loads(Path(p).read_text()) for p in args.diff)
        lines = diff(a, b)
        print("\n".join(lines) if lines else "no difference")
        sys.exit(1 if lines else 0)
    headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}
    with httpx.Client(base_url=args.url, headers=headers, timeout=60) as client:
        rec = Recorder(client, args.settle)
        run(rec)
    json.dump(rec.normalised(), sys.stdout, indent=1)


if __name__ == "__main__":
    main()
