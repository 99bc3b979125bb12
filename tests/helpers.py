"""Helpers shared by the test modules (importable as ``helpers``: pyproject puts tests/ on
pytest's ``pythonpath``; fixtures stay in conftest.py)."""

import contextlib
import gzip
import http.server
import io
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from digitnet import mnist
from digitnet.cli.main import cli

# The installed executable, next to the interpreter running the tests.
DIGITNET = shutil.which("digitnet", path=str(Path(sys.executable).parent)) or shutil.which("digitnet")


def run(*args, input=None, env=None):
    """A command in-process through CliRunner: stdout and stderr kept apart, any stray
    exception propagates, and color=True keeps click from stripping escape codes (so the
    tests see exactly what the command writes)."""
    try:
        runner = CliRunner(mix_stderr=False)   # click 8.1
    except TypeError:
        runner = CliRunner()                   # click >= 8.2 always keeps stderr apart
    return runner.invoke(cli, [str(a) for a in args], input=input, env=env, color=True,
                         catch_exceptions=False)


# --------------------------------------------------------------------------------------
# the installed executable as a real process

def _env(extra=None):
    """The tests' environment without NO_COLOR (so that colour is the program's own
    decision, whatever the developer's shell says), plus ``extra``."""
    return {**{k: v for k, v in os.environ.items() if k != "NO_COLOR"}, **(extra or {})}


def _argv(args):
    """The command line: str() of each argument, bytes kept as they are (non-UTF-8 names)."""
    return [DIGITNET, *(a if isinstance(a, bytes) else str(a) for a in args)]


def proc(*args, input=None, cwd=None, env=None, timeout=120):
    """The installed executable as a real process, stdout and stderr pipes (not terminals);
    stdin is ``input`` when given, else /dev/null. ``args`` may be bytes (non-UTF-8 names);
    the timeout only catches a hang."""
    return subprocess.run(_argv(args), input=input, capture_output=True, cwd=cwd, env=_env(env),
                          timeout=timeout,
                          stdin=None if input is not None else subprocess.DEVNULL)


def on_tty(*args, env=None, stdin=False, timeout=60):
    """The installed executable with a pseudo-terminal as its stdout (stdin /dev/null), or
    with ``stdin=True`` as its stdin (stdout a pipe). COLUMNS=80 unless ``env`` says
    otherwise. Returns a CompletedProcess with stdout and stderr as text (what went to the
    terminal keeps the terminal's line ends, ``\\r\\n``)."""
    pty = pytest.importorskip("pty")
    argv = _argv(args)
    full_env = _env({"COLUMNS": "80", **(env or {})})
    master, slave = pty.openpty()
    if stdin:
        try:
            return subprocess.run(argv, stdin=slave, capture_output=True, text=True, env=full_env,
                                  timeout=timeout)
        finally:
            os.close(master)
            os.close(slave)
    p = subprocess.Popen(argv, stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         env=full_env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    _, err = p.communicate(timeout=timeout)
    return subprocess.CompletedProcess(argv, p.returncode, b"".join(chunks).decode(), err.decode())


class FileServer(http.server.BaseHTTPRequestHandler):
    """Serves ``files`` (name -> bytes) by the last part of the URL path, 404 otherwise,
    recording each requested name in ``requests``. Subclasses change :meth:`send_body`."""

    files = {}
    requests = None

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        if self.requests is not None:
            self.requests.append(name)
        body = self.files.get(name)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_body(body)

    def send_body(self, body):
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serving(handler, files, **attributes):
    """A local HTTP server for a :class:`FileServer` subclass on 127.0.0.1, in a thread.

    Yields ``(base_url, handler_class)``; the class holds ``files`` and ``requests``.
    """
    cls = type("Handler", (handler,), {"files": files, "requests": [], **attributes})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), cls)
    httpd.daemon_threads = True
    httpd.handle_error = lambda *a: None      # a client killed mid-transfer is expected
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", cls
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextlib.contextmanager
def tcp_server(answer):
    """A TCP server on 127.0.0.1, in a thread, that reads each connection's request and
    calls ``answer(conn)`` to reply (anything but HTTP, or HTTP a byte at a time).
    Yields the base URL ``http://127.0.0.1:PORT/``."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)

    def serve():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                try:
                    answer(conn)
                except OSError:       # the client hung up: fine
                    pass

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    finally:
        sock.close()


@st.composite
def mutated(draw, seeds, header=64):
    """A seed with up to four flips, cuts, insertions or overwrites (half of them in the
    first ``header`` or last 64 bytes, where sizes, offsets and directories live)."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "overwrite-head", "overwrite-tail"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[pos] ^= draw(st.integers(1, 255))
        elif kind == "truncate":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif data:
            span = min(header, len(data)) if kind == "overwrite-head" else min(64, len(data))
            at = draw(st.integers(0, span - 1))
            if kind == "overwrite-tail":
                at = len(data) - 1 - at
            chunk = draw(st.binary(min_size=1, max_size=4))
            data[at:at + len(chunk)] = chunk
    return bytes(data)


