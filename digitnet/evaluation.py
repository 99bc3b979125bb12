"""Evaluation: how often the network is right, and where it goes wrong.

Given true labels and the network's answers for a labelled set (normally the 10,000 MNIST
test images), :func:`evaluate` computes the accuracy, the 10x10 confusion matrix (row =
true digit, column = answer), each digit's precision (of the images the network called
``d``, the share that really were ``d``) and recall (of the real ``d``s, the share it
found), and the most confused pairs.
"""

from __future__ import annotations

import numpy as np

__all__ = ["evaluate", "confusion_matrix", "batch_size"]


def confusion_matrix(labels, predicted, n=10):
    """(n, n) int64 counts: entry [t, p] = images of true digit t answered as p."""
    return np.bincount(np.asarray(labels, np.int64) * n + np.asarray(predicted, np.int64),
                       minlength=n * n).reshape(n, n)


#: Memory a batch of activations may take (bytes): the batch size is chosen from it and
#: the widest layer, so a wide network is evaluated in smaller batches, never all at once.
BATCH_BYTES = 64 * 1024 * 1024


def batch_size(net, budget=BATCH_BYTES):
    """Images per forward pass so that one batch's widest activations fit ``budget``.

    A layer's activations for N images take N x width x itemsize bytes, twice (z and a).
    For the default network that is the whole test set at once; for 784-159000-10, 50.
    """
    widest = max(net.sizes)
    return max(1, min(10000, budget // (2 * widest * net.dtype.itemsize)))


def evaluate(net, x, labels, batch=None):
    """Run the network on ``x`` (N, 784) and compare with ``labels`` (N,).

    ``batch``: images per forward pass (default :func:`batch_size`); the products run on
    one BLAS thread unless the user set a thread count (:mod:`digitnet.threads`).

    Returns a JSON-ready dict: ``n``, ``correct``, ``accuracy`` (0..1), ``confusion``
    (10x10 list of counts), ``precision`` and ``recall`` (10 values each, 0..1; NaN-free:
    a digit never predicted gets precision 0), and ``most_confused``: up to 10 pairs
    ``{"true": t, "predicted": p, "count": c}``, most frequent first.
    """
    from .threads import blas_threads
    batch = batch or batch_size(net)
    with blas_threads():
        predicted = np.concatenate([net.predict(x[i:i + batch])
                                    for i in range(0, len(x), batch)]) \
            if len(x) else np.zeros(0, np.int64)
    cm = confusion_matrix(labels, predicted)
    correct = int(np.trace(cm))
    n = int(cm.sum())
    col, row = cm.sum(axis=0), cm.sum(axis=1)
    diag = np.diag(cm)
    precision = np.divide(diag, col, out=np.zeros(10), where=col > 0)
    recall = np.divide(diag, row, out=np.zeros(10), where=row > 0)
    off = cm.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None, kind="stable")[:10]
    pairs = [{"true": int(t), "predicted": int(p), "count": int(off[t, p])}
             for t, p in zip(*np.unravel_index(order, off.shape)) if off[t, p] > 0]
    return {
        "n": n,
        "correct": correct,
        "accuracy": correct / n if n else 0.0,
        "confusion": cm.tolist(),
        "precision": [round(float(v), 6) for v in precision],
        "recall": [round(float(v), 6) for v in recall],
        "most_confused": pairs,
    }
