#!/usr/bin/env python3
"""BLAS threads: digitnet's own choice against forced 1 and forced 2 threads, on an idle
machine and with one core kept busy by another program.

    python benchmarks/threads.py [--data ../shared/data/mnist] [--epochs 3] [--files 5000]
                                 [--only train,classify] [--models default,wide] [--repeat 2]

For each shipped model's architecture and each condition (idle; a CPU-bound competing
process pinned to core 0) it runs, each in a fresh process:

``train``
    ``digitnet.training.train`` with the model's recipe for ``--epochs`` epochs on the
    MNIST training set: the default network with the default recipe (styles, synthetic
    digits, the shipped wide model as teacher), the wide 784-512-256-10 network as its card
    trains it (strength-1 distortions renewed every epoch, no teacher). Figure: the median
    seconds per epoch, the best of ``--repeat`` rounds.
``classify``
    The whole ``digitnet classify DIR -q -w MODEL`` command on ``--files`` MNIST test
    digits saved as PNGs (black on white), best of 3 runs per round, in files/s.

The three thread settings: digitnet's choice (no thread variable set), and
``OPENBLAS_NUM_THREADS=1`` / ``=2`` in the environment (which digitnet honours and
leaves alone). Prints a markdown table per job: seconds (or files/s) per setting, and
digitnet's choice against the best of the forced ones (target: within 1.1x). The
training data is ``--data`` (default: ``../shared/data/mnist`` beside the repository);
MNIST: Y. LeCun, C. Cortes and C. J. C. Burges, CC BY-SA 3.0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from imageset import SHARED_MNIST, Busy, mnist_pngs

HERE = Path(__file__).resolve().parent
SETTINGS = (("digitnet's choice", None), ("forced 1", "1"), ("forced 2", "2"))
# (hidden layers, TrainConfig overrides, teacher): the wide card's recipe, and for the
# default network today's `digitnet train` defaults (the shipped default model is older).
RECIPES = {
    "default": ([16, 16], {}, "wide"),
    "wide": ([512, 256], {"lr": 0.02, "augment_strength": 1.0, "augment_renew": 1.0}, None),
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def env_for(threads):
    """This environment without any thread variable, plus OPENBLAS_NUM_THREADS=threads."""
    from digitnet.threads import USER_VARIABLES
    env = {k: v for k, v in os.environ.items() if k not in USER_VARIABLES}
    if threads is not None:
        env["OPENBLAS_NUM_THREADS"] = threads
    return env


def worker_train(model, data, epochs):
    """(In a child process.) Median seconds per epoch of ``model``'s recipe."""
    import digitnet
    from digitnet import mnist, training
    layers, overrides, teacher = RECIPES[model]
    x, y = mnist.load_split(data, "train")
    cfg = training.TrainConfig(layers=[784, *layers, 10], epochs=epochs, **overrides)
    x_tr, y_tr, x_val, y_val = training.split_validation(x, y, cfg.validation, cfg.seed)
    net = digitnet.load(teacher).network if teacher else None
    res = training.train(cfg, x_tr, y_tr, x_val, y_val, teacher=net)
    # Epoch 1 draws no new distortions (the first ones are made before it): leave it out.
    per = [r["seconds"] for r in res.history[1:]] or [res.history[0]["seconds"]]
    return {"median": statistics.median(per), "all": per}


def run_worker(args, threads):
    cmd = [sys.executable, __file__, "--worker", json.dumps(args)]
    out = subprocess.run(cmd, env=env_for(threads), capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def time_classify(folder, model, threads, reps=3):
    # The digitnet of this interpreter, not whichever one is first on PATH.
    cmd = [str(Path(sys.executable).parent / "digitnet"), "classify", str(folder), "-q",
           "-w", model]
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        subprocess.run(cmd, env=env_for(threads), stdout=subprocess.DEVNULL, check=True)
        best = min(best, time.perf_counter() - t)
    return best


def table(title, unit, results, higher_better):
    lines = [f"\n{title}\n", f"| model | condition | {' | '.join(s for s, _ in SETTINGS)} | "
             "digitnet vs best forced | within 1.1x |", "|---" * (len(SETTINGS) + 4) + "|"]
    for (model, cond), vals in results.items():
        ours = vals[SETTINGS[0][0]]
        forced = [vals[s] for s, t in SETTINGS if t is not None]
        best = max(forced) if higher_better else min(forced)
        ratio = best / ours if higher_better else ours / best
        cells = [f"{vals[s]:.3f} {unit}" if unit == "s" else f"{vals[s]:,.0f} {unit}"
                 for s, _ in SETTINGS]
        lines.append(f"| {model} | {cond} | {' | '.join(cells)} | {ratio:.2f}x | "
                     f"{'yes' if ratio <= 1.1 else '**no**'} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(SHARED_MNIST))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--only", default="train,classify")
    ap.add_argument("--models", default="default,wide")
    ap.add_argument("--repeat", type=int, default=2,
                    help="rounds over the settings; each setting keeps its best (2)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        p = json.loads(a.worker)
        print(json.dumps(worker_train(p["model"], p["data"], p["epochs"])))
        return
    jobs, models = a.only.split(","), a.models.split(",")
    log(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at the start")
    out = []
    for job in jobs:
        results = {}
        with tempfile.TemporaryDirectory() as tmp:
            if job == "classify":
                mnist_pngs(Path(tmp), a.files)
            for cond in ("idle", "one core busy"):
                for model in models:
                    vals = {}
                    # --repeat rounds over the three settings in turn; each keeps its best,
                    # so that a slow moment of the machine hits no setting alone.
                    for _ in range(a.repeat):
                        for name, threads in SETTINGS:
                            with Busy() if cond != "idle" else contextlib.nullcontext():
                                if job == "train":
                                    v = run_worker({"model": model, "data": a.data,
                                                    "epochs": a.epochs}, threads)["median"]
                                    vals[name] = min(v, vals.get(name, v))
                                else:
                                    v = a.files / time_classify(tmp, model, threads)
                                    vals[name] = max(v, vals.get(name, v))
                            log(f"{job} {model} {cond} {name}: {v:.3f}")
                    results[(model, cond)] = vals
        if job == "train":
            out.append(table(f"Training: seconds per epoch ({a.epochs} epochs, the first "
                             "left out; the model's recipe)", "s", results, False))
        else:
            out.append(table(f"`digitnet classify DIR -q -w MODEL` on {a.files:,} PNGs "
                             "(best of 3)", "files/s", results, True))
    print("\n".join(out))


if __name__ == "__main__":
    main()
