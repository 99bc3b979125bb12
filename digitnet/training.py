"""Training: mini-batch gradient descent with backpropagation, vectorised over the batch.

One epoch shuffles the training images, cuts them into mini-batches, and for each batch
computes the gradient of the loss by backpropagation (:meth:`Network.backprop`) and takes
a step downhill with the chosen optimiser:

- ``sgd``: stochastic gradient descent with momentum -- a velocity that accumulates
  gradients, ``v = mu v - lr g; w += v`` -- which rolls through small bumps and ravines.
- ``adam``: Adam (Kingma & Ba 2015), which scales each weight's step by running estimates
  of its gradient's mean and spread, so one learning rate suits every layer.

The learning rate follows a schedule (``cosine`` from ``lr`` down to almost zero over the
run, ``step`` dividing by 10 at 50% and 75%, or ``constant``). L2 weight decay pulls
weights toward zero (weights only, never biases), which keeps the sigmoids out of
saturation and generalises better. Optional augmentation shows randomly distorted copies
of the images (:mod:`digitnet.augment`; a share renewed each epoch, see :class:`_Pool`),
synthetic digits in other writers' forms can join the data (:mod:`digitnet.handwriting`),
and an optional *teacher* network supplies soft targets (knowledge distillation: the small
network learns to imitate a big one's outputs, which carry more information than the bare
label).

A validation set held out of the training data picks the best epoch; the test set is never
looked at here. The same seed and data give identical weights on the same machine.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .errors import DigitnetError
from .evaluation import batch_size
from .network import Network, sigmoid
from .threads import blas_threads

__all__ = ["TrainingDiverged", "TrainConfig", "TrainResult", "Outcome", "train",
           "train_and_save", "split_validation", "accuracy", "model_card"]


class TrainingDiverged(DigitnetError):
    """The loss became NaN or infinite: the learning rate is too high for this setup."""


@dataclass
class TrainConfig:
    """Every choice that shapes a training run (all recorded in the model card).

    The defaults are digitnet's training recipe (``digitnet train`` without options): Adam
    with a per-layer rate, a cosine schedule, mild distortions, and -- when a teacher
    network is passed to :func:`train` -- its outputs softened at temperature 3 as targets.
    Without a teacher, the targets are the one-hot labels whatever ``teacher_weight`` says.
    """
    layers: list = field(default_factory=lambda: [784, 16, 16, 10])
    epochs: int = 150
    batch_size: int = 128
    lr: float = 0.06
    optimizer: str = "adam"          # "adam" or "sgd"
    momentum: float = 0.9            # sgd only
    loss: str = "cross-entropy"      # or "quadratic"
    schedule: str = "cosine"         # "cosine", "step" or "constant"
    weight_decay: float = 0.0        # L2 coefficient (weights, not biases)
    augment: bool = True
    augment_strength: float = 0.5    # multiplies every distortion's largest size
    augment_renew: float = 0.0625    # share of the distorted copies drawn anew each epoch
    styles: float = 1.0              # other writers' styles among the distortions (share)
    synthetic: float = 0.2           # digits drawn by digitnet.handwriting, per training image
    teacher_weight: float = 1.0      # share of the soft teacher targets in the target
    teacher_temperature: float = 3.0  # >1 softens the teacher's outputs: sigmoid(z / T)
    seed: int = 0
    validation: int = 5000           # images held out of the training set

    def n_synthetic(self, n_train: int) -> int:
        """How many digits drawn by code join ``n_train`` training images."""
        return round(self.synthetic * n_train)

    def as_card(self):
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class TrainResult:
    net: Network                # the network of the best validation epoch
    best_epoch: int
    best_val_accuracy: float
    history: list               # one dict per epoch: epoch, loss, val_accuracy, seconds
    seconds: float
    interrupted: bool = False


def accuracy(net, x, labels, batch=None):
    """Fraction of images in ``x`` (N, 784) whose brightest output equals the label."""
    batch = batch or batch_size(net)
    hits = 0
    for i in range(0, len(x), batch):
        hits += int(np.sum(net.predict(x[i:i + batch]) == labels[i:i + batch]))
    return hits / max(len(x), 1)


def split_validation(x, labels, n_val, seed):
    """Hold ``n_val`` random images (chosen by ``seed``) out of the training set.

    Returns ``(x_train, y_train, x_val, y_val)``.
    """
    if not 0 <= n_val < len(x):
        raise ValueError(f"cannot hold out {n_val} of {len(x)} images for validation")
    order = np.random.default_rng([seed, 1]).permutation(len(x))
    val, tr = order[:n_val], order[n_val:]
    return x[tr], labels[tr], x[val], labels[val]


def _lr_at(cfg, progress):
    """Learning rate at ``progress`` in [0, 1) of the run."""
    if cfg.schedule == "cosine":
        return cfg.lr * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * progress)))
    if cfg.schedule == "step":
        return cfg.lr * (1.0 if progress < 0.5 else 0.1 if progress < 0.75 else 0.01)
    if cfg.schedule == "constant":
        return cfg.lr
    raise ValueError(f"unknown schedule {cfg.schedule!r} (cosine, step or constant)")


def _fan_in_scale(cfg, n_in):
    """Adam's learning-rate multiplier for a layer with ``n_in`` inputs: min(1, 4/sqrt(n_in)).

    Adam moves every weight by about ``lr`` per step, whatever its gradient's size. A neuron
    of the first layer sums 784 such moves, mostly in the same direction (pixels are never
    negative), so its weighted sum jumps ~7x further per step than a neuron with 16 inputs
    and its sigmoid saturates and stops learning. Scaling the step by 1/sqrt(n_in) keeps
    the change of every weighted sum comparable; layers with 16 or fewer inputs keep the
    full rate. Plain SGD needs no such help: its steps already follow the gradient's size.
    """
    if cfg.optimizer != "adam":
        return 1.0
    return min(1.0, 4.0 / float(np.sqrt(n_in)))


class _Optimizer:
    """Holds the optimiser's state (velocities or moment estimates) for every parameter."""

    def __init__(self, cfg, params):
        self.cfg = cfg
        self.state = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
        self.scratch = [np.empty_like(p) for p in params]   # reused every step
        self.t = 0
        if cfg.optimizer not in ("adam", "sgd"):
            raise ValueError(f"unknown optimizer {cfg.optimizer!r} (adam or sgd)")

    def step(self, params, grads, lr, decay_mask, lr_scale=None):
        """Update ``params`` in place from ``grads`` at learning rate ``lr``."""
        cfg = self.cfg
        self.t += 1
        lrs = [lr * s for s in (lr_scale or [1.0] * len(params))]
        if cfg.optimizer == "sgd":
            for p, g, (v, _), decay, lr in zip(params, grads, self.state, decay_mask, lrs):
                if decay and cfg.weight_decay:
                    g = g + cfg.weight_decay * p
                v *= cfg.momentum
                v -= lr * g
                p += v
        else:
            b1, b2, eps = 0.9, 0.999, 1e-8
            c1, c2 = 1 - b1 ** self.t, 1 - b2 ** self.t
            for p, g, (m, v), tmp, decay, lr in zip(params, grads, self.state, self.scratch,
                                                    decay_mask, lrs):
                # m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2   (in place: no temporaries)
                m *= b1
                np.multiply(g, 1 - b1, out=tmp)
                m += tmp
                v *= b2
                np.multiply(g, g, out=tmp)
                tmp *= 1 - b2
                v += tmp
                # Decoupled weight decay (AdamW): shrink the weight itself, so the decay is
                # not rescaled by Adam's per-weight step sizes.
                if decay and cfg.weight_decay:
                    p *= 1 - lr * cfg.weight_decay
                # p -= lr/c1 * m / (sqrt(v/c2) + eps), with the bias corrections c1, c2
                np.multiply(v, 1 / c2, out=tmp)
                np.sqrt(tmp, out=tmp)
                tmp += eps
                np.divide(m, tmp, out=tmp)
                tmp *= lr / c1
                p -= tmp


