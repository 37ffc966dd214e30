"""Latency of the derivative check at scale, for iteration: the scale run's index built once and saved.

``bench/derivative_scale.py`` builds its index (1,000,129 photos: ~8 min idle) every run; this keeps it:

    python bench/derivative_latency.py build /tmp/A/idx --registry-size 1000000 [--also 100000]   # once
    python bench/derivative_latency.py run /tmp/A/idx [--set NAME=VALUE ...] [--set ...] [--rounds 2] [--json f]

``build`` makes the same index, from the same windows cache and in the same incremental steps, as
``derivative_scale.py --registry-size N --real-windows 50000 [--registry old]`` (the uploads too: the same
seed, the same order; ``--registry``: honest by default, see that file's docstring), and saves the faiss
index (``faiss.write_index_binary``) and the uploads. ``run`` loads them and
times every upload's check (``Upload.from_rgb`` + ``DerivativeIndex.check``) under each settings group
given (``--set`` once per group; ``NAME=VALUE[,NAME=VALUE]`` on ``ncii_shield.index.derivative``, or
``verify.NAME`` / ``panels.NAME`` on those modules of ``signals.derivative``; none:
the defaults; ``OMP=n``: faiss's own OpenMP threads; ``CV=n``: OpenCV's threads, ``cv2.setNumThreads``).
Groups take turns upload by upload (ABA...), so a load that changes during the run weighs on every group
alike. Reported per group: wall p50/p95, the process's CPU (every thread) p50, the calling thread's CPU by
stage (extraction, search, verification; an unrelated upload's extraction and search), verifications per
check and how many ran on the pool thread, the rest search (``DerivativeIndex._rest_candidates``: how many
checks ran it, its search's CPU, the verifications made from it on; its search is not in the verification
stage's figure), the *critical path* (the calling thread's CPU plus, for each part run on two threads, what
the pool thread spent beyond it: what a check takes on two idle cores if neither thread waits for the GIL,
which wall time on a loaded machine does not show; two verifications at once each wait for the GIL ~20 % of
the time: ``bench/derivative_gil.py``), and the verdicts: own photo verified, false flags, and whether every
upload's hits are identical to the first group's (``--hits FILE`` writes them, to compare two trees' code
on the same index).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import cv2  # noqa: E402
import faiss  # noqa: E402
import numpy as np  # noqa: E402
from derivative_scale import (  # noqa: E402
    REGISTRIES, SyntheticRegistry, entries, make_upload, rss_mb, unrelated_uploads,
)

import ncii_shield.index.derivative as D  # noqa: E402
from ncii_shield.index.derivative import DerivativeIndex  # noqa: E402
from ncii_shield.signals.derivative.instances import find_instances  # noqa: E402
from ncii_shield.signals.derivative.verify import Outcome, Upload  # noqa: E402

REAL_WINDOWS = 50_000
SEED = 7


def photo_paths(folder: str) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})


def Registry(paths: list[Path], size: int, registry: str = "honest", cells: bool = True) -> SyntheticRegistry:  # noqa: N802
    """The scale run's signatures (lookup) and which real photo an entry shows (photo_of)."""
    return SyntheticRegistry(paths, size, REAL_WINDOWS, SEED, registry, cells=cells)


