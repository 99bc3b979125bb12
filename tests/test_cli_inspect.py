"""`digitnet inspect-layer` end to end: the layers summary, weight grids in the terminal
(colour and plain), --json, --png, --image, and usage errors.

Models: a small trained 784-16-16-10 net (2 epochs on bundled MNIST test images), a
hand-built 784-2-10 net whose weights have a known sign pattern (to check that colour
follows sign), random nets of other sizes, and the shipped default model (`default_model`
in conftest.py).
"""

import json
import re
import subprocess

import numpy as np
import pytest
from PIL import Image

import digitnet.cli.main as main_module
from digitnet import batch, weightfile
from digitnet.network import Network
from helpers import DIGITNET, decode_halfblocks, on_tty, proc, run, to_image

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


# --------------------------------------------------------------------------------------
# helpers

@pytest.fixture
def colour(monkeypatch):
    """Make the CLI draw as on a truecolour terminal 80 columns wide."""
    monkeypatch.setattr(main_module, "use_color", lambda stream=None: True)
    return {"COLUMNS": "80"}


def visible(line):
    return ANSI.sub("", line)


def assert_fits(text, width=80, path=None):
    """Every line within width columns, except the one naming a (long, temporary) path."""
    for line in text.splitlines():
        if path is None or str(path) not in line:
            assert len(visible(line)) <= width, (len(visible(line)), visible(line))


def parse_grids(out, cols, rows, color):
    """The weight grids of an inspect-layer text report: neuron -> rows x cols pixels.

    Colour: each pixel is an (r, g, b) tuple (None = terminal default, i.e. blank).
    Plain: each pixel is a character. Tiles are found by their labels ("n12 ...", or
    "d7 ..." in the output layer). Grids of up to 64 values have cells 2 columns wide
    and one line tall.
    """
    label = re.compile(r"[nd](\d+) ")
    small = rows * cols <= 64
    k = 2 if small else 1
    lines = out.split("\n")
    i = next(j for j, line in enumerate(lines) if label.match(line))
    n_lines = rows if small else (rows + 1) // 2 if color else rows
    grids = {}
    while i < len(lines) and label.match(lines[i]):
        starts = [(int(m.group(1)), m.start()) for m in label.finditer(lines[i])]
        body = lines[i + 1:i + 1 + n_lines]
        for neuron, col in starts:
            pixels = []
            for line in body:
                if color:
                    cells = decode_halfblocks(line)[col:col + k * cols:k]
                    cells += [(None, None)] * (cols - len(cells))
                    pixels.append([c[0] for c in cells])
                    if not small:
                        pixels.append([c[1] for c in cells])
                else:
                    pixels.append(list(line[col:col + k * cols:k].ljust(cols)))
            grids[neuron] = pixels[:rows]
        i += 1 + n_lines
        if i + 1 < len(lines) and lines[i] == "" and label.match(lines[i + 1]):
            i += 1
    return grids


def sign_of_colour(rgb):
    """+1 green, -1 red, 0 black, None blank; anything else fails."""
    if rgb is None:
        return None
    r, g, b = rgb
    assert b == 0 and not (r and g), rgb
    return 1 if g else -1 if r else 0


# --------------------------------------------------------------------------------------
# fixtures

# `model` (a small trained network and its path) and `default_model` (the shipped one)
# are in conftest.py.


def sign_pattern():
    """Signs of the hand-built net's layer 1 as two 28x28 grids of -1/0/+1.

    Neuron 0: rows 0-3 zero, then positive left half, negative right half.
    Neuron 1: columns 0-3 zero, then positive top half, negative bottom half.
    """
    r, c = np.mgrid[0:28, 0:28]
    n0 = np.where(r < 4, 0, np.where(c < 14, 1, -1))
    n1 = np.where(c < 4, 0, np.where(r < 14, 1, -1))
    return np.stack([n0, n1])


