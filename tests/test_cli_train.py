"""`digitnet train`, `evaluate` and `download` through click's CliRunner and as real processes."""

import json
import os
import signal
import subprocess
import time

import pytest

from digitnet import weightfile
from helpers import DIGITNET, run



def test_train_writes_weights_and_card(small_mnist_dir, tmp_path):
    out = tmp_path / "m.npz"
    r = run("train", "--data", small_mnist_dir, "--epochs", 2, "--validation", 500,
            "--batch-size", 32, "--seed", 3, "--out", out)
    assert r.exit_code == 0, r.stderr
    net, card = weightfile.load(out)
    assert net.sizes == [784, 16, 16, 10]
    t = card["training"]
    assert t["epochs"] == 2 and t["seed"] == 3 and t["batch_size"] == 32
    assert t["command"].startswith("digitnet ") or t["command"].startswith("digitnet")
    assert len(t["history"]) == 2 and 0 < t["validation_accuracy"] <= 1
    assert card["evaluation"]["n"] == 2000 and 0.3 < card["evaluation"]["accuracy"] <= 1
    assert "test accuracy" in r.stderr and "epoch   2/2" in r.stderr


def test_train_then_evaluate_json(small_mnist_dir, tmp_path):
    out = tmp_path / "e.npz"
    assert run("train", "--data", small_mnist_dir, "--epochs", 1, "--validation", 300,
               "--layers", "8", "--out", out, "-q").exit_code == 0
    r = run("evaluate", "--data", small_mnist_dir, "--weights", out, "--json")
    assert r.exit_code == 0
    report = json.loads(r.stdout)
    assert report["n"] == 2000 and 0 <= report["accuracy"] <= 1
    assert len(report["confusion"]) == 10 and sum(map(sum, report["confusion"])) == 2000
    assert report["accuracy"] == pytest.approx(weightfile.load(out)[1]["evaluation"]["accuracy"])


def test_evaluate_text_report(small_mnist_dir, tmp_path):
    out = tmp_path / "t.npz"
    run("train", "--data", small_mnist_dir, "--epochs", 1, "--validation", 300, "--out", out, "-q")
    r = run("evaluate", "--data", small_mnist_dir, "--weights", out)
    assert r.exit_code == 0
    assert "accuracy" in r.stdout and "confusion matrix" in r.stdout and "most confused" in r.stdout


