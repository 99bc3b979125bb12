"""`digitnet classify` end to end: CliRunner for most checks, the installed executable for
what only a real process shows (exit codes through main(), pipes, terminals, stdin).

The network is a small one trained here in a second (784-16-16-10, 2 epochs on bundled
MNIST test images); a few tests also use the shipped `--weights default` (`default_model`
in conftest.py).
"""

import csv
import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

import digitnet.cli.main as main_module
from digitnet import batch, normalise, weightfile
from digitnet.network import Network
from helpers import draw_seven, encode, on_tty, png_header, proc, run, to_image

ESC = "\x1b"
LINE = re.compile(r"^digitnet: (.+?): (.+)$")


# --------------------------------------------------------------------------------------
# helpers

def json_lines(text):
    """stdout of --json: every line one JSON object, nothing else."""
    return [json.loads(line) for line in text.splitlines()]


def error_lines(stderr):
    """stderr as one parsed `digitnet: FILE: reason` per line (asserts the form)."""
    lines = stderr.splitlines()
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), stderr
    assert "Traceback" not in stderr
    return [(m.group(1), m.group(2)) for m in parsed]


def save_raw(path, x28):
    """An MNIST digit (0..1 floats that are k/255) as its exact 28x28 8-bit PNG."""
    Image.fromarray(np.round(x28.reshape(28, 28) * 255).astype(np.uint8)).save(path)
    return path


# --------------------------------------------------------------------------------------
# fixtures

# `model` (a small trained network and its path) and `default_model` (the shipped one)
# are in conftest.py.


@pytest.fixture(scope="session")
def sure(model, mnist_test):
    """Index of an unseen MNIST digit the small model classifies right with a wide margin
    once drawn large, dark on light (so format and polarity changes cannot flip it)."""
    _, net = model
    x, y = mnist_test
    best, best_margin = None, 0.0
    for i in range(7000, 7100):
        out = net.feedforward(normalise.normalise(np.asarray(to_image(x[i]), np.float32) / 255))[-1]
        top = np.sort(out)
        if out.argmax() == y[i] and top[-1] - top[-2] > best_margin:
            best, best_margin = i, top[-1] - top[-2]
    assert best_margin > 0.3
    return best


@pytest.fixture
def digit_png(tmp_path, mnist_test, sure):
    """A sure digit, dark on light, as a PNG file; returns (path, label)."""
    x, y = mnist_test
    path = tmp_path / "digit.png"
    to_image(x[sure]).save(path)
    return path, int(y[sure])


# --------------------------------------------------------------------------------------
# formats, polarity, transparency, orientation

def _encode_all(x28):
    """The same digit in every format and mode Pillow reads; name -> (file name, bytes)."""
    dark = to_image(x28)
    light = to_image(x28, dark_ink=False)

    alpha = np.asarray(light)
    black_ink = np.zeros(alpha.shape + (4,), np.uint8)
    black_ink[..., 3] = alpha                        # black ink, transparent paper
    white_ink = black_ink.copy()
    white_ink[..., :3] = 255                         # white ink on a transparent canvas
    other = Image.new("L", dark.size, 255)
    ImageDraw.Draw(other).rectangle((40, 40, 120, 60), fill=0)  # a different second frame
    files = {
        "png": ("a.png", encode(dark, "PNG")),
        "png-light-on-dark": ("b.png", encode(light, "PNG")),
        "png-rgb": ("c.png", encode(dark.convert("RGB"), "PNG")),
        "png-1bit": ("d.png", encode(dark.convert("1"), "PNG")),
        "png-16bit": ("e.png", encode(Image.fromarray(np.asarray(dark).astype(np.uint16) * 257),
                                      "PNG")),
        "png-palette": ("f.png", encode(dark.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE),
                                        "PNG")),
        "png-rgba-black-ink": ("g.png", encode(Image.fromarray(black_ink, "RGBA"), "PNG")),
        "png-rgba-white-ink": ("h.png", encode(Image.fromarray(white_ink, "RGBA"), "PNG")),
        "jpeg": ("i.jpg", encode(dark.convert("RGB"), "JPEG", quality=90)),
        "jpeg-cmyk": ("j.jpg", encode(dark.convert("CMYK"), "JPEG", quality=95)),
        "gif-first-frame": ("k.gif", encode(dark, "GIF", save_all=True, append_images=[other])),
        "bmp": ("l.bmp", encode(dark, "BMP")),
        "tiff": ("m.tif", encode(dark, "TIFF")),
        "tiff-cmyk": ("n.tif", encode(dark.convert("CMYK"), "TIFF")),
        "webp": ("o.webp", encode(dark.convert("RGB"), "WEBP", lossless=True)),
        "webp-lossy": ("p.webp", encode(dark.convert("RGB"), "WEBP", quality=85)),
        "png-named-jpg": ("q.jpg", encode(dark, "PNG")),    # recognised by content, not name
        "bmp-no-extension": ("r", encode(dark, "BMP")),
    }
    return files


