"""Graduated filters: a colour blended in from one side or corner of the picture (issue 20, "derivatives").

An app's graduated filter blends every pixel towards one colour ``C`` with a strength ``s`` that falls
smoothly from a side or a corner of the picture: ``out = (1 - s) * in + s * C``. On the cell summaries
(:mod:`.features`) a cell's means move by ``s * (C - mean)``, its spread shrinks by ``1 - s`` and its
structure bits stay. The whole-photo tone model of :mod:`.verify` fits one colour map for the whole photo,
so the blended cells are left differing in colour and look like a recoloured or replaced region.

:func:`unblend` fits such a filter to the cells: ``s = S * p(t)``, where ``t`` is the position along one
of :data:`ANGLES` directions across the picture or the distance from one of its corners (in shares of the
photo's sides), and ``p`` a plateau falling linearly to nothing inside the picture over a feather of at
least :data:`FEATHER` (``p = clip((z - t) / w, 0, 1)``), with one strength ``S``, one colour ``C`` and one
small offset of the whole photo (re-encoding; at most :data:`OFFSET`): linear least squares per profile,
first over a coarse grid of ``z`` and ``w`` (the direction or corner of least squared residuals kept), then
over a fine one about that direction; of the :data:`SHORTLIST` profiles of least squared residuals the one
of least truncated squared residuals (brightness, chroma and spread as shares of verify's tolerances, and
the structure bits) is kept and refitted twice on the cells it explains to :data:`CLOSE`. The cells with
the filter undone are returned when it is a plausible filter (:data:`STRENGTH`) that explains at least
:data:`GAIN` more of the visible cells than no filter (to :data:`CLOSE`) and is seen to fade (:data:`RAMP_CELLS`:
its fade lies inside the picture over two cells or more, and cells there show the intermediate strengths it
gives them, in two rows or more: a region regenerated at a corner or along a side is a blend too, shaped like a
filter's plateau, but with a hard edge); :mod:`.verify` then judges them
again and takes a re-share verdict from them, never any other. A local edit is not a blend whose strength
depends only on where a cell lies: the cells beside it at the same place along the profile are unchanged,
and a flat fill, noise or another photo's patch changes the structure, which no blend explains. Measured:
docs/benchmarks-history.md, 2026-12-07 #6 (HD; bench/hd_graded_probe.py, bench/derivative_large.py) and #7 (HC;
bench/hc_graded_real.py: regions regenerated at a corner or along a side of real photos).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .features import CELL_TOLERANCE as _TOL
from .features import GRID, STD_CAP, TEXTURE_STD, Cells

ANGLES = 24  # directions of a linear profile, evenly over the full turn
FEATHER = 0.1  # the narrowest fade, share of the profile's extent (the harness's filters: 0.15-0.5; the probe's 0.1)
STRENGTH = (0.05, 0.45)  # the blend's strength at its plateau taken as a filter's (apps: 0.3-0.35; the harness's
#                          filters fit 0.26-0.38; a region darkened to half is a blend of 0.5 towards black)
SHORTLIST = 200  # profiles of least squared residuals whose robust cost (truncated squares) is compared
CLOSE = 0.5  # share of the tolerances: the cells the chosen profile is refitted on
OFFSET = 0.5  # the largest offset of the whole photo (share of the tolerances) taken with a filter
TINTED = (0.3, 0.8)  # of the cells at half the filter's strength or more, the second share must be explained to the
#                     first share of the tolerances (filters of the harness: 0.88-1; regions regenerated: 0.22-0.61)
GAIN = 0.06  # share of the visible cells the filter must explain to CLOSE beyond no filter at all (weak tints: under 1)
# A filter is seen to fade (RAMP): a region regenerated at a corner or along a side (smoothed, darkened, warmed) is a
# blend too, its plateau shaped like a filter's, but its edge is hard: one row of cells (the one the edge runs
# through, partly covered) shows an intermediate change. Each cell the filter moves by RAMP_FLOOR of the tolerances
# or more at full strength (structure kept) shows a strength: its change along the filter's per full change, scaled
# so that the plateau shows the profile's own. The fitted fade must lie RAMP_CELLS cells or more inside the picture;
# of the fade's cells (the profile at RAMP_BAND of its top), at least RAMP_USABLE, RAMP_SHARE must show the
# profile's strength to RAMP_FIT, and those showing an intermediate one (RAMP_MID of the top) must lie RAMP_SPAN
# cells apart or more along the profile (two rows); and the linear fade best explaining the strengths shown along
# the profile must be RAMP_CELLS wide or more (a hard edge through cells: 1). Measured (2026-12-07 #7, HC; traces
# of bench/hc_graded_real.py's regions on photos 0-23 and the harness's graduated filters on photos 0-39): the
# regions GRADED cleared without it (87): fades of 1.5 cells (the narrowest FEATHER), spans 0-0.9, widths 1-2.5; the
# filters: fades 2.25-11.3 cells, spans 1-7.7, widths 2.3-12, shares 0.65-1.
RAMP_CELLS = 2.0
RAMP_SHARE = 0.7
RAMP_USABLE = 6
RAMP_SPAN = 1.0
RAMP_BAND = (0.1, 0.9)
RAMP_MID = (0.15, 0.85)
RAMP_FIT = 0.25
RAMP_FLOOR = 0.8
RAMP_TEXTURE = (0.025, 6)  # ... and a blend keeps the photo's texture (spread x (1 - s)): the plateau's textured
#   cells (at least the second many) whose spread, less the blend's, falls short of the rest's median by the first
#   (log ratio) or more at their lower quartile were smoothed (a region regenerated from itself), not blended
#   (2026-12-07 #7: the harness's plateau filters -0.011 to +0.010 on photos 0-7; regenerated regions -0.02 to -0.11)
RAMP = True  # False: no fade required, nor the texture kept (as 2026-12-07 #6)
TRACE: list | None = None  # a list: each fit's figures and the test that refused it appended (bench/hc_graded_real.py)
_ENDS = np.arange(0.05, 1.01, 0.05)  # where the fade reaches nothing, share of the extent (inside the picture)
_WIDTHS = np.array([0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0])


def _positions(visible: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Each visible cell's position (0-1) along each direction of ``angles`` (radians) and, when ``angles``
    is the coarse grid, from every corner: (profiles, cells)."""
    yy, xx = np.mgrid[0:GRID, 0:GRID]
    x = ((xx + 0.5) / GRID)[visible]
    y = ((yy + 0.5) / GRID)[visible]
    out = []
    for a in angles:
        t = np.cos(a) * x + np.sin(a) * y
        out.append((t - t.min()) / max(float(np.ptp(t)), 1e-6))
    if len(angles) == ANGLES:
        for cx, cy in ((0, 0), (1, 0), (0, 1), (1, 1)):
            out.append(np.hypot(x - cx, y - cy) / np.sqrt(2.0))
    return np.array(out)


