"""Small image tools on numpy arrays: running extremes, max/min/median filters, pooling,
a median, a stroke width, connected components.

The scene analysis (:mod:`digitnet.surface`, :mod:`digitnet.rulings`,
:mod:`digitnet.blobs`) and the normaliser share these. Every function is vectorised: it
loops over a handful of passes, never over pixels or runs (only :func:`label`'s fallback,
which no shape has needed, joins runs one pair at a time).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["running", "max_filter", "min_filter", "median_filter", "pool_max", "median",
           "exact_median", "stroke_width", "label", "fill_holes", "border_runs"]


def running(a: np.ndarray, size: int, axis: int, op) -> np.ndarray:
    """Running minimum or maximum (``op``: ``np.minimum`` / ``np.maximum``) of ``a`` (2-D)
    over centred windows of ``size`` along ``axis``; the window is cut at the edges.

    Doubling: after k passes every element holds the extreme of the 2**k elements from
    it on; a window of ``size`` is then the extreme of two such spans that overlap
    (s = the largest power of two <= size: the span at its start and the one ending at
    its end). About log2(size) + 1 passes over contiguous rows, exact for any size.
    """
    if size <= 1:
        return a.copy()
    if a.dtype.kind == "f":
        fill = np.inf if op is np.minimum else -np.inf
    else:
        info = np.iinfo(a.dtype)
        fill = info.max if op is np.minimum else info.min
    axis %= 2  # -1 is the rows' axis, as numpy counts
    x = a if axis == 1 else a.T
    h, w = x.shape
    p = np.full((h, w + size - 1), fill, a.dtype)  # the windows cut at the edges
    p[:, size // 2:size // 2 + w] = x
    span = 1
    while 2 * span <= size:
        p = op(p[:, :-span], p[:, span:])
        span *= 2
    out = op(p[:, :w], p[:, size - span:size - span + w]) if span < size else p[:, :w]
    return np.ascontiguousarray(out if axis == 1 else out.T)


def max_filter(a: np.ndarray, size: int) -> np.ndarray:
    """Each pixel of (H, W) ``a`` (float or integer) -> the largest value in the
    ``size`` x ``size`` square around it. Separable: along rows, then columns."""
    return running(running(a, size, 0, np.maximum), size, 1, np.maximum)


def min_filter(a: np.ndarray, size: int) -> np.ndarray:
    """Like :func:`max_filter`, with the smallest value."""
    return running(running(a, size, 0, np.minimum), size, 1, np.minimum)


def median_filter(a: np.ndarray, size: int) -> np.ndarray:
    """Each pixel of (H, W) ``a`` -> the median of the ``size`` x ``size`` square around
    it (``size`` odd; the edges repeated). For small maps: it holds size**2 values per
    pixel at once."""
    p = np.pad(a, size // 2, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(p, (size, size))
    windows = windows.reshape(*a.shape, size * size)
    mid = size * size // 2
    return np.partition(windows, mid, axis=2)[..., mid]


def pool_max(a: np.ndarray, f: int) -> np.ndarray:
    """Max-pool (H, W) ``a`` (float or bool) by f x f blocks, the edges padded with 0:
    (ceil(H / f), ceil(W / f)). A one-pixel line survives it."""
    if f == 1:
        return a
    h, w = a.shape
    padded = np.zeros((-(-h // f) * f, -(-w // f) * f), a.dtype)
    padded[:h, :w] = a
    out = padded[0::f, 0::f].copy()
    for i in range(f):  # f*f strided views: far faster than a max over reshaped axes
        for j in range(f):
            np.maximum(out, padded[i::f, j::f], out=out)
    return out


def median(values: np.ndarray) -> np.float32:
    """Median of an array's values (the upper one for even sizes) -- np.median is 5x
    slower, and its first call imports numpy.ma."""
    v = np.ravel(values)
    k = v.size // 2
    return np.float32(np.partition(v, k)[k])


def exact_median(values: np.ndarray) -> float:
    """np.median's value (the mean of the two middle values for even sizes), without its
    first call's import of numpy.ma (about 14 ms)."""
    v = np.ravel(values)
    k = v.size // 2
    if v.size % 2:
        return float(np.partition(v, k)[k])
    part = np.partition(v, (k - 1, k))
    return float(np.mean(part[k - 1:k + 1]))  # as np.median averages them


def stroke_width(ink: np.ndarray) -> float:
    """Mean stroke width of an ink map (h, w), 0..1, in its own pixels (inf if it has no
    edges at all).

    Area / half the perimeter, for strokes much longer than wide. The area is the ink
    mass; the perimeter comes from the total variation |dx| + |dy|, which overestimates a
    boundary's length by 4/pi on average over directions.
    """
    area = float(ink.sum())
    # Neighbours' differences as slices (np.diff's own arithmetic, without its overhead:
    # this runs once per small picture); a mask's in int8, whose -1, 0 and 1 sum up
    # as np.diff's booleans (True where neighbours differ) do.
    if ink.dtype == bool:
        ink = ink.view(np.int8)
    variation = float(np.abs(ink[1:] - ink[:-1]).sum() + np.abs(ink[:, 1:] - ink[:, :-1]).sum())
    if variation <= 0.0:
        return float("inf")
    return 2.0 * area / (variation * (math.pi / 4))


def label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Connected components (4-neighbour) of a boolean (H, W) mask.

    Returns (labels, n): labels is an int32 (H, W) array, 0 outside the mask and 1..n
    inside, numbered in row-major order of each component's first pixel.

    Works on *runs* (horizontal stretches of mask pixels): runs in neighbouring rows that
    overlap belong together, and :func:`_components` joins them, a few vectorised rounds
    over the pairs of overlapping runs. The work follows the number of runs -- at most
    half the pixels, whatever the shape -- where growing labels pixel by pixel can take
    thousands of rounds on a maze.
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
    # Every overlapping pair (run, run above) is an edge between two runs.
    counts = (last - first)[has_up]
    src = np.repeat(np.flatnonzero(has_up), counts)
    dst = np.repeat(first[has_up] - np.cumsum(counts) + counts, counts) + np.arange(src.size)
    roots = _components(n_runs, src, dst)
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


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For n nodes joined by the edges a[i] -- b[i]: each node's component, named by
    its smallest node.

    Rounds of hooking and pointer jumping, each a few passes over the edges: every root
    joins the smallest root it has an edge to (roots only ever point to smaller ones, so
    no cycle forms), then every node jumps to its root. The roots that merge in a round
    are all the roots with a smaller neighbour, so a handful of rounds does, even on a
    maze; after _MAX_ROUNDS (never seen) a plain union-find over the edges finishes.
    """
    parent = np.arange(n)
    for _ in range(_MAX_ROUNDS):
        pa, pb = parent[a], parent[b]
        apart = pa != pb
        if not apart.any():
            return parent
        np.minimum.at(parent, np.maximum(pa, pb)[apart], np.minimum(pa, pb)[apart])
        while True:
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up
    return _union_find(parent, a, b)


_MAX_ROUNDS = 32


def _union_find(parent: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`_components` finished one edge at a time (``parent`` as far as it got)."""
    p = parent.tolist()

    def find(i):
        while p[i] != i:
            p[i] = p[p[i]]
            i = p[i]
        return i

    for i, j in zip(a.tolist(), b.tolist()):
        ri, rj = find(i), find(j)
        if ri != rj:
            p[max(ri, rj)] = min(ri, rj)
    return np.array([find(i) for i in range(len(p))])


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