def test_every_format_and_mode_gives_the_same_input_and_digit(tmp_path, model, mnist_test, sure):
    x, y = mnist_test
    files = _encode_all(x[sure])
    names = {}
    for kind, (fname, data) in files.items():
        (tmp_path / fname).write_bytes(data)
        names[fname] = kind
    args = [tmp_path / f for f, _ in files.values()]
    r = run("classify", *args, "--weights", model[0], "--json")
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ""
    results = {names[Path(d["file"]).name]: d for d in json_lines(r.stdout)}
    assert set(results) == set(files)
    ref = np.array(results["png"]["layers"][0])
    assert results["png"]["digit"] == y[sure]
    for kind, d in results.items():
        assert d["digit"] == y[sure], kind
        diff = np.abs(np.array(d["layers"][0]) - ref).mean()
        # Lossless formats agree to rounding; lossy ones nearly; 1-bit is thresholded.
        lossy = kind in ("jpeg", "jpeg-cmyk", "webp-lossy")
        assert diff < (0.15 if kind == "png-1bit" else 0.05 if lossy else 0.01), (kind, diff)
        if kind in ("png-rgb", "png-16bit", "png-palette", "bmp", "tiff", "webp",
                    "gif-first-frame", "png-named-jpg", "bmp-no-extension", "tiff-cmyk"):
            assert diff < 1e-6, (kind, diff)


def test_both_polarities_give_the_same_digit(tmp_path, model, mnist_test):
    """Ten digits, each drawn dark on light and light on dark: same answers, same inputs."""
    x, _ = mnist_test
    for i in range(10):
        to_image(x[7200 + i]).save(tmp_path / f"{i}-dark.png")
        to_image(x[7200 + i], dark_ink=False).save(tmp_path / f"{i}-light.png")
    r = run("classify", tmp_path, "--weights", model[0], "--json")
    assert r.exit_code == 0, r.stderr
    by = {Path(d["file"]).name: d for d in json_lines(r.stdout)}
    for i in range(10):
        dark, light = by[f"{i}-dark.png"], by[f"{i}-light.png"]
        assert dark["digit"] == light["digit"]
        np.testing.assert_allclose(dark["layers"][0], light["layers"][0], atol=1e-5)


# How to store the upright picture so that the EXIF orientation tag turns it back:
# the inverse of the transpose Pillow's exif_transpose applies for each tag.
STORE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
         4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
         6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
         8: Image.Transpose.ROTATE_270}


def test_exif_orientation_is_honoured(tmp_path, model):
    upright = draw_seven()
    upright.save(tmp_path / "upright.png")
    args = [tmp_path / "upright.png"]
    for tag, how in STORE.items():
        stored = upright.transpose(how)
        exif = Image.Exif()
        exif[0x0112] = tag
        stored.save(tmp_path / f"tag{tag}.png", exif=exif)
        stored.save(tmp_path / f"untagged{tag}.png")
        args += [tmp_path / f"tag{tag}.png", tmp_path / f"untagged{tag}.png"]
    exif = Image.Exif()
    exif[0x0112] = 6
    upright.transpose(STORE[6]).convert("RGB").save(tmp_path / "tag6.jpg", quality=95, exif=exif)
    args.append(tmp_path / "tag6.jpg")
    r = run("classify", *args, "--weights", model[0], "--json")
    assert r.exit_code == 0, r.stderr
    by = {Path(d["file"]).name: np.array(d["layers"][0]) for d in json_lines(r.stdout)}
    ref = by["upright.png"]
    for tag in STORE:
        # The tag undoes the turn exactly: the network sees the very same input ...
        assert np.array_equal(by[f"tag{tag}.png"], ref), tag
        # ... which it would not without the tag.
        assert np.abs(by[f"untagged{tag}.png"] - ref).mean() > 0.05, tag
    assert np.abs(by["tag6.jpg"] - ref).mean() < 0.01


# --------------------------------------------------------------------------------------
# inputs: stdin, directories, --raw