def train(cfg, x_train, y_train, x_val, y_val, teacher=None, on_epoch=None, on_batch=None,
          net=None):
    """Train a network by ``cfg`` and return the best epoch's network (:class:`TrainResult`).

    ``x_*`` are float32 images (N, 784) in 0..1, ``y_*`` integer labels (N,). With
    ``cfg.synthetic`` > 0, ``round(synthetic * N)`` digits drawn by
    :mod:`digitnet.handwriting` join the training images (never the validation set). ``teacher`` is an optional trained
    :class:`Network` whose outputs on the same (distorted) images are mixed into the
    targets with share ``cfg.teacher_weight``. ``on_epoch(record)`` is called after every
    epoch with a dict (epoch, loss, val_accuracy, seconds, lr); ``on_batch(done, total)``
    after every mini-batch (for a progress bar).

    The matrix products run on one BLAS thread (:mod:`digitnet.threads`) unless the user
    set a thread count. Ctrl-C (KeyboardInterrupt) stops the run; if at least one epoch
    finished, the result holds the best network so far with ``interrupted=True``,
    otherwise it propagates. Raises :class:`TrainingDiverged` if the loss stops being
    finite.
    """
    from .augment import Augmenter
    from .handwriting import draw

    rng = np.random.default_rng(cfg.seed)
    if net is None:
        net = Network.random(cfg.layers, rng)
    augment = Augmenter(rng=rng.spawn(1)[0], strength=cfg.augment_strength,
                        styles=cfg.styles) if cfg.augment else None
    start = time.perf_counter()
    with blas_threads():  # one BLAS thread, unless the user chose a count
        n_synthetic = cfg.n_synthetic(len(x_train))
        if n_synthetic:
            xs, ys = draw(n_synthetic, rng.spawn(1)[0])
            x_train = np.concatenate([x_train, xs])
            y_train = np.concatenate([y_train, ys])
        use_teacher = teacher is not None and cfg.teacher_weight > 0
        pool = _Pool(x_train, augment, teacher if use_teacher else None, cfg)
        return _epochs(cfg, net, pool, y_train, x_val, y_val, rng, start, on_epoch, on_batch)


