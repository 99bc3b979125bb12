"""Tell the digit from specks, scratches and a second digit in an ink map.

After the paper is removed, what is left is ink: the digit, but also dust, a hairline
scratch on a scan, a stray dot -- or a second digit beside the first. :func:`find_digit`
groups the strong ink into *marks* (connected pieces, with pieces close to each other
joined: the bar of a 5 belongs to its body) and decides:

* faint straight hairlines (scratches), thin straight lines along the picture's side
  and lines hugging its border into a corner (what is left of a frame or a scan's
  edge), a rectangle's outline around the page (a form's frame), a row of small
  pieces along a side (a toolbar's icons) and lines straighter than a hand draws that
  are lines of the page (a margin line, a grid line cut short) or, on a surface cut out
  of a scene, lit like a pen lying on it are dropped first;
* the digit is the mark with the most ink, without its pieces far fainter than its
  strongest (a note's shadowed rim next to the digit); marks far smaller than it are
  specks and are wiped out;
* a mark too small to be a digit (a speck or a dot: less than 4% of the image's longer
  side -- or 30% of a strip's height -- or 6 pixels), a solid blob (a blank note), a
  straight bar lying on its side (a sheet's edge, a toolbar's rule) or a faint, straight
  hairline (a scratch) is not a digit: "no digit found";
* two or more marks of a digit's size side by side are several digits: an error that
  says how many, since digitnet reads one digit per image (an upright bar at the
  picture's very side is what is left of a scan's edge, not a second digit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import ImageError
from .morphology import exact_median, label, pool_max, stroke_width

__all__ = ["Mark", "find_digit", "SeveralDigits"]

# Ink at least this strong (0..1, relative to the ink core) forms marks; ink this faint
# between two marks still joins them.
_STRONG = 0.3
_BRIDGE = 0.1
# Marks are found on a copy of the ink map max-pooled to at most this longer side.
_POOLED = 200
# Marks whose gap is at most this share of the larger one's size belong together.
_JOIN = 0.3
# A digit is at least this big: share of the image's longer side, and pixels.
_MIN_SIDE_SHARE = 0.04
_MIN_PIXELS = 6
# ... or of the shorter side, for strips (a digit in a 700x50 banner).
_MIN_STRIP_SHARE = 0.3
# Another mark is a digit too when it has this share of the main one's ink, this share of
# its height, and overlaps it vertically by half the smaller height.
_OTHER_MASS = 0.1
_OTHER_HEIGHT = 0.6
# ... with a clear gap between them: this share of the taller one's height.
_GAP = 0.08
# A straight mark thinner than this (pixels) and fainter than this (contrast, 0..1) is a
# hairline scratch.
_HAIRLINE = 2.0
_FAINT = 0.5
# A mark whose spread across its main axis is below this share of its length is a
# straight bar; one whose axis is more than this many degrees from upright lies down.
_BAR = 0.08
_LYING = 55.0
# A mark whose stroke is wider than this share of its longer side is a solid blob, no
# digit (bold digits: about 0.2; a filled square 0.64, a disc 0.5).
_SOLID = 0.35
# ... or whose strong ink alone (> _STRONG) is wider than this share: a textured blank
# note (paper grain, JPEG blocks) has many grey edges inside, which make it look thin
# (bold digits: up to about 0.33 this way, a filled square 0.7).
_SOLID_MASK = 0.45
# ... in pictures at least this big (longer side): a 28x28 MNIST digit may be a blot.
_SOLID_MIN_SIDE = 96
# A piece is a scratch when it is at most this wide (pooled pixels), at least this long,
# straight, and its ink at most this strong (relative to the strongest, 0..1).
_HAIRLINE_POOLED = 1.6
_MIN_SCRATCH = 5
_FAINT_PIECE = 0.55
# ... and any straight piece this long (share of the longer side) and at most this wide
# (share of it) is a leftover edge or frame line; a ruler-straight one this near the
# border (share of the side across it) and this long along its own side of the picture,
# up to _EDGE_WIDTH wide, too.
_EDGE_LINE = 0.8
_EDGE_THIN = 0.02
_EDGE_WIDTH = 0.03
_EDGE_NEAR = 0.06
# ... and it is straighter than a hand can draw: its spread across, share of its length.
_EDGE_STRAIGHT = 0.02
# A piece of the digit's mark whose ink is weaker than this share of its strongest
# piece's is no stroke of the digit (see _without_faint_pieces).
_FAINTER = 0.55
# An upright bar (its box at most this share as wide as tall) within this share of the
# width from the picture's side is no second digit.
_EDGE_BAR = 0.12
_EDGE_TOUCH = 0.02
# A rectangle's outline (a frame around the page): its box spans this share of the
# picture both ways, this share of its pixels lie within _OUTLINE_BAND of the longer
# side from its box's sides, and each side is drawn along this share of its length.
_OUTLINE_SPAN = 0.5
_OUTLINE_BAND = 0.02
_OUTLINE_ALONG = 0.9
_OUTLINE_DRAWN = 0.75
# ... and other ink inside it, at least this share of its own.
_OUTLINE_HOLDS = 0.05
# A piece with at most _HUG_STRAY of its pixels further than _HUG of the side across
# from the picture's sides, running along _HUG_ALONG of the longer side and reaching into
# a corner, is what is left of an edge or a frame.
_HUG = 0.04
_HUG_ALONG = 0.25
_HUG_STRAY = 0.2
# _ICONS or more pieces at most _ICON of the longer side big, in a row along a side
# within _TOOLBAR of it, are a toolbar's icons.
_ICONS = 4
_ICON = 0.06
_TOOLBAR = 0.15
# A piece straighter than a hand draws -- its ink's centreline within _RULER_RMS pixels
# (root mean square) of a straight line along at least _RULER_LENGTH pixels -- is a
# margin line, a grid line cut short or a canvas's edge when it is at most _RULER_THIN
# of the longer side wide and a line of the page (see _ruler_lines); and a pen lying on
# the sheet when the picture was cut out of a scene (a desk) and the line is lighter
# along its middle by _SHINE (ink strength, 0..1) than at its sides. Written 1s of the
# scene set that are long enough to be measured: 0.56 px and more; pens and ruled lines
# on it: 0.28 px and less.
_RULER_RMS = 0.35
_RULER_LENGTH = 100
_RULER_THIN = 0.01
_SHINE = 0.2
# A line reaches a side of the picture when its ink comes this close (pixels; or a
# pooled pixel, if that is more).
_RULER_REACH = 3
# ... measured on at most this many rows across it.
_RULER_ROWS = 128
# Pieces with less than this share of the largest piece's pixels are specks.
_TINY = 0.02
# Only the largest marks are looked at individually; the rest are specks.
_MAX_MARKS = 64


class SeveralDigits(ImageError):
    """The image holds several digits side by side; ``count`` says how many, ``marks``
    lists their :class:`Mark` (the one with the most ink first)."""

    def __init__(self, count: int, marks: list | None = None):
        self.count, self.marks = count, marks or []
        super().__init__(f"{count} digits found side by side; digitnet reads one digit per "
                         "image (crop it to the one you want)")


@dataclass
class Mark:
    """A group of ink pieces: its box (r0, r1, c0, c1) in pixels, end-exclusive, its
    pieces' labels on the pooled map, and its ink mass (pooled pixels)."""

    box: tuple[int, int, int, int]
    labels: list
    mass: float

    @property
    def height(self) -> int:
        return self.box[1] - self.box[0]

    @property
    def width(self) -> int:
        return self.box[3] - self.box[2]