@pytest.fixture(scope="session")
def signed(tmp_path_factory):
    """(path, network) of a hand-built 784-2-10 net with known signs (see sign_pattern);
    in layer 2, digit d weighs the two hidden neurons (+, -) for even d, (-, +) for odd."""
    magnitude = 0.5 + 0.5 * (np.arange(784) % 7) / 6          # varies, never zero
    w1 = (sign_pattern().reshape(2, 784) * magnitude).astype(np.float32)
    w2 = np.array([[1, -1] if d % 2 == 0 else [-1, 1] for d in range(10)], np.float32)
    w2 *= (1 + np.arange(10, dtype=np.float32) / 10)[:, None]
    net = Network([w1, w2], [np.array([0.5, -0.5], np.float32),
                             np.linspace(-1, 1, 10).astype(np.float32)])
    path = tmp_path_factory.mktemp("signed") / "signed.npz"
    weightfile.save(path, net)
    return path, net


@pytest.fixture(scope="session")
def other_sizes(tmp_path_factory):
    """Random untrained nets of other shapes: name -> (path, network)."""
    folder = tmp_path_factory.mktemp("sizes")
    out = {}
    for sizes in ([784, 30, 10], [784, 7, 10], [784, 10]):
        name = "-".join(map(str, sizes))
        net = Network.random(sizes, rng=1)
        weightfile.save(folder / f"{name}.npz", net)
        out[name] = (folder / f"{name}.npz", net)
    return out


@pytest.fixture
def digit_png(tmp_path, mnist_test):
    x, _ = mnist_test
    path = tmp_path / "digit.png"
    to_image(x[7777]).save(path)
    return path


# --------------------------------------------------------------------------------------
# summary

def test_summary_lists_every_layer(model):
    path, net = model
    r = run("inspect-layer", "--weights", path)
    assert r.exit_code == 0 and r.stderr == ""
    lines = r.stdout.splitlines()
    assert "784-16-16-10" in lines[0] and "13,002 parameters" in lines[0]
    rows = {int(line.split()[0]): line.split() for line in lines if re.match(r"\s+\d+\s+\d+x", line)}
    assert sorted(rows) == [1, 2, 3]
    for l, (W, b) in enumerate(zip(net.weights, net.biases), start=1):
        layer, shape, params, act, wrange, brange = rows[l]
        assert shape == f"{W.shape[0]}x{W.shape[1]}"
        assert int(params.replace(",", "")) == W.size + b.size and act == "sigmoid"
        lo, hi = (float(v) for v in wrange.split(".."))
        assert lo == pytest.approx(W.min(), abs=6e-4) and hi == pytest.approx(W.max(), abs=6e-4)
        lo, hi = (float(v) for v in brange.split(".."))
        assert lo == pytest.approx(b.min(), abs=6e-4) and hi == pytest.approx(b.max(), abs=6e-4)
    assert_fits(r.stdout, path=path)
    assert all(line == line.rstrip() for line in lines)

    doc = json.loads(run("inspect-layer", "--weights", path, "--json").stdout)
    assert doc["sizes"] == [784, 16, 16, 10]
    assert [d["shape"] for d in doc["layers"]] == [[16, 784], [16, 16], [10, 16]]
    assert doc["layers"][0]["weights"] == {"min": float(net.weights[0].min()),
                                           "max": float(net.weights[0].max())}


# --------------------------------------------------------------------------------------
# --json: exactly the stored numbers

@pytest.mark.parametrize("layer", [1, 2, 3])
def test_json_holds_exactly_the_stored_weights(model, layer):
    path, _ = model
    stored, _ = weightfile.load(path)
    W, b = stored.weights[layer - 1], stored.biases[layer - 1]
    r = run("inspect-layer", layer, "--weights", path, "--json")
    assert r.exit_code == 0 and r.stderr == ""
    doc = json.loads(r.stdout)
    assert doc["layer"] == layer and doc["shape"] == list(W.shape)
    assert np.array_equal(np.array(doc["weights"], dtype=np.float32), W)
    assert np.array_equal(np.array(doc["biases"], dtype=np.float32), b)
    assert doc["stats"]["weights"] == {"min": float(W.min()), "max": float(W.max())}
    assert doc["stats"]["biases"] == {"min": float(b.min()), "max": float(b.max())}
    st = doc["stats"]["neurons"]
    assert [s["neuron"] for s in st] == list(range(W.shape[0]))
    assert [s["bias"] for s in st] == b.tolist()
    assert st[3]["positive"] == pytest.approx(float((W[3] > 0).mean()))
    # One neuron: its row, and the whole layer's shape.
    doc = json.loads(run("inspect-layer", layer, "-n", 3, "--weights", path, "--json").stdout)
    assert doc["neurons"] == [3] and doc["shape"] == list(W.shape)
    assert np.array_equal(np.array(doc["weights"], dtype=np.float32), W[3:4])
    assert np.array_equal(np.array(doc["biases"], dtype=np.float32), b[3:4])


