"""Hostile files and failing machines, part two: the holes an adversary found (issue 10).

Bombs that cost memory or CPU (a weight file that inflates to a huge network, an IDX file
claiming millions of images, a progressive JPEG with thousands of scans, an image that
decodes to gigabytes), outputs that cannot be written (a full disk, a closed stdout, a
folder where a file should go), signals that kill a command or its workers, names that
would drive the terminal, and a mirror that trickles. Each ends in a clean refusal or the
correct behaviour; files are built in the test and small.
"""

import gzip
import http.server
import io
import os
import resource
import signal
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitnet import decode, evaluation, files, mnist, training, weightfile
from digitnet.errors import DataError, ImageError, WeightFileError
from digitnet.network import Network
from helpers import DIGITNET, FileServer, draw_seven, encode, run, serving, tcp_server


def exe(*args, limit_memory=None, **kw):
    """Run the installed command; ``limit_memory``: an address-space limit in bytes."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (limit_memory, limit_memory))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", **kw.pop("env", {})}
    return subprocess.run([DIGITNET, *map(str, args)], capture_output=True, timeout=120,
                          env=env, preexec_fn=limit if limit_memory else None, **kw)


def one_line(stderr, start):
    """stderr is exactly one line, starting with ``start``, with no traceback."""
    text = stderr.decode() if isinstance(stderr, bytes) else stderr
    assert text.count("\n") == 1 and text.startswith(start), text
    assert "Traceback" not in text and "internal error" not in text, text
    return text


def digit_png(path, size=96):
    """A dark 7 on white paper, as a PNG file."""
    draw_seven((size, size)).save(path)
    return path


@pytest.fixture
def good(tmp_path):
    return digit_png(tmp_path / "good.png")


# --------------------------------------------------------------------------------------
# B2: a weight file that is a valid, huge network; evaluation batches sized by layer width

def test_evaluation_batches_are_sized_by_the_widest_layer(monkeypatch, mnist_test):
    x, y = mnist_test
    small = Network.random([784, 16, 16, 10], rng=0)
    wide = Network([np.zeros((159000, 784), np.float32), np.zeros((10, 159000), np.float32)],
                   [np.zeros(159000, np.float32), np.zeros(10, np.float32)])
    assert evaluation.batch_size(small) == 10000
    # One batch of z and a for 159,000 neurons stays within the 64 MiB budget.
    n = evaluation.batch_size(wide)
    assert 1 <= n and 2 * n * 159000 * 4 <= evaluation.BATCH_BYTES
    seen = []
    real = Network.predict
    monkeypatch.setattr(Network, "predict", lambda self, xb: seen.append(len(xb)) or real(self, xb))
    report = evaluation.evaluate(wide, x[:300], y[:300])
    assert report["n"] == 300 and max(seen) == n


def test_a_network_too_large_to_save_is_refused_before_training(small_mnist_dir, tmp_path):
    r = run("train", "--data", small_mnist_dir, "--layers", "30000", "--out", tmp_path / "m.npz")
    assert r.exit_code == 2 and "23,850,010 parameters is more than a weight file may hold" in r.stderr
    assert not os.listdir(tmp_path)


# --------------------------------------------------------------------------------------
# B3: an IDX gzip bomb

def _idx_gz_claiming(path, count, zeros=1 << 20):
    head = struct.pack(">HBBIII", 0, 8, 3, count, 28, 28)
    path.write_bytes(gzip.compress(head + bytes(zeros)))
    return path


def test_idx_gzip_bomb_is_refused_before_inflating(tmp_path, mnist_test):
    d = tmp_path / "bomb"
    d.mkdir()
    _idx_gz_claiming(d / "t10k-images-idx3-ubyte.gz", 2_739_137)
    (d / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(struct.pack(">HBBI", 0, 8, 1, 5)
                                                                + bytes(5)))
    with pytest.raises(DataError, match=r"header claims 2739137x28x28 .* too large"):
        mnist.read_idx(d / "t10k-images-idx3-ubyte.gz", 3)
    # Within the item limit but claiming far more than the file could honestly hold.
    _idx_gz_claiming(d / "t10k-images-idx3-ubyte.gz", 200_000)
    with pytest.raises(DataError, match=r"from \d[\d,]* compressed bytes -- no real data set "
                                        r"compresses like that \(a gzip bomb\?\)$"):
        mnist.read_idx(d / "t10k-images-idx3-ubyte.gz", 3)
    t0 = time.monotonic()
    r = exe("evaluate", "--data", d, limit_memory=1 << 30)
    assert r.returncode == 1
    one_line(r.stderr, f"digitnet: {d / 't10k-images-idx3-ubyte.gz'}: header claims")
    assert time.monotonic() - t0 < 30       # a hang guard, not a speed target
    # The real MNIST test set, gzipped as distributed, still reads.
    x, _ = mnist_test
    assert len(x) == 10000


# --------------------------------------------------------------------------------------
# B4: a progressive JPEG with thousands of scans

def _progressive_jpeg(size=64):
    buf = io.BytesIO()
    im = Image.new("L", (size, size), 255)
    ImageDraw.Draw(im).line([(10, 10), (50, 10), (25, 55)], fill=0, width=6)
    im.save(buf, "JPEG", progressive=True, quality=90)
    return buf.getvalue()


def test_jpeg_scan_bomb_is_refused_before_decoding(tmp_path):
    good = _progressive_jpeg()
    assert 2 <= good.count(b"\xff\xda") <= 20
    # Repeat the last scan until there are thousands of them: each would be one more
    # full decoding pass over the image.
    last = good.rindex(b"\xff\xda")
    bomb = good[:last] + good[last:-2] * 5000 + b"\xff\xd9"
    with pytest.raises(ImageError, match=r"^JPEG with 5,\d{3} scans \(limit 100\): far more than "
                                         r"any camera writes, refused as a decoding bomb$"):
        decode.read_image(bomb)
    # A plausible number of scans, but over an enormous image, is refused by its cost.
    head = bytearray(good)
    sof = head.index(b"\xff\xc2")
    struct.pack_into(">HH", head, sof + 5, 29000, 29000)      # height, width in the SOF2 header
    with pytest.raises(ImageError, match=r"^(JPEG of 29000x29000 pixels with \d+ scans is too "
                                         r"costly to decode|image too large)"):
        decode.read_image(bytes(head))
    (tmp_path / "ok.jpg").write_bytes(good)
    assert decode.read_image(tmp_path / "ok.jpg").shape == (64, 64)


# --------------------------------------------------------------------------------------
# B5 and the decoded-memory bound

def test_out_of_memory_on_one_image_is_that_images_error(tmp_path, good):
    big = tmp_path / "49mp.png"
    im = Image.new("L", (7000, 7000), 255)
    ImageDraw.Draw(im).line([(1000, 1000), (6000, 1000), (3000, 6000)], fill=0, width=300)
    im.save(big, compress_level=1)
    del im
    r = exe("classify", good, big, good, "-q", limit_memory=500_000_000)
    out = r.stdout.decode().splitlines()
    assert [line.split("\t")[0] for line in out if str(big) not in line] == [str(good), str(good)]
    assert "Traceback" not in r.stderr.decode() and "internal error" not in r.stderr.decode()
    if r.returncode:       # the big one may fit after all; if not, one line says so
        one_line(r.stderr, f"digitnet: {big}: ")


def test_decoded_size_is_bounded_by_bytes_per_pixel(tmp_path, monkeypatch):
    path = tmp_path / "float.tif"
    Image.fromarray(np.zeros((1000, 1000), np.float32)).save(path, compression="tiff_deflate")
    assert path.stat().st_size < 100_000          # tiny file, 4 MB once decoded
    monkeypatch.setattr(decode, "MAX_DECODED_BYTES", 2_000_000)
    with pytest.raises(ImageError, match=r"^image too large: 1000x1000 pixels of mode F need 4 MiB "
                                         r"decoded \(limit 1 MiB\); save it smaller or as 8-bit$"):
        decode.read_image(path)
    Image.new("L", (1000, 1000), 255).save(tmp_path / "gray.png")     # 1 MB: fine
    assert decode.read_image(tmp_path / "gray.png").shape == (1000, 1000)


# --------------------------------------------------------------------------------------
# B6: stdout that fails

@pytest.mark.parametrize("args", [["classify", "{good}", "-q"], ["evaluate"], ["inspect-layer"],
                                  ["inspect-layer", "1"], ["--help"], ["--version"],
                                  ["classify", "--help"]])
def test_stdout_that_cannot_be_written(args, good):
    args = [a.replace("{good}", str(good)) for a in args]
    if os.path.exists("/dev/full"):
        with open("/dev/full", "w") as full:
            r = subprocess.run([DIGITNET, *args], stdout=full, stderr=subprocess.PIPE, timeout=60)
        assert r.returncode == 1
        one_line(r.stderr, "digitnet: cannot write output: No space left on device")
    # stdout closed altogether (`>&-`)
    r = subprocess.run([DIGITNET, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=60, preexec_fn=lambda: os.close(1))
    assert r.returncode == 1
    one_line(r.stderr, "digitnet: cannot write output: standard output is closed")


# --------------------------------------------------------------------------------------
# B7: downloads that cannot be written

def test_download_into_a_folder_where_nothing_can_be_created(http_files, tmp_path, monkeypatch):
    url, _ = http_files

    def no_inodes(path):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(files, "_temporary", no_inodes)
    r = run("download", "--data", tmp_path / "new" / "mnist", env={"DIGITNET_MIRRORS": url})
    assert r.exit_code == 1
    one_line(r.stderr, f"digitnet: {tmp_path / 'new' / 'mnist' / 't10k-images-idx3-ubyte.gz'}: "
                       "cannot write (No space left on device)")
    assert not (tmp_path / "new").exists()     # the folders it created are gone again


def test_slow_loris_mirror_hits_the_deadline(tmp_path, monkeypatch):
    class Trickle(FileServer):
        def send_body(self, body):
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for b in body:
                self.wfile.write(bytes([b]))
                self.wfile.flush()
                time.sleep(0.05)
    files_ = {name: b"x" * 10000 for name in mnist.SHA256}
    with serving(Trickle, files_) as (url, _):
        t0 = time.monotonic()
        with pytest.raises(DataError, match=r"could not download \(\S+: not complete after 1 s\)$"):
            mnist.download(tmp_path / "d", mirrors=[url], timeout=5, deadline=1)
        assert time.monotonic() - t0 < 30     # the deadline is the point: 500 s without it
    assert not (tmp_path / "d").exists()


# --------------------------------------------------------------------------------------
# B8, B12: train's outputs

def test_train_checks_every_target_before_replacing_anything(small_mnist_dir, tmp_path, old_model):
    out, npz, card = old_model
    out.with_suffix(".json").unlink()
    out.with_suffix(".json").mkdir()
    r = run("train", "--data", small_mnist_dir, "--epochs", 1, "--out", out, "-q")
    assert r.exit_code == 1
    one_line(r.stderr, f"digitnet: {out.with_suffix('.json')}: cannot write (is a folder, not a file)")
    assert out.read_bytes() == npz                           # not replaced


def test_atomic_pair_replaces_nothing_if_one_target_became_a_folder(tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "a.json"
    a.write_bytes(b"old")
    with pytest.raises(IsADirectoryError):
        with files.atomic_files(a, b) as (fa, fb):
            fa.write(b"new")
            fb.write(b"new")
            b.mkdir()                     # appears while the files are being written
    assert a.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["a.json", "a.npz"]


def test_train_out_names_say_exactly_what_was_written(small_mnist_dir, tmp_path):
    os.chdir(tmp_path)
    r = run("train", "--data", small_mnist_dir, "--epochs", 1, "--validation", 300, "--out", "nox")
    assert r.exit_code == 0, r.stderr
    assert r.stderr.rstrip().endswith("wrote nox.npz and nox.json")
    assert sorted(os.listdir(tmp_path)) == ["nox.json", "nox.npz"]
    for bad in ("x.json", "x.bin"):
        r = run("train", "--data", small_mnist_dir, "--epochs", 1, "--out", bad)
        assert r.exit_code == 2 and "a weight file's name ends in .npz" in r.stderr
    assert sorted(os.listdir(tmp_path)) == ["nox.json", "nox.npz"]


# --------------------------------------------------------------------------------------
# Signals: held between the two renames, restored afterwards; workers die with classify

def test_stop_signals_are_held_between_the_two_renames(tmp_path, monkeypatch):
    got = []
    old = signal.signal(signal.SIGTERM, lambda *a: got.append("term"))
    real_replace = os.replace
    calls = []

    def replace(src, dst):
        real_replace(src, dst)
        calls.append(dst)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGTERM)     # arrives between the two renames
            assert got == []
    monkeypatch.setattr(os, "replace", replace)
    try:
        with files.atomic_files(tmp_path / "m.npz", tmp_path / "m.json") as (a, b):
            a.write(b"1")
            b.write(b"2")
        assert got == ["term"] and len(calls) == 2
    finally:
        signal.signal(signal.SIGTERM, old)
    assert signal.getsignal(signal.SIGTERM) is old


def test_train_leaves_signal_handlers_as_it_found_them(small_mnist_dir, tmp_path):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    assert run("train", "--data", small_mnist_dir, "--epochs", 1, "--validation", 300,
               "--out", tmp_path / "m.npz", "-q").exit_code == 0
    assert {s: signal.getsignal(s) for s in before} == before


def test_ctrl_c_after_the_model_is_written_does_not_undo_the_summary(small_mnist_dir, tmp_path):
    # Ctrl-C just as the finished run prints its summary (the model is on disk): too late
    # to stop anything. It used to add "digitnet: interrupted" and exit 130.
    code = ("import os, signal, sys; sys.argv[0] = 'digitnet'; import digitnet.cli.main as m; "
            "real = m.TrainProgress.summary\n"
            "def summary(self, text):\n"
            "    os.kill(os.getpid(), signal.SIGINT)\n"
            "    real(self, text)\n"
            "m.TrainProgress.summary = summary\n"
            "sys.argv[1:] = ['train', '--data', %r, '--epochs', '1', '--validation', '300',"
            " '--teacher', 'none', '--no-augment', '-q', '--out', %r]\n"
            "m.main()" % (str(small_mnist_dir), str(tmp_path / "m.npz")))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=tmp_path)  # the installed package, not a checkout's folder
    assert r.returncode == 0, r.stderr
    assert len(r.stderr.splitlines()) == 1 and "test accuracy" in r.stderr, r.stderr
    assert (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("argv0,ours", [("/somewhere/digitnet/__main__.py", True),
                                         ("/somewhere/bin/digitnet", True),
                                         ("/somewhere/someapp/__main__.py", False)])
def test_only_the_digitnet_command_takes_over_ctrl_c_while_starting(argv0, ours):
    # `python -m digitnet` and the `digitnet` executable end a Ctrl-C during start-up with
    # one line; another program that imports the CLI module (`python -m pytest` did) keeps
    # its own Ctrl-C -- it used to be swapped for ours, which exits at once with 130.
    code = ("import sys, signal; sys.argv[0] = %r; import digitnet.cli.main as m; "
            "print(signal.getsignal(signal.SIGINT) is not signal.default_int_handler)" % argv0)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(ours)


def test_ctrl_c_during_the_final_evaluation_keeps_the_model(small_mnist_dir, tmp_path, monkeypatch):
    x, y = mnist.load_split(small_mnist_dir, "train")
    real = evaluation.evaluate

    def interrupted_evaluate(*a, **k):
        os.kill(os.getpid(), signal.SIGINT)          # Ctrl-C after the last epoch
        return real(*a, **k)
    monkeypatch.setattr(evaluation, "evaluate", interrupted_evaluate)
    cfg = training.TrainConfig(epochs=1, validation=300, augment=False)
    done = training.train_and_save(cfg, str(tmp_path / "m.npz"), x, y, x[:500], y[:500],
                                   command="test")
    assert done.interrupted and done.report["n"] == 500
    net, card = weightfile.load(tmp_path / "m.npz")     # complete and valid
    assert card["evaluation"]["n"] == 500


def classify_many_files(tmp_path, n=3000):
    """``classify -j 2 -q`` started on n small PNGs: (process, folder, first line, worker pids)."""
    d = tmp_path / "many"
    d.mkdir()
    digit_png(d / "0000.png", size=28)
    for i in range(1, n):
        os.link(d / "0000.png", d / f"{i:04d}.png")
    p = subprocess.Popen([DIGITNET, "classify", str(d), "-j", "2", "-q"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    first = p.stdout.readline()                       # the workers are at work
    return p, d, first, open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGKILL])
def test_classify_workers_die_with_their_parent_silently(sig, tmp_path):
    p, _, _, workers = classify_many_files(tmp_path)
    assert len(workers) == 2
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.05)
    assert not any(_alive(w) for w in workers)
    assert b"Traceback" not in err
    if sig in (signal.SIGTERM, signal.SIGHUP):       # stopped as by Ctrl-C: one line, 130
        assert p.returncode == 130 and err == b"digitnet: interrupted\n"
    else:
        assert p.returncode == -sig and err == b""


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# --------------------------------------------------------------------------------------
# B11: names of shipped models; cards that exist but cannot be read

def test_a_folder_or_fifo_never_shadows_a_shipped_model(tmp_path, good):
    (tmp_path / "default").mkdir()
    os.mkfifo(tmp_path / "wide")
    for w in ("default", "wide"):
        r = exe("classify", good, "-q", "--weights", w, cwd=tmp_path)
        assert r.returncode == 0 and r.stdout.decode().strip().isdigit(), r.stderr
    # A path says it is a path.
    r = exe("classify", good, "--weights", "./default", cwd=tmp_path)
    one_line(r.stderr, "digitnet: ./default: not a file")


def test_a_card_that_cannot_be_read_is_an_error(tmp_path):
    weightfile.save(tmp_path / "m.npz", Network.random([784, 4, 10], rng=1))
    (tmp_path / "m.json").unlink()
    (tmp_path / "m.json").symlink_to(tmp_path / "missing.json")
    with pytest.raises(WeightFileError, match=r"m\.json: unreadable model card \(No such file or "
                                              r"directory\)$"):
        weightfile.load(tmp_path / "m.npz")
    (tmp_path / "m.json").unlink()
    (tmp_path / "m.json").symlink_to(tmp_path / "m.json")          # a loop
    with pytest.raises(WeightFileError, match=r"m\.json: unreadable model card"):
        weightfile.load(tmp_path / "m.npz")


# --------------------------------------------------------------------------------------
# FIFOs, terminal escapes

def test_a_fifo_given_as_an_image_is_refused_not_waited_for(tmp_path, good):
    os.mkfifo(tmp_path / "pipe.png")
    r = exe("classify", tmp_path / "pipe.png", good, "-q")
    assert r.returncode == 1 and r.stdout.decode().count("\n") == 1
    one_line(r.stderr, f"digitnet: {tmp_path / 'pipe.png'}: not a regular file (a pipe or a device)")
    r = exe("inspect-layer", "1", "--image", tmp_path / "pipe.png")
    assert r.returncode == 1 and r.stdout == b""


def test_control_characters_in_names_never_reach_the_terminal(tmp_path, good):
    evil = tmp_path / "a\x1b]0;pwned\x07\nb.png"
    evil.write_bytes(good.read_bytes())
    missing = tmp_path / "m\x1b[2J.png"
    r = exe("classify", evil, missing, "-q")
    out, err = r.stdout.decode(), r.stderr.decode()
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert out == f"{tmp_path}/a\\x1b]0;pwned\\x07\\nb.png\t7\n"
    assert err == f"digitnet: {tmp_path}/m\\x1b[2J.png: no such file\n"


def test_a_mirrors_reason_phrase_is_escaped(tmp_path):
    class Evil(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(500, "Oops \x1b]0;title\x07")
            self.end_headers()

        def log_message(self, *a):
            pass
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        r = run("download", "--data", tmp_path / "d",
                env={"DIGITNET_MIRRORS": f"http://127.0.0.1:{httpd.server_address[1]}/"})
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert r.exit_code == 1 and "\x1b" not in r.stderr and "\\x1b]0;title\\x07" in r.stderr


def test_big_rle_bitmaps_are_refused_before_slow_decoding(monkeypatch):
    # An 8-bit RLE BMP: header (14) + info (40) + palette (256 x 4) + a few RLE runs.
    w = h = 64
    pixels = (b"\x40\x00" + b"\x00\x00") * h + b"\x00\x01"      # runs of 64 black, end of line
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 8, 1, len(pixels), 2835, 2835, 256, 0)
    palette = b"".join(bytes([i, i, i, 0]) for i in range(256))
    offset = 14 + len(info) + len(palette)
    bmp = b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + palette + pixels
    assert decode.read_image(bmp).shape == (64, 64)               # small: decoded as usual
    monkeypatch.setattr(decode, "MAX_PY_DECODER_PIXELS", 1000)
    with pytest.raises(ImageError, match=r"^RLE-compressed BMP of 64x64 pixels is too slow to "
                                         r"decode \(limit 1,000 pixels\); save it as PNG$"):
        decode.read_image(bmp)


def test_images_that_only_a_python_decoder_reads_are_bounded(monkeypatch):
    plain_pgm = b"P2\n64 64\n255\n" + b"255 " * (64 * 64)         # text PGM: decoded in Python
    assert decode.read_image(plain_pgm).shape == (64, 64)
    monkeypatch.setattr(decode, "MAX_PY_DECODER_PIXELS", 1000)
    with pytest.raises(ImageError, match=r"^PPM \(ppm_plain\) of 64x64 pixels is too slow to decode"):
        decode.read_image(plain_pgm)


def test_a_worker_that_dies_costs_no_other_image(tmp_path):
    p, d, first, workers = classify_many_files(tmp_path)
    os.kill(int(workers[0]), signal.SIGKILL)               # as the kernel's OOM killer would
    out = first + p.stdout.read()
    assert p.wait(timeout=120) == 0 and p.stderr.read() == b""
    names = [line.split(b"\t")[0].decode() for line in out.splitlines()]
    assert names == [str(d / f"{i:04d}.png") for i in range(3000)]   # all, in order, once


def test_npz_streamed_by_numpy_loads(tmp_path):
    """np.savez to a pipe writes ZIP64 data descriptors after each member."""
    class Pipe(io.RawIOBase):          # a writable stream that cannot seek
        def __init__(self):
            self.data = bytearray()

        def writable(self):
            return True

        def write(self, b):
            self.data += b
            return len(b)
    net = Network.random([784, 4, 10], rng=3)
    for savez in (np.savez, np.savez_compressed):
        pipe = Pipe()
        savez(pipe, W1=net.weights[0], b1=net.biases[0], W2=net.weights[1], b2=net.biases[1])
        (tmp_path / "piped.npz").write_bytes(bytes(pipe.data))
        loaded, _ = weightfile.load(tmp_path / "piped.npz")
        assert all(np.array_equal(a, b) for a, b in zip(loaded.weights, net.weights))


def test_a_full_disk_leaves_no_temporary_file(tmp_path, monkeypatch):
    class Full(io.RawIOBase):
        def __init__(self, fd):
            self.fd = fd

        def writable(self):
            return True

        def write(self, b):
            raise OSError(28, "No space left on device")

        def fileno(self):
            return self.fd

        def close(self):
            os.close(self.fd)
            super().close()
    monkeypatch.setattr(files.os, "fdopen", lambda fd, mode: io.BufferedWriter(Full(fd)))
    (tmp_path / "m.npz").write_bytes(b"old")
    with pytest.raises(OSError, match="No space left"):
        weightfile.save(tmp_path / "m.npz", Network.random([784, 4, 10], rng=3))
    assert sorted(os.listdir(tmp_path)) == ["m.npz"] and (tmp_path / "m.npz").read_bytes() == b"old"


def test_sixteen_bit_images_larger_than_the_work_size(tmp_path):
    a = np.full((3000, 3000), 65535, np.uint16)
    a[300:2700, 1400:1600] = 0
    Image.fromarray(a).save(tmp_path / "i16.png")
    assert decode.read_image(tmp_path / "i16.png", max_side=1280).shape == (1280, 1280)


def test_weight_file_names_without_a_name_are_refused(small_mnist_dir, tmp_path):
    os.chdir(tmp_path)
    for bad in ("", ".npz", "sub/.npz"):
        r = run("train", "--data", small_mnist_dir, "--epochs", 1, "--out", bad)
        assert r.exit_code == 2 and "a weight file needs a name" in r.stderr, r.stderr
    assert os.listdir(tmp_path) == []


def test_lazy_and_closed_pil_images_give_image_errors(tmp_path):
    buf = io.BytesIO()
    draw_seven((96, 96)).save(buf, "JPEG")
    cut = Image.open(io.BytesIO(buf.getvalue()[:len(buf.getvalue()) // 2]))   # opens; decoding fails
    with pytest.raises(ImageError, match=r"^cannot decode image: "):
        decode.read_image(cut)
    im = Image.open(io.BytesIO(buf.getvalue()))
    im.close()
    with pytest.raises(ImageError, match=r"^cannot decode image: "):
        decode.read_image(im)


def test_blp_textures_are_refused(tmp_path):
    from PIL import BlpImagePlugin  # noqa: F401 - registers the format
    draw_seven((64, 64)).convert("P").save(tmp_path / "t.blp")
    with pytest.raises(ImageError, match=r"^BLP textures are not supported; export it as PNG first$"):
        decode.read_image(tmp_path / "t.blp")


def test_a_mirror_trickling_its_headers_hits_the_deadline(tmp_path):
    def trickle(conn):
        for b in b"HTTP/1.0 200 OK\r\nX-Slow: " + b"a" * 1000:
            conn.sendall(bytes([b]))
            time.sleep(0.05)
    with tcp_server(trickle) as url:
        t0 = time.monotonic()
        with pytest.raises(DataError, match=r"could not download \(\S+: not complete after 1 s\)$"):
            mnist.download(tmp_path / "d", mirrors=[url], timeout=5, deadline=1)
        assert time.monotonic() - t0 < 30      # the deadline is the point: 50 s without it


def test_an_image_that_kills_its_worker_is_the_only_failure(monkeypatch):
    from digitnet import batch
    buf = io.BytesIO()
    draw_seven((28, 28)).save(buf, "PNG")
    png = buf.getvalue()
    real = decode.read_picture

    def read_picture(source, **kwargs):
        if source == b"poison":                       # a crash in a native decoder
            os.kill(os.getpid(), signal.SIGKILL)
        return real(source, **kwargs)
    monkeypatch.setattr(decode, "read_picture", read_picture)  # inherited by the forked workers
    sources = [png] * 150 + [b"poison"] + [png] * 150
    results = list(batch.load_inputs(sources, jobs=2))
    assert len(results) == 301
    assert isinstance(results[150], ImageError) and str(results[150]) == batch.WORKER_DIED
    assert all(isinstance(r, np.ndarray) for i, r in enumerate(results) if i != 150)


def test_a_tiff_cut_into_too_many_strips_is_refused_before_opening(tmp_path):
    buf = io.BytesIO()
    draw_seven((28, 28)).save(buf, "TIFF")
    data = bytearray(buf.getvalue())
    assert decode.read_image(bytes(data)).shape == (28, 28)
    e = "<" if data[:2] == b"II" else ">"
    ifd = struct.unpack_from(e + "I", data, 4)[0]
    for i in range(struct.unpack_from(e + "H", data, ifd)[0]):
        at = ifd + 2 + 12 * i
        if struct.unpack_from(e + "H", data, at)[0] == 273:          # StripOffsets
            struct.pack_into(e + "I", data, at + 4, 8_000_000)          # its count
    with pytest.raises(ImageError, match=r"^TIFF cut into 8,000,000 strips or tiles \(limit "
                                         r"100,000\): refused as a decoding bomb$"):
        decode.read_image(bytes(data))


def test_a_finished_run_in_workers_leaves_no_worker_or_pool_thread_behind():
    # Left to wind down on their own, the pool's manager thread and the interpreter's
    # exit raced over its wakeup pipe: "OSError: Bad file descriptor" on stderr after a
    # run that had finished, now and then (6 of 30 runs with one core busy).
    import multiprocessing
    import threading

    from digitnet import batch
    png = encode(draw_seven((28, 28)), "PNG")
    threads, children = set(threading.enumerate()), set(multiprocessing.active_children())
    n = batch.PARALLEL_MIN_FILES + 100
    results = batch.load_inputs([png] * n, jobs=2)
    # As classify reads them: one result per source, never asking past the last.
    assert all(isinstance(next(results), np.ndarray) for _ in range(n))
    assert [t for t in threading.enumerate() if t not in threads and t.is_alive()] == []
    assert [p for p in multiprocessing.active_children() if p not in children] == []
    assert next(results, None) is None


def test_a_stopped_run_in_workers_leaves_no_worker_or_pool_thread_behind():
    # The same race after a Ctrl-C, a SIGHUP or a closed pipe, when the pool was left to
    # wind down: "digitnet: interrupted", then "OSError: Bad file descriptor" (2-3 runs
    # in 40 of `classify` on 3,000 PNGs stopped by SIGHUP).
    import multiprocessing
    import threading

    from digitnet import batch
    png = encode(draw_seven((28, 28)), "PNG")
    threads, children = set(threading.enumerate()), set(multiprocessing.active_children())
    results = batch.load_inputs([png] * 3000, jobs=2)
    assert isinstance(next(results), np.ndarray)
    results.close()                            # as Ctrl-C or a closed pipe stops it
    assert [t for t in threading.enumerate() if t not in threads and t.is_alive()] == []
    assert [p for p in multiprocessing.active_children() if p not in children] == []


def _slow_pictures(monkeypatch, seconds):
    """decode.read_picture taking ``seconds`` more a file, as a photo's does (workers
    are forked: they decode with it too). Returns a shared count of the files begun."""
    import multiprocessing
    real, begun = decode.read_picture, multiprocessing.get_context("fork").RawValue("i", 0)

    def slow(*a, **k):
        begun.value += 1
        time.sleep(seconds)
        return real(*a, **k)
    monkeypatch.setattr(decode, "read_picture", slow)
    return begun


def test_slow_files_come_back_from_workers_a_few_at_a_time(monkeypatch):
    # A worker's task used to be 64 files whatever they cost: the first of 64 photos came
    # after all of them (10 s and more). Tasks now last about TASK_SECONDS.
    from digitnet import batch
    _slow_pictures(monkeypatch, 0.05)
    png = encode(draw_seven((28, 28)), "PNG")
    results = batch.load_inputs([png] * batch.PARALLEL_MIN_FILES, jobs=2)
    start = time.monotonic()
    assert isinstance(next(results), np.ndarray)
    first = time.monotonic() - start
    assert first < 16 * 0.05, first          # 64 files would have taken 3.2 s
    results.close()


def test_a_few_photos_go_to_workers_and_a_few_small_files_do_not(monkeypatch):
    # Two phone photos take 120 ms or more, which two workers halve; 199 small PNGs take
    # less than starting the pool. (`classify -j 2` on 60 photos ran in one process.)
    from digitnet import batch
    pooled = []

    def workers(sources, raw, jobs, sizes=()):
        pooled.append(len(sources))
        yield from batch.iter_many(sources, raw)
    monkeypatch.setattr(batch, "_in_workers", workers)
    photo = encode(Image.effect_noise((1100, 1000), 60).convert("RGB"), "PNG")  # 1.6+ MB
    small = encode(draw_seven((28, 28)), "PNG")
    assert len(photo) * 2 >= batch.PARALLEL_MIN_BYTES > len(photo)
    for sources, jobs, want in (([photo, photo], 2, [2]), ([photo], 2, []),
                                ([photo, photo], 1, []), ([small] * 199, 2, []),
                                ([small] * 200, 2, [200])):
        pooled.clear()
        list(batch.load_inputs(sources, jobs=jobs))
        assert pooled == want, (len(sources), jobs)


def test_the_files_of_a_few_photos_are_each_asked_their_size_once(monkeypatch, tmp_path):
    from digitnet import batch
    asked = []
    size_of = batch._size_of
    monkeypatch.setattr(batch, "_size_of", lambda s: asked.append(s) or size_of(s))
    photo = encode(Image.effect_noise((1100, 1000), 60).convert("RGB"), "PNG")
    paths = []
    for i in range(3):
        (tmp_path / f"p{i}.png").write_bytes(photo)
        paths.append(str(tmp_path / f"p{i}.png"))
    assert all(isinstance(r, np.ndarray) or "no digit" in str(r)
               for r in batch.load_inputs(paths, jobs=2))
    assert sorted(asked) == paths


def test_a_task_is_sized_by_its_files_bytes_as_well_as_their_number():
    # Paced by files alone, 300 small PNGs made the next task 64 photos: the output stood
    # still for seconds while one worker decoded them and the other idled.
    from digitnet import batch
    small = (0.02 / 64, 0.02 / (64 * 300), 400)     # 64 PNGs of ~300 bytes in 20 ms
    assert batch._task_files([300] * 64, small) == 64
    assert batch._task_files([2_000_000] * 64, small) == 1    # a photo goes alone
    assert batch._task_files([300] * 10 + [2_000_000] * 54, small) == 10
    # Well compressed, a 3000x3000 PNG has few bytes but costs 175 small ones: a file
    # far larger than the last task's are, of a kind not paced yet, goes alone.
    assert batch._task_files([13_000] * 64, small) == 1
    assert batch._task_files([300] * 5 + [13_000] * 59, small) == 5
    assert batch._task_files([3_200] * 64, small) == 64      # within 8x: paced as usual
    photos = (0.15, 0.15 / 2_000_000, 2_000_000)    # a 2 MB photo in 0.15 s
    assert batch._task_files([2_000_000] * 64, photos) == 1
    assert batch._task_files([300] * 64, photos) == 1          # then paced by the small
    assert batch._task_files([100_000] * 64, (0.04, 0.04 / 100_000, 100_000)) == 6
    assert batch._task_files([0] * 64, (0.0, 0.0, 0)) == 64     # instant: as many as fit
    assert batch._task_files([300] * 64, None) == batch.FIRST_TASK_FILES
    assert batch._task_files([300], small) == 1
    assert batch._size_of(b"12345") == 5 and batch._size_of("/no/such/file") == 0


def test_after_small_files_a_slow_large_one_comes_back_at_once(monkeypatch):
    from digitnet import batch
    real = decode.read_picture

    def slow_when_large(source, **k):
        if len(source) > 50_000:
            time.sleep(0.2)                  # a photo's decoding and normalising
        return real(source, **k)
    monkeypatch.setattr(decode, "read_picture", slow_when_large)
    small = encode(draw_seven((28, 28)), "PNG")
    noise = np.random.default_rng(0).integers(0, 256, (300, 300), dtype=np.uint8)
    large = encode(Image.fromarray(noise), "PNG")
    assert len(large) > 50_000
    n = batch.PARALLEL_MIN_FILES + 100
    start = time.monotonic()
    results = batch.load_inputs([small] * n + [large] * 16, jobs=2)
    for _ in range(n):
        assert isinstance(next(results), np.ndarray)
    next(results)                            # (noise: no digit found, or a digit)
    waited = time.monotonic() - start
    # The small files take a fraction of a second; a task of the 16 large files would
    # take 3.2 s (the small ones' last results waiting on it too), one alone 0.2 s.
    assert waited < 1.6, waited
    results.close()


def test_stopping_a_batch_in_workers_stops_them_after_the_files_at_hand(monkeypatch):
    # Closing the results (Ctrl-C, a closed pipe) used to leave the workers on every task
    # already sent to them, up to three of 64 files each, whose results nobody read.
    import multiprocessing

    from digitnet import batch
    begun = _slow_pictures(monkeypatch, 0.05)
    # Not small (see SMALL_SIDE): a small picture is gathered with the others of its
    # stack before any is normalised, and small pictures are quick to decode.
    png = encode(draw_seven((64, 64)), "PNG")
    children = set(multiprocessing.active_children())
    results = batch.load_inputs([png] * 1000, jobs=2)
    for _ in range(20):
        assert isinstance(next(results), np.ndarray)
    results.close()
    stopped = begun.value
    workers = [p for p in multiprocessing.active_children() if p not in children]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(p.is_alive() for p in workers):
        time.sleep(0.02)
    assert not any(p.is_alive() for p in workers)
    # Each worker finished the file at hand and began one more at most (it may have
    # looked at the flag just before it was raised); none of its other tasks.
    assert begun.value <= stopped + 2, (stopped, begun.value)


def _classify_slow_files(tmp_path, n=300):
    """``classify -j 2 -q`` started on n files that take 0.3 s each, as photos do:
    (process, folder)."""
    d = tmp_path / "photos"
    d.mkdir()
    digit_png(d / "000.png", size=28)
    for i in range(1, n):
        os.link(d / "000.png", d / f"{i:03d}.png")
    code = ("import sys, time; sys.argv[0] = 'digitnet'; from digitnet import decode\n"
            "real = decode.read_picture\n"
            "def slow(*a, **k):\n"
            "    time.sleep(0.3)\n"               # a photo's decoding and normalising
            "    return real(*a, **k)\n"
            "decode.read_picture = slow\n"
            "import digitnet.cli.main as m\n"
            "sys.argv[1:] = ['classify', %r, '-j', '2', '-q']\n"
            "m.main()" % str(d))
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, cwd=tmp_path)
    return p, d


def test_slow_files_answers_are_printed_as_they_come(tmp_path):
    # They used to be printed 64 at a time (the first after 64 photos: 10 s here), and a
    # worker's task was 64 of them.
    p, d = _classify_slow_files(tmp_path)
    start = time.monotonic()
    first = p.stdout.readline()
    assert time.monotonic() - start < 3.0
    assert first == f"{d / '000.png'}\t7\n".encode()
    p.kill()
    p.wait()


def test_ctrl_c_with_workers_on_slow_files_exits_at_once(tmp_path):
    p, d = _classify_slow_files(tmp_path)
    time.sleep(3)
    workers = open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()
    assert len(workers) == 2
    start = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    # It waited for the file at hand in each worker; it used to wait for every file the
    # workers had taken (three tasks of 64: about 30 s here).
    assert time.monotonic() - start < 2.5
    assert p.returncode == 130 and err == b"digitnet: interrupted\n"
    names = [line.split(b"\t")[0].decode() for line in out.splitlines()]
    assert 0 < len(names) and names == [str(d / f"{i:03d}.png") for i in range(len(names))]
    assert not any(_alive(w) for w in workers)


def test_a_workers_reply_fits_a_pipe_buffer_whatever_fails(monkeypatch):
    # The arrays go through shared memory; the pipe carries the errors' messages. A
    # worker killed while its reply was half through the pipe left the pool's reader
    # waiting for ever (CPython 3.11): a reply must fit the pipe (64 KiB on Linux).
    import multiprocessing
    from multiprocessing.reduction import ForkingPickler

    from digitnet import batch
    ring = batch._results_ring(1)
    monkeypatch.setattr(batch, "_ring", ring)
    monkeypatch.setattr(batch, "_stop", multiprocessing.get_context("fork").RawValue("b", 0))
    png = encode(draw_seven((28, 28)), "PNG")
    text = b"not an image " + b"x" * 5000               # its message: the longest kind
    for sources in ([png] * batch.TASK_FILES, [text] * batch.TASK_FILES):
        seconds, reply = batch._load_chunk(sources, False, 0)
        assert len(reply) == batch.TASK_FILES and seconds > 0
        assert len(ForkingPickler.dumps((seconds, reply))) < 16 * 1024
    assert np.array_equal(ring[0, 0], batch.load_input(png))


def test_tasks_are_handed_to_the_pool_with_stop_signals_held(monkeypatch):
    # The pool starts its workers, then its manager thread, as a task is submitted: a
    # Ctrl-C or SIGTERM between the two left workers nobody stopped, and the exiting
    # command waited for them for ever. Held back, the signal lands once the pool is whole.
    from concurrent.futures import ProcessPoolExecutor

    from digitnet import batch
    if not batch._STOP_SIGNALS:
        pytest.skip("no pthread_sigmask here")
    held = []
    submit = ProcessPoolExecutor.submit

    def watching(self, *a, **k):
        held.append(signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []))
        return submit(self, *a, **k)
    monkeypatch.setattr(ProcessPoolExecutor, "submit", watching)
    png = encode(draw_seven((28, 28)), "PNG")
    results = list(batch.load_inputs([png] * batch.PARALLEL_MIN_FILES, jobs=2))
    assert len(results) == batch.PARALLEL_MIN_FILES and all(isinstance(r, np.ndarray) for r in results)
    assert held and all(held)
    assert not signal.pthread_sigmask(signal.SIG_BLOCK, []) & batch._STOP_SIGNALS