def find_digit(ink: np.ndarray, contrast: float = 1.0,
               cut_out: bool = False) -> tuple[np.ndarray, Mark, list]:
    """The digit in an ink map ``ink`` (H, W), 0..1: (ink without specks, its mark, the
    other marks).

    ``contrast`` is the ink's strength in brightness units before it was stretched to
    1.0 (0..1), which tells a faint scratch from a pen stroke. ``cut_out``: the map is
    a writing surface cut out of a scene (a desk, a frame or a toolbar around it), where
    ruler-straight lines are things lying about, not writing. Raises
    :class:`ImageError` ("no digit found") or :class:`SeveralDigits`.
    """
    h, w = ink.shape
    f = max(1, math.ceil(max(h, w) / _POOLED))
    strongest = pool_max(ink, f)   # thresholds commute with the max: one pooling for all
    faint = strongest > _BRIDGE
    labels, n = label(strongest > _STRONG)
    labels, strength, boxes = _drop_scratches(labels, n, strongest, ink, f, cut_out)
    if not labels.any():
        raise ImageError("no digit found")
    marks = _marks(labels, n, f, (h, w), faint, boxes)
    main = max(marks, key=lambda m: m.mass)
    others = [m for m in marks if m is not main]
    main = _without_faint_pieces(main, labels, strength, faint, f, (h, w))

    if not _plausible(main, ink, contrast):
        raise ImageError("no digit found")
    beside = [m for m in others if _is_digit_beside(m, main, faint, f, w)]
    if beside:
        raise SeveralDigits(1 + len(beside), [main] + beside)

    # Wipe the specks and other marks: every piece that is not part of the digit.
    if others or np.count_nonzero(np.bincount(labels.ravel())[1:]) > len(main.labels):
        keep = np.zeros(n + 1, bool)
        keep[main.labels] = True
        speck = ~keep[labels] & (labels > 0)
        if speck.any():
            full = np.repeat(np.repeat(speck, f, axis=0), f, axis=1)[:h, :w]
            ink = np.where(full, np.float32(0.0), ink)
    return ink, main, others


