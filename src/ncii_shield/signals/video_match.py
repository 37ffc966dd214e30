"""Which seconds of an upload are which seconds of a banked video: temporal alignment of frame pairs.

vPDQ compares two videos as bags of frames (:func:`ncii_shield.signals.vpdq.match_shares`). Videos
spread as clips, compilations and re-edits, so we also ask *where*: every pair of frames within PDQ
distance 31 votes for a line ``banked = speed x upload + offset`` (speed 0.6-1.7: a clip played
faster or slower), the line with most distinct upload frames wins, its frames are cut into segments
at gaps of more than :data:`MAX_GAP_S`, and the next line is searched among the remaining pairs (a
compilation can hold several pieces of one banked video). A few coincident frames (a shared logo,
a black frame) do not form a segment of several seconds on one line; that is what
:data:`DEFAULT_MIN_SECONDS` asks for.

Rules (:func:`decide`):

* ``"spread"`` (ours): a match when the aligned segments cover at least ``min_seconds`` of both
  videos (or 80 % of the shorter one, when it is shorter than that). A clip (upload inside the
  banked video), a compilation (banked video inside the upload) and a re-upload all qualify.
* ``"reference"``: python-threatexchange's vpdq extension — query share >= 80 %, compared share >=
  0 % (unique frames of quality >= 50 at distance <= 31), no timing. Kept for interop and for
  comparison; it misses compilations (the banked part is a small share of the upload).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SPEEDS = np.array([0.6, 0.667, 0.75, 0.8, 0.9, 1.0, 1.1, 1.25, 1.4, 1.5, 1.6, 1.7])
OFFSET_BIN_S = 1.0  # width of an offset bin in the vote
TOLERANCE_S = 1.1  # |banked - line| of a frame pair on a line (banked frames are 1 s apart)
MAX_GAP_S = 3.0  # a segment ends after this many upload seconds without a pair on its line
MIN_FRAMES = 3  # distinct banked frames in a segment
DEFAULT_MIN_SECONDS = 3.0
REFERENCE_QUERY_SHARE = 80.0
MAX_LINES = 8


@dataclass(frozen=True)
class Segment:
    """Upload seconds ``upload`` = banked seconds ``banked`` (from the first sampled frame to the end of
    the last one's sampling step, as vPDQ's frame at t stands for [t, t + 1); banked: through the
    fitted line); ``speed``: banked seconds per upload second; ``frames``:
    how many frame pairs lie on the segment; ``variant``: the query frames that matched most."""

    upload: tuple[float, float]
    banked: tuple[float, float]
    speed: float
    frames: int
    variant: str

    @property
    def seconds(self) -> float:
        return self.upload[1] - self.upload[0]

    def to_json(self) -> dict:
        return {"upload": [round(self.upload[0], 2), round(self.upload[1], 2)],
                "banked": [round(self.banked[0], 2), round(self.banked[1], 2)],
                "speed": round(self.speed, 3), "frames": self.frames, "variant": self.variant}


@dataclass(frozen=True)
class VideoMatch:
    """A banked video found in an upload. Shares are percent of each video's duration covered by
    the segments (``rule="reference"``: the reference's frame shares). ``matched_seconds``: upload
    seconds covered; ``variant``: how the upload had to be read ("original", "mirrored", ...)."""

    signal_id: int
    rule: str
    query_share: float
    compared_share: float
    matched_seconds: float
    segments: list[Segment] = field(default_factory=list)
    variant: str = "original"

    def to_json(self) -> dict:
        return {"signal_id": self.signal_id, "rule": self.rule, "query_share": round(self.query_share, 1),
                "compared_share": round(self.compared_share, 1), "matched_seconds": round(self.matched_seconds, 2),
                "variant": self.variant, "segments": [s.to_json() for s in self.segments]}


def align(upload_t: np.ndarray, banked_t: np.ndarray, variant: np.ndarray, variants: list[str], *,
          upload_step: float = 0.5) -> list[Segment]:
    """Segments from frame pairs ``(upload_t[i], banked_t[i])`` (for each upload frame, its nearest
    banked frame within the frame threshold; ``variant[i]`` indexes ``variants``). Pure, deterministic.
    A segment maps its upload range through its fitted line to the banked range."""
    upload_t, banked_t = np.asarray(upload_t, dtype=np.float64), np.asarray(banked_t, dtype=np.float64)
    variant = np.asarray(variant, dtype=np.int64)
    alive = np.ones(len(upload_t), dtype=bool)
    segments: list[Segment] = []
    for _ in range(MAX_LINES):
        if alive.sum() < MIN_FRAMES:
            break
        best = _best_line(upload_t[alive], banked_t[alive])
        if best is None:
            break
        speed, offset = best
        on_line = alive & (np.abs(banked_t - (speed * upload_t + offset)) <= TOLERANCE_S)
        found = _cut(np.flatnonzero(on_line), upload_t, banked_t, variant, variants, speed, upload_step)
        alive &= ~on_line
        if not found:
            continue
        segments.extend(found)
    return _merge_overlaps(sorted(segments, key=lambda s: s.upload))


def _best_line(u: np.ndarray, b: np.ndarray) -> tuple[float, float] | None:
    """(speed, offset) of the line through most distinct upload frames (Hough vote)."""
    best, best_votes = None, 0
    for speed in SPEEDS:
        offsets = b - speed * u
        for shift in (0.0, OFFSET_BIN_S / 2):  # two bin phases: an offset near a bin edge is not split
            bins = np.floor((offsets + shift) / OFFSET_BIN_S).astype(np.int64)
            keys, inverse = np.unique(bins, return_inverse=True)
            votes = np.zeros(len(keys), dtype=np.int64)
            # one vote per distinct upload frame per bin
            pairs = np.unique(np.stack([inverse, np.round(u * 100).astype(np.int64)]), axis=1)
            np.add.at(votes, pairs[0], 1)
            k = int(votes.argmax())
            # prefer speed 1 on ties (most re-uploads keep it)
            if votes[k] > best_votes or (votes[k] == best_votes and speed == 1.0):
                chosen = bins == keys[k]
                best_votes, best = int(votes[k]), (float(speed), float(np.median(offsets[chosen])))
    return best if best_votes >= MIN_FRAMES else None


def _cut(rows: np.ndarray, u: np.ndarray, b: np.ndarray, variant: np.ndarray, variants: list[str],
         speed: float, upload_step: float) -> list[Segment]:
    rows = rows[np.argsort(u[rows], kind="stable")]
    out = []
    start = 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or u[rows[i]] - u[rows[i - 1]] > MAX_GAP_S:
            part = rows[start:i]
            start = i
            if len(np.unique(b[part])) < MIN_FRAMES:
                continue
            fitted = speed
            if np.ptp(u[part]) >= 2.0 and len(np.unique(u[part])) >= 3:
                slope = np.polyfit(u[part], b[part], 1)[0]
                fitted = float(slope) if abs(slope / speed - 1) <= 0.15 else speed
            offset = float(np.median(b[part] - fitted * u[part]))
            u0, u1 = float(u[part].min()), float(u[part].max()) + upload_step
            counts = np.bincount(variant[part], minlength=len(variants))
            out.append(Segment(
                upload=(u0, u1), banked=(max(0.0, fitted * u0 + offset), max(0.0, fitted * u1 + offset)),
                speed=fitted, frames=len(part), variant=variants[int(counts.argmax())],
            ))
    return out


def _merge_overlaps(segments: list[Segment]) -> list[Segment]:
    """Two lines found for one stretch of upload (a speed between grid steps) become one segment."""
    out: list[Segment] = []
    for s in segments:
        if out and s.upload[0] < out[-1].upload[1] - 0.5 and _overlap(s.banked, out[-1].banked) > 0:
            p = out.pop()
            s = Segment((min(p.upload[0], s.upload[0]), max(p.upload[1], s.upload[1])),
                        (min(p.banked[0], s.banked[0]), max(p.banked[1], s.banked[1])),
                        p.speed if p.frames >= s.frames else s.speed, p.frames + s.frames,
                        p.variant if p.frames >= s.frames else s.variant)
        out.append(s)
    return out


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return min(a[1], b[1]) - max(a[0], b[0])


def covered(ranges: list[tuple[float, float]]) -> float:
    """Seconds covered by the union of ``ranges``."""
    total, end = 0.0, -np.inf
    for lo, hi in sorted(ranges):
        if hi > end:
            total += hi - max(lo, end)
            end = hi
    return total


def decide(signal_id: int, segments: list[Segment], *, upload_s: float, banked_s: float, rule: str,
           min_seconds: float = DEFAULT_MIN_SECONDS,
           reference_shares: tuple[float, float] | None = None) -> VideoMatch | None:
    """Apply ``rule`` ("spread" or "reference") to one banked video's segments; None: no match."""
    matched_upload = covered([s.upload for s in segments])
    matched_banked = covered([s.banked for s in segments])
    variant = max(segments, key=lambda s: s.frames).variant if segments else "original"
    if rule == "reference":
        if reference_shares is None or reference_shares[0] < REFERENCE_QUERY_SHARE:
            return None
        return VideoMatch(signal_id, rule, reference_shares[0], reference_shares[1], matched_upload, segments, variant)
    if rule != "spread":
        raise ValueError(f"unknown video match rule {rule!r}; accepted: 'spread', 'reference'")
    need = max(2.0, min(min_seconds, 0.8 * min(upload_s, banked_s)))
    if min(matched_upload, matched_banked) < need:
        return None
    return VideoMatch(signal_id, rule, min(100.0, 100.0 * matched_upload / max(upload_s, 1e-9)),
                      min(100.0, 100.0 * matched_banked / max(banked_s, 1e-9)), matched_upload, segments, variant)
