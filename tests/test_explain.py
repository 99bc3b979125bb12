"""`digitnet explain` (gradient x input), `inspect-layer --top`, the palette and the one
scale rule of inspect-layer's pictures."""

import json
import re

import numpy as np
import pytest
from PIL import Image

from digitnet import explain, load, render
from helpers import run

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def digit(tmp_path_factory, mnist_test):
    from helpers import to_image
    path = tmp_path_factory.mktemp("explain") / "digit.png"
    to_image(mnist_test[0][7]).save(path)
    return path


@pytest.mark.parametrize("name", ["default", "wide"])
def test_gradients_match_finite_differences(mnist_test, name):
    net = load(name).network
    x = mnist_test[0][11].astype(np.float64)
    g = explain.gradients(net, x, [3, 8])
    eps = 1e-3
    for pixel in np.flatnonzero(np.abs(g[0]) > 0.5 * np.abs(g[0]).max())[:5]:
        up, down = x.copy(), x.copy()
        up[pixel] += eps
        down[pixel] -= eps
        zu = net.forward(up.astype(np.float32)[None])[1][-1][0]
        zd = net.forward(down.astype(np.float32)[None])[1][-1][0]
        fd = (zu - zd) / (2 * eps)
        assert fd[3] == pytest.approx(g[0][pixel], rel=0.05, abs=1e-3)
        assert fd[8] == pytest.approx(g[1][pixel], rel=0.05, abs=2e-2)


def test_explanation_lies_on_the_ink(mnist_test):
    net = load("default").network
    x = mnist_test[0][0]
    ex = explain.explain(net, x)
    assert ex.digits[0] == int(np.argmax(net.forward(x[None])[0][-1][0]))
    assert (ex.maps[:, x == 0] == 0).all()             # blank pixels never count
    assert np.allclose(ex.bias_share, ex.z - ex.maps.sum(axis=1))


def test_explain_command(digit, tmp_path):
    r = run("explain", digit, "--json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    cls = json.loads(run("classify", digit, "--json").stdout)
    assert doc["digit"] == cls["digit"] and doc["runner_up"] == cls["runner_up"]
    assert [e["digit"] for e in doc["explained"]] == [cls["digit"], cls["runner_up"]]
    m = np.array(doc["explained"][0]["map"])
    assert doc["explained"][0]["pushed_up"] == pytest.approx(m[m > 0].sum())
    first = doc["explained"][0]
    assert first["bias_share"] == pytest.approx(first["z"] - m.sum(), abs=1e-4)
    text = run("explain", digit).stdout
    assert f"answer {cls['digit']}" in text and "runner-up" in text
    out = tmp_path / "why.png"
    r = run("explain", digit, "--png", out)
    assert r.exit_code == 0 and r.stdout == "" and r.stderr.startswith(f"wrote {out}")
    assert Image.open(out).format == "PNG"
    r = run("explain", tmp_path / "missing.png")
    assert r.exit_code == 1 and r.stderr.count("\n") == 1


def test_top_command(tmp_path, mnist_test):
    r = run("inspect-layer", 2, "--top", 3, "--json")
    doc = json.loads(r.stdout)
    assert len(doc["neurons"]) == 16 and all(len(n["test_indices"]) == 3 for n in doc["neurons"])
    x, y = mnist_test
    n0 = doc["neurons"][0]
    assert n0["labels"] == [int(y[i]) for i in n0["test_indices"]]
    assert n0["activations"] == sorted(n0["activations"], reverse=True)
    text = run("inspect-layer", 3, "--top", 2).stdout
    assert "digit 9: top 2" in text and "preferred" in text
    # plain text keeps the preferred input's sign: both signs' characters, as the legend says
    assert "(#+.: more ink than usual, %=-: less)" in text
    tile = [line[:14] for line in text.splitlines()[7:14]]   # neuron 0's preferred input
    assert any(c in "".join(tile) for c in "#+") and any(c in "".join(tile) for c in "%=-")
    assert all(len(line) <= 80 for line in text.splitlines())
    out = tmp_path / "top.png"
    r = run("inspect-layer", 1, "--top", 4, "--png", out)
    assert r.exit_code == 0 and r.stdout == "" and r.stderr.count("\n") == 1
    assert Image.open(out).size[1] > 16 * 84
    for extra in (["--image", out], ["--raw"], ["--per-neuron-scale"]):
        r = run("inspect-layer", 1, "--top", 4, *extra)   # would be silently ignored
        assert r.exit_code == 2, extra
    # --help names the preferred input's method with the number the code uses
    from digitnet.inspection import PREFERRED_FROM
    help_text = " ".join(run("inspect-layer", "--help").stdout.split())
    assert f"mean of its {PREFERRED_FROM} most exciting test digits" in help_text


def test_output_layer_names_digits():
    text = run("inspect-layer", 3).stdout
    assert "neuron K is digit K" in text and "d7 b=" in text and "n7 b=" not in text
    assert re.search(r"^ digit +bias", text, re.M)


def test_one_scale_rule_for_one_neuron_and_all(digit):
    # the same layer-wide 95th percentile, whether one neuron or all are drawn
    def scale(*args):
        text = run("inspect-layer", *args).stdout
        return float(re.search(r"full brightness at \|value\| >= ([0-9.e+-]+): 95th "
                               r"percentile of the layer's \|values\|", text).group(1))
    assert scale(2) == scale(2, "--neuron", 3)
    assert scale(2, "--image", digit) == scale(2, "--neuron", 3, "--image", digit)
    view = __import__("digitnet").inspection.layer_view(load("default").network, 2)
    assert scale(2) == pytest.approx(np.percentile(np.abs(view.all_weights), 95), rel=1e-3)
    # robust: the largest weight (86.9) does not set it
    assert scale(2) < 0.2 * np.abs(view.all_weights).max()


def test_blue_orange_palette(tmp_path):
    out = tmp_path / "l1.png"
    assert run("inspect-layer", 1, "--png", out, "--palette", "blue-orange").exit_code == 0
    px = np.asarray(Image.open(out).convert("RGB")).reshape(-1, 3).astype(int)
    pure_green = (px[:, 1] > 100) & (px[:, 0] == 0) & (px[:, 2] == 0)
    pure_red = (px[:, 0] > 100) & (px[:, 1] == 0) & (px[:, 2] == 0)
    assert not pure_green.any() and not pure_red.any()
    v = np.array([-1.0, 0.0, 1.0])
    assert render.signed_rgb(v, 1.0, "blue-orange").tolist() == [[230, 159, 0], [0, 0, 0],
                                                                 [86, 180, 233]]


def test_the_cli_and_the_server_ask_for_the_same_most_top_digits():
    from digitnet.inspection import MAX_TOP
    assert run("inspect-layer", 1, "--top", MAX_TOP + 1).exit_code == 2
    assert f"1<=x<={MAX_TOP}" in run("inspect-layer", 1, "--top", 0).stderr
