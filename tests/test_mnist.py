"""MNIST IDX reading (every malformed file refused clearly) and `download` against a local server."""

import gzip

import numpy as np
import pytest

from digitnet import mnist
from digitnet.mnist import DataError, load_split, read_idx
from helpers import write_idx


def test_bundled_test_set_loads(mnist_test):
    x, y = mnist_test
    assert x.shape == (10000, 784) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() == 1.0
    assert y.shape == (10000,) and set(np.unique(y)) == set(range(10))


def test_gzipped_and_plain_idx_agree(tmp_path):
    a = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    write_idx(tmp_path / "a.gz", a, gz=True)
    write_idx(tmp_path / "a", a, gz=False)
    assert np.array_equal(read_idx(tmp_path / "a.gz", 3), a)
    assert np.array_equal(read_idx(tmp_path / "a", 3), a)


def err(path, *fragments, ndim=None):
    with pytest.raises(DataError) as e:
        read_idx(path, ndim)
    msg = str(e.value)
    assert str(path) in msg and "\n" not in msg
    for f in fragments:
        assert f in msg, msg


def test_bad_magic(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(b"\x12\x34\x08\x03" + b"\0" * 100)
    err(p, "magic")


def test_wrong_kind_of_file(tmp_path):
    p = write_idx(tmp_path / "labels", np.zeros(5, np.uint8))
    err(p, "expected an IDX image file", ndim=3)


def test_unsupported_type(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"\0\0\x0d\x01" + (1).to_bytes(4, "big") + b"\0" * 4)
    err(p, "unsupported IDX value type")


def test_truncated_header_and_body(tmp_path):
    p = tmp_path / "h"
    p.write_bytes(b"\0\0\x08\x03\0\0")
    err(p, "truncated")
    a = np.zeros((10, 28, 28), np.uint8)
    data = gzip.decompress(write_idx(tmp_path / "full.gz", a).read_bytes())
    (tmp_path / "cut").write_bytes(data[:-100])
    err(tmp_path / "cut", "truncated", "10x28x28")
    (tmp_path / "long").write_bytes(data + b"extra")
    err(tmp_path / "long", "unexpected bytes")


def test_truncated_gzip(tmp_path):
    data = write_idx(tmp_path / "g.gz", np.zeros((10, 28, 28), np.uint8)).read_bytes()
    (tmp_path / "g.gz").write_bytes(data[:20])
    err(tmp_path / "g.gz", "cannot read")


def test_too_short_and_missing(tmp_path):
    (tmp_path / "s").write_bytes(b"\0")
    err(tmp_path / "s", "not an IDX file")
    err(tmp_path / "nothing", "not found")


def test_label_image_count_mismatch(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((5, 28, 28), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(4, np.uint8))
    with pytest.raises(DataError, match="4 labels for 5 images"):
        load_split(tmp_path, "train")


def test_bad_label_and_image_size(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((2, 28, 28), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.array([3, 12], np.uint8))
    with pytest.raises(DataError, match="label 12"):
        load_split(tmp_path, "train")
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((2, 20, 20), np.uint8))
    with pytest.raises(DataError, match="20x20"):
        load_split(tmp_path, "train")


def test_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("DIGITNET_DATA", str(tmp_path / "env"))
    assert mnist.data_dir(str(tmp_path / "opt")) == tmp_path / "opt"
    assert mnist.data_dir(None) == tmp_path / "env"
    monkeypatch.delenv("DIGITNET_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert mnist.data_dir(None) == tmp_path / "cache" / "digitnet" / "mnist"


def test_test_split_falls_back_to_bundled_copy(monkeypatch, tmp_path):
    monkeypatch.delenv("DIGITNET_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    x, y, folder = mnist.find_split(None, "test")
    assert folder == mnist.bundled_dir() and len(x) == 10000
    with pytest.raises(DataError, match="not found"):     # an explicit folder is never replaced
        mnist.find_split(str(tmp_path / "empty"), "test")


# --- download, against a server on localhost (fixture `http_files` in conftest) ----------

def test_download_fetches_and_verifies(http_files, tmp_path):
    url, files = http_files
    paths = mnist.download(tmp_path / "d", mirrors=[url])
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == sorted(files)
    for p in paths:
        assert p.read_bytes() == files[p.name]
    again = []
    mnist.download(tmp_path / "d", mirrors=[url], progress=lambda n, s: again.append(s))
    assert all("already present" in s for s in again)


def test_corrupted_transfer_leaves_no_file(http_files, tmp_path):
    url, files = http_files
    files["t10k-labels-idx1-ubyte.gz"] = b"corrupted in transit"
    with pytest.raises(DataError, match="checksum mismatch"):
        mnist.download(tmp_path, mirrors=[url])
    names = [p.name for p in tmp_path.iterdir()]
    assert "t10k-labels-idx1-ubyte.gz" not in names
    assert not [n for n in names if n.startswith(".")]


def test_bad_mirror_falls_back_to_next(http_files, tmp_path):
    url, files = http_files
    dead = "http://127.0.0.1:9/"       # discard port: connection refused
    mnist.download(tmp_path, mirrors=[dead, url])
    assert len(list(tmp_path.iterdir())) == 4


def test_all_mirrors_fail(tmp_path):
    with pytest.raises(DataError, match="could not download"):
        mnist.download(tmp_path, mirrors=["http://127.0.0.1:9/"], timeout=2)
    assert list(tmp_path.iterdir()) == []


def test_endless_download_is_cut_off(http_files, tmp_path, monkeypatch):
    url, files = http_files
    monkeypatch.setattr(mnist, "MAX_DOWNLOAD_BYTES", 1000)     # the fake files are larger
    with pytest.raises(DataError, match="not an MNIST file"):
        mnist.download(tmp_path, mirrors=[url])
    assert list(tmp_path.iterdir()) == []