def _drop_scratches(labels: np.ndarray, n: int, strongest: np.ndarray, ink: np.ndarray,
                    f: int, cut_out: bool):
    """``labels`` without the pieces that are scratches: straight, a pooled pixel or so
    wide, and faint next to the strongest ink (a pen stroke is drawn at full strength);
    each piece's strength, (n + 1,) indexed by label (0..1, see below); and each piece's
    box on the pooled map (:func:`_piece_boxes`). ``strongest``: the ink map ``ink``
    max-pooled by ``f`` as ``labels`` is; ``cut_out`` as for :func:`find_digit`.

    The pieces' shapes come from their pixels' moments, all pieces at once.
    """
    rows, cols = np.nonzero(labels)
    lab = labels[rows, cols]
    k = n + 1
    boxes = _piece_boxes(lab, rows, cols, k, labels.shape)
    if rows.size == 0:
        return labels, np.zeros(k), boxes
    count = np.bincount(lab, minlength=k).astype(np.float64)
    count[0] = 1.0
    mean_r = np.bincount(lab, rows, k) / count
    mean_c = np.bincount(lab, cols, k) / count
    var_r = np.bincount(lab, rows.astype(np.float64) ** 2, k) / count - mean_r ** 2
    var_c = np.bincount(lab, cols.astype(np.float64) ** 2, k) / count - mean_c ** 2
    cov = np.bincount(lab, rows.astype(np.float64) * cols, k) / count - mean_r * mean_c
    # Eigenvalues of each piece's 2x2 covariance: spread along and across its main axis.
    half = (var_r + var_c) / 2
    root = np.sqrt(np.maximum(((var_r - var_c) / 2) ** 2 + cov ** 2, 0.0))
    along, across = half + root, np.maximum(half - root, 0.0)
    length = np.sqrt(12 * np.maximum(along, 1e-9))
    # How strong each piece's ink is: the mean, over its pooled pixels, of the strongest
    # ink in each pooled cell.
    strength = np.bincount(lab, strongest[rows, cols], k) / count
    straight = np.sqrt(across) < 0.05 * length
    scratch = ((count / length < _HAIRLINE_POOLED) & straight
               & (length >= _MIN_SCRATCH) & (strength < _FAINT_PIECE))
    # A thin straight line across most of the picture is an edge or a frame line that
    # was left over (a scanner's edge, wavering, a margin line), however strong.
    side = max(labels.shape)
    scratch |= straight & (length >= _EDGE_LINE * side) & (count / length < _EDGE_THIN * side)
    # So is a ruler-straight line close to the border that runs most of the picture's
    # side along it -- its height when upright, however wide the picture (a landscape
    # scan's edge) -- if not too bold (a hairline 1 stands further in).
    upright = var_r >= var_c
    along_side = np.where(upright, labels.shape[0], labels.shape[1])
    across_at = np.where(upright, mean_c / labels.shape[1], mean_r / labels.shape[0])
    near = np.minimum(across_at, 1.0 - across_at) < _EDGE_NEAR
    ruler = np.sqrt(across) < _EDGE_STRAIGHT * length
    scratch |= (ruler & near & (length >= _EDGE_LINE * along_side)
                & (count / length < _EDGE_WIDTH * side))
    scratch |= _outlines(labels, boxes, rows, cols, lab, k, count)
    scratch |= _hugging_the_border(labels.shape, boxes, rows, cols, lab, k, count)
    scratch |= _toolbar_icons(labels.shape, boxes)
    scratch |= _ruler_lines(labels, boxes, ink, f, straight & (length * f >= _RULER_LENGTH),
                            cut_out)
    scratch[0] = False
    if not scratch.any():
        return labels, strength, boxes
    return np.where(scratch[labels], 0, labels), strength, boxes


