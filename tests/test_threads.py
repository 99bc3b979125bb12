"""BLAS threads: one for digitnet's work, the user's own choice never overridden."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import digitnet
from digitnet import threads, training
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
