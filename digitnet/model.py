"""The public way to use digitnet from Python: load a model, classify images.

    >>> import digitnet
    >>> model = digitnet.load("default")            # a shipped model's name, or a path
    >>> result = model.classify("digit.png")          # or bytes, a PIL image, a numpy array
    >>> result.digit, result.margin                   # (7, 0.886)

A :class:`Model` wraps a validated :class:`~digitnet.network.Network` (its ``network``)
with its model card. ``classify`` puts one image through the same MNIST-style
normalisation and the same network as ``digitnet classify`` -- the command line is built
on exactly these calls -- and ``classify_many`` does a batch with one matrix product per
layer. Every fault raises a :class:`~digitnet.errors.DigitnetError` whose message is the
line the command line prints.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import numpy as np

from . import batch, weightfile
from .errors import DigitnetError, ImageError, printable
from .network import CONFIDENT_MARGIN, Network, top_two
from .threads import blas_threads

__all__ = ["load", "Model", "Result", "top_two", "CONFIDENT_MARGIN"]


def load(spec="default") -> "Model":
    """Load a model: ``"default"`` (784-16-16-10), ``"wide"``, or the path of an ``.npz``.

    The weight file and its model card are validated (see :mod:`digitnet.weightfile`);
    raises :class:`~digitnet.errors.WeightFileError` with a one-line message otherwise.
    """
    net, card = weightfile.load(spec)
    return Model(net, card, name=os.fspath(spec))


@dataclass(frozen=True)
class Result:
    """What the network computed for one image.

    ``digit`` is the answer (the brightest output), ``activation`` its output value,
    ``runner_up`` the second brightest and ``margin`` how far ahead the answer is
    (``activation - outputs[runner_up]``, 0..1: small means unsure; ``confident`` says
    whether it reaches :data:`~digitnet.network.CONFIDENT_MARGIN`). ``outputs`` is the
    (10,) output layer; ``layers`` every layer's activations, the (784,) input first --
    the 28x28 image as the network sees it, row-major -- and the outputs last. ``sums``,
    when asked for, holds each layer's weighted inputs ``z = W @ a + b`` (before the
    sigmoid; one entry fewer than ``layers``), else None.
    """

    digit: int
    activation: float
    margin: float
    runner_up: int
    outputs: np.ndarray
    layers: list
    sums: list | None = None

    @property
    def confident(self) -> bool:
        """Does the answer lead the runner-up by at least ``CONFIDENT_MARGIN`` (0.3)?"""
        return self.margin >= CONFIDENT_MARGIN

    def to_dict(self) -> dict:
        """The JSON fields of ``digitnet classify --json`` (without ``file``)."""
        return {"digit": self.digit, "activation": self.activation, "margin": self.margin,
                "confident": self.confident, "runner_up": self.runner_up,
                "outputs": self.outputs.tolist(), "layers": [a.tolist() for a in self.layers]}


class Model:
    """A trained network with its model card, ready to classify images.

    ``network`` is the :class:`~digitnet.network.Network` (weights and biases as numpy
    arrays), ``card`` the model card (a dict, or None), ``name`` what it was loaded as.
    """

    def __init__(self, network: Network, card: dict | None = None, name: str | None = None):
        self.network, self.card, self.name = network, card, name

    def __repr__(self):
        return f"<digitnet.Model {self.name or ''} {'-'.join(map(str, self.sizes))}>"

    @property
    def sizes(self) -> list:
        """Layer sizes, input first: ``[784, 16, 16, 10]`` for the default model."""
        return self.network.sizes

    def inputs(self, image, raw: bool = False) -> np.ndarray:
        """The network's (784,) float32 inputs for one image, as ``classify`` makes them.

        ``image`` is a path, the bytes of an image file, a PIL image, or a numpy array
        ((H, W) gray, (H, W, 3) RGB, (H, W, 4) RGBA; uint8 0..255 or float 0..1), in
        either polarity: dark ink on light paper is inverted, the paper removed, the digit
        cropped, scaled to 20 px and centred by its centre of mass in 28x28, as MNIST was
        made. ``raw=True``: the image already is 28x28 MNIST-style (light ink on black).
        """
        return batch.load_input(image, raw)

    def classify(self, image, raw: bool = False, sums: bool = False) -> Result:
        """Classify one image (see :meth:`inputs` for what ``image`` may be).

        An image that cannot be read raises :class:`~digitnet.errors.ImageError`, its
        message prefixed with the path when ``image`` is one.
        """
        return self.results(self._named_inputs(image, raw)[None], sums=sums)[0]

    def classify_many(self, images, raw: bool = False, sums: bool = False) -> list:
        """Classify several images: one :class:`Result` each, in order.

        All of them go through the network together, one matrix product per layer (and
        small pictures through the normalisation together: :func:`digitnet.batch.iter_many`).
        The first image that cannot be read raises :class:`~digitnet.errors.ImageError`
        naming it (its path, or its position from 0: ``image 3: no digit found``), before
        the images after it are read.
        """
        images = list(images)
        rows = []
        for i, (image, row) in enumerate(zip(images, batch.iter_many(images, raw))):
            if isinstance(row, ImageError):
                raise _named(row, image, i)
            rows.append(row)
        return self.results(np.stack(rows), sums=sums) if rows else []

    def _named_inputs(self, image, raw):
        try:
            return self.inputs(image, raw)
        except ImageError as e:
            raise _named(e, image) from None

    def results(self, x: np.ndarray, sums: bool = False) -> list:
        """Results for inputs that already are the network's: ``x`` (N, 784) in 0..1.

        One forward pass for the whole batch: each layer is one matrix product, on one
        BLAS thread unless the user set a thread count (:mod:`digitnet.threads`).
        """
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise DigitnetError(f"expected inputs of shape (N, {self.sizes[0]}), got {x.shape}")
        # One image is too little work for any BLAS to split: no thread pool to set.
        with blas_threads() if len(x) > 1 else contextlib.nullcontext():
            layers, zs = self.network.forward(x)
        out = layers[-1]
        win, second = top_two(out)
        rows = np.arange(len(out))
        acts = out[rows, win].tolist()
        margins = (out[rows, win] - out[rows, second]).tolist()
        return [Result(int(win[i]), acts[i], margins[i], int(second[i]), out[i],
                       [a[i] for a in layers], [z[i] for z in zs] if sums else None)
                for i in range(len(out))]


def _named(error: ImageError, image, index: int | None = None) -> ImageError:
    """``error`` for ``image``, its message prefixed with the image's path if it has one,
    else with its position ``index`` among several."""
    if isinstance(image, (str, os.PathLike)):
        return ImageError(f"{printable(os.fspath(image))}: {error}")
    if index is not None:
        return ImageError(f"image {index}: {error}")
    return error
