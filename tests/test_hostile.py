"""Hostile input, end to end: every command, every kind of file a user downloads or pipes in.

What must hold for each attack (issue 5):

- no traceback: the only thing on stderr is one ``digitnet: FILE: fault`` line per failure;
- the documented exit code: 1 for a bad file or failed input, 2 for a usage error;
- nothing half-written on stdout: empty when the command failed as a whole, complete lines
  (in input order) for the inputs that did work;
- nothing untrusted runs: pickles inside weight files are never unpickled, PostScript is
  never handed to Ghostscript.

The big matrix runs in-process through click's CliRunner with ``catch_exceptions=False``,
so any exception other than a clean exit fails the test loudly (and it is cheap). What only
a real process shows -- the exit code and the one line through ``main()``, non-UTF-8 file
names, stdin -- runs the installed ``digitnet`` executable. Interruptions (SIGINT/SIGKILL)
are in test_hostile_interrupt.py, property-based tests in test_hostile_fuzz.py.

The README's table of exit codes is :data:`EXIT_CODES` below: every row's message is
checked against a real run, and ``python tests/test_hostile.py`` prints the table as
markdown for the README.
"""

import base64
import gzip
import hashlib
import io
import json
import os
import pickle
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitnet import mnist, weightfile
from digitnet.network import Network
from helpers import (DIGITNET, FileServer, tcp_server, draw_seven, encode, idx_bytes, net_arrays, png_header, proc,
                     run, serving, write_idx, write_mnist_dir, write_npz)

# Forged zips name a member twice on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")
ROOT = os.name == "posix" and os.geteuid() == 0


# --------------------------------------------------------------------------------------
# helpers

def one_error(stderr, file, fault):
    """stderr is exactly one ``digitnet: FILE: fault`` line; ``fault`` is a regex."""
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", "backslashreplace")
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and stderr.endswith("\n"), stderr
    prefix = f"digitnet: {file}: "
    assert lines[0].startswith(prefix), (lines[0], prefix)
    assert re.search(fault, lines[0][len(prefix):]), (lines[0], fault)


def failed(r, file, fault, code=1):
    """A CliRunner result: exit code, nothing on stdout, one error line."""
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    assert r.stdout == "", r.stdout
    one_error(r.stderr, file, fault)


def usage_error(r, fragment):
    """Exit 2 with click's usage message (Usage/Try/Error lines), nothing on stdout."""
    out, err = (r.stdout, r.stderr) if hasattr(r, "exit_code") else (r.stdout.decode(), r.stderr.decode())
    code = r.exit_code if hasattr(r, "exit_code") else r.returncode
    assert code == 2 and out == "", (code, out, err)
    assert err.startswith("Usage: ") and "Traceback" not in err, err
    assert err.splitlines()[-1].startswith("Error: ") and fragment in err, err


# --------------------------------------------------------------------------------------
# fixtures

@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    """The path of a valid 784-16-16-10 weight file with random weights (these tests need no
    accuracy; conftest's `model` is a trained (path, network) pair)."""
    path = tmp_path_factory.mktemp("model") / "m.npz"
    weightfile.save(path, Network.random([784, 16, 16, 10], rng=1))
    return path


@pytest.fixture(scope="module")
def good(tmp_path_factory, random_weights):
    """(path, the digit random_weights says) of a plain PNG that classifies."""
    path = tmp_path_factory.mktemp("good") / "good.png"
    draw_seven((96, 96)).save(path)
    r = run("classify", path, "-w", random_weights, "-q")
    assert r.exit_code == 0
    return path, int(r.stdout)


# --------------------------------------------------------------------------------------
# images: (file name, content maker, expected fault regex or None = classified)

def _animated(fmt, **kw):
    frames = [draw_seven((64, 64), mode="RGB"), Image.new("RGB", (64, 64), "white")]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=50, **kw)


