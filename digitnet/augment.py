"""Random distortions of digit images, vectorised over a batch (training only).

A network that has only seen MNIST's neatly written digits is thrown by one that is a
little rotated, slanted, thicker, stretched or blurrier than usual. Showing it distorted
copies of the training images teaches it to ignore such differences. Every distortion
here is one random smooth warp per image, then a few pen and scanner effects:

    output pixel p  <-  input image sampled at  A^-1 (p - target) + com + d(p)

``A`` is a random rotation x shear (slant) x stretch, ``com`` the input's centre of mass,
``target`` where the output's centre of mass lands, and d(p) a smooth random
displacement field ("elastic" distortion; Simard et al. 2003), bilinearly upsampled from
a coarse 4x4 grid with one small matrix product for the whole batch. Sampling is
bilinear, for all N x 784 pixels at once with fancy indexing.

The warp keeps what :func:`digitnet.normalise.normalise` guarantees for every image it
hands the network: ``A`` is scaled so that the distorted digit's longer side is again 20
pixels, and ``target`` is MNIST's centre (14, 14) give or take rounding -- so the network
trains on what ``classify`` will feed it. Besides the classic distortions, some images
get the *styles* other writers and forms produce: a strong slant (up to +-20 deg; 25% of
the images), a digit stretched to fill a square box (the form-processing convention that
turns a 1 into a near-square blob; 15%), a low-resolution scan (reduced to 10..18 px and
enlarged again; 10%), a marker's fat strokes (10%).
"""

from __future__ import annotations

import numpy as np

# The layout normalise() gives every digit: a SIDE x SIDE field, the longer side BOX
# pixels, the centre of mass at (CENTRE, CENTRE).
from .normalise import BOX, COM_TARGET as CENTRE, FIELD as SIDE, FRINGE as _INK

__all__ = ["Augmenter"]

_PAD = 2         # zero border so that samples falling just outside the image read black

# How often each style is drawn (per image), and its size.
_SLANT_SHARE, _SLANT = 0.25, np.tan(np.deg2rad(20))    # shear of a slanted hand
_BOX_SHARE = 0.15                                       # stretched to fill a square box
_LOWRES_SHARE, _LOWRES = 0.1, (10, 18)                  # scanned at 10..18 px, enlarged
_MARKER_SHARE = 0.1                                     # one more pixel of stroke width


def _coarse_to_fine(k=4, side=SIDE):
    """(k*k, side*side) matrix that bilinearly upsamples a k x k grid to side x side."""
    pos = np.linspace(0, k - 1, side)
    i0 = np.clip(np.floor(pos).astype(int), 0, k - 2)
    f = pos - i0
    up = np.zeros((side, k))
    up[np.arange(side), i0] = 1 - f
    up[np.arange(side), i0 + 1] = f
    return np.kron(up, up).T.astype(np.float32)       # (k*k, side*side)


def _resampler(n_out, n_in):
    """(n_out, n_in) matrix resampling a line of n_in pixels to n_out: the area average
    when reducing, linear interpolation when enlarging."""
    if n_out <= n_in:
        edges = np.linspace(0, n_in, n_out + 1)
        j = np.arange(n_in)
        # How much of input pixel j (spanning j..j+1) lies inside output pixel i's span.
        m = np.minimum(edges[1:, None], j + 1) - np.maximum(edges[:-1, None], j)
        m = np.maximum(m, 0).astype(np.float32)
        return m / m.sum(axis=1, keepdims=True)
    pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    i0 = np.minimum(np.floor(pos).astype(int), n_in - 2)
    f = (pos - i0).astype(np.float32)
    m = np.zeros((n_out, n_in), np.float32)
    m[np.arange(n_out), i0] = 1 - f
    m[np.arange(n_out), i0 + 1] = f
    return m


