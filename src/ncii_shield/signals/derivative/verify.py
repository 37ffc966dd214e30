"""Verification: is an upload a re-share of a registered photo, an edited derivative of it, or neither?

1. **Match and fit.** The upload's ORB descriptors are matched to the registered photo's (two nearest,
   ratio test), then a similarity transform (scale, rotation, shift; :func:`cv2.estimateAffinePartial2D`
   with RANSAC) is fitted from upload to registered frame. The upload is tried as it is and mirrored.
   Its keypoints are detected with lines of overlaid text filled in (:func:`_without_text`: a meme
   caption's letters would otherwise hold most of them).
   The fit must have at least :data:`MIN_INLIERS` inliers, a plausible scale (0.3-3.5x) and
   rotation (<= 20 degrees), and inliers spread over the photo, not bunched in one spot. A fit of
   implausible shape (a collapse onto one textured spot, or onto a large part pasted in from another
   photo) has its points dropped and is fitted again (:data:`REFITS` times).
   When that finds nothing, a second, guided try runs (:func:`_fit` with ``guided=True``). That
   try also judges a *weak* fit (:data:`FEW_INLIERS` to :data:`MIN_INLIERS` points, or points
   bunched in one spot), which stands only as a derivative whose cells confirm it densely
   (:func:`_dense`: a connected block of :data:`DENSE_CELLS` textured cells matching to within
   :data:`DENSE_BITS` structure bits); and when no fit holds at all, an upload of the photo's own
   shape is compared as its whole frame, resized and maybe mirrored (:func:`_whole_frame`, the same
   dense confirmation, :data:`DENSE_WHOLE`; its brightness and colour offsets taken from the cells
   whose structure already matches, :func:`_whole_anchors`, not from the pasted part). Most of a
   photo replaced can leave its remainder (the plain margins around a replaced subject) too few
   keypoints for any fit while its cells still match; chance fits between unrelated photos never
   reached such a block (at most 10 cells, 0 judged an edit, over all 16,512 ordered pairs of the
   benchmark's 129 photos: ``bench/derivative_large.py``). When that finds nothing either, a crop's
   transform (no rotation, the upload inside the photo, a scale of :data:`LEVEL_SCALES`) is voted for
   by keypoint pairs (:func:`_level_seed`) and refined by guided matching, judged as the guided pass's
   fits are: the remainder of a photo mostly replaced and then cropped holds a few dozen true pairs among
   the pasted part's hundreds, which RANSAC's random samples rarely draw.
2. **Align and compare.** The upload is warped onto the registered frame and summarised cell by cell
   exactly as the registered photo was (:func:`~.features.cell_summaries`). Cells the upload does not
   cover (cropped away) are ignored. A cell *differs* when its brightness, colour, contrast or
   structure moved further than re-encoding and resizing move it. A band of differing lines along
   one side of the covered part that ends along a straight line is the next picture of a collage
   (a photo cropped to fill its cell reaches past it), not an edit: it is set aside as if cropped.
   A picture of a composite that the photo's outline reaches into stays part of the instance when
   the outline runs along a visible edge of the upload there (:func:`_ends_at_edge`: most of the
   photo replaced by a picture that ends where the photo ends, then screenshotted).
3. **Decide.** Plain cells lying between smoothed ones (a blur or inpainting shows only where the
   photo had structure) join the differing cells; these are cleaned with a 3 x 3 opening, so thin
   bands (a line of overlaid text, a watermark, a UI bar) cannot make an edit. The largest
   remaining block is the edit. A
   *derivative* needs both: a block of :data:`MIN_EDIT` to :data:`MAX_EDIT` of the photo, and the
   rest (at least :data:`MIN_SHARED` of the photo) matching precisely: few scattered differences
   and the same fine structure (the 16-bit cell patterns), not merely the same scene. Without a
   block it is a *re-share*. When differences are scattered all over, or the fine structure
   differs (a second photo of the same scene, taken a moment later), it is *neither*. Most of the
   photo replaced and the rest partly cropped away can leave under those floors: a fit of
   :data:`LARGE_INLIERS` consistent points (or a block of :data:`DENSE_LARGE` precisely matching
   cells, see step 1, or :data:`MIDDLE_INLIERS` points and a block of :data:`DENSE_CELLS`) whose edit
   replaced the photo's own detail (not a plain
   backdrop) needs only :data:`LARGE_SHARED` (:func:`_large_edit`), and when too few cells away
   from the edit are left to compare, the cells along it are compared too (:data:`NARROW_REST`).
   :data:`MAX_EDIT` bounds the cells the edit changed, not those closed into its block; a fit of
   :data:`LARGE_INLIERS` points with a block of :data:`DENSE_LARGE` may have replaced
   :data:`LARGE_EXTRA_EDIT` more of the photo's own detail. The fine-structure test allows for an
   upload the warp enlarges (its cells' patterns are noisier), counting the frame's enlargement even in
   an upload larger than the frame (:data:`FRAME_ENLARGED`: the frame shrank it first). A meme
   caption's lines of text (white letters in a black outline, :func:`_text_cells`) hide the photo
   where they differ from it: set aside like a crop, so that they do not join an edit they touch,
   and the floors are shares of the photo less what they hide. Thin straight
   bands of differences outside the edit (a caption's lines of text, a censor bar) are overlays:
   they count neither as scattered differences nor in the fine-structure comparison, which also leaves
   out the cells of a caption's letters and their neighbours (:func:`_precision`). Brightness,
   colour and contrast offsets are those of the cells holding inliers, or none, whichever leaves
   more cells unchanged (an edit that keeps the structure, a region regenerated from itself, keeps
   matching keypoints too, so inlier cells are not always unedited). What this calls a re-share is
   looked at once more for a block recoloured in place (:func:`_recoloured`: the cells' colours held
   to a third of the tolerances, a sharp edge, and the block's colours left unchanged elsewhere, so
   that a filter over the whole photo is not taken for one).

   **Whole-photo filters.** An app's filter (sepia, black and white, a tone curve, contrast,
   saturation, channel gains, a vignette, CLAHE) moves every cell, by an amount that depends on the
   cell's own colour (and, for a vignette, on where it lies); the offsets above undo only a constant
   shift. When at least :data:`MIN_EDIT` of the cells differ, a smooth filter is fitted
   (:func:`_tone_residuals`: a brightness curve with a radial gain and a gradient, each chroma channel
   a multiple of itself plus a quadratic in the brightness, contrast as a curve of the brightness)
   on the cells that do *not* differ, leaving the differing ones and their neighbours out (the
   candidate edit never shapes the fit), then refitted on what that fit leaves matching
   (:data:`TONE_ROUNDS` rounds). A filter is then explained everywhere; an edit keeps differing,
   because a smooth function of the colour that fits the rest of the photo does not fit it. When
   nearly every cell differs (a strong filter), the fit runs on all cells, robustly, and is kept only
   when it leaves at most a third of the differing cells (:data:`TONE_FALLBACK`). Brightness alone,
   in a cell whose colour and structure match, is allowed :data:`TONE_LUMA_SLACK` times the
   tolerance (local contrast equalisation, CLAHE, shifts the brightness tile by tile). The
   recoloured-block check keeps the plain offsets (its own twin test tells a filter apart).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field, replace
from enum import Enum

import cv2
import faiss
import numpy as np

from ncii_shield.signals.derivative import grading
from ncii_shield.signals.derivative.features import (
    CELL_TOLERANCE, FRAME_SIDE, GRID, STD_CAP, TEXTURE_STD, Cells, Frame, PhotoFeatures, cell_summaries,
    keypoints_both, to_frame,
)
from ncii_shield.signals.derivative.panels import picture_cut

RATIO = 0.85
MAX_DESCRIPTOR_DISTANCE = 72
MIN_INLIERS = 10
UPLOAD_KEYPOINTS = 1000  # per orientation: more than registered, so a small copy inside a screenshot keeps enough
REPROJECTION = 4.0  # pixels in the 640-pixel frame
GUIDE_FROM = 5  # a first fit with this many consistent points is refined by guided matching
GUIDE_RADIUS = 8.0  # pixels in the frame: how far from where the first fit puts it a partner may lie
GUIDE_DESCRIPTOR_DISTANCE = 80  # bits of 256
REFITS = 2  # fits of implausible shape whose points are dropped before fitting again
SCALE_RANGE = (0.3, 3.5)
MAX_ROTATION = 20.0
MIN_SPREAD = 0.02  # inliers' bounding box, as a share of the frame
MIN_COVERED = 0.35  # the upload must cover this share of the registered photo
MIN_EDIT = 0.04  # the edited block, share of the photo's cells
MAX_EDIT = 0.8  # more than this replaced: not enough of the photo left to call it a derivative
MIN_SHARED = 0.15  # cells that match precisely, share of the photo's cells ...
MIN_SHARED_TEXTURED = 0.06  # ... of which cells with structure (flat sky matches any flat sky)
LARGE_INLIERS = 40  # a fit of this many consistent points whose edit replaced the photo's own detail ...
LARGE_SHARED = (0.04, 0.03)  # ... needs only these shares (all, with structure) matching precisely ...
LARGE_DETAIL = 0.5  # ... when this share of the edited block had structure in the registered photo
NARROW_REST = True  # too few cells to compare away from the edit: the cells along it compared too (see _judge)
MAX_SCATTER = 0.2  # differing cells outside the edit, share of the compared cells
MIN_COMPARED = 8  # textured cells outside the edit needed to judge that the rest is the same photo
MAX_IMPRECISION = 1.2  # mean structure bits (of 16) that differ in unedited textured cells
SOFTENED = 0.3  # log spread ratio below which a differing cell was smoothed (blur, inpainting)
SOFT_FILL = 5  # cells: plain cells this close between smoothed ones belong to the same edit
BEYOND_DIFFERS = 0.75  # a line along a side where this share of the visible cells differ ...
BEYOND_SHARE = 0.35  # ... as one band of at most this share of the visible lines: the next picture
BEYOND_INSIDE = 0.3  # ... when under this share of the next line inwards differs
BEYOND_OWN = True  # ... unless the band is this photo's own, replaced (see _replaced_band): its structure kept ...
BEYOND_KEPT = 0.3  # ... in this share of its cells textured in both (to DENSE_BITS; the next picture: 0.02-0.14 in the tests), or ...
BEYOND_FLAT = 0.6  # ... flat in this share of its cells textured in the photo (the line its edge runs through is not), the upload ending where the photo ends
BEYOND_FLUSH = 0.25  # ... (its side within this share of a cell of the upload's border, in the upload's frame)
BEYOND_CELLS = 8  # ... each judged on at least this many cells
BAND_WIDTH = 2  # cells: differences this thin and ...
BAND_LENGTH = 5  # ... this long are an overlay (text, a bar), not scattered differences
WIDE_BAND = (3, 9)  # cells: ... and so are differences this thick and this long (a caption's line of large letters)
RECOLOUR = 0.3  # share of the brightness / chroma tolerances a recoloured block's cells must move by ...
RECOLOUR_SCATTER = 0.05  # ... with at most this share of the other visible cells moving as much
RECOLOUR_MAX = 0.7  # ... as one block of at most this share of the visible cells
RECOLOUR_EDGE = (0.4, 0.12)  # ... whose edge cells move by at least the first, the cells around it by at most the second (medians)
RECOLOUR_PARTIAL = (0.2, 0.1)  # ... or, its edge running through cells: edge cells by the first, the ring around it by at most
#                                RECOLOUR, the ring two cells out by at most the second, the block not across what is visible
RECOLOUR_RECENTRE = True  # a block too large or not solid: looked for again about the visible cells' median colour
#                           (see _recoloured)
RECOLOUR_RECENTRED_ACROSS = False  # True: such a block reaching across what is visible is dropped (before 2026-12-07 #5,
#                                    when no test told a graduated filter's band by its ramp: _ramp)
RECOLOUR_FINE = 0.2  # no cells off by RECOLOUR making a block: looked for again at this share of the tolerances,
#                     every other bar on the colours scaled with it (see _recoloured)
RECOLOUR_FINE_SHIFT = 0.1  # ... a block found there kept when its cells' median change is this share of the tolerances
RECOLOUR_GROW = 0.2  # a block failing the scatter, edge or twin tests: grown into the connected cells off by this share
#                      of the tolerances and tested again, every bar on the other cells at this share (see _recoloured_block)
RECOLOUR_REST = 5  # no block kept: the colours re-centred on the cells beyond this square around the largest block (at
#                    least RECOLOUR_REST_CELLS of them), and looked for once more, without growing (see _recoloured)
RECOLOUR_REST_CELLS = 16
RECOLOUR_WIDE_ACROSS = True  # a grown block (RECOLOUR_GROW) or the rest pass's block (RECOLOUR_REST) reaching across
#                              what is visible is not kept: a graduated filter with a plateau and a feathered end (full
#                              strength down to a line, fading over a cell or three) passes every test once grown into
#                              its feather or re-centred on the rest, and its layers do not rise as _ramp's do (review
#                              of 2026-12-07 #5, bench/derivative_plateau_probe.py: 72 of 220 such filtered re-shares
#                              called derivatives without it, 47 with it, 49 before the grow and rest passes)
RECOLOUR_RAMP = (3, 0.75, 2.0)  # a block reaching a side of what is visible whose change rises layer by layer from its
#                                 edge inwards (at least the first many layers of cells, each of at least the second share
#                                 of the first layer's cells, none below the one before, the last the third times the
#                                 first) is a graduated filter, not a recolouring (see _ramp)
RECOLOUR_TWIN = 0.5  # cells whose original colours are this close (share of the tolerances) are twins ...
RECOLOUR_TWINNED = 0.5  # ... at least this share of the block's cells must have a twin outside it (else a filter cannot be ruled out)
RECOLOUR_ALIKE = 0.25  # ... and at most this share of the block's cells with a twin outside may have one that moved alike
RECOLOUR_UNCHANGED = 0.5  # ... and at least this share must have one left unchanged
_COLOUR_TOLERANCE = CELL_TOLERANCE[:3]  # brightness, chroma: what re-encoding and resizing move a cell mean by
TONE_MODEL = True  # fit a whole-photo filter before comparing cells (see _tone_residuals)
GRADED = True  # a derivative verdict judged again with a graduated filter undone (grading.py; see _judge). It can
# only turn a derivative verdict into a re-share: what it can lose is real edits. Off in 2026-12-07 #6 (the review
# found regenerated regions at a corner or along a side cleared, 18 of 30); on since #7, with the filter required to
# be seen to fade (grading.RAMP_CELLS: such a region's edge is hard): docs/benchmarks-history.md, 2026-12-07 #7 (HC).
GRADED_BITS = 2  # ... only when GRADED_KEPT of the textured differing cells keep their structure to these bits
GRADED_KEPT = 0.5  # (a blend keeps it; a flat fill, noise or another photo's patch does not)
TONE_KNOTS = 9  # knots of the brightness curve over 0-255
TONE_ITERATIONS = 8  # reweighting steps of the robust fit (half least absolute deviations, half Cauchy)
TONE_MAX_SATURATION = 1.8  # the largest chroma gain a filter is taken to apply
TONE_EXCLUDE = 1.0  # cells differing by more than the tolerances (and neighbours) are left out of the fit ...
TONE_ROUNDS = 3  # ... in this many rounds, each leaving out what the previous fit leaves differing
TONE_MIN_FIT = 0.1  # share of the visible cells the fit needs; fewer: fitted on all of them, robustly ...
TONE_FALLBACK = 3.0  # ... and kept only when it leaves a third of the differing cells or fewer
TONE_LUMA_SLACK = 1.5  # brightness tolerance factor for cells whose colour and structure match (CLAHE) ...
TONE_LUMA_QUIET = 0.5  # ... colour within this share of the chroma tolerance
TEXT_LEVELS = (225, 40)  # grey levels: a caption's white letters (at least the first) in a black outline (at most the second) ...
TEXT_STROKE = 5  # ... white pixels this close (pixels in the frame) to black ones ...
TEXT_SHARE = 0.02  # ... making up this share of a cell: a cell of caption text (natural photos: 0.4 % of cells)
TEXT_MASK = 11  # pixels: text's surroundings filled before keypoints are detected on an upload ...
TEXT_FILL = 41  # ... with the mean of the frame around them over this many pixels (see _without_text)
TEXT_RUN = 3  # differing text cells in a row of at least this many are a caption line: hidden, as if cropped
TEXT_FLOOR = 0.5  # ... and the matching floors shrink with the hidden share, to half of them at most
TEXT_PRECISION = True  # cells of caption text and next to it are left out of the fine-structure test (see _precision)
MAX_INSTANCES = 4  # fits per registered photo and upload (a collage holds it a few times; hostile input no more)
PANEL_INLIERS = 0.1  # a panel of a composite belongs to an instance when it holds this share of its inliers
PANEL_COVERED = 0.85  # ... or when the fit covers this share of it
EDGE_COVERED = 0.5  # a panel the photo's outline covers this share of ...
EDGE_LENGTH = 0.5  # ... and crosses along this share of its shorter side ...
EDGE_STEP = 10.0  # ... with a step of this many grey levels across the outline ...
EDGE_STEPS = 0.7  # ... at this share of the points along it is part of the photo (see _ends_at_edge)
PICTURE_ALONE = 0.75  # a single picture covering at most this share of the frame is also checked on its own
FEW_INLIERS = 5  # the guided pass judges a fit of this many consistent points (under MIN_INLIERS) ...
DENSE_BITS = 2  # ... when textured cells whose structure differs by at most this many bits of 16 (and that match) ...
DENSE_CELLS = 12  # ... form one connected block of this many cells: then only as a derivative (see _dense)
WHOLE_FRAME = True  # no fit: the upload compared as the photo's whole frame (see _whole_frame) ...
WHOLE_ASPECT = 0.01  # ... when its shape is the photo's within this share ...
DENSE_WHOLE = 12  # ... kept as a derivative with a connected block of this many precisely matching cells
# ... compared in full only when the upload's own cells (no warp: the same shape) already hold a connected
# block of this many textured cells whose structure matches within DENSE_BITS (see _whole_pretest)
WHOLE_PRETEST = 8
DENSE_LARGE = 15  # such a block of this many cells stands for LARGE_INLIERS in the large-edit floors (see _large_edit)
# ... and so does a block of DENSE_CELLS with a fit of this many consistent points (more than a weak fit's)
MIDDLE_INLIERS = 15
# a fit of LARGE_INLIERS points confirmed by a block of DENSE_LARGE cells may have replaced this share of the photo
# more than MAX_EDIT, when what it replaced was the photo's own detail (see _judge)
LARGE_EXTRA_EDIT = 0.1
# the whole-frame comparison takes its brightness and colour offsets from the pre-test's block (see _whole_frame)
WHOLE_ANCHORS = True
# an upload not of the photo's shape whose content sits inside a frame of one background colour (a screenshot's
# bars and margins, a meme's border; see _content_box) compared as the photo's whole frame at that content's box
# when the box has the photo's shape (within WHOLE_ASPECT): a screenshot of a photo most of which was replaced
# keeps too few keypoints for any fit, and the cut (panels.py) splits its picture along the pasted part's edges.
# OFF by default (2026-12-08 review, R2): a box of the photo's shape is not the whole photo; an unedited re-share
# zoom-cropped 88-95 % (aspect kept) inside a screenshot was compared at the wrong scale and called "69 % replaced":
# 24 of 387 such unedited re-shares flagged with it (and CELL_CONTENT) on, 1 off (kodim20, flagged either way). Its harness gain (large singles end
# to end 726 -> 739 of 903) waits for a veto (no content box when a keypoint fit saw and judged the pair).
WHOLE_CONTENT = False
CONTENT_NEAR = 8  # grey / chroma levels: a pixel this close to the border's colour is background ...
CONTENT_ROW = 0.6  # ... a row with under this share of background pixels is content (a header's text: more) ...
CONTENT_COL = 0.9  # ... and within the longest run of content rows, a column with under this share
CONTENT_ROWS = 0.3  # the run must be this share of the frame's height at least
# the fine-structure allowance counts the warp's enlargement of the frame, not of the upload's own pixels: an
# upload larger than the frame is not credited with the resolution the frame threw away (see _judge)
FRAME_ENLARGED = True
# no fit by the plain or guided pass, nor the whole frame: a crop's fit looked for by votes (see _level_seed) —
# no rotation, the photo's frame this many of the upload's frame pixels per pixel (a crop keeping 64-100 % of the
# longer side, brought to the frame) ...
LEVEL_FIT = True
LEVEL_SCALES = tuple(round(0.64 + 0.02 * k, 2) for k in range(19))
LEVEL_BIN = 4.0  # ... the ratio test's pairs voting for the shift in bins of this many frame pixels (2 x 2 summed) ...
LEVEL_VOTES = 10  # ... the best needing this many votes (chance: 1 % of unrelated pairs); then guided matching, a fit


class Outcome(str, Enum):
    DERIVATIVE = "derivative"
    RESHARE = "reshare"
    NONE = "none"


@dataclass
class Upload:
    """An upload's frame and keypoints, computed once and checked against many registered photos.

    The pictures of a composite (:attr:`panels`, :attr:`picture`) are cut on first use: a check that
    finds no candidate (most uploads: related to no registered photo) never needs them."""

    frame: Frame
    points: np.ndarray
    descriptors: np.ndarray
    mirrored_points: np.ndarray
    mirrored_descriptors: np.ndarray
    cut: bool = True  # look for the pictures of a composite (False: a part of one already)
    # whether a check that verifies nothing may search the rest of the query descriptors for overlaid text's
    # sake (index/derivative.py REST_TEXT); instances.find_instances clears it on parts of an upload in which
    # an edit was flagged already
    rest_text: bool = field(default=True, init=False, compare=False)
    _pictures: tuple | None = field(default=None, init=False, repr=False, compare=False)
    # two verifications of one check may reach the cut at once (index/derivative.py, CHECK_THREADS): one cuts
    _cut_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    # the frame's own cell summaries, as uploaded and mirrored (see whole_cells)
    _whole: list = field(default_factory=lambda: [None, None], init=False, repr=False, compare=False)
    # the content box (see _content_box; [computed?, box]) and the cells of a box of the frame, by (box, mirrored)
    _content: list = field(default_factory=lambda: [False, None], init=False, repr=False, compare=False)
    _box_whole: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_rgb(cls, rgb: np.ndarray, *, panels: bool = True) -> Upload:
        """``panels=False``: do not look for the pictures of a composite (a part of one already)."""
        frame = to_frame(rgb)
        # one detection for both orientations, with overlaid text filled in first (see _without_text)
        pts, desc, mpts, mdesc = keypoints_both(_without_text(frame.grey), UPLOAD_KEYPOINTS)
        return cls(frame, pts, desc, mpts, mdesc, panels)

    @property
    def panels(self) -> list[tuple[int, int, int, int]]:
        """The pictures of a composite (collage, grid, picture in a meme frame) as (x, y, w, h) in the
        frame; empty when the upload holds fewer than two (see :mod:`.panels`)."""
        return self._cut_pictures()[0]

    @property
    def picture(self) -> tuple[int, int, int, int] | None:
        """The one picture of an upload that holds a single picture inside a frame much larger than it (a
        meme's border and caption bands, a screenshot's bars), in the frame; None otherwise."""
        return self._cut_pictures()[1]

    @property
    def units(self) -> list[tuple[int, int, int, int]]:
        """Boxes of the composite's cut that may be one picture cut along its edit's edges
        (:func:`.panels.units`), in the frame; empty unless the upload holds two pictures or more."""
        return self._cut_pictures()[2]

    def _cut_pictures(self) -> tuple:
        if self._pictures is None:
            with self._cut_lock:
                if self._pictures is None:
                    frame = self.frame
                    found, units = picture_cut(frame.grey, frame.cb, frame.cr) if self.cut else ([], [])
                    fh, fw = frame.grey.shape
                    alone = (found[0] if len(found) == 1 and found[0][2] * found[0][3] <= PICTURE_ALONE * fw * fh
                             else None)
                    self._pictures = (found, alone, units) if len(found) >= 2 else ([], alone, [])
        return self._pictures

    def whole_cells(self, mirrored: bool) -> Cells:
        """The frame's own cell summaries (mirrored: of the mirrored frame), computed once: the cells a
        whole-frame comparison (:func:`_whole_frame`) would see, up to the resampling, for its pre-test
        against every registered photo of the upload's shape. Two threads may both compute it: the
        same value."""
        if self._whole[0] is None:
            self._whole[0] = cell_summaries(self.frame.grey, self.frame.cb, self.frame.cr)[0]
        if mirrored and self._whole[1] is None:  # the same cells mirrored: columns and 4 x 4 patterns flipped
            c = self._whole[0]
            self._whole[1] = Cells(*(np.ascontiguousarray(a[:, ::-1]) for a in (c.mean, c.std, c.cb, c.cr)),
                                   _MIRROR_BITS[np.ascontiguousarray(c.pattern[:, ::-1])])
        return self._whole[int(mirrored)]

    @property
    def content(self) -> tuple[int, int, int, int] | None:
        """The box of the frame (x, y, w, h) holding its content inside bars and margins of one background
        colour (:func:`_content_box`), computed once; None when there is no such frame."""
        if not self._content[0]:
            self._content[1] = _content_box(self.frame)
            self._content[0] = True
        return self._content[1]

    def box_cells(self, box: tuple[int, int, int, int] | None, mirrored: bool) -> Cells:
        """The cell summaries of a box of the frame taken as a whole frame (None: the frame itself,
        :meth:`whole_cells`), as uploaded or mirrored; computed once per box."""
        if box is None:
            return self.whole_cells(mirrored)
        key = (tuple(box), mirrored)
        if key not in self._box_whole:
            x, y, w, h = box
            planes = [p[y:y + h, x:x + w] for p in (self.frame.grey, self.frame.cb, self.frame.cr)]
            if mirrored:
                planes = [p[:, ::-1] for p in planes]
            self._box_whole[key] = cell_summaries(*(np.ascontiguousarray(p) for p in planes))[0]
        return self._box_whole[key]

    @property
    def scale(self) -> float:
        """Frame pixels per upload pixel (under 1: the upload was shrunk to be compared)."""
        return self.frame.grey.shape[1] / self.frame.width

    def to_pixels(self, box: tuple[int, int, int, int]) -> list[int]:
        """A box in the frame as [x, y, w, h] in the upload's own pixels."""
        fh, fw = self.frame.grey.shape
        sx, sy = self.frame.width / fw, self.frame.height / fh
        x0, y0 = round(box[0] * sx), round(box[1] * sy)
        return [x0, y0, min(self.frame.width, round((box[0] + box[2]) * sx)) - x0,
                min(self.frame.height, round((box[1] + box[3]) * sy)) - y0]


