"""The public library API: digitnet.load, Model.classify / classify_many, Result; python -m digitnet.

The command line is built on these calls, so the numbers must be the very same ones
``digitnet classify --json`` prints.
"""

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import digitnet
from helpers import DIGITNET, run

README = Path(__file__).resolve().parents[1] / "README.md"
EXAMPLES = Path(digitnet.__file__).parent / "examples"


@pytest.fixture(scope="module")
def model():
    return digitnet.load("default")


def test_readme_snippet_runs_from_a_fresh_install(tmp_path):
    """The README's three-line example, run as written (in a folder holding its image)."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## From Python"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shutil.copy(EXAMPLES / "photo-7.jpg", tmp_path / "photo-7.jpg")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    # The snippet says what it prints in its last comment.
    promised = code.strip().splitlines()[-1].split("#")[-1].strip()
    assert r.stdout.strip() == promised


def test_every_kind_of_image_gives_the_same_answer(model):
    path = EXAMPLES / "photo-7.jpg"
    want = model.classify(path)
    assert want.digit == 7 and want.runner_up != 7
    with Image.open(path) as im:
        im.load()
        rgb = np.asarray(im.convert("RGB"))
        others = [model.classify(str(path)), model.classify(path.read_bytes()),
                  model.classify(im), model.classify(np.asarray(im.convert("L")))]
    for got in others:
        assert got.digit == want.digit and np.array_equal(got.outputs, want.outputs)
    # RGB, RGBA and float arrays go through the same luma and normalisation.
    for array in (rgb, np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]),
                  np.asarray(Image.fromarray(rgb).convert("L"), np.float32) / 255):
        got = model.classify(array)
        assert got.digit == 7
        assert np.abs(got.outputs - want.outputs).max() < 1e-2


def test_raw_28x28_arrays_go_in_as_they_are(model, mnist_test):
    x, y = mnist_test
    image = x[0].reshape(28, 28)
    r = model.classify(image, raw=True)
    assert np.array_equal(r.layers[0], x[0])
    assert np.array_equal(r.outputs, model.network.feedforward(x[:1])[-1][0])
    assert r.digit == y[0] == 7
    with pytest.raises(digitnet.ImageError, match=r"^--raw needs a 28x28 image, this one is 30x28$"):
        model.classify(np.zeros((28, 30), np.float32), raw=True)


def test_result_fields(model):
    r = model.classify(EXAMPLES / "paint-2.png", sums=True)
    assert r.digit == int(np.argmax(r.outputs)) and r.activation == float(r.outputs[r.digit])
    assert r.margin == float(r.outputs[r.digit] - r.outputs[r.runner_up]) > 0
    assert [a.shape for a in r.layers] == [(784,), (16,), (16,), (10,)]
    assert np.array_equal(r.layers[-1], r.outputs)
    W, b = model.network.weights, model.network.biases
    for l, z in enumerate(r.sums):
        assert np.allclose(z, W[l] @ r.layers[l] + b[l], atol=1e-5)
    assert model.classify(EXAMPLES / "paint-2.png").sums is None


def test_classify_many_is_classify_for_each_in_one_batch(model, mnist_test):
    x, _ = mnist_test
    images = [x[i].reshape(28, 28) for i in range(50)]
    many = model.classify_many(images, raw=True)
    single = [model.classify(im, raw=True) for im in images]
    assert [r.digit for r in many] == [r.digit for r in single]
    assert np.allclose(np.stack([r.outputs for r in many]), np.stack([r.outputs for r in single]),
                       atol=1e-6)
    assert model.classify_many([]) == []
    blank = np.zeros((28, 28), np.float32)
    with pytest.raises(digitnet.ImageError, match=r"^image 1: no digit found$"):
        model.classify_many([images[0], blank], raw=True)


def test_the_numbers_are_those_of_classify_json(model):
    path = EXAMPLES / "photo-7.jpg"
    line = json.loads(run("classify", path, "--json").stdout)
    assert line == {"file": str(path), **model.classify(path).to_dict()}


def test_errors_are_digitnet_errors_with_the_cli_s_line(tmp_path, model):
    with pytest.raises(digitnet.WeightFileError) as e:
        digitnet.load(tmp_path / "missing.npz")
    r = run("classify", EXAMPLES / "paint-2.png", "--weights", tmp_path / "missing.npz")
    assert r.stderr == f"digitnet: {e.value}\n"
    (tmp_path / "blank.png").write_bytes(_png(Image.new("L", (40, 40), 255)))
    with pytest.raises(digitnet.DigitnetError) as e:
        model.classify(tmp_path / "blank.png")
    r = run("classify", tmp_path / "blank.png")
    assert r.stderr == f"digitnet: {e.value}\n"
    with pytest.raises(TypeError, match="an image is a path, bytes, a PIL image or a numpy array"):
        model.classify(12)
    with pytest.raises(digitnet.ImageError, match=r"^float image arrays hold brightness 0\.\.1$"):
        model.classify(np.full((28, 28), 2.0))


@pytest.mark.parametrize("kind", ["path", "array", "PIL image"])
def test_errors_a_script_keeps_do_not_keep_the_failed_work(tmp_path, model, kind):
    # `except ImageError as e: failed.append(e)` over many files: each error once held
    # every array of its failed normalisation through its traceback (31 MB a blank page).
    import gc
    import tracemalloc
    path = tmp_path / "blank.png"
    Image.new("L", (1400, 1390), 255).save(path)
    image = {"path": path, "array": np.full((1390, 1400), 255, np.uint8),
             "PIL image": Image.open(path)}[kind]
    with pytest.raises(digitnet.ImageError):
        model.classify(image)          # once first: lazy imports and caches are not held
    gc.collect()
    tracemalloc.start()
    try:
        failed = []
        for _ in range(3):
            try:
                model.classify(image)
            except digitnet.ImageError as e:
                failed.append(e)
        gc.collect()
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(failed) == 3 and all("no digit found" in str(e) for e in failed)
    assert held < 3 * 2**20, f"{held / 2**20:.0f} MB held by 3 errors"


def test_python_dash_m_digitnet_is_the_command(tmp_path):
    # From any folder but the repository root (where Python finds the uninstalled sources).
    def module(*args):
        return subprocess.run([sys.executable, "-m", "digitnet", *args], capture_output=True,
                              text=True, timeout=60, cwd=tmp_path)
    r = module("classify", str(EXAMPLES / "paint-2.png"), "-q")
    assert r.returncode == 0 and r.stdout == "2\n"
    assert module("--version").stdout == subprocess.run([DIGITNET, "--version"],
                                                        capture_output=True, text=True).stdout
    r = subprocess.run([sys.executable, "-m", "digitnet", "--version"], capture_output=True,
                       text=True, timeout=60, cwd=README.parent)
    assert r.returncode in (0, 1) and "Traceback" not in r.stderr


def test_models_know_what_they_are(model):
    assert model.sizes == [784, 16, 16, 10] and model.card["layers"] == model.sizes
    assert "784-16-16-10" in repr(model)
    assert digitnet.load("wide").sizes == [784, 512, 256, 10]


def _png(im):
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()
