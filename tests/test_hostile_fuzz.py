"""Property-based attacks on the three loaders of untrusted files (hypothesis).

Whatever the bytes -- random, or a valid file flipped, cut, stretched or with a forged
header -- each loader gives a usable result or its own clean error, never another
exception:

- ``digitnet.batch.load_input``  -> (784,) float32 in 0..1, or ImageError
- ``digitnet.weightfile.load``    -> a 784-...-10 network with finite outputs, or WeightFileError
- ``digitnet.mnist.read_idx``     -> a uint8 array of the header's shape, or DataError

Every error message is one line and (for weight and data files) names the file.
test_images.py already fuzzes load_input with PNG/JPEG/GIF/BMP/TIFF/WebP seeds; the image
seeds here are the odd ones (16-bit, CMYK, float TIFF, animation, EXIF, ICO, PostScript).
"""

import gzip
import io
import json
import os
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from digitnet import weightfile
from digitnet.batch import load_input
from digitnet.errors import ImageError
from digitnet.mnist import DataError, read_idx
from digitnet.network import Network
from digitnet.weightfile import WeightFileError
from helpers import draw_seven, encode, idx_bytes, mutated, npz_bytes

# Forged zips name a member twice on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")
# Modest by default (the suite stays fast); DIGITNET_FUZZ_EXAMPLES=5000 for a long hunt.
FUZZ = settings(max_examples=int(os.environ.get("DIGITNET_FUZZ_EXAMPLES", "120")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# One scratch folder for the whole module: hypothesis examples cannot use tmp_path.
SCRATCH = Path(tempfile.mkdtemp(prefix="digitnet-fuzz-"))


# --------------------------------------------------------------------------------------
# images

def _image_seeds():
    im = draw_seven((20, 24), box=(4, 4, 16, 20), width=3)
    exif = Image.Exif()
    exif[0x0112] = 6
    a = np.asarray(im)
    return [
        encode(Image.fromarray(a.astype(np.uint16) * 257), "PNG"),
        encode(im.convert("CMYK"), "JPEG"),
        encode(im.convert("CMYK"), "TIFF"),
        encode(Image.fromarray(a.astype(np.float32) / 255, "F"), "TIFF"),
        encode(im, "GIF", save_all=True, append_images=[im.rotate(90)], loop=0),
        encode(im.convert("RGB"), "JPEG", exif=exif),
        encode(im.convert("RGBA"), "ICO"),
        encode(im.convert("P"), "PNG", transparency=0),
        encode(im.resize((28, 28)), "PNG"),      # for raw=True
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 20 24\nshowpage\n",
    ]


IMAGE_SEEDS = _image_seeds()


@FUZZ
@given(data=st.one_of(st.binary(max_size=300), mutated(IMAGE_SEEDS)), raw=st.booleans())
def test_load_input_gives_inputs_or_image_error(data, raw):
    try:
        x = load_input(data, raw=raw)
    except ImageError as e:
        assert str(e) and "\n" not in str(e)
        return
    assert x.shape == (784,) and x.dtype == np.float32
    assert np.isfinite(x).all() and 0.0 <= x.min() and x.max() <= 1.0


# --------------------------------------------------------------------------------------
# weight files

SMALL = Network.random([784, 3, 10], rng=0)
NPZ_SEEDS = [npz_bytes(SMALL), npz_bytes(SMALL, compressed=True),
             npz_bytes(Network.random([784, 2, 2, 10], rng=1, dtype=np.float64))]


@st.composite
def forged_npz(draw):
    """A zip of .npy members whose names, headers (dtype, shape, order) and data sizes are
    drawn freely: every check of the header has to hold before any data is trusted."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for _ in range(draw(st.integers(0, 5))):
            name = draw(st.sampled_from(["W1", "b1", "W2", "b2", "W3", "b3", "W0", "x", "W1.npy"]))
            descr = draw(st.sampled_from(["<f4", ">f8", "<f2", "<i4", "|O", "<c8", "|b1", "<U3", "V8"]))
            shape = tuple(draw(st.lists(st.integers(0, 2**40), max_size=3)))
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(
                header, {"descr": descr, "fortran_order": draw(st.booleans()), "shape": shape})
            body = draw(st.binary(max_size=64))
            z.writestr(name + ".npy", header.getvalue() + body)
    return buf.getvalue()


def _check_weight_load(path):
    try:
        net, card = weightfile.load(path)
    except WeightFileError as e:
        msg = str(e)
        assert "\n" not in msg and msg.startswith((str(path), str(path.with_suffix(".json")))), msg
        return None
    assert net.sizes[0] == 784 and net.sizes[-1] == 10
    # Usable: finite outputs in 0..1 for any input (no overflow into NaN).
    out = net.feedforward(np.random.default_rng(0).random((2, 784), dtype=np.float32))[-1]
    assert np.isfinite(out).all() and (0 <= out).all() and (out <= 1).all()
    return net


@FUZZ
@given(st.one_of(st.binary(max_size=400), mutated(NPZ_SEEDS, header=160), forged_npz()))
def test_weight_load_gives_network_or_weight_file_error(data):
    path = SCRATCH / "w.npz"
    path.with_suffix(".json").unlink(missing_ok=True)
    path.write_bytes(data)
    _check_weight_load(path)


@st.composite
def card_texts(draw):
    good = {"format": "digitnet-weights/1", "layers": [784, 3, 10], "activation": "sigmoid",
            "npz_sha256": None}
    kind = draw(st.sampled_from(["random", "json", "mutated"]))
    if kind == "random":
        return draw(st.binary(max_size=200))
    if kind == "json":
        value = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                             lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                             max_leaves=10)
        doc = draw(st.dictionaries(st.sampled_from(list(good) + ["x"]), value, max_size=4))
        return json.dumps(doc).encode()
    text = bytearray(json.dumps(good).encode())
    pos = draw(st.integers(0, len(text) - 1))
    text[pos] = draw(st.integers(0, 255))
    return bytes(text)


@FUZZ
@given(card_texts())
def test_any_model_card_gives_network_or_weight_file_error(card):
    path = SCRATCH / "c.npz"
    path.write_bytes(NPZ_SEEDS[0])
    path.with_suffix(".json").write_bytes(card)
    _check_weight_load(path)


# --------------------------------------------------------------------------------------
# IDX (MNIST) files

_rng = np.random.default_rng(0)
IDX_SEEDS = [idx_bytes(_rng.integers(0, 256, (3, 28, 28))), idx_bytes(_rng.integers(0, 10, 12)),
             idx_bytes(_rng.integers(0, 256, (2, 5, 4)))]
IDX_SEEDS += [gzip.compress(s, mtime=0) for s in IDX_SEEDS]


@st.composite
def forged_idx(draw):
    """A header with any type code, any number of dimensions and any sizes, then any body."""
    ndim = draw(st.integers(0, 255))
    dims = draw(st.lists(st.integers(0, 2**32 - 1), min_size=min(ndim, 4), max_size=min(ndim, 4)))
    dims += [1] * (ndim - len(dims))
    head = struct.pack(">HBB", 0, draw(st.sampled_from([0x08, 0x08, 0x09, 0x0D, 0xFF])), ndim)
    data = head + struct.pack(f">{ndim}I", *dims) + draw(st.binary(max_size=64))
    return gzip.compress(data, mtime=0) if draw(st.booleans()) else data


@FUZZ
@given(data=st.one_of(st.binary(max_size=200), mutated(IDX_SEEDS, header=24), forged_idx(),
                      st.binary(max_size=200).map(lambda b: gzip.compress(b, mtime=0))),
       ndim=st.sampled_from([None, 1, 3]))
def test_read_idx_gives_array_or_data_error(data, ndim):
    path = SCRATCH / "f.idx"
    path.write_bytes(data)
    try:
        a = read_idx(path, expect_ndim=ndim)
    except DataError as e:
        assert "\n" not in str(e) and str(e).startswith(str(path)), str(e)
        return
    assert a.dtype == np.uint8 and (ndim is None or a.ndim == ndim)
    raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    assert a.tobytes() == raw[4 + 4 * a.ndim:]


@pytest.fixture(scope="module", autouse=True)
def _cleanup():
    yield
    import shutil
    shutil.rmtree(SCRATCH, ignore_errors=True)