class _Pool:
    """The images training sees: one distorted copy of each training image (and the
    teacher's soft targets for it), of which a share ``cfg.augment_renew`` is drawn anew
    every epoch.

    Distorting an image costs ~15x what one gradient step on it costs for the default
    network, and the teacher's forward pass ~3x. Renewing a sixteenth of the copies per
    epoch divides both by sixteen. So that a copy kept for several epochs is not learnt by heart,
    each batch is cut from the copies at a fresh random offset of up to one pixel (they are
    stored in a 30x30 frame, and the 28x28 window is moved): free, as the batch is copied
    out of the pool anyway. (With ``augment_renew`` 1 every copy is new, and shown as is.)
    """

    _CHUNK = 512   # images distorted at once: large enough to vectorise, small to cache

    def __init__(self, x, augment, teacher, cfg):
        self.x, self.augment, self.teacher, self.cfg = x, augment, teacher, cfg
        # The distorted copies, each in a 30x30 frame of zeros (None: no augmentation).
        self.framed = None if augment is None else np.zeros((len(x), 30, 30), np.float32)
        self.soft = None if teacher is None else np.empty((len(x), 10), np.float32)
        if augment is not None or teacher is not None:
            self._make(np.arange(len(x)))

    @property
    def images(self):
        """The current copies, (N, 784) (a copy of them when augmenting)."""
        if self.framed is None:
            return self.x
        return self.framed[:, 1:29, 1:29].reshape(len(self.x), -1)

    def batch(self, idx, rng):
        """The images ``idx`` (k,) as the network trains on them: (k, 784) float32."""
        if self.framed is None:
            return self.x[idx]
        if self.cfg.augment_renew >= 1:  # every copy is new each epoch: shown as it is
            return self.framed[idx, 1:29, 1:29].reshape(len(idx), -1)
        dy, dx = rng.integers(0, 3, 2)
        return self.framed[idx, dy:dy + 28, dx:dx + 28].reshape(len(idx), -1)

    def renew(self, rng):
        """Draw new distortions for a random share ``cfg.augment_renew`` of the images."""
        if self.augment is None:
            return
        n = len(self.x)
        k = min(n, max(1, round(self.cfg.augment_renew * n)))
        self._make(np.sort(rng.choice(n, k, replace=False)) if k < n else np.arange(n))

    def _make(self, idx):
        for i in range(0, len(idx), self._CHUNK):
            part = idx[i:i + self._CHUNK]
            xb = self.x[part]
            if self.augment is not None:
                xb = self.augment(xb)
                self.framed[part, 1:29, 1:29] = xb.reshape(-1, 28, 28)
            if self.soft is not None:
                z_teacher = self.teacher.forward(xb)[1][-1]
                self.soft[part] = sigmoid(z_teacher / self.cfg.teacher_temperature)


