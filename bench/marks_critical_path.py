"""Where an upload's time goes in the marks candidate stage, and a model of its latency on an idle
2-core machine, from the cached frames of ``bench/marks_cached.py`` (issue 19).

Each upload is run through ``MarkIndex._checked`` on one thread (``OVERLAP`` off, ``CHECK_THREADS``
1) and every stage's CPU is taken with ``time.thread_time``: the keypoints (A), the calling thread's
own half with ``OVERLAP`` on (B: the grey field pyramid and all of ``_extents``: edge blobs, colour layers, chroma views and their naming), the faiss
search (F), the checks, and the rest; also the edge blobs alone (``blobs``), every naming of boxes
(``naming_all``: the blobs' and the vote boxes') and the checks scoring under ``WIDE_MIN`` (ended
after the wide search: ``checks_under_wide_min``). Two latencies are modelled from them, the same way for any
setting: *serial* = everything but the checks, then the checks' makespan on 2 threads in their order;
*overlap* = A and B at once, F's chunks (``SEARCH_CHUNK``) taken by whichever is free, then the rest
and the checks' makespan; *shared* = overlap with ``SHARE_NAMING`` (2026-12-07 #4): B is the grey pyramid and
the edge blobs, then the naming jobs (``jobs``: the colour layers, the grey naming, each chroma view) that both
threads take (the pool thread once its search is done); *early* = shared, but the first places' checks begun on the free core
while the calling thread chooses the rest of the candidates (``EARLY_CHECKS``: the time from the
votes to the stage's end). A model, not a measurement: a loaded machine cannot show idle latency
(``marks_bench.py --timing`` is that measurement), but its CPU per stage is what the model needs.

    python bench/marks_critical_path.py CACHE_DIR --values V.json [--limit 12] [--set NAME=VALUE ...]
"""

from __future__ import annotations

import argparse
import glob
import inspect
import json
import pickle
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import faiss  # noqa: E402
import marks_bench as MB  # noqa: E402

from ncii_shield.index import marks as IM  # noqa: E402
from ncii_shield.signals.marks import describe as D  # noqa: E402
from ncii_shield.signals.marks import features as F  # noqa: E402
from ncii_shield.signals.marks import locate as L  # noqa: E402
from ncii_shield.signals.marks import search as S  # noqa: E402
from ncii_shield.signals.marks.search import UploadFrame  # noqa: E402

T: dict[str, list[float]] = {}


def _timed(owner, name: str, key: str) -> None:
    f = getattr(owner, name)

    def timed(*a, **k):
        t = time.thread_time()
        r = f(*a, **k)
        T.setdefault(key, []).append(time.thread_time() - t)
        if key == "check":  # its score: the checks that end at the wide search are most of them
            T.setdefault("check_score", []).append(-1.0 if r is None else r[0])
        return r

    setattr(owner, name, timed)


class _TimedFaiss:
    def __init__(self, index) -> None:
        self.index, self.ntotal = index, index.ntotal

    def search(self, q, k):
        t = time.thread_time()
        r = self.index.search(q, k)
        T.setdefault("faiss", []).append(time.thread_time() - t)
        return r


def makespan(costs: list[float], threads: int = 2) -> float:
    free = [0.0] * threads
    for c in costs:
        free[free.index(min(free))] += c
    return max(free)


def makespan_early(costs: list[float], early: int, after: float, threads: int = 2) -> float:
    """The checks' makespan when the first ``early`` begin on a free core while the calling thread
    still spends ``after`` choosing the rest (:data:`IM.EARLY_CHECKS`), the others begun then."""
    free = [0.0, after] + [after] * (threads - 2)
    for k, c in enumerate(costs):
        i = free.index(min(free))
        free[i] = max(free[i], 0.0 if k < early else after) + c
    return max(max(free), after)


def shared_part(a: float, f: float, chunks: int, head: float, jobs: list[float]) -> float:
    """The two threads' part with :data:`IM.SHARE_NAMING` (:class:`IM._Tasks`): the pool thread makes the keypoints
    (``a``), then searches the ``chunks`` of ``f`` left, then takes the naming jobs left; the calling thread finds
    the edge blobs (``head``: the grey pyramid and the blobs), then takes the jobs in order, then the chunks left.
    Each takes its next item when free; the part ends when both are done."""
    free = {"pool": a, "call": head}
    left_chunks, left_jobs = [f / chunks] * chunks, list(jobs)
    while left_chunks or left_jobs:
        who = min(free, key=free.get)
        mine, other = (left_chunks, left_jobs) if who == "pool" else (left_jobs, left_chunks)
        if who == "pool" and not left_chunks and free["pool"] < head:  # the jobs are posted once the blobs are in
            free["pool"] = head
            continue
        free[who] += (mine or other).pop(0)
    return max(free.values())


class _TimedTasks(getattr(IM, "_Tasks", object)):
    """The naming jobs of ``_extents`` run on this thread one by one, each timed (``jobs``)."""

    def results(self) -> list:
        out = []
        for job in self._jobs:
            t = time.thread_time()
            out.append(job())
            T.setdefault("jobs", []).append(time.thread_time() - t)
        return out


