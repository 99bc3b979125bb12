#!/usr/bin/env python3
"""Accuracy on MNIST test digits saved as PNG files, against the raw arrays.

Users hand digitnet image files, not MNIST arrays. This script saves every MNIST test digit
(the bundled t10k set) as a PNG -- white on black as in MNIST, and inverted, black on white
as on paper -- then classifies the files the way ``digitnet classify`` does (decode,
normalise, network) and compares with the accuracy of the same weights on the raw arrays.
The difference must stay within 0.5 points.

    python benchmarks/mnist_png.py [--weights default --weights wide] [--n 10000]

MNIST: Y. LeCun, C. Cortes, C. J. C. Burges, CC BY-SA 3.0.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
from PIL import Image

from digitnet import mnist
from digitnet.batch import load_inputs
from digitnet.training import accuracy
from digitnet.weightfile import load


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", action="append", default=[], metavar="PATH|NAME")
    parser.add_argument("--n", type=int, default=10000, help="test digits to use (default all)")
    args = parser.parse_args(argv)
    specs = args.weights or ["default", "wide"]
    x, y = mnist.load_split(mnist.bundled_dir(), "test")
    x, y = x[:args.n], y[:args.n]
    jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    with tempfile.TemporaryDirectory() as tmp:
        inputs = {}
        for polarity in ("white-on-black", "black-on-white"):
            t0 = time.perf_counter()
            paths = []
            for i, img in enumerate(np.round(x * 255).astype(np.uint8)):
                pixels = img if polarity == "white-on-black" else 255 - img
                path = os.path.join(tmp, f"{polarity}-{i:05d}.png")
                Image.fromarray(pixels.reshape(28, 28)).save(path)
                paths.append(path)
            loaded = list(load_inputs(paths, jobs=jobs))
            bad = [i for i, r in enumerate(loaded) if not isinstance(r, np.ndarray)]
            good = np.stack([r if isinstance(r, np.ndarray) else np.zeros(784, np.float32)
                             for r in loaded])
            inputs[polarity] = (good, bad)
            print(f"{polarity}: {len(paths)} PNGs written and loaded in "
                  f"{time.perf_counter() - t0:.1f}s, {len(bad)} failed to load", file=sys.stderr)
        print(f"{'model':<10} {'raw arrays':>11} {'PNG white/black':>16} {'PNG black/white':>16}"
              f" {'worst diff':>11}")
        for spec in specs:
            net = load(spec)[0]
            raw = accuracy(net, x, y)
            accs = []
            for polarity in ("white-on-black", "black-on-white"):
                good, bad = inputs[polarity]
                pred = net.predict(good)
                pred[bad] = -1                      # a file that failed to load is wrong
                accs.append(float(np.mean(pred == y)))
            worst = max(abs(a - raw) for a in accs)
            print(f"{spec:<10} {100 * raw:>10.2f}% {100 * accs[0]:>15.2f}% "
                  f"{100 * accs[1]:>15.2f}% {100 * worst:>9.2f}pt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