class Augmenter:
    """Draws random warps and applies them to batches of (N, 784) images in 0..1.

    Parameters are the *largest* distortions: ``rotate`` in degrees, ``shear`` as a
    fraction, ``shift`` in pixels (of the centre of mass, beyond MNIST's own rounding),
    ``elastic`` as the standard deviation in pixels of the coarse displacement field,
    ``thickness`` as the largest blend toward a one-pixel dilation (>0 thickens) or
    erosion (<0 thins) of the strokes. ``strength`` multiplies all of these. ``styles``
    adds the other writers' and forms' styles (see the module docstring) to a share of
    the images: 1.0 the shares listed there, 0.5 half of them, 0 (or False) none.
    ``rng`` is a ``numpy.random.Generator`` (or a seed); the same state gives the same
    distortions.
    """

    def __init__(self, rotate=12.0, shear=0.15, shift=1.0, elastic=0.6, thickness=0.5,
                 rng=None, strength=1.0, styles=1.0):
        k = float(strength)
        self.rotate, self.shear, self.shift = rotate * k, shear * k, shift * k
        self.elastic, self.thickness = elastic * k, thickness * k
        self.styles = float(styles)
        self.rng = np.random.default_rng(rng)
        r, c = np.divmod(np.arange(SIDE * SIDE, dtype=np.float32), SIDE)
        self._rc = (r, c)                     # every pixel's row and column, (784,) each
        self._up = _coarse_to_fine()
        self._lowres = {s: (_resampler(s, SIDE), _resampler(SIDE, s))
                        for s in range(_LOWRES[0], _LOWRES[1] + 1)}

    def __call__(self, x):
        """A distorted copy of the batch ``x`` (N, 784) float32; ``x`` is not modified."""
        n = len(x)
        if n == 0:
            return x.copy()
        rng = self.rng
        f32 = np.float32
        x = self._thicken(x)
        # Where the ink is: the centre of mass, and every pixel that counts for the extent.
        r, c = self._rc
        mass = x.sum(axis=1) + f32(1e-6)
        com_r, com_c = (x @ r) / mass, (x @ c) / mass
        ink = (x > _INK).reshape(n, SIDE, SIDE)

        # The linear part A = [[a, b], [d, e]] acting on (row, col): rotation x shear.
        angle = np.deg2rad(rng.uniform(-self.rotate, self.rotate, n)).astype(f32)
        shear = rng.uniform(-self.shear, self.shear, n).astype(f32)
        if self.styles:   # a slanted hand: columns shift with the row, up to +-20 deg
            slanted = rng.random(n) < _SLANT_SHARE * self.styles
            shear = np.where(slanted, rng.uniform(-_SLANT, _SLANT, n), shear).astype(f32)
        cos, sin = np.cos(angle), np.sin(angle)
        a, b = cos, -sin
        d, e = sin + shear * cos, cos - shear * sin
        # The distorted digit's extent: where its ink goes. The extremes of a linear map
        # over the ink lie on its outline, so each row's leftmost and rightmost ink pixel
        # (56 points per image, not 784) are enough.
        height, width = self._extent(ink, com_r, com_c, a, b, d, e)
        sr = sc = np.ones(n, f32)
        if self.styles:   # stretched to fill a square box, fully or partly
            boxed = rng.random(n) < _BOX_SHARE * self.styles
            fill = rng.uniform(0.5, 1.0, n).astype(f32)
            side = np.maximum(height, width)
            sr = np.where(boxed, (side / height) ** fill, 1).astype(f32)
            sc = np.where(boxed, (side / width) ** fill, 1).astype(f32)
        # ... and scaled back so that the longer side is BOX pixels, as normalise() makes it.
        scale = f32(BOX) / np.maximum(height * sr, width * sc)
        sr, sc = sr * scale, sc * scale
        a, b, d, e = a * sr, b * sr, d * sc, e * sc
        # Sampling needs the inverse map: output offset from target -> input offset.
        det = a * e - b * d
        ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
        target = rng.uniform(-self.shift, self.shift, (2, n)).astype(f32) + f32(CENTRE)
        pr = r[None, :] - target[0][:, None]
        pc = c[None, :] - target[1][:, None]
        src_r = ia[:, None] * pr + ib[:, None] * pc + com_r[:, None]
        src_c = id_[:, None] * pr + ie[:, None] * pc + com_c[:, None]
        if self.elastic:
            field = rng.normal(0, self.elastic, (2 * n, 16)).astype(f32) @ self._up
            src_r += field[:n]
            src_c += field[n:]
        out = self._sample(x, src_r, src_c)
        if self.styles:
            out = self._low_resolution(out)
        return out

    @staticmethod
    def _extent(ink, com_r, com_c, a, b, d, e):
        """Height and width (pixels, (n,) each) of the ink ``ink`` (n, SIDE, SIDE) after
        the linear maps [[a, b], [d, e]] (n,) about the centres (com_r, com_c) (n,)."""
        f32 = np.float32
        has = ink.any(axis=2)                                   # (n, SIDE): rows with ink
        left = ink.argmax(axis=2).astype(f32)
        right = f32(SIDE - 1) - ink[:, :, ::-1].argmax(axis=2)
        rr = np.arange(SIDE, dtype=f32)[None, :] - com_r[:, None]
        ext = []
        for u, v in ((a, b), (d, e)):  # the output's row, then its column
            p = [u[:, None] * rr + v[:, None] * (cols - com_c[:, None]) for cols in (left, right)]
            hi = np.where(has, np.maximum(*p), -np.inf).max(axis=1)
            lo = np.where(has, np.minimum(*p), np.inf).min(axis=1)
            ext.append(np.maximum(np.where(np.isfinite(hi), hi - lo + 1, 1), 1).astype(f32))
        return ext

    def _thicken(self, x):
        """Blend each image toward its dilation or erosion by a random amount; with
        ``styles``, some images get a full extra pixel of width first (a marker)."""
        n = len(x)
        img = x.reshape(n, SIDE, SIDE)
        if self.styles:
            marker = self.rng.random(n) < _MARKER_SHARE * self.styles
            if marker.any():
                img = img.copy()
                img[marker] = _cross(img[marker], np.maximum)
        if not self.thickness:
            return img.reshape(n, SIDE * SIDE)
        dil = _cross(img, np.maximum)
        ero = _cross(img, np.minimum)
        ero[:, 0], ero[:, -1], ero[:, :, 0], ero[:, :, -1] = 0, 0, 0, 0  # black outside
        t = self.rng.uniform(-self.thickness, self.thickness, (n, 1, 1)).astype(np.float32)
        # out = img + t (dil - img) for t > 0, img + |t| (ero - img) for t < 0
        target = np.where(t > 0, dil, ero)
        target -= img
        target *= np.abs(t)
        target += img
        return target.reshape(n, SIDE * SIDE)

    def _low_resolution(self, x):
        """Some images reduced to 10..18 px (area average; one size per batch) and enlarged
        back (linear), as a small scan is; the ink core is brought back to 1.0, as
        normalise() does."""
        n = len(x)
        low = np.flatnonzero(self.rng.random(n) < _LOWRES_SHARE * self.styles)
        if not low.size:
            return x
        down, up = self._lowres[int(self.rng.integers(_LOWRES[0], _LOWRES[1] + 1))]
        img = x.reshape(n, SIDE, SIDE)
        small = up @ (down @ img[low] @ down.T) @ up.T
        small /= np.maximum(small.max(axis=(1, 2), keepdims=True), np.float32(1e-6))
        img[low] = small
        return np.clip(x, 0, 1, out=x)

    @staticmethod
    def _sample(x, rows, cols):
        """Bilinear samples of images ``x`` (N, 784) at source coordinates (N, 784) each.

        ``rows`` and ``cols`` are float32 (N, 784) and are overwritten.
        """
        n = len(x)
        side = SIDE + 2 * _PAD
        padded = np.zeros((n, side, side), dtype=np.float32)
        padded[:, _PAD:-_PAD, _PAD:-_PAD] = x.reshape(n, SIDE, SIDE)
        flat = padded.reshape(-1)
        # Clamp into the padded frame; everything clamped lands on the zero border.
        np.clip(rows, -_PAD, SIDE + _PAD - 2, out=rows)
        np.clip(cols, -_PAD, SIDE + _PAD - 2, out=cols)
        rows += _PAD
        cols += _PAD
        r0 = np.floor(rows)
        c0 = np.floor(cols)
        rows -= r0                          # now the fractional parts
        cols -= c0
        r0 *= side                          # exact in float32 for these small integers
        r0 += c0
        idx = r0.astype(np.intp)
        idx += (np.arange(n, dtype=np.intp) * (side * side))[:, None]
        top = flat.take(idx)
        right = flat.take(idx + 1)
        right -= top
        right *= cols
        top += right                        # top row, interpolated along the columns
        idx += side
        bottom = flat.take(idx)
        right = flat.take(idx + 1)
        right -= bottom
        right *= cols
        bottom += right
        bottom -= top
        bottom *= rows
        top += bottom
        return np.clip(top, 0, 1, out=top)


def _cross(img, op):
    """``op`` (np.maximum: dilation, np.minimum: erosion) over each pixel and its 4
    neighbours, for images (n, SIDE, SIDE); a pixel at the edge has fewer neighbours."""
    out = img.copy()
    op(out[:, 1:], img[:, :-1], out=out[:, 1:])
    op(out[:, :-1], img[:, 1:], out=out[:, :-1])
    op(out[:, :, 1:], img[:, :, :-1], out=out[:, :, 1:])
    op(out[:, :, :-1], img[:, :, 1:], out=out[:, :, :-1])
    return out
