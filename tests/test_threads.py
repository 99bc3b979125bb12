"""BLAS threads: one for digitnet's work, the user's own choice never overridden."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import DIGITNET
from threadpoolctl import threadpool_info, threadpool_limits

import digitnet
from digitnet import threads, training, weightfile
from digitnet.training import TrainConfig


def blas_threads_now():
    pools = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    if not pools:
        pytest.skip("numpy has no BLAS that threadpoolctl can see")
    return pools


@pytest.fixture
def no_user_setting(monkeypatch):
    for k in threads.USER_VARIABLES:
        monkeypatch.delenv(k, raising=False)


def test_user_setting_is_read_from_every_variable(monkeypatch, no_user_setting):
    assert threads.user_setting() == {} and threads.chosen_threads() == 1
    for k in threads.USER_VARIABLES:
        monkeypatch.setenv(k, "3")
        assert threads.user_setting() == {k: "3"} and threads.chosen_threads() is None
        monkeypatch.delenv(k)
    monkeypatch.setenv("OMP_NUM_THREADS", " ")  # blank: not a choice
    assert threads.chosen_threads() == 1


def _threads_seen_in_training(mnist_test):
    x, y = mnist_test
    seen = []
    cfg = TrainConfig(epochs=1, batch_size=100, augment=False, synthetic=0)
    training.train(cfg, x[:300], y[:300], x[:0], y[:0],
                   on_batch=lambda done, total: seen.append(blas_threads_now()))
    return seen


def test_training_runs_on_one_thread_and_restores_the_pool(mnist_test, no_user_setting):
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads_now()
        seen = _threads_seen_in_training(mnist_test)
        assert seen and all(all(n == 1 for n in s) for s in seen), seen
        assert blas_threads_now() == before


def test_a_users_thread_count_is_left_alone(mnist_test, monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads_now()
        seen = _threads_seen_in_training(mnist_test)
        assert seen and all(s == before for s in seen), (seen, before)


def test_batch_classification_runs_on_one_thread(mnist_test, no_user_setting, monkeypatch):
    model = digitnet.load("default")
    seen = []
    forward = model.network.forward

    def spy(x):
        seen.append(blas_threads_now())
        return forward(x)

    monkeypatch.setattr(model.network, "forward", spy)
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads_now()
        results = model.results(mnist_test[0][:50])
        assert blas_threads_now() == before
    assert len(results) == 50 and seen and all(n == 1 for n in seen[0])
    assert np.mean([r.digit for r in results] == mnist_test[1][:50]) > 0.9


# -- the digitnet command: one thread from the very start --------------------------------

_PROBE = """
import json, os, sys
sys.argv[0] = sys.argv[1]           # what the process was started as
import digitnet.cli.main            # the command's module: before numpy, as when run
import numpy
from threadpoolctl import threadpool_info
from digitnet import threads
print(json.dumps({"pools": [p["num_threads"] for p in threadpool_info()
                            if p["user_api"] == "blas"],
                  "user": threads.user_setting(), "chosen": threads.chosen_threads(),
                  "env": os.environ.get("OPENBLAS_NUM_THREADS")}))
"""


def _probe(argv0, **env):
    clean = {k: v for k, v in os.environ.items() if k not in threads.USER_VARIABLES}
    r = subprocess.run([sys.executable, "-c", _PROBE, argv0], capture_output=True,
                       text=True, timeout=60, env={**clean, **env})
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout)
    if not seen["pools"]:
        pytest.skip("numpy has no BLAS that threadpoolctl can see")
    return seen


def test_the_command_starts_its_blas_with_one_thread_and_calls_it_its_own_choice():
    seen = _probe("/usr/local/bin/digitnet")
    assert seen["pools"] == [1] and seen["env"] == "1"
    # digitnet's own setting is not the user's: not written into a model card's command
    assert seen["user"] == {} and seen["chosen"] == 1


def test_the_command_keeps_the_users_thread_count_from_the_start():
    seen = _probe("/usr/local/bin/digitnet", OPENBLAS_NUM_THREADS="2")
    assert seen["pools"] == [2] and seen["user"] == {"OPENBLAS_NUM_THREADS": "2"}
    seen = _probe("/usr/local/bin/digitnet", OMP_NUM_THREADS="2")
    assert seen["env"] is None and seen["user"] == {"OMP_NUM_THREADS": "2"}


def test_a_program_that_imports_digitnet_keeps_its_own_blas():
    seen = _probe("my_program.py")
    assert seen["env"] is None and seen["user"] == {} and seen["chosen"] == 1


def test_a_model_trained_by_the_command_records_no_thread_variable(small_mnist_dir, tmp_path):
    clean = {k: v for k, v in os.environ.items() if k not in threads.USER_VARIABLES}
    for extra, prefix in (({}, "digitnet train"),
                          ({"OPENBLAS_NUM_THREADS": "2"}, "OPENBLAS_NUM_THREADS=2 digitnet train")):
        out = tmp_path / f"m{len(extra)}.npz"
        r = subprocess.run([DIGITNET, "train", "--data", str(small_mnist_dir), "--epochs", "1",
                            "--validation", "300", "--layers", "8", "--out", str(out), "-q"],
                           capture_output=True, text=True, timeout=120, env={**clean, **extra})
        assert r.returncode == 0, r.stderr
        training = weightfile.load(out)[1]["training"]
        assert training["command"].startswith(prefix + " "), training["command"]
        assert training["environment"]["blas_threads"] == (None if extra else 1)
        assert {k: v for k, v in training["environment"].items()
                if k in threads.USER_VARIABLES} == extra
