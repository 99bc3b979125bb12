"""Interruptions: Ctrl-C (SIGINT) and SIGKILL at random moments of `train` and `download`.

The promise: an interruption never leaves a corrupt file where a good one was. An existing
`--out` pair survives byte-identical until a new, complete pair replaces it; a download
appears under its final name only complete and verified, and a good file already there is
never touched.

After SIGINT the process cleans up (no temporary files). SIGKILL cannot be caught: a
temporary file (`.NAME.*.tmp` from train, `.NAME.*.tmp` from download) may be left
behind -- acceptable, it is hidden and never read -- but the targets must be intact.
(One window cannot be closed from inside: SIGKILL exactly between the two renames of
a train save would leave the new npz beside the old card; `load` then refuses the pair
with a clean "npz_sha256 does not match" -- never silently wrong weights. The window is
two consecutive system calls, so random kills do not hit it.)

The moments are drawn from a seeded random generator, as fractions of a measured
uninterrupted run, so that every run of the suite attacks the same phases: start-up, data
loading, the epochs, evaluation and -- aimed at by watching for the temporary file --
the final save. They start 50 ms in: during the interpreter's own first ~15 ms, before
any line of digitnet runs, a Ctrl-C gets Python's default treatment (a traceback through
the console script's `import re`); from the import of digitnet.cli.main on, it is ours.
"""

import hashlib
import os
import random
import signal
import subprocess
import time

import pytest

from digitnet import mnist, weightfile
from helpers import DIGITNET, FileServer, serving



