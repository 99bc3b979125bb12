"""The network math: sigmoid neurons in layers, the forward pass, and backpropagation.

The whole story in a few lines. The input layer holds 784 activations: the brightness
(0..1) of each pixel of a 28x28 image, row by row. Every neuron of the next layer takes a
**weighted sum** of the previous layer's activations, adds its **bias**, and squashes the
result with the **sigmoid** into 0..1::

    z = W @ a + b          # W: (n_out, n_in), a: (n_in,), b: (n_out,)
    a_next = sigmoid(z)

Layer after layer, until 10 output neurons; the brightest output is the network's answer.

Everything here is vectorised over a *batch*: N images are a matrix X of shape (N, 784) and
each layer is one matrix product ``A @ W.T + b`` -- never a Python loop over images.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sigmoid", "Network", "top_two", "CONFIDENT_MARGIN"]


def sigmoid(z, out=None):
    """The logistic function 1 / (1 + e^-z), elementwise, for any array shape.

    Written as ``0.5 * tanh(z / 2) + 0.5``, which is mathematically the same function but
    never overflows: ``exp(-z)`` overflows (and warns) for z below about -710 in float64 and
    -88 in float32, while tanh simply saturates at -1 or 1. Works in place with ``out=``
    (used by training to avoid allocating new buffers every batch).
    """
    z = np.asarray(z)
    if z.dtype.kind != "f":
        z = z.astype(np.float64)
    out = np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


#: An answer is *confident* when it leads the runner-up by at least this margin (output
#: units, 0..1). On the MNIST test digits, answers below it are right only about 60% of
#: the time with either shipped model, answers above it 98.1% (default) and 99.5% (wide)
#: of the time (``python benchmarks/confidence.py``).
CONFIDENT_MARGIN = 0.3


def top_two(outputs):
    """Winner and runner-up of each row of ``outputs`` (N, n): two int arrays of shape (N,).

    (A single (n,) vector gives two ints.) The brightest output wins; ties go to the lower
    digit, as with ``argmax`` (saturated sigmoids can make two outputs exactly 1.0); NaN
    never wins. With one output, the runner-up is the winner itself.
    """
    outputs = np.asarray(outputs)
    key = np.where(np.isnan(outputs), -np.inf, outputs)
    order = np.argsort(-key, axis=-1, kind="stable")
    return order[..., 0], order[..., 1 if outputs.shape[-1] > 1 else 0]


class Network:
    """A fully connected feed-forward network of sigmoid neurons.

    ``weights[l]`` has shape (n_out, n_in): row j holds the incoming weights of neuron j of
    layer l+1 -- reshape a row of the first layer to (28, 28) and you see which pixels excite
    (positive) or inhibit (negative) that neuron. ``biases[l]`` has shape (n_out,).
    Layer sizes are ``sizes = [784, 16, 16, 10]`` for the default network; any sizes work.
    """

    def __init__(self, weights, biases):
        if len(weights) != len(biases) or not weights:
            raise ValueError("need one bias vector per weight matrix, and at least one layer")
        self.weights = [np.ascontiguousarray(w) for w in weights]
        self.biases = [np.ascontiguousarray(b) for b in biases]
        for l, (w, b) in enumerate(zip(self.weights, self.biases), start=1):
            if w.ndim != 2 or b.shape != (w.shape[0],):
                raise ValueError(f"layer {l}: weights {w.shape} and biases {b.shape} do not fit")
            if l > 1 and w.shape[1] != self.weights[l - 2].shape[0]:
                raise ValueError(f"layer {l}: expects {w.shape[1]} inputs, previous layer has "
                                 f"{self.weights[l - 2].shape[0]} neurons")

    @classmethod
    def random(cls, sizes, rng=None, dtype=np.float32):
        """A fresh, untrained network with layer sizes like ``[784, 16, 16, 10]``.

        Weights are drawn from a normal distribution with standard deviation 1/sqrt(n_in), so
        that each weighted sum starts with a spread of about 1 whatever the layer's fan-in --
        large enough to break symmetry, small enough not to saturate the sigmoids (Nielsen,
        chapter 3). Biases start at zero. ``rng`` is a ``numpy.random.Generator`` or a seed.
        """
        rng = np.random.default_rng(rng)
        weights = [(rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)).astype(dtype)
                   for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        biases = [np.zeros(n_out, dtype=dtype) for n_out in sizes[1:]]
        return cls(weights, biases)

    @property
    def sizes(self):
        """Layer sizes, input first: e.g. ``[784, 16, 16, 10]``."""
        return [self.weights[0].shape[1]] + [w.shape[0] for w in self.weights]

    @property
    def dtype(self):
        return self.weights[0].dtype

    def feedforward(self, x):
        """Every layer's activations for one image or a batch, input layer included.

        ``x`` is one image ``(784,)`` or a batch ``(N, 784)`` of brightnesses 0..1. Returns a
        list ``[a0, a1, ..., aL]`` where ``a0`` is the input itself (as the network's dtype)
        and ``aL`` the 10 outputs; each has shape ``(n,)`` or ``(N, n)`` like ``x``.
        """
        return self.forward(x)[0]

    def forward(self, x):
        """Activations *and* weighted inputs of every layer.

        Returns ``(activations, zs)``: ``activations`` as in :meth:`feedforward`, and
        ``zs[l] = activations[l] @ weights[l].T + biases[l]`` -- the weighted sum plus bias
        of each neuron of layer l+1 *before* the sigmoid (one fewer entry than activations).
        """
        a = np.asarray(x, dtype=self.dtype)
        if a.shape[-1] != self.sizes[0] or a.ndim not in (1, 2):
            raise ValueError(f"expected input of shape ({self.sizes[0]},) or "
                             f"(N, {self.sizes[0]}), got {a.shape}")
        activations, zs = [a], []
        for w, b in zip(self.weights, self.biases):
            z = a @ w.T          # (N, n_in) @ (n_in, n_out): one BLAS call for the batch
            z += b
            zs.append(z)
            a = sigmoid(z)
            activations.append(a)
        return activations, zs

    def predict(self, x):
        """The answer: index of the brightest output neuron, per image. Shape () or (N,)."""
        return np.argmax(self.feedforward(x)[-1], axis=-1)

    def backprop(self, x, y, loss="cross-entropy"):
        """Gradients of the mean loss over a batch, by backpropagation.

        ``x`` is a batch (N, n_in), ``y`` the targets (N, n_out) in 0..1 (one-hot labels, or
        soft targets). Returns ``(grad_w, grad_b, mean_loss)`` with ``grad_w[l]`` shaped like
        ``weights[l]``.

        The error of the output layer, delta = dC/dz, is where the two losses differ:

        - ``"cross-entropy"``: C = -sum(y ln a + (1-y) ln(1-a)); then delta = a - y. The
          sigmoid's slope cancels out, so a confidently wrong neuron still learns fast.
        - ``"quadratic"``: C = 1/2 sum (a - y)^2, the cost the classic explainer starts with;
          delta = (a - y) * sigmoid'(z), which vanishes when a saturates.

        Then, going backwards, each layer's delta is the next layer's delta sent back through
        the weights and scaled by the sigmoid's slope a(1-a):
        ``delta_l = (delta_{l+1} @ W_{l+1}) * a_l * (1 - a_l)``, and the gradients are
        ``dC/dW = delta.T @ a_prev / N`` and ``dC/db = mean(delta)``.
        """
        activations, zs = self.forward(x)
        n = len(activations[0])
        out = activations[-1]
        if loss == "cross-entropy":
            mean_loss = cross_entropy(zs[-1], y)
            delta = out - y
        elif loss == "quadratic":
            mean_loss = 0.5 * float(np.sum((out - y) ** 2)) / n
            delta = (out - y) * out * (1 - out)
        else:
            raise ValueError(f"unknown loss {loss!r} (use 'cross-entropy' or 'quadratic')")
        grad_w = [None] * len(self.weights)
        grad_b = [None] * len(self.weights)
        for l in range(len(self.weights) - 1, -1, -1):
            grad_w[l] = delta.T @ activations[l] / n
            grad_b[l] = delta.sum(axis=0) / n
            if l:
                a = activations[l]
                delta = (delta @ self.weights[l]) * a * (1 - a)
        return grad_w, grad_b, mean_loss


def cross_entropy(z, y):
    """Mean over the batch of the summed binary cross-entropy of sigmoid outputs.

    Computed from the weighted inputs ``z`` (N, n) rather than from a = sigmoid(z), via
    -[y ln a + (1-y) ln(1-a)] = softplus(z) - y z, so that a saturated output (a == 1.0 in
    floating point) gives a large finite loss instead of log(0) = -inf.
    """
    z = np.asarray(z)
    softplus = np.logaddexp(z.dtype.type(0), z)
    softplus -= y * z
    return float(np.sum(softplus, dtype=np.float64)) / len(z)
