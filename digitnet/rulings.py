"""Remove the rulings of lined and squared paper (and stray frame lines) from an ink map.

A ruling is a thin line running across the page; a digit is a few strokes in one place.
:func:`remove_rulings` first measures how far the page is turned (the slope that piles
the ink into the sharpest row profile) and shears the map so that the rulings run along
the rows. A grey-level *opening* along the rows -- a running minimum, then a running
maximum, over a quarter of the width -- keeps only what runs on that far: the rulings,
not the digit. Rows that such lines cover for at least half their length (of what lies
in the picture) are ruled; thin bands of them are cleared, except where the ink is
clearly stronger than the line -- and, on a ruled page, where the band holds clearly
more or darker ink than the line's own, along more of it than the band is thick (a
stroke drawn on the line, not the line drifting or another ruling crossing it) -- and a
stroke crossing the band is carried through it from the rows on either side. Then the
same for the columns. A single line as strong as the ink is left alone (it may be the
bar of a 4 in a narrow canvas); rulings are fainter, or come several to a page. Among several, a line far stronger than the typical one
stays too (a 7's bar along a ruling) -- unless such lines come evenly spaced, several
faint lines apart, across the page: a grid's major lines. When the rulings are far
fainter than the ink, what is left of them (where a line wavers or breaks) is faded.
"""

from __future__ import annotations

import numpy as np

from .morphology import exact_median, pool_max, running

__all__ = ["remove_rulings"]

# Lines are what survives an opening along the rows with a window of this share of the
# width; a row is ruled where lines stronger than _RULED cover _COVER of it (a grid
# printed inside a margin covers less than all of it; a digit's bar far less).
_LINE_SHARE = 0.25
# Rows shorter than this share of the picture's longer side carry no rulings.
_ACROSS = 0.5
_RULED = 0.05
_COVER = 0.5
# Bands of ruled rows thicker than this share of the image side are not rulings (a
# digit that fills the image, a solid bar): they are left alone.
_MAX_BAND = 0.04
# A ruling is at most this strong (relative to the ink core), unless there are at least
# _SEVERAL of them (a blank ruled page: the rulings are the strongest thing on it).
_FAINTER = 0.7
_SEVERAL = 3
# A band stronger than this many times the typical ruling (plus _MARGIN) is a stroke.
_STRONGER = 2.5
_MARGIN = 0.1
# Ink this much stronger than the line under it is a stroke drawn across the line --
# where the band holds more ink than the line's typical by this share of it (a thin
# line's own ink varies by up to a third as it drifts from row to row), or ink this much
# darker than the line's typical strongest pixel (a fine pen along a bold ruling).
_ABOVE = 0.25
_MORE_INK = 0.5
_DARKER = 0.35
# After removing several rulings fainter than this (relative to the ink core), ink up to
# this many times their typical strength is what is left of them.
_FAINT_RULINGS = 0.45
_REMNANT = 1.25


def remove_rulings(ink: np.ndarray) -> np.ndarray:
    """``ink`` (H, W), 0 = paper .. 1 = ink, without horizontal and vertical rulings.

    A page photographed or scanned slightly turned has tilted rulings: the tilt is
    measured first (:func:`_skew`) and the map sheared so that they run straight along
    the rows, and back afterwards. Returns a new array (or ``ink`` itself when there
    are no rulings).
    """
    t = _skew(ink)
    sheared = _shear(ink, t)
    rows, level_r = _remove_rows(sheared, _seen(t, ink.shape))
    # Nothing removed (the usual page): shearing back would only rebuild ``ink``.
    rows = ink if rows is sheared else _unshear(rows, t, ink.shape)
    across = rows.T
    u = _skew(across)  # a photo's perspective turns the two families differently
    sheared = _shear(across, u)
    cols, level_c = _remove_rows(sheared, _seen(u, across.shape))
    cols = across if cols is sheared else _unshear(cols, u, across.shape)
    if cols is across or np.array_equal(cols, across):
        out = ink if rows is ink or np.array_equal(rows, ink) else rows
    else:
        out = np.ascontiguousarray(cols.T)
    level = max(level_r, level_c)
    if 0.0 < level <= _FAINT_RULINGS:
        # What is left of a ruled page's lines (where a line wavers, bends with the
        # page, or breaks) is no stronger than the lines were, and when they are far
        # fainter than the ink core, the digit is stronger. Fade what is left.
        cut = np.float32(_REMNANT * level)
        out = np.clip((out - cut) * (np.float32(1.0) / (1 - cut)), 0.0, 1.0)
    return out


