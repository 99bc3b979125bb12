"""Shared fixtures. Tests use only what is in the repo (the bundled MNIST test set), never ../shared."""

import hashlib
import os

import pytest

from digitnet import mnist, training, weightfile
from digitnet.network import Network
from helpers import FileServer, serving, write_mnist_dir


@pytest.fixture(scope="session")
def mnist_test():
    """The bundled MNIST test set: images float32 (10000, 784) in 0..1, labels uint8 (10000,)."""
    return mnist.load_split(mnist.bundled_dir(), "test")


@pytest.fixture(scope="session")
def model(tmp_path_factory, mnist_test):
    """(path, network): a 784-16-16-10 net trained for 2 epochs on MNIST test images 0..5999
    (shared by the classify and inspect-layer tests; trained once per session)."""
    x, y = mnist_test
    result = training.train(training.TrainConfig(epochs=2, batch_size=32), x[:6000], y[:6000],
                            x[6000:7000], y[6000:7000])
    path = tmp_path_factory.mktemp("model") / "small.npz"
    weightfile.save(path, result.net)
    return path, result.net


@pytest.fixture(scope="session")
def default_model():
    """The shipped default network (``--weights default``), installed with the package."""
    path = weightfile.resolve("default")
    assert os.path.exists(path), f"the shipped default model is missing: {path}"
    return weightfile.load("default")[0]


@pytest.fixture(scope="session")
def small_mnist_dir(tmp_path_factory, mnist_test):
    """A data folder whose 'training set' is 3,000 MNIST test images (for quick training runs)."""
    return write_mnist_dir(tmp_path_factory.mktemp("mnist-small"), *mnist_test,
                           train=slice(0, 3000), test=slice(3000, 5000))


@pytest.fixture
def http_files(monkeypatch):
    """A local HTTP server serving fake MNIST files whose checksums the test installs.

    Yields ``(base_url, files)``; changing ``files`` changes what is served.
    """
    files = {name: f"fake {name} ".encode() * 1000 for name in mnist.SHA256}
    monkeypatch.setattr(mnist, "SHA256", {n: hashlib.sha256(b).hexdigest() for n, b in files.items()})
    with serving(FileServer, files) as (url, _handler):
        yield url, files


@pytest.fixture
def old_model(tmp_path):
    """A good model pair already at an --out path: (path, npz bytes, card bytes)."""
    out = tmp_path / "keep" / "model.npz"
    out.parent.mkdir()
    weightfile.save(out, Network.random([784, 16, 16, 10], rng=5))
    return out, out.read_bytes(), out.with_suffix(".json").read_bytes()