def _hugging_the_border(shape, boxes, rows, cols, lab, k, count) -> np.ndarray:
    """(k,) bool: which pieces lie along the picture's border -- most of their pixels
    in the band along its sides, _HUG of the height (top, bottom) or width (left, right)
    deep -- run along _HUG_ALONG of its longer side or more, and reach into a corner of
    that band: a scan's dark edge or a frame's lines left at the border, soft, bent round
    a corner or cut by the border across (no long straight line, so not dropped as one).
    A digit at the end of a strip is shorter than that; a thin 1 near a side stands
    clear of the corners."""
    h, w = shape
    bh, bw = max(2, round(_HUG * h)), max(2, round(_HUG * w))
    near = (rows < bh) | (rows >= h - bh) | (cols < bw) | (cols >= w - bw)
    inside = count - np.bincount(lab, near, k)
    r0, r1, c0, c1 = boxes
    long = np.maximum(r1 - r0, c1 - c0) >= _HUG_ALONG * max(h, w)
    # ... and reach a corner: what is left of an edge runs into the border across it,
    # as a thin 1 standing near the side, well inside the picture's height, does not.
    corner = (((r0 < bh) | (r1 > h - bh)) & ((c0 < bw) | (c1 > w - bw)))
    return (inside <= _HUG_STRAY * count) & long & corner