def _skew(ink: np.ndarray) -> float:
    """The slope (rows per column) along which rows of ink line up best, within about
    +-5 degrees: rulings concentrate the row sums of a sheared copy into sharp peaks."""
    h, w = ink.shape
    # Coarse: every few rows and columns, slopes 0.0075 apart; then fine, on every row,
    # slopes 0.001 apart (a line drifting less than a pixel across the page).
    sy, sx = max(1, h // 240), max(1, w // 120)
    coarse = _best_slope(ink[::sy, ::sx], _SLOPES, sx / sy)
    fine = [coarse + k * 0.001 for k in range(-7, 8)]
    fine.sort(key=abs)  # ties go to the straighter
    return _best_slope(ink[:, ::sx], fine, sx)


def _best_slope(sample, slopes, scale) -> float:
    """The slope whose shear piles the ink of ``sample`` into the sharpest row profile.
    Only inked pixels count, binned by their sheared row: no sheared copy is made."""
    ys, xs = np.nonzero(sample > _RULED)
    if ys.size == 0:
        return 0.0
    weights = sample[ys, xs].astype(np.float64)
    best, best_t = -1.0, 0.0
    for t in slopes:
        rows = ys - np.round(xs * (t * scale)).astype(np.int64)
        profile = np.bincount(rows - rows.min(), weights)
        score = float(profile @ profile)
        if score > best * 1.02:  # prefer the straighter of near ties (0 comes first)
            best, best_t = score, t
    return best_t


# Slopes tried by _skew: 0 first, then +-0.0075 .. +-0.09 (about 5 degrees).
_SLOPES = [0.0] + [s * k * 0.0075 for k in range(1, 13) for s in (1, -1)]


def _shear(a: np.ndarray, t: float) -> np.ndarray:
    """Shift each column x of (H, W) ``a`` up by round(x * t) rows (zero padded), so that
    lines of slope t become horizontal. Returns ``a`` itself for t == 0."""
    if t == 0.0:
        return a
    h, w = a.shape
    dy = _shifts(t, w)
    lo, hi = int(min(0, dy.min())), int(max(0, dy.max()))
    out = np.zeros((h + hi - lo, w), a.dtype)
    # out[r, x] = a[r + dy[x] - hi, x]: columns that shift alike move as one block (a
    # slope under 0.1 gives at most a tenth of the width of such blocks).
    for c0, c1, d in _blocks(dy):
        out[hi - d:hi - d + h, c0:c1] = a[:, c0:c1]
    return out


def _unshear(b: np.ndarray, t: float, shape) -> np.ndarray:
    """Undo :func:`_shear` of an array of ``shape``."""
    if t == 0.0:
        return b
    h, w = shape
    dy = _shifts(t, w)
    hi = int(max(0, dy.max()))
    out = np.empty((h, w), b.dtype)
    for c0, c1, d in _blocks(dy):
        out[:, c0:c1] = b[hi - d:hi - d + h, c0:c1]
    return out


def _seen(t: float, shape) -> np.ndarray:
    """How many of each row's pixels in the :func:`_shear` of an array of ``shape`` by
    ``t`` come from the array (the rest is padding): a ruling that leaves a turned page
    through its top or bottom edge runs across only that much of its sheared row."""
    h, w = shape
    dy = _shifts(t, w)
    hi = int(max(0, dy.max()))
    first = hi - dy  # column x covers the sheared rows first[x] .. first[x] + h - 1
    rows = h + hi - int(min(0, dy.min()))
    return np.cumsum(np.bincount(first, minlength=rows + 1)
                     - np.bincount(first + h, minlength=rows + 1))[:rows]


def _shifts(t: float, w: int) -> np.ndarray:
    """How far :func:`_shear` by ``t`` moves each of ``w`` columns: round(x * t)."""
    return np.round(np.arange(w) * t).astype(np.int64)


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The runs of True in (N,) bool ``mask``: (their starts, their ends), end-exclusive."""
    changes = np.flatnonzero(np.diff(np.concatenate(([False], mask, [False])).astype(np.int8)))
    return changes[::2], changes[1::2]


def _blocks(dy: np.ndarray) -> list:
    """Runs of equal shifts in ``dy``: (first column, end column, shift) each."""
    starts = np.flatnonzero(np.diff(dy, prepend=dy[0] - 1))
    ends = np.append(starts[1:], dy.size)
    return list(zip(starts.tolist(), ends.tolist(), dy[starts].tolist()))


def _remove_rows(ink: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, float]:
    """``ink`` (H, W) without the lines that run along its rows (see the module);
    ``seen`` (H,) how many pixels of each row are the picture's own (:func:`_seen`).

    Returns (the map -- ``ink`` itself when nothing is removed, which
    :func:`remove_rulings` relies on to skip shearing it back -- the typical strength of
    its rulings if it had several, else 0.0).
    """
    h, w = ink.shape
    # Rulings run across a page: on a narrow strip, what runs across it is the digit.
    if h < 8 or w < _ACROSS * max(h, w) or w < 32:
        return ink, 0.0
    lines = _line_map(ink)  # (h, w): how strong a long horizontal line is at each pixel
    # A row is ruled when lines cover _COVER of it. On a ruled page, a line that leaves
    # a turned page through its top or bottom edge is ruled by the part of its row in
    # the picture, if that is at least half of the width. (A lone line there may be a
    # digit's bar ending at the picture's corner.)
    covered = np.count_nonzero(lines > _RULED, axis=1)
    ruled = covered >= _COVER * w
    if _runs(ruled)[0].size >= _SEVERAL:
        ruled |= covered >= _COVER * np.maximum(seen, w / 2)
    if not ruled.any():
        return ink, 0.0
    # Bands of consecutive ruled rows; thick ones are not rulings.
    starts, ends = _runs(ruled)
    thin = (ends - starts) <= max(3, round(_MAX_BAND * h))
    # A single line as strong as the ink may be a stroke of the digit (the bar of a 4 in
    # a narrow canvas); rulings are fainter than pen ink, or come several to a page.
    strength = np.array([float(lines[a:b].max()) for a, b in zip(starts, ends)])
    several = np.count_nonzero(thin) >= _SEVERAL
    typical = 0.0
    thin &= (strength <= _FAINTER) | several
    if several:
        # A ruler-straight stroke lying along a ruling (the bar of a 7) is far stronger
        # than the rulings around it: it stays. Unless such strong lines come several
        # times, evenly spaced: the major lines of a grid (every fifth line drawn bolder).
        typical = float(np.sort(strength[thin])[np.count_nonzero(thin) // 2]) if thin.any() else 0.0
        faint = thin & (strength <= _STRONGER * typical + _MARGIN)
        bold = thin & ~faint
        if np.count_nonzero(bold) >= _SEVERAL and _major_lines(
                starts[bold], starts[faint], strength[faint] / typical, h):
            faint |= bold
        thin = faint
    if not thin.any():
        return ink, 0.0
    out = ink.copy()
    for r0, r1 in zip(starts[thin].tolist(), ends[thin].tolist()):  # a few dozen bands
        r0, r1 = max(0, r0 - 1), min(h, r1 + 1)  # and the line's antialiased edges
        band = ink[r0:r1]
        # Ink clearly stronger than the line there is a stroke on top of it; on a ruled
        # page, only where the band holds clearly more or darker ink than its line does
        # elsewhere (a lone line may be a digit's own bar across a tight crop: its parts
        # at full strength are what can be kept of it).
        stroke = band - lines[r0:r1] > _ABOVE
        if several:
            stroke &= _drawn_on_line(band, lines[r0:r1], stroke)[None]
        kept = np.where(stroke, band, 0.0)
        # The stroke through the band: interpolate between the rows just outside it.
        above = ink[r0 - 1] if r0 > 0 else np.zeros(w, ink.dtype)
        below = ink[r1] if r1 < h else np.zeros(w, ink.dtype)
        t = (np.arange(1, r1 - r0 + 1, dtype=np.float32) / (r1 - r0 + 1))[:, None]
        through = above[None] * (1 - t) + below[None] * t
        out[r0:r1] = np.maximum(kept, through)
    return out, typical


def _drawn_on_line(band: np.ndarray, lines: np.ndarray, above: np.ndarray) -> np.ndarray:
    """(W,) bool: the columns of a ruled ``band`` (its rows, with the line map ``lines``
    there and ``above``, where the ink stands clearly above the line) in which a stroke
    is drawn on the line: the band holds half again the line's typical ink, or ink
    clearly darker than its typical strongest pixel, along more of it than it is thick.

    The line map measures a line where it is faintest: a thin line drifting from one row
    to the next is split over both there, and at full strength in one elsewhere. Its ink
    summed across the band stays the same all along; a stroke adds to it. Where another
    ruling crosses, the band holds more ink too, but only as far as that line is wide --
    it is carried through the band like any stroke across it."""
    mass, top = band.sum(axis=0), band.max(axis=0)
    present = lines.max(axis=0) > _RULED
    if not present.any():
        return np.ones(band.shape[1], bool)
    line_mass, line_top = exact_median(mass[present]), exact_median(top[present])
    more = (mass > line_mass * (1 + _MORE_INK)) | (top > line_top + _DARKER)
    return _runs_longer(above.any(axis=0) & more, band.shape[0])


def _runs_longer(mask: np.ndarray, n: int) -> np.ndarray:
    """``mask`` (W,) bool with only its runs of more than ``n`` True values left."""
    starts, ends = _runs(mask)
    long = ends - starts > n
    step = np.zeros(mask.size + 1, np.int64)  # +1 where a long run starts, -1 past it
    step[starts[long]] = 1
    step[ends[long]] = -1  # runs are apart: no index is both an end and a start
    return np.cumsum(step[:-1]) > 0


def _major_lines(bold: np.ndarray, faint: np.ndarray, boldness: np.ndarray, h: int) -> bool:
    """Are the strong bands at rows ``bold`` a grid's major lines? They follow one
    another at nearly equal gaps, several of the faint lines' spacing apart (every
    fourth, fifth or tenth line), and run on across the page, as a digit's bars do not
    (three bars lying on rulings are evenly spaced too, but one or two rulings apart).

    A gap of two or three such steps is a major line printed or lit a little fainter,
    and counted among the faint lines at rows ``faint`` -- if there is one where it
    belongs, clearly bolder than the faint lines (``boldness``: each faint line's
    strength over the typical one's). A digit's bars two and three rulings apart on a
    tight crop have only ordinary rulings between them."""
    gaps = np.diff(bold)
    if gaps.min() <= 0:
        return False
    k = np.clip(np.round(gaps / gaps.min()), 1, _MAJOR_MISSED + 1).astype(np.int64)
    steps = gaps / k
    if steps.max() > _EVEN * steps.min():
        return False
    spacing = exact_median(np.diff(faint)) if faint.size >= 2 else 0.0
    if spacing <= 0 or steps.min() < _MAJOR_EVERY * spacing:
        return False
    for start, step, n in zip(bold[:-1], steps, k):
        for j in range(1, n):  # the major lines missing from this gap, if any
            near = np.abs(faint - (start + j * step)) <= spacing / 2
            if not (near & (boldness >= _FAINTER_MAJOR)).any():
                return False
    return bold.size >= _MAJOR_SPAN * h / float(steps.mean())


# A grid's major lines: gaps that differ by at most this factor (rounding, perspective),
# at least this many faint spacings apart, and at least this share of the lines that
# such gaps would fit on the page.
_EVEN = 1.3
_MAJOR_EVERY = 3
_MAJOR_SPAN = 0.5
# ... where up to this many major lines in a row may be missing from the strong ones, if
# each is there at least this many times as strong as the typical faint line.
_MAJOR_MISSED = 2
_FAINTER_MAJOR = 1.75


def _line_map(ink: np.ndarray) -> np.ndarray:
    """Strength of long horizontal lines at each pixel of ``ink`` (H, W): a grey-level
    opening along the rows with a window of _LINE_SHARE of the width -- only what runs
    on that far survives it; a digit's strokes are shorter. Found on a copy max-pooled
    2x2 (a 1-px line survives pooling, and it is four times less work), and first
    widened by a row each way, so that a line wavering by a pixel still counts."""
    h, w = ink.shape
    f = 2 if min(h, w) >= 200 else 1
    small = pool_max(ink, f)
    pw = small.shape[1]
    widened = small.copy()
    np.maximum(widened[1:], small[:-1], out=widened[1:])
    np.maximum(widened[:-1], small[1:], out=widened[:-1])
    length = max(5, round(_LINE_SHARE * pw)) | 1
    opened = running(running(widened, length, 1, np.minimum), length, 1, np.maximum)
    np.minimum(opened, small, out=opened)  # never more than the pixel itself
    if f > 1:
        opened = np.repeat(np.repeat(opened, f, axis=0), f, axis=1)[:h, :w]
    return opened
