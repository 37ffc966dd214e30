"""Compiled inner loops of the PDQ index (numba; they run without the GIL).

A lookup in a multi-index hash at 1M hashes visits ~4,000 candidate rows. In numpy every step is a
separate pass over temporary arrays; compiled, the whole lookup is one pass in three stages that keep
the memory system busy instead of waiting on it:

1. every probe's bucket bounds, from the small per-chunk offset tables (cache-resident);
2. the candidate row numbers copied out of the buckets into one buffer;
3. the candidates' hashes compared with the query: independent loads, so the CPU overlaps the
   cache misses instead of stalling on one chain of dependent loads per bucket.

That is :func:`mih_search` (the 12-chunk scheme from 2M hashes). Below that, 16 chunks of 16 bits
and :func:`mih_pair_search`: each bucket's candidates are screened by their 32-bit group value,
stored in bucket order, so a lookup streams short runs of 4-byte values and loads a hash only when
it is (almost surely) a hit.

Only hits (distance <= threshold, alive) are written out. :func:`mih_search` reports a row reached
through several chunks once per chunk (the caller deduplicates); :func:`mih_pair_search` once.
Compiled on first use and cached on disk.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


@intrinsic
def _prefetch(typingctx, array, index):
    """Ask the CPU to start loading the cache line of ``array[index]`` (LLVM's prefetch: a hint that
    never faults). Used to overlap the first miss of the next buckets with the scan of this one."""

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        item = cgutils.get_item_pointer(context, builder, array_type,
                                        context.make_array(array_type)(context, builder, args[0]), [args[1]])
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]), "llvm.prefetch.p0i8")
        # read access, high temporal locality, data cache
        builder.call(function, [builder.bitcast(item, byte_pointer), ir.Constant(i32, 0), ir.Constant(i32, 3),
                                ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(array, index), codegen


@intrinsic
def _ctpop32(typingctx, x):
    """Bits set in a uint32 (LLVM's ctpop: one POPCNT; the bit-trick pattern widens to 64 bits in numba)."""

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i32, [i32]), "llvm.ctpop.i32")
        return builder.call(function, [args[0]])

    return types.uint32(types.uint32), codegen


@njit(inline="always", nogil=True, cache=True)
def _popcount(x):
    # LLVM turns this pattern into one POPCNT instruction.
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return (x * _H01) >> np.uint64(56)


@njit(inline="always", nogil=True, cache=True)
def _distance(words, row, q0, q1, q2, q3):
    return (_popcount(words[row, 0] ^ q0) + _popcount(words[row, 1] ^ q1)
            + _popcount(words[row, 2] ^ q2) + _popcount(words[row, 3] ^ q3))


@njit(inline="always", nogil=True, cache=True)
def _chunk(q, pos, width):
    """``width`` bits of the 256-bit hash ``q`` (uint64[4], big-endian words) from bit ``pos``."""
    w = pos // 64
    off = pos % 64
    end = off + width
    if end <= 64:
        return np.int64((q[w] >> np.uint64(64 - end)) & np.uint64((1 << width) - 1))
    spill = end - 64
    hi = (q[w] & np.uint64((1 << (64 - off)) - 1)) << np.uint64(spill)
    return np.int64(hi | (q[w + 1] >> np.uint64(64 - spill)))