def _without_text(grey: np.ndarray) -> np.ndarray:
    """The frame with overlaid text (white next to black, as :func:`_text_cells` finds it: a meme
    caption's outlined letters, a screenshot's black text on white) filled with the blurred
    surroundings, for keypoint detection only. Letters' corners are the strongest corners in an image:
    under a caption 80-95 % of an upload's keypoints sat on its letters (benchmark uploads), leaving
    too few on the photo for the candidate search and the fit. The frame itself, which the cells are
    compared on, is unchanged."""
    edge = text_pixels(grey).astype(np.uint8)
    if not edge.any():
        return grey
    # only in lines of text: cells holding TEXT_SHARE of such pixels, TEXT_RUN or more in a row
    h, w = grey.shape
    cells = cv2.resize(edge.astype(np.float32), (GRID, GRID), interpolation=cv2.INTER_AREA) >= TEXT_SHARE
    lines = cv2.morphologyEx(cells.astype(np.uint8), cv2.MORPH_OPEN, np.ones((1, TEXT_RUN), np.uint8))
    if not lines.any():
        return grey
    edge &= cv2.resize(lines, (w, h), interpolation=cv2.INTER_NEAREST)
    mask = cv2.dilate(edge, np.ones((TEXT_MASK, TEXT_MASK), np.uint8)) > 0
    keep = (~mask).astype(np.float32)
    total = cv2.blur(grey.astype(np.float32) * keep, (TEXT_FILL, TEXT_FILL))
    weight = cv2.blur(keep, (TEXT_FILL, TEXT_FILL))
    fill = np.where(weight > 0.05, total / np.maximum(weight, 1e-3), float(np.median(grey)))
    return np.where(mask, np.clip(fill, 0, 255), grey).astype(np.uint8)


