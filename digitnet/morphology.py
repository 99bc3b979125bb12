"""Small image-morphology tools on numpy arrays: max/min filters, connected components.

The scene analysis (:mod:`digitnet.surface`, :mod:`digitnet.blobs`) runs these on
*coarse* copies of an image -- at most a few hundred pixels a side -- so plain numpy is
fast enough: every function loops over shifts or iterations, never over pixels.
"""

from __future__ import annotations

import numpy as np

__all__ = ["max_filter", "min_filter", "label", "fill_holes", "border_runs"]


def max_filter(a: np.ndarray, size: int) -> np.ndarray:
    """Each pixel of (H, W) ``a`` -> the largest value in the ``size`` x ``size`` square
    around it (edges repeated). Separable: a running maximum along rows, then columns."""
    if size <= 1:
        return a.copy()
    return _running(_running(a, size, 0, np.maximum), size, 1, np.maximum)


def min_filter(a: np.ndarray, size: int) -> np.ndarray:
    """Like :func:`max_filter`, with the smallest value."""
    if size <= 1:
        return a.copy()
    return _running(_running(a, size, 0, np.minimum), size, 1, np.minimum)


def _running(a, size, axis, op):
    before = size // 2
    after = size - 1 - before
    pad = [(0, 0), (0, 0)]
    pad[axis] = (before, after)
    p = np.pad(a, pad, mode="edge")
    n = a.shape[axis]
    out = np.take(p, range(0, n), axis=axis).copy()
    for k in range(1, size):
        op(out, np.take(p, range(k, k + n), axis=axis), out=out)
    return out


def label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Connected components (4-neighbour) of a boolean (H, W) mask.

    Returns (labels, n): labels is an int32 (H, W) array, 0 outside the mask and 1..n
    inside, numbered in row-major order of each component's first pixel.

    Works on *runs* (horizontal stretches of mask pixels): runs in neighbouring rows that
    overlap belong together, and a union-find over the runs joins them. The cost is
    bounded by the number of runs -- at most half the pixels, whatever the shape -- where
    growing labels pixel by pixel can take thousands of rounds on a maze.
    """
    h, w = mask.shape
    padded = np.zeros((h, w + 2), np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded, axis=1)  # +1 where a run starts, -1 one past its end
    r_start, c_start = np.nonzero(edges == 1)
    _, c_end = np.nonzero(edges == -1)  # row-major order: pairs up with the starts
    n_runs = r_start.size
    labels = np.zeros((h, w), np.int32)
    if n_runs == 0:
        return labels, 0
    # Runs of row r+1 that overlap runs of row r: for each run, the runs one row up whose
    # start lies before its end and whose end lies after its start. Keys order runs by
    # (row, column); runs of a row are disjoint and sorted, so the overlaps are a range.
    key_start = r_start.astype(np.int64) * (w + 1) + c_start
    key_end = r_start.astype(np.int64) * (w + 1) + c_end
    up = (r_start - 1).astype(np.int64) * (w + 1)
    first = np.searchsorted(key_end, up + c_start, side="right")  # ends after my start
    last = np.searchsorted(key_start, up + c_end, side="left")  # starts before my end
    has_up = (r_start > 0) & (last > first)
    parent = list(range(n_runs))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for run, lo, hi in zip(np.flatnonzero(has_up).tolist(), first[has_up].tolist(),
                           last[has_up].tolist()):
        a = find(run)
        for other in range(lo, hi):
            b = find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
                a = min(a, b)
    roots = np.array([find(i) for i in range(n_runs)])
    # Number the components 1.. in the order of their roots (their first runs); no
    # np.unique, which would import numpy.ma at start-up.
    is_root = np.zeros(n_runs, np.int32)
    is_root[roots] = 1
    run_label = np.cumsum(is_root, dtype=np.int32)[roots]
    lengths = c_end - c_start
    flat_index = np.repeat(r_start * w + c_start - np.cumsum(lengths) + lengths, lengths)
    flat_index += np.arange(lengths.sum())
    labels.ravel()[flat_index] = np.repeat(run_label, lengths)
    return labels, int(run_label.max())


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` (H, W) bool with its holes filled: every pixel outside it that cannot
    reach the image border without crossing the mask joins it."""
    outside, n = label(~mask)
    if n == 0:
        return mask.copy()
    edge = np.concatenate((outside[0], outside[-1], outside[:, 0], outside[:, -1]))
    reaches = np.zeros(n + 1, bool)
    reaches[edge] = True
    reaches[0] = False
    return mask | (~reaches[outside] & (outside > 0))


def border_runs(mask: np.ndarray) -> float:
    """Longest run of ``mask`` pixels along any one side of the image, as a share of the
    image's longer side (0..1)."""
    best = 0.0
    for side in (mask[0], mask[-1], mask[:, 0], mask[:, -1]):
        if not side.any():
            continue
        padded = np.concatenate(([False], side, [False]))
        changes = np.flatnonzero(padded[1:] != padded[:-1])
        runs = changes[1::2] - changes[::2]
        best = max(best, runs.max() / max(mask.shape))
    return best