def test_stdin_reads_one_image(digit_png, model):
    path, label = digit_png
    r = run("classify", "-", "--weights", model[0], "--json", input=path.read_bytes())
    assert r.exit_code == 0, r.stderr
    (d,) = json_lines(r.stdout)
    assert d["file"] == "-" and d["digit"] == label
    from_file = json_lines(run("classify", path, "--weights", model[0], "--json").stdout)[0]
    assert d["layers"] == from_file["layers"]
    # As a real process, with the image piped in:
    p = proc("classify", "-", "--weights", model[0], "-q", input=path.read_bytes())
    assert (p.returncode, p.stdout, p.stderr) == (0, f"{label}\n".encode(), b"")
    # Nothing on stdin is a failure of that input, not a crash; so is a second "-".
    p = proc("classify", "-", "--weights", model[0], input=b"")
    assert p.returncode == 1 and error_lines(p.stderr.decode()) == [("-", "empty file")]
    r = run("classify", "-", "-", "--weights", model[0], "-q", input=path.read_bytes())
    assert r.exit_code == 1 and r.stdout == f"-\t{label}\n"
    assert error_lines(r.stderr) == [("-", "standard input was already read (use - once)")]


def test_directory_is_its_image_files_sorted(tmp_path, model, mnist_test):
    x, _ = mnist_test
    folder = tmp_path / "scans"
    folder.mkdir()
    for name, i in (("b.png", 7300), ("a.png", 7301), ("C.PNG", 7302), ("d.jpg", 7303)):
        im = to_image(x[i])
        im.save(folder / name, format="PNG" if name.lower().endswith("png") else "JPEG")
    (folder / "notes.txt").write_text("not an image, and not named like one")
    (folder / ".hidden.png").write_bytes(b"skipped: hidden")
    (folder / "sub.png").mkdir()                      # a directory named like an image
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")  # junk named like one
    r = run("classify", folder, "--weights", model[0], "-q")
    assert r.exit_code == 1
    names = [line.split("\t")[0] for line in r.stdout.splitlines()]
    assert names == [os.path.join(str(folder), n) for n in ("C.PNG", "a.png", "b.png", "d.jpg")]
    assert all(re.fullmatch(r"[0-9]", line.split("\t")[1]) for line in r.stdout.splitlines())
    errors = error_lines(r.stderr)
    assert len(errors) == 1 and errors[0][0] == os.path.join(str(folder), "broken.png")

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("hello")
    r = run("classify", empty, folder / "a.png", "--weights", model[0], "-q")
    assert r.exit_code == 1
    assert r.stdout == f"{folder / 'a.png'}\t{r.stdout.split(chr(9))[1].strip()}\n"
    assert error_lines(r.stderr) == [(str(empty), "no image files in this directory")]


def test_raw_gives_exactly_the_networks_activations(tmp_path, model, mnist_test):
    _, net = model
    x, _ = mnist_test
    idx = list(range(7400, 7405))
    paths = [save_raw(tmp_path / f"{i}.png", x[i]) for i in idx]
    r = run("classify", *paths, "--raw", "--weights", model[0], "--json")
    assert r.exit_code == 0, r.stderr
    for d, i in zip(json_lines(r.stdout), idx):
        pixels = np.asarray(Image.open(tmp_path / f"{i}.png"), np.float32).ravel()
        # The pixels untouched (0..255 -> 0..1), the same numbers as MNIST's to float32
        # rounding (the bundled loader scales by *(1/255), image files by /255).
        assert d["layers"][0] == (pixels / np.float32(255)).tolist()
        np.testing.assert_allclose(d["layers"][0], x[i], rtol=1e-6, atol=0)
        # ... and then the network's activations on that array. (The five images go through
        # the network as one batch; a batched matrix product may round the last float32
        # bit differently from a single-row one.)
        want = net.feedforward(np.array(d["layers"][0], np.float32)[None])
        assert [len(a) for a in d["layers"]] == [784, 16, 16, 10]
        for got, w in zip(d["layers"], want):
            np.testing.assert_allclose(got, w[0], rtol=1e-5, atol=1e-7)
        assert d["outputs"] == d["layers"][-1]
        np.testing.assert_allclose(d["outputs"], net.feedforward(x[i])[-1], rtol=1e-5, atol=1e-6)
    # An off-centre digit: --raw takes its pixels as they are, without --raw it is re-centred.
    shifted = np.roll(x[idx[0]].reshape(28, 28), (4, -3), axis=(0, 1)).ravel()
    off = save_raw(tmp_path / "off.png", shifted)
    raw_doc = json_lines(run("classify", off, "--raw", "--weights", model[0], "--json").stdout)[0]
    norm_doc = json_lines(run("classify", off, "--weights", model[0], "--json").stdout)[0]
    np.testing.assert_allclose(raw_doc["layers"][0], shifted, rtol=1e-6)
    assert np.abs(np.array(norm_doc["layers"][0]) - shifted).max() > 0.5
    # --raw refuses anything that is not 28x28, naming the size.
    draw_seven().save(tmp_path / "big.png")
    r3 = run("classify", tmp_path / "big.png", "--raw", "--weights", model[0])
    assert r3.exit_code == 1 and r3.stdout == ""
    assert error_lines(r3.stderr) == [(str(tmp_path / "big.png"),
                                       "--raw needs a 28x28 image, this one is 120x160")]