def _ruler_lines(labels, boxes, ink: np.ndarray, f: int, straight: np.ndarray,
                 cut_out: bool) -> np.ndarray:
    """(k,) bool: which of the ``straight`` pieces (long and straight by their moments)
    are straighter than a hand draws -- their ink's centreline, measured on the full ink
    map ``ink`` (pooled by ``f`` into ``labels``), lies within _RULER_RMS pixels of a
    straight line -- and are no stroke: thin (at most _RULER_THIN of the picture's
    longer side) and running into its border (a margin line, a grid line cut short, a
    canvas's edge), or, in a picture ``cut_out`` of a scene, lit like a pen lying on the
    sheet, a lighter stripe along its middle. "Running into the border", a line of the
    page, is reaching two opposite sides, or one while standing within _EDGE_NEAR of a
    side along it, or any side of a surface cut out of a scene: a thin 1 cut by a tight
    crop reaches one side, well inside the picture. A hand-written 1, however straight,
    wavers by more; a 1 drawn with a line tool is as wide as a pen draws and as evenly
    dark as ink.

    Each piece is measured on at most _RULER_ROWS rows of its box across its run (the
    box's rows for an upright piece, its columns for a lying one; a slanted line is cut
    obliquely, and its length counts along the box's longer side), evenly spread, so
    that a page of long diagonal lines (each one's box the whole page) stays cheap.
    """
    H, W = ink.shape
    r0, r1, c0, c1 = boxes
    out = np.zeros(straight.size, bool)
    if max(H, W) < _RULER_LENGTH:
        return out
    for i in np.flatnonzero(straight):
        cells = labels[r0[i]:r1[i], c0[i]:c1[i]] == i
        top, left = r0[i] * f, c0[i] * f
        region = ink[top:r1[i] * f, left:c1[i] * f]
        # Which of the picture's sides (top, bottom, left, right) the line's ink reaches,
        # to within _RULER_REACH pixels (a ruling may stop just short of the page's edge).
        # (The rows of the box within reach of a side; none if it stands further in.)
        reach = max(f, _RULER_REACH)
        ends = [_inked(region, cells, f, slice(0, max(0, reach - top))),
                _inked(region, cells, f, slice(max(0, H - reach - top), None)),
                _inked(region.T, cells.T, f, slice(0, max(0, reach - left))),
                _inked(region.T, cells.T, f, slice(max(0, W - reach - left), None))]
        lying = region.shape[1] > region.shape[0]
        # Where it stands across its run, as a share of the picture's side across it.
        at = ((left + region.shape[1] / 2) / W if not lying else (top + region.shape[0] / 2) / H)
        # A line of the page runs across it (both opposite sides), stands at its very side,
        # or is what is left of the scene around a cut-out surface; a thin 1 cut by a
        # tight crop reaches one side only, well inside the picture.
        page_line = (any(ends) and ((ends[0] and ends[1]) or (ends[2] and ends[3]) or cut_out
                                    or min(at, 1 - at) < _EDGE_NEAR))
        if lying:  # measure across the line's run
            region, cells = region.T, cells.T
        n = region.shape[0]
        take = np.arange(n)
        if n > _RULER_ROWS:
            take = np.arange(_RULER_ROWS) * (n - 1) // (_RULER_ROWS - 1)
        rows = region[take]
        mask = np.repeat(cells[take // f], f, axis=1)[:, :rows.shape[1]] & (rows > _STRONG)
        weight = np.where(mask, rows, np.float32(0))
        rms, width = _line_shape(weight, take)
        if rms <= _RULER_RMS:
            out[i] = ((page_line and width <= _RULER_THIN * max(H, W))
                      or (cut_out and _shine(weight) >= _SHINE))
    return out


def _inked(region: np.ndarray, cells: np.ndarray, f: int, rows: slice) -> bool:
    """Does a piece (``cells``, its pooled mask; ``region``, the full ink map under its
    box, ``f`` times as big) hold strong ink on these ``rows`` of its box?"""
    ink = region[rows]
    if ink.size == 0:
        return False
    first = rows.indices(region.shape[0])[0]
    piece = np.repeat(cells[(first + np.arange(ink.shape[0])) // f], f, axis=1)
    return bool((ink > _STRONG)[piece[:, :ink.shape[1]]].any())


def _line_shape(weight: np.ndarray, along: np.ndarray) -> tuple[float, float]:
    """How far a line's ink wavers and how wide it is, in pixels. ``weight`` (n, w): the
    ink on n rows across the line (0 off it), which lie at ``along`` (n,) pixels along it.

    The root mean square distance of its centreline -- the ink-weighted mean position
    across it, row by row -- from the straight line fitted to it, leaving out a twentieth
    at each end (a pen's tip, a rounded cap), infinite when the line is shorter than
    _RULER_LENGTH; and its inked pixels per row.
    """
    total = weight.sum(axis=1)
    inked = np.flatnonzero(total > 0)
    if inked.size < 5 or along[inked[-1]] - along[inked[0]] + 1 < _RULER_LENGTH:
        return math.inf, math.inf
    weight, total = weight[inked], total[inked]
    across = (weight @ np.arange(weight.shape[1], dtype=np.float32)) / total
    end = inked.size // 20
    t = along[inked][end:inked.size - end].astype(np.float64)
    y = across[end:inked.size - end].astype(np.float64)
    t -= t.mean()
    slope = float(t @ (y - y.mean())) / float(t @ t)
    residual = y - y.mean() - slope * t
    width = np.count_nonzero(weight) / inked.size
    return math.sqrt(float(residual @ residual) / residual.size), width


def _shine(weight: np.ndarray) -> float:
    """How much lighter a line (``weight`` (n, w): its ink on n rows across it) is along
    its middle than at its sides, in ink strength 0..1: the median over its rows of the
    deepest dip between stronger ink on both sides -- a pen's shine. A drawn stroke is
    evenly dark across (about 0); a pen lit from above, 0.3-0.4."""
    inked = weight[weight.any(axis=1)]
    if inked.size == 0:
        return 0.0
    walls = np.minimum(np.maximum.accumulate(inked, axis=1),
                       np.maximum.accumulate(inked[:, ::-1], axis=1)[:, ::-1])
    return exact_median((walls - inked).max(axis=1))


def _toolbar_icons(shape, boxes) -> np.ndarray:
    """(k,) bool: which pieces are a toolbar's icons -- _ICONS or more small pieces
    (each at most _ICON of the picture's longer side) in a row along one of its sides,
    within _TOOLBAR of it: their middles across that side lie within one icon's size of
    each other. A screenshot's toolbar, when the surface finder left it on the canvas,
    lines its icons up so; a digit's pieces do not."""
    h, w = shape
    r0, r1, c0, c1 = boxes
    icon = _ICON * max(h, w)
    small = (r1 - r0 <= icon) & (c1 - c0 <= icon)
    small[0] = False  # the background's box is empty
    out = np.zeros(small.size, bool)
    mid_r, mid_c = (r0 + r1) / 2, (c0 + c1) / 2
    size = np.maximum(r1 - r0, c1 - c0)
    for across, extent in ((mid_r, h), (mid_c, w)):  # rows of icons, then columns
        zone = small & ((across <= _TOOLBAR * extent) | (across >= (1 - _TOOLBAR) * extent))
        idx = np.flatnonzero(zone)
        if idx.size < _ICONS:
            continue
        idx = idx[np.argsort(across[idx])]
        # Split into rows where the middles jump by more than the icons' typical size.
        typical = exact_median(size[idx])
        breaks = np.flatnonzero(np.diff(across[idx]) > typical) + 1
        for group in np.split(idx, breaks):
            if group.size >= _ICONS:
                out[group] = True
    return out


def _piece_boxes(lab, rows, cols, k: int, shape):
    """Each piece's box (r0, r1, c0, c1), end-exclusive, as (k,) arrays indexed by
    label, from its pixels (``rows``, ``cols``, labels ``lab``) on a map of ``shape``."""
    h, w = shape
    r0, r1 = np.full(k, h, np.int64), np.zeros(k, np.int64)
    c0, c1 = np.full(k, w, np.int64), np.zeros(k, np.int64)
    np.minimum.at(r0, lab, rows)
    np.maximum.at(r1, lab, rows + 1)
    np.minimum.at(c0, lab, cols)
    np.maximum.at(c1, lab, cols + 1)
    return r0, r1, c0, c1


def _outlines(labels, boxes, rows, cols, lab, k, count) -> np.ndarray:
    """(k,) bool: which pieces are a rectangle's outline -- a frame printed or drawn
    around the page, a picture frame: thin, spanning over half the picture both ways,
    nearly all of its pixels along the sides of its own box, and each of the four sides
    mostly drawn, with other ink inside. A digit leaves whole sides of its box empty (a
    7's bar and upright cover two); a square 0 has nothing inside (a dotted one has)."""
    h, w = labels.shape
    if max(h, w) < _SOLID_MIN_SIDE // 2:
        return np.zeros(k, bool)
    r0, c0 = boxes[0], boxes[2]
    r1, c1 = boxes[1] - 1, boxes[3] - 1   # the last row and column
    bh, bw = r1 - r0 + 1, c1 - c0 + 1
    big = (bh >= _OUTLINE_SPAN * h) & (bw >= _OUTLINE_SPAN * w)
    big[0] = False
    if not big.any():
        return big
    band = max(2, round(_OUTLINE_BAND * max(h, w)))
    top, bottom = rows - r0[lab] < band, r1[lab] - rows < band
    left, right = cols - c0[lab] < band, c1[lab] - cols < band
    along = np.bincount(lab, top | bottom | left | right, k)
    outline = big & (along >= _OUTLINE_ALONG * count)
    # How much of each side is drawn: the distinct positions along it that hold ink.
    for near, pos, size, length in ((top, cols, w, bw), (bottom, cols, w, bw),
                                    (left, rows, h, bh), (right, rows, h, bh)):
        held = np.zeros(k * size, bool)  # (label, position) pairs; np.unique would
        held[lab[near] * size + pos[near]] = True  # import numpy.ma on the classify path
        drawn = np.flatnonzero(held) // size
        outline &= np.bincount(drawn, minlength=k) >= _OUTLINE_DRAWN * length
    # A frame is drawn around something: other ink lies inside it. A square 0 holds
    # nothing (and a blank page's frame is left for the later checks).
    for i in np.flatnonzero(outline):
        inside = labels[r0[i] + band:r1[i] - band + 1, c0[i] + band:c1[i] - band + 1]
        held = np.count_nonzero((inside > 0) & (inside != i))
        outline[i] = held >= max(_MIN_PIXELS, _OUTLINE_HOLDS * count[i])
    return outline


def _without_faint_pieces(main: Mark, labels: np.ndarray, strength: np.ndarray,
                          faint: np.ndarray, f: int, shape) -> Mark:
    """``main`` without its pieces far fainter than its strongest one and apart from it
    (``strength`` by label, ``labels`` the pooled map, ``faint`` the pooled map of even
    faint ink, ``f`` the pooling, ``shape`` the ink map's (h, w)).

    A pen draws all of a digit's strokes about as strong, and the stretched ink map puts
    them at 0.85-1.0. The shadowed rim of a note or a sheet, 0.3-0.45, lies close enough
    to the digit to join its mark, and would be read as part of it; but paper lies between
    them. A stroke that only thins (faint ink still joins it to the rest) stays. Only
    pieces of the digit's own mark are compared: elsewhere on the page a binder hole or
    a frame may be far stronger than a pencil digit.
    """
    s = strength[main.labels]
    weak = s < _FAINTER * s.max()
    if not weak.any():
        return main
    # Each piece lies inside one component of the faint map (strong ink is faint ink too).
    joined, _ = label(faint)
    part = np.zeros(len(strength), joined.dtype)
    part[labels] = joined
    strong_parts = {int(part[lab]) for lab, w in zip(main.labels, weak) if not w}
    keep = [lab for lab, w in zip(main.labels, weak) if not w or part[lab] in strong_parts]
    if len(keep) == len(main.labels):
        return main
    chosen = np.zeros(len(strength), bool)
    chosen[keep] = True
    mask = chosen[labels]
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    box = _pixel_box(rows[0], rows[-1] + 1, cols[0], cols[-1] + 1, f, shape)
    return Mark(box, keep, float(np.count_nonzero(mask)))


def _pixel_box(r0, r1, c0, c1, f: int, shape) -> tuple[int, int, int, int]:
    """A box (end-exclusive) on the map pooled by ``f`` in pixels of the (h, w) map."""
    h, w = shape
    return int(r0) * f, min(h, int(r1) * f), int(c0) * f, min(w, int(c1) * f)


def _clear_gap(a, b, faint: np.ndarray) -> bool:
    """Can a vertical line pass between boxes a and b (r0, r1, c0, c1; same units as
    ``faint``), where they overlap vertically, without touching even faint ink? Blur or
    a light stroke joining two pieces makes them one digit."""
    top, bottom = max(a[0], b[0]), min(a[1], b[1])
    left, right = (a[3], b[2]) if a[3] <= b[2] else (b[3], a[2])
    if bottom <= top or right <= left:
        return False
    return not faint[top:bottom, left:right].any(axis=0).all()


def _marks(labels: np.ndarray, n: int, f: int, shape, faint: np.ndarray,
           piece_boxes) -> list:
    """Pieces of ink (components of the pooled map) grouped into marks; ``piece_boxes``
    the pieces' boxes (:func:`_piece_boxes`)."""
    flat = labels.ravel()
    counts = np.bincount(flat, minlength=n + 1)[1:]
    order = np.argsort(-counts)[:_MAX_MARKS] + 1  # the largest pieces, by label
    order = order[counts[order - 1] > 0]  # (scratches were dropped)
    r0, r1, c0, c1 = piece_boxes
    # Specks (pieces far smaller than the largest) join no mark: a dust grain beside a
    # thin 1, or the crossings a grid leaves behind, must not widen the digit's box.
    tiny = counts[order - 1] < _TINY * counts[order[0] - 1]
    order = order[~tiny]
    groups = [[int(i)] for i in order]
    boxes = [[r0[i], r1[i], c0[i], c1[i]] for i in order]
    masses = [float(counts[i - 1]) for i in order]
    # Join marks that lie close together, until nothing changes (few marks: a loop is fine).
    merged = True
    while merged:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                a, b = boxes[i], boxes[j]
                gap = max(b[0] - a[1], a[0] - b[1], b[2] - a[3], a[2] - b[3], 0)
                size = max(a[1] - a[0], a[3] - a[2], b[1] - b[0], b[3] - b[2])
                if gap <= _JOIN * size and not _side_by_side(a, b, faint):
                    groups[i] += groups.pop(j)
                    boxes[i] = [min(a[0], b[0]), max(a[1], b[1]),
                                min(a[2], b[2]), max(a[3], b[3])]
                    boxes.pop(j)
                    masses[i] += masses.pop(j)
                    merged = True
                    break
            if merged:
                break
    return [Mark(_pixel_box(*b, f, shape), g, m) for g, b, m in zip(groups, boxes, masses)]


def _side_by_side(a, b, faint) -> bool:
    """Two boxes that are each a digit's height and sit beside each other, not above or
    inside one another, stay apart even when close: "42" written tightly."""
    ha, hb = a[1] - a[0], b[1] - b[0]
    overlap = min(a[1], b[1]) - max(a[0], b[0])
    apart = max(b[2] - a[3], a[2] - b[3]) > max(1, _GAP * max(ha, hb))
    return (apart and overlap >= 0.75 * min(ha, hb) and min(ha, hb) >= 0.75 * max(ha, hb)
            and min(a[3] - a[2], b[3] - b[2]) >= 0.3 * min(ha, hb)
            and _clear_gap(a, b, faint))


def _is_digit_beside(m: Mark, main: Mark, faint: np.ndarray, f: int, w: int) -> bool:
    """Is ``m`` a second digit beside the digit ``main``: a mark of a digit's size and
    ink, level with it, with paper between them? An upright bar at the picture's very
    side (``w`` its width in pixels) is not: what is left of a scan's edge or a frame,
    shorter than the side."""
    if (m.width <= _EDGE_BAR * m.height
            and min(m.box[2], w - m.box[3]) <= _EDGE_TOUCH * w):
        return False
    overlap = min(m.box[1], main.box[1]) - max(m.box[0], main.box[0])
    gap = max(m.box[2] - main.box[3], main.box[2] - m.box[3])
    apart = gap > max(1, _GAP * max(m.height, main.height))
    return (apart and m.mass >= _OTHER_MASS * main.mass
            and m.height >= _OTHER_HEIGHT * main.height
            and overlap >= 0.5 * min(m.height, main.height)
            and _clear_gap([v // f for v in m.box], [v // f for v in main.box], faint))


def _plausible(main: Mark, ink: np.ndarray, contrast: float) -> bool:
    """Is the main mark big enough to be a digit, not a solid blob, not a faint straight
    hairline, and not a straight bar lying on its side?"""
    h, w = ink.shape
    side = max(main.height, main.width)
    if side < max(_MIN_PIXELS, min(_MIN_SIDE_SHARE * max(h, w), _MIN_STRIP_SHARE * min(h, w))):
        return False
    r0, r1, c0, c1 = main.box
    piece = ink[r0:r1, c0:c1] > _STRONG
    if max(h, w) >= _SOLID_MIN_SIDE and (_stroke_share(ink[r0:r1, c0:c1]) > _SOLID or
                                         _stroke_share(piece) > _SOLID_MASK):
        return False  # a solid blob: a blank sheet, a sticky note, an ink blot
    ys, xs = np.nonzero(piece)
    if ys.size < 3:
        return False
    # The spread along and across the mark's main axis: eigenvalues of the 2x2
    # covariance of its pixels' positions, in closed form; and the axis' direction.
    y, x = ys.astype(np.float64), xs.astype(np.float64)
    var_y, var_x = float(y.var()), float(x.var())
    cov = float(((y - y.mean()) * (x - x.mean())).mean())
    half, root = (var_y + var_x) / 2, math.hypot((var_y - var_x) / 2, cov)
    length = math.sqrt(12 * max(half + root, 1e-9))
    across = math.sqrt(max(half - root, 0.0))
    # A straight bar far from upright is no digit: the only straight digit is a 1, and a
    # 1 stands (slanted up to ~35 deg). What lies on its side is the edge of a sheet, a
    # frame's side, a toolbar's rule or a shadow's border left over.
    from_vertical = math.degrees(math.atan2(abs(2 * cov), var_y - var_x)) / 2
    if across < _BAR * length and from_vertical > _LYING:
        return False
    if contrast >= _FAINT:
        return True
    # Straight and thin: the spread across the mark's main axis is tiny, and its
    # area over its length (the stroke width) is a hairline's.
    width = ys.size / length
    return not (width < _HAIRLINE and across < 0.05 * length)


def _stroke_share(piece: np.ndarray) -> float:
    """Mean stroke width of an ink map (h, w) as a share of its longer side, measured on
    a copy max-pooled to at most ~128 px a side (a thin stroke stays) and framed by a
    pixel of paper, so that strokes running into its edges have an outline there too."""
    pooled = np.pad(pool_max(piece, max(1, max(piece.shape) // 128)), 1)
    return stroke_width(pooled) / (max(pooled.shape) - 2)
