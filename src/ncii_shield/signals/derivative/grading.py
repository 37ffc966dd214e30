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
:data:`GAIN` more of the visible cells than no filter (to :data:`CLOSE`); :mod:`.verify` then judges them
again and takes a re-share verdict from them, never any other. A local edit is not a blend whose strength
depends only on where a cell lies: the cells beside it at the same place along the profile are unchanged,
and a flat fill, noise or another photo's patch changes the structure, which no blend explains. Measured:
docs/benchmarks-history.md, 2026-12-07 #6 (HD; bench/hd_graded_probe.py, bench/derivative_large.py).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .features import CELL_TOLERANCE as _TOL
from .features import GRID, STD_CAP, Cells

ANGLES = 24  # directions of a linear profile, evenly over the full turn
FEATHER = 0.1  # the narrowest fade, share of the profile's extent (the harness's filters: 0.15-0.5; the probe's 0.1)
STRENGTH = (0.05, 0.6)  # the blend's strength at its plateau taken as a filter's (apps: 0.3-0.35)
SHORTLIST = 200  # profiles of least squared residuals whose robust cost (truncated squares) is compared
CLOSE = 0.5  # share of the tolerances: the cells the chosen profile is refitted on
OFFSET = 0.5  # the largest offset of the whole photo (share of the tolerances) taken with a filter
TINTED = (0.3, 0.8)  # of the cells at half the filter's strength or more, the second share must be explained to the
#                     first share of the tolerances (filters of the harness: 0.88-1; regions regenerated: 0.22-0.61)
GAIN = 0.06  # share of the visible cells the filter must explain to CLOSE beyond no filter at all (weak tints: under 1)
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


def _profiles(t: np.ndarray, ends: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Every profile's blend share per visible cell (0-1) along each row of positions ``t``, for every fade
    ending at one of ``ends`` over one of ``widths``: (profiles, cells)."""
    shapes = [(z, w) for z in ends for w in widths if w >= FEATHER - 1e-9 and z - w < 1.0]
    z = np.array([z for z, _ in shapes])[None, :, None]
    w = np.array([w for _, w in shapes])[None, :, None]
    return np.clip((z - t[:, None, :]) / w, 0.0, 1.0).reshape(-1, t.shape[-1])


@lru_cache(maxsize=8)
def _coarse(key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The coarse grid's profiles over the visible cells ``key`` (a GRID x GRID mask's bytes), and each
    one's row of positions."""
    visible = np.frombuffer(key, bool).reshape(GRID, GRID)
    t = _positions(visible, np.arange(ANGLES) * (2 * np.pi / ANGLES))
    p = _profiles(t, _ENDS[1::2], _WIDTHS[::2])
    return p, np.repeat(np.arange(len(t)), len(p) // len(t))


def _fine(visible: np.ndarray, row: int) -> np.ndarray:
    """The fine grid's profiles about the coarse grid's row of positions ``row``: the same corner, or
    directions within half a coarse step, every end and width."""
    if row >= ANGLES:
        t = _positions(visible, np.arange(ANGLES) * (2 * np.pi / ANGLES))[row:row + 1]  # a corner
    else:
        step = 2 * np.pi / ANGLES
        t = _positions(visible, row * step + np.array([-0.5, 0.0, 0.5]) * step)
    return _profiles(t, _ENDS, _WIDTHS)


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
    p = _fine(visible, int(rows[int(np.argmin(sse))]))
    sol, sse = _solve(p, reg, d, weight)
    top = np.argsort(sse)[:SHORTLIST]
    cost = np.minimum(_residuals(p[top], sol[top], reg, d, r_std, sr, dpv) ** 2, 1.0).sum(axis=1)
    best = int(top[int(np.argmin(cost))])
    pb, sb = p[best:best + 1], sol[best:best + 1]
    for _ in range(2):  # refitted on the cells it explains closely
        explained = (_residuals(pb, sb, reg, d, r_std, sr, dpv)[0] <= CLOSE).astype(np.float64)
        if explained.sum() < 8:
            return None
        sb = _solve(pb, reg, d, explained * weight)[0]
    strength = float(sb[0, 6] * pb.max())
    if not STRENGTH[0] <= strength <= STRENGTH[1] or float(np.max(np.abs(sb[0, :3]) / _TOL[:3])) > OFFSET:
        return None
    left = _residuals(pb, sb, reg, d, r_std, sr, dpv)[0]
    tinted = pb[0] >= 0.5 * pb.max()
    if float((left[tinted] <= TINTED[0]).mean()) < TINTED[1]:
        return None  # a filter tints everything at its place along the profile: not only a region there
    spread = sr - np.median(sr)
    none = np.maximum(np.abs(np.c_[d - np.median(d, axis=0), spread]) / _TOL, (dpv / 5.0)[:, None]).max(axis=1)
    gained = int((left <= CLOSE).sum()) - int((none <= CLOSE).sum())
    if gained < GAIN * len(d):
        return None
    # undone: (u - o - s C) / (1 - s) + o, o the whole photo's offset
    s = np.zeros((GRID, GRID))
    s[visible] = np.clip(sb[0, 6] * pb[0], 0.0, 0.95)
    k = np.zeros((GRID, GRID, 3))
    k[visible] = pb[0][:, None] * sb[0, 3:6]
    planes = [((mine - sb[0, c] - k[..., c]) / (1.0 - s) + sb[0, c]).astype(np.float32)
              for c, mine in enumerate((u.mean, u.cb, u.cr))]
    return Cells(planes[0], (u.std / (1.0 - s)).astype(np.float32), planes[1], planes[2], u.pattern)