# --------------------------------------------------------------------------------------
# the terminal pictures

def test_colour_follows_the_sign_of_each_weight(signed, colour):
    path, net = signed
    r = run("inspect-layer", 1, "--weights", path, env=colour)
    assert r.exit_code == 0
    grids = parse_grids(r.stdout, cols=28, rows=28, color=True)
    assert sorted(grids) == [0, 1]
    for k, want in enumerate(sign_pattern()):
        got = np.array([[sign_of_colour(p) for p in row] for row in grids[k]])
        assert np.array_equal(got, want), k
    # Layer 2: ten 2-weight grids (1 row of 2); even digits (+, -), odd (-, +).
    r = run("inspect-layer", 2, "--weights", path, env=colour)
    grids = parse_grids(r.stdout, cols=2, rows=1, color=True)
    assert sorted(grids) == list(range(10))
    for d in range(10):
        assert [sign_of_colour(p) for p in grids[d][0]] == ([1, -1] if d % 2 == 0 else [-1, 1])
    # Brighter for larger |w|: neuron 0's weights cycle through 7 magnitudes.
    r = run("inspect-layer", 1, "-n", 0, "--per-neuron-scale", "--weights", path, env=colour)
    row = parse_grids(r.stdout, cols=28, rows=28, color=True)[0][10]
    size = np.abs(net.weights[0][0].reshape(28, 28)[10, :14])    # a positive stretch
    green = np.array([p[1] for p in row[:14]])
    order = np.argsort(size)
    assert (np.diff(green[order]) >= 0).all()
    assert (np.diff(green[order])[np.diff(size[order]) > 0] > 0).all()


def test_plain_fallback_draws_signs_with_characters(signed):
    path, _ = signed
    r = run("inspect-layer", 1, "--weights", path)            # not a terminal: no colour
    assert r.exit_code == 0
    assert "\x1b" not in r.stdout and r.stdout.isascii()
    grids = parse_grids(r.stdout, cols=28, rows=28, color=False)
    for k, want in enumerate(sign_pattern()):
        chars = np.array(grids[k])
        assert set(chars[want > 0]) <= set(".+#") and set(chars[want < 0]) <= set("-=%")
        assert set(chars[want == 0]) == {" "}
        assert (chars[want != 0] != " ").all()               # every weight here is strong


@pytest.mark.parametrize("extra", [[], ["--per-neuron-scale"], ["-n", "5"], ["--image", "{png}"],
                                   ["--image", "{png}", "-n", "2"]])
@pytest.mark.parametrize("layer", [1, 2, 3])
def test_every_line_fits_80_columns(model, layer, extra, digit_png, monkeypatch):
    path, _ = model
    args = [str(digit_png) if a == "{png}" else a for a in extra]
    if layer == 3 and "-n" in args:
        args[args.index("-n") + 1] = "2"
    plain = run("inspect-layer", layer, *args, "--weights", path)
    assert plain.exit_code == 0, plain.stderr
    assert "\x1b" not in plain.stdout
    assert_fits(plain.stdout, path=digit_png)
    monkeypatch.setattr(main_module, "use_color", lambda stream=None: True)
    coloured = run("inspect-layer", layer, *args, "--weights", path, env={"COLUMNS": "80"})
    assert coloured.exit_code == 0
    assert "\x1b[38;2;" in coloured.stdout or "\x1b[48;2;" in coloured.stdout
    assert_fits(coloured.stdout, path=digit_png)