def build(args: argparse.Namespace) -> None:
    """The index at ``--registry-size`` saved in FOLDER, and at each ``--also`` size (reached on the way, as
    the follower's index would be) in FOLDER/at-SIZE, each with the same uploads."""
    out = Path(args.folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = photo_paths(args.photos)
    sizes = sorted({args.registry_size, *args.also})
    reg = Registry(paths, sizes[-1], args.registry)
    rng = np.random.default_rng(SEED)
    related = [make_upload(paths, rng, q, reg.upload_photos) for q in range(args.queries)]
    unrelated = unrelated_uploads(Path(args.unrelated), args.unrelated_queries, SEED)
    uploads = pickle.dumps({"related": related, "unrelated": unrelated}, protocol=pickle.HIGHEST_PROTOCOL)
    t0 = time.perf_counter()
    windows = reg.windows(args.workers)
    cells = reg.window_cells(args.workers)
    windows_s = time.perf_counter() - t0
    before = rss_mb()
    index = DerivativeIndex(reg.lookup)
    t0 = time.perf_counter()
    index.add_features_many([(f, i + 1) for i, f in enumerate(reg.real)])
    done, cells_s = 0, 0.0
    for size in sizes:
        for codes, ids in entries(windows, reg.perms, done, size):
            index.add_features_many(reg.batch(codes, ids))  # no frame: no cells (add_features_many's keys)
            c0 = time.perf_counter()
            index._cells.add_keys(*reg.cell_keys(cells, int(ids[0]) - 1_000_000, int(ids[-1]) + 1 - 1_000_000))
            cells_s += time.perf_counter() - c0
        done = size
        build_s = time.perf_counter() - t0
        grown = rss_mb() - before
        where = out if size == sizes[-1] else out / f"at-{size}"
        where.mkdir(parents=True, exist_ok=True)
        (where / "uploads.pkl").write_bytes(uploads)
        faiss.write_index_binary(index._faiss, str(where / "index.faissb"))
        meta = {"registry_size": size, "registry": args.registry, "real_windows": reg.real_n,
                "window_photos": len(reg.window_photos), "upload_photos": len(reg.upload_photos),
                "photos": len(paths), "built_for": index._built_for, "windows_seconds": windows_s,
                "build_seconds": build_s, "rss_growth_mb": grown, "ntotal": index._faiss.ntotal,
                "cells_seconds": cells_s, "cells_held": sum(len(r) for r in index._cells._runs),
                "cells_bytes_per_photo": index._cells.nbytes() / len(index),
                "index_bytes_per_photo": index.memory_bytes() / len(index),
                "largest_list": largest_list(index), "load_average": os.getloadavg()}
        (where / "meta.json").write_text(json.dumps(meta, indent=2))
        print(json.dumps(meta, indent=2), flush=True)


def largest_list(index: DerivativeIndex) -> int:
    if not index._ivf:
        return 0
    lists = index._faiss.invlists
    return max(lists.list_size(i) for i in range(index._faiss.nlist))


def load(folder: Path, photos: str, cells: bool = True) -> tuple[DerivativeIndex, Registry, dict, dict]:
    """The saved index, its registry, uploads and meta; ``cells``: the entries' cells (bench/derivative_scale.py
    entry_keys) added to the cell search and carried by their signatures (False: neither, as before 2026-12-07 #7)."""
    meta = json.loads((folder / "meta.json").read_text())
    paths = photo_paths(photos)
    reg = Registry(paths, meta["registry_size"], meta.get("registry", "old"), cells)
    ivf = faiss.read_index_binary(str(folder / "index.faissb"))  # an IndexBinaryIVF already (a downcast would free it)
    index = DerivativeIndex(reg.lookup)
    index._faiss, index._ivf, index._built_for = ivf, isinstance(ivf, faiss.IndexBinaryIVF), meta["built_for"]
    if index._ivf:
        index._quantizer = faiss.downcast_IndexBinary(ivf.quantizer)
        if isinstance(index._quantizer, faiss.IndexBinaryIVF):
            index._quantizer.nprobe = D.TOP_NPROBE
        ivf.nprobe = D.NPROBE
    index._ids = set(range(1, len(paths) + 1)) | set(range(1_000_000, 1_000_000 + meta["registry_size"]))
    if cells:  # the cell search's keys, in the build's order and batches (the saved faiss index holds none)
        before, w0, c0 = rss_mb(), time.perf_counter(), time.process_time()
        index._cells.add([(f, i + 1) for i, f in enumerate(reg.real)])
        windows = reg.window_cells(1)
        for start in range(0, meta["registry_size"], 20_000):
            index._cells.add_keys(*reg.cell_keys(windows, start, min(meta["registry_size"], start + 20_000)))
        index._cells.lookup((reg.real[0].cells,), 1.0)  # the compiled lookup loaded (or compiled) before any timing
        meta["cells_loaded"] = {"seconds": time.perf_counter() - w0, "cpu_seconds": time.process_time() - c0,
                                "rss_growth_mb": rss_mb() - before, "cells_held": sum(len(r) for r in index._cells._runs),
                                "runs": len(index._cells._runs), "cells_bytes_per_photo": index._cells.nbytes() / len(index),
                                "index_bytes_per_photo": index.memory_bytes() / len(index), "rss_mb": rss_mb()}
        print(json.dumps({"cells_loaded": meta["cells_loaded"]}), flush=True)
    with open(folder / "uploads.pkl", "rb") as f:
        uploads = pickle.load(f)
    return index, reg, uploads, meta


def parse_group(text: str) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in text.split(",") if kv)