@njit(inline="always", nogil=True, cache=True)
def _group(q, g):
    """32-bit group ``g`` (bits 32g..32g+31) of the 256-bit hash ``q`` (uint64[4], big-endian words)."""
    w = q[g // 2]
    return np.uint32((w >> np.uint64(32)) if g % 2 == 0 else (w & np.uint64(0xFFFFFFFF)))


@njit(inline="always", nogil=True, cache=True)
def _first_reporting_chunk(x, positions, widths, max_flips, group_limit):
    """The first chunk through which :func:`mih_pair_search` finds ``x`` (a hash XOR the query,
    uint64[4]): at most ``max_flips`` bits set in the chunk and at most ``group_limit`` in its 32-bit
    group. The one chunk that reports the hit (the others that reach it skip it)."""
    for c in range(widths.shape[0]):
        if (_popcount(np.uint64(_chunk(x, positions[c], widths[c]))) <= max_flips
                and _ctpop32(_group(x, c // 2)) <= group_limit):
            return c
    return -1


@njit(inline="always", nogil=True, cache=True)
def _probe_chunk(q, c, positions, widths, offsets, starts, shift, max_flips, probes, nb, tag):
    """Append the non-empty buckets chunk ``c`` of query ``q`` probes — its own value and every value
    within ``max_flips`` bits — to ``probes`` as (first, end, tag + flips) rows from row ``nb``;
    return the new row count. ``shift`` is added to the bucket bounds (the chunk's row block)."""
    width = widths[c]
    value = _chunk(q, positions[c], width)
    base = offsets[c]
    for i in range(-1, width):
        vi = value if i < 0 else value ^ (np.int64(1) << i)
        lo = np.int64(starts[base + vi])
        hi = np.int64(starts[base + vi + 1])
        probes[nb, 0] = lo + shift
        probes[nb, 1] = hi + shift
        probes[nb, 2] = tag + (i >= 0)
        nb += hi > lo
        if max_flips >= 2 and i >= 0:
            for j in range(i + 1, width):
                vj = vi ^ (np.int64(1) << j)
                lo = np.int64(starts[base + vj])
                hi = np.int64(starts[base + vj + 1])
                probes[nb, 0] = lo + shift
                probes[nb, 1] = hi + shift
                probes[nb, 2] = tag + 2
                nb += hi > lo
    return nb


@njit(inline="always", nogil=True, cache=True)
def _record(out_query, out_row, out_distance, found, qi, r, d):
    """Write hit number ``found`` if there is room (the caller retries with more); return found + 1."""
    if found < out_query.shape[0]:
        out_query[found] = qi
        out_row[found] = r
        out_distance[found] = d
    return found + 1


@njit(nogil=True, cache=True)
def mih_search(words, alive, order, starts, offsets, positions, widths, max_flips, queries, threshold,
               out_query, out_row, out_distance, rows, bounds):
    """Every (query, row, distance) with distance <= threshold among the alive rows of a segment.

    ``order[c]`` lists row numbers sorted by chunk ``c``; ``starts[offsets[c] + v]`` is where chunk
    value ``v``'s bucket begins in it. Probes each chunk's value and its neighbours within
    ``max_flips`` bits. ``rows`` and ``bounds`` (int64[probes, 3]) are scratch buffers. Returns the
    number of hits; if it exceeds ``len(out_query)`` only the first ones were written — call again
    with bigger output arrays.
    """
    found = 0
    limit = np.uint64(threshold)
    n = order.shape[1]
    flat = order.ravel()
    scratch = rows.shape[0]
    for qi in range(queries.shape[0]):
        q = queries[qi]
        q0, q1, q2, q3 = q[0], q[1], q[2], q[3]
        # stage 1: bucket bounds of every probe (empty buckets skipped)
        nb = 0
        for c in range(widths.shape[0]):
            nb = _probe_chunk(q, c, positions, widths, offsets, starts, c * n, max_flips, bounds, nb, 0)
        # stage 2: candidate rows into one buffer (bigger than the buffer: compare in place)
        m = 0
        for b in range(nb):
            lo, hi = bounds[b, 0], bounds[b, 1]
            if m + hi - lo <= scratch:
                for p in range(lo, hi):
                    rows[m] = flat[p]
                    m += 1
            else:
                for p in range(lo, hi):
                    r = np.int64(flat[p])
                    d = _distance(words, r, q0, q1, q2, q3)
                    if d <= limit and alive[r]:
                        found = _record(out_query, out_row, out_distance, found, qi, r, d)
        # stage 3: compare
        for i in range(m):
            r = np.int64(rows[i])
            d = _distance(words, r, q0, q1, q2, q3)
            if d <= limit and alive[r]:
                found = _record(out_query, out_row, out_distance, found, qi, r, d)
    return found


PAIR_BATCH = 8  # queries whose probes are listed together, so prefetching runs across query boundaries
PREFETCH_AHEAD = 12  # buckets
PAIR_BLOCK = 24  # group values compared per step (buckets hold ~15 at 1M); the array is padded by this many
CANDIDATES = 4096  # rows that passed the screen, verified together (scratch rows of mih_pair_search)


@njit(nogil=True, cache=True)
def mih_pair_search(words, alive, order, starts, groups, offsets, positions, widths, max_flips, queries, threshold,
                    out_query, out_row, out_distance, probes, candidates):
    """:func:`mih_search` over a segment of 16 chunks of 16 bits that also stores, for every chunk
    and in that chunk's bucket order, the 32-bit *group* (the chunk and its neighbour: bits
    32g..32g+31, g = chunk // 2) of each hash: ``groups[c * n + p]``.

    Two-level pigeonhole: if a hash is within ``threshold`` (<= 31) of the query, one of the 8 groups
    differs in at most ``t = threshold // 8`` <= 3 bits (8 x 4 = 32 > 31), and within that group one
    of its two chunks differs in at most ``t // 2`` <= 1 bit. So the hash sits in a probed bucket of
    that chunk *and* its group value is within ``t`` of the query's: a candidate whose group differs
    in more bits is skipped without loading its hash (a random hash passes with probability ~1e-6),
    and recall stays exact. A lookup reads ~272 short runs of 4-byte group values (~16 KB) instead
    of ~4,000 random 32-byte rows. Each bucket is screened in blocks of ``PAIR_BLOCK`` values without
    a branch per value (the array is padded so a block may run past the last bucket).

    The rows that pass are collected and verified together after each batch of queries (their row
    numbers and hashes are independent loads the CPU overlaps; verified inside the screening loop,
    each waited on two cache misses in a row). A hit is reported once, by the first chunk that
    reaches it (unlike :func:`mih_search`).

    Scratch: ``probes`` (int64[PAIR_BATCH * probes per query, 3]; a probe's tag packs (query in the
    batch, chunk, flips) as ``q * 64 + c * 4 + f``) and ``candidates`` (int64[k, 2]).
    """
    found = 0
    limit = np.uint64(threshold)
    group_limit = np.uint32(threshold // 8)
    n = order.shape[1]
    flat = order.ravel()
    query_groups = np.empty(8 * PAIR_BATCH, dtype=np.uint32)
    pending = 0
    for first in range(0, queries.shape[0], PAIR_BATCH):
        last = min(first + PAIR_BATCH, queries.shape[0])
        # every non-empty bucket these queries probe: (first row, end, query * 64 + chunk * 4 + flips)
        nb = 0
        for qi in range(first, last):
            q = queries[qi]
            for g in range(8):
                query_groups[(qi - first) * 8 + g] = _group(q, g)
            for c in range(widths.shape[0]):
                nb = _probe_chunk(q, c, positions, widths, offsets, starts, c * n, max_flips, probes, nb,
                                  (qi - first) * 64 + c * 4)
        # ask for the next buckets' cache lines (a block spans at most 3) while this one is screened
        for k in range(min(PREFETCH_AHEAD, nb)):
            _prefetch_block(groups, probes[k, 0])
        for k in range(nb):
            if k + PREFETCH_AHEAD < nb:
                _prefetch_block(groups, probes[k + PREFETCH_AHEAD, 0])
            tag = probes[k, 2]
            want = query_groups[(tag >> 6) * 8 + ((tag >> 2) & 15) // 2]
            end = probes[k, 1]
            p = probes[k, 0]
            while p < end:
                passed = np.uint32(0)
                for i in range(PAIR_BLOCK):
                    passed += _ctpop32(groups[np.uint64(p + i)] ^ want) <= group_limit
                if passed:  # rare: a near hash (or one random hash in ~1e6)
                    for pp in range(p, min(p + PAIR_BLOCK, end)):
                        if _ctpop32(groups[pp] ^ want) <= group_limit:
                            if pending == candidates.shape[0]:
                                found = _verify(candidates, pending, flat, words, alive, queries, positions, widths,
                                                max_flips, group_limit, limit, out_query, out_row, out_distance, found)
                                pending = 0
                            candidates[pending, 0] = pp
                            candidates[pending, 1] = first * 64 + tag  # query * 64 + chunk * 4 + flips
                            pending += 1
                p += PAIR_BLOCK
        found = _verify(candidates, pending, flat, words, alive, queries, positions, widths, max_flips, group_limit,
                        limit, out_query, out_row, out_distance, found)
        pending = 0
    return found


@njit(inline="always", nogil=True, cache=True)
def _verify(candidates, count, flat, words, alive, queries, positions, widths, max_flips, group_limit, limit,
            out_query, out_row, out_distance, found):
    """Check the first ``count`` candidates (position in the chunk's bucket order, query * 64 +
    chunk * 4 + flips) against their queries; record the hits their chunk reports. Three passes, so
    the loads of each are independent: row numbers, then hashes, then distances."""
    for i in range(count):
        _prefetch(flat, candidates[i, 0])
    for i in range(count):
        candidates[i, 0] = flat[candidates[i, 0]]
        _prefetch(words, candidates[i, 0] * 4)
    x = np.empty(4, dtype=np.uint64)
    for i in range(count):
        r = candidates[i, 0]
        qi = candidates[i, 1] >> 6
        q = queries[qi]
        d = _distance(words, r, q[0], q[1], q[2], q[3])
        if d <= limit and alive[r]:
            for w in range(4):
                x[w] = words[r, w] ^ q[w]
            if _first_reporting_chunk(x, positions, widths, max_flips, group_limit) == (candidates[i, 1] >> 2) & 15:
                found = _record(out_query, out_row, out_distance, found, qi, r, d)
    return found


@njit(inline="always", nogil=True, cache=True)
def _prefetch_block(groups, p):
    _prefetch(groups, p)
    _prefetch(groups, p + 16)
    _prefetch(groups, p + PAIR_BLOCK - 1)


@njit(nogil=True, cache=True)
def brute_search(words, size, queries, threshold, out_query, out_row, out_distance):
    """Every (query, row, distance) with distance <= threshold among ``words[:size]``."""
    found = 0
    limit = np.uint64(threshold)
    for qi in range(queries.shape[0]):
        q0, q1, q2, q3 = queries[qi, 0], queries[qi, 1], queries[qi, 2], queries[qi, 3]
        for r in range(size):
            d = _distance(words, r, q0, q1, q2, q3)
            if d <= limit:
                found = _record(out_query, out_row, out_distance, found, qi, r, d)
    return found