def test_grids_side_by_side_in_a_wider_terminal(model, colour):
    """Colour output uses the terminal's width: more 28-wide grids per row at 120 columns."""
    path, _ = model
    narrow = run("inspect-layer", 1, "--weights", path, env=colour).stdout
    wide = run("inspect-layer", 1, "--weights", path, env={"COLUMNS": "120"}).stdout
    labels = lambda out: [line for line in out.split("\n") if line.startswith("n0 ")][0]  # noqa: E731
    assert labels(narrow).split() == ["n0", labels(narrow).split()[1], "n1", labels(narrow).split()[3]]
    assert len(re.findall(r"n\d+ ", labels(wide))) == 4
    assert_fits(wide, 120)


def test_no_escapes_through_a_pipe_or_with_no_color(model, tmp_path):
    path, _ = model
    p = proc("inspect-layer", "1", "--weights", path)
    assert p.returncode == 0 and b"\x1b" not in p.stdout and b"n0 b=" in p.stdout
    for env, want_escapes in (({}, True), ({"NO_COLOR": "1"}, False)):
        r = on_tty("inspect-layer", "2", "--weights", path, env=env)
        assert r.returncode == 0
        assert ("\x1b[" in r.stdout) == want_escapes
        assert_fits(r.stdout)


# --------------------------------------------------------------------------------------
# --image: the weighted sums, and that they are what classify computes

@pytest.mark.parametrize("layer", [1, 2, 3])
def test_image_sums_match_the_network_and_classify(model, digit_png, layer):
    path, net = model
    r = run("inspect-layer", layer, "--image", digit_png, "--weights", path, "--json")
    assert r.exit_code == 0, r.stderr
    img = json.loads(r.stdout)["image"]
    x = batch.load_input(digit_png)                          # the same normalised input
    acts, zs = net.forward(x[None])
    W, b = net.weights[layer - 1], net.biases[layer - 1]
    assert img["inputs"] == acts[layer - 1][0].tolist()
    np.testing.assert_allclose(img["contributions"], W * acts[layer - 1][0], rtol=1e-6, atol=0)
    sums, biases, z = (np.array(img[k]) for k in ("weighted_sums", "biases", "z"))
    assert biases.tolist() == b.tolist()
    np.testing.assert_allclose(sums + biases, z, rtol=1e-5, atol=1e-5)
    assert z.tolist() == zs[layer - 1][0].tolist()           # exactly the pre-activations
    classified = json.loads(run("classify", digit_png, "--weights", path, "--json").stdout)
    assert img["activations"] == classified["layers"][layer]
    assert img["inputs"] == classified["layers"][layer - 1]

    # The text report shows the same sum, bias, z and activation per neuron.
    text = run("inspect-layer", layer, "--image", digit_png, "--weights", path).stdout
    table = [line.split() for line in text.splitlines() if re.match(r"\s+\d+\s+-?\d+\.\d{4}\s", line)]
    assert len(table) == W.shape[0]
    for k, (n, s, bias, zz, a) in enumerate(table):
        assert int(n) == k
        assert float(s) == pytest.approx(sums[k], abs=1e-4)
        assert float(bias) == pytest.approx(b[k], abs=1e-4)
        assert float(zz) == pytest.approx(z[k], abs=1e-4)
        assert float(a) == pytest.approx(img["activations"][k], abs=1e-4)


def test_image_from_stdin_and_one_neuron(model, digit_png):
    path, _ = model
    whole = json.loads(run("inspect-layer", 2, "--image", digit_png, "--weights", path,
                           "--json").stdout)["image"]
    r = run("inspect-layer", 2, "-n", 4, "--image", "-", "--weights", path, "--json",
            input=digit_png.read_bytes())
    assert r.exit_code == 0, r.stderr
    one = json.loads(r.stdout)["image"]
    assert one["file"] == "-"
    assert one["z"] == whole["z"][4:5] and one["activations"] == whole["activations"][4:5]


def test_image_with_png(model, digit_png, tmp_path):
    path, _ = model
    out = tmp_path / "contrib.png"
    r = run("inspect-layer", 1, "--image", digit_png, "--png", out, "--weights", path)
    assert r.exit_code == 0 and out.exists()
    assert Image.open(out).size[0] >= 4 * 28


# --------------------------------------------------------------------------------------
# --png