@dataclass
class Verdict:
    outcome: Outcome
    score: float = 0.0  # 0-100
    inliers: int = 0
    mirrored: bool = False
    transform: list[list[float]] | None = None  # 2 x 3, upload pixels -> registered photo pixels
    edited_region: list[int] | None = None  # [x, y, w, h] in the registered photo's pixels
    edited_share: float = 0.0
    shared_share: float = 0.0
    scatter: float = 0.0
    reason: str = ""
    details: dict = field(default_factory=dict)
    instance_box: list[int] | None = None  # [x, y, w, h] in the upload's pixels: where this instance lies
    edited_outline: list[list[float]] | None = None  # the edited region's 4 corners in the upload's pixels
    # every instance of the registered photo found in the upload (a collage can hold the photo and a
    # fake made from it): this verdict is the best derivative among them, else the best re-share
    instances: list[Verdict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"outcome": self.outcome.value, "score": round(self.score, 1), "inliers": self.inliers,
                "mirrored": self.mirrored, "transform": self.transform, "edited_region": self.edited_region,
                "edited_share": round(self.edited_share, 3), "shared_share": round(self.shared_share, 3),
                "instance_box": self.instance_box, "edited_outline": self.edited_outline,
                "reason": self.reason}


def _pairs(up_desc: np.ndarray, reg: PhotoFeatures) -> list[cv2.DMatch]:
    """Descriptor matches that pass the ratio test (an upload keypoint, its registered partner). The two
    nearest registered descriptors by faiss (exact Hamming distances; a kept pair's nearest is strictly
    nearer than the second, so the order of ties cannot change it): the same pairs as
    ``cv2.BFMatcher.knnMatch``, about three times faster. On one OpenMP thread whatever the caller set
    (a team for one upload's search would spin on the other cores); the setting is the calling
    thread's own and is restored."""
    if len(up_desc) < MIN_INLIERS or len(reg.descriptors) < MIN_INLIERS:
        return []
    index = faiss.IndexBinaryFlat(256)
    index.add(np.ascontiguousarray(reg.descriptors, dtype=np.uint8))
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        d, i = index.search(np.ascontiguousarray(up_desc, dtype=np.uint8), 2)
    finally:
        faiss.omp_set_num_threads(threads)
    q = np.flatnonzero((d[:, 0] <= MAX_DESCRIPTOR_DISTANCE) & (d[:, 0] < RATIO * d[:, 1]))
    return [cv2.DMatch(a, b, 0, float(c)) for a, b, c in zip(q.tolist(), i[q, 0].tolist(), d[q, 0].tolist())]


def _fit(up_pts: np.ndarray, up_desc: np.ndarray, reg: PhotoFeatures, good: list[cv2.DMatch],
         *, guided: bool = False):  # noqa: ANN202
    """RANSAC similarity fit from the matched pairs. ``guided``: the second try for a copy the first
    fit missed — one partner per registered keypoint (many upload points sent to one registered point,
    as repeated text or UI elements are, let RANSAC "fit" a collapse to that point), then the fit
    refined by guided matching (:func:`_guided_pairs`)."""
    if guided:
        best: dict[int, cv2.DMatch] = {}
        for m in good:
            if m.trainIdx not in best or m.distance < best[m.trainIdx].distance:
                best[m.trainIdx] = m
        good = list(best.values())
    if len(good) < (GUIDE_FROM if guided else MIN_INLIERS):
        return None
    src = up_pts[[m.queryIdx for m in good]]
    dst = reg.points[[m.trainIdx for m in good]]
    fit = _ransac(src, dst)
    # a fit of implausible scale or rotation (a collapse onto one textured spot, or onto the photo a
    # large pasted part came from): drop its points, refit
    for _ in range(REFITS):
        if fit is None or _plausible_shape(fit[0]) is None:
            break
        keep = ~np.isin(np.arange(len(src)), fit[4])
        src, dst = src[keep], dst[keep]
        fit = _ransac(src, dst)
    if guided and fit is not None and fit[1] >= GUIDE_FROM:
        refined = _ransac(*_guided_pairs(up_pts, up_desc, reg, fit[0]))
        if refined is not None and refined[1] > fit[1]:
            fit = refined
    return fit


def _level_fit(sides: list, reg: PhotoFeatures):  # noqa: ANN202
    """The third try (:data:`LEVEL_FIT`): the side (as uploaded or mirrored) whose :func:`_level_seed` has the
    most votes, refined by guided matching: (mirrored, fit) or None."""
    best = None
    for flip, pts, desc, good in sides:
        votes, seed = _level_seed(pts, reg, good)
        if seed is not None and (best is None or votes > best[0]):
            best = (votes, flip, pts, desc, seed)
    if best is None:
        return None
    _, flip, pts, desc, seed = best
    fit = _ransac(*_guided_pairs(pts, desc, reg, seed))
    return None if fit is None else (flip, fit)


def _level_seed(up_pts: np.ndarray, reg: PhotoFeatures, good: list[cv2.DMatch]) -> tuple[int, np.ndarray | None]:
    """A crop's transform voted for by the ratio test's keypoint pairs (``good``): (votes, 2 x 3 matrix), the
    matrix None under :data:`LEVEL_VOTES`. Most of a photo replaced leaves its remainder a few true pairs
    among the many the pasted part makes with unrelated registered points: RANSAC's random samples rarely
    draw two of them, and its best fits are collapses onto a few points. A crop of the photo brought to
    the frame needs no rotation, a scale of :data:`LEVEL_SCALES` and a shift inside the photo, so each pair
    votes for the shift at each scale (bins of :data:`LEVEL_BIN` pixels, 2 x 2 summed) and the best-voted
    shift seeds guided matching. The shifts counted are the same at every scale: from two bins before the
    photo's corner to where the smallest crop still fits, so at a larger scale a shift that puts part of the
    upload outside the photo is counted too (a looser bound than the crop's own; the chance figures of
    docs/benchmarks.md were measured with it)."""
    if len(good) < LEVEL_VOTES:
        return 0, None
    src = up_pts[[m.queryIdx for m in good]]
    dst = reg.points[[m.trainIdx for m in good]]
    scales = np.asarray(LEVEL_SCALES, np.float64)
    # shifts from two bins before the photo's corner to where the smallest crop still fits inside it
    lo = -2 * LEVEL_BIN
    nx = int((reg.frame_w * (1 - scales.min()) - lo) / LEVEL_BIN) + 4
    ny = int((reg.frame_h * (1 - scales.min()) - lo) / LEVEL_BIN) + 4
    shift = np.floor((dst[None, :, :] - scales[:, None, None] * src[None, :, :] - lo) / LEVEL_BIN).astype(np.int64)
    ok = (shift[..., 0] >= 0) & (shift[..., 0] < nx) & (shift[..., 1] >= 0) & (shift[..., 1] < ny)
    k = np.broadcast_to(np.arange(len(scales))[:, None], ok.shape)
    votes = np.bincount((k[ok] * ny + shift[..., 1][ok]) * nx + shift[..., 0][ok],
                        minlength=len(scales) * ny * nx).reshape(len(scales), ny, nx)
    votes = votes[:, :-1, :-1] + votes[:, 1:, :-1] + votes[:, :-1, 1:] + votes[:, 1:, 1:]  # 2 x 2 bins
    at = np.unravel_index(int(np.argmax(votes)), votes.shape)
    best = int(votes[at])
    if best < LEVEL_VOTES:
        return best, None
    s, tx, ty = float(scales[at[0]]), lo + (at[2] + 1) * LEVEL_BIN, lo + (at[1] + 1) * LEVEL_BIN
    return best, np.array([[s, 0.0, tx], [0.0, s, ty]], np.float64)


def _ransac(src: np.ndarray, dst: np.ndarray):  # noqa: ANN202
    """(matrix, inlier count, inliers' registered points, their upload points, their indices) or None."""
    if len(src) < 4:
        return None
    matrix, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=REPROJECTION,
                                              maxIters=500, confidence=0.995, refineIters=10)
    if matrix is None:
        return None
    mask = inl.ravel().astype(bool)
    return matrix, int(mask.sum()), dst[mask], src[mask], np.flatnonzero(mask)