# modules a setting may name as MODULE.NAME (a bare NAME is ncii_shield.index.derivative's)
MODULES = {"verify": "ncii_shield.signals.derivative.verify", "panels": "ncii_shield.signals.derivative.panels",
           "features": "ncii_shield.signals.derivative.features", "instances": "ncii_shield.signals.derivative.instances"}


def owner(name: str) -> tuple[object, str]:
    """The module a setting's name is of and the constant's own name (``verify.RECOLOUR_FINE``)."""
    module, _, attr = name.rpartition(".")
    if not module:
        return D, name
    import importlib  # noqa: PLC0415

    return importlib.import_module(MODULES.get(module, module)), attr


def value_of(old: object, text: str) -> object:
    """``text`` as the type of the constant it replaces: bools as 0 / 1, tuples with ';' between items
    (``verify.RECOLOUR_PARTIAL=0.3;0.1``: ',' separates a group's settings)."""
    if isinstance(old, bool):
        return bool(int(text))
    if isinstance(old, tuple):
        items = text.split(";")
        assert len(items) == len(old), (old, text)
        return tuple(type(o)(v) for o, v in zip(old, items))
    return type(old)(text)


def apply(group: dict[str, str], defaults: dict[str, object]) -> None:
    """Settings of ncii_shield.index.derivative (``NAME``) or of another module (``verify.NAME``,
    ``panels.NAME``: :data:`MODULES`); ``OMP``: faiss's OpenMP threads in the calling thread (1 by default
    here, as in derivative_scale.py); ``CV``: OpenCV's threads (``cv2.setNumThreads``: process-wide;
    ``features.py`` sets 1 on import)."""
    for name, value in defaults.items():
        if name == "OMP":
            faiss.omp_set_num_threads(int(value))  # type: ignore[call-overload]
        elif name == "CV":
            cv_threads(int(group.get(name, value)))  # type: ignore[call-overload]  # once (see cv_threads)
        else:
            setattr(*owner(name), value)
    for name, value in group.items():
        if name == "OMP":
            faiss.omp_set_num_threads(int(value))
            continue
        if name == "CV":
            continue  # set above
        module, attr = owner(name)
        setattr(module, attr, value_of(getattr(module, attr), value))


def cv_threads(n: int) -> None:
    if cv2.getNumThreads() != n:  # a change restarts OpenCV's pool: only when it changes
        cv2.setNumThreads(n)