# --------------------------------------------------------------------------------------
# bad inputs and exit codes

@pytest.fixture
def bad_files(tmp_path, digit_png):
    """name -> (path, fragment of the expected reason)."""
    good = digit_png[0].read_bytes()
    files = {
        "blank-white.png": (Image.new("L", (60, 60), 255), "no digit found"),
        "blank-black.png": (Image.new("L", (60, 60), 0), "no digit found"),
        "blank-grey.jpg": (Image.new("RGB", (60, 60), (128, 128, 128)), "no digit found"),
        "transparent.png": (Image.new("RGBA", (60, 60), (0, 0, 0, 0)), "no digit found"),
        "truncated.png": (good[: len(good) // 2], "cannot decode image"),
        "corrupt.png": (b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 50, "cannot decode image"),
        "bomb.png": (png_header(100_000, 100_000), "image too large: 100000x100000"),
        "huge.png": (png_header(40_000, 1_000), "image too large: 40000x1000"),
        "text.png": (b"hello, I am text\n", "not an image"),
        "empty.png": (b"", "empty file"),
        "missing.png": (None, "no such file"),
    }
    out = {}
    for name, (content, why) in files.items():
        path = tmp_path / name
        if isinstance(content, Image.Image):
            content.save(path)
        elif content is not None:
            path.write_bytes(content)
        out[name] = (path, why)
    return out


def test_each_bad_input_is_one_clean_line(bad_files, model):
    for name, (path, why) in bad_files.items():
        r = run("classify", path, "--weights", model[0])
        assert r.exit_code == 1, name
        assert r.stdout == "", name
        ((file, reason),) = error_lines(r.stderr)
        assert file == str(path) and why in reason, (name, reason)


def test_mixed_good_and_bad_as_a_real_process(bad_files, digit_png, model):
    """Exit 1; every good file still classified, in order; one stderr line per failure."""
    good, label = digit_png
    bad = [p for p, _ in bad_files.values()]
    args = [good, *bad[:5], good, *bad[5:], good]
    for fmt in ("--json", "-q", "--csv"):
        p = proc("classify", *args, "--weights", model[0], fmt)
        assert p.returncode == 1
        out, err = p.stdout.decode(), p.stderr.decode()
        assert [f for f, _ in error_lines(err)] == [str(b) for b in bad]
        if fmt == "--json":
            docs = json_lines(out)
            assert [d["file"] for d in docs] == [str(good)] * 3
            assert all(d["digit"] == label for d in docs)
        elif fmt == "-q":
            assert out == f"{good}\t{label}\n" * 3
        else:
            rows = list(csv.reader(io.StringIO(out)))
            assert rows[0][:4] == ["file", "digit", "activation", "margin"] and len(rows) == 4
            assert all(row[:2] == [str(good), str(label)] for row in rows[1:])


def test_error_line_stays_one_line_for_odd_file_names(tmp_path, model):
    name = str(tmp_path / "two\nlines.png")
    r = proc("classify", name, "--weights", model[0])
    assert r.returncode == 1
    assert r.stderr.decode() == f"digitnet: {tmp_path}/two\\nlines.png: no such file\n"


@pytest.mark.parametrize("args", [
    [],                                  # no FILE
    ["{png}", "--bogus"],                # unknown option
    ["{png}", "--json", "--csv"],        # two output formats
    ["{png}", "-q", "--json"],
    ["{png}", "--csv", "--quiet"],
])
def test_usage_errors_exit_2(args, digit_png, model):
    args = [a.replace("{png}", str(digit_png[0])) for a in args]
    r = run("classify", *args, "--weights", model[0])
    assert r.exit_code == 2, r.output
    assert r.stdout == ""
    assert "Traceback" not in r.stderr and "Error:" in r.stderr


def test_usage_error_as_a_real_process(digit_png, model):
    p = proc("classify", digit_png[0], "--json", "--csv", "--weights", model[0])
    assert p.returncode == 2 and p.stdout == b""
    err = p.stderr.decode()
    assert "--csv and --json cannot be used together" in err and "Traceback" not in err
    p = proc("classify")
    assert p.returncode == 2 and b"Missing argument" in p.stderr


def test_missing_weight_file_is_one_line(digit_png, tmp_path):
    p = proc("classify", digit_png[0], "--weights", tmp_path / "nope.npz")
    assert p.returncode == 1 and p.stdout == b""
    assert p.stderr.decode().count("\n") == 1 and "weight file not found" in p.stderr.decode()


# --------------------------------------------------------------------------------------
# output formats

def test_json_lines_are_complete_and_consistent(tmp_path, model, mnist_test):
    x, _ = mnist_test
    paths = []
    for i in range(7500, 7506):
        paths.append(tmp_path / f"{i}.png")
        to_image(x[i]).save(paths[-1])
    p = proc("classify", *paths, "--weights", model[0], "--json")
    assert p.returncode == 0 and p.stderr == b""
    docs = json_lines(p.stdout.decode())                # nothing but JSON on stdout
    assert [d["file"] for d in docs] == [str(q) for q in paths]
    for d in docs:
        assert len(d["outputs"]) == 10
        assert [len(a) for a in d["layers"]] == [784, 16, 16, 10]
        assert d["outputs"] == d["layers"][-1]
        assert d["digit"] == int(np.argmax(d["outputs"]))
        assert d["activation"] == max(d["outputs"])
        assert d["margin"] == pytest.approx(sorted(d["outputs"])[-1] - sorted(d["outputs"])[-2])
        assert all(0.0 <= v <= 1.0 for layer in d["layers"] for v in layer)


def test_quiet_and_csv(tmp_path, digit_png, model):
    path, label = digit_png
    r = run("classify", path, "--weights", model[0], "-q")
    assert (r.exit_code, r.stdout) == (0, f"{label}\n")       # one file: just the digit
    r = run("classify", path, path, "--weights", model[0], "--quiet")
    assert r.stdout == f"{path}\t{label}\n" * 2               # several: FILE<TAB>digit
    r = run("classify", path, "--weights", model[0], "--csv")
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == (["file", "digit", "activation", "margin"]
                       + [f"out{d}" for d in range(10)] + ["confident"])
    assert rows[1][:2] == [str(path), str(label)] and len(rows) == 2
    outs = [float(v) for v in rows[1][4:14]]
    assert float(rows[1][2]) == max(outs)
    assert rows[1][14] == ("yes" if float(rows[1][3]) >= 0.3 else "no")


def test_ties_go_to_the_lower_digit_in_every_format(tmp_path, digit_png):
    """All-zero weights and equal biases: ten equal outputs. Every format must agree with
    argmax (digit 0), and the runner-up margin is 0."""
    net = Network([np.zeros((10, 784), np.float32)], [np.zeros(10, np.float32)])
    weightfile.save(tmp_path / "flat.npz", net)
    w = tmp_path / "flat.npz"
    path = digit_png[0]
    d = json_lines(run("classify", path, "--weights", w, "--json").stdout)[0]
    assert d["outputs"] == [0.5] * 10 and d["digit"] == 0 and d["margin"] == 0.0
    assert run("classify", path, "--weights", w, "-q").stdout == "0\n"
    assert run("classify", path, "--weights", w, "--csv").stdout.splitlines()[1].split(",")[1] == "0"
    assert "answer: 0" in run("classify", path, "--weights", w).stdout


def test_text_report_for_a_person(digit_png, model):
    path, label = digit_png
    r = run("classify", path, "--weights", model[0])
    assert r.exit_code == 0
    out = r.stdout
    assert ESC not in out and out.isascii()          # not a terminal: plain text
    lines = out.splitlines()
    assert lines[0] == "input, as the network sees it (28x28):"
    picture = lines[1:29]
    assert all(len(line) == 56 for line in picture)   # 28 pixels, two characters each
    assert any(ch in "@%#" for line in picture for ch in line)
    for section in ("hidden layer 1: 16 neurons", "hidden layer 2: 16 neurons",
                    "output layer: 10 neurons", f"answer: {label}  (activation"):
        assert section in out
    assert all(f"digit {d}  " in out for d in range(10))
    assert "margin" in out
    assert max(len(line) for line in lines) <= 80
    # Several images: one report each, headed by the file name.
    r = run("classify", path, path, "--weights", model[0])
    assert r.stdout.count(f"== {path} ==") == 2 and r.stdout.startswith("== ")


def test_colour_only_on_a_terminal_and_never_with_no_color(digit_png, model, monkeypatch):
    path = digit_png[0]
    # Forced colour (as on a terminal): truecolour escapes and half blocks.
    monkeypatch.setattr(main_module, "use_color", lambda stream=None: True)
    r = run("classify", path, "--weights", model[0], env={"COLUMNS": "80"})
    assert "\x1b[38;2;" in r.stdout and "\u2580" in r.stdout
    monkeypatch.undo()
    # Pipes: no escapes in any format.
    for fmt in ([], ["--json"], ["-q"], ["--csv"]):
        p = proc("classify", path, "--weights", model[0], *fmt)
        assert p.returncode == 0 and b"\x1b" not in p.stdout + p.stderr
    # A real terminal: colour; with NO_COLOR, none.
    r = on_tty("classify", path, "--weights", model[0])
    assert r.returncode == 0 and "\x1b[38;2;" in r.stdout
    r = on_tty("classify", path, "--weights", model[0], env={"NO_COLOR": "1"})
    assert r.returncode == 0 and ESC not in r.stdout and "answer:" in r.stdout


# --------------------------------------------------------------------------------------
# accuracy: PNG files against raw arrays

def test_mnist_pngs_classify_nearly_as_well_as_raw_arrays(tmp_path, model, mnist_test):
    """300 unseen MNIST digits saved as 28x28 PNGs, white on black and inverted, classified
    (normalised, one call per folder): accuracy within 3 points of the raw arrays'."""
    _, net = model
    x, y = mnist_test
    idx = np.arange(7000, 7300)
    raw_acc = float((net.predict(x[idx]) == y[idx]).mean())
    assert raw_acc > 0.6
    for polarity in ("light", "dark"):
        folder = tmp_path / polarity
        folder.mkdir()
        for i in idx:
            pixels = np.round(x[i].reshape(28, 28) * 255).astype(np.uint8)
            Image.fromarray(pixels if polarity == "light" else 255 - pixels).save(folder / f"{i}.png")
        r = run("classify", folder, "--weights", model[0], "-q")
        assert r.exit_code == 0, r.stderr
        got = {Path(n).stem: int(d) for n, d in (line.split("\t") for line in r.stdout.splitlines())}
        assert len(got) == 300
        acc = np.mean([got[str(i)] == y[i] for i in idx])
        assert abs(acc - raw_acc) <= 0.03, (polarity, acc, raw_acc)


# --------------------------------------------------------------------------------------
# the shipped model

def test_default_model_classifies_mnist_pngs(tmp_path, default_model, mnist_test):
    x, y = mnist_test
    idx = range(9000, 9100)
    for i in idx:
        to_image(x[i], side=84, pad=30).save(tmp_path / f"{i}.png")
    r = run("classify", tmp_path, "-q")                  # --weights default is the default
    assert r.exit_code == 0, r.stderr
    got = [int(line.split("\t")[1]) for line in r.stdout.splitlines()]
    assert np.mean(np.array(got) == y[list(idx)]) >= 0.85
    # --json carries every layer of the shipped model, input to output.
    d = json_lines(run("classify", tmp_path / "9000.png", "--weights", "default", "--json").stdout)[0]
    assert [len(a) for a in d["layers"]] == default_model.sizes
    want = default_model.feedforward(batch.load_input(tmp_path / "9000.png")[None])[-1][0]
    assert d["outputs"] == want.tolist()


def test_default_model_raw_and_real_process(tmp_path, default_model, mnist_test):
    x, _ = mnist_test
    path = save_raw(tmp_path / "raw.png", x[9500])
    p = proc("classify", path, "--raw", "--weights", "default", "--json")
    assert p.returncode == 0
    (d,) = json_lines(p.stdout.decode())
    want = default_model.feedforward(np.array(d["layers"][0], np.float32)[None])[-1][0]
    assert d["outputs"] == want.tolist()
    np.testing.assert_allclose(d["outputs"], default_model.feedforward(x[9500])[-1],
                               rtol=1e-5, atol=1e-6)
