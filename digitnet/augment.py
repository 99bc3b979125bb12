"""Random distortions of digit images, vectorised over a batch (training only).

A network that has only seen MNIST's neatly centred digits is thrown by a digit that is a
little rotated, thicker, or wobblier than usual. Showing it slightly distorted copies of
the training images during training -- new ones every epoch -- teaches it to ignore such
differences. Every distortion here is one random smooth warp per image:

    output pixel p  <-  input image sampled at  A (p - c) + c + t + d(p)

with A a random rotation x scale x shear, t a random shift, and d(p) a smooth random
displacement field ("elastic" distortion; Simard et al. 2003) made by bilinearly
upsampling random displacements on a coarse 4x4 grid -- one small matrix product for the
whole batch. Sampling is bilinear, done for all N x 784 pixels at once with fancy indexing.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Augmenter"]

SIDE = 28
_PAD = 2   # zero border so that samples falling just outside the image read black


def _coarse_to_fine(k=4, side=SIDE):
    """(k*k, side*side) matrix that bilinearly upsamples a k x k grid to side x side."""
    pos = np.linspace(0, k - 1, side)
    i0 = np.clip(np.floor(pos).astype(int), 0, k - 2)
    f = pos - i0
    up = np.zeros((side, k))
    up[np.arange(side), i0] = 1 - f
    up[np.arange(side), i0 + 1] = f
    return np.kron(up, up).T.astype(np.float32)       # (k*k, side*side)


class Augmenter:
    """Draws random warps and applies them to batches of (N, 784) images in 0..1.

    Parameters are the *largest* distortions: ``rotate`` in degrees, ``scale`` as a
    fraction (0.1 = 90%..110%), ``shear`` as a fraction, ``shift`` in pixels, ``elastic`` as
    the standard deviation in pixels of the coarse displacement field, ``thickness`` as the
    largest blend toward a one-pixel dilation (>0 thickens) or erosion (<0 thins) of the
    strokes. ``rng`` is a ``numpy.random.Generator``; the same generator state gives the same
    distortions. ``strength`` multiplies every one of the largest distortions (0.5 = half
    as much rotation, scaling, shift ... as the defaults).
    """

    def __init__(self, rotate=12.0, scale=0.12, shear=0.15, shift=2.0, elastic=0.6,
                 thickness=0.5, rng=None, strength=1.0):
        k = float(strength)
        self.rotate, self.scale, self.shear, self.shift = rotate * k, scale * k, shear * k, shift * k
        self.elastic, self.thickness = elastic * k, thickness * k
        self.rng = np.random.default_rng(rng)
        r, c = np.divmod(np.arange(SIDE * SIDE, dtype=np.float32), SIDE)
        # Pixel coordinates relative to the image centre, shape (2, 784).
        self._grid = np.stack([r - (SIDE - 1) / 2, c - (SIDE - 1) / 2])
        self._up = _coarse_to_fine()

    def __call__(self, x):
        """A distorted copy of the batch ``x`` (N, 784) float32; ``x`` is not modified."""
        n = len(x)
        rng = self.rng
        f32 = np.float32
        angle = np.deg2rad(rng.uniform(-self.rotate, self.rotate, n)).astype(f32)
        zoom = (1 + rng.uniform(-self.scale, self.scale, n)).astype(f32)
        shear = rng.uniform(-self.shear, self.shear, n).astype(f32)
        shift = rng.uniform(-self.shift, self.shift, (2, n)).astype(f32) + f32((SIDE - 1) / 2)
        cos, sin = np.cos(angle) / zoom, np.sin(angle) / zoom
        # Inverse map (output pixel -> source position): rotation/zoom then shear, as a
        # 2x2 matrix [[m00, m01], [m10, m11]] per image, applied to centred coordinates.
        m00, m01 = cos, shear * cos - sin
        m10, m11 = sin, cos + shear * sin
        gr, gc = self._grid
        rows = np.multiply.outer(m00, gr)
        rows += np.multiply.outer(m01, gc)
        rows += shift[0][:, None]
        cols = np.multiply.outer(m10, gr)
        cols += np.multiply.outer(m11, gc)
        cols += shift[1][:, None]
        if self.elastic:
            field = rng.normal(0, self.elastic, (2 * n, 16)).astype(f32) @ self._up
            rows += field[:n]
            cols += field[n:]
        return self._sample(self._thicken(x), rows, cols)

    def _thicken(self, x):
        """Blend each image toward its dilation or erosion by a random amount."""
        if not self.thickness:
            return x
        n = len(x)
        img = x.reshape(n, SIDE, SIDE)
        # Max / min over the pixel and its 4 neighbours, by shifted slices (the image is
        # black outside, so a missing neighbour counts as 0 for the max and the min).
        dil = img.copy()
        np.maximum(dil[:, 1:], img[:, :-1], out=dil[:, 1:])
        np.maximum(dil[:, :-1], img[:, 1:], out=dil[:, :-1])
        np.maximum(dil[:, :, 1:], img[:, :, :-1], out=dil[:, :, 1:])
        np.maximum(dil[:, :, :-1], img[:, :, 1:], out=dil[:, :, :-1])
        ero = img.copy()
        np.minimum(ero[:, 1:], img[:, :-1], out=ero[:, 1:])
        np.minimum(ero[:, :-1], img[:, 1:], out=ero[:, :-1])
        np.minimum(ero[:, :, 1:], img[:, :, :-1], out=ero[:, :, 1:])
        np.minimum(ero[:, :, :-1], img[:, :, 1:], out=ero[:, :, :-1])
        ero[:, 0], ero[:, -1], ero[:, :, 0], ero[:, :, -1] = 0, 0, 0, 0
        t = self.rng.uniform(-self.thickness, self.thickness, (n, 1, 1)).astype(np.float32)
        # out = img + t (dil - img) for t > 0, img + |t| (ero - img) for t < 0
        target = np.where(t > 0, dil, ero)
        target -= img
        target *= np.abs(t)
        target += img
        return target.reshape(n, SIDE * SIDE)

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
        idx = r0.astype(np.int32)
        idx += (np.arange(n, dtype=np.int32) * (side * side))[:, None]
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
