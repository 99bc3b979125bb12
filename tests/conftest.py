"""Shared fixtures. Tests use only what is in the repo (the bundled MNIST test set), never ../shared."""

import gzip
import re
import hashlib
import struct

import numpy as np
import pytest

from digitnet import mnist, training, weightfile
from digitnet.network import Network
from helpers import FileServer, serving


@pytest.fixture(scope="session")
def mnist_test():
    """The bundled MNIST test set: images float32 (10000, 784) in 0..1, labels uint8 (10000,)."""
    return mnist.load_split(mnist.bundled_dir(), "test")


def write_idx(path, array, gz=True):
    """Write a uint8 array as an IDX file (the MNIST format), gzipped by default."""
    array = np.asarray(array, dtype=np.uint8)
    head = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = head + array.tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


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


@pytest.fixture(name="write_idx", scope="session")
def write_idx_fixture():
    """The IDX writer, as a fixture (test modules are not importable from each other)."""
    return write_idx


@pytest.fixture(scope="session")
def small_mnist_dir(tmp_path_factory, mnist_test):
    """A data folder whose 'training set' is 3,000 MNIST test images (for quick training runs)."""
    x, y = mnist_test
    d = tmp_path_factory.mktemp("mnist-small")
    imgs = np.round(x[:3000] * 255).astype(np.uint8).reshape(-1, 28, 28)
    write_idx(d / "train-images-idx3-ubyte.gz", imgs)
    write_idx(d / "train-labels-idx1-ubyte.gz", y[:3000])
    write_idx(d / "t10k-images-idx3-ubyte.gz", np.round(x[3000:5000] * 255).astype(np.uint8).reshape(-1, 28, 28))
    write_idx(d / "t10k-labels-idx1-ubyte.gz", y[3000:5000])
    return d


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




def decode_halfblocks(line):
    """Replay one line of truecolour half-block output: the (top, bottom) colour of each
    column, None = terminal default; a column holding other text gives ("text", char)."""
    fg = bg = None
    cells = []
    for m in re.finditer(r"\x1b\[([0-9;]*)m|(.)", line):
        if m.group(1) is not None:
            p = [int(v) for v in m.group(1).split(";") if v] or [0]
            i = 0
            while i < len(p):
                if p[i] == 0:
                    fg = bg = None
                elif p[i] == 39:
                    fg = None
                elif p[i] == 49:
                    bg = None
                elif p[i] in (38, 48):
                    assert p[i + 1] == 2, "truecolour escapes only"
                    if p[i] == 38:
                        fg = tuple(p[i + 2:i + 5])
                    else:
                        bg = tuple(p[i + 2:i + 5])
                    i += 4
                i += 1
            continue
        ch = m.group(2)
        cells.append({"\u2580": (fg, bg), "\u2584": (bg, fg), "\u2588": (fg, fg),
                      " ": (bg, bg)}.get(ch, ("text", ch)))
    return cells


@pytest.fixture(name="halfblocks", scope="session")
def halfblocks_fixture():
    """The half-block decoder, as a fixture (test modules are not importable from each other)."""
    return decode_halfblocks
