"""Weight files: exact round-trip, and every malformed file refused with a clear error."""

import hashlib
import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

from digitnet import weightfile
from digitnet.network import Network
from digitnet.weightfile import WeightFileError, load, save
from helpers import net_arrays, write_npz


@pytest.fixture
def net():
    return Network.random([784, 16, 16, 10], rng=7)


def test_round_trip_is_exact(tmp_path, net):
    *_, card = save(tmp_path / "m.npz", net, {"name": "m", "training": {"seed": 7}})
    loaded, loaded_card = load(tmp_path / "m.npz")
    for a, b in zip(net.weights + net.biases, loaded.weights + loaded.biases):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert loaded_card == card
    assert card["layers"] == [784, 16, 16, 10] and card["activation"] == "sigmoid"
    assert card["npz_sha256"] == hashlib.sha256((tmp_path / "m.npz").read_bytes()).hexdigest()
    # Readable without digitnet: a plain numpy load gives the documented names.
    with np.load(tmp_path / "m.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["W1", "W2", "W3", "b1", "b2", "b3"]
        assert z["W1"].shape == (16, 784)


def test_float64_round_trip_and_path_forms(tmp_path):
    net64 = Network.random([784, 5, 10], rng=1, dtype=np.float64)
    save(tmp_path / "x", net64)                    # suffix added
    for spec in (tmp_path / "x.npz", tmp_path / "x", tmp_path / "x.json"):
        loaded, _ = load(spec)
        assert loaded.dtype == np.float64 and np.array_equal(loaded.weights[0], net64.weights[0])


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, net, monkeypatch):
    save(tmp_path / "m.npz", net)
    before = (tmp_path / "m.npz").read_bytes(), (tmp_path / "m.json").read_bytes()
    other = Network.random([784, 16, 16, 10], rng=8)

    def boom(*a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(weightfile.os, "fsync", boom)
    with pytest.raises(OSError):
        save(tmp_path / "m.npz", other)
    assert ((tmp_path / "m.npz").read_bytes(), (tmp_path / "m.json").read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.npz"]


def test_shipped_names_resolve():
    assert os.path.basename(weightfile.resolve("default")) == "default.npz"
    assert os.path.dirname(weightfile.resolve("wide")) == weightfile.shipped_dir()


def expect_error(path, *fragments):
    with pytest.raises(WeightFileError) as e:
        load(path)
    msg = str(e.value)
    assert str(path) in msg and "\n" not in msg
    for f in fragments:
        assert f in msg, msg
    return msg


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nope.npz", "not found")


def test_not_a_zip(tmp_path):
    p = tmp_path / "junk.npz"
    p.write_bytes(b"hello, I am not a zip file at all")
    expect_error(p, "not a valid .npz")


def test_truncated_zip(tmp_path, net):
    save(tmp_path / "m.npz", net)
    data = (tmp_path / "m.npz").read_bytes()
    p = tmp_path / "cut.npz"
    p.write_bytes(data[: len(data) // 2])
    expect_error(p)


def test_pickled_object_array_is_never_unpickled(tmp_path, net):
    class Evil:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "PWNED"),))
    arrays = net_arrays(net)
    arrays["W1"] = np.array([Evil()], dtype=object)
    p = tmp_path / "evil.npz"
    np.savez(p, **arrays)   # numpy pickles object arrays on save
    expect_error(p, "W1", "objects")
    assert not (tmp_path / "PWNED").exists()


def test_raw_pickle_file_refused(tmp_path):
    p = tmp_path / "pickle.npz"
    p.write_bytes(pickle.dumps({"W1": [1, 2, 3]}))
    expect_error(p)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values(tmp_path, net, bad):
    arrays = net_arrays(net)
    arrays["b2"] = arrays["b2"].copy()
    arrays["b2"][3] = bad
    expect_error(write_npz(tmp_path / "nan.npz", **arrays), "b2", "NaN or infinite")


def test_wrong_shapes(tmp_path, net):
    arrays = net_arrays(net)
    arrays["W2"] = np.zeros((16, 15), np.float32)
    expect_error(write_npz(tmp_path / "a.npz", **arrays), "W2", "(16, 15)")
    arrays = net_arrays(net)
    arrays["b1"] = np.zeros(15, np.float32)
    expect_error(write_npz(tmp_path / "b.npz", **arrays), "b1")
    arrays = net_arrays(net)
    arrays["W1"] = np.zeros((16, 100), np.float32)
    expect_error(write_npz(tmp_path / "c.npz", **arrays), "W1", "784")


def test_wrong_output_count(tmp_path):
    net = Network.random([784, 16, 9], rng=0)
    expect_error(write_npz(tmp_path / "o.npz", **net_arrays(net)), "9 outputs")


def test_wrong_dtypes(tmp_path, net):
    arrays = net_arrays(net)
    arrays["W1"] = arrays["W1"].astype(np.float16)
    expect_error(write_npz(tmp_path / "f16.npz", **arrays), "W1", "dtype")
    arrays = net_arrays(net)
    arrays["b3"] = np.zeros(10, np.int64)
    expect_error(write_npz(tmp_path / "int.npz", **arrays), "b3", "dtype")
    arrays = net_arrays(net)
    arrays["W1"] = arrays["W1"].astype(np.float64)
    expect_error(write_npz(tmp_path / "mix.npz", **arrays), "mix")


def test_missing_extra_and_misnamed_arrays(tmp_path, net):
    arrays = net_arrays(net)
    del arrays["b2"]
    expect_error(write_npz(tmp_path / "missing.npz", **arrays), "b2", "missing")
    arrays = net_arrays(net)
    arrays["notes"] = np.zeros(3, np.float32)
    expect_error(write_npz(tmp_path / "extra.npz", **arrays), "notes")
    arrays = net_arrays(net)
    arrays["W5"], arrays["b5"] = arrays.pop("W3"), arrays.pop("b3")
    expect_error(write_npz(tmp_path / "gap.npz", **arrays), "missing")
    expect_error(write_npz(tmp_path / "empty.npz"), "no arrays")


def test_huge_header_is_refused_before_allocating(tmp_path):
    # A .npy header claiming 10^12 floats but holding none: must not try to allocate 4 TB.
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**6, 10**6)})
    p = tmp_path / "huge.npz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("W1.npy", header.getvalue())
    expect_error(p, "W1", "more than 20,000,000 parameters")
    # A plausible shape with too little data behind it is truncated, not read past the end.
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (16, 784)})
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("W1.npy", header.getvalue() + b"\0" * 100)
    expect_error(p, "W1", "truncated")