def _epochs(cfg, net, pool, y_train, x_val, y_val, rng, start, on_epoch, on_batch):
    """The epochs of :func:`train`, on the images of ``pool``."""
    params = [p for pair in zip(net.weights, net.biases) for p in pair]
    decay_mask = [i % 2 == 0 for i in range(len(params))]      # weights yes, biases no
    opt = _Optimizer(cfg, params)
    lr_scale = [_fan_in_scale(cfg, w.shape[1]) for w in net.weights for _ in (0, 1)]
    n = len(y_train)
    batches = (n + cfg.batch_size - 1) // cfg.batch_size
    total_steps = cfg.epochs * batches
    eye = np.eye(10, dtype=np.float32)
    share = np.float32(cfg.teacher_weight)
    best = (-1.0, 0, None)
    history = []
    interrupted = False
    try:
        for epoch in range(1, cfg.epochs + 1):
            t0 = time.perf_counter()
            if epoch > 1:
                pool.renew(rng)
            order = rng.permutation(n)
            loss_sum = 0.0
            for b in range(batches):
                idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
                xb = pool.batch(idx, rng)
                yb = eye[y_train[idx]]
                if pool.soft is not None:
                    yb = (1 - share) * yb + share * pool.soft[idx]
                # A diverging run overflows: that is reported below, not warned about.
                with np.errstate(over="ignore", invalid="ignore"):
                    grad_w, grad_b, loss = net.backprop(xb, yb, cfg.loss)
                if not np.isfinite(loss):
                    raise TrainingDiverged(
                        f"the loss became {loss} in epoch {epoch}: training diverged; "
                        f"try a lower learning rate than --lr {cfg.lr}")
                loss_sum += loss * len(idx)
                grads = [g for pair in zip(grad_w, grad_b) for g in pair]
                lr = _lr_at(cfg, ((epoch - 1) * batches + b) / total_steps)
                with np.errstate(over="ignore", invalid="ignore"):
                    opt.step(params, grads, lr, decay_mask, lr_scale)
                if on_batch is not None:
                    on_batch(b + 1, batches)
            if not all(np.isfinite(p).all() for p in params):
                raise TrainingDiverged(f"weights became NaN or infinite in epoch {epoch}; "
                                       f"try a lower learning rate than --lr {cfg.lr}")
            with np.errstate(over="ignore", invalid="ignore"):
                val_acc = accuracy(net, x_val, y_val) if len(x_val) else float("nan")
            record = {"epoch": epoch, "loss": loss_sum / n, "val_accuracy": val_acc,
                      "seconds": time.perf_counter() - t0, "lr": float(lr)}
            history.append(record)
            # Keep a copy of the best epoch's parameters (by validation accuracy; without a
            # validation set, the last epoch).
            if not len(x_val) or val_acc > best[0]:
                best = (val_acc, epoch, ([w.copy() for w in net.weights],
                                         [b.copy() for b in net.biases]))
            if on_epoch is not None:
                on_epoch(record)
    except KeyboardInterrupt:
        if best[2] is None:
            raise
        interrupted = True
    val_acc, best_epoch, (ws, bs) = best
    return TrainResult(Network(ws, bs), best_epoch, val_acc, history,
                       time.perf_counter() - start, interrupted)


def _json_number(v):
    """A float for JSON: rounded, and None for NaN/inf (not valid JSON)."""
    return round(v, 6) if math.isfinite(v) else None