def _exif(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(draw_seven((64, 48), mode="RGB"), "JPEG", exif=exif)


def _sixteen_bit():
    a = np.asarray(draw_seven((64, 64)), dtype=np.uint16) * 257
    return encode(Image.fromarray(a), "PNG")


def _wide_ink():
    # A 20000x10 strip crossed by one long straight line: a scratch, not a digit.
    im = Image.new("L", (20000, 10), 255)
    ImageDraw.Draw(im).line((50, 1, 19950, 8), fill=0, width=3)
    return encode(im, "PNG")


def _wide_seven():
    # A 7 at the left of a 16000x400 strip: the strip is shrunk 12.5x, the 7 survives.
    im = Image.new("L", (16000, 400), 255)
    im.paste(draw_seven((300, 400)), (200, 0))
    return encode(im, "PNG")


def _gif_bomb():
    # A 40-byte GIF that claims 65535x65535 pixels (4.3 gigapixels).
    return (b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\x00\x00\x00"
            + b"\x2c" + struct.pack("<HHHH", 0, 0, 65535, 65535) + b"\x00\x02\x02\x44\x01\x00\x3b")


def _nan_tiff():
    a = np.asarray(draw_seven((64, 64)), np.float32) / 255
    return encode(Image.fromarray(np.where(a < 0.5, np.nan, a).astype(np.float32), "F"), "TIFF")


POSTSCRIPT = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\n(pwned) print showpage\n"

IMAGES = [
    ("empty.png", lambda: b"", r"^empty file$"),
    ("truncated.png", lambda: encode(draw_seven((64, 64)), "PNG")[:150], r"^cannot decode image: "),
    ("truncated.jpg", lambda: encode(draw_seven((64, 64)), "JPEG")[:400], r"^cannot decode image: "),
    ("random.png", lambda: random.Random(5).randbytes(4096),
     r"^not an image, or an image format this installation cannot read$"),
    ("notes.png", lambda: b"7\nremember to buy milk\n", r"^not an image: this looks like a text file$"),
    ("drawing.png", lambda: b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
                            b'width="28" height="28"><path d="M4 4h20L10 24"/></svg>\n',
     r"^SVG \(vector\) images are not supported"),
    ("paper.png", lambda: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n", r"^PDF documents are not supported"),
    ("phone.jpg", lambda: b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64, r"^HEIC/HEIF images are not supported"),
    ("postscript.png", lambda: POSTSCRIPT, r"^PostScript/EPS files are not supported \(decoding them would run Ghostscript\)"),
    ("bomb.png", lambda: png_header(100_000, 100_000), r"^image too large: 100000x100000 pixels"),
    ("bomb.gif", _gif_bomb, r"^image too large: 65535x65535 pixels"),
    ("strip.png", lambda: png_header(200_000, 1), r"^image too large: 200000x1 pixels \(limit 30,000 pixels per side\)$"),
    ("one-pixel.png", lambda: encode(Image.new("L", (1, 1), 0), "PNG"), r"^no digit found"),
    ("wide-ink.png", _wide_ink, r"^no digit found$"),
    ("blank.png", lambda: encode(Image.new("L", (60, 60), 255), "PNG"), r"^no digit found"),
    ("wide-blank.png", lambda: encode(Image.new("L", (20000, 10), 255), "PNG"), r"^no digit found"),
    ("transparent.png", lambda: encode(Image.new("RGBA", (40, 40), (0, 0, 0, 0)), "PNG"), r"^no digit found"),
    ("all-nan.tif", lambda: encode(Image.fromarray(np.full((28, 28), np.nan, np.float32), "F"), "TIFF"),
     r"^no digit found"),
    # Odd but valid: each must classify (exit 0, one complete output line).
    ("wide-seven.png", _wide_seven, None),
    ("sixteen-bit.png", _sixteen_bit, None),
    ("cmyk.jpg", lambda: encode(draw_seven((64, 64), mode="CMYK"), "JPEG"), None),
    ("cmyk.tif", lambda: encode(draw_seven((64, 64), mode="CMYK"), "TIFF"), None),
    ("palette.png", lambda: encode(draw_seven((64, 64), mode="P"), "PNG"), None),
    ("palette.gif", lambda: encode(draw_seven((64, 64), mode="P"), "GIF", transparency=255), None),
    ("animated.gif", lambda: _animated("GIF", loop=0), None),
    ("animated.webp", lambda: _animated("WEBP"), None),
    ("animated.png", lambda: _animated("PNG"), None),
    ("exif-rotated.jpg", lambda: _exif(6), None),
    ("exif-nonsense.jpg", lambda: _exif(99), None),
    ("nan-pixels.tif", _nan_tiff, None),
    ("jpeg-named.png", lambda: encode(draw_seven((64, 64)), "JPEG"), None),
]


@pytest.fixture(scope="module")
def image_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("images")
    files = {}
    for name, make, fault in IMAGES:
        (d / name).write_bytes(make())
        files[name] = (d / name, fault)
    return files


@pytest.mark.parametrize("name", [name for name, _, _ in IMAGES])
def test_classify_hostile_image(name, image_files, good, random_weights):
    """Between two good images: the good ones still come out, complete and in order."""
    path, fault = image_files[name]
    g, digit = good
    r = run("classify", g, path, g, "-w", random_weights, "-q")
    if fault is None:
        assert r.exit_code == 0 and r.stderr == "", r.stderr
        lines = r.stdout.splitlines()
        assert lines[0] == lines[2] == f"{g}\t{digit}" and re.fullmatch(rf"{re.escape(str(path))}\t\d", lines[1])
        return
    assert r.exit_code == 1
    assert r.stdout == f"{g}\t{digit}\n" * 2
    one_error(r.stderr, path, fault)
    # JSON Lines: only complete objects, one per good image.
    r = run("classify", g, path, "-w", random_weights, "--json")
    assert r.exit_code == 1 and [json.loads(line)["file"] for line in r.stdout.splitlines()] == [str(g)]


@pytest.mark.parametrize("name", [name for name, _, _ in IMAGES])
def test_inspect_layer_hostile_image(name, image_files, random_weights, tmp_path):
    """inspect-layer --image: all or nothing -- no JSON, no PNG when the image is bad."""
    path, fault = image_files[name]
    png = tmp_path / "contributions.png"
    r = run("inspect-layer", "1", "--image", path, "-w", random_weights, "--json", "--png", png)
    if fault is None:
        assert r.exit_code == 0
        assert json.loads(r.stdout)["image"]["file"] == str(path) and png.exists()
        return
    failed(r, path, fault)
    assert not png.exists() and os.listdir(tmp_path) == []


def test_postscript_never_runs_ghostscript(tmp_path, random_weights):
    """A .png holding PostScript: Pillow would run `gs` on it. A fake gs on PATH must not run."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "gs-ran"
    (bin_dir / "gs").write_text(f"#!/bin/sh\ntouch '{marker}'\nexit 1\n")
    (bin_dir / "gs").chmod(0o755)
    (tmp_path / "digit.png").write_bytes(POSTSCRIPT)
    # Also in DOS EPS binary form (a header pointing at the PostScript).
    dos = struct.pack("<4sIIIIIIH", b"\xc5\xd0\xd3\xc6", 30, len(POSTSCRIPT), 0, 0, 0, 0, 0xFFFF)
    (tmp_path / "digit.eps.jpg").write_bytes(dos + POSTSCRIPT)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    for name in ("digit.png", "digit.eps.jpg"):
        p = proc("classify", name, "-w", random_weights, cwd=tmp_path, env=env)
        assert p.returncode == 1 and p.stdout == b""
        one_error(p.stderr, name, r"^PostScript/EPS files are not supported")
        p = proc("inspect-layer", "1", "--image", name, "-w", random_weights, cwd=tmp_path, env=env)
        assert p.returncode == 1 and p.stdout == b""
    assert not marker.exists()
    # Control: Pillow on its own does run the fake gs on this file.
    subprocess.run([sys.executable, "-c", "from PIL import Image; Image.open('digit.png').load()"],
                   cwd=tmp_path, env={**os.environ, **env}, capture_output=True, timeout=60)
    assert marker.exists()


def test_directories(tmp_path, random_weights, good):
    """A directory of junk: one line per bad image file, other files ignored, exit 1."""
    g, digit = good
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.png").write_bytes(b"")
    (junk / "b.jpg").write_bytes(random.Random(1).randbytes(500))
    (junk / "c.png").write_bytes(g.read_bytes())
    (junk / "d.gif").mkdir()                       # a directory with an image extension
    (junk / "notes.txt").write_text("not an image")  # not an image extension: skipped
    (junk / ".hidden.png").write_bytes(b"junk")      # hidden: skipped
    os.symlink(tmp_path / "nowhere.png", junk / "e.png")   # dangling link: skipped
    os.symlink(junk / "f.png", junk / "f.png")              # a link to itself: skipped
    r = run("classify", junk, "-w", random_weights, "-q")
    assert r.exit_code == 1
    assert r.stdout == f"{junk / 'c.png'}\t{digit}\n"
    lines = r.stderr.splitlines()
    assert lines == [f"digitnet: {junk / 'a.png'}: empty file",
                     f"digitnet: {junk / 'b.jpg'}: not an image, or an image format this "
                     "installation cannot read"]
    empty = tmp_path / "empty"
    empty.mkdir()
    failed(run("classify", empty, "-w", random_weights, "--json"), empty, r"^no image files in this directory$")
    # A directory where inspect-layer wants one image.
    failed(run("inspect-layer", "1", "--image", junk, "-w", random_weights), junk,
           r"^is a directory, not an image file$")


def test_files_that_are_not_plain_images(tmp_path, random_weights):
    """Too big (sparse: no disk used), a link to itself, a device: refused without reading."""
    big = tmp_path / "huge.png"
    with open(big, "wb") as f:
        f.truncate(100 * 1024 * 1024)
    loop = tmp_path / "loop.png"
    os.symlink(loop, loop)
    for path, fault in [(big, r"^file too large: 100\.0 MiB \(limit 64 MiB\)$"),
                        (loop, r"^cannot read file: Too many levels of symbolic links$")]:
        failed(run("classify", path, "-w", random_weights), path, fault)
        failed(run("inspect-layer", "1", "--image", path, "-w", random_weights, "--json"), path, fault)
    if os.path.exists("/dev/zero"):            # endless: read up to the limit, then refused
        failed(run("classify", "/dev/zero", "-w", random_weights, "--json"), "/dev/zero",
               r"^not a regular file \(a pipe or a device\); use - to read standard input$")
    big_weights = tmp_path / "big.npz"
    with open(big_weights, "wb") as f:
        f.truncate(600 * 1024 * 1024)
    failed(run("evaluate", "-w", big_weights, "--json"), big_weights, r"^629,145,600 bytes is too large for a weight file \(limit 161,048,576\)$")


def test_many_hostile_files_through_the_worker_pool(tmp_path, image_files, good, random_weights):
    """From 200 files on, classify decodes in worker processes: same lines, same order."""
    g, digit = good
    folder = tmp_path / "many"
    folder.mkdir()
    bad = [p for p, fault in image_files.values() if fault and p.suffix in (".png", ".jpg", ".gif", ".tif")]
    for i in range(220):
        src = bad[i % len(bad)] if i % 3 == 0 else g
        (folder / f"{i:03d}{src.suffix}").write_bytes(src.read_bytes())
    serial = proc("classify", folder, "-w", random_weights, "-q", "-j", "1")
    pooled = proc("classify", folder, "-w", random_weights, "-q", "-j", "2")
    assert pooled.returncode == serial.returncode == 1
    assert pooled.stdout == serial.stdout and pooled.stderr == serial.stderr
    assert len(pooled.stderr.splitlines()) == 74 and b"Traceback" not in pooled.stderr
    assert len(pooled.stdout.splitlines()) == 146


@pytest.mark.skipif(ROOT or os.name != "posix", reason="root reads files whatever their permissions")
def test_unreadable_image(tmp_path, random_weights, good):
    path = tmp_path / "secret.png"
    path.write_bytes(good[0].read_bytes())
    path.chmod(0)
    failed(run("classify", path, "-w", random_weights), path, r"^permission denied$")
    failed(run("inspect-layer", "1", "--image", path, "-w", random_weights), path, r"^permission denied$")


def test_every_hostile_image_in_one_real_process(image_files, good, random_weights):
    """All of them in one run, each output format: exit 1, one stderr line per bad file in
    input order, and stdout holds complete results for exactly the good ones, in order."""
    g, digit = good
    paths = [g] + [p for p, _ in image_files.values()] + [g]
    bad = [p for p, fault in image_files.values() if fault]
    ok = [g] + [p for p, fault in image_files.values() if not fault] + [g]
    for fmt in ("-q", "--json", "--csv"):
        p = proc("classify", *paths, "-w", random_weights, fmt)
        assert p.returncode == 1
        err = p.stderr.decode()
        assert "Traceback" not in err
        assert [line.split(": ")[1] for line in err.splitlines()] == [str(b) for b in bad], err
        out = p.stdout.decode()
        assert out.endswith("\n")
        if fmt == "-q":
            assert [line.split("\t")[0] for line in out.splitlines()] == [str(o) for o in ok]
        elif fmt == "--json":
            assert [json.loads(line)["file"] for line in out.splitlines()] == [str(o) for o in ok]
        else:
            rows = out.splitlines()
            assert rows[0].startswith("file,digit,") and len(rows) == len(ok) + 1
            assert all(len(row.split(",")) == 15 for row in rows)


# --------------------------------------------------------------------------------------
# stdin and non-UTF-8 file names (real processes: only they show the bytes)

@pytest.mark.parametrize("data,fault", [
    (b"", r"^empty file$"),
    (b"\x00" * 3 + bytes(range(256)) * 4, r"^not an image, or an image format"),
    (b"hello\n", r"^not an image: this looks like a text file$"),
    (POSTSCRIPT, r"^PostScript/EPS files are not supported"),
    (png_header(100_000, 100_000), r"^image too large"),
])
def test_junk_on_stdin(data, fault, random_weights):
    for args in (["classify", "-"], ["classify", "-", "--json"], ["inspect-layer", "2", "--image", "-"]):
        p = proc(*args, "-w", random_weights, input=data)
        assert p.returncode == 1 and p.stdout == b"", (args, p.stdout)
        one_error(p.stderr, "-", fault)


def test_stdin_closed_or_read_twice(random_weights, good):
    g, digit = good
    p = subprocess.run(["sh", "-c", 'exec "$0" classify - -w "$1" <&-', DIGITNET, str(random_weights)],
                       capture_output=True, timeout=60)
    assert p.returncode == 1 and p.stdout == b""
    one_error(p.stderr, "-", r"^no standard input$")
    p = proc("classify", "-", "-", "-w", random_weights, "-q", input=g.read_bytes())
    assert p.returncode == 1 and p.stdout == f"-\t{digit}\n".encode()
    one_error(p.stderr, "-", r"standard input was already read")


def test_non_utf8_file_names(tmp_path, random_weights, good):
    g, digit = good
    d = os.fsencode(tmp_path)
    name = d + b"/\xff\xfe-digit.png"
    with open(name, "wb") as f:
        f.write(g.read_bytes())
    junk = d + b"/\xe9t\xe9.png"
    with open(junk, "wb") as f:
        f.write(b"not a picture\n")
    # -q carries the name back byte for byte; the junk one is named (escaped) on stderr.
    p = proc("classify", name, junk, name, "-w", random_weights, "-q")
    assert p.returncode == 1
    assert p.stdout == (name + f"\t{digit}\n".encode()) * 2
    err = p.stderr.decode("ascii")          # escaped: the line itself is plain ASCII
    assert err.count("\n") == 1 and err.startswith("digitnet: ") and "t\\udce9.png: not an image" in err
    # CSV keeps the bytes too; JSON stays valid JSON text for any parser: U+FFFD for each
    # undecodable byte in "file" (never a lone surrogate escape), the exact name in
    # "file_bytes".
    p = proc("classify", name, "-w", random_weights, "--csv")
    assert p.returncode == 0 and p.stdout.splitlines()[1].startswith(name + b",")
    p = proc("classify", name, junk, "-w", random_weights, "--json")
    assert p.returncode == 1 and b"\\ud" not in p.stdout
    line = json.loads(p.stdout.decode("utf-8", errors="strict"))
    assert line["digit"] == digit and line["file"].endswith("/\ufffd\ufffd-digit.png")
    assert base64.b64decode(line["file_bytes"]) == name
    p = proc("classify", g, "-w", random_weights, "--json")
    assert "file_bytes" not in json.loads(p.stdout)
    # So do inspect-layer's and evaluate's JSON, which name an image or a weight file.
    p = proc("inspect-layer", "1", "--image", name, "-w", random_weights, "--json")
    assert p.returncode == 0 and b"\\ud" not in p.stdout
    image = json.loads(p.stdout.decode("utf-8", errors="strict"))["image"]
    assert base64.b64decode(image["file_bytes"]) == name
    weights = d + b"/w\xe9.npz"
    shutil.copy(random_weights, os.fsdecode(weights))
    p = proc("inspect-layer", "-w", weights, "--json")
    assert p.returncode == 0 and b"\\ud" not in p.stdout
    assert base64.b64decode(json.loads(p.stdout.decode("utf-8"))["model_bytes"]) == weights
    # inspect-layer with a non-UTF-8 image and PNG name; the file name is in the picture's title.
    out_png = d + b"/\xfflayer.png"
    p = proc("inspect-layer", "1", "--image", name, "--png", out_png, "-w", random_weights)
    assert p.returncode == 0 and os.path.exists(out_png) and p.stdout == b""
    assert p.stderr.decode("ascii").count("\n") == 1 and b"layer.png" in p.stderr
    p = proc("inspect-layer", "1", "--image", name, "-w", random_weights)
    assert p.returncode == 0 and b"\xff\xfe-digit.png" in p.stdout
    # Every command names a non-UTF-8 path it cannot use, on one line.
    for args, fragment in [
        (["classify", d + b"/\xff-missing.png", "-w", random_weights], "-missing.png: no such file"),
        (["evaluate", "--weights", d + b"/\xffw.npz"], "w.npz: weight file not found"),
        (["evaluate", "--data", d + b"/\xffdata", "-w", random_weights], "data: data folder not found"),
        (["train", "--out", d + b"/\xffnowhere/m.npz"], "nowhere/m.npz: cannot write (folder"),
        (["inspect-layer", "1", "-w", random_weights, "--png", d + b"/\xffnowhere/x.png"], "x.png: cannot write (folder"),
    ]:
        p = proc(*args)
        assert p.returncode == 1 and p.stdout == b"", args
        err = p.stderr.decode("ascii")
        assert err.count("\n") == 1 and err.startswith("digitnet: ") and "\\udcff" in err, err
        assert fragment in err, err


# --------------------------------------------------------------------------------------
# weight files: (name, maker(directory, good net) -> path, file named in the error, fault)

class Explode:
    """Unpickling this creates the marker directory: proof that the pickle ran."""

    # One path for the whole module, baked into every pickle made here (at pickling time).
    marker = Path(tempfile.mkdtemp(prefix="digitnet-hostile-")) / "PICKLE-RAN"

    def __reduce__(self):
        return (os.mkdir, (str(Explode.marker),))


def _with(net, **changes):
    arrays = net_arrays(net)
    for k, v in changes.items():
        if v is None:
            del arrays[k]
        else:
            arrays[k] = v(arrays[k]) if callable(v) else v
    return arrays


def _set(value, index=(0, 0)):
    def change(a):
        a = a.copy()
        a[index] = value
        return a
    return change


def _patched_zip(d, net, offset_in_central, value, name):
    """A valid npz with one byte pair of the central directory patched (flags, method)."""
    path = d / name
    write_npz(path, **net_arrays(net))
    data = bytearray(path.read_bytes())
    for m in re.finditer(b"PK\x01\x02", data):
        struct.pack_into("<H", data, m.start() + offset_in_central, value)
    for m in re.finditer(b"PK\x03\x04", data):
        struct.pack_into("<H", data, m.start() + offset_in_central - 2, value)
    path.write_bytes(bytes(data))
    return path


def _bad_crc(d, net):
    path = d / "crc.npz"
    with zipfile.ZipFile(path, "w") as z:
        buf = io.BytesIO()
        np.save(buf, net.weights[0])
        z.writestr("W1.npy", buf.getvalue())
        for k, v in net_arrays(net).items():
            if k != "W1":
                buf = io.BytesIO()
                np.save(buf, v)
                z.writestr(k + ".npy", buf.getvalue())
    data = bytearray(path.read_bytes())
    data[200] ^= 0xFF          # inside W1's stored data
    path.write_bytes(bytes(data))
    return path


def _member(d, name, members):
    path = d / name
    with zipfile.ZipFile(path, "w") as z:
        for member, content in members:
            z.writestr(member, content)
    return path


def _npy_header(shape, descr="<f4", version=(1, 0)):
    buf = io.BytesIO()
    h = {"descr": descr, "fortran_order": False, "shape": shape}
    (np.lib.format.write_array_header_1_0 if version == (1, 0) else np.lib.format.write_array_header_2_0)(buf, h)
    return buf.getvalue()


def _card(d, net, name, edit=None, text=None):
    path = d / f"{name}.npz"
    weightfile.save(path, net)
    card = path.with_suffix(".json")
    if text is not None:
        card.write_bytes(text)
    else:
        doc = json.loads(card.read_text())
        edit(doc)
        card.write_text(json.dumps(doc))
    return path


def _card_dir(d, net):
    path = d / "carddir.npz"
    write_npz(path, **net_arrays(net))
    path.with_suffix(".json").mkdir()
    return path


def _other_weights(d, net):
    """The card of one model beside the npz of another (same sizes)."""
    path = d / "swapped.npz"
    weightfile.save(path, net)
    weightfile.save(d / "other.npz", Network.random([784, 16, 16, 10], rng=7))
    shutil.copy(d / "other.npz", path)
    return path


WEIGHTS = [
    ("pickled-object", lambda d, n: write_npz(d / "evil.npz", **_with(n, W1=np.array([Explode()], dtype=object))),
     "npz", r"^array W1 holds Python objects \(pickled data is never loaded\)$"),
    ("pickle-as-npy", lambda d, n: _member(d, "pkl.npz", [("W1.npy", pickle.dumps(Explode()))]),
     "npz", r"^array W1 is corrupt"),
    ("raw-pickle", lambda d, n: (d / "raw.npz").write_bytes(pickle.dumps(Explode())) and d / "raw.npz",
     "npz", r"^not a valid \.npz \(zip\) file -- truncated or corrupt\?$"),
    ("nan", lambda d, n: write_npz(d / "nan.npz", **_with(n, W2=_set(np.nan))), "npz", r"^W2 holds NaN or infinite values$"),
    ("inf", lambda d, n: write_npz(d / "inf.npz", **_with(n, b1=_set(-np.inf, 3))), "npz", r"^b1 holds NaN or infinite values$"),
    # Finite but huge: the weighted sums overflow float32 and every output becomes NaN.
    ("huge-finite", lambda d, n: write_npz(d / "overflow.npz", **_with(n, W1=lambda a: np.where(a > 0, 3e38, -3e38).astype(np.float32))),
     "npz", r"^W1 and b1 are so large that a weighted sum would overflow float32"),
    ("wrong-shape", lambda d, n: write_npz(d / "shape.npz", **_with(n, W1=lambda a: a[:, :700])),
     "npz", r"^W1 has shape \(16, 700\), expected \(n_out, 784\)$"),
    ("bias-shape", lambda d, n: write_npz(d / "bias.npz", **_with(n, b2=lambda a: a[:5])),
     "npz", r"^b2 has shape \(5,\), expected \(16,\) to match W2$"),
    ("nine-outputs", lambda d, n: write_npz(d / "nine.npz", **_with(n, W3=lambda a: a[:9], b3=lambda a: a[:9])),
     "npz", r"^last layer has 9 outputs, expected 10"),
    ("int-dtype", lambda d, n: write_npz(d / "int.npz", **_with(n, W1=lambda a: a.astype(np.int32))),
     "npz", r"^array W1 has dtype int32, expected float32 or float64$"),
    ("float16", lambda d, n: write_npz(d / "half.npz", **_with(n, b3=lambda a: a.astype(np.float16))),
     "npz", r"^array b3 has dtype float16"),
    ("complex", lambda d, n: write_npz(d / "complex.npz", **_with(n, W2=lambda a: a.astype(np.complex64))),
     "npz", r"^array W2 has dtype complex64"),
    ("mixed-dtypes", lambda d, n: write_npz(d / "mixed.npz", **_with(n, W1=lambda a: a.astype(np.float64))),
     "npz", r"^arrays mix float32 and float64"),
    ("renamed", lambda d, n: write_npz(d / "renamed.npz", **{("weights" if k == "W1" else k): v for k, v in net_arrays(n).items()}),
     "npz", r"^unexpected array 'weights'"),
    ("missing-bias", lambda d, n: write_npz(d / "nob3.npz", **_with(n, b3=None)), "npz", r"^array b3 is missing$"),
    ("missing-first", lambda d, n: write_npz(d / "now1.npz", **_with(n, W1=None)), "npz", r"^array W1 is missing$"),
    ("extra-array", lambda d, n: write_npz(d / "extra.npz", **_with(n, notes=np.zeros(3, np.float32))),
     "npz", r"^unexpected array 'notes'"),
    ("extra-layer", lambda d, n: write_npz(d / "w4.npz", **_with(n, W4=np.zeros((10, 10), np.float32))),
     "npz", r"^array b4 is missing$"),
    ("duplicate", lambda d, n: _member(d, "dup.npz", [("W1.npy", _npy_header((1,)) + b"\0" * 4)] * 2),
     "npz", r"^array W1 appears twice$"),
    ("empty-zip", lambda d, n: _member(d, "nothing.npz", []), "npz", r"^no arrays"),
    ("truncated-zip", lambda d, n: (d / "cut.npz").write_bytes(
        (write_npz(d / "full.npz", **net_arrays(n))).read_bytes()[:30000]) and d / "cut.npz",
     "npz", r"^not a valid \.npz \(zip\) file -- truncated or corrupt\?$"),
    ("random-bytes", lambda d, n: (d / "rand.npz").write_bytes(random.Random(3).randbytes(2000)) and d / "rand.npz",
     "npz", r"^not a valid \.npz \(zip\) file"),
    ("empty-file", lambda d, n: (d / "zero.npz").write_bytes(b"") or d / "zero.npz",
     "npz", r"^not a valid \.npz \(zip\) file"),
    ("huge-header", lambda d, n: _member(d, "huge.npz", [("W1.npy", _npy_header((10**6, 10**6)))]),
     "npz", r"^array W1 has shape \(1000000, 1000000\): more than 20,000,000 parameters"),
    ("npy-version-3", lambda d, n: _member(d, "v3.npz", [("W1.npy", b"\x93NUMPY\x03\x00" + b"\0" * 60)]),
     "npz", r"^array W1 is corrupt \(unsupported \.npy version"),
    ("encrypted-member", lambda d, n: _patched_zip(d, n, 8, 0x0001, "locked.npz"), "npz",
     r"^(encrypted zip members are not supported|not a plain \.npz: a zip member's local header does not match the central directory)$"),
    ("unknown-compression", lambda d, n: _patched_zip(d, n, 10, 99, "method.npz"), "npz", r"^array \w+ is corrupt"),
    ("bad-crc", _bad_crc, "npz", r"^array W1 is corrupt \(Bad CRC-32 for file 'W1\.npy'\)$"),
    ("is-a-directory", lambda d, n: (d / "dir.npz").mkdir() or d / "dir.npz", "npz", r"^not a file$"),
    ("fifo", lambda d, n: os.mkfifo(d / "pipe.npz") or d / "pipe.npz", "npz", r"^not a file$"),
    ("missing", lambda d, n: d / "nope.npz", "npz", r"^weight file not found"),
    ("card-hash", _other_weights, "json", r"^npz_sha256 does not match swapped\.npz"),
    ("card-layers", lambda d, n: _card(d, n, "layers", lambda c: c.update(layers=[784, 32, 10])),
     "json", r"^card says layers \[784, 32, 10\], the npz holds \[784, 16, 16, 10\]$"),
    ("card-activation", lambda d, n: _card(d, n, "relu", lambda c: c.update(activation="relu")),
     "json", r"^activation 'relu' is not supported"),
    ("card-not-json", lambda d, n: _card(d, n, "notjson", text=b"{'layers': oops"), "json", r"^unreadable model card"),
    ("card-not-utf8", lambda d, n: _card(d, n, "latin", text=b'{"name": "caf\xe9"}'), "json", r"^unreadable model card"),
    ("card-a-list", lambda d, n: _card(d, n, "list", text=b"[784, 16, 16, 10]"), "json", r"^model card must be a JSON object$"),
    ("card-deep", lambda d, n: _card(d, n, "deep", text=b"[" * 100_000 + b"]" * 100_000), "json", r"^unreadable model card"),
    ("card-huge", lambda d, n: _card(d, n, "big", text=b'{"x": "' + b"a" * (1 << 20) + b'"}'),
     "json", r"^model card larger than 1 MiB$"),
    ("card-a-directory", _card_dir, "json", r"^model card is not a regular file$"),
]


@pytest.fixture(scope="module")
def weight_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("weights")
    net = Network.random([784, 16, 16, 10], rng=2)
    files = {}
    for name, make, which, fault in WEIGHTS:
        path = make(d, net)
        files[name] = (path, path.with_suffix(".json") if which == "json" else path, fault)
    yield files
    assert not Explode.marker.exists(), "a pickle inside a weight file was executed"


@pytest.mark.parametrize("name", [name for name, _, _, _ in WEIGHTS])
def test_hostile_weight_file_in_every_command(name, weight_files, good, small_data, tmp_path):
    path, named, fault = weight_files[name]
    png = tmp_path / "layer.png"
    out = tmp_path / "student.npz"
    for args in (["classify", good[0], "--weights", path],
                 ["classify", good[0], "--weights", path, "--json"],
                 ["evaluate", "--weights", path, "--json"],
                 ["inspect-layer", "--weights", path, "--json"],
                 ["inspect-layer", "1", "--weights", path, "--png", png],
                 ["inspect-layer", "1", "--weights", path, "--image", good[0]],
                 ["train", "--data", small_data, "--teacher", path, "--out", out, "-q"]):
        failed(run(*args), named, fault)
    assert os.listdir(tmp_path) == []          # no PNG, no weight file, no temp file
    assert not Explode.marker.exists()


def test_the_pickle_payload_is_live(tmp_path, monkeypatch):
    """Control: the payload really runs when something does unpickle it (so that the
    marker checks above cannot pass for the wrong reason)."""
    monkeypatch.setattr(Explode, "marker", tmp_path / "RAN")
    np.savez(tmp_path / "evil.npz", W1=np.array([Explode()], dtype=object))
    with np.load(tmp_path / "evil.npz", allow_pickle=True) as z:
        z["W1"]
    assert (tmp_path / "RAN").is_dir()


def test_pickle_in_weights_never_runs_in_a_real_process(weight_files, good, tmp_path):
    path, _, fault = weight_files["pickled-object"]
    for args in (["classify", good[0]], ["evaluate", "--json"], ["inspect-layer", "1"]):
        p = proc(*args, "--weights", path)
        assert p.returncode == 1 and p.stdout == b""
        one_error(p.stderr, path, fault)
    p = proc("classify", good[0], "--weights", weight_files["pickle-as-npy"][0])
    assert p.returncode == 1 and p.stdout == b""
    assert not Explode.marker.exists()


def test_fifo_model_card_does_not_hang(tmp_path, good):
    """A FIFO named like the card would block a read forever: refused at once."""
    path = tmp_path / "fifo.npz"
    weightfile.save(path, Network.random([784, 16, 16, 10], rng=3))
    path.with_suffix(".json").unlink()
    os.mkfifo(path.with_suffix(".json"))
    p = proc("classify", good[0], "--weights", path, timeout=30)
    assert p.returncode == 1 and p.stdout == b""
    one_error(p.stderr, path.with_suffix(".json"), r"^model card is not a regular file$")


def test_odd_but_valid_weight_files_load(tmp_path, good):
    """Big-endian, Fortran-ordered and compressed arrays are still weights (no false alarm)."""
    net = Network.random([784, 16, 16, 10], rng=4)
    arrays = {k: np.asfortranarray(v.astype(">f4")) for k, v in net_arrays(net).items()}
    np.savez_compressed(tmp_path / "odd.npz", **arrays)
    r = run("classify", good[0], "--weights", tmp_path / "odd.npz", "-q")
    assert r.exit_code == 0 and r.stdout.strip().isdigit()
    loaded, card = weightfile.load(tmp_path / "odd.npz")
    assert card is None
    assert all(np.array_equal(a, b) for a, b in zip(loaded.weights, net.weights))


# --------------------------------------------------------------------------------------
# MNIST files

@pytest.fixture(scope="module")
def small_data(tmp_path_factory, mnist_test):
    """A tiny complete data folder: 200 training and 100 test images (gzipped IDX)."""
    return write_mnist_dir(tmp_path_factory.mktemp("data"), *mnist_test,
                           train=slice(0, 200), test=slice(200, 300))


def _gz_bomb_with_bad_magic():
    """A gzip of a bad header + 1 MiB, corrupted far past the header: the reader must
    judge the header before inflating the rest (the corruption would be found first)."""
    data = bytearray(gzip.compress(b"\x01\x02\x03\x04" + random.Random(0).randbytes(1 << 20), mtime=0))
    data[len(data) // 2] ^= 0xFF
    return bytes(data)


def _corrupt_deflate(raw):
    data = bytearray(gzip.compress(raw, mtime=0))
    for i in range(40, len(data) - 8, 97):
        data[i] ^= 0x5A
    return bytes(data)


# (name, which file, how to make its bytes from the good raw IDX, fault)
DATA = [
    ("bad-magic", "images", lambda raw: b"\x12\x34" + raw[2:], r"^not an IDX file \(bad magic number 0x12340803\)$"),
    ("gzip-bomb", "images", lambda raw: _gz_bomb_with_bad_magic(), r"^not an IDX file \(bad magic number 0x01020304\)$"),
    ("truncated", "images", lambda raw: raw[: len(raw) // 2], r"^truncated: header says \d+x28x28"),
    ("truncated-gzip", "images", lambda raw: gzip.compress(raw, mtime=0)[:500], r"^cannot read"),
    ("corrupt-deflate", "labels", _corrupt_deflate, r"^cannot read"),
    ("trailing-bytes", "labels", lambda raw: raw + b"extra", r"^5 unexpected bytes after the data$"),
    ("short-header", "images", lambda raw: raw[:7], r"^truncated IDX header$"),
    ("empty", "labels", lambda raw: b"", r"^not an IDX file \(only 0 bytes\)$"),
    ("value-type", "labels", lambda raw: raw[:2] + b"\x0d" + raw[3:], r"^unsupported IDX value type 0x0d"),
    ("labels-as-images", "images", lambda raw: idx_bytes(np.zeros(5)), r"^expected an IDX image file with 3 dimension"),
    ("huge-claim", "images", lambda raw: struct.pack(">HBBIII", 0, 8, 3, 4_000_000, 28, 28),
     r"^header claims 4000000x28x28 \(3,136,000,000 bytes of data\), too large \(at most 1,000,000 items\)$"),
    ("overflowing-dims", "images",
     lambda raw: struct.pack(">HBBIII", 0, 8, 3, 2**32 - 1, 2**32 - 1, 2**32 - 1),
     r"^header claims 4294967295x4294967295x4294967295 \(79,228,162,458,924,105,385,300,197,375 "
     r"bytes of data\), too large \(at most 1,000,000 items\)$"),
]
# Faults found only when the two files are compared (named: the labels file).
PAIRS = [
    ("count-mismatch", lambda n: (np.zeros((n, 28, 28)), np.zeros(n - 1)), r"^\d+ labels for \d+ images"),
    ("label-not-a-digit", lambda n: (np.zeros((n, 28, 28)), np.full(n, 12)), r"^label 12 is not a digit 0\.\.9$"),
    ("wrong-image-size", lambda n: (np.zeros((n, 20, 20)), np.zeros(n)), r"^images are 20x20, expected 28x28$"),
]


def _hostile_folder(base, dest, split, which, content=None, pair=None):
    shutil.copytree(base, dest)
    img_name, lbl_name = mnist.FILES[split]
    if pair is not None:
        imgs, lbls = pair
        write_idx(dest / img_name, imgs)
        write_idx(dest / lbl_name, lbls)
        return dest / lbl_name
    name = img_name if which == "images" else lbl_name
    raw = gzip.decompress((dest / name).read_bytes())
    (dest / name).unlink()
    bad = content(raw)
    # Stored under the gzipped name when it is gzip, else under the plain (un-gzipped) name.
    target = dest / (name if bad[:2] == b"\x1f\x8b" else name[:-3])
    target.write_bytes(bad)
    return target


def _untouched(old_model):
    out, npz, card = old_model
    assert out.read_bytes() == npz and out.with_suffix(".json").read_bytes() == card
    assert sorted(os.listdir(out.parent)) == ["model.json", "model.npz"]


@pytest.mark.parametrize("name,which,content,fault", DATA, ids=[d[0] for d in DATA])
@pytest.mark.parametrize("split", ["test", "train"])
def test_hostile_mnist_file(name, which, content, fault, split, small_data, tmp_path, random_weights, old_model):
    data = tmp_path / "data"
    bad = _hostile_folder(small_data, data, split, which, content=content)
    if split == "test":
        failed(run("evaluate", "--data", data, "--weights", random_weights, "--json"), bad, fault)
    out = old_model[0]
    failed(run("train", "--data", data, "--epochs", 1, "--validation", 50, "--out", out, "-q"), bad, fault)
    _untouched(old_model)


@pytest.mark.parametrize("name,make,fault", PAIRS, ids=[p[0] for p in PAIRS])
@pytest.mark.parametrize("split", ["test", "train"])
def test_mnist_files_that_disagree(name, make, fault, split, small_data, tmp_path, random_weights, old_model):
    data = tmp_path / "data"
    named = _hostile_folder(small_data, data, split, None, pair=make(50))
    if name == "wrong-image-size":
        named = named.with_name(mnist.FILES[split][0])   # the image file is the one at fault
    if split == "test":
        failed(run("evaluate", "--data", data, "--weights", random_weights, "--json"), named, fault)
    failed(run("train", "--data", data, "--validation", 10, "--out", old_model[0], "-q"), named, fault)
    _untouched(old_model)


def test_missing_and_misplaced_data(small_data, tmp_path, random_weights, old_model):
    out = old_model[0]
    nowhere = tmp_path / "nowhere"
    failed(run("evaluate", "--data", nowhere, "-w", random_weights, "--json"), nowhere, r"^data folder not found")
    empty = tmp_path / "empty"
    empty.mkdir()
    failed(run("train", "--data", empty, "--out", out), empty / mnist.FILES["train"][0],
           r"^file not found \(run `digitnet download` or pass --data DIR\)$")
    # The images "file" is a directory: not taken for data.
    shutil.copytree(small_data, tmp_path / "dirs")
    (tmp_path / "dirs" / mnist.FILES["test"][0]).unlink()
    (tmp_path / "dirs" / mnist.FILES["test"][0]).mkdir()
    failed(run("evaluate", "--data", tmp_path / "dirs", "-w", random_weights), tmp_path / "dirs" / mnist.FILES["test"][0],
           r"^file not found")
    # --data naming a file is a usage error.
    usage_error(run("evaluate", "--data", random_weights, "-w", random_weights), "is a file")
    usage_error(run("train", "--data", random_weights, "--out", out), "is a file")
    _untouched(old_model)


# --------------------------------------------------------------------------------------
# train: --out and other failures leave an existing model alone

def test_train_failures_leave_out_alone(small_data, tmp_path, old_model, random_weights):
    out = old_model[0]
    usage_error(run("train", "--data", small_data, "--out", out.parent), "is a directory")
    usage_error(run("train", "--data", small_data, "--epochs", 0, "--out", out), "--epochs")
    usage_error(run("train", "--data", small_data, "--layers", "16,x", "--out", out), "16,16")
    usage_error(run("train", "--data", small_data, "--validation", 500, "--out", out, "-q"),
                "cannot hold out 500 of 200 images")
    # Diverging runs: the loss becomes inf, or (few batches) the weights end finite but so
    # large that the model would be unusable. Either way: one line, nothing written.
    for batch in (16, 128):
        r = run("train", "--data", small_data, "--optimizer", "sgd", "--lr", "1e38", "--epochs", 2,
                "--batch-size", batch, "--teacher", "none", "--no-augment", "--validation", 20,
                "--out", out, "-q")
        assert r.exit_code == 1 and r.stdout == "" and "training diverged" in r.stderr, r.stderr
        assert len(r.stderr.splitlines()) == 1, r.stderr
    _untouched(old_model)


# --------------------------------------------------------------------------------------
# download: hostile and broken servers

class _Server(FileServer):
    """Serves the files, or misbehaves as ``mode`` says."""
    mode = "ok"

    def send_body(self, body):
        if self.mode == "short":        # hangs up half-way through the file
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
        elif self.mode == "chunked-garbage":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"zz\r\nnot a chunk\r\n")
        else:
            super().send_body(body)


@pytest.fixture
def server(monkeypatch):
    """A local server with fake MNIST files whose checksums are installed in-process."""
    files = {name: f"fake {name} ".encode() * 500 for name in mnist.SHA256}
    monkeypatch.setattr(mnist, "SHA256", {n: hashlib.sha256(b).hexdigest() for n, b in files.items()})
    with serving(_Server, files) as (url, handler):
        yield url, handler


def _not_http(conn):
    """Every answer is not HTTP at all (with a newline in it)."""
    conn.sendall(b"SSH-2.0-OpenSSH\r\nwho are you?\r\n\r\n")


def _download_failed(r, folder, fault):
    """Failed download: exit 1, progress lines allowed, the LAST line is the one error,
    no temporary file left, nothing on stdout."""
    assert r.exit_code == 1 and r.stdout == "", (r.exit_code, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert "Traceback" not in r.stderr
    assert all(not line.startswith("digitnet: ") for line in lines[:-1]), r.stderr
    one_error(lines[-1] + "\n", folder / next(n for n in mnist.SHA256 if not (folder / n).exists()), fault)
    # The folder download created is removed again if nothing landed in it.
    assert not folder.exists() or not [n for n in os.listdir(folder) if n.startswith(".")]
    assert folder.exists() == any((folder / n).exists() for n in mnist.SHA256)


@pytest.mark.parametrize("mode,fault", [
    ("404", r"^could not download \(http://127\.0\.0\.1:\d+/\S+: .*Not Found\)$"),
    ("wrong-bytes", r"^could not download \(\S+: checksum mismatch\)$"),
    ("short", r"^could not download \(\S+: checksum mismatch\)$"),
    ("chunked-garbage", r"^could not download \("),
])
def test_download_from_a_broken_server(mode, fault, server, tmp_path):
    url, handler = server
    if mode == "404":
        handler.files.pop("t10k-images-idx3-ubyte.gz")
    elif mode == "wrong-bytes":
        handler.files["t10k-images-idx3-ubyte.gz"] = b"<html>mirror moved</html>"
    else:
        handler.mode = mode
    folder = tmp_path / "mnist"
    _download_failed(run("download", "--data", folder, env={"DIGITNET_MIRRORS": url}), folder, fault)
    assert not (folder / "t10k-images-idx3-ubyte.gz").exists()


def test_download_from_a_server_that_does_not_speak_http(tmp_path):
    with tcp_server(_not_http) as url:
        p = proc("download", "--data", tmp_path, env={"DIGITNET_MIRRORS": url})
    assert p.returncode == 1 and p.stdout == b""
    one_error(p.stderr, tmp_path / "t10k-images-idx3-ubyte.gz",
              r"^could not download \(\S+: .*SSH-2\.0-OpenSSH.*\)$")
    assert os.listdir(tmp_path) == []


def test_download_keeps_good_files_and_replaces_bad_ones(server, tmp_path):
    url, handler = server
    folder = tmp_path / "mnist"
    folder.mkdir()
    names = list(mnist.SHA256)
    good_one, bad_one = folder / names[1], folder / names[0]
    good_one.write_bytes(handler.files[names[1]])
    bad_one.write_bytes(b"half a file")
    before = os.stat(good_one)
    r = run("download", "--data", folder, env={"DIGITNET_MIRRORS": url})
    assert r.exit_code == 0 and r.stdout == f"{folder}\n"
    assert names[1] not in handler.requests              # present and intact: not fetched
    after = os.stat(good_one)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert bad_one.read_bytes() == handler.files[names[0]]
    assert sorted(os.listdir(folder)) == sorted(names)
    # Again: nothing fetched at all.
    handler.requests.clear()
    assert run("download", "--data", folder, env={"DIGITNET_MIRRORS": url}).exit_code == 0
    assert handler.requests == []


def test_download_into_a_folder_that_cannot_be(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run("download", "--data", blocker / "mnist")
    failed(r, blocker / "mnist", r"^cannot create data folder")
    usage_error(run("download", "--data", blocker), "is a file")


# --------------------------------------------------------------------------------------
# the README's table of exit codes: every example message is what a real run prints

# (exit code, when, command, stderr's last line). Commands run in a folder prepared by
# _table_folder; "m.npz" is a good weight file there.
EXIT_CODES = [
    (0, "success: every image classified, the model trained, the files downloaded", None, None),
    (1, "an input image cannot be read (classify, inspect-layer --image); classify goes on "
        "with the others",
     ["classify", "scan.png", "-w", "m.npz"], "digitnet: scan.png: not an image: this looks like a text file"),
    (1, "an input image has no digit in it", ["classify", "blank.png", "-w", "m.npz"],
     "digitnet: blank.png: no digit found"),
    (1, "an image's header claims too many pixels (decompression bomb)",
     ["classify", "bomb.png", "-w", "m.npz"],
     "digitnet: bomb.png: image too large: 100000x100000 pixels = 10000.0 MP (limit 50 MP); "
     "scale it down"),
    (1, "a PostScript file posing as an image (never handed to Ghostscript)",
     ["inspect-layer", "1", "--image", "digit.png", "-w", "m.npz"],
     "digitnet: digit.png: PostScript/EPS files are not supported (decoding them would run "
     "Ghostscript); export it as PNG first"),
    (1, "an input file does not exist", ["classify", "missing.png", "-w", "m.npz"],
     "digitnet: missing.png: no such file"),
    (1, "nothing on standard input", ["classify", "-", "-w", "m.npz"], "digitnet: -: empty file"),
    (1, "the weight file does not exist", ["evaluate", "--weights", "mine.npz"],
     "digitnet: mine.npz: weight file not found (shipped models: default, wide)"),
    (1, "the weight file holds pickled Python objects (never unpickled)",
     ["classify", "scan.png", "--weights", "evil.npz"],
     "digitnet: evil.npz: array W1 holds Python objects (pickled data is never loaded)"),
    (1, "the weight file is truncated or not an npz", ["inspect-layer", "--weights", "cut.npz"],
     "digitnet: cut.npz: not a valid .npz (zip) file -- truncated or corrupt?"),
    (1, "the weights hold NaN or infinite values", ["evaluate", "--weights", "nan.npz", "--json"],
     "digitnet: nan.npz: W2 holds NaN or infinite values"),
    (1, "an array has the wrong shape, dtype or name", ["evaluate", "--weights", "shape.npz"],
     "digitnet: shape.npz: W1 has shape (16, 700), expected (n_out, 784)"),
    (1, "the model card does not belong to the npz beside it (hash or sizes)",
     ["classify", "scan.png", "--weights", "changed.npz"],
     "digitnet: changed.json: npz_sha256 does not match changed.npz (the weights were changed "
     "or the files do not belong together)"),
    (1, "an MNIST file is not IDX (wrong magic number)", ["evaluate", "--data", "magic", "-w", "m.npz"],
     "digitnet: magic/t10k-images-idx3-ubyte: not an IDX file (bad magic number 0x12340803)"),
    (1, "an MNIST file is truncated", ["train", "--data", "cut", "--out", "new.npz"],
     "digitnet: cut/train-images-idx3-ubyte: truncated: header says 200x28x28 (156800 bytes), "
     "file holds 78392"),
    (1, "label and image counts disagree", ["evaluate", "--data", "counts", "-w", "m.npz"],
     "digitnet: counts/t10k-labels-idx1-ubyte.gz: 49 labels for 50 images in "
     "t10k-images-idx3-ubyte.gz"),
    (1, "the MNIST files are not there", ["train", "--data", "empty", "--out", "new.npz"],
     "digitnet: empty/train-images-idx3-ubyte.gz: file not found (run `digitnet download` or "
     "pass --data DIR)"),
    (1, "the output's folder does not exist (train --out, inspect-layer --png)",
     ["train", "--out", "/nonexistent/model.npz"],
     "digitnet: /nonexistent/model.npz: cannot write (folder /nonexistent does not exist)"),
    (1, "training diverged (nothing is written)",
     ["train", "--data", "small", "--optimizer", "sgd", "--lr", "1e38", "--batch-size", "16",
      "--teacher", "none", "--no-augment", "--validation", "20", "--out", "new.npz", "-q"],
     "digitnet: the loss became nan in epoch 1: training diverged; try a lower learning rate "
     "than --lr 1e+38"),
    (1, "a download failed on every mirror (connection, HTTP error or checksum mismatch); "
        "nothing is left under the file's name",
     ["download", "--data", "fresh"],
     "digitnet: fresh/t10k-images-idx3-ubyte.gz: could not download "
     "(http://127.0.0.1:9/t10k-images-idx3-ubyte.gz: [Errno 111] Connection refused)"),
    (2, "usage error: unknown option, bad value, conflicting flags (click prints the usage "
        "above this line)",
     ["classify", "scan.png", "--json", "--csv"],
     "Error: --csv and --json cannot be used together: choose one output format"),
    (2, "usage error: a number out of range", ["inspect-layer", "4", "-w", "m.npz"],
     "Error: Invalid value for LAYER: this model has layers 1..3"),
    (130, "interrupted (Ctrl-C); train keeps the best model so far if an epoch finished, "
          "else writes nothing", ["train", "--data", "small", "--layers", "2000,2000",
                                  "--teacher", "none", "--validation", "20", "--out", "m.npz"],
     "digitnet: interrupted before the first epoch finished; nothing written to m.npz"),
    (130, "interrupted (Ctrl-C) in any other command; `train` treats SIGTERM the same way",
     ["classify", "-", "-w", "m.npz"], "digitnet: interrupted"),
    (141, "the reader of stdout went away (e.g. the output was piped into `head -1`): "
          "stop quietly, as other Unix tools do", [], ""),
]


def _table_folder(d, mnist_test):
    """Every file the table's commands name, in folder d."""
    net = Network.random([784, 16, 16, 10], rng=6)
    weightfile.save(d / "m.npz", net)
    (d / "scan.png").write_text("a scan, honest\n")
    Image.new("L", (60, 60), 255).save(d / "blank.png")
    (d / "bomb.png").write_bytes(png_header(100_000, 100_000))
    (d / "digit.png").write_bytes(POSTSCRIPT)
    np.savez(d / "evil.npz", **_with(net, W1=np.array([Explode()], dtype=object)))
    (d / "cut.npz").write_bytes((d / "m.npz").read_bytes()[:5000])
    np.savez(d / "nan.npz", **_with(net, W2=_set(np.nan)))
    np.savez(d / "shape.npz", **_with(net, W1=lambda a: a[:, :700]))
    weightfile.save(d / "changed.npz", net)
    np.savez(d / "changed.npz", **_with(net, b1=_set(1.0, 0)))
    x, y = mnist_test
    write_mnist_dir(d / "small", x, y, train=slice(0, 200), test=slice(200, 250))
    imgs = np.round(x[:50] * 255).astype(np.uint8).reshape(-1, 28, 28)
    _hostile_folder(d / "small", d / "magic", "test", "images", lambda raw: b"\x12\x34" + raw[2:])
    _hostile_folder(d / "small", d / "cut", "train", "images", lambda raw: raw[: len(raw) // 2])
    _hostile_folder(d / "small", d / "counts", "test", None, pair=(imgs[:50], y[:49]))
    (d / "empty").mkdir()


@pytest.fixture(scope="module")
def table_folder(tmp_path_factory, mnist_test):
    d = tmp_path_factory.mktemp("table")
    _table_folder(d, mnist_test)
    return d


@pytest.mark.parametrize("row", [r for r in EXIT_CODES if r[2]], ids=lambda r: " ".join(r[2][:2]))
def test_exit_code_table(row, table_folder):
    code, _when, args, message = row
    env = {"DIGITNET_MIRRORS": "http://127.0.0.1:9/"}   # the discard port: refused
    if code == 130 and args[0] == "train":
        p = subprocess.Popen([DIGITNET, *args], cwd=table_folder, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        first = p.stderr.readline()  # "training ...": the first epoch (seconds long) begins
        time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        err = first + err
        returncode = p.returncode
    elif code == 130:                # waiting for an image on stdin that never ends
        p = subprocess.Popen([DIGITNET, *args], cwd=table_folder, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.PIPE)
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        returncode = p.returncode
        assert err.count(b"\n") == 1
    else:
        r = proc(*args, cwd=table_folder, env=env, input=b"" if "-" in args else None)
        out, err, returncode = r.stdout, r.stderr, r.returncode
    err = err.decode()
    assert returncode == code and out == b"", (returncode, out, err)
    assert "Traceback" not in err
    if code == 2:
        assert err.startswith("Usage: ")
    elif code == 1:
        assert err.count("\n") == 1, err
    assert err.splitlines()[-1] == message, err
    assert not Explode.marker.exists()
    assert not (table_folder / "new.npz").exists()


def exit_code_table():
    """The README's table, as markdown."""
    lines = ["| exit code | when | example message (stderr) |", "| --- | --- | --- |"]
    for code, when, _args, message in EXIT_CODES:
        # A message holding a backtick needs a double-backtick code span.
        msg = ("(none)" if not message else f"`` {message} ``" if "`" in message else f"`{message}`")
        lines.append(f"| {code} | {when} | {msg.replace('|', chr(92) + '|')} |")
    return "\n".join(lines) + "\n"


def test_readme_table_matches_the_code():
    """README.md holds exactly the table generated from EXIT_CODES."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert exit_code_table() in text, "README's exit-code table differs: run python tests/test_hostile.py"


if __name__ == "__main__":
    sys.stdout.write(exit_code_table())
