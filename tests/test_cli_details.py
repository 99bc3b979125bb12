"""Details a demanding user hits: closed pipes, a terminal on stdin, odd options."""

import json
import subprocess

import numpy as np
import pytest
from PIL import Image

from digitnet.cli import main as cli_main
from helpers import DIGITNET, on_tty, run


@pytest.fixture(scope="module")
def digits(tmp_path_factory, mnist_test):
    """A folder of 300 MNIST test digits as PNG files."""
    x, _ = mnist_test
    d = tmp_path_factory.mktemp("digits")
    for i in range(300):
        Image.fromarray(np.round(x[i] * 255).astype(np.uint8).reshape(28, 28)).save(d / f"{i:03d}.png")
    return d


def test_closed_pipe_exits_141_quietly(digits):
    # --json lines are ~10 kB each: far more than a pipe holds, so the reader's going away
    # is certain to be noticed.
    p = subprocess.Popen([DIGITNET, "classify", str(digits), "--json"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    first = p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read()
    p.wait(timeout=60)
    assert json.loads(first)["file"].endswith("000.png")
    assert p.returncode == 141 and err == b"", (p.returncode, err)


def test_terminal_on_stdin_is_refused_not_waited_for(tmp_path):
    r = on_tty("classify", "-", stdin=True, timeout=30)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == "digitnet: -: standard input is a terminal: pipe an image into -\n"


def test_png_option_needs_a_png_name(tmp_path):
    r = run("inspect-layer", "1", "--png", tmp_path / "l1.jpg")
    assert r.exit_code == 2 and "ending in .png" in r.stderr
    assert not (tmp_path / "l1.jpg").exists()


def test_raw_blank_image_is_no_digit(tmp_path):
    Image.new("L", (28, 28), 0).save(tmp_path / "black.png")
    r = run("classify", tmp_path / "black.png", "--raw", "-q")
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr.strip().endswith("black.png: no digit found")


def test_no_validation_set_writes_valid_json(small_mnist_dir, tmp_path):
    out = tmp_path / "noval.npz"
    r = run("train", "--data", small_mnist_dir, "--epochs", 2, "--validation", 0,
            "--teacher", "none", "--out", out)
    assert r.exit_code == 0, r.stderr
    assert "nan" not in r.stderr.lower() and "last epoch" in r.stderr

    def no_constants(name):
        raise ValueError(f"{name} is not JSON")
    card = json.loads(out.with_suffix(".json").read_text(), parse_constant=no_constants)
    assert card["training"]["validation_accuracy"] is None
    assert card["training"]["best_epoch"] == 2


def test_small_layer_neuron_lists_its_inputs(digits, default_model):
    net = default_model
    r = run("inspect-layer", "2", "--neuron", "5", "--image", digits / "007.png")
    assert r.exit_code == 0, r.stderr
    table = r.stdout.split("neuron 5's inputs (neurons of layer 1):")[1].strip().splitlines()
    assert table[0].split() == ["input", "activation", "x", "weight", "=", "product"]
    rows = [line.split() for line in table[1:]]
    assert [int(row[0]) for row in rows] == list(range(16))
    weights = np.array([float(row[2]) for row in rows])
    np.testing.assert_allclose(weights, net.weights[1][5], atol=6e-5)
    assert max(len(line) for line in r.stdout.splitlines()) <= 80
    without = run("inspect-layer", "3", "--neuron", "7")
    assert "digit 7's inputs (neurons of layer 2):" in without.stdout


def test_term_dumb_gets_no_colour(monkeypatch):
    class Tty:
        def isatty(self):
            return True
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert cli_main.use_color(Tty()) is True
    monkeypatch.setenv("TERM", "dumb")
    assert cli_main.use_color(Tty()) is False