@pytest.mark.parametrize("args,fragment", [
    (["evaluate", "--weights", "/nonexistent/w.npz"], "not found"),
    (["evaluate", "--data", "/nonexistent-folder"], "not found"),
    (["train", "--data", "/nonexistent-folder", "--out", "{tmp}/x.npz"], "not found"),
    (["train", "--out", "/nonexistent-folder/x.npz"], "does not exist"),
])
def test_clean_one_line_errors(args, fragment, tmp_path):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    r = subprocess.run([DIGITNET, *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("digitnet: ") and fragment in lines[0], r.stderr


def test_usage_error_exit_code_2():
    r = subprocess.run([DIGITNET, "train", "--epochs", "zero"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_diverging_training_fails_cleanly(small_mnist_dir, tmp_path):
    out = tmp_path / "d.npz"
    r = subprocess.run([DIGITNET, "train", "--data", str(small_mnist_dir), "--optimizer", "sgd",
                        "--lr", "1e38", "--epochs", "2", "--validation", "500", "--out", str(out), "-q"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "lower learning rate" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


# SIGTERM (a batch scheduler stopping the job) is treated exactly like Ctrl-C.
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_keeps_best_model_and_never_a_partial_file(small_mnist_dir, tmp_path, sig):
    out = tmp_path / "c.npz"
    proc = subprocess.Popen([DIGITNET, "train", "--data", str(small_mnist_dir), "--epochs", "500",
                             "--validation", "300", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Wait for the first finished epoch, then press Ctrl-C (or send SIGTERM).
    deadline = time.time() + 60
    seen = ""
    while time.time() < deadline and "elapsed" not in seen:
        seen += proc.stderr.readline()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err and "interrupted" in err
    net, card = weightfile.load(out)
    assert card["training"]["interrupted"] is True
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_download_against_local_server(tmp_path, http_files):
    url, files = http_files
    r = run("download", "--data", tmp_path / "d", env={"DIGITNET_MIRRORS": url})
    assert r.exit_code == 0, r.stderr
    assert sorted(os.listdir(tmp_path / "d")) == sorted(files)
    files["train-images-idx3-ubyte.gz"] = b"garbage"
    r = subprocess.run([DIGITNET, "download", "--data", str(tmp_path / "e")], capture_output=True,
                       text=True, timeout=60, env={**os.environ, "DIGITNET_MIRRORS": url})
    assert r.returncode == 1 and "checksum mismatch" in r.stderr
    # (The real process checks the real checksums: nothing verifies, so the folder it
    # created is removed again rather than left behind empty.)
    assert not (tmp_path / "e").exists()
    # In-process, with the fake checksums: the good files stay, the bad one never lands.
    r = run("download", "--data", tmp_path / "f", env={"DIGITNET_MIRRORS": url})
    assert r.exit_code == 1 and "checksum mismatch" in r.stderr
    assert sorted(os.listdir(tmp_path / "f")) == ["t10k-images-idx3-ubyte.gz",
                                                 "t10k-labels-idx1-ubyte.gz"]


def test_ctrl_c_before_first_epoch_keeps_existing_out_intact(small_mnist_dir, tmp_path):
    out = tmp_path / "keep.npz"
    assert run("train", "--data", small_mnist_dir, "--epochs", 1, "--validation", 300,
               "--out", out, "-q").exit_code == 0
    before = out.read_bytes(), out.with_suffix(".json").read_bytes()
    proc = subprocess.Popen([DIGITNET, "train", "--data", str(small_mnist_dir), "--epochs", "5",
                             "--layers", "2000,2000", "--validation", "300", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()          # "training ..." printed: the run has begun
    assert line.startswith("training")
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err
    assert (out.read_bytes(), out.with_suffix(".json").read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.json", "keep.npz"]


def test_quiet_training_prints_only_the_final_summary(small_mnist_dir, tmp_path):
    out = tmp_path / "q.npz"
    r = subprocess.run([DIGITNET, "train", "--data", str(small_mnist_dir), "--epochs", "2",
                        "--validation", "300", "--out", str(out), "-q"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and "test accuracy" in lines[0] and str(out) in lines[0], r.stderr


def test_progress_on_a_terminal_is_one_bar_with_an_eta(small_mnist_dir, tmp_path):
    # Through a pseudo-terminal, as a user sees it: one line per finished epoch, and below
    # them one bar over the whole run (redrawn in place with \r) that tells the ETA.
    import pty
    out = tmp_path / "p.npz"
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdout and stderr are the terminal
        os.execv(DIGITNET, [DIGITNET, "train", "--data", str(small_mnist_dir), "--epochs",
                            "3", "--validation", "300", "--batch-size", "16", "--out", str(out)])
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode()
    assert os.waitstatus_to_exitcode(status) == 0, text
    lines = text.replace("\r\n", "\n").split("\n")
    epoch_lines = [ln.split("\r")[-1] for ln in lines if "loss" in ln]
    assert [ln.split()[1] for ln in epoch_lines] == ["1/3", "2/3", "3/3"], text
    bars = [part for ln in lines for part in ln.split("\r") if "ETA" in part]
    assert bars and all("%" in b and "batch" in b for b in bars), text
    # The bar covers the whole run: its share grows across epochs, not per epoch.
    shares = [int(b.split("]")[1].split("%")[0]) for b in bars]
    assert shares == sorted(shares) and shares[-1] >= 66, shares
    assert "test accuracy" in lines[-2] or "test accuracy" in text.splitlines()[-1]
