"""A textbook per-example backpropagation loop: the reference that ``run.py`` times us against.

This is how the classic explainer (M. Nielsen, *Neural Networks and Deep Learning*,
``network.py`` / ``network2.py``) trains a network: every image is a numpy *column vector*
``(784, 1)``, and inside each mini-batch a Python loop runs forward and backward through
the network **one example at a time**, summing the per-example gradients; the sum divided
by the batch size is the mini-batch gradient. ``digitnet.network.Network.backprop`` does the
same mathematics for the whole batch at once, with one matrix product per layer.

The math is deliberately identical to digitnet's so that only the *way of computing* differs:

- sigmoid layers, ``a_next = sigmoid(W @ a + b)``, with ``W`` shaped (n_out, n_in);
- cross-entropy on the sigmoid outputs, summed over the 10 outputs, mean over the batch,
  whose output error is simply ``delta = a - y``;
- ``delta_l = (W_{l+1}.T @ delta_{l+1}) * a_l * (1 - a_l)`` going backwards, and per example
  ``dC/dW = delta @ a_prev.T``, ``dC/db = delta``;
- the same optimiser step as ``digitnet.training`` (Adam with bias correction, the
  per-layer fan-in scale min(1, 4/sqrt(n_in)), the cosine learning-rate schedule) -- Nielsen
  used plain SGD, but a benchmark of the *gradient computation* must not also compare
  optimisers. ``optimizer="sgd"`` gives Nielsen's plain step for completeness.

Nothing here is used by digitnet itself; :func:`check_gradient` verifies that this loop and
``Network.backprop`` agree on a batch (``run.py`` calls it before timing).
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["TextbookNetwork", "check_gradient"]


def sigmoid(z):
    """The logistic function, as the textbook writes it: 1 / (1 + e^-z)."""
    return 1.0 / (1.0 + np.exp(-z))


class TextbookNetwork:
    """A sigmoid network trained example by example, Nielsen style.

    ``weights[l]`` has shape (n_out, n_in) and ``biases[l]`` shape (n_out, 1) -- a column, so
    that ``W @ a + b`` works on a column vector ``a`` of shape (n_in, 1).
    """

    def __init__(self, weights, biases, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        self.weights = [np.array(w, dtype=self.dtype) for w in weights]
        self.biases = [np.array(b, dtype=self.dtype).reshape(-1, 1) for b in biases]
        self.sizes = [self.weights[0].shape[1]] + [w.shape[0] for w in self.weights]

    @classmethod
    def from_network(cls, net, dtype=None):
        """A copy of a ``digitnet.network.Network``'s parameters (same starting point)."""
        return cls(net.weights, net.biases, dtype=dtype or net.dtype)

    def feedforward(self, a):
        """The output column (10, 1) for one input column ``a`` (784, 1)."""
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def backprop(self, x, y):
        """Gradient of one example's cross-entropy: ``(nabla_w, nabla_b)``, lists per layer.

        ``x`` is an input column (784, 1) and ``y`` the target column (10, 1).
        """
        activation = x
        activations = [x]
        for b, w in zip(self.biases, self.weights):
            activation = sigmoid(np.dot(w, activation) + b)
            activations.append(activation)
        nabla_w = [None] * len(self.weights)
        nabla_b = [None] * len(self.weights)
        delta = activations[-1] - y                      # cross-entropy: sigmoid' cancels
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].T)
        for l in range(2, len(self.sizes)):
            a = activations[-l]
            delta = np.dot(self.weights[-l + 1].T, delta) * (a * (1 - a))
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].T)
        return nabla_w, nabla_b

    def batch_gradient(self, xs, ys):
        """Mean gradient over a mini-batch, summed example by example.

        ``xs`` and ``ys`` are sequences of columns ((784, 1) and (10, 1)), or 2-D arrays
        with one example per row (each row is then viewed as a column). Returns
        ``(grad_w, grad_b)`` with ``grad_b[l]`` a column (n_out, 1).
        """
        nabla_w = [np.zeros_like(w) for w in self.weights]
        nabla_b = [np.zeros_like(b) for b in self.biases]
        n = 0
        for x, y in zip(xs, ys):
            if x.ndim == 1:
                x, y = x[:, None], y[:, None]
            dw, db = self.backprop(x, y)
            for nw, d in zip(nabla_w, dw):
                nw += d
            for nb, d in zip(nabla_b, db):
                nb += d
            n += 1
        return [nw / n for nw in nabla_w], [nb / n for nb in nabla_b]

    def train(self, x, labels, epochs=1, batch_size=128, lr=0.06, optimizer="adam",
              schedule="cosine", seed=0, on_epoch=None):
        """Mini-batch training, looping over the examples inside each batch.

        ``x`` is (N, 784) float images, ``labels`` (N,) integer digits. Returns a list of
        per-epoch records ``{"epoch", "seconds"}``. ``on_epoch(record)`` is called after
        each epoch. The step is digitnet's (see the module docstring).
        """
        x = np.asarray(x, dtype=self.dtype)
        eye = np.eye(self.sizes[-1], dtype=self.dtype)
        rng = np.random.default_rng(seed)
        n = len(x)
        batches = (n + batch_size - 1) // batch_size
        total = epochs * batches
        params = [p for pair in zip(self.weights, self.biases) for p in pair]
        state = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
        scale = [min(1.0, 4.0 / float(np.sqrt(w.shape[1]))) if optimizer == "adam" else 1.0
                 for w in self.weights for _ in (0, 1)]
        t = 0
        history = []
        with np.errstate(over="ignore"):          # exp(-z) may overflow to inf: sigmoid -> 0
            for epoch in range(1, epochs + 1):
                t0 = time.perf_counter()
                order = rng.permutation(n)
                for b in range(batches):
                    idx = order[b * batch_size:(b + 1) * batch_size]
                    # Nielsen's mini_batch is a list of (x, y) column pairs.
                    mini_batch = [(x[i].reshape(-1, 1), eye[labels[i]].reshape(-1, 1))
                                  for i in idx]
                    nabla_w = [np.zeros_like(w) for w in self.weights]
                    nabla_b = [np.zeros_like(bb) for bb in self.biases]
                    for xc, yc in mini_batch:
                        dw, db = self.backprop(xc, yc)
                        for nw, d in zip(nabla_w, dw):
                            nw += d
                        for nb, d in zip(nabla_b, db):
                            nb += d
                    m = len(mini_batch)
                    grads = [g / m for pair in zip(nabla_w, nabla_b) for g in pair]
                    progress = ((epoch - 1) * batches + b) / total
                    rate = _lr_at(lr, schedule, progress)
                    t += 1
                    _step(optimizer, params, grads, state, [rate * s for s in scale], t)
                record = {"epoch": epoch, "seconds": time.perf_counter() - t0}
                history.append(record)
                if on_epoch is not None:
                    on_epoch(record)
        return history

    def accuracy(self, x, labels):
        """Share of images (rows of ``x``) whose brightest output is the label."""
        hits = sum(int(np.argmax(self.feedforward(row.reshape(-1, 1).astype(self.dtype))) == y)
                   for row, y in zip(x, labels))
        return hits / max(len(x), 1)


