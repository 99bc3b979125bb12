"""Remove the rulings of lined and squared paper (and margin lines) from an ink map.

A ruling is a thin line running across the whole page; a digit is a few strokes in one
place. So in a row (or column) that a ruling runs along, the *median* ink over the row is
the ruling's own strength -- the digit covers far less than half of any row -- while in
every other row the median is paper, 0. :func:`remove_rulings` takes that median away,
row by row and then column by column, and restores the digit where it crosses a ruling:
pixels much stronger than the ruling stay, and inside a thin ruling band each pixel also
gets the value interpolated between the rows just outside the band, so a stroke that
crosses the line continues through it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["remove_rulings"]

# Rows (columns) whose median ink is above this are ruled.
_RULED = 0.03
# ... along all but this share of the row.
_LOW = 0.15
# Bands of ruled rows thicker than this share of the image side are not rulings (a
# digit that fills the image, a solid bar): they are left alone.
_MAX_BAND = 0.04
# A ruling is at most this strong (relative to the ink core), unless there are at least
# _SEVERAL of them (a blank ruled page: the rulings are the strongest thing on it).
_FAINTER = 0.7
_SEVERAL = 3
# ... or it lies in this outer share of the page (a frame drawn around it, a margin line).
_OUTER = 0.15
# Pixels this many times stronger than the ruling (plus a margin) are ink on the ruling.
_ABOVE = 2.0
_MARGIN = 0.1


def remove_rulings(ink: np.ndarray) -> np.ndarray:
    """``ink`` (H, W), 0 = paper .. 1 = ink, without horizontal and vertical rulings.

    Returns a new array (or ``ink`` itself when there are none).
    """
    rows = _remove_rows(ink)
    cols = _remove_rows(rows.T)
    if cols is rows.T:
        return rows
    return np.ascontiguousarray(cols.T)


def _remove_rows(ink: np.ndarray) -> np.ndarray:
    h, w = ink.shape
    if h < 8 or w < 8:
        return ink
    step = max(1, w // 256)  # a median over ~256 pixels of each row is plenty
    sample = ink[:, ::step]
    n = sample.shape[1]
    low, median = np.partition(sample, (int(_LOW * n), n // 2), axis=1)[
        :, [int(_LOW * n), n // 2]].T
    # A ruling runs right across: ruled rows carry ink along nearly all their length.
    ruled = (median > _RULED) & (low >= 0.5 * median)
    if not ruled.any():
        return ink
    # Bands of consecutive ruled rows; thick ones are not rulings.
    padded = np.concatenate(([False], ruled, [False]))
    changes = np.flatnonzero(padded[1:] != padded[:-1])
    starts, ends = changes[::2], changes[1::2]
    thin = (ends - starts) <= max(2, round(_MAX_BAND * h))
    # A single line as strong as the ink may be a stroke of the digit (the bar of a 4 in
    # a narrow canvas); rulings are fainter than pen ink, come several to a page, or
    # frame it near its edges.
    strength = np.array([median[a:b].max() for a, b in zip(starts, ends)])
    centre = (starts + ends) / 2
    outer = (centre < _OUTER * h) | (centre > (1 - _OUTER) * h)  # frame and margin lines
    thin &= (strength <= _FAINTER) | (np.count_nonzero(thin) >= _SEVERAL) | outer
    if not thin.any():
        return ink
    out = ink.copy()
    for r0, r1 in zip(starts[thin].tolist(), ends[thin].tolist()):  # a few dozen bands
        band = ink[r0:r1]
        level = median[r0:r1, None]
        kept = np.where(band > _ABOVE * level + _MARGIN, band - level, 0.0)
        # The stroke through the band: interpolate between the rows just outside it.
        above = ink[r0 - 1] if r0 > 0 else np.zeros(w, ink.dtype)
        below = ink[r1] if r1 < h else np.zeros(w, ink.dtype)
        t = (np.arange(1, r1 - r0 + 1, dtype=np.float32) / (r1 - r0 + 1))[:, None]
        through = above[None] * (1 - t) + below[None] * t
        out[r0:r1] = np.maximum(kept, through)
    return out