def _pure(pixels):
    """Masks of pure green, pure red and pure black pixels of an (H, W, 3) array."""
    r, g, b = pixels[..., 0].astype(int), pixels[..., 1].astype(int), pixels[..., 2].astype(int)
    return (g > 0) & (r == 0) & (b == 0), (r > 0) & (g == 0) & (b == 0), (r + g + b == 0)


def test_png_draws_green_and_red_where_the_weights_say(signed, tmp_path):
    path, _ = signed
    out = tmp_path / "layer1.png"
    r = run("inspect-layer", 1, "--png", out, "--weights", path)
    assert r.exit_code == 0 and r.stdout == ""     # the picture, not the text report
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"wrote {out}: layer 1, 2 neuron(s)")
    im = Image.open(out)
    assert im.format == "PNG" and im.mode == "RGB"
    w, h = im.size
    assert 2 * 28 * 4 <= w <= 4000 and 28 * 4 <= h <= 4000
    green, red, black = _pure(np.asarray(im))
    # 2 neurons x 336 positive and 336 negative weights, each a px x px square, px >= 4.
    n_pos = int((sign_pattern() > 0).sum())
    assert green.sum() == red.sum() and green.sum() % n_pos == 0
    px = round((green.sum() / n_pos) ** 0.5)
    assert px >= 4 and px * px * n_pos == green.sum()
    assert black.sum() >= 2 * 4 * 28 * px * px                # the zero weights are black

    # One neuron: green on the left, red on the right, the zero rows on top.
    one = tmp_path / "n0.png"
    assert run("inspect-layer", 1, "-n", 0, "--png", one, "--weights", path).exit_code == 0
    green, red, black = _pure(np.asarray(Image.open(one)))
    gy, gx = np.nonzero(green)
    ry, rx = np.nonzero(red)
    assert gx.max() < rx.min()
    assert gx.max() - gx.min() + 1 == 14 * px and rx.max() - rx.min() + 1 == 14 * px
    assert gy.min() == ry.min() and gy.max() == ry.max() and gy.max() - gy.min() + 1 == 24 * px
    by, bx = np.nonzero(black)
    zero_rows = by[(bx >= gx.min()) & (bx <= rx.max()) & (by < gy.min())]
    assert zero_rows.size == 4 * 28 * px * px