def run(args: argparse.Namespace) -> dict:  # noqa: C901, PLR0915
    index, reg, uploads, meta = load(Path(args.folder), args.photos, not args.no_cells)
    if getattr(args, "uploads", None):  # other uploads (bench/hb_large_uploads.py: the large kind's)
        with open(args.uploads, "rb") as f:
            uploads = pickle.load(f)
    groups = [parse_group(s) for s in (args.set or [""])]
    names = {n for g in groups for n in g}
    current = {"OMP": faiss.omp_get_max_threads, "CV": cv2.getNumThreads}
    defaults = {n: current[n]() if n in current else getattr(*owner(n)) for n in names}
    related = uploads["related"][: args.queries]
    unrelated = uploads["unrelated"][: args.unrelated_queries]
    candidates = index.candidates
    stage = {"search": 0.0}

    def timed(*a, **k):  # noqa: ANN002, ANN003, ANN202
        c = time.thread_time()
        try:
            return candidates(*a, **k)
        finally:
            stage["search"] = time.thread_time() - c

    index.candidates = timed  # type: ignore[method-assign]
    # the rest search (DerivativeIndex._rest_candidates, 713bbcc): how many checks ran it, its search's CPU on the
    # calling thread, and the verifications made after it started (the rest's candidates that line up)
    rest_candidates = getattr(index, "_rest_candidates", None)
    rest = {"runs": 0, "search": 0.0, "calls_before": 0}

    def rest_timed(*a, **k):  # noqa: ANN002, ANN003, ANN202
        rest["runs"] += 1
        rest["calls_before"] = verifies["calls"]
        c = time.thread_time()
        try:
            return rest_candidates(*a, **k)
        finally:
            rest["search"] += time.thread_time() - c

    if rest_candidates is not None:
        index._rest_candidates = rest_timed  # type: ignore[method-assign]
    # the cell search (CELL_CANDIDATES): its lookups' calling-thread CPU, the photos each returns (CELL_VOTES
    # identical cells or more, before the CELL_CANDIDATES cut), and the whole-frame comparisons a check makes
    # (verify.whole_frame: the ranked photos' and the cell search's candidates) with their CPU
    cell = {"lookups": 0, "cpu": 0.0, "found": 0, "whole": 0, "whole_cpu": 0.0}
    real_lookup = index._cells.lookup

    def lookup_timed(*a, **k):  # noqa: ANN002, ANN003, ANN202
        c = time.thread_time()
        try:
            out = real_lookup(*a, **k)
        finally:
            cell["lookups"] += 1
            cell["cpu"] += time.thread_time() - c
        cell["found"] += len(out)
        return out

    index._cells.lookup = lookup_timed  # type: ignore[method-assign]
    real_whole = D.whole_frame

    def whole_timed(*a, **k):  # noqa: ANN002, ANN003, ANN202
        c = time.thread_time()
        try:
            return real_whole(*a, **k)
        finally:
            cell["whole"] += 1
            cell["whole_cpu"] += time.thread_time() - c

    D.whole_frame = whole_timed
    real_verify = D.verify
    main_thread = __import__("threading").get_ident()
    verifies = {"calls": 0, "pool": 0}

    def counted(*a, **k):  # noqa: ANN002, ANN003, ANN202
        verifies["calls"] += 1
        verifies["pool"] += __import__("threading").get_ident() != main_thread
        return real_verify(*a, **k)

    D.verify = counted
    import ncii_shield.signals.derivative.verify as V  # noqa: PLC0415
    real_cut = V.picture_cut

    def cut(*a, **k):  # noqa: ANN002, ANN003, ANN202
        verifies["cuts"] += 1
        return real_cut(*a, **k)

    V.picture_cut = cut
    verifies["cuts"] = 0
    # critical path: the calling thread's CPU plus, for every part run on two threads (D._shared), what the
    # pool thread spent beyond the calling thread: what the check would take on two idle cores, whatever
    # else the machine runs (wall under load is not), if neither thread waited for the GIL (see the docstring)
    sections: dict[int, list[tuple[bool, float]]] = {}
    real_work = getattr(D, "_Jobs", None) and D._Jobs.work

    def work(self):  # noqa: ANN001, ANN202
        t = time.thread_time()
        try:
            real_work(self)
        finally:
            sections.setdefault(id(self), []).append(
                (__import__("threading").get_ident() == main_thread, time.thread_time() - t))

    if real_work:
        D._Jobs.work = work

    def excess() -> float:
        out = sum(max(0.0, sum(c for m, c in v if not m) - sum(c for m, c in v if m)) for v in sections.values())
        sections.clear()
        return out
    rows: list[dict[str, list]] = [{k: [] for k in ("wall", "cpu", "extract", "search", "verify", "hits", "u_wall",
                                                    "u_cpu", "u_search", "u_hits", "i_wall", "i_cpu", "calls", "pool", "cuts", "critical", "u_critical",
                                                    "rest", "rest_search", "rest_calls", "u_rest", "u_extract",
                                                    "cell_lookups", "cell_cpu", "cell_found", "whole", "whole_cpu",
                                                    "u_cell_lookups", "u_cell_cpu", "u_cell_found", "u_whole",
                                                    "u_whole_cpu")}
                                   for _ in groups]
    for _ in range(args.rounds):
        for q, (rgb, i, j) in enumerate(related):
            order = range(len(groups)) if q % 2 == 0 else reversed(range(len(groups)))
            for g in order:
                apply(groups[g], defaults)
                r = rows[g]
                verifies["calls"] = verifies["pool"] = verifies["cuts"] = 0
                rest["runs"], rest["search"] = 0, 0.0
                cell.update(lookups=0, cpu=0.0, found=0, whole=0, whole_cpu=0.0)
                excess()
                w0, p0, t0 = time.perf_counter(), time.process_time(), time.thread_time()
                upload = Upload.from_rgb(rgb)
                t1 = time.thread_time()
                hits = index.check(upload)
                w2, p2, t2 = time.perf_counter(), time.process_time(), time.thread_time()
                r["wall"].append(w2 - w0)
                r["cpu"].append(p2 - p0)
                r["extract"].append(t1 - t0)
                r["search"].append(stage["search"])
                r["verify"].append(t2 - t1 - stage["search"] - rest["search"] - cell["cpu"])
                for key, name in (("cell_lookups", "lookups"), ("cell_cpu", "cpu"), ("cell_found", "found"),
                                  ("whole", "whole"), ("whole_cpu", "whole_cpu")):
                    r[key].append(cell[name])
                r["rest"].append(rest["runs"])
                r["rest_search"].append(rest["search"])
                r["rest_calls"].append(verifies["calls"] - rest["calls_before"] if rest["runs"] else 0)
                r["critical"].append(t2 - t0 + excess())
                r["cuts"].append(verifies["cuts"])
                r["calls"].append(verifies["calls"])
                r["pool"].append(verifies["pool"])
                r["hits"].append([(h.id, h.verdict.outcome.name, round(h.verdict.score, 6), h.verdict.inliers)
                                  for h in hits])
        for q, rgb in enumerate(unrelated):
            order = range(len(groups)) if q % 2 == 0 else reversed(range(len(groups)))
            for g in order:
                apply(groups[g], defaults)
                r = rows[g]
                rest["runs"], rest["search"] = 0, 0.0
                cell.update(lookups=0, cpu=0.0, found=0, whole=0, whole_cpu=0.0)
                excess()
                w0, p0, t0 = time.perf_counter(), time.process_time(), time.thread_time()
                upload = Upload.from_rgb(rgb)
                r["u_extract"].append(time.thread_time() - t0)
                hits = index.check(upload)
                for key, name in (("u_cell_lookups", "lookups"), ("u_cell_cpu", "cpu"), ("u_cell_found", "found"),
                                  ("u_whole", "whole"), ("u_whole_cpu", "whole_cpu")):
                    r[key].append(cell[name])
                r["u_rest"].append(rest["runs"])
                r["u_critical"].append(time.thread_time() - t0 + excess())
                r["u_wall"].append(time.perf_counter() - w0)
                r["u_cpu"].append(time.process_time() - p0)
                r["u_search"].append(stage["search"])
                r["u_hits"].append([(h.id, h.verdict.outcome.name) for h in hits])
                if args.instances:
                    w0, p0 = time.perf_counter(), time.process_time()
                    whole = find_instances(rgb, Upload.from_rgb(rgb), lambda part: [(None, h) for h in index.check(part)])
                    r["i_wall"].append(time.perf_counter() - w0)
                    r["i_cpu"].append(time.process_time() - p0)
                    r["u_hits"][-1] += [("instance", inst.verdict.outcome.name) for inst in whole
                                        if inst.verdict.outcome is not Outcome.NONE]
    apply({}, defaults)
    del index.candidates
    if rest_candidates is not None:
        del index._rest_candidates
    D.verify = real_verify
    D.whole_frame = real_whole
    del index._cells.lookup
    V.picture_cut = real_cut
    if real_work:
        D._Jobs.work = real_work
    ms = lambda v, q: float(np.percentile(np.array(v) * 1000, q)) if v else float("nan")  # noqa: E731
    n = len(related)
    out = []
    for g, r in zip(groups, rows):
        hits = r["hits"][:n]
        own = sum(any(reg.photo_of(h[0]) == i for h in hs) for hs, (_, i, _) in zip(hits, related))
        false = sum(h[1] == "DERIVATIVE" and reg.photo_of(h[0]) not in (i, j)
                    for hs, (_, i, j) in zip(hits, related) for h in hs)
        u_false = sum(h[1] != "NONE" for hs in r["u_hits"] for h in hs)
        same = sum(a == b for a, b in zip(r["hits"], rows[0]["hits"])) + sum(
            a == b for a, b in zip(r["u_hits"], rows[0]["u_hits"]))
        out.append({
            "set": g, "check_ms_p50": ms(r["wall"], 50), "check_ms_p95": ms(r["wall"], 95),
            "check_cpu_ms_p50": ms(r["cpu"], 50), "check_cpu_ms_p95": ms(r["cpu"], 95),
            "critical_ms_p50": ms(r["critical"], 50), "critical_ms_p95": ms(r["critical"], 95),
            "unrelated_critical_ms_p50": ms(r["u_critical"], 50), "unrelated_critical_ms_p95": ms(r["u_critical"], 95),
            "extract_cpu_ms_p50": ms(r["extract"], 50), "search_thread_cpu_ms_p50": ms(r["search"], 50),
            "verify_thread_cpu_ms_p50": ms(r["verify"], 50),
            # the rest search: checks that ran it (of the related uploads, every round; unrelated apart), its
            # search's calling-thread CPU p50 over those checks, and the verifications made from it on
            "rest_searches": int(np.sum(r["rest"])), "unrelated_rest_searches": int(np.sum(r["u_rest"])),
            "rest_search_cpu_ms_p50": ms([t for t, k in zip(r["rest_search"], r["rest"]) if k], 50),
            "rest_verifications": int(np.sum(r["rest_calls"])),
            "picture_cuts": int(np.sum(r["cuts"])),  # composite cuts made (Upload cuts lazily; two threads may both cut)
            "verifications_mean": float(np.mean(r["calls"])), "on_pool_thread_mean": float(np.mean(r["pool"])),
            "unrelated_ms_p50": ms(r["u_wall"], 50), "unrelated_ms_p95": ms(r["u_wall"], 95),
            "unrelated_cpu_ms_p50": ms(r["u_cpu"], 50), "unrelated_search_thread_cpu_ms_p50": ms(r["u_search"], 50),
            "unrelated_extract_cpu_ms_p50": ms(r["u_extract"], 50),
            "instances_ms_p50": ms(r["i_wall"], 50), "instances_cpu_ms_p50": ms(r["i_cpu"], 50),
            "own_photo_verified": own / n, "false_flags": false + u_false,
            "identical_to_first": f"{same}/{len(r['hits']) + len(r['u_hits'])}",
            # the cell search: checks that looked up (derivative uploads, every round; unrelated apart), the lookup's
            # calling-thread CPU p50 / p95 / max over those, photos found (CELL_VOTES or more) mean and max, and the
            # whole-frame comparisons a check made (ranked photos' and the cell search's) with their CPU
            "cell_lookups": int(np.sum(r["cell_lookups"])), "unrelated_cell_lookups": int(np.sum(r["u_cell_lookups"])),
            **cell_figures(r, ""), **cell_figures(r, "u_", "unrelated_"),
        })
    for row in out:
        print(json.dumps(row))
    if args.hits:  # every upload's hits under each group, to compare runs of two trees
        Path(args.hits).write_text(json.dumps([{"related": r["hits"], "unrelated": r["u_hits"], "rest": r["rest"]}
                                               for r in rows]))
    meta["rss_mb_end"] = rss_mb()
    print(json.dumps({"index": meta, "load_average": os.getloadavg()}))
    return {"groups": out, "queries": n, "unrelated": len(unrelated), "rounds": args.rounds,
            "load_average": os.getloadavg(), "index": meta}