def start(*args, env=None):
    return subprocess.Popen([DIGITNET, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env={**os.environ, **(env or {})})


def finish(p):
    out, err = p.communicate(timeout=120)
    return p.returncode, out, err.decode()


def hidden(folder):
    return sorted(n for n in os.listdir(folder) if n.startswith("."))


# --------------------------------------------------------------------------------------
# train

# Plain training (no teacher, no augmentation): about a second on the 3,000-image folder.
TRAIN = ["--epochs", "2", "--validation", "300", "--seed", "1", "--teacher", "none",
         "--no-augment", "-q"]
HIDDEN = 100


def state_of(old_model):
    """'old' if --out is the old pair byte for byte, 'new' if it is a complete new pair
    (load checks the card's hash and sizes); anything else fails the test."""
    out, npz, card = old_model
    now = out.read_bytes(), out.with_suffix(".json").read_bytes()
    if now == (npz, card):
        return "old"
    net, loaded_card = weightfile.load(out)
    assert loaded_card["npz_sha256"] == hashlib.sha256(now[0]).hexdigest()
    assert net.sizes[0] == 784 and net.sizes[-1] == 10
    return "new"


def restore(old_model):
    out, npz, card = old_model
    for name in hidden(out.parent):            # SIGKILL's leftovers, see the module doc
        assert name.startswith((".model.npz.", ".model.json.")) and name.endswith(".tmp"), name
        os.unlink(out.parent / name)
    out.write_bytes(npz)
    out.with_suffix(".json").write_bytes(card)


def check_after(sig, p, old_model):
    code, out, err = finish(p)
    assert out == b"" and "Traceback" not in err, err
    state = state_of(old_model)
    if sig == signal.SIGKILL:
        assert code in (-signal.SIGKILL, 0), (code, err)
    else:
        # Interrupted (130: one line), or already finished (0: with -q, only the summary).
        assert code in (130, 0), (code, err)
        if code == 130:
            assert len(err.splitlines()) == 1 and err.startswith("digitnet: interrupted"), err
            if state == "old":
                assert "nothing written" in err or err == "digitnet: interrupted\n", err
        else:
            assert len(err.splitlines()) == 1 and "test accuracy" in err and state == "new", err
        assert hidden(old_model[0].parent) == []
    return code, state


def test_train_interrupted_at_random_moments(small_mnist_dir, old_model):
    out = old_model[0]
    # An uninterrupted run: its duration scales the moments (machines and load differ).
    t0 = time.perf_counter()
    p = start("train", "--data", small_mnist_dir, *TRAIN, "--layers", HIDDEN, "--out", out)
    assert check_after(signal.SIGINT, p, old_model) == (0, "new")
    duration = time.perf_counter() - t0
    rng = random.Random(20240505)
    outcomes = []
    for i in range(8):
        restore(old_model)
        sig = (signal.SIGINT, signal.SIGKILL)[i % 2]
        moment = 0.05 + rng.uniform(0, 1.05) * duration
        p = start("train", "--data", small_mnist_dir, *TRAIN, "--layers", HIDDEN, "--out", out)
        time.sleep(moment)
        p.send_signal(sig)
        if i == 4:                   # an impatient user: Ctrl-C twice
            time.sleep(0.01)
            p.send_signal(sig)
        outcomes.append((sig.name, round(moment, 2), *check_after(sig, p, old_model)))
    print(outcomes)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_train_interrupted_during_the_final_save(sig, small_mnist_dir, old_model):
    """Aimed at the save: the signal goes out as soon as a temporary file appears."""
    out = old_model[0]
    # A wider layer: a 3 MB npz keeps the save (write, fsync, rename) open long enough.
    p = start("train", "--data", small_mnist_dir, *TRAIN, "--layers", 1000, "--epochs", 1, "--out", out)
    seen = False
    while p.poll() is None and not seen:
        seen = any(n.endswith(".tmp") for n in hidden(out.parent))
    if seen:
        p.send_signal(sig)
    code, state = check_after(sig, p, old_model)
    print(f"temp file seen: {seen}, exit {code}, --out is the {state} pair")


# --------------------------------------------------------------------------------------
# download

class SlowMirror(FileServer):
    """Serves the real t10k files (their SHA-256 is in mnist.SHA256) in small, slow chunks;
    404 for the training files, which the repository does not have."""

    def send_body(self, body):
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for i in range(0, len(body), 32768):
                self.wfile.write(body[i:i + 32768])
                self.wfile.flush()
                time.sleep(0.02)
        except OSError:              # the client was killed mid-transfer
            pass


@pytest.fixture
def slow_mirror():
    files = {name: (mnist.bundled_dir() / name).read_bytes() for name in mnist.FILES["test"]}
    for name, body in files.items():
        assert hashlib.sha256(body).hexdigest() == mnist.SHA256[name]
    with serving(SlowMirror, files) as (url, handler):
        yield url, handler


def test_download_interrupted_at_random_moments(slow_mirror, tmp_path):
    url, handler = slow_mirror
    env = {"DIGITNET_MIRRORS": url}
    folder = tmp_path / "mnist"
    folder.mkdir()
    images, labels = mnist.FILES["test"]
    # A good file already there: never fetched again, never touched.
    (folder / labels).write_bytes(handler.files[labels])
    kept = os.stat(folder / labels)

    def check_folder(allow_part):
        for name in os.listdir(folder):
            if name.startswith("."):
                assert allow_part and name.startswith(f".{images}.") and name.endswith(".tmp"), name
            else:
                assert name in (images, labels), name
                assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == mnist.SHA256[name]
        now = os.stat(folder / labels)
        assert (now.st_ino, now.st_mtime_ns) == (kept.st_ino, kept.st_mtime_ns)

    # The uninterrupted run: the t10k images arrive (about a second), the training files
    # are not on this mirror: exit 1 with the one error line last.
    t0 = time.perf_counter()
    code, out, err = finish(start("download", "--data", folder, env=env))
    duration = time.perf_counter() - t0
    assert code == 1 and out == b"" and "Traceback" not in err
    assert err.splitlines()[-1].startswith(f"digitnet: {folder / mnist.FILES['train'][0]}: could not download")
    check_folder(allow_part=False)
    assert (folder / images).exists()

    rng = random.Random(7)
    for i in range(6):
        (folder / images).unlink(missing_ok=True)   # so that there is a transfer to interrupt
        sig = (signal.SIGINT, signal.SIGKILL)[i % 2]
        p = start("download", "--data", folder, env=env)
        time.sleep(0.05 + rng.uniform(0, 0.9) * duration)
        p.send_signal(sig)
        code, out, err = finish(p)
        assert out == b"" and "Traceback" not in err, err
        if sig == signal.SIGINT:
            assert code in (130, 1), (code, err)
            if code == 130:
                assert err.splitlines()[-1] == "digitnet: interrupted", err
            check_folder(allow_part=False)
        else:
            assert code in (-signal.SIGKILL, 1), (code, err)
            check_folder(allow_part=True)
            for name in hidden(folder):
                os.unlink(folder / name)
    assert labels not in handler.requests


def test_ctrl_c_while_the_arguments_are_parsed_is_one_line(monkeypatch):
    # click's own handling of a KeyboardInterrupt outside the command printed a blank
    # line before "digitnet: interrupted" (once in the random-moment test above).
    import click
    from click.testing import CliRunner

    from digitnet.cli.main import cli

    def interrupted(self, ctx, args):
        raise KeyboardInterrupt
    monkeypatch.setattr(click.Group, "parse_args", interrupted)
    r = CliRunner().invoke(cli, ["classify", "x.png"])
    assert r.exit_code == 130
    assert r.stderr == "digitnet: interrupted\n" and r.stdout == ""