def test_png_unwritable_is_one_line(model, tmp_path):
    path, _ = model
    target = tmp_path / "no" / "x.png"
    r = subprocess.run([DIGITNET, "inspect-layer", "1", "--png", str(target), "--weights", str(path),
                        "--json"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"digitnet: {target}: cannot write")


# --------------------------------------------------------------------------------------
# other layer sizes

def test_other_layer_sizes(other_sizes, digit_png, tmp_path, colour):
    path, net = other_sizes["784-30-10"]
    doc = json.loads(run("inspect-layer", 2, "--weights", path, "--json").stdout)
    assert doc["shape"] == [10, 30]
    assert np.array_equal(np.array(doc["weights"], np.float32), net.weights[1])
    # 30 inputs -> 5x6 grids, every weight's sign in its colour.
    r = run("inspect-layer", 2, "--weights", path, env=colour)
    assert r.exit_code == 0
    assert_fits(r.stdout)
    grids = parse_grids(r.stdout, cols=6, rows=5, color=True)
    assert sorted(grids) == list(range(10))
    for d in range(10):
        got = np.array([sign_of_colour(p) for row in grids[d] for p in row])
        assert np.array_equal(got, np.sign(net.weights[1][d])), d
    assert run("inspect-layer", 2, "--png", tmp_path / "l2.png", "--weights", path).exit_code == 0
    assert Image.open(tmp_path / "l2.png").size[0] >= 6 * 4
    # --image on this model is what classify computes.
    img = json.loads(run("inspect-layer", 1, "--image", digit_png, "--weights", path,
                         "--json").stdout)["image"]
    classified = json.loads(run("classify", digit_png, "--weights", path, "--json").stdout)
    assert img["activations"] == classified["layers"][1] and len(img["activations"]) == 30

    # 7 inputs -> 3x3 grids with the last two cells blank.
    path, net = other_sizes["784-7-10"]
    r = run("inspect-layer", 2, "--weights", path, env=colour)
    grids = parse_grids(r.stdout, cols=3, rows=3, color=True)
    for d in range(10):
        got = [sign_of_colour(p) for row in grids[d] for p in row]
        assert got[:7] == np.sign(net.weights[1][d]).tolist() and got[7:] == [None, None]
    # A single layer: 784 -> 10.
    path, _ = other_sizes["784-10"]
    r = run("inspect-layer", "--weights", path)
    assert r.exit_code == 0 and "10x784" in r.stdout
    assert run("inspect-layer", 2, "--weights", path).exit_code == 2


def test_grids_too_wide_for_the_terminal_are_left_out(tmp_path, monkeypatch):
    """1681 inputs make 41x41 grids; a 40-column terminal cannot show one."""
    net = Network.random([784, 1681, 10], rng=2)
    weightfile.save(tmp_path / "w.npz", net)
    monkeypatch.setattr(main_module, "use_color", lambda stream=None: True)
    r = run("inspect-layer", 2, "--weights", tmp_path / "w.npz", env={"COLUMNS": "40"})
    assert r.exit_code == 0, r.stderr
    assert "grids too wide" in r.stdout and "neuron" in r.stdout
    assert_fits(r.stdout)


# --------------------------------------------------------------------------------------
# errors

@pytest.mark.parametrize("args,fragment", [
    (["0"], "this model has layers 1..3"),
    (["4"], "this model has layers 1..3"),
    (["x"], "not a valid integer"),
    (["2", "--neuron", "16"], "layer 2 has neurons 0..15"),
    (["3", "-n", "-1"], "layer 3 has neurons 0..9"),
    (["3", "-n", "10"], "layer 3 has neurons 0..9"),
    (["--neuron", "1"], "need a LAYER"),
    (["--png", "x.png"], "need a LAYER"),
    (["1", "--bogus"], "No such option"),
])
def test_usage_errors_exit_2(model, args, fragment):
    r = run("inspect-layer", *args, "--weights", model[0])
    assert r.exit_code == 2, r.output
    assert r.stdout == "" and fragment in r.stderr and "Traceback" not in r.stderr


def test_usage_error_as_a_real_process(model):
    p = subprocess.run([DIGITNET, "inspect-layer", "7", "--weights", str(model[0])],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and p.stdout == ""
    assert "Invalid value for LAYER: this model has layers 1..3" in p.stderr
    assert "Traceback" not in p.stderr


def test_failures_exit_1_with_one_line(model, tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("L", (40, 40), 255).save(blank)
    for args, why in (
        (["1", "--image", tmp_path / "missing.png"], f"{tmp_path}/missing.png: no such file"),
        (["1", "--image", blank], f"{blank}: no digit found"),
        (["1", "--image", blank, "--raw"], "--raw needs a 28x28 image"),
    ):
        r = run("inspect-layer", *args, "--weights", model[0])
        assert r.exit_code == 1 and r.stdout == ""
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("digitnet: ") and why in r.stderr
    r = run("inspect-layer", "1", "--weights", tmp_path / "none.npz")
    assert r.exit_code == 1 and "weight file not found" in r.stderr


# --------------------------------------------------------------------------------------
# the shipped model

def test_default_model(default_model, monkeypatch, digit_png):
    r = run("inspect-layer")                                  # --weights default
    assert r.exit_code == 0
    assert "-".join(map(str, default_model.sizes)) in r.stdout
    assert_fits(r.stdout)
    for layer in range(1, len(default_model.weights) + 1):
        doc = json.loads(run("inspect-layer", layer, "--json").stdout)
        assert np.array_equal(np.array(doc["weights"], np.float32), default_model.weights[layer - 1])
        assert_fits(run("inspect-layer", layer).stdout)
        img = json.loads(run("inspect-layer", layer, "--image", digit_png, "--json").stdout)["image"]
        classified = json.loads(run("classify", digit_png, "--json").stdout)
        assert img["activations"] == classified["layers"][layer]
    monkeypatch.setattr(main_module, "use_color", lambda stream=None: True)
    for layer in range(1, len(default_model.weights) + 1):
        out = run("inspect-layer", layer, "--weights", "default", env={"COLUMNS": "80"}).stdout
        assert "\x1b[48;2;" in out
        assert_fits(out)
