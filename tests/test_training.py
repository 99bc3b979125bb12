"""Training: a tiny network learns, a short run on a slice beats chance by far, runs are reproducible."""

import numpy as np
import pytest

from digitnet import training
from digitnet.augment import Augmenter
from digitnet.network import Network
from digitnet.training import TrainConfig, TrainingDiverged


def test_tiny_network_learns_a_toy_problem():
    # Two blobs of "pixels": digit 0 lights the left half, digit 1 the right half.
    rng = np.random.default_rng(0)
    n = 400
    labels = rng.integers(0, 2, n)
    x = rng.random((n, 784)).astype(np.float32) * 0.3
    x[labels == 0, :392] += 0.5
    x[labels == 1, 392:] += 0.5
    x = np.clip(x, 0, 1)
    # Plain SGD, as in the classic textbook loop. (Adam's sign-like first steps move all 784
    # weights of a neuron the same way, which saturates sigmoids on such dense inputs.)
    cfg = TrainConfig(layers=[784, 4, 10], epochs=10, batch_size=20, lr=0.1, optimizer="sgd",
                      validation=0, augment=False)
    res = training.train(cfg, x, labels, x[:0], labels[:0])
    assert training.accuracy(res.net, x, labels) == 1.0
    assert res.history[-1]["loss"] < res.history[0]["loss"]


# The quadratic cost learns more slowly (its gradient vanishes where sigmoids saturate).
@pytest.mark.parametrize("optimizer,lr,loss,bar", [("adam", 0.06, "cross-entropy", 0.8),
                                                   ("sgd", 0.1, "cross-entropy", 0.8),
                                                   ("adam", 0.06, "quadratic", 0.6)])
def test_short_training_on_a_slice_beats_chance_by_far(mnist_test, optimizer, lr, loss, bar):
    x, y = mnist_test
    cfg = TrainConfig(epochs=4, batch_size=32, lr=lr, optimizer=optimizer, loss=loss, seed=1,
                      augment=False)
    res = training.train(cfg, x[:3000], y[:3000], x[3000:4000], y[3000:4000])
    acc = training.accuracy(res.net, x[5000:7000], y[5000:7000])
    assert acc > bar, acc                    # chance is 0.10
    assert res.best_val_accuracy == max(h["val_accuracy"] for h in res.history)


def test_same_seed_same_weights(mnist_test):
    x, y = mnist_test
    cfg = TrainConfig(epochs=2, seed=5, augment=True, weight_decay=1e-4)
    a = training.train(cfg, x[:1500], y[:1500], x[1500:1800], y[1500:1800]).net
    b = training.train(cfg, x[:1500], y[:1500], x[1500:1800], y[1500:1800]).net
    c = training.train(TrainConfig(epochs=2, seed=6, augment=True, weight_decay=1e-4),
                       x[:1500], y[:1500], x[1500:1800], y[1500:1800]).net
    assert all(np.array_equal(p, q) for p, q in zip(a.weights + a.biases, b.weights + b.biases))
    assert not np.array_equal(a.weights[0], c.weights[0])


def test_divergence_is_reported(mnist_test):
    x, y = mnist_test
    cfg = TrainConfig(epochs=2, optimizer="sgd", lr=1e38, seed=0)
    with pytest.raises(TrainingDiverged, match="lower learning rate"):
        training.train(cfg, x[:500], y[:500], x[500:600], y[500:600])


def test_teacher_targets_are_used(mnist_test):
    x, y = mnist_test
    teacher = Network.random([784, 10], rng=0)
    cfg = TrainConfig(layers=[784, 10], epochs=1, teacher_weight=1.0, teacher_temperature=1.0,
                      validation=0, lr=0.05, augment=False)
    res = training.train(cfg, x[:2000], y[:2000], x[:0], y[:0], teacher=teacher)
    # Trained only on a random teacher's outputs, the student imitates it, not the labels.
    agree = np.mean(res.net.predict(x[2000:3000]) == teacher.predict(x[2000:3000]))
    assert agree > 0.5 and training.accuracy(res.net, x[2000:3000], y[2000:3000]) < 0.5


def test_validation_split_is_disjoint_and_seeded(mnist_test):
    x, y = mnist_test
    xt, yt, xv, yv = training.split_validation(x[:1000], y[:1000], 100, seed=3)
    assert len(xt) == 900 and len(xv) == 100
    again = training.split_validation(x[:1000], y[:1000], 100, seed=3)
    assert np.array_equal(again[2], xv)
    with pytest.raises(ValueError):
        training.split_validation(x[:10], y[:10], 10, seed=0)