def _profiles(t: np.ndarray, ends: np.ndarray, widths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every profile's blend share per visible cell (0-1) along each row of positions ``t``, for every fade
    ending at one of ``ends`` over one of ``widths``: (profiles, cells), and each profile's (row, end, width)."""
    shapes = [(z, w) for z in ends for w in widths if w >= FEATHER - 1e-9 and z - w < 1.0]
    z = np.array([z for z, _ in shapes])[None, :, None]
    w = np.array([w for _, w in shapes])[None, :, None]
    p = np.clip((z - t[:, None, :]) / w, 0.0, 1.0).reshape(-1, t.shape[-1])
    rows = np.repeat(np.arange(len(t)), len(shapes))
    ze = np.tile(np.array(shapes), (len(t), 1))
    return p, np.c_[rows, ze]


@lru_cache(maxsize=8)
def _coarse(key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The coarse grid's profiles over the visible cells ``key`` (a GRID x GRID mask's bytes), and each
    one's row of positions."""
    visible = np.frombuffer(key, bool).reshape(GRID, GRID)
    t = _positions(visible, np.arange(ANGLES) * (2 * np.pi / ANGLES))
    p, shapes = _profiles(t, _ENDS[1::2], _WIDTHS[::2])
    return p, shapes[:, 0].astype(int)


def _fine(visible: np.ndarray, row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The fine grid's profiles about the coarse grid's row of positions ``row``: the same corner, or
    directions within half a coarse step, every end and width; each profile's (row, end, width), and the
    rows' positions in cells (the profile's position times its extent over the picture, in cells)."""
    yy, xx = np.mgrid[0:GRID, 0:GRID]
    x, y = (xx + 0.5)[visible], (yy + 0.5)[visible]
    if row >= ANGLES:
        t = _positions(visible, np.arange(ANGLES) * (2 * np.pi / ANGLES))[row:row + 1]  # a corner
        cells = t * GRID * np.sqrt(2.0)
    else:
        step = 2 * np.pi / ANGLES
        angles = row * step + np.array([-0.5, 0.0, 0.5]) * step
        t = _positions(visible, angles)
        cells = np.array([np.cos(a) * x + np.sin(a) * y for a in angles])
        cells = cells - cells.min(axis=1, keepdims=True)
    p, shapes = _profiles(t, _ENDS, _WIDTHS)
    return p, shapes, t, cells


def _solve(p: np.ndarray, reg: np.ndarray, d: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per profile, the least-squares ``(o, K, S)`` of ``d = o + p * K - S * p * reg`` (``K = S * C``, ``o``
    the whole photo's offset) over the cells, each channel scaled by its tolerance and each cell by
    ``weight``: (profiles, 7), and the sum of the squared scaled residuals it leaves (profiles)."""
    n, tol = len(reg), _TOL[:3]
    # each cell's row for channel c is fixed + p * scaled: [e_c, p e_c, -p reg_c] / tol_c
    fixed, scaled = np.zeros((n, 3, 7)), np.zeros((n, 3, 7))
    for c in range(3):
        fixed[:, c, c] = 1.0 / tol[c]
        scaled[:, c, 3 + c] = 1.0 / tol[c]
        scaled[:, c, 6] = -reg[:, c] / tol[c]
    dt = d / tol
    ff = np.einsum("ncj,nck->njk", fixed, fixed).reshape(n, 49)
    fs = np.einsum("ncj,nck->njk", fixed, scaled)
    fs = (fs + fs.transpose(0, 2, 1)).reshape(n, 49)
    ss = np.einsum("ncj,nck->njk", scaled, scaled).reshape(n, 49)
    pw = p * weight
    a = (weight @ ff + pw @ fs + (pw * p) @ ss).reshape(-1, 7, 7) + 1e-6 * np.eye(7)
    b = weight @ np.einsum("ncj,nc->nj", fixed, dt) + pw @ np.einsum("ncj,nc->nj", scaled, dt)
    sol = np.linalg.solve(a, b[..., None])[..., 0]
    return sol, float((weight * (dt ** 2).sum(axis=1)).sum()) - (sol * b).sum(axis=1)


def _residuals(p: np.ndarray, sol: np.ndarray, reg: np.ndarray, d: np.ndarray, r_std: np.ndarray,
               sr: np.ndarray, dp: np.ndarray) -> np.ndarray:
    """Per profile and cell, the largest residual of the fitted blend as a share of the tolerances (the
    brightness, chroma and spread ones, the spread about its median, and the structure bits, as
    verify's ``_worst``)."""
    off, k, strength = sol[:, None, :3], sol[:, None, 3:6], sol[:, 6:7]
    s = np.clip(strength * p, 0.0, 0.95)
    pred = off + p[..., None] * k - s[..., None] * reg[None]
    colour = np.abs(d[None] - pred) / _TOL[:3]
    spread = sr[None] - np.log(((1.0 - s) * r_std[None] + 3.0) / (r_std[None] + 3.0))
    spread = np.abs(spread - np.median(spread, axis=1, keepdims=True)) / _TOL[3]
    worst = np.maximum(np.maximum(colour[..., 0], np.maximum(colour[..., 1], colour[..., 2])), spread)
    return np.maximum(worst, dp[None] / 5.0)


def _traced(trace: dict, why: str) -> None:
    """None, with the fit's figures and ``why`` appended to :data:`TRACE` when it is a list."""
    if TRACE is not None:
        trace["why"] = why
        TRACE.append(trace)
    return None


def _ramp(pb: np.ndarray, sb: np.ndarray, reg: np.ndarray, d: np.ndarray, dpv: np.ndarray, t: np.ndarray,
          cells: np.ndarray, z: float, w: float) -> tuple[float, float, int, float, float]:
    """The fitted fade (``t`` from ``z - w`` to ``z``) as seen (see :data:`RAMP_CELLS`). Each cell the filter moves
    at all (at full strength by :data:`RAMP_FLOOR` of the tolerances or more, its structure kept) shows a strength:
    its change along the filter's per full change (less the whole photo's offset), scaled so that the plateau's
    cells (the profile at 0.9 of its top or more) show the profile's own. Returns how far (cells) the fade lies
    inside the picture; of the fade's cells (the profile at :data:`RAMP_BAND` of its top), the share showing the
    profile's strength to :data:`RAMP_FIT`, and how many they are; how far apart (cells, along the profile) those
    of them lie that show an intermediate strength (:data:`RAMP_MID`); and the width (cells) of the linear fade
    that best explains the strengths shown along the profile (:func:`_fade_width`). ``t``: the visible cells'
    positions (0-1), ``cells``: the same in cells."""
    scale = float(np.ptp(cells)) / max(float(np.ptp(t)), 1e-9)
    fade = max(0.0, min(z, float(t.max())) - max(z - w, float(t.min()))) * scale
    full = (sb[3:6][None] - sb[6] * reg) / _TOL[:3]  # each cell's change at the profile's full strength
    seen = (d - sb[:3][None]) / _TOL[:3]
    norm = (full ** 2).sum(axis=1)
    moved = (np.sqrt(norm) >= RAMP_FLOOR) & (dpv <= 5.0)
    if int(moved.sum()) < RAMP_USABLE:
        return fade, 0.0, 0, 0.0, 0.0
    shown = (seen * full).sum(axis=1) / np.maximum(norm, 1e-9)
    top = float(pb.max())
    plateau = moved & (pb >= 0.9 * top)
    k = float(np.median(shown[plateau] / pb[plateau])) if plateau.sum() >= 3 else 1.0
    k = k if k > 0.3 else 1.0  # the strength the plateau shows (a region's plateau: often under the fit's)
    usable = moved & (pb >= RAMP_BAND[0] * top) & (pb <= RAMP_BAND[1] * top)
    if not usable.any():
        return fade, 0.0, 0, 0.0, 0.0
    own = shown[usable] / k
    fits = np.abs(own - pb[usable]) <= RAMP_FIT
    mid = fits & (own >= RAMP_MID[0] * top) & (own <= RAMP_MID[1] * top)
    span = float(np.ptp(cells[usable][mid])) if mid.any() else 0.0
    return fade, float(fits.mean()), int(usable.sum()), span, _fade_width(cells[moved], shown[moved])


def _smoothed(pb: np.ndarray, sb: np.ndarray, sr: np.ndarray, r_std: np.ndarray) -> float:
    """How much the plateau's textured cells were smoothed beyond the blend (see :data:`RAMP_TEXTURE`): the lower
    quartile of their log spread ratio less the blend's, less the median of the textured cells the profile leaves
    alone; 0 when either has too few cells."""
    s = np.clip(sb[6] * pb, 0.0, 0.95)
    left = sr - np.log(((1.0 - s) * r_std + 3.0) / (r_std + 3.0))
    textured = r_std >= TEXTURE_STD
    plateau, alone = textured & (pb >= 0.9 * pb.max()), textured & (pb <= 0.0)
    if plateau.sum() < RAMP_TEXTURE[1] or alone.sum() < RAMP_TEXTURE[1]:
        return 0.0
    return float(np.percentile(left[plateau], 25) - np.median(left[alone]))


_WIDTH_GRID = np.arange(1.0, 12.01, 0.25)


def _fade_width(x: np.ndarray, y: np.ndarray) -> float:
    """The width (cells) of the linear fade ``k * clip((e - x) / W + 1/2, 0, 1)`` (a plateau at small ``x``) whose
    truncated squared residuals (at 0.3) about the strengths ``y`` shown at positions ``x`` (cells) are least, over
    ``W`` of 1-12 cells and ``e`` in quarter cells: a hard edge through cells (each cell covered by its share)
    fits ``W`` = 1."""
    edges = np.arange(float(x.min()), float(x.max()) + 0.01, 0.25)
    f = np.clip((edges[None, :, None] - x[None, None, :]) / _WIDTH_GRID[:, None, None] + 0.5, 0.0, 1.0)
    k = (f * y).sum(axis=2) / np.maximum((f * f).sum(axis=2), 1e-9)
    cost = np.minimum((y - k[..., None] * f) ** 2, 0.09).sum(axis=2)
    cost[np.ptp(f, axis=2) < 0.5] = np.inf  # the fade seen over half its height at least
    if not np.isfinite(cost).any():
        return 0.0
    return float(_WIDTH_GRID[np.unravel_index(int(np.argmin(cost)), cost.shape)[0]])


def unblend(r: Cells, u: Cells, visible: np.ndarray, dp: np.ndarray) -> Cells | None:
    """The upload's cells ``u`` (aligned on the registered ones ``r``) with a graduated filter undone, or
    None when none explains them (see the module's docstring). ``dp``: the structure bits that differ."""
    if int(visible.sum()) < 16:
        return None
    reg = np.stack([r.mean, r.cb, r.cr], axis=-1)[visible].astype(np.float64)
    d = np.stack([u.mean, u.cb, u.cr], axis=-1)[visible].astype(np.float64) - reg
    u_std = np.minimum(u.std, STD_CAP)
    sr = np.log((u_std + 3.0) / (r.std + 3.0))[visible].astype(np.float64)
    r_std = r.std[visible].astype(np.float64)
    dpv = dp[visible].astype(np.float64)
    weight = (dpv <= 5.0).astype(np.float64)  # structure changed: no blend explains it
    coarse, rows = _coarse(visible.tobytes())
    sse = _solve(coarse, reg, d, weight)[1]
    p, shapes, ts, cells = _fine(visible, int(rows[int(np.argmin(sse))]))
    sol, sse = _solve(p, reg, d, weight)
    top = np.argsort(sse)[:SHORTLIST]
    cost = np.minimum(_residuals(p[top], sol[top], reg, d, r_std, sr, dpv) ** 2, 1.0).sum(axis=1)
    best = int(top[int(np.argmin(cost))])
    pb, sb = p[best:best + 1], sol[best:best + 1]
    row, z, w = int(shapes[best, 0]), float(shapes[best, 1]), float(shapes[best, 2])
    trace: dict = {}
    for _ in range(2):  # refitted on the cells it explains closely
        explained = (_residuals(pb, sb, reg, d, r_std, sr, dpv)[0] <= CLOSE).astype(np.float64)
        if explained.sum() < 8:
            return _traced(trace, "few explained")
        sb = _solve(pb, reg, d, explained * weight)[0]
    strength = float(sb[0, 6] * pb.max())
    offset = float(np.max(np.abs(sb[0, :3]) / _TOL[:3]))
    trace.update(strength=round(strength, 3), offset=round(offset, 2), z=round(z, 2), w=round(w, 2))
    if not STRENGTH[0] <= strength <= STRENGTH[1] or offset > OFFSET:
        return _traced(trace, "strength")
    left = _residuals(pb, sb, reg, d, r_std, sr, dpv)[0]
    tinted = pb[0] >= 0.5 * pb.max()
    trace.update(tinted=round(float((left[tinted] <= TINTED[0]).mean()), 3))
    if float((left[tinted] <= TINTED[0]).mean()) < TINTED[1]:
        return _traced(trace, "tinted")  # a filter tints everything at its place along the profile: not only a region there
    spread = sr - np.median(sr)
    none = np.maximum(np.abs(np.c_[d - np.median(d, axis=0), spread]) / _TOL, (dpv / 5.0)[:, None]).max(axis=1)
    gained = int((left <= CLOSE).sum()) - int((none <= CLOSE).sum())
    trace.update(gained=round(gained / len(d), 3))
    if gained < GAIN * len(d):
        return _traced(trace, "gain")
    smoothed = _smoothed(pb[0], sb[0], sr, r_std)
    fade, share, usable, span, width = _ramp(pb[0], sb[0], reg, d, dpv, ts[row], cells[row], z, w)
    trace.update(fade=round(fade, 2), share=round(share, 2), usable=usable, span=round(span, 2), width=width,
                 smoothed=round(smoothed, 3))
    if RAMP and (fade < RAMP_CELLS or width < RAMP_CELLS or usable < RAMP_USABLE or share < RAMP_SHARE
                 or span < RAMP_SPAN):
        return _traced(trace, "ramp")  # a hard edge: a region, not a filter
    if RAMP and smoothed <= -RAMP_TEXTURE[0]:
        return _traced(trace, "texture")  # smoothed under the tint: a region regenerated, not a filter
    _traced(trace, "undone")
    # undone: (u - o - s C) / (1 - s) + o, o the whole photo's offset
    s = np.zeros((GRID, GRID))
    s[visible] = np.clip(sb[0, 6] * pb[0], 0.0, 0.95)
    k = np.zeros((GRID, GRID, 3))
    k[visible] = pb[0][:, None] * sb[0, 3:6]
    planes = [((mine - sb[0, c] - k[..., c]) / (1.0 - s) + sb[0, c]).astype(np.float32)
              for c, mine in enumerate((u.mean, u.cb, u.cr))]
    return Cells(planes[0], (u.std / (1.0 - s)).astype(np.float32), planes[1], planes[2], u.pattern)
