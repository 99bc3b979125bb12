"""Looking inside a model: its layers, a layer's weights, and what a real image makes of them.

The numbers ``digitnet inspect-layer`` prints (and draws) come from here, so that a script
gets the very same ones:

- :func:`summary`: one dict per layer (shape, parameters, weight and bias ranges);
- :func:`layer_view`: one layer's weights and biases -- all neurons or some -- with
  per-neuron statistics, and, given an image, each neuron's weighted sum made concrete:
  the contribution of every input (input activation x weight), their sum, the bias,
  ``z`` and ``sigmoid(z)``, exactly as ``classify`` computes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["summary", "layer_view", "LayerView", "value_range", "neuron_stats"]


def value_range(a: np.ndarray) -> dict:
    """``{"min": ..., "max": ...}`` of an array, as floats."""
    return {"min": float(a.min()), "max": float(a.max())}


def summary(network) -> list:
    """Each layer of a network: number (from 1), shape, parameters, activation, ranges."""
    return [{"layer": l, "shape": list(W.shape), "parameters": int(W.size + b.size),
             "activation": "sigmoid", "weights": value_range(W), "biases": value_range(b)}
            for l, (W, b) in enumerate(zip(network.weights, network.biases), start=1)]


def neuron_stats(W: np.ndarray, b: np.ndarray, rows) -> list:
    """Per-neuron statistics of incoming weights ``W`` (one row per neuron) and biases."""
    return [{"neuron": k, "bias": float(b[i]), "min": float(W[i].min()),
             "max": float(W[i].max()), "mean_abs": float(np.abs(W[i]).mean()),
             "positive": float((W[i] > 0).mean())} for i, k in enumerate(rows)]


@dataclass
class LayerView:
    """One layer (numbered from 1) of a network, for the neurons ``rows``.

    ``weights`` (k, n_in) and ``biases`` (k,) are those neurons' rows; ``all_weights`` and
    ``all_biases`` the whole layer's (for scales shared by every neuron). With an image:
    ``inputs`` (n_in,) the previous layer's activations, ``contributions`` (k, n_in) =
    input activation x weight, ``sums`` (k,) their row sums (the weighted sums, before
    the bias), ``z`` (k,) = weighted sum + bias and ``activations`` (k,) = sigmoid(z).
    """

    layer: int
    rows: list
    weights: np.ndarray
    biases: np.ndarray
    all_weights: np.ndarray
    all_biases: np.ndarray
    stats: list
    inputs: np.ndarray | None = None
    contributions: np.ndarray | None = None
    sums: np.ndarray | None = None
    z: np.ndarray | None = None
    activations: np.ndarray | None = None

    @property
    def shape(self):
        """(n_out, n_in) of the whole layer."""
        return self.all_weights.shape

    def to_dict(self, image_name=None) -> dict:
        """The JSON document of ``digitnet inspect-layer L --json``."""
        doc = {"layer": self.layer, "shape": list(self.shape), "neurons": self.rows,
               "weights": self.weights.tolist(), "biases": self.biases.tolist(),
               "stats": {"weights": value_range(self.all_weights),
                         "biases": value_range(self.all_biases), "neurons": self.stats}}
        if self.inputs is not None:
            doc["image"] = {"file": image_name, "inputs": self.inputs.tolist(),
                            "contributions": self.contributions.tolist(),
                            "weighted_sums": self.sums.tolist(), "biases": self.biases.tolist(),
                            "z": self.z.tolist(), "activations": self.activations.tolist()}
        return doc


def layer_view(network, layer: int, neurons=None, inputs=None) -> LayerView:
    """Layer ``layer`` (1..L) of ``network`` for ``neurons`` (indices; None = all).

    ``inputs``: optionally the network's (784,) inputs for an image (as
    :meth:`digitnet.Model.inputs` makes them); then the view also holds each neuron's
    contributions, weighted sum, ``z`` and activation for that image. The forward pass is
    a batch of one, exactly as ``classify`` runs each image: the same numbers to the bit.
    Raises IndexError for a layer or neuron that does not exist.
    """
    if not 1 <= layer <= len(network.weights):
        raise IndexError(f"this model has layers 1..{len(network.weights)}")
    W, b = network.weights[layer - 1], network.biases[layer - 1]
    rows = list(range(W.shape[0])) if neurons is None else [int(k) for k in neurons]
    for k in rows:
        if not 0 <= k < W.shape[0]:
            raise IndexError(f"layer {layer} has neurons 0..{W.shape[0] - 1}")
    view = LayerView(layer, rows, W[rows], b[rows], W, b, neuron_stats(W[rows], b[rows], rows))
    if inputs is not None:
        acts, zs = ([a[0] for a in arrays] for arrays in network.forward(np.asarray(inputs)[None]))
        view.inputs = acts[layer - 1]
        view.contributions = W[rows] * view.inputs
        view.sums = view.contributions.sum(axis=1)
        view.z = zs[layer - 1][rows]
        view.activations = acts[layer][rows]
    return view
