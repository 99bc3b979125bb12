"""Why the network gave its answer: which pixels pushed it up and which pushed it down.

``digitnet explain`` and the draw page show **gradient x input** maps. For an output
neuron c, its weighted input ``z_c`` (the evidence for digit c, before the sigmoid) is a
function of the 784 pixels. Its gradient ``dz_c/dx`` says how much ``z_c`` would change
if one pixel grew brighter; multiplied by that pixel's brightness it says how much the
pixel, as drawn, pushed ``z_c`` up (positive) or down (negative). A blank pixel
contributes nothing, so the map always lies over the digit's ink.

Backpropagation computes the gradient, exactly as in training, but for ``z_c`` instead
of the loss::

    g = e_c                                  # dz_c / dz_L: 1 for output c, 0 elsewhere
    g = (g @ W_l) * a_(l-1) * (1 - a_(l-1))  # down through each hidden layer's sigmoid
    dz_c/dx = g @ W_1                        # and the first layer's weights

We explain ``z`` rather than the output activation ``sigmoid(z)``: a confident output
sits on the flat top of the sigmoid, where every gradient is almost zero and the map
would be black however clearly the digit was drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .network import top_two

__all__ = ["gradients", "explain", "Explanation"]


def gradients(network, x, classes, layers=None) -> np.ndarray:
    """``dz_c / dx`` for each output ``c`` of ``classes``: (len(classes), 784) float64.

    ``x`` is one image's (784,) network inputs; ``layers``, if the caller already ran the
    forward pass, that image's activations per layer, input first (as
    :attr:`digitnet.Result.layers` holds them). All the classes go back through the
    layers together, one matrix product per layer.
    """
    if layers is None:
        layers = [a[0] for a in network.forward(np.asarray(x)[None])[0]]
    g = np.eye(network.sizes[-1])[list(classes)]              # (k, n_out)
    for l in range(len(network.weights) - 1, 0, -1):
        a = layers[l].astype(np.float64)
        g = (g @ network.weights[l]) * a * (1 - a)            # (k, n_l)
    return g @ network.weights[0]                             # (k, 784)


@dataclass
class Explanation:
    """Gradient x input maps for the answer and the runner-up of one image.

    ``digits`` are (answer, runner-up); ``maps`` (2, 784) their gradient x input, in
    units of ``z`` (a pixel's share of the evidence); ``z`` (2,) the evidence itself and
    ``bias_share`` (2,) what the linear estimate leaves unexplained
    (``z - maps.sum(axis=1)``: biases and the sigmoids' curvature).
    """

    digits: tuple
    inputs: np.ndarray
    maps: np.ndarray
    z: np.ndarray

    @property
    def bias_share(self) -> np.ndarray:
        return self.z - self.maps.sum(axis=1)

    @property
    def pushed_up(self) -> np.ndarray:
        """(2,) the sum of each map's positive part: pixels that raised z."""
        return np.array([m[m > 0].sum() for m in self.maps])

    @property
    def pushed_down(self) -> np.ndarray:
        """(2,) the sum of each map's negative part: pixels that lowered z."""
        return np.array([m[m < 0].sum() for m in self.maps])

    def explained(self) -> list:
        """Per digit (answer, runner-up): its z, pushed-up and pushed-down sums, bias
        share and map, as JSON (the ``explained`` of :meth:`to_dict`; the draw page's
        ``explain``)."""
        up, down, bias = self.pushed_up, self.pushed_down, self.bias_share
        return [{"digit": int(d), "z": float(self.z[i]), "pushed_up": float(up[i]),
                 "pushed_down": float(down[i]), "bias_share": float(bias[i]),
                 "map": self.maps[i].tolist()}
                for i, d in enumerate(self.digits)]

    def to_dict(self) -> dict:
        """The JSON of ``digitnet explain --json`` (without ``file``)."""
        return {"method": "gradient x input of the output's weighted input z",
                "explained": self.explained(), "inputs": self.inputs.tolist()}


def explain(network, x, result=None) -> Explanation:
    """Explain one image's answer: ``x`` its (784,) network inputs (:meth:`Model.inputs`),
    for the answer and the runner-up.

    ``result``: the image's :class:`digitnet.Result` with its ``sums``, if the caller has
    it already (``Model.results(..., sums=True)``); else the forward pass is run here.
    """
    x = np.asarray(x)
    if result is None:
        acts, zs = network.forward(x[None])
        layers, z_out = [a[0] for a in acts], zs[-1][0]
    else:
        layers, z_out = result.layers, result.sums[-1]
    win, second = top_two(layers[-1])
    digits = (int(win), int(second))
    maps = gradients(network, x, digits, layers) * x.astype(np.float64)
    return Explanation(digits, x, maps, z_out[list(digits)].astype(np.float64))