def model_card(cfg, result, *, name, n_images, n_train, n_val, command, environment,
               teacher, test_report, eval_command):
    """The model card's description of a training run (``weightfile.save`` adds the rest).

    ``result`` is the :class:`TrainResult`, ``test_report`` what
    :func:`digitnet.evaluation.evaluate` measured on the test set, ``command`` the exact
    command line (with any thread settings) that reproduces the weights.
    """
    from . import __version__
    return {
        "name": name,
        "training": {
            "data": f"MNIST training set (Y. LeCun, C. Cortes, C. J. C. Burges; CC BY-SA 3.0), "
                    f"{n_images:,} images: {n_train:,} trained on, {n_val:,} held out for "
                    "validation (chosen by the seed)"
                    + (f"; plus {cfg.n_synthetic(n_train):,} digits drawn by code as "
                       "pen strokes (digitnet.handwriting, from the seed)"
                       if cfg.synthetic else ""),
            "command": command,
            "environment": environment,
            **cfg.as_card(),
            "initialisation": "normal(0, 1/sqrt(n_in)) weights, zero biases",
            "teacher": teacher,
            "best_epoch": result.best_epoch,
            # Without a validation set there is no validation accuracy: null, not NaN.
            "validation_accuracy": (result.best_val_accuracy
                                    if math.isfinite(result.best_val_accuracy) else None),
            "seconds": round(result.seconds, 2),
            "interrupted": result.interrupted,
            "history": [{k: _json_number(v) if isinstance(v, float) else v
                         for k, v in r.items()} for r in result.history],
            "numpy": np.__version__,
            "digitnet_version": __version__,
        },
        "evaluation": {
            "data": f"MNIST test set (t10k), {test_report['n']:,} images",
            "command": eval_command,
            "accuracy": test_report["accuracy"],
            "correct": test_report["correct"],
            "n": test_report["n"],
        },
    }


@dataclass
class Outcome:
    """A finished :func:`train_and_save`: what was trained, measured and written."""
    result: TrainResult
    report: dict                # evaluation on the test set (digitnet.evaluation.evaluate)
    npz: str                    # the paths written
    card: str
    interrupted: bool           # stopped early, or Ctrl-C came while saving


def train_and_save(cfg, out, x, y, x_test, y_test, *, command, environment=None,
                   teacher=None, teacher_name=None, on_start=None, on_epoch=None,
                   on_batch=None):
    """The whole of ``digitnet train``: hold out a validation set, train, check the network,
    measure it on the test set, and save weights and model card together.

    ``x, y`` the training images (N, 784) and labels, ``x_test, y_test`` the test set,
    ``out`` the npz path, ``command`` the exact command line recorded in the card.
    ``on_start(n_train, n_val)`` is called once the split is made. Returns an
    :class:`Outcome`.

    A finished epoch is never lost: Ctrl-C (KeyboardInterrupt) during training keeps the
    best epoch so far (if none finished, it propagates and nothing is written), and one
    arriving during the final evaluation or the save waits until both files are written.
    Raises :class:`TrainingDiverged`, :class:`~digitnet.errors.WeightFileError` (a network
    too large to save), ValueError (a validation set larger than the data) and OSError
    (the files cannot be written).
    """
    import os
    import shlex

    from . import weightfile
    from .evaluation import evaluate
    from .files import signals_held

    out = weightfile.npz_path(out)
    weightfile.check_sizes(cfg.layers)
    x_tr, y_tr, x_val, y_val = split_validation(x, y, cfg.validation, cfg.seed)
    if on_start is not None:
        on_start(len(x_tr), len(x_val))
    # Overflow on the way to divergence is reported once (TrainingDiverged), not as a
    # screenful of numpy RuntimeWarnings.
    with np.errstate(over="ignore", invalid="ignore"):
        result = train(cfg, x_tr, y_tr, x_val, y_val, teacher=teacher, on_epoch=on_epoch,
                       on_batch=on_batch)
    saved = None
    try:
        with signals_held():
            try:
                # A run can also end with finite weights too large to use (their weighted
                # sums overflow): never write a weight file that `load` would refuse.
                weightfile.check(result.net, "the trained network")
            except weightfile.WeightFileError as e:
                raise TrainingDiverged(f"training diverged: {e}; try a lower learning rate "
                                       f"than --lr {cfg.lr}") from None
            report = evaluate(result.net, x_test, y_test)
            card = model_card(cfg, result, name=os.path.splitext(os.path.basename(out))[0],
                              n_images=len(x), n_train=len(x_tr), n_val=len(x_val),
                              command=command, environment=environment or {},
                              teacher=teacher_name, test_report=report,
                              eval_command=f"digitnet evaluate --weights {shlex.quote(out)}")
            saved = weightfile.save(out, result.net, card)
    except KeyboardInterrupt:   # held during the save, delivered once it completed
        if saved is None:
            raise
        return Outcome(result, report, saved[0], saved[1], True)
    return Outcome(result, report, saved[0], saved[1], result.interrupted)
