"""Synthetic handwriting: digits drawn by code as pen strokes, the way people outside MNIST
write them (training only).

MNIST's writers were American census staff and students. Other people write a 1 with a
long up-stroke ("flag") and often a foot, cross their 7s, leave the top of a 4 open, give
a 9 a straight stem or a curved tail, loop the foot of a 2 -- forms MNIST has few or none
of, and which a network trained on MNIST alone reads as 7, 4 or 8. :func:`draw` makes
such digits: every digit has several *glyphs*, each a few strokes (polylines through
points of a unit box, x to the right and y down, both 0..1). A sample picks a glyph,
jitters its points, slants it (shear up to +-20 deg), rotates it a little, changes its
width-to-height ratio, and renders it with a round pen of random width -- directly in
MNIST's layout, as :func:`digitnet.normalise.normalise` would hand it to the network: the
longer side of the digit 20 px, its centre of mass at pixel (14, 14) of a 28x28 field,
light ink on black.

Rendering is vectorised over samples: every pixel's distance to every stroke segment of
its sample, turned into pen coverage (1 inside the pen's radius, an antialiased half-pixel
edge). The centre of mass of a stroke of even width is the length-weighted mean of its
segments' midpoints, so the digit is centred before it is drawn, in one pass.
"""

from __future__ import annotations

import numpy as np

# The layout normalise() gives every digit: a SIDE x SIDE field, the longer side BOX
# pixels, the centre of mass at (COM, COM).
from .normalise import BOX, COM_TARGET as COM, FIELD as SIDE

__all__ = ["GLYPHS", "draw"]


def _arc(cx, cy, rx, ry, start, end, n=10):
    """Points on an elliptical arc: centre (cx, cy), radii (rx, ry), angles in degrees
    (0 = right, 90 = down, as y grows downward), ``n`` segments."""
    t = np.deg2rad(np.linspace(start, end, n + 1))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))


def _line(*points):
    """A stroke of straight segments through ``points`` (x, y): named for the glyph table."""
    return list(points)


# Each digit: a list of glyphs; each glyph: a list of strokes; each stroke: [(x, y), ...].
GLYPHS = {
    0: [
        [_arc(0.5, 0.5, 0.45, 0.5, -90, 270, 16)],
        [_arc(0.5, 0.5, 0.4, 0.5, -100, 275, 16)],
    ],
    1: [
        [_line((0.5, 0.0), (0.5, 1.0))],                                   # a plain stem
        [_line((0.15, 0.3), (0.6, 0.0), (0.6, 1.0))],                      # flag
        [_line((0.05, 0.42), (0.6, 0.0), (0.6, 1.0))],                     # long flag
        [_line((0.15, 0.32), (0.58, 0.0), (0.58, 1.0)), _line((0.2, 1.0), (0.95, 1.0))],
        [_line((0.0, 0.45), (0.62, 0.0), (0.62, 1.0)), _line((0.3, 1.0), (0.95, 1.0))],
    ],
    2: [
        [_arc(0.5, 0.28, 0.42, 0.28, 190, 370, 8) + _line((0.05, 1.0), (1.0, 1.0))],
        [_arc(0.5, 0.28, 0.42, 0.28, 190, 370, 8)
         + _arc(0.22, 0.86, 0.14, 0.12, -60, 300, 8)[1:] + _line((1.0, 0.98))],  # looped foot
        [_arc(0.45, 0.3, 0.42, 0.3, 200, 400, 9) + _line((0.05, 1.0), (0.95, 0.97))],
    ],
    3: [
        [_arc(0.48, 0.26, 0.4, 0.26, 200, 450, 10)[:-1]
         + _arc(0.5, 0.74, 0.45, 0.26, -90, 150, 10)],
        [_line((0.08, 0.0), (0.92, 0.0), (0.42, 0.42))
         + _arc(0.5, 0.71, 0.43, 0.29, -110, 150, 10)],                     # flat top
    ],
    4: [
        [_line((0.7, 0.0), (0.0, 0.68), (1.0, 0.68)), _line((0.7, 0.0), (0.7, 1.0))],  # shut
        [_line((0.15, 0.0), (0.05, 0.62), (1.0, 0.62)), _line((0.72, 0.1), (0.72, 1.0))],  # open
        [_line((0.25, 0.0), (0.0, 0.6), (0.95, 0.6)), _line((0.7, 0.25), (0.7, 1.0))],
    ],
    5: [
        [_line((0.9, 0.0), (0.15, 0.0), (0.1, 0.42))
         + _arc(0.48, 0.69, 0.43, 0.31, -130, 150, 10)],
        [_line((0.12, 0.02), (0.08, 0.45)) + _arc(0.48, 0.7, 0.43, 0.3, -135, 155, 10),
         _line((0.12, 0.02), (0.95, 0.0))],
    ],
    6: [
        [_arc(0.75, 0.6, 0.68, 0.6, -100, -180, 5)
         + _arc(0.5, 0.7, 0.42, 0.3, 180, 540, 14)],
        [_line((0.8, 0.0), (0.15, 0.55)) + _arc(0.5, 0.72, 0.4, 0.28, 200, 560, 14)],
    ],
    7: [
        [_line((0.0, 0.0), (1.0, 0.0), (0.35, 1.0))],                      # plain
        [_line((0.0, 0.0), (1.0, 0.0), (0.35, 1.0)), _line((0.3, 0.52), (0.95, 0.5))],  # crossed
        [_line((0.0, 0.18), (0.05, 0.0), (1.0, 0.0), (0.4, 1.0)),
         _line((0.35, 0.5), (0.95, 0.5))],                                  # serif and cross
        [_line((0.0, 0.05), (1.0, 0.0), (0.45, 1.0))],
    ],
    8: [
        [_arc(0.5, 0.25, 0.36, 0.25, 90, 450, 14), _arc(0.5, 0.74, 0.46, 0.26, -90, 270, 14)],
        [_arc(0.52, 0.25, 0.32, 0.25, 200, 560, 14), _arc(0.48, 0.73, 0.46, 0.27, -60, 300, 14)],
    ],
    9: [
        [_arc(0.5, 0.28, 0.45, 0.28, 0, 360, 14) + _line((0.95, 1.0))],     # straight stem
        [_arc(0.5, 0.28, 0.45, 0.28, 0, 360, 14) + _line((0.9, 0.8))
         + _arc(0.6, 0.8, 0.3, 0.2, 0, 150, 6)[1:]],                        # curved tail
        [_arc(0.45, 0.27, 0.42, 0.27, -20, 360, 14) + _line((0.6, 1.0))],   # slanted stem
    ],
}