def cell_figures(r: dict[str, list], key: str, name: str = "") -> dict[str, float]:
    """The cell search's figures of one group (``key``: "" derivative uploads, "u_" unrelated ones)."""
    ms = lambda v, q: float(np.percentile(np.array(v) * 1000, q)) if len(v) else float("nan")  # noqa: E731
    looked = [c for c, n in zip(r[key + "cell_cpu"], r[key + "cell_lookups"]) if n]
    found = [f for f, n in zip(r[key + "cell_found"], r[key + "cell_lookups"]) if n]
    return {f"{name}cell_lookup_cpu_ms_p50": ms(looked, 50), f"{name}cell_lookup_cpu_ms_p95": ms(looked, 95),
            f"{name}cell_lookup_cpu_ms_max": ms(looked, 100),
            f"{name}cell_found_mean": float(np.mean(found)) if found else 0.0,
            f"{name}cell_found_max": int(max(found, default=0)),
            f"{name}whole_frames_mean": float(np.mean(r[key + "whole"])) if r[key + "whole"] else 0.0,
            f"{name}whole_frame_cpu_ms_p50": ms(r[key + "whole_cpu"], 50),
            f"{name}whole_frame_cpu_ms_p95": ms(r[key + "whole_cpu"], 95)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("build", "run"))
    parser.add_argument("folder")
    parser.add_argument("--photos", default=str(ROOT.parent / "shared" / "data" / "photos"))
    parser.add_argument("--unrelated", default=str(ROOT.parent / "shared" / "data" / "faces"))
    parser.add_argument("--registry-size", type=int, default=1_000_000)
    parser.add_argument("--also", type=lambda v: [int(x) for x in v.split(",")], default=[],
                        help="build: smaller sizes saved on the way (FOLDER/at-SIZE), e.g. 100000")
    parser.add_argument("--registry", choices=REGISTRIES, default="honest",
                        help="build: the synthetic registry (derivative_scale.py's docstring); "
                             "old: as before 2026-12-06 #7")
    parser.add_argument("--workers", type=int, default=2, help="build: processes cutting the windows")
    parser.add_argument("--queries", type=int, default=120)
    parser.add_argument("--unrelated-queries", type=int, default=60)
    parser.add_argument("--set", action="append", help="NAME=VALUE[,NAME=VALUE]: one settings group (repeatable)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--instances", action="store_true", help="also time unrelated uploads through find_instances")
    parser.add_argument("--json")
    parser.add_argument("--hits", help="write every upload's hits (per group) here")
    parser.add_argument("--uploads", help="run: a pickle of other uploads ({'related': [(rgb, photo, part's photo)], "
                                          "'unrelated': [rgb]}), e.g. bench/hb_large_uploads.py's")
    parser.add_argument("--no-cells", action="store_true",
                        help="run: the entries without cells (as before 2026-12-07 #7: no synthetic entry in the cell search)")
    args = parser.parse_args()
    if args.action == "build":
        build(args)
        return 0
    summary = run(args)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
