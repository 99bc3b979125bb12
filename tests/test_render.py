"""Tests for digitnet.render: terminal pictures and PNG files of weights and activations."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digitnet.render import (
    RESET,
    SMALL_GRID,
    activations_text,
    answer_line,
    bar,
    grid_shape,
    grids_image,
    grids_png,
    grids_to_text,
    hidden_layer_text,
    image_to_text,
    legend_text,
    outputs_text,
    robust_scale,
    save_png_atomic,
    signed_rgb,
    truncate_visible,
    visible_len,
)
from helpers import decode_halfblocks

TRUECOLOR = re.compile(r"\x1b\[(38|48);2;\d{1,3};\d{1,3};\d{1,3}m")


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def lines_of(text: str) -> list[str]:
    return text.split("\n")


def assert_fits(text: str, width: int) -> None:
    for line in lines_of(text):
        assert visible_len(line) <= width, (visible_len(line), line)


def assert_plain(text: str) -> None:
    assert "\x1b" not in text
    assert text.isascii()


# ----------------------------------------------------------------------------- colours


def test_signed_rgb_colour_follows_sign():
    v = np.array([0.5, -0.5, 0.0, 2.0, -3.0, 1e-3, -1e-3])
    c = signed_rgb(v, 1.0)
    assert c.dtype == np.uint8 and c.shape == (7, 3)
    pos, neg, zero = c[v > 0], c[v < 0], c[v == 0]
    assert (pos[:, 0] == 0).all() and (pos[:, 2] == 0).all() and (pos[:, 1] > 0).all()
    assert (neg[:, 1] == 0).all() and (neg[:, 2] == 0).all() and (neg[:, 0] > 0).all()
    assert (zero == 0).all()
    # |v| >= scale is full brightness
    assert c[3, 1] == 255 and c[4, 0] == 255


@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=50),
    st.floats(1e-3, 1e3),
)
@settings(max_examples=50, deadline=None)
def test_signed_rgb_channels_property(values, scale):
    v = np.array(values)
    c = signed_rgb(v, scale)
    assert (c[..., 2] == 0).all()
    assert (c[v >= 0, 0] == 0).all()
    assert (c[v <= 0, 1] == 0).all()
    # brighter for larger |v|
    mag = c.max(axis=-1).astype(int)
    order = np.argsort(np.abs(v))
    assert (np.diff(mag[order]) >= 0).all()


def test_signed_rgb_keeps_shape_and_bad_scales_mean_one():
    v = rng().normal(size=(3, 4, 5))
    assert signed_rgb(v, 2.0).shape == (3, 4, 5, 3)
    ref = signed_rgb(v, 1.0)
    for bad in (0.0, -2.0, float("nan"), float("inf")):
        np.testing.assert_array_equal(signed_rgb(v, bad), ref)


def test_signed_rgb_small_weights_stay_visible():
    # Gamma < 1: a weight at 10 % of the scale is clearly brighter than 10 %.
    c = signed_rgb(np.array([0.1]), 1.0)
    assert c[0, 1] > 0.25 * 255


def test_robust_scale():
    w = np.full(1000, 0.5)
    w[0] = 1000.0  # one outlier must not set the scale
    assert robust_scale(w) == pytest.approx(0.5)
    assert robust_scale([w[:10], w[10:]]) == pytest.approx(0.5)
    assert robust_scale(np.zeros(5)) == 1.0
    assert robust_scale(np.array([np.nan, np.inf])) == 1.0


# ----------------------------------------------------------------------------- shapes


@pytest.mark.parametrize(
    "n, shape",
    [
        (784, (28, 28)), (16, (4, 4)), (10, (2, 5)), (64, (8, 8)), (32, (4, 8)),
        (7, (3, 3)), (1, (1, 1)), (2, (1, 2)), (3, (2, 2)), (12, (3, 4)),
        (22, (5, 5)), (256, (16, 16)), (128, (8, 16)),
    ],
)
def test_grid_shape_cases(n, shape):
    assert grid_shape(n) == shape


@given(st.integers(1, 20000))
@settings(max_examples=200, deadline=None)
def test_grid_shape_property(n):
    rows, cols = grid_shape(n)
    assert 1 <= rows <= cols
    assert rows * cols >= n
    assert rows * cols - n < cols  # at most one partly empty row
    if rows * cols == n:
        assert cols <= 2.5 * rows


@pytest.mark.parametrize("bad", [0, -3])
def test_grid_shape_rejects_nonpositive(bad):
    with pytest.raises(ValueError):
        grid_shape(bad)


# ----------------------------------------------------------------------------- helpers


def test_visible_len_and_truncate():
    s = "\x1b[38;2;1;2;3mab\x1b[0mcd"
    assert visible_len(s) == 4
    t = truncate_visible(s, 3)
    assert visible_len(t) == 3 and t.endswith(RESET)
    assert truncate_visible("abcdef", 4) == "abcd"
    assert truncate_visible(s, 10) == s


def test_bar():
    for color in (False, True):
        for v in (0.0, 0.3, 0.55, 1.0, 1.7, -1.0, float("nan")):
            assert visible_len(bar(v, 12, color)) == 12
    assert bar(0.5, 10, False) == "#####     "
    assert bar(1.0, 4, False) == "####"
    assert bar(float("nan"), 3, False) == "   "
    assert_plain(bar(0.77, 9, False))
    coloured = bar(0.5 + 1 / 16, 4, True)  # 2.25 cells: 2 full blocks and a quarter
    assert TRUECOLOR.search(coloured) and "██▎" in coloured


def test_legend_text():
    plain = legend_text(False)
    assert "\n" not in plain and len(plain) <= 80
    assert_plain(plain)
    for ch in "#+.-=%":
        assert ch in plain
    coloured = legend_text(True, "contributions")
    assert "\n" not in coloured and visible_len(coloured) <= 80
    assert TRUECOLOR.search(coloured) and coloured.startswith("contributions: ")


# ----------------------------------------------------------------------------- image


def test_image_to_text_colour_and_plain():
    img = np.zeros((28, 28))
    img[4:24, 13:15] = 1.0
    coloured = image_to_text(img, True)
    ls = lines_of(coloured)
    assert len(ls) == 14 and all(visible_len(x) == 28 for x in ls)
    assert TRUECOLOR.search(coloured)
    cells = decode_halfblocks(ls[5])  # pixel rows 10 and 11
    assert cells[13] == ((255, 255, 255), (255, 255, 255))
    assert all(c in ((0, 0, 0), None) for c in cells[0])

    plain = image_to_text(img, False)
    ls = lines_of(plain)
    assert len(ls) == 28 and all(len(x) == 56 for x in ls)
    assert_plain(plain)
    assert ls[10][26:30] == "@@@@" and ls[10][:26].strip() == ""
    assert ls[0].strip() == ""
    # a flat 784 vector works too
    assert image_to_text(img.ravel(), False) == plain


# ----------------------------------------------------------------------------- grids


@pytest.mark.parametrize("n_out, n_in", [(16, 784), (16, 16), (10, 16), (16, 10), (30, 10), (5, 7)])
@pytest.mark.parametrize("color", [False, True])
@pytest.mark.parametrize("width", [80, 60, 40])
def test_grids_fit_width(n_out, n_in, color, width):
    W = rng(n_in).normal(0, 0.5, (n_out, n_in))
    labels = [f"neuron {i}  b={-1.27 * i:.2f} and a long tail" for i in range(n_out)]
    text = grids_to_text(W, labels, 0.5, width=width, color=color)
    assert_fits(text, width)
    if color:
        assert TRUECOLOR.search(text)
    else:
        assert_plain(text)


def test_grids_layout_784():
    W = rng().normal(0, 0.5, (16, 784))
    plain = grids_to_text(W, None, 0.5, width=80, color=False)
    blocks = plain.split("\n\n")
    assert len(blocks) == 8  # 2 per row at 80 columns
    assert all(len(lines_of(b)) == 1 + 28 for b in blocks)  # label + one line per grid row
    coloured = grids_to_text(W, None, 0.5, width=80, color=True)
    blocks = coloured.split("\n\n")
    assert len(blocks) == 8
    assert all(len(lines_of(b)) == 1 + 14 for b in blocks)  # half blocks: 28 rows -> 14
    # 3 fit side by side at 88 columns
    assert len(grids_to_text(W, None, 0.5, width=88, color=False).split("\n\n")) == 6


@pytest.mark.parametrize("n_in", [784, 16, 10, 7, 3, 32, 64, 65])
def test_halfblock_rows(n_in):
    rows, cols = grid_shape(n_in)
    text = grids_to_text(rng().normal(size=(1, n_in)), ["x"], 1.0, color=True)
    if n_in <= SMALL_GRID:   # small grids: each value 2 columns wide, one line tall
        assert len(lines_of(text)) == 1 + rows
        assert max(visible_len(x) for x in lines_of(text)[1:]) == 2 * cols
    else:
        assert len(lines_of(text)) == 1 + math.ceil(rows / 2)


@pytest.mark.parametrize("n_in", [784, 16, 10, 7])
def test_colour_grid_decodes_to_signed_rgb(n_in):
    w = rng(1).normal(0, 1, n_in)
    w[0], w[-1] = 5.0, -5.0
    rows, cols = grid_shape(n_in)
    text = grids_to_text([w], ["n"], 1.0, color=True)
    decoded = [decode_halfblocks(line) for line in lines_of(text)[1:]]
    expect = signed_rgb(w, 1.0).tolist()
    k = 2 if n_in <= SMALL_GRID else 1     # small grids: cells 2 columns x 2 half rows
    for i in range(rows * cols):
        r, c = divmod(i, cols)
        cells = decoded[r * k // 2]
        got = cells[c * k][(r * k) % 2] if c * k < len(cells) else None
        want = tuple(expect[i]) if i < n_in else None
        assert got == want, (i, got, want)


def test_plain_grid_characters():
    w = np.zeros(16)
    w[0], w[1], w[2], w[3] = 1.0, -1.0, 0.1, -0.1  # 0.1 -> brightness ~0.32: weakest mark
    text = grids_to_text([w], ["n"], 1.0, color=False)
    assert lines_of(text)[1] == "##%%..--"     # 16 values: each 2 characters wide
    assert lines_of(text)[2] == ""


def test_grids_tiny_labels_and_validation():
    W = rng().normal(size=(20, 16))
    text = grids_to_text(W, [f"n{i} b=-1.3" for i in range(20)], 1.0, width=80, color=False)
    assert "n19 b=-1.3" in text
    with pytest.raises(ValueError):
        grids_to_text(W, ["too few"], 1.0)
    with pytest.raises(ValueError):
        grids_to_text(rng().normal(size=(2, 784)), None, 1.0, width=20)
    with pytest.raises(ValueError):
        grids_to_text([np.zeros(4), np.zeros(5)], None, 1.0)
    assert grids_to_text([], [], 1.0) == ""


def test_grids_per_grid_scales():
    w = np.array([0.5, 0.5, 0.5, 0.5])
    text = grids_to_text([w, w], ["a", "b"], [0.5, 4.0], color=False)
    assert lines_of(text)[1] == "####  ...."  # same weights, darker under the larger scale


def test_grids_of_a_256_neuron_layer():
    # (How fast this is, is for benchmarks/.)
    W = rng().normal(size=(256, 784))
    assert_fits(grids_to_text(W, None, 1.0, color=True), 80)
    assert_fits(grids_to_text(W, None, 1.0, color=False), 80)


# ----------------------------------------------------------------------------- PNG


def _demo_grids(n_in=784, n=16):
    W = rng(2).normal(0, 0.2, (n, n_in))
    W[3, 0] = 1.0  # top-left weight of neuron 3: strongly positive
    W[5, n_in - 1] = -1.0  # last weight of neuron 5: strongly negative
    return W


@pytest.mark.parametrize("n_in", [784, 16, 10])
def test_png_size_and_colours(tmp_path, n_in):
    from PIL import Image

    W = _demo_grids(n_in)
    path = tmp_path / "w.png"
    boxes = grids_png(W, [f"neuron {i}  b=-1.27" for i in range(16)], path, scale=0.5, title="layer 1")
    rows, cols = grid_shape(n_in)
    with Image.open(path) as im:
        assert im.format == "PNG"
        img = np.asarray(im.convert("RGB"))
    assert len(boxes) == 16
    for left, top, right, bottom in boxes:
        px_w, px_h = (right - left) / cols, (bottom - top) / rows
        assert px_w == px_h and px_w >= 4
        assert right <= img.shape[1] and bottom <= img.shape[0]
        assert right - left >= 120 or n_in == 784
    assert img.shape[1] >= 4 * 28 * 4 or n_in != 784
    px = (boxes[0][2] - boxes[0][0]) // cols
    # neuron 3's first weight: pure green; neuron 5's last weight: pure red
    l3, t3 = boxes[3][:2]
    assert tuple(img[t3 + px // 2, l3 + px // 2]) == (0, 255, 0)
    l5, t5 = boxes[5][:2]
    r, c = divmod(n_in - 1, cols)
    assert tuple(img[t5 + r * px + px // 2, l5 + c * px + px // 2]) == (255, 0, 0)
    # boxes don't overlap
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_png_near_square_layout():
    image, boxes = grids_image(_demo_grids(), None, scale=0.5)
    lefts = sorted({b[0] for b in boxes})
    tops = sorted({b[1] for b in boxes})
    assert len(lefts) == 4 and len(tops) == 4
    w, h = image.size
    assert 0.6 < w / h < 1.6


def test_png_atomic_write_replaces_complete_file(tmp_path, monkeypatch):
    from PIL import Image

    path = tmp_path / "w.png"
    path.write_bytes(b"old picture")
    real_replace = os.replace
    seen = {}

    def checking_replace(src, dst):
        # at the moment of the switch the target is still the old file, and the new one is whole
        seen["old"] = open(dst, "rb").read()
        with Image.open(src) as im:
            im.load()
            seen["size"] = im.size
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", checking_replace)
    grids_png(_demo_grids(), None, path, scale=0.5)
    assert seen["old"] == b"old picture"
    assert os.listdir(tmp_path) == ["w.png"]
    with Image.open(path) as im:
        assert im.size == seen["size"]


def test_png_atomic_keeps_permissions(tmp_path):
    path = tmp_path / "w.png"
    path.write_bytes(b"old")
    os.chmod(path, 0o644)
    grids_png(_demo_grids(16), None, path, scale=0.5)
    assert os.stat(path).st_mode & 0o777 == 0o644
    new = tmp_path / "new.png"
    grids_png(_demo_grids(16), None, new, scale=0.5)
    assert os.stat(new).st_mode & 0o044  # readable by others like any new file, not 0o600


def test_png_failure_mid_save_leaves_old_file(tmp_path, monkeypatch):
    from PIL import Image

    path = tmp_path / "w.png"
    path.write_bytes(b"old picture")

    def broken_save(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG half a pict")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(RuntimeError, match="disk on fire"):
        grids_png(_demo_grids(16), None, path, scale=0.5)
    assert path.read_bytes() == b"old picture"
    assert os.listdir(tmp_path) == ["w.png"]


def test_png_failure_in_fsync_and_missing_dir(tmp_path, monkeypatch):
    from PIL import Image

    path = tmp_path / "w.png"
    path.write_bytes(b"old")
    image = Image.new("RGB", (4, 4))

    def bad_fsync(fd):
        raise OSError("no space left")

    monkeypatch.setattr(os, "fsync", bad_fsync)
    with pytest.raises(OSError):
        save_png_atomic(image, path)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["w.png"]
    monkeypatch.undo()
    with pytest.raises(FileNotFoundError):
        save_png_atomic(image, tmp_path / "missing" / "w.png")


def test_png_dir_refuses_temp_file(tmp_path, monkeypatch):
    # What an unwritable directory looks like even when running as root.
    from digitnet import files

    path = tmp_path / "w.png"
    path.write_bytes(b"old")

    def refuse(*args, **kwargs):
        raise PermissionError("read-only directory")

    monkeypatch.setattr(files, "_temporary", refuse)
    with pytest.raises(PermissionError):
        grids_png(_demo_grids(16), None, path, scale=0.5)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["w.png"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores permissions")
def test_png_unwritable_dir(tmp_path):
    path = tmp_path / "w.png"
    path.write_bytes(b"old")
    os.chmod(tmp_path, 0o555)
    try:
        with pytest.raises(PermissionError):
            grids_png(_demo_grids(16), None, path, scale=0.5)
        assert path.read_bytes() == b"old"
    finally:
        os.chmod(tmp_path, 0o755)


# ----------------------------------------------------------------------------- activations


def _layers(hidden=(16, 16)):
    g = rng(3)
    x = np.zeros(784)
    x[g.choice(784, 141, replace=False)] = 0.9
    out = np.full(10, 0.01)
    out[7], out[1] = 0.982, 0.041
    return [x] + [g.random(h) for h in hidden] + [out]


@pytest.mark.parametrize("color", [False, True])
@pytest.mark.parametrize("width", [80, 60, 40])
@pytest.mark.parametrize("hidden", [(16, 16), (256,), (100, 30), ()])
def test_activations_text_fits_and_answers(color, width, hidden):
    layers = _layers(hidden)
    text = activations_text(layers, color, width)
    assert_fits(text, width)
    answer = "answer: 7  (activation 0.982, margin 0.941 over 1)"
    if width >= len(answer):
        assert lines_of(text)[-1] == answer
    else:  # folded, never cut: every number survives
        assert lines_of(text.split("\n\n")[-1]) == ["answer: 7", answer[11:]]
    summary = "input: 784 activations, mean 0.16, 141 above 0.5"
    assert summary in " ".join(lines_of(text.split("\n\n")[0]))
    if color:
        assert TRUECOLOR.search(text)
    else:
        assert_plain(text)
        winner = [x for x in lines_of(text) if x.startswith("digit 7")]
        assert winner and winner[0].endswith("<")
        assert sum(x.endswith("<") for x in lines_of(text)) == 1
    for k in range(1, len(hidden) + 1):
        assert f"hidden layer {k}: {hidden[k - 1]} neurons" in text


def test_hidden_layer_lists_every_neuron():
    a = np.linspace(0, 1, 16)
    text = hidden_layer_text(a, 1, False, 80)
    body = " ".join(lines_of(text)[1:])
    for i, v in enumerate(a):
        assert re.search(rf"(^|\s){i} {v:.3f}(\s|$)", body), i
    assert len(lines_of(text)) == 1 + 4  # 16 neurons in 4 columns at 80


def test_big_hidden_layer_is_compact():
    a = rng().random(256)
    a[200] = 0.9999
    text = hidden_layer_text(a, 2, False, 80)
    assert len(lines_of(text)) <= 8
    assert "most active: 200 1.000" in text


def test_outputs_text_winner_bold_in_colour():
    out = _layers()[-1]
    coloured = outputs_text(out, True)
    line7 = lines_of(coloured)[7]
    assert line7.startswith("\x1b[1m") and "digit 7" in line7
    assert not lines_of(coloured)[0].startswith("\x1b[1m")
    assert len(lines_of(outputs_text(out, False))) == 10


def test_answer_line_edge_cases():
    assert answer_line(np.array([0.2, np.nan, 0.7])) == "answer: 2  (activation 0.700, margin 0.500 over 0)"
    assert answer_line(np.array([0.3])) == "answer: 0  (activation 0.300)"
    with pytest.raises(ValueError):
        activations_text([np.zeros(784)], False)


def test_import_is_cheap():
    code = "import sys, digitnet.render; print('PIL' in sys.modules, 'click' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