# --------------------------------------------------------------------------------------
# images

def encode(im, fmt, **kw):
    """A Pillow image as the bytes of a ``fmt`` file (keyword arguments go to ``save``)."""
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def draw_seven(size=(120, 160), box=None, width=None, mode="L"):
    """A dark '7' on white paper, drawn with a thick pen: asymmetric, so any flip or turn
    of it looks different. ``box`` (x0, y0, x1, y1) holds the 7, by default the middle of
    the canvas (1/6..5/6 across, 1/8..7/8 down); the pen is 1/10 of the shorter side
    unless ``width`` says otherwise. Drawn in grayscale, then converted to ``mode``."""
    w, h = size
    x0, y0, x1, y1 = box if box is not None else (w // 6, h // 8, 5 * w // 6, 7 * h // 8)
    im = Image.new("L", size, 255)
    ImageDraw.Draw(im).line([(x0, y0), (x1, y0), (x0 + (x1 - x0) * 0.3, y1)], fill=0,
                            width=width if width is not None else max(2, min(size) // 10),
                            joint="curve")
    return im if mode == "L" else im.convert(mode)


def to_image(x28, side=112, pad=24, dark_ink=True):
    """An MNIST digit as a bigger picture: upscaled, padded, dark ink on white by default."""
    im = Image.fromarray(np.round(x28.reshape(28, 28) * 255).astype(np.uint8))
    im = im.resize((side, side), Image.Resampling.BICUBIC)
    canvas = Image.new("L", (side + 2 * pad, side + 2 * pad), 0)
    canvas.paste(im, (pad, pad))
    return Image.eval(canvas, lambda v: 255 - v) if dark_ink else canvas


def png_chunk(kind, data):
    """One PNG chunk: length, type, data, CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header(width, height, data_bytes=4096):
    """A tiny 8-bit grayscale PNG that claims width x height pixels (a decompression bomb's
    header) over ``data_bytes`` zero bytes of compressed image data."""
    return (b"\x89PNG\r\n\x1a\n"
            + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(b"\0" * data_bytes)) + png_chunk(b"IEND", b""))


# --------------------------------------------------------------------------------------
# weight files and MNIST files

def net_arrays(net):
    """A network's arrays under the weight file's names: W1, b1, W2, b2, ..."""
    arrays = {}
    for l, (w, b) in enumerate(zip(net.weights, net.biases), start=1):
        arrays[f"W{l}"], arrays[f"b{l}"] = w, b
    return arrays


def write_npz(path, compressed=False, **arrays):
    """``arrays`` written with NumPy's own np.savez (or savez_compressed) to ``path`` (a
    path or a binary file object), no model card; returns ``path``."""
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path


def npz_bytes(net, compressed=False):
    """The bytes of a card-less npz of ``net``'s arrays, as NumPy writes it."""
    return write_npz(io.BytesIO(), compressed, **net_arrays(net)).getvalue()


def idx_bytes(array):
    """A uint8 array as the bytes of an IDX file (the MNIST format), not gzipped."""
    array = np.asarray(array, dtype=np.uint8)
    return (struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
            + array.tobytes())


def write_idx(path, array, gz=True):
    """Write a uint8 array as an IDX file, gzipped (reproducibly: mtime 0) by default;
    returns ``path``."""
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def write_mnist_dir(folder, x, y, train, test):
    """A complete MNIST data folder (the four gzipped IDX files under their usual names):
    images ``x[train]`` and labels ``y[train]`` as the training set, ``x[test]`` and
    ``y[test]`` as the test set. ``x`` holds rows of 784 floats in 0..1 (as the bundled test
    set loads), written back as the 8-bit pixels they came from. Returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in (("train", train), ("test", test)):
        images, labels = mnist.FILES[split]
        write_idx(folder / images, np.round(x[rows] * 255).astype(np.uint8).reshape(-1, 28, 28))
        write_idx(folder / labels, y[rows])
    return folder


# --------------------------------------------------------------------------------------
# terminal output

def decode_halfblocks(line):
    """Replay one line of truecolour half-block output: the (top, bottom) colour of each
    column, None = terminal default; a column holding other text gives ("text", char)."""
    fg = bg = None
    cells = []
    for m in re.finditer(r"\x1b\[([0-9;]*)m|(.)", line):
        if m.group(1) is not None:
            p = [int(v) for v in m.group(1).split(";") if v] or [0]
            i = 0
            while i < len(p):
                if p[i] == 0:
                    fg = bg = None
                elif p[i] == 39:
                    fg = None
                elif p[i] == 49:
                    bg = None
                elif p[i] in (38, 48):
                    assert p[i + 1] == 2, "truecolour escapes only"
                    if p[i] == 38:
                        fg = tuple(p[i + 2:i + 5])
                    else:
                        bg = tuple(p[i + 2:i + 5])
                    i += 4
                i += 1
            continue
        ch = m.group(2)
        cells.append({"\u2580": (fg, bg), "\u2584": (bg, fg), "\u2588": (fg, fg),
                      " ": (bg, bg)}.get(ch, ("text", ch)))
    return cells