def test_augmenter_keeps_digits_recognisable(mnist_test):
    x, y = mnist_test
    aug = Augmenter(rng=0)
    out = aug(x[:200])
    assert out.shape == (200, 784) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1
    assert not np.array_equal(out, x[:200])
    # Distorted, but on average still much closer to its own original than to other images.
    corr = np.corrcoef(out, x[:200])[:200, 200:]
    own = np.diag(corr).mean()
    others = (corr.sum() - np.trace(corr)) / (200 * 199)
    assert own > 0.5 and own > others + 0.25, (own, others)
    # With every distortion off, MNIST's digits come back as they were (they already are
    # what normalise() makes: longer side 20 px, centre of mass at (14, 14)), give or take
    # the sub-pixel shift of MNIST's integer placement.
    still = Augmenter(rotate=0, shear=0, shift=0, elastic=0, thickness=0, rng=0, styles=False)
    corr = np.corrcoef(still(x[:50]), x[:50])[:50, 50:]
    assert np.diag(corr).min() > 0.85, np.diag(corr).min()


def _extent_and_centre(images):
    img = images.reshape(-1, 28, 28)
    ink = img > 0.05
    rows, cols = ink.any(axis=2), ink.any(axis=1)
    height = 28 - rows.argmax(1) - rows[:, ::-1].argmax(1)
    width = 28 - cols.argmax(1) - cols[:, ::-1].argmax(1)
    r = np.arange(28)
    mass = img.sum(axis=(1, 2))
    com = np.stack([(img.sum(2) @ r) / mass, (img.sum(1) @ r) / mass], axis=1)
    return np.maximum(height, width), height / width, com


def test_distortions_keep_what_normalise_guarantees(mnist_test):
    # Whatever the warp, the digit's longer side is 20 px and its centre of mass near
    # (14, 14) -- what classify feeds the network -- so training sees the same layout.
    x, y = mnist_test
    out = Augmenter(rng=1, strength=1.0, elastic=0.0)(x[:500])
    side, _, com = _extent_and_centre(out)
    # (Resampling at a sub-pixel offset adds a faint fringe pixel: 20 or 21.)
    assert np.median(side) in (20, 21) and np.mean(np.abs(side - 20.5) <= 2) > 0.95
    assert np.abs(com - 14.0).max() < 1.6, np.abs(com - 14.0).max()


def test_styles_stretch_some_digits_to_fill_a_box(mnist_test):
    x, y = mnist_test
    ones = x[:3000][y[:3000] == 1][:300]
    _, plain_aspect, _ = _extent_and_centre(Augmenter(rng=2, styles=False)(ones))
    _, styled_aspect, _ = _extent_and_centre(Augmenter(rng=2, styles=True)(ones))
    # A 1 is tall and thin (height/width ~3); box-filled ones come out nearly square.
    plain, styled = np.mean(plain_aspect < 1.5), np.mean(styled_aspect < 1.5)
    assert plain < 0.1 and 0.05 < styled - plain < 0.3, (plain, styled)


def test_a_share_of_the_distortions_is_renewed_each_epoch(mnist_test):
    x, y = mnist_test
    cfg = TrainConfig(augment_renew=0.25)
    pool = training._Pool(x[:800], Augmenter(rng=0), None, cfg)
    before = pool.images.copy()
    pool.renew(np.random.default_rng(0))
    changed = np.any(pool.images != before, axis=1)
    assert changed.sum() == 200


def test_the_default_recipe_with_a_teacher_learns(mnist_test):
    # The recipe `digitnet train` uses: distorted images, a teacher's softened outputs.
    x, y = mnist_test
    teacher_cfg = TrainConfig(epochs=3, batch_size=32, augment=False, seed=2)
    teacher = training.train(teacher_cfg, x[:3000], y[:3000], x[:0], y[:0]).net
    cfg = TrainConfig(epochs=3, batch_size=32, seed=3)
    assert cfg.augment and cfg.teacher_weight == 1.0 and cfg.teacher_temperature == 3.0
    res = training.train(cfg, x[:3000], y[:3000], x[3000:3500], y[3000:3500], teacher=teacher)
    assert training.accuracy(res.net, x[5000:7000], y[5000:7000]) > 0.6


def test_cli_defaults_are_the_library_recipe():
    # The CLI keeps its defaults literal (so `digitnet classify` never imports training
    # code); they must stay equal to TrainConfig's.
    from digitnet.cli.main import train as train_command
    defaults = {p.name: p.default for p in train_command.params}
    cfg = TrainConfig()
    for name in ("epochs", "batch_size", "lr", "optimizer", "momentum", "loss", "schedule",
                 "weight_decay", "augment", "augment_strength", "teacher_weight",
                 "teacher_temperature", "validation", "seed"):
        assert defaults[name] == getattr(cfg, name), name
    assert defaults["layers"] == "16,16" and cfg.layers == [784, 16, 16, 10]