def _segments(glyph):
    """A glyph's strokes as an (S, 4) array of segments (x0, y0, x1, y1)."""
    out = []
    for stroke in glyph:
        p = np.asarray(stroke, dtype=np.float64)
        out.append(np.concatenate([p[:-1], p[1:]], axis=1))
    return np.concatenate(out)


# All glyphs as one padded table: (number of glyphs, S_max, 4) segments, a mask of the
# real ones, and the digit each glyph shows.
_TABLE = [(d, _segments(g)) for d in range(10) for g in GLYPHS[d]]
_S = max(len(s) for _, s in _TABLE)
_SEGS = np.zeros((len(_TABLE), _S, 4))
_REAL = np.zeros((len(_TABLE), _S), bool)
for _i, (_d, _s) in enumerate(_TABLE):
    _SEGS[_i, :len(_s)], _REAL[_i, :len(_s)] = _s, True
_DIGIT = np.array([d for d, _ in _TABLE])


def draw(n, rng, chunk=512):
    """``n`` synthetic handwritten digits: (images (n, 784) float32 0..1, labels (n,) int64).

    Labels are uniform over 0..9 and glyphs uniform within a digit. ``rng`` is a
    ``numpy.random.Generator``; the same state gives the same digits.
    """
    labels = rng.integers(0, 10, n)
    choice = np.empty(n, np.int64)
    for d in range(10):  # a glyph of the right digit for each sample
        ids = np.flatnonzero(_DIGIT == d)
        where = labels == d
        choice[where] = ids[rng.integers(0, len(ids), int(where.sum()))]
    segs = _SEGS[choice].copy()                       # (n, S, 4)
    real = _REAL[choice]
    # Jitter every point a little (both ends of a segment move together with their
    # neighbours': jitter the glyph's points through a smooth per-sample warp).
    amp = rng.uniform(0.0, 0.06, (n, 1, 1))
    warp = rng.normal(0, 1, (n, 6))
    for k in (0, 2):
        x, y = segs[:, :, k], segs[:, :, k + 1]
        dx = amp[:, :, 0] * (warp[:, :1] * np.sin(3 * y + warp[:, 1:2]) + warp[:, 2:3] * 0.5)
        dy = amp[:, :, 0] * (warp[:, 3:4] * np.sin(3 * x + warp[:, 4:5]) + warp[:, 5:6] * 0.5)
        segs[:, :, k], segs[:, :, k + 1] = x + dx, y + dy
    # Slant (shear x by -y), aspect, a little rotation: one 2x2 matrix per sample.
    slant = np.tan(np.deg2rad(rng.uniform(-20, 20, n)))
    aspect = np.exp(rng.uniform(np.log(0.6), np.log(1.25), n))
    angle = np.deg2rad(rng.uniform(-8, 8, n))
    c, s = np.cos(angle), np.sin(angle)
    m = np.empty((n, 2, 2))
    m[:, 0, 0], m[:, 0, 1] = aspect * c, -slant * c - s       # x' row
    m[:, 1, 0], m[:, 1, 1] = aspect * s, -slant * s + c       # y' row
    ends = segs.reshape(n, -1, 2) - 0.5
    ends = np.einsum("nij,npj->npi", m, ends)
    # Pen width in output pixels: mostly MNIST-like, sometimes a hairline or a marker.
    width = np.exp(rng.uniform(np.log(1.4), np.log(5.0), n))
    # Scale so that the longer side of the inked digit (pen included) is BOX pixels.
    mask = np.repeat(real, 2, axis=1)
    lo = np.where(mask[..., None], ends, np.inf).min(axis=1)
    hi = np.where(mask[..., None], ends, -np.inf).max(axis=1)
    extent = (hi - lo).max(axis=1)
    scale = (BOX - width) / np.maximum(extent, 1e-6)
    ends *= scale[:, None, None]
    segs = ends.reshape(n, -1, 4)
    # Centre of mass: segment midpoints weighted by length.
    mid = (segs[:, :, :2] + segs[:, :, 2:]) / 2
    length = np.hypot(segs[:, :, 2] - segs[:, :, 0], segs[:, :, 3] - segs[:, :, 1]) * real
    com = (mid * length[..., None]).sum(axis=1) / np.maximum(length.sum(axis=1), 1e-9)[:, None]
    segs -= np.tile(com, 2)[:, None, :]
    segs += COM
    # ... unless that would push the digit out of the field: then it is moved back in,
    # as normalise() clamps its 20-pixel box into the 28x28 field.
    ends = segs.reshape(n, -1, 2)
    pen = (width / 2 + 0.5)[:, None]
    lo = np.where(mask[..., None], ends, np.inf).min(axis=1) - pen
    hi = np.where(mask[..., None], ends, -np.inf).max(axis=1) + pen
    ends += (np.maximum(0, -lo) - np.maximum(0, hi - (SIDE - 1)))[:, None, :]
    # Glyphs have from a few to _SEGS.shape[1] segments: samples are drawn in groups of
    # equal count, each against its real segments only (first, in a stable order: the
    # nearest-stroke minimum is the same in any order).
    order = np.argsort(~real, axis=1, kind="stable")
    segs = np.take_along_axis(segs, order[..., None], axis=1)
    count = real.sum(axis=1)
    images = np.empty((n, SIDE * SIDE), np.float32)
    for s in np.unique(count).tolist():
        rows = np.flatnonzero(count == s)
        for i in range(0, len(rows), chunk):
            part = rows[i:i + chunk]
            images[part] = _render(segs[part, :s], width[part])
    return images, labels


def _render(segs, width):
    """Pen coverage of each pixel: segments (n, S, 4) in pixel coordinates (x = column,
    y = row), all real, pen ``width`` (n,) -> (n, 784)."""
    r, c = np.divmod(np.arange(SIDE * SIDE, dtype=np.float32), SIDE)
    x0, y0, x1, y1 = (segs[:, :, k].astype(np.float32)[:, None, :] for k in range(4))
    dx, dy = x1 - x0, y1 - y0
    px, py = c[None, :, None] - x0, r[None, :, None] - y0     # (n, 784, S)
    t = np.clip((px * dx + py * dy) / np.maximum(dx * dx + dy * dy, 1e-9), 0, 1)
    dist = np.hypot(px - t * dx, py - t * dy)
    dist = dist.min(axis=2)                                   # to the nearest stroke
    radius = (width.astype(np.float32) / 2)[:, None]
    return np.clip(radius + 0.5 - dist, 0.0, 1.0)
