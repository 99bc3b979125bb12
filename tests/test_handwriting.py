"""Synthetic handwriting: digits drawn as pen strokes, in the layout classify feeds the network."""

import numpy as np

import digitnet
from digitnet import handwriting


def test_draws_digits_in_mnist_layout_reproducibly():
    x, y = handwriting.draw(300, np.random.default_rng(4))
    again, labels = handwriting.draw(300, np.random.default_rng(4))
    assert x.shape == (300, 784) and x.dtype == np.float32 and y.shape == (300,)
    assert np.array_equal(x, again) and np.array_equal(y, labels)
    assert 0 <= x.min() and x.max() <= 1 and set(y.tolist()) == set(range(10))
    img = x.reshape(-1, 28, 28)
    ink = img > 0.05
    rows, cols = ink.any(axis=2), ink.any(axis=1)
    height = 28 - rows.argmax(1) - rows[:, ::-1].argmax(1)
    width = 28 - cols.argmax(1) - cols[:, ::-1].argmax(1)
    # Longer side 20 px (the pen's antialiased edge may add a pixel), never cut off.
    assert np.all(np.abs(np.maximum(height, width) - 20) <= 1)
    assert not ink[:, [0, -1], :].any() and not ink[:, :, [0, -1]].any()
    r = np.arange(28)
    mass = img.sum(axis=(1, 2))
    com_r = (img.sum(2) @ r) / mass
    com_c = (img.sum(1) @ r) / mass
    # Centred by mass, unless the box had to be moved back inside the field.
    off = np.maximum(np.abs(com_r - 14), np.abs(com_c - 14))
    assert np.mean(off < 1.0) > 0.95 and off.max() < 5, off.max()


def test_every_glyph_is_the_digit_it_claims():
    # The shipped wide model, trained with these glyphs among its data, reads them; a
    # glyph drawn wrong (a 7 that looks like a 1) would show up here as a weak digit.
    x, y = handwriting.draw(2000, np.random.default_rng(9))
    got = np.array([r.digit for r in digitnet.load("wide").results(x)])
    per_digit = [np.mean(got[y == d] == d) for d in range(10)]
    assert min(per_digit) > 0.9, per_digit
