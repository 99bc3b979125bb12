"""How right are answers above and below the confidence margin? (digitnet.CONFIDENT_MARGIN)

    python benchmarks/confidence.py [--weights default --weights wide]

For each model, on the bundled MNIST test set (10,000 digits; MNIST by Y. LeCun, C. Cortes
and C. Burges, CC BY-SA 3.0), prints the share of answers below each margin threshold and
the accuracy of the answers below and above it, and which share of all wrong answers the
threshold catches. The row for digitnet.CONFIDENT_MARGIN is marked.
"""

from __future__ import annotations

import argparse

import numpy as np

import digitnet
from digitnet import mnist


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", action="append", default=[], metavar="NAME|PATH")
    args = parser.parse_args(argv)
    x, y = mnist.load_split(mnist.bundled_dir(), "test")
    for spec in args.weights or ["default", "wide"]:
        model = digitnet.load(spec)
        results = model.results(x)
        margin = np.array([r.margin for r in results])
        right = np.array([r.digit for r in results]) == y
        print(f"\nmodel {spec}: accuracy {right.mean():.2%} on {len(y):,} MNIST test digits")
        print(f"{'margin':>8} {'below':>7} {'acc below':>10} {'acc above':>10} {'errors caught':>14}")
        for t in (0.1, 0.2, 0.3, 0.4, 0.5):
            low = margin < t
            mark = "  <- CONFIDENT_MARGIN" if t == digitnet.CONFIDENT_MARGIN else ""
            print(f"{t:>8.1f} {low.mean():>7.1%} {right[low].mean():>10.1%} "
                  f"{right[~low].mean():>10.2%} {(~right & low).sum() / (~right).sum():>14.1%}{mark}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