def _guided_pairs(up_pts: np.ndarray, up_desc: np.ndarray, reg: PhotoFeatures,
                  matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs found with the first fit's help: each upload keypoint, carried onto the registered frame,
    paired with the most similar registered keypoint near where it lands (no ratio test: the position
    already rules out look-alikes elsewhere). Small, low-texture or shrunk copies give few pairs that
    pass the ratio test, but most of their keypoints do have a counterpart where the fit says."""
    landed = up_pts @ matrix[:, :2].T + matrix[:, 2]
    # squared distances coordinate by coordinate (the same numbers as summing an n x m x 2 array, without it)
    dx = landed[:, 0:1] - reg.points[None, :, 0]
    dy = landed[:, 1:2] - reg.points[None, :, 1]
    up_idx, reg_idx = np.nonzero(dx * dx + dy * dy <= GUIDE_RADIUS ** 2)
    dist = np.bitwise_count(up_desc[up_idx] ^ reg.descriptors[reg_idx]).sum(axis=1, dtype=np.int32)
    keep = dist <= GUIDE_DESCRIPTOR_DISTANCE
    if not keep.any():  # no partner anywhere near (a voted seed's pairs can lie just past GUIDE_RADIUS)
        return up_pts[:0], reg.points[:0]
    up_idx, reg_idx, dist = up_idx[keep], reg_idx[keep], dist[keep]
    order = np.lexsort((dist, up_idx))  # each upload keypoint's closest partner ...
    first = np.r_[True, up_idx[order][1:] != up_idx[order][:-1]]
    up_idx, reg_idx, dist = up_idx[order[first]], reg_idx[order[first]], dist[order[first]]
    order = np.lexsort((dist, reg_idx))  # ... and one upload keypoint per registered keypoint
    first = np.r_[True, reg_idx[order][1:] != reg_idx[order][:-1]]
    chosen = order[first]
    return up_pts[up_idx[chosen]], reg.points[reg_idx[chosen]]


def _plausible_shape(matrix: np.ndarray) -> str | None:
    scale = math.hypot(matrix[0, 0], matrix[1, 0])
    angle = math.degrees(math.atan2(matrix[1, 0], matrix[0, 0]))
    if not SCALE_RANGE[0] <= scale <= SCALE_RANGE[1]:
        return f"implausible scale {scale:.2f}"
    if abs(angle) > MAX_ROTATION:
        return f"implausible rotation {angle:.1f} degrees"
    return None


def _plausible(matrix: np.ndarray, inliers: int, dst: np.ndarray, reg: PhotoFeatures,
               *, weak: bool = False) -> str | None:
    """Why a fit cannot be judged, or None. ``weak``: a fit of :data:`FEW_INLIERS` points or more, or one
    whose points are bunched, may be judged (see :func:`_weak_fit`)."""
    if inliers < (FEW_INLIERS if weak else MIN_INLIERS):
        return f"{inliers} consistent points, {MIN_INLIERS} needed"
    shape = _plausible_shape(matrix)
    if shape:
        return shape
    if not weak and _span(dst, reg) < MIN_SPREAD:
        return f"consistent points bunched in {_span(dst, reg):.0%} of the photo"
    return None


def _span(dst: np.ndarray, reg: PhotoFeatures) -> float:
    """The inliers' bounding box, as a share of the frame."""
    return float(np.ptp(dst[:, 0]) * np.ptp(dst[:, 1])) / (reg.frame_w * reg.frame_h)


def _weak_fit(inliers: int, dst: np.ndarray, reg: PhotoFeatures) -> bool:
    """A fit the usual rules would not judge: under :data:`MIN_INLIERS` points, or bunched."""
    return inliers < MIN_INLIERS or _span(dst, reg) < MIN_SPREAD


def verify(reg: PhotoFeatures, upload: Upload, *, mirrored: bool | None = None) -> Verdict:
    """Compare an upload with one registered photo (see the module docstring).

    ``mirrored``: try only that orientation (the candidate search knows which one voted); None: both.
    When the plain fit finds nothing, a guided fit (:func:`_fit`) gets a second try.
    """
    sides = [(flip, pts, desc, _pairs(desc, reg))
             for flip, pts, desc in ((False, upload.points, upload.descriptors),
                                     (True, upload.mirrored_points, upload.mirrored_descriptors))
             if mirrored is None or flip == mirrored]
    found, first = _instances(reg, upload, sides, guided=False)
    if not found:
        found, _ = _instances(reg, upload, sides, guided=True)
    if not found and WHOLE_FRAME:
        whole = _whole_frame(reg, upload, mirrored)
        found = [whole] if whole is not None else []
    if not found and LEVEL_FIT:
        found, _ = _instances(reg, upload, sides, guided=True, level=True)
    if not found:
        return first
    derivatives = [v for v in found if v.outcome is Outcome.DERIVATIVE]
    lead = max(derivatives or found, key=lambda v: v.score)
    return replace(lead, instances=found)


def _instances(reg: PhotoFeatures, upload: Upload, sides: list, *, guided: bool,
               level: bool = False) -> tuple[list[Verdict], Verdict]:
    """Every instance of ``reg`` in the upload, one fit at a time: after each fit the keypoints in the
    part of the upload it covers are set aside and the rest is fitted again (at most
    :data:`MAX_INSTANCES` fits). Returns the instances found (re-shares and derivatives) and the
    first failure (a NONE verdict saying why, for when nothing is found)."""
    removed = {flip: np.zeros(len(pts), bool) for flip, pts, _, _ in sides}
    found: list[Verdict] = []
    failure: Verdict | None = None
    for _ in range(1 if level else MAX_INSTANCES):  # a crop is one instance
        best = _level_fit(sides, reg) if level else None
        for flip, pts, desc, good in [] if level else sides:
            gone = removed[flip]
            if gone.any():
                good = [m for m in good if not gone[m.queryIdx]]
                pts = np.where(gone[:, None], np.float32(-1e6), pts)  # out of reach of guided matching
            fit = _fit(pts, desc, reg, good, guided=guided)
            if fit is not None and (best is None or fit[1] > best[1][1]):
                best = (flip, fit)
        if best is None:
            failure = failure or Verdict(Outcome.NONE, reason="no shared keypoints")
            break
        mirrored, (matrix, inliers, dst, src, _idx) = best
        # the guided pass (nothing found by the plain one) also judges a weak fit, confirmed by the cells
        weak = guided and FEW_INLIERS < MIN_INLIERS
        problem = _plausible(matrix, inliers, dst, reg, weak=weak)
        if problem:
            failure = failure or Verdict(Outcome.NONE, inliers=inliers, mirrored=mirrored, reason=problem)
            break
        area = _instance_area(upload, reg, matrix, mirrored, src)
        verdict = _compare(reg, upload.frame, matrix, inliers, mirrored, dst, area)
        if weak and _weak_fit(inliers, dst, reg):
            verdict = _dense(verdict)
        if verdict.outcome is Outcome.NONE:
            failure = failure or verdict
        elif area.any():
            ys, xs = np.nonzero(area)
            box = upload.to_pixels((int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1))
            outline = _outline(verdict.edited_region, verdict.transform) if verdict.edited_region else None
            found.append(replace(verdict, instance_box=box, edited_outline=outline))
        fresh = False
        for flip, pts, _, _ in sides:
            xy = _unflip(pts, upload) if flip else pts
            h, w = area.shape
            inside = area[np.clip(xy[:, 1].astype(int), 0, h - 1), np.clip(xy[:, 0].astype(int), 0, w - 1)] > 0
            fresh |= bool((inside & ~removed[flip]).any())
            removed[flip] |= inside
        if not fresh:
            break
    return found, failure or Verdict(Outcome.NONE, reason="no shared keypoints")


def _whole_frame(reg: PhotoFeatures, upload: Upload, mirrored: bool | None) -> Verdict | None:
    """When no fit holds: the upload taken as the registered photo's whole frame (the same shape within
    :data:`WHOLE_ASPECT`: resized, re-encoded, maybe mirrored, not cropped), judged by the cells alone.
    Most of a photo replaced can leave its remainder too few keypoints for any fit (a photo's plain
    margins around the replaced subject), while its cells still match. Kept only as a derivative whose
    unedited part holds a connected block of :data:`DENSE_WHOLE` precisely matching textured cells
    (``details["dense"]``, see :func:`_dense`); scored on that block, with no consistent points.
    An upload of another shape is compared so at its content's box (:data:`WHOLE_CONTENT`,
    :meth:`Upload.content`: a screenshot's picture inside its bars) when that box has the photo's shape."""
    fh, fw = upload.frame.grey.shape
    box = None
    if abs((fw / fh) / (reg.frame_w / reg.frame_h) - 1.0) > WHOLE_ASPECT:
        box = upload.content if WHOLE_CONTENT else None
        if box is None or abs((box[2] / box[3]) / (reg.frame_w / reg.frame_h) - 1.0) > WHOLE_ASPECT:
            return None
    bx, by, bw, bh = box if box is not None else (0, 0, fw, fh)
    best = None
    for flip in (False, True) if mirrored is None else (mirrored,):
        if _whole_pretest(reg, upload, flip, box) < WHOLE_PRETEST:
            continue
        x0 = fw - bx - bw if flip else bx  # the box in the frame as _compare sees it (mirrored when flip)
        matrix = np.array([[reg.frame_w / bw, 0.0, -x0 * reg.frame_w / bw], [0.0, reg.frame_h / bh, -by * reg.frame_h / bh]])
        v = _compare(reg, upload.frame, matrix, 0, flip, _whole_anchors(reg, upload, flip, box))
        dense = v.details.get("dense", 0)
        if v.outcome is Outcome.DERIVATIVE and dense >= DENSE_WHOLE and (best is None or dense > best.details["dense"]):
            best = v
    if best is None:
        return None
    dense = best.details["dense"]
    outline = _outline(best.edited_region, best.transform) if best.edited_region else None
    where = "the whole upload" if box is None else "the picture inside the upload's bars"
    return replace(best, score=100.0 * (1.0 - math.exp(-dense / 30.0)) * (1.0 - best.scatter),
                   instance_box=[0, 0, upload.frame.width, upload.frame.height] if box is None else upload.to_pixels(box),
                   edited_outline=outline,
                   reason=f"{best.reason} (no keypoint fit: {where} compared as the photo, "
                          f"{dense} cells matching precisely in a block)")


def whole_frame(reg: PhotoFeatures, upload: Upload, mirrored: bool | None = None) -> Verdict | None:
    """The whole-frame comparison alone (:func:`_whole_frame`; None where it finds nothing): for a
    candidate of the index that its check did not verify (a photo whose remainder after a large edit
    gave it too few votes, out-voted by the photo the pasted part came from). A photo of another shape
    costs a division, one of the same shape a pre-test on cells (:func:`_whole_pretest`)."""
    if not WHOLE_FRAME:
        return None
    found = _whole_frame(reg, upload, mirrored)
    return None if found is None else replace(found, instances=[found])


def _whole_anchors(reg: PhotoFeatures, upload: Upload, mirrored: bool,
                   box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The centres of the pre-test's block of cells (:func:`_whole_precise`), in the registered frame: the
    whole-frame comparison's anchors (:data:`WHOLE_ANCHORS`; none otherwise). With no consistent points,
    :func:`_offset` would take the median offset of every visible cell, and when the pasted part is most of
    the photo that is the part's own brightness or colour against the photo's (another photo's): the
    photo's remainder, unchanged, then differs everywhere and nothing is left to match. The block's cells,
    matching in structure, are the remainder."""
    if not WHOLE_ANCHORS:
        return np.zeros((0, 2), np.float32)
    ys, xs = np.nonzero(_whole_precise(reg, upload, mirrored, box))
    return np.stack([(xs + 0.5) * reg.frame_w / GRID, (ys + 0.5) * reg.frame_h / GRID], axis=1).astype(np.float32)


def _whole_precise(reg: PhotoFeatures, upload: Upload, mirrored: bool,
                   box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The largest 4-connected block of :func:`_whole_pretest` (GRID x GRID, boolean; empty when none)."""
    return _largest_block(_whole_matching(reg, upload, mirrored, box))


def _content_box(frame: Frame) -> tuple[int, int, int, int] | None:
    """The box (x, y, w, h) of the frame holding its content inside bars and margins of one background colour
    (:data:`WHOLE_CONTENT`): a screenshot's picture between its header and its buttons, a picture in a meme's
    border. The background is the commonest colour of the frame's outer two lines (at least 40 % of them);
    content rows have under :data:`CONTENT_ROW` of their pixels within :data:`CONTENT_NEAR` levels of it (a
    header's text and avatar leave more); the content is their longest run (:data:`CONTENT_ROWS` of the height
    at least), across the columns of that run with under :data:`CONTENT_COL` background. None when there is no
    such background, no such run, or the box is the whole frame."""
    planes = [p.astype(np.int16) for p in (frame.grey, frame.cb, frame.cr)]
    h, w = planes[0].shape
    if h < 16 or w < 16:
        return None
    ring = np.stack([np.concatenate([p[:2].ravel(), p[-2:].ravel(), p[:, :2].ravel(), p[:, -2:].ravel()])
                     for p in planes], axis=1)
    values, counts = np.unique(ring // CONTENT_NEAR, axis=0, return_counts=True)
    if counts.max() < 0.4 * len(ring):
        return None
    common = np.all(ring // CONTENT_NEAR == values[int(np.argmax(counts))], axis=1)
    bg = np.median(ring[common], axis=0)
    near = np.ones((h, w), bool)
    for p, level in zip(planes, bg):
        near &= np.abs(p - level) <= CONTENT_NEAR
    rows = np.r_[False, near.mean(axis=1) < CONTENT_ROW, False].astype(np.int8)
    edges = np.flatnonzero(np.diff(rows))
    starts, ends = edges[0::2], edges[1::2]
    if not len(starts):
        return None
    k = int(np.argmax(ends - starts))
    y0, y1 = int(starts[k]), int(ends[k])
    if y1 - y0 < CONTENT_ROWS * h:
        return None
    cols = np.flatnonzero(near[y0:y1].mean(axis=0) < CONTENT_COL)
    if not len(cols):
        return None
    x0, x1 = int(cols[0]), int(cols[-1]) + 1
    if (x0, y0, x1, y1) == (0, 0, w, h) or (x1 - x0) < 16 or (y1 - y0) < 16:
        return None
    return x0, y0, x1 - x0, y1 - y0


def _largest_block(mask: np.ndarray) -> np.ndarray:
    """The largest 4-connected block of a boolean cell ``mask`` (all False where it has none)."""
    blocks, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=4)
    if blocks < 2:
        return np.zeros(mask.shape, bool)
    return labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def _whole_matching(reg: PhotoFeatures, upload: Upload, mirrored: bool,
                    box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Cells textured on both sides whose structure bits differ in at most :data:`DENSE_BITS`, between the
    registered photo's cells and the upload's own (:meth:`Upload.whole_cells`)."""
    u, r = upload.box_cells(box, mirrored), reg.cells
    both = (r.std >= TEXTURE_STD) & (np.minimum(u.std, STD_CAP) >= TEXTURE_STD)
    return both & (_popcount16(u.pattern ^ r.pattern) <= DENSE_BITS)


def _whole_pretest(reg: PhotoFeatures, upload: Upload, mirrored: bool,
                   box: tuple[int, int, int, int] | None = None) -> int:
    """The largest 4-connected block of cells textured on both sides whose 16 structure bits differ in
    at most :data:`DENSE_BITS`, between the registered photo's cells and the upload's own
    (:meth:`Upload.whole_cells`: no warp, the frames have the same shape). A necessary condition,
    loosened, of :func:`_whole_frame`'s block (which also needs brightness, colour and contrast to
    match, on the warped frame): a comparison whose pre-test is under :data:`WHOLE_PRETEST` is not
    made (microseconds against milliseconds)."""
    precise = _whole_matching(reg, upload, mirrored, box)
    if int(precise.sum()) < WHOLE_PRETEST:
        return int(precise.sum())
    return int(_largest_block(precise).sum())


def _dense(verdict: Verdict) -> Verdict:
    """A weak fit (:func:`_weak_fit`: :data:`FEW_INLIERS` to :data:`MIN_INLIERS` consistent points, or
    points bunched in one spot; judged by the guided pass only: most of the photo replaced, the rest
    holding few of its keypoints) stands only as a derivative whose
    unedited part the cells confirm densely: :data:`DENSE_CELLS` textured cells in one connected block
    (``details["dense"]``, :func:`_judge`), each matching in brightness, colour and contrast and within
    :data:`DENSE_BITS` of its 16 structure bits. A chance fit of unrelated photos, which finds a few
    consistent points among many false matches, lands cells on unrelated detail. Anything else is
    nothing (a re-share needs the usual fit)."""
    if verdict.outcome is Outcome.DERIVATIVE and verdict.details.get("dense", 0) >= DENSE_CELLS:
        return verdict
    if verdict.outcome is Outcome.NONE:
        return verdict
    return Verdict(Outcome.NONE, inliers=verdict.inliers, mirrored=verdict.mirrored, transform=verdict.transform,
                   details=verdict.details,
                   reason=f"weak fit ({verdict.inliers} consistent points, or bunched) not confirmed by the cells "
                          f"({verdict.details.get('dense', 0)} in a block, {DENSE_CELLS} needed)")


def _unflip(pts: np.ndarray, upload: Upload) -> np.ndarray:
    """Points of the mirrored frame in the frame as uploaded."""
    out = np.array(pts, np.float32, copy=True)
    out[:, 0] = upload.frame.grey.shape[1] - 1 - out[:, 0]
    return out


def _instance_area(upload: Upload, reg: PhotoFeatures, matrix: np.ndarray, mirrored: bool,
                   inlier_points: np.ndarray) -> np.ndarray:
    """Where a fitted instance lies in the upload's frame (as uploaded, 255 inside): the registered
    photo's outline carried back by the fit, less the pictures of a composite that hold (almost)
    none of its inliers and that the outline only partly covers (a collage's next picture is not
    part of it, even when this one was cropped to fit its panel). Gutters, margins and plain parts
    stay in: an edit can be plain."""
    fh, fw = upload.frame.grey.shape
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0], [reg.frame_w, 0], [reg.frame_w, reg.frame_h], [0, reg.frame_h]], np.float64)
    quad = corners @ inverse[:, :2].T + inverse[:, 2]
    points = inlier_points
    if mirrored:
        quad[:, 0] = fw - 1 - quad[:, 0]
        points = _unflip(inlier_points, upload)
    area = np.zeros((fh, fw), np.uint8)
    quad = np.clip(np.round(quad), -4 * FRAME_SIDE, 5 * FRAME_SIDE).astype(np.int32)
    cv2.fillConvexPoly(area, quad, 255)
    least = max(2, PANEL_INLIERS * len(points))
    outline = area.copy()
    for x, y, w, h in upload.panels:
        inside = (points[:, 0] >= x) & (points[:, 0] < x + w) & (points[:, 1] >= y) & (points[:, 1] < y + h)
        # a picture the fit covers whole is part of the same photo (a false cut along a horizon, an
        # edit that fills a part); one it only reaches into is the next picture of a collage
        if inside.sum() < least and outline[y:y + h, x:x + w].mean() < 255 * PANEL_COVERED \
                and not _ends_at_edge(upload.frame.grey, quad, (x, y, w, h)):
            area[y:y + h, x:x + w] = 0
    return area


def _ends_at_edge(grey: np.ndarray, quad: np.ndarray, panel: tuple[int, int, int, int]) -> bool:
    """Whether the photo's outline, where it crosses the inside of ``panel``, runs along a visible
    edge of the upload: the photo's own border (a large part of it replaced by a picture that ends
    where the photo ends, then framed by a screenshot's bars or a page). The next picture of a
    collage, which a photo cropped to fill its cell only reaches into, shows no edge where the
    outline crosses it. Needs the outline to cover at least :data:`EDGE_COVERED` of the panel and
    to cross it along :data:`EDGE_LENGTH` of its side, with :data:`EDGE_STEPS` of the points along
    it stepping by :data:`EDGE_STEP` grey levels across it."""
    x, y, w, h = panel
    inner = (x + 4, y + 4, x + w - 4, y + h - 4)
    if inner[2] <= inner[0] or inner[3] <= inner[1]:
        return False
    mask = np.zeros(grey.shape, np.uint8)
    cv2.fillConvexPoly(mask, np.round(quad).astype(np.int32), 1)
    if mask[y:y + h, x:x + w].mean() < EDGE_COVERED:
        return False
    g = grey.astype(np.float32)
    fh, fw = grey.shape
    crossed = False
    for a, b in zip(quad, np.roll(quad, -1, axis=0)):
        length = float(np.hypot(*(b - a)))
        if length < 1:
            continue
        t = np.linspace(0, 1, max(2, int(length)))
        pts = a[None, :] + t[:, None] * (b - a)[None, :]
        keep = (pts[:, 0] >= inner[0]) & (pts[:, 0] < inner[2]) & (pts[:, 1] >= inner[1]) & (pts[:, 1] < inner[3])
        if keep.sum() < EDGE_LENGTH * min(w, h):
            continue
        crossed = True
        pts = pts[keep]
        normal = np.array([-(b - a)[1], (b - a)[0]]) / length
        best = 0.0
        for shift in (-2, -1, 0, 1, 2):  # the fit is good to a pixel or two
            c = pts + shift * normal
            p1 = np.clip(np.round(c + 3 * normal), 0, [fw - 1, fh - 1]).astype(int)
            p0 = np.clip(np.round(c - 3 * normal), 0, [fw - 1, fh - 1]).astype(int)
            step = np.abs(g[p1[:, 1], p1[:, 0]] - g[p0[:, 1], p0[:, 0]])
            best = max(best, float((step >= EDGE_STEP).mean()))
        if best < EDGE_STEPS:
            return False
    return crossed


def _outline(region: list[int], transform: list[list[float]]) -> list[list[float]]:
    """The corners of ``region`` (registered photo pixels) in the upload's pixels."""
    x, y, w, h = region
    back = np.linalg.inv(np.vstack([np.array(transform, np.float64), [0, 0, 1]]))
    corners = np.array([[x, y, 1], [x + w, y, 1], [x + w, y + h, 1], [x, y + h, 1]], np.float64)
    return [[round(float(a), 1), round(float(b), 1)] for a, b, _ in corners @ back.T]


def _compare(reg: PhotoFeatures, frame: Frame, matrix: np.ndarray, inliers: int, mirrored: bool,
             anchors: np.ndarray, area: np.ndarray | None = None) -> Verdict:
    size = (reg.frame_w, reg.frame_h)
    planes = [frame.grey, frame.cb, frame.cr]
    if mirrored:
        planes = [np.ascontiguousarray(p[:, ::-1]) for p in planes]
    warped = [cv2.warpAffine(p, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
              for p in planes]
    if area is None:
        ones = np.full(planes[0].shape, 255, np.uint8)
    else:  # where the instance lies (in the frame as uploaded)
        ones = np.ascontiguousarray(area[:, ::-1]) if mirrored else area
    mask = cv2.warpAffine(ones, matrix, size, flags=cv2.INTER_NEAREST, borderValue=0)
    mask = cv2.erode(mask, np.ones((5, 5), np.uint8)) > 0
    cells, coverage = cell_summaries(*warped, mask=mask)
    return _judge(reg, cells, coverage, frame, matrix, inliers, mirrored, anchors, text=_text_cells(warped[0]))


def _text_cells(grey: np.ndarray) -> np.ndarray:
    """Cells (GRID x GRID) holding overlaid caption text: white letters in a black outline, the way meme
    captions are drawn (:data:`TEXT_LEVELS`, :data:`TEXT_STROKE`, :data:`TEXT_SHARE`). Photos rarely
    put pure white right beside pure black (0.4 % of the cells of the benchmark's 129 photos), and only
    cells that also differ from the registered photo are ever set aside (:func:`_judge`)."""
    share = cv2.resize(text_pixels(grey).astype(np.float32), (GRID, GRID), interpolation=cv2.INTER_AREA)
    return share >= TEXT_SHARE


def text_pixels(grey: np.ndarray) -> np.ndarray:
    """White pixels (:data:`TEXT_LEVELS`) within :data:`TEXT_STROKE` of black ones: outlined letters."""
    white = grey >= TEXT_LEVELS[0]
    black = cv2.dilate((grey <= TEXT_LEVELS[1]).astype(np.uint8), np.ones((TEXT_STROKE, TEXT_STROKE), np.uint8)) > 0
    return white & black


def _judge(reg: PhotoFeatures, cells, coverage: np.ndarray, frame: Frame, matrix: np.ndarray,  # noqa: ANN001
           inliers: int, mirrored: bool, anchors: np.ndarray, *, text: np.ndarray | None = None,
           graded: bool = False) -> Verdict:
    """The comparison of the upload's aligned cells with the registered photo's (see :func:`_compare`).
    ``text``: the cells holding caption text in the upload (:func:`_text_cells`).

    With :data:`GRADED`, a derivative verdict is judged again on the cells with a graduated filter undone
    (:func:`grading.unblend`: a colour blended in from a side or a corner, which the whole-photo tone model
    cannot undo), and the re-share verdict of that judgement, if it is one, is returned instead
    (``graded``: this is that judgement)."""
    visible = coverage >= 0.97
    covered = float(visible.mean())
    transform = _to_photo_pixels(matrix, reg, frame, mirrored)
    base = dict(inliers=inliers, mirrored=mirrored, transform=transform)
    if covered < MIN_COVERED:
        return Verdict(Outcome.NONE, reason=f"the upload covers only {covered:.0%} of the photo", **base)

    r, u = reg.cells, cells
    u_std = np.minimum(u.std, STD_CAP)
    # cells holding consistent keypoints are unedited by construction: they set the colour offsets
    anchored = np.zeros((GRID, GRID), bool)
    cx = np.clip((anchors[:, 0] * GRID / reg.frame_w).astype(int), 0, GRID - 1)
    cy = np.clip((anchors[:, 1] * GRID / reg.frame_h).astype(int), 0, GRID - 1)
    anchored[cy, cx] = True
    anchored &= visible
    if not anchored.any():
        anchored = visible
    dm = _offset(u.mean - r.mean, anchored, visible, 24.0)
    dcb = _offset(u.cb - r.cb, anchored, visible, 14.0)
    dcr = _offset(u.cr - r.cr, anchored, visible, 14.0)
    # resizing and re-encoding soften every cell alike
    sr = _offset(np.log((u_std + 3.0) / (r.std + 3.0)), anchored, visible, 0.6)
    offsets = np.stack([dm, dcb, dcr], axis=-1)
    both = (r.std >= TEXTURE_STD) & (u_std >= TEXTURE_STD)
    dp = np.where(both, _popcount16(u.pattern ^ r.pattern), 0)
    def derivative(verdict: Verdict) -> Verdict:
        if not GRADED or graded:
            return verdict
        moved = differs & both
        if moved.any() and float((dp[moved] <= GRADED_BITS).mean()) < GRADED_KEPT:
            return verdict  # the differing cells' structure changed: no blend explains that
        unblended = grading.unblend(r, u, coverage >= 0.97, dp)
        if unblended is None:
            return verdict
        again = _judge(reg, unblended, coverage, frame, matrix, inliers, mirrored, anchors, text=text, graded=True)
        if again.outcome is not Outcome.RESHARE:
            return verdict
        return replace(again, reason=f"{again.reason} (a graduated filter undone)")

    if TONE_MODEL:
        old = (dm, dcb, dcr, sr)
        now, fell_back = old, False
        before = int(((_worst(old, dp) > 1.0) & visible).sum())
        square3 = np.ones((3, 3), np.uint8)
        for step in range(TONE_ROUNDS):
            first = _worst(now, dp)
            if step == 0 and before < MIN_EDIT * GRID * GRID:
                break  # too few differences to make an edit or a scatter: nothing for a filter to explain
            suspect = cv2.dilate(((first > TONE_EXCLUDE) & visible).astype(np.uint8), square3)
            fit_on = visible & (suspect == 0)
            if fit_on.sum() < TONE_MIN_FIT * visible.sum():
                if not TONE_FALLBACK or now is not old:
                    break
                fit_on, fell_back = visible, True
            now = _tone_residuals(r, u, u_std, visible, old, fit_on)
        if fell_back and ((_worst(now, dp) > 1.0) & visible).sum() * TONE_FALLBACK > before:
            now = old  # fitted on every cell: kept only when it explains most of the differences
        dm, dcb, dcr, sr = now
    colour = np.stack([dm, dcb, dcr], axis=-1)
    registered = np.stack([r.mean, r.cb, r.cr], axis=-1)
    chroma = np.maximum(np.abs(dcb), np.abs(dcr)) / 14.0
    luma = 24.0 * np.where(chroma <= TONE_LUMA_QUIET, TONE_LUMA_SLACK, 1.0) if TONE_MODEL else 24.0
    diff = _worst((dm, dcb, dcr, sr), dp, luma)
    differs = (diff > 1.0) & visible
    # the instance reaching past its picture's edge (a photo cropped to fill a collage's cell, its
    # neighbour not cut apart): a band along one side of what is visible, differing across its
    # whole length, is the next picture, not an edit; it is left out as if cropped away
    beyond = _beyond_edge(differs, visible)
    if BEYOND_OWN and beyond.any():
        beyond = _own_bands(beyond, visible, lambda band, side: _replaced_band(
            band, side, dp, both, r.std, u_std, reg, frame, matrix))
    visible &= ~beyond
    differs &= visible
    # a caption's lines of text (differing text cells in a row of TEXT_RUN or more) hide the photo
    # there, like a crop: set aside, so that a line of text along an edit does not join it
    hidden = np.zeros_like(visible)
    if text is not None:
        hidden = cv2.morphologyEx((text & differs).astype(np.uint8), cv2.MORPH_OPEN,
                                  np.ones((1, TEXT_RUN), np.uint8)) > 0
        visible &= ~hidden
        differs &= visible
    # the floors below shrink with what captions hide, but never below half (a caption hides a strip, not the photo)
    unhidden = max(1.0 - float(hidden.mean()), TEXT_FLOOR)
    square = np.ones((3, 3), np.uint8)
    # A blurred or inpainted area shows only where it had structure: its plain cells look the same
    # before and after. Plain cells lying between smoothed ones are taken into the edit (text or
    # logos laid over a photo sharpen cells instead, so an overlay does not grow this way).
    quiet = visible & ~differs & (r.std < TEXTURE_STD) & (u_std < TEXTURE_STD)
    smoothed = differs & (sr < -SOFTENED)
    between = cv2.morphologyEx(smoothed.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((SOFT_FILL, SOFT_FILL), np.uint8))
    differs_or_hidden = differs | ((between > 0) & quiet)
    closed = cv2.morphologyEx(differs_or_hidden.astype(np.uint8), cv2.MORPH_CLOSE, square) & visible
    opened = cv2.morphologyEx(closed.astype(np.uint8), cv2.MORPH_OPEN, square) > 0
    count, labels, stats, _ = cv2.connectedComponentsWithStats(opened.astype(np.uint8), connectivity=8)
    edit = np.zeros_like(opened)
    biggest = None
    if count > 1:
        biggest = labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        edit = opened
    near_edit = cv2.dilate((biggest if biggest is not None else edit).astype(np.uint8), square) > 0
    # thin bands of differences (a caption's lines of text, a censor bar, a watermark) are overlays:
    # neither scattered differences nor evidence about the rest; they are left out of both
    # (a caption line's hidden cells count in its band: the letters' edges beside them are overlay too)
    rest = visible & ~near_edit & ~_bands((differs | hidden) & ~near_edit)
    if NARROW_REST and biggest is not None and int((rest & both).sum()) < MIN_COMPARED:
        # a narrow unedited part beside a large edit (most of the photo replaced, the rest cropped):
        # the cells along the edit compared too. Partly edited ones can only add differences, so
        # this never makes the rest look more like the photo than it is
        rest = visible & ~biggest & ~_bands((differs | hidden) & ~biggest)
    scatter = float((differs & rest).sum() / max(1, rest.sum()))
    shared = float((visible & ~differs).sum() / (GRID * GRID))
    # an edit is a solid block: 3 x 3 differing cells away from the border, and at least 4 cells
    # high and wide (a line of overlaid text, even closed into a band, is neither)
    if biggest is not None:
        ys, xs = np.nonzero(biggest)
        solid = cv2.erode(biggest.astype(np.uint8), square, borderType=cv2.BORDER_CONSTANT, borderValue=0).any()
        if not solid or np.ptp(ys) < 3 or np.ptp(xs) < 3:
            biggest = None
    edited = float(biggest.sum() / (GRID * GRID)) if biggest is not None else 0.0
    precision = _precision(dp, rest & both, None if text is None else
                           cv2.morphologyEx(text.astype(np.uint8), cv2.MORPH_OPEN, np.ones((1, TEXT_RUN), np.uint8)) > 0)
    textured_shared = float((visible & ~differs & both).sum() / (GRID * GRID))
    # the largest connected block of textured cells matching to within DENSE_BITS (see _dense)
    precise = visible & ~differs & both & (dp <= DENSE_BITS)
    dense = int(_largest_block(precise).sum())
    details = {"textured_shared": round(textured_shared, 3), "covered": round(covered, 3), "precision": precision,
               "max_diff": round(float(diff[visible].max()), 2), "dense": dense}
    base.update(edited_share=edited, shared_share=shared, scatter=scatter, details=details)
    # the floors are shares of the photo less what caption text hides
    if (shared < MIN_SHARED * unhidden or textured_shared < MIN_SHARED_TEXTURED * unhidden) and not _large_edit(
            biggest, reg, inliers, shared, textured_shared, dense):
        return Verdict(Outcome.NONE, reason=f"only {shared:.0%} of the photo matches precisely", **base)
    if int((rest & both).sum()) < MIN_COMPARED:
        return Verdict(Outcome.NONE, reason="too little of the photo outside the differences to compare", **base)
    if scatter > MAX_SCATTER:
        return Verdict(Outcome.NONE, reason=f"{scatter:.0%} of the matching area differs in scattered places "
                       "(another photo of the same scene?)", **base)
    # an upload smaller than the registered frame was upscaled: its cells' fine structure is noisier;
    # so is a picture the warp enlarges, even in an upload larger than the frame (shrunk into it first:
    # the resolution the frame threw away is not credited: FRAME_ENLARGED)
    scale = math.hypot(matrix[0, 0], matrix[1, 0])
    shrunk = FRAME_SIDE / max(frame.width, frame.height)
    loss = max(1.0, scale * (max(1.0, shrunk) if FRAME_ENLARGED else shrunk))
    if precision > MAX_IMPRECISION * math.sqrt(loss):
        return Verdict(Outcome.NONE, reason=f"the matching area differs in fine structure ({precision:.1f} of 16 "
                       "bits per cell): another photo of the same scene, not the same pixels", **base)
    score = 100.0 * (1.0 - math.exp(-inliers / 30.0)) * (1.0 - scatter)
    # what the edit replaced: its differing cells (the block also holds the cells closed into it)
    replaced = float((biggest & differs).sum() / (GRID * GRID)) if biggest is not None else 0.0
    if replaced > MAX_EDIT and not (replaced <= MAX_EDIT + LARGE_EXTRA_EDIT and inliers >= LARGE_INLIERS
                                    and dense >= DENSE_LARGE and _detailed(biggest & differs, reg)):
        return Verdict(Outcome.NONE, reason=f"{replaced:.0%} of the photo differs: too much to be the same photo", **base)
    if edited < MIN_EDIT:
        recoloured = _recoloured(offsets, registered, visible)
        if recoloured is None:
            return Verdict(Outcome.RESHARE, score=score, reason="same photo, no localised edit", **base)
        share = float(recoloured.sum() / (GRID * GRID))
        ys, xs = np.nonzero(recoloured)
        region = _cells_to_photo_box(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1, reg)
        base.update(edited_share=share)
        return derivative(Verdict(Outcome.DERIVATIVE, score=score, edited_region=region,
                                  reason=f"{share:.0%} of the photo recoloured in place (layout kept), the rest "
                                  "unchanged", **base))
    ys, xs = np.nonzero(biggest)
    region = _cells_to_photo_box(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1, reg)
    return derivative(Verdict(Outcome.DERIVATIVE, score=score, edited_region=region,
                              reason=f"{edited:.0%} of the photo replaced, {shared:.0%} unchanged", **base))


def _precision(dp: np.ndarray, compared: np.ndarray, text: np.ndarray | None) -> float:
    """Mean structure bits (of 16) that differ over the ``compared`` cells: the fine-structure test of
    :func:`_judge`. Cells of caption lines (``text``: the upload's :func:`_text_cells` in a row of
    :data:`TEXT_RUN` or more, so a photo's own white-beside-black detail, which 20 of the benchmark's
    129 photos have in a cell or more, is not taken for text) or next to them are left out when at
    least half of the compared cells (and :data:`MIN_COMPARED`) are left, and the lower of the two means is kept: a
    caption's letters, and their black outline reaching into the next cell, change the cells' 4 x 4
    patterns without being a different photo (censor-caption uploads: 1.2-1.8 bits with them, 0.04-1.1
    without), and a captioned upload is never held to more than the plain mean. An upload with no caption
    line is measured as before."""
    if not compared.any():
        return 0.0
    precision = float(np.mean(dp[compared]))
    if TEXT_PRECISION and text is not None and text.any():
        kept = compared & ~(cv2.dilate(text.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
        if int(kept.sum()) >= max(MIN_COMPARED, int(compared.sum()) // 2):
            precision = min(precision, float(np.mean(dp[kept])))
    return precision


def _large_edit(block: np.ndarray | None, reg: PhotoFeatures, inliers: int, shared: float,
                textured_shared: float, dense: int = 0) -> bool:
    """Whether a fit whose precisely matching part is under the floors (:data:`MIN_SHARED`,
    :data:`MIN_SHARED_TEXTURED`) is still judged: most of the photo replaced and the rest largely
    cropped away leaves a small unedited part, but one holding many consistent keypoints
    (:data:`LARGE_INLIERS`: a chance fit has ten or so), or a connected block of :data:`DENSE_LARGE`
    textured cells matching precisely (``dense``, see :func:`_dense`: chance fits of unrelated photos
    reach 10 at most), or :data:`MIDDLE_INLIERS` points and a block of :data:`DENSE_CELLS` (chance fits
    reach 46 points, but not with such a block). Only when the edit replaced the photo's own
    detail (:data:`LARGE_DETAIL` of the block's cells had structure in the registered photo): a
    detailed part registered on a plain backdrop, seen again inside the whole scene it was cut from,
    "replaces" only the plain backdrop, and is not an edit of it. The other tests (scatter, fine
    structure, the size of the edit) still apply."""
    strong = inliers >= LARGE_INLIERS or dense >= DENSE_LARGE or (inliers >= MIDDLE_INLIERS and dense >= DENSE_CELLS)
    if block is None or not strong or shared < LARGE_SHARED[0] or textured_shared < LARGE_SHARED[1]:
        return False
    return _detailed(block, reg)


def _detailed(block: np.ndarray, reg: PhotoFeatures) -> bool:
    """Whether :data:`LARGE_DETAIL` of ``block``'s cells had structure in the registered photo."""
    return float((reg.cells.std[block] >= TEXTURE_STD).mean()) >= LARGE_DETAIL


def _recoloured(colour: np.ndarray, registered: np.ndarray, visible: np.ndarray) -> np.ndarray | None:
    """A compact block whose colour alone changed, for an upload the structure comparison calls a
    re-share (a region regenerated from its own content keeps its layout and detail but takes new
    colours: its cells move less than the generous tolerances of :func:`_compare`, which must absorb
    a re-encode, a resize and a colour grade). ``colour``: the cells' brightness and chroma offsets
    as :func:`_compare` corrected them (GRID x GRID x 3); ``registered``: the registered cells' own.
    Cell means are far steadier than structure under re-encoding and resizing (88 re-shares of the
    benchmark: no cell block off by a third of the tolerances), so here they are held to
    :data:`RECOLOUR` of the usual tolerances. The block must be solid (as in :func:`_compare`),
    :data:`MIN_EDIT` to :data:`MAX_EDIT` of the photo and at most :data:`RECOLOUR_MAX` of what is
    visible; the rest quiet (at most :data:`RECOLOUR_SCATTER` of the other visible cells off, thin
    bands of text or a bar aside); its edge sharp (:data:`RECOLOUR_EDGE`); and its colours left
    unchanged elsewhere (twins: see the code). A filter over the whole photo that the offsets do not
    undo (a curve, clipped saturation, a graduated tint, a vignette) fails one of the last two.
    None when there is no such block.

    The offsets ``colour`` is taken against are the inlier cells' median or none, whichever leaves
    more cells within the full tolerances (:func:`_offset`); a regenerated region keeps its keypoints,
    and when they hold most of the inliers its own colour shift can be taken for the photo's while
    every cell stays within those tolerances. Then nearly every visible cell is off by a third of them
    and the block comes out too large or not solid: with :data:`RECOLOUR_RECENTRE` it is looked for
    once more about the visible cells' median colour (the unedited part's, the block being under
    :data:`RECOLOUR_MAX` of them), every test as before. Replayed on the cells recorded for the benchmark's
    regen uploads and bench/derivative_large.py's 1,677 filtered re-shares: +7 regen flagged directly,
    no filtered re-share, when a block reaching across what is visible was dropped; without that
    condition 5 graduated tints (2026-12-06 #8). Since the ramp test (:func:`_ramp`) tells a graduated
    filter's band by its profile, the condition is off (:data:`RECOLOUR_RECENTRED_ACROSS`): a region
    regenerated from the top of the photo to its bottom is flagged (+3 regen directly, 2026-12-07 #5;
    no filtered re-share).

    A hue turned on little colour moves a regenerated region's cells by less than :data:`RECOLOUR`:
    when no cells off by that much make a block at all, the block is looked for again at
    :data:`RECOLOUR_FINE` of the tolerances, every bar on the colours (the edge's, the ring's, the
    scatter's, a twin's move) scaled with it; the tests stay as they are, and the block must have moved
    as one (its cells' median change at least :data:`RECOLOUR_FINE_SHIFT` of the tolerances in a
    channel: the regen blocks found there 0.14-0.28, a chance block of 14 cells in an unedited
    picture of a collage 0.02). Replayed as above: +13 regen flagged directly, none of the 1,677
    filtered re-shares or the 1,419 re-shares.

    What the offsets are taken against can still be the regenerated region's own shift, in part: the
    cells outside the block then sit off by a fifth of the tolerances or so, and the block's ring two
    cells out fails its bar. With :data:`RECOLOUR_REST`, when no block is kept, the colours are
    re-centred once on the median of the visible cells beyond a square of that side around the largest
    block (at :data:`RECOLOUR`, else :data:`RECOLOUR_FINE`; at least :data:`RECOLOUR_REST_CELLS` of
    them) and every pass runs again (without :data:`RECOLOUR_GROW`). A block whose tests fail may be
    grown (see :func:`_recoloured_block`), and a block whose change rises steadily from its edge
    towards a side of the picture is a graduated filter (:func:`_ramp`). Replayed on the recorded
    inputs of the benchmark's regen singles and the 1,677 filtered re-shares (2026-12-07 #5,
    bench/hc_regen_probe.py): +27 regen flagged directly, none lost; the 17 graduated tints this check
    flagged before no longer flagged, and no filtered re-share or re-share flagged (with the re-centred
    block across what is visible kept, above: +30). A grown block, or the block of the pass re-centred on
    the rest, that reaches across what is visible is not kept (:data:`RECOLOUR_WIDE_ACROSS`): a graduated
    filter with a plateau and a feathered end passes every other test that way (the harness: regen 858 ->
    856 of 903; bench/derivative_plateau_probe.py: 72 -> 47 of 220 filtered re-shares called derivatives)."""
    block = _recoloured_pass(colour, registered, visible, RECOLOUR_GROW)
    if block is not None or not RECOLOUR_REST:
        return block
    seed = _colour_block(colour, visible, RECOLOUR)
    if seed is None and RECOLOUR_FINE:
        seed = _colour_block(colour, visible, RECOLOUR_FINE)
    if seed is None:
        return None
    far = visible & ~(cv2.dilate(seed.astype(np.uint8), np.ones((RECOLOUR_REST, RECOLOUR_REST), np.uint8)) > 0)
    if int(far.sum()) < RECOLOUR_REST_CELLS:
        return None
    block = _recoloured_pass(colour - np.median(colour[far], axis=0), registered, visible, 0.0)
    if block is not None and RECOLOUR_WIDE_ACROSS and _across(block, visible):
        return None
    return block


def _recoloured_pass(colour: np.ndarray, registered: np.ndarray, visible: np.ndarray, grow: float
                     ) -> np.ndarray | None:
    """:func:`_recoloured` about the offsets ``colour`` is taken against: the plain, finer and re-centred
    passes (``grow``: :data:`RECOLOUR_GROW` or 0, see :func:`_recoloured_block`)."""
    block, why = _recoloured_block(colour, registered, visible, grow)
    fine = block is None and why == "no block" and bool(RECOLOUR_FINE)
    if fine:
        colour = colour * (RECOLOUR / RECOLOUR_FINE)
        block, why = _recoloured_block(colour, registered, visible, grow)
    if block is None and why == "spread" and RECOLOUR_RECENTRE:
        colour = colour - np.median(colour[visible], axis=0)
        block, _ = _recoloured_block(colour, registered, visible, grow)
        if block is not None and RECOLOUR_RECENTRED_ACROSS and _across(block, visible):
            return None
    if block is not None and fine:
        # ... and there a block must have moved as one: chance differences of an unedited copy (a
        # collage's picture, resized small) cross the finer bar in a few cells, but each its own way
        moved = np.abs(np.median(colour[block], axis=0)) / _COLOUR_TOLERANCE * (RECOLOUR_FINE / RECOLOUR)
        if float(moved.max()) < RECOLOUR_FINE_SHIFT:
            return None
    return block


def _colour_block(colour: np.ndarray, visible: np.ndarray, share: float) -> np.ndarray | None:
    """The largest connected block of visible cells off by ``share`` of the tolerances (closed, then
    opened with 3 x 3), or None."""
    worst = (np.abs(colour) / _COLOUR_TOLERANCE).max(axis=-1)
    square = np.ones((3, 3), np.uint8)
    closed = cv2.morphologyEx(((worst > share) & visible).astype(np.uint8), cv2.MORPH_CLOSE, square).astype(bool) & visible
    opened = cv2.morphologyEx(closed.astype(np.uint8), cv2.MORPH_OPEN, square) > 0
    count, labels, stats, _ = cv2.connectedComponentsWithStats(opened.astype(np.uint8), connectivity=8)
    if count < 2:
        return None
    return labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def _recoloured_block(colour: np.ndarray, registered: np.ndarray, visible: np.ndarray, grow: float = 0.0
                      ) -> tuple[np.ndarray | None, str]:
    """:func:`_recoloured`'s tests about the offsets ``colour`` is taken against: the block and "", or
    None and why: "no block" (no cells off by :data:`RECOLOUR` making one), "spread" (the block
    too large or not solid) or "failed" (another test).

    A regenerated region whose colours moved little in places (a hue turned on little colour) makes a
    block smaller than the region: the rest of the region lies in its ring, or scattered beside it, and
    the edge or scatter test fails. With ``grow`` (:data:`RECOLOUR_GROW`), a block failing the scatter,
    edge or twin tests is grown into the connected visible cells off by ``grow`` of the tolerances and
    the tests run again on it with every bar on the other cells at ``grow`` as well (a cell off by that
    much elsewhere counts as scattered, and as a twin that moved); the edge test and :func:`_ramp` as
    they are."""
    worst = (np.abs(colour) / _COLOUR_TOLERANCE).max(axis=-1)
    differs = (worst > RECOLOUR) & visible
    block = _colour_block(colour, visible, RECOLOUR)
    if block is None:
        return None, "no block"
    ys, xs = np.nonzero(block)
    square = np.ones((3, 3), np.uint8)
    solid = cv2.erode(block.astype(np.uint8), square, borderType=cv2.BORDER_CONSTANT, borderValue=0).any()
    if not solid or np.ptp(ys) < 3 or np.ptp(xs) < 3:
        return None, "spread"
    why = _block_tests(block, differs, worst, colour, registered, visible, RECOLOUR)
    if why in ("scatter", "edge", "twins") and grow:
        low = (worst > grow) & visible
        _, labels = cv2.connectedComponents((low | block).astype(np.uint8), connectivity=8)
        grown = np.isin(labels, np.unique(labels[block]))
        if not _block_tests(grown, low, worst, colour, registered, visible, grow) \
                and not (RECOLOUR_WIDE_ACROSS and _across(grown, visible)):
            return grown, ""
    if not why:
        return block, ""
    return None, "spread" if why == "spread" else "failed"


def _block_tests(block: np.ndarray, differs: np.ndarray, worst: np.ndarray, colour: np.ndarray,
                 registered: np.ndarray, visible: np.ndarray, level: float) -> str:
    """The tests of a candidate block (:func:`_recoloured_block`): "" when it passes them all, else the
    first failed: "small", "spread" (too large), "scatter", "edge", "twins" or "ramp". ``differs``: the
    cells taken as moved elsewhere, ``level``: how far a twin may have moved from the block's cell to
    have moved alike (shares of the tolerances)."""
    square = np.ones((3, 3), np.uint8)
    share = float(block.sum() / (GRID * GRID))
    if share < MIN_EDIT:
        return "small"
    if share > MAX_EDIT or block.sum() > RECOLOUR_MAX * visible.sum():
        return "spread"
    near = cv2.dilate(block.astype(np.uint8), square) > 0
    rest = visible & ~near & ~_bands(differs & visible & ~near)
    if (differs & rest).sum() > RECOLOUR_SCATTER * max(1, rest.sum()):
        return "scatter"
    # a filter that depends on the colour (clipped saturation or contrast, a curve) moves cells of
    # the same original colour alike wherever they are; a local recolouring leaves the same colour
    # elsewhere as it was. Half the block's cells at least must have a twin in the rest (a cell of
    # the same original colour, within RECOLOUR_TWIN of the tolerances), most of those one left
    # unchanged, and few one that moved as they did.
    colours = registered[block][:, None, :] - registered[rest][None, :, :]
    twins = (np.abs(colours) / _COLOUR_TOLERANCE).max(axis=2) <= RECOLOUR_TWIN
    moved = (np.abs(colour[block][:, None, :] - colour[rest][None, :, :]) / _COLOUR_TOLERANCE).max(axis=2) <= level
    has_twin = twins.any(axis=1)
    alike = (twins & moved & differs[rest][None, :]).any(axis=1)
    unchanged = (twins & ~differs[rest][None, :]).any(axis=1)
    inner = block & ~(cv2.erode(block.astype(np.uint8), square, borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0)
    outer = near & ~block & visible
    # ... and it ends sharply: its edge cells moved clearly, the cells around it did not (a graduated
    # filter, a vignette or a curve fades out gradually)
    if not outer.any() or not (_sharp(worst, block, inner, outer, near, visible)):
        return "edge"
    if has_twin.sum() < RECOLOUR_TWINNED * block.sum() or alike.sum() > RECOLOUR_ALIKE * has_twin.sum() \
            or (unchanged & ~alike).sum() < RECOLOUR_UNCHANGED * has_twin.sum():
        return "twins"
    if _ramp(worst, block, visible):
        return "ramp"
    return ""


def _ramp(worst: np.ndarray, block: np.ndarray, visible: np.ndarray) -> bool:
    """Whether ``block`` is a graduated filter's band (:data:`RECOLOUR_RAMP`): it reaches a side of what
    is visible, and its cells' change (``worst``) rises steadily from its edge inwards. The block's
    cells in layers by their distance (chessboard, in cells) to the nearest visible cell outside it;
    layers of at least 3 cells and of :data:`RECOLOUR_RAMP`'s second share of the first layer's cells
    are kept (a band along a side keeps its width layer after layer, a compact block's layers shrink);
    a ramp has at least the first many of them, each layer's median change no lower than the one
    before, the last at least the third times the first. A graduated tint fading out by mid-height
    rises by about a fifth of the tolerances per cell row from where it ends (the 17 the check flagged
    among bench/derivative_large.py's 1,677 filtered re-shares: 2.1-6.3 times over 3-7 layers); a
    regenerated region's change steps up at its edge and then varies with the content (none of the
    benchmark's regen blocks is a ramp). Not a band: no ramp."""
    if not RECOLOUR_RAMP:
        return False
    layers, share, rise = RECOLOUR_RAMP
    ys, xs = np.nonzero(visible)
    bys, bxs = np.nonzero(block)
    if not (bys.min() <= ys.min() or bys.max() >= ys.max() or bxs.min() <= xs.min() or bxs.max() >= xs.max()):
        return False
    outside = visible & ~block
    if not outside.any():
        return False
    depth = np.round(cv2.distanceTransform(np.where(outside, 0, 1).astype(np.uint8), cv2.DIST_C, 3))
    sizes = [int((block & (depth == d)).sum()) for d in range(1, int(depth[block].max()) + 1)]
    floor = max(3.0, share * sizes[0])
    medians = [float(np.median(worst[block & (depth == d + 1)])) for d, n in enumerate(sizes) if n >= floor]
    return len(medians) >= layers and all(b >= a for a, b in zip(medians, medians[1:])) \
        and medians[-1] >= rise * medians[0]


def _sharp(worst: np.ndarray, block: np.ndarray, inner: np.ndarray, outer: np.ndarray, near: np.ndarray,
           visible: np.ndarray) -> bool:
    """Whether a recoloured block (:func:`_recoloured`) ends sharply: its edge cells (``inner``) moved by
    :data:`RECOLOUR_EDGE`'s first share of the tolerances and the ring of cells around it (``outer``)
    by at most its second (medians). A block whose edge runs through cells rather than along the grid's
    lines (most of them: a region's outline is not the grid's) has both rings partly recoloured, so it
    may instead hold its edge cells to :data:`RECOLOUR_PARTIAL`'s first share, the ring around to
    :data:`RECOLOUR` (the cells there did not join the block) and the ring two cells out to the second
    share: the change is gone within a cell. Not when the block reaches across what is visible, from
    one side to the opposite one: a graduated filter's band does, and ends as steeply where its ramp is
    short (regen uploads of the benchmark: 31 of 903 more flagged directly, the 1,677 filtered re-shares
    of bench/derivative_large.py --filters none; without the condition 25 graduated tints and 1 sepia)."""
    edge_in, edge_out = float(np.median(worst[inner])), float(np.median(worst[outer]))
    if edge_in >= RECOLOUR_EDGE[0] and edge_out <= RECOLOUR_EDGE[1]:
        return True
    if not RECOLOUR_PARTIAL or edge_in < RECOLOUR_PARTIAL[0] or edge_out > RECOLOUR:
        return False
    beyond = (cv2.dilate(block.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0) & ~near & visible
    if not beyond.any() or float(np.median(worst[beyond])) > RECOLOUR_PARTIAL[1]:
        return False
    return not _across(block, visible)


def _across(block: np.ndarray, visible: np.ndarray) -> bool:
    """Whether ``block`` reaches across what is visible, from one side to the opposite one."""
    ys, xs = np.nonzero(visible)
    bys, bxs = np.nonzero(block)
    return bool((bxs.min() <= xs.min() and bxs.max() >= xs.max()) or (bys.min() <= ys.min() and bys.max() >= ys.max()))


def _worst(deltas: tuple, dp: np.ndarray, luma: float | np.ndarray = 24.0) -> np.ndarray:
    """Per cell, the largest of the brightness, chroma, contrast and structure differences, as shares of
    their tolerances (``deltas``: brightness, cb, cr, log spread ratio; ``luma``: the brightness's)."""
    brightness, cb, cr, spread = deltas
    return np.maximum.reduce([np.abs(brightness) / luma, np.maximum(np.abs(cb), np.abs(cr)) / 14.0,
                              np.abs(spread) / 0.6, dp / 5.0])


def _hats(values: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Piecewise-linear (hat) basis of ``values`` on ``knots``: n x len(knots)."""
    v = np.clip(values, knots[0], knots[-1])
    out = np.zeros((len(v), len(knots)))
    k = np.clip(np.searchsorted(knots, v, side="right") - 1, 0, len(knots) - 2)
    t = (v - knots[k]) / (knots[k + 1] - knots[k])
    out[np.arange(len(v)), k] = 1.0 - t
    out[np.arange(len(v)), k + 1] = t
    return out


def _robust_fit(basis: np.ndarray, target: np.ndarray, prior: np.ndarray, tolerance: float,
                use: np.ndarray) -> np.ndarray:
    """Coefficients of ``basis`` fitting ``target`` robustly: least absolute deviations (reweighted)
    from ``prior``, then Cauchy weights at a quarter of ``tolerance``, so that cells off by more than the
    tolerance (an edit) hardly weigh. A light ridge towards ``prior`` keeps parts of the curve with
    no cells in place."""
    scale = 0.25 * tolerance
    ridge = 1e-3 * len(target)
    coef = prior.copy()
    eye = np.eye(len(prior))
    for step in range(TONE_ITERATIONS):
        res = target - basis @ coef
        if step < TONE_ITERATIONS // 2:
            w = 1.0 / np.maximum(np.abs(res), scale)
        else:
            w = 1.0 / (1.0 + (res / scale) ** 2)
        w = np.where(use, w, 0.0)
        w = w / max(w.mean(), 1e-12)
        a = basis.T @ (basis * w[:, None]) + ridge * eye
        coef = np.linalg.solve(a, basis.T @ (w * target) + ridge * prior)
    return coef


def _tone_residuals(r, u, u_std: np.ndarray, visible: np.ndarray, old: tuple,  # noqa: ANN001
                    fit_on: np.ndarray) -> tuple:
    """Brightness, chroma and contrast offsets left after a whole-photo filter, fitted on the cells
    ``fit_on`` (robustly, :func:`_robust_fit`).

    A filter over the whole photo (a tone curve, channel gains, saturation, sepia or black and white,
    a vignette) moves each cell as a smooth function of its own registered colour and of where it
    lies; an edit moves a region, whatever colour it had. Brightness: a piecewise-linear curve of the
    registered brightness (:data:`TONE_KNOTS` knots), a radial gain (vignette) and a linear gradient.
    Each chroma channel: a multiple of itself (0 to :data:`TONE_MAX_SATURATION`) plus a quadratic in
    the brightness (sepia, a tint); no mixing of the two channels and no term for where the cell lies,
    since a hue rotation or a tint in one place is what a region regenerated in new colours shows.
    Contrast (log spread ratio): a curve of the brightness and a radial term. Each channel keeps the
    old offsets (``old``) unless the fit leaves more cells within tolerance."""
    n = GRID
    yy, xx = np.mgrid[0:n, 0:n]
    x = ((xx + 0.5) / n * 2 - 1)[visible]
    y = ((yy + 0.5) / n * 2 - 1)[visible]
    rad = (x * x + y * y) / 2.0
    use = fit_on[visible]
    L = r.mean[visible].astype(np.float64)
    knots = np.linspace(0.0, 255.0, TONE_KNOTS)
    hats = _hats(L, knots)
    ones = np.ones_like(L)
    out = []
    # brightness: g(L) * (1 + a r^2) + gradient ~ g(L) + a L r^2 + b r^2 + c x + d y
    basis = np.column_stack([hats, L * rad / 128.0, rad, x, y])
    prior = np.r_[knots, 0.0, 0.0, 0.0, 0.0]
    target = u.mean[visible].astype(np.float64)
    coef = _robust_fit(basis, target, prior, 24.0, use)
    fitted = np.zeros((n, n))
    fitted[visible] = target - basis @ coef
    out.append(fitted)
    coarse = _hats(L, np.linspace(0.0, 255.0, 5))
    lq = (L - 128.0) / 128.0
    for mine, name in ((r.cb, "cb"), (r.cr, "cr")):
        c = mine[visible].astype(np.float64) - 128.0
        basis = np.column_stack([c, ones, lq, lq * lq])
        prior = np.r_[1.0, 128.0, 0.0, 0.0]
        target = getattr(u, name)[visible].astype(np.float64)
        coef = _robust_fit(basis, target, prior, 14.0, use)
        coef[0] = min(max(coef[0], 0.0), TONE_MAX_SATURATION)  # a filter does not invert or over-boost chroma
        fitted = np.zeros((n, n))
        fitted[visible] = target - basis @ coef
        out.append(fitted)
    ratio = np.log((u_std + 3.0) / (r.std + 3.0))[visible].astype(np.float64)
    basis = np.column_stack([coarse, rad])
    coef = _robust_fit(basis, ratio, np.zeros(6), 0.6, use)
    fitted = np.zeros((n, n))
    fitted[visible] = ratio - basis @ coef
    out.append(fitted)
    result = []
    for new, prev, tol in zip(out, old, (24.0, 14.0, 14.0, 0.6)):
        keep_new = (np.abs(new[visible]) <= tol).sum() > (np.abs(prev[visible]) <= tol).sum()
        result.append(new if keep_new else prev)
    return tuple(result)


def _offset(delta: np.ndarray, anchored: np.ndarray, visible: np.ndarray, tolerance: float) -> np.ndarray:
    """``delta`` (upload minus registered, per cell) less the offset a re-encode, resize or colour
    grade put on every cell: the median over the cells holding consistent keypoints, over every
    visible cell, or none — whichever leaves most visible cells within ``tolerance``. The anchored
    cells alone can mislead: an edit that keeps the structure (a region regenerated from itself,
    recoloured) keeps its keypoints too."""
    best, kept = delta, -1
    for off in (float(np.median(delta[anchored])), 0.0):
        within = int((np.abs(delta[visible] - off) <= tolerance).sum())
        if within > kept:
            best, kept = delta - off, within
    return best


def _beyond_edge(differs: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Cells in the lines (columns or rows of the grid) along a side of the visible part where at
    least :data:`BEYOND_DIFFERS` of the visible cells differ, from that side inwards, when they are
    at least 3 lines and at most :data:`BEYOND_SHARE` of the visible extent and the line after them
    is mostly unchanged (see :func:`_compare`)."""
    out = np.zeros_like(visible, dtype=bool)
    for axis in (0, 1):  # 0: columns (left and right sides), 1: rows (top and bottom)
        seen = visible.sum(axis=axis)
        lines = np.flatnonzero(seen >= 4)
        if len(lines) < 8:
            continue
        share = differs.sum(axis=axis) / np.maximum(seen, 1)
        for order in (lines, lines[::-1]):
            n = 0
            while n < len(order) and share[order[n]] >= BEYOND_DIFFERS:
                n += 1
            # ... ending along a straight line: the next line inwards mostly the same (an edit
            # reaching the side ends unevenly)
            if 3 <= n <= BEYOND_SHARE * len(lines) and share[order[n]] < BEYOND_INSIDE:
                if axis == 0:
                    out[:, order[:n]] = True
                else:
                    out[order[:n], :] = True
    return out & visible


def _own_bands(beyond: np.ndarray, visible: np.ndarray, own) -> np.ndarray:  # noqa: ANN001
    """``beyond`` (:func:`_beyond_edge`) less the bands along a side that ``own(band, side)`` calls the photo's own
    (side: 'left', 'right', 'top', 'bottom'). A side's band: the lines from that side whose visible cells are all in
    ``beyond``."""
    kept = np.zeros_like(beyond)
    dropped = np.zeros_like(beyond)
    for side in ("left", "right", "top", "bottom"):
        lines = range(GRID) if side in ("left", "top") else range(GRID - 1, -1, -1)
        band = np.zeros_like(beyond)
        for k in lines:
            line = (np.s_[:, k] if side in ("left", "right") else np.s_[k, :])
            seen = visible[line]
            if not seen.any():
                continue  # cropped away: the band starts further in
            if not beyond[line][seen].all():
                break
            band[line] = seen
        if not band.any():
            continue
        if own(band, side):
            dropped |= band
        else:
            kept |= band
    return beyond & ~(dropped & ~kept)


def _replaced_band(band: np.ndarray, side: str, dp: np.ndarray, both: np.ndarray, r_std: np.ndarray,
                   u_std: np.ndarray, reg: PhotoFeatures, frame: Frame, matrix: np.ndarray) -> bool:
    """Whether a band along ``side`` that :func:`_beyond_edge` took for a collage's next picture is this photo
    with the band replaced (the review of 2026-12-07 #6, R's N1): the next picture does not keep this photo's
    structure, so a band that keeps it in :data:`BEYOND_KEPT` of its cells textured in both is this photo,
    recoloured or regenerated; and a band flat (one fill) in :data:`BEYOND_FLAT` of its cells that had structure in
    the photo, reaching the upload's border where the photo's own side lies (:data:`BEYOND_FLUSH`: a photo in a
    collage or a screenshot, cropped to its cell, reaches past its picture into the next picture or the app's bars,
    seldom exactly to the upload's border), is a fill laid over this photo's side."""
    textured = band & both
    if int(textured.sum()) >= BEYOND_CELLS and float((dp[textured] <= DENSE_BITS).mean()) >= BEYOND_KEPT:
        return True
    had = band & (r_std >= TEXTURE_STD)
    if int(had.sum()) < BEYOND_CELLS or float((u_std[had] < TEXTURE_STD).mean()) < BEYOND_FLAT:
        return False
    # the photo's side, carried into the upload's frame (as warped: mirrored uploads are flipped first)
    fh, fw = frame.grey.shape
    inverse = cv2.invertAffineTransform(matrix)
    ends = {"left": [[0, 0], [0, reg.frame_h]], "right": [[reg.frame_w, 0], [reg.frame_w, reg.frame_h]],
            "top": [[0, 0], [reg.frame_w, 0]], "bottom": [[0, reg.frame_h], [reg.frame_w, reg.frame_h]]}[side]
    pts = np.array(ends, np.float64) @ inverse[:, :2].T + inverse[:, 2]
    cell = max(fw, fh) / GRID * BEYOND_FLUSH
    if side in ("left", "right"):
        border = 0.0 if pts[:, 0].mean() < fw / 2 else float(fw)
        return bool(np.abs(pts[:, 0] - border).max() <= cell)
    border = 0.0 if pts[:, 1].mean() < fh / 2 else float(fh)
    return bool(np.abs(pts[:, 1] - border).max() <= cell)


def _bands(cells: np.ndarray) -> np.ndarray:
    """Cells of ``cells`` (boolean, GRID x GRID) in thin straight bands: connected parts at most
    :data:`BAND_WIDTH` cells across and at least :data:`BAND_LENGTH` long."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(cells.astype(np.uint8), connectivity=8)
    out = np.zeros_like(cells, dtype=bool)
    for k in range(1, count):
        w, h = stats[k, cv2.CC_STAT_WIDTH], stats[k, cv2.CC_STAT_HEIGHT]
        thin, long = min(w, h), max(w, h)
        if (thin <= BAND_WIDTH and long >= BAND_LENGTH) or (thin <= WIDE_BAND[0] and long >= WIDE_BAND[1]):
            out |= labels == k
    return out


def _cells_to_photo_box(x0: int, y0: int, x1: int, y1: int, reg: PhotoFeatures) -> list[int]:
    sx, sy = reg.width / GRID, reg.height / GRID
    left, top = round(x0 * sx), round(y0 * sy)
    return [left, top, round(x1 * sx) - left, round(y1 * sy) - top]


def _to_photo_pixels(matrix: np.ndarray, reg: PhotoFeatures, frame: Frame, mirrored: bool) -> list[list[float]]:
    """The fitted transform from the upload's own pixels to the registered photo's pixels."""
    fh, fw = frame.grey.shape
    to_frame = np.diag([fw / frame.width, fh / frame.height, 1.0])
    if mirrored:
        to_frame = np.array([[-1.0, 0, fw], [0, 1, 0], [0, 0, 1]]) @ to_frame
    to_photo = np.diag([reg.width / reg.frame_w, reg.height / reg.frame_h, 1.0])
    full = to_photo @ np.vstack([matrix, [0, 0, 1]]) @ to_frame
    return [[round(float(v), 4) for v in row] for row in full[:2]]


_POP = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
# a cell's 16 structure bits (bit 4 * row + column of its 4 x 4 blocks) seen in a mirror: columns reversed
_MIRROR_BITS = sum(((np.arange(1 << 16, dtype=np.uint32) >> (4 * r + c)) & 1) << (4 * r + 3 - c)
                   for r in range(4) for c in range(4)).astype(np.uint16)


def _popcount16(values: np.ndarray) -> np.ndarray:
    v = values.astype(np.uint16)
    return (_POP[v & 0xFF] + _POP[v >> 8]).astype(np.int32)