def _timed_extents() -> None:
    f = IM.MarkIndex._extents
    jobs = "tasks" in inspect.signature(f).parameters  # code before SHARE_NAMING: no jobs

    def timed(self, frame, pyramid, names, chroma=(), tasks=None, meanwhile=None):  # (one thread: no meanwhile)
        t = time.thread_time()
        out = f(self, frame, pyramid, names, chroma, _TimedTasks()) if jobs else f(self, frame, pyramid, names, chroma)
        T.setdefault("extents", []).append(time.thread_time() - t)
        return out

    IM.MarkIndex._extents = timed


def _timed_candidates() -> None:
    """The moment the first places are handed to ``begin`` (the votes are in), and the stage's end."""
    f = IM.MarkIndex._candidates
    if "begin" not in inspect.signature(f).parameters:  # code before EARLY_CHECKS
        return

    def timed(self, frame, allowed=None, limit=IM.CANDIDATES, begin=None):
        def mark(first, **kwargs):  # (reading=True: begun inside the reader section, VOTES_MEANWHILE)
            T["begun_at"], T["begun_n"] = [time.thread_time()], [len(first)]
            if begin is not None:
                begin(first, **kwargs)
        out = f(self, frame, allowed, limit, mark)
        T["candidates_end"] = [time.thread_time()]
        return out

    IM.MarkIndex._candidates = timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dir")
    parser.add_argument("--values", required=True)
    parser.add_argument("--limit", type=int, default=12, help="the first N photos")
    parser.add_argument("--set", action="append", metavar="NAME=VALUE", help="a constant of index/marks.py")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    MB.apply_settings(args.set)
    IM.OVERLAP, IM.CHECK_THREADS = False, 1
    _timed(F, "upload_keypoints", "keypoints")
    S.upload_keypoints = F.upload_keypoints
    _timed(L, "proposals", "blobs")
    _timed(IM.MarkIndex, "_named", "named")
    _timed(D, "FieldPyramid", "pyramid")
    _timed(IM, "verify", "check")
    _timed(L, "layer_boxes", "layers")
    _timed_candidates()
    _timed_extents()
    index = MB.built_index([tuple(v) for v in json.loads(Path(args.values).read_text())])
    index._faiss = _TimedFaiss(index._faiss)
    serial, overlap, shared, early, cpu, parts = [], [], [], [], [], {}
    for path in sorted(glob.glob(str(Path(args.dir) / "*.pkl")))[: args.limit]:
        with open(path, "rb") as f:
            data = pickle.load(f)
        for r in data["pos"] + data["neg"]:
            frame = UploadFrame.from_rgb(r["rgb"])
            T.clear()
            t = time.thread_time()
            index._checked(frame, None, IM.CANDIDATES)
            total = time.thread_time() - t
            checks = T.get("check", [])
            a, f_ = sum(T.get("keypoints", [])), sum(T.get("faiss", []))
            if "extents" in T:  # the grey pyramid (made first), then every blob, layer and view and their naming
                b = T["pyramid"][0] + T["extents"][0]
            else:
                b = sum(T.get("pyramid", [])) + sum(T.get("blobs", [])) + T.get("named", [0.0])[0]
            rest = total - sum(checks) - a - f_ - b
            serial.append(total - sum(checks) + makespan(checks))
            chunks = max(1, int(np.ceil(len(frame.keypoints[2]) / IM.SEARCH_CHUNK)))
            free = [a, b]
            for _ in range(chunks):
                free[free.index(min(free))] += f_ / chunks
            overlap.append(max(free) + rest + makespan(checks))
            part = max(free)
            if "jobs" in T and IM.SHARE_NAMING:  # the naming jobs shared by the two threads
                head = b - sum(T["jobs"])
                part = shared_part(a, f_, chunks, head, T["jobs"])
            shared.append(part + rest + makespan(checks))
            if "begun_at" in T:  # EARLY_CHECKS: the first places' checks overlap the rest of the choosing
                after = T["candidates_end"][0] - T["begun_at"][0]
                early.append(part + rest - after + makespan_early(checks, int(T["begun_n"][0]), after))
            else:
                early.append(shared[-1])
            cpu.append(total)
            for key, v in (("keypoints", a), ("own_half", b), ("faiss", f_), ("rest", rest), ("checks", sum(checks)),
                           ("checks_on_2", makespan(checks)), ("overlapped_part", max(free)),
                           ("checks_n", len(checks) / 1000), ("shared_part", part),
                           ("layers", sum(T.get("layers", []))), ("jobs", sum(T.get("jobs", []))),
                           ("blobs", sum(T.get("blobs", []))), ("naming_all", sum(T.get("named", []))),
                           ("checks_under_wide_min", sum(c for c, s in zip(checks, T.get("check_score", []))
                                                         if s < S.WIDE_MIN))):
                parts.setdefault(key, []).append(v)

    def ms(v, q=50):
        return round(1000 * float(np.percentile(v, q)), 1)

    print(json.dumps({"photos": args.limit, "uploads": len(cpu), "set": args.set or [], "cpu_ms_p50": ms(cpu),
                      "model_serial_ms": [ms(serial), ms(serial, 95)], "model_overlap_ms": [ms(overlap), ms(overlap, 95)],
                      "model_shared_ms": [ms(shared), ms(shared, 95)], "model_early_ms": [ms(early), ms(early, 95)],
                      "stages_ms_p50": {k: round(1000 * statistics.median(v), 1) for k, v in parts.items()}}))


if __name__ == "__main__":
    main()