def _lr_at(lr, schedule, progress):
    """digitnet's learning-rate schedules (see ``digitnet.training``)."""
    if schedule == "cosine":
        return lr * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * progress)))
    if schedule == "step":
        return lr * (1.0 if progress < 0.5 else 0.1 if progress < 0.75 else 0.01)
    return lr


def _step(optimizer, params, grads, state, rates, t, b1=0.9, b2=0.999, eps=1e-8):
    """One in-place update: Adam (digitnet's default) or Nielsen's plain SGD."""
    if optimizer == "sgd":
        for p, g, rate in zip(params, grads, rates):
            p -= rate * g
        return
    c1, c2 = 1 - b1 ** t, 1 - b2 ** t
    for p, g, (m, v), rate in zip(params, grads, state, rates):
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        p -= (rate / c1) * m / (np.sqrt(v / c2) + eps)


def check_gradient(net, x, labels):
    """Compare this loop's mini-batch gradient with ``net.backprop`` on the batch ``x``.

    Both are computed in float64 from copies of ``net``'s parameters. Returns the largest
    relative difference over all parameters (max |diff| / max |gradient| per array), which
    is ~1e-15 when the two agree.
    """
    from digitnet.network import Network

    net64 = Network([w.astype(np.float64) for w in net.weights],
                    [b.astype(np.float64) for b in net.biases])
    x = np.asarray(x, dtype=np.float64)
    y = np.eye(net64.sizes[-1])[labels]
    grad_w, grad_b, _loss = net64.backprop(x, y)
    tb = TextbookNetwork.from_network(net64)
    tw, tbias = tb.batch_gradient(x, y)
    worst = 0.0
    for ours, theirs in zip(grad_w + grad_b, tw + [b.ravel() for b in tbias]):
        scale = max(float(np.abs(ours).max()), 1e-30)
        worst = max(worst, float(np.abs(ours - theirs.reshape(ours.shape)).max()) / scale)
    return worst
