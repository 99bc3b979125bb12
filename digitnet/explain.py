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


def gradients(network, x, classes, activations=None) -> np.ndarray:
    """``dz_c / dx`` for each output ``c`` of ``classes``: (len(classes), 784) float64.

    ``x`` is one image's (784,) network inputs; ``activations``, if the caller already ran
    the forward pass, its list for the batch of one (``network.forward(x[None])[0]``).
    All the classes go back through the layers together, one matrix product per layer.
    """
    acts = activations if activations is not None else network.forward(np.asarray(x)[None])[0]
    g = np.eye(network.sizes[-1])[list(classes)]              # (k, n_out)
    for l in range(len(network.weights) - 1, 0, -1):
        a = acts[l][0].astype(np.float64)
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

    def to_dict(self) -> dict:
        """The JSON of ``digitnet explain --json`` (without ``file``)."""
        return {"method": "gradient x input of the output's weighted input z",
                "explained": [{"digit": int(d), "z": float(self.z[i]),
                               "pushed_up": float(self.maps[i][self.maps[i] > 0].sum()),
                               "pushed_down": float(self.maps[i][self.maps[i] < 0].sum()),
                               "map": self.maps[i].tolist()}
                              for i, d in enumerate(self.digits)],
                "inputs": self.inputs.tolist()}


def explain(network, x, digits=None) -> Explanation:
    """Explain one image's answer: ``x`` its (784,) network inputs (:meth:`Model.inputs`).

    ``digits``: the two outputs to explain, default the answer and the runner-up.
    """
    x = np.asarray(x)
    acts, zs = network.forward(x[None])
    if digits is None:
        win, second = top_two(acts[-1][0])
        digits = (int(win), int(second))
    maps = gradients(network, x, digits, acts) * x.astype(np.float64)
    return Explanation(tuple(int(d) for d in digits), x, maps,
                       zs[-1][0][list(digits)].astype(np.float64))
