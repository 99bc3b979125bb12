"""The image tools the scene analysis stands on, against plain (slow) definitions."""

from collections import deque

import numpy as np
import pytest

from digitnet import morphology


def naive_running(a, size, axis, op):
    """The window extreme by its definition: a centred window of ``size``, cut at the edges."""
    x = np.moveaxis(a, axis, 1)
    out = np.empty_like(x)
    lo = size // 2
    for j in range(x.shape[1]):
        window = x[:, max(0, j - lo):min(x.shape[1], j - lo + size)]
        out[:, j] = window.max(axis=1) if op is np.maximum else window.min(axis=1)
    return np.moveaxis(out, 1, axis)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.int32])
@pytest.mark.parametrize("shape", [(17, 23), (1, 40), (40, 1), (3, 5)])
def test_running_extremes_match_the_definition(dtype, shape):
    rng = np.random.default_rng(0)
    a = (rng.random(shape) * 200).astype(dtype)
    for size in range(1, 50):
        for axis in (0, 1):
            for op in (np.minimum, np.maximum):
                got = morphology.running(a, size, axis, op)
                assert got.dtype == a.dtype and got.flags.c_contiguous
                np.testing.assert_array_equal(got, naive_running(a, size, axis, op))


def naive_label(mask):
    """4-neighbour flood fill, components numbered in row-major order of first pixels."""
    labels = np.zeros(mask.shape, np.int32)
    n = 0
    h, w = mask.shape
    for r in range(h):
        for c in range(w):
            if mask[r, c] and not labels[r, c]:
                n += 1
                labels[r, c] = n
                todo = deque([(r, c)])
                while todo:
                    y, x = todo.popleft()
                    for v, u in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                        if 0 <= v < h and 0 <= u < w and mask[v, u] and not labels[v, u]:
                            labels[v, u] = n
                            todo.append((v, u))
    return labels, n


def spiral(n):
    """A one-component maze whose path winds in to the centre."""
    m = np.zeros((n, n), bool)
    r0, r1, c0, c1 = 0, n - 1, 0, n - 1
    while r0 < r1 and c0 < c1:
        m[r0, c0:c1 + 1] = m[r0:r1 + 1, c1] = m[r1, c0:c1 + 1] = True
        m[r0 + 2:r1 + 1, c0] = True
        r0, c0, r1, c1 = r0 + 2, c0 + 2, r1 - 2, c1 - 2
        if r0 < r1:
            m[r0, c0 - 2:c0 + 1] = True
    return m


def comb(n):
    """Many vertical teeth joined only along the bottom row."""
    m = np.zeros((n, n), bool)
    m[:, ::2] = True
    m[-1] = True
    return m


def masks():
    rng = np.random.default_rng(1)
    for density in (0.1, 0.4, 0.6, 0.9):
        yield rng.random((37, 53)) < density
    yield np.zeros((5, 5), bool)
    yield np.ones((6, 4), bool)
    yield spiral(41)
    yield comb(30)
    yield comb(30)[::-1, ::-1]


@pytest.mark.parametrize("mask", list(masks()), ids=lambda m: f"{m.shape}-{int(m.sum())}")
def test_label_matches_a_flood_fill(mask):
    labels, n = morphology.label(mask)
    want, want_n = naive_label(mask)
    assert n == want_n
    np.testing.assert_array_equal(labels, want)


def test_label_finishes_with_union_find_when_rounds_run_out(monkeypatch):
    # The fallback is never needed on real shapes; it must give the same answer.
    monkeypatch.setattr(morphology, "_MAX_ROUNDS", 1)
    for mask in masks():
        labels, n = morphology.label(mask)
        want, want_n = naive_label(mask)
        assert n == want_n
        np.testing.assert_array_equal(labels, want)


def test_fill_holes_fills_what_cannot_reach_the_border():
    ring = np.zeros((7, 7), bool)
    ring[1:6, 1:6] = True
    ring[2:5, 2:5] = False
    filled = morphology.fill_holes(ring)
    assert filled[1:6, 1:6].all() and filled.sum() == 25
    ring[3, 1] = False                         # a gap in the wall: the inside reaches out
    np.testing.assert_array_equal(morphology.fill_holes(ring), ring)


def test_median_filter_is_the_median_of_each_square_with_edges_repeated():
    from digitnet.morphology import median_filter
    rng = np.random.default_rng(0)
    a = rng.random((9, 13)).astype(np.float32)
    for size in (1, 3, 5):
        p = np.pad(a, size // 2, mode="edge")
        want = np.array([[np.median(p[r:r + size, c:c + size]) for c in range(13)]
                         for r in range(9)], np.float32)
        np.testing.assert_array_equal(median_filter(a, size), want)


def test_exact_median_is_numpys():
    rng = np.random.default_rng(1)
    for n in (1, 2, 5, 8, 101):
        v = rng.random(n).astype(np.float32)
        assert morphology.exact_median(v) == float(np.median(v))
    assert morphology.exact_median(np.array([1, 4], np.uint8)) == 2.5


def test_stroke_width_is_area_over_half_the_perimeter_for_masks_and_maps():
    # A bar 3 px wide and 30 long: area 90, total variation 2 * 30 + 2 * 3 = 66.
    bar = np.zeros((10, 40), bool)
    bar[3:6, 5:35] = True
    want = 2 * 90 / (66 * np.pi / 4)
    assert morphology.stroke_width(bar) == pytest.approx(want)
    assert morphology.stroke_width(bar.astype(np.float32)) == pytest.approx(want)
    rng = np.random.default_rng(0)
    for _ in range(20):          # a mask measures as its 0/1 map does
        mask = rng.random((17, 23)) < 0.4
        assert morphology.stroke_width(mask) == morphology.stroke_width(mask.astype(np.float64))
    assert morphology.stroke_width(np.ones((4, 4), bool)) == float("inf")
