"""The network math: sigmoid, forward pass, backpropagation."""

import warnings

import numpy as np
import pytest

from digitnet.network import Network, cross_entropy, sigmoid


def test_sigmoid_values_and_no_overflow():
    z = np.array([-1e308, -1000.0, -50.0, 0.0, 50.0, 1000.0, 1e308])
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # any overflow warning fails the test
        a = sigmoid(z)
        a32 = sigmoid(np.array([-1e38, -100, 0, 100, 1e38], np.float32))
    assert np.all((a >= 0) & (a <= 1))
    assert a[3] == 0.5 and a[0] == 0.0 and a[-1] == 1.0
    assert a32.dtype == np.float32 and np.all(np.isfinite(a32))
    x = np.linspace(-20, 20, 101)
    np.testing.assert_allclose(sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-12, atol=1e-15)


def test_forward_shapes_single_and_batch_agree():
    net = Network.random([784, 16, 16, 10], rng=1)
    x = np.random.default_rng(2).random((5, 784)).astype(np.float32)
    batch = net.feedforward(x)
    assert [a.shape for a in batch] == [(5, 784), (5, 16), (5, 16), (5, 10)]
    for i in range(5):
        single = net.feedforward(x[i])
        assert [a.shape for a in single] == [(784,), (16,), (16,), (10,)]
        for a, b in zip(single, batch):
            np.testing.assert_allclose(a, b[i], rtol=1e-5, atol=1e-6)


def test_each_layer_is_sigmoid_of_weighted_sum_plus_bias():
    net = Network.random([784, 16, 16, 10], rng=3, dtype=np.float64)
    x = np.random.default_rng(4).random(784)
    acts, zs = net.forward(x)
    for l, (w, b) in enumerate(zip(net.weights, net.biases)):
        np.testing.assert_allclose(zs[l], w @ acts[l] + b)
        np.testing.assert_allclose(acts[l + 1], 1 / (1 + np.exp(-zs[l])))


def test_wrong_input_shape_is_refused():
    net = Network.random([784, 16, 10], rng=0)
    with pytest.raises(ValueError, match="784"):
        net.feedforward(np.zeros(100))


@pytest.mark.parametrize("loss", ["cross-entropy", "quadratic"])
def test_backprop_matches_numerical_gradient(loss):
    rng = np.random.default_rng(0)
    net = Network.random([12, 7, 5, 10], rng, dtype=np.float64)
    x = rng.random((9, 12))
    y = rng.random((9, 10))
    grad_w, grad_b, _ = net.backprop(x, y, loss)
    eps = 1e-6
    params = [(p, g) for pair in zip(zip(net.weights, grad_w), zip(net.biases, grad_b)) for p, g in pair]
    for p, g in params:
        num = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + eps
            up = net.backprop(x, y, loss)[2]
            p[idx] = old - eps
            down = net.backprop(x, y, loss)[2]
            p[idx] = old
            num[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-8)


def test_cross_entropy_is_finite_when_saturated():
    z = np.array([[1000.0, -1000.0]])
    assert np.isfinite(cross_entropy(z, np.array([[0.0, 1.0]])))
    assert cross_entropy(z, np.array([[1.0, 0.0]])) == pytest.approx(0.0, abs=1e-12)


def test_unknown_loss_is_refused():
    net = Network.random([4, 3, 10], rng=0)
    with pytest.raises(ValueError, match="unknown loss"):
        net.backprop(np.zeros((1, 4)), np.zeros((1, 10)), "hinge")
