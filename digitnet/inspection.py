"""Looking inside a model: its layers, a layer's weights, and what a real image makes of them.

The numbers ``digitnet inspect-layer`` prints (and draws) come from here, so that a script
gets the very same ones:

- :func:`summary`: one dict per layer (shape, parameters, weight and bias ranges);
- :func:`layer_view`: one layer's weights and biases -- all neurons or some -- with
  per-neuron statistics, and, given an image, each neuron's weighted sum made concrete:
  the contribution of every input (input activation x weight), their sum, the bias,
  ``z`` and ``sigmoid(z)``, exactly as ``classify`` computes them;
- :func:`top_digits`: what each neuron of a layer detects -- the test digits that excite
  it most, and the picture they share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["summary", "layer_view", "LayerView", "value_range", "neuron_stats", "top_digits",
           "TopDigits", "PREFERRED_FROM", "PREFERRED_METHOD", "MAX_TOP", "checked_neurons"]


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

    n_layers: int = 0           # layers in the network (the last is the output layer)

    @property
    def shape(self):
        """(n_out, n_in) of the whole layer."""
        return self.all_weights.shape

    @property
    def is_output(self) -> bool:
        """Is this the output layer (whose neuron K is digit K)?"""
        return self.layer == self.n_layers

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


def layer_view(network, layer: int, neurons=None, inputs=None, result=None) -> LayerView:
    """Layer ``layer`` (1..L) of ``network`` for ``neurons`` (indices; None = all).

    ``inputs``: optionally the network's (784,) inputs for an image (as
    :meth:`digitnet.Model.inputs` makes them); then the view also holds each neuron's
    contributions, weighted sum, ``z`` and activation for that image. The forward pass is
    a batch of one, exactly as ``classify`` runs each image: the same numbers to the bit
    (``result``: that image's :class:`digitnet.Result` with its ``sums``, if the caller
    ran it already). Raises IndexError for a layer or neuron that does not exist.
    """
    rows = checked_neurons(network, layer, neurons)
    W, b = network.weights[layer - 1], network.biases[layer - 1]
    view = LayerView(layer, rows, W[rows], b[rows], W, b, neuron_stats(W[rows], b[rows], rows),
                     n_layers=len(network.weights))
    if inputs is not None:
        if result is None:
            acts, zs = ([a[0] for a in arrays]
                        for arrays in network.forward(np.asarray(inputs)[None]))
        else:
            acts, zs = result.layers, result.sums
        view.inputs = acts[layer - 1]
        view.contributions = W[rows] * view.inputs
        view.sums = view.contributions.sum(axis=1)
        view.z = zs[layer - 1][rows]
        view.activations = acts[layer][rows]
    return view


#: How many of a neuron's most exciting test digits its preferred-input picture averages.
PREFERRED_FROM = 100
#: The most of a neuron's top digits one may ask for (``inspect-layer --top`` and the
#: draw page's API; the CLI's range repeats it, a test checks that they agree).
MAX_TOP = 50
#: How the preferred input is made, in words (the JSON's ``preferred_input``).
PREFERRED_METHOD = (f"mean of the {PREFERRED_FROM} most exciting test digits minus the mean "
                    "test digit")


def checked_neurons(network, layer: int, neurons=None) -> list:
    """The neuron indices ``neurons`` of layer ``layer`` (1..L) as a list (None: all of
    them); IndexError naming the valid range for a layer or neuron that does not exist."""
    if not 1 <= layer <= len(network.weights):
        raise IndexError(f"this model has layers 1..{len(network.weights)}")
    n_out = network.weights[layer - 1].shape[0]
    rows = list(range(n_out)) if neurons is None else [int(k) for k in neurons]
    for k in rows:
        if not 0 <= k < n_out:
            raise IndexError(f"layer {layer} has neurons 0..{n_out - 1}")
    return rows


@dataclass
class TopDigits:
    """What the neurons of one layer respond to, measured on a set of digits.

    ``indices`` (n_neurons, k) are the positions in the set (the MNIST test set: t10k) of
    each neuron's ``k`` most exciting digits, strongest first, ``activations`` (n, k)
    their activations and ``labels`` (n, k) their labels. ``preferred`` (n, 784) is each
    neuron's preferred input: the mean of its :data:`PREFERRED_FROM` most exciting digits
    minus the mean of all digits -- positive where its favourite digits have ink that
    digits in general lack, negative where they lack ink that others have.
    """

    layer: int
    neurons: list
    indices: np.ndarray
    activations: np.ndarray
    labels: np.ndarray
    preferred: np.ndarray
    images: np.ndarray       # (n, k, 784) the top digits themselves
    n_layers: int = 0        # layers of the network (the last one's neuron K is digit K)

    @property
    def is_output(self) -> bool:
        return self.layer == self.n_layers

    def to_dict(self) -> dict:
        """The JSON of ``digitnet inspect-layer L --top K --json``."""
        return {"layer": self.layer, "data": "MNIST test set (t10k), 10,000 digits",
                "preferred_input": PREFERRED_METHOD,
                "neurons": [{"neuron": k, "test_indices": self.indices[i].tolist(),
                             "activations": self.activations[i].tolist(),
                             "labels": self.labels[i].tolist(),
                             "preferred": self.preferred[i].tolist()}
                            for i, k in enumerate(self.neurons)]}


def top_digits(network, layer: int, k: int, x: np.ndarray, labels: np.ndarray,
               neurons=None) -> TopDigits:
    """For each neuron of layer ``layer`` (1..L), the ``k`` digits of ``x`` exciting it most.

    ``x`` (N, 784) are network inputs (the MNIST test set as :func:`digitnet.mnist.load_split`
    gives it), ``labels`` (N,) their digits. One forward pass over all of them, in
    batches; ties are broken by the lower index, so the answer is reproducible.
    """
    from .evaluation import batch_size
    from .threads import blas_threads
    rows = checked_neurons(network, layer, neurons)
    k = max(1, min(int(k), len(x)))
    step = batch_size(network)
    with blas_threads():
        acts = np.concatenate([network.forward(x[i:i + step])[0][layer][:, rows]
                               for i in range(0, len(x), step)]).T        # (n, N)
    order = np.argsort(-acts, axis=1, kind="stable")                        # (n, N)
    top = order[:, :k]
    m = min(PREFERRED_FROM, len(x))
    preferred = x[order[:, :m]].mean(axis=1) - x.mean(axis=0)               # (n, 784)
    return TopDigits(layer, rows, top, np.take_along_axis(acts, top, axis=1),
                     np.asarray(labels)[top], preferred.astype(np.float64), x[top],
                     n_layers=len(network.weights))