def test_card_must_agree_withwrite_npz(tmp_path, net):
    save(tmp_path / "m.npz", net)
    card = json.loads((tmp_path / "m.json").read_text())
    # Hash mismatch: the weights were swapped under the card.
    other = tmp_path / "o"
    save(other, Network.random([784, 16, 16, 10], rng=99))
    (tmp_path / "m.npz").write_bytes((tmp_path / "o.npz").read_bytes())
    expect_error(tmp_path / "m.json", "npz_sha256")
    # Sizes mismatch.
    save(tmp_path / "m.npz", net)
    card = json.loads((tmp_path / "m.json").read_text())
    card["layers"] = [784, 32, 10]
    (tmp_path / "m.json").write_text(json.dumps(card))
    with pytest.raises(WeightFileError, match="layers"):
        load(tmp_path / "m.npz")
    # Not JSON at all.
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(WeightFileError, match="unreadable model card"):
        load(tmp_path / "m.npz")


def test_card_is_optional(tmp_path, net):
    write_npz(tmp_path / "bare.npz", **net_arrays(net))
    loaded, card = load(tmp_path / "bare.npz")
    assert card is None and loaded.sizes == [784, 16, 16, 10]


def test_same_weights_same_bytes(tmp_path, net):
    save(tmp_path / "a.npz", net)
    save(tmp_path / "b.npz", net)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


def test_numpy_written_npz_files_load_plain_and_compressed(tmp_path, net):
    # Our small zip reader must read what NumPy writes: np.savez (ZIP64 local headers) and
    # np.savez_compressed (deflate).
    arrays = net_arrays(net)
    np.savez(tmp_path / "plain.npz", **arrays)
    np.savez_compressed(tmp_path / "packed.npz", **arrays)
    for name in ("plain.npz", "packed.npz"):
        loaded, _ = load(tmp_path / name)
        assert all(np.array_equal(a, b) for a, b in zip(loaded.weights, net.weights))


def test_deflate_bomb_member_is_refused(tmp_path, net):
    # A member whose directory claims a small size but inflates to much more.
    import zipfile
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (16, 784)})
    body = header.getvalue() + b"\0" * (50 * 2**20)
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("W1.npy", body)
    data = bytearray((tmp_path / "bomb.npz").read_bytes())
    # Patch the central directory's uncompressed size down to 100 bytes.
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24:cd + 28] = (100).to_bytes(4, "little")
    (tmp_path / "bomb.npz").write_bytes(bytes(data))
    expect_error(tmp_path / "bomb.npz", "W1", "corrupt")
