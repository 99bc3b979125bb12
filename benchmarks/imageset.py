"""What the benchmarks share -- the image sets (``scenes.py``, ``styles.py``,
``realworld.py``) most of it: small random tools,
making a set's images in worker processes, its ``labels.csv``, loading the images
through digitnet's pipeline without letting one crash stop the benchmark, the
command-line options of their ``make`` and ``score`` commands, markdown tables, and a
busy core for the timing benchmarks.

Imported by the scripts beside it (``python benchmarks/NAME.py`` puts this folder on the
path). Only the standard library and numpy here; digitnet is imported where it is used.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

#: The development copy of MNIST, beside the repository (see ../shared/README.md).
SHARED_MNIST = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mnist"


def uniform(rng, lo, hi) -> float:
    """A uniform random number in lo..hi."""
    return float(rng.uniform(lo, hi))


def chance(rng, p) -> bool:
    """True with probability ``p``."""
    return bool(rng.random() < p)


def pick(rng, options, p=None):
    """A random element of ``options`` (probabilities ``p``; uniform without)."""
    return options[int(rng.choice(len(options), p=p))]


def to_u8(a: np.ndarray) -> np.ndarray:
    """0..1 floats -> uint8."""
    return (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)


def pct(num, den) -> str:
    """``num / den`` as a percentage, or "-"."""
    return f"{100 * num / den:.1f}%" if den else "-"


def make_all(make_one, tasks, jobs=1, chunksize=4) -> list:
    """``[make_one(t) for t in tasks]``, in ``jobs`` forked worker processes when > 1 (the
    images depend only on their task, never on the worker)."""
    if jobs > 1 and len(tasks) > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            return pool.map(make_one, tasks, chunksize=chunksize)
    return [make_one(t) for t in tasks]


def write_labels(outdir, fields, rows) -> None:
    """``OUTDIR/labels.csv``: a header of ``fields``, then ``rows`` (dicts, or lists in the
    order of ``fields``)."""
    with open(Path(outdir) / "labels.csv", "w", newline="") as f:
        if rows and isinstance(rows[0], dict):
            writer = csv.DictWriter(f, fields)
            writer.writeheader()
        else:
            writer = csv.writer(f)
            writer.writerow(fields)
        writer.writerows(rows)


def read_labels(outdir) -> list:
    """The rows of ``OUTDIR/labels.csv`` as dicts of strings."""
    with open(Path(outdir) / "labels.csv", newline="") as f:
        return list(csv.DictReader(f))


def mnist_pngs(folder, n) -> None:
    """The first ``n`` MNIST test digits (the copy shipped with digitnet; Y. LeCun,
    C. Cortes, C. J. C. Burges, CC BY-SA 3.0) as 28x28 PNGs in ``folder``, black ink on
    white paper, named ``NNNNN_LABEL.png``."""
    from PIL import Image

    from digitnet import mnist
    x, y = mnist.load_split(mnist.bundled_dir(), "test")
    pixels = (255 - np.round(x[:n] * 255)).astype(np.uint8).reshape(-1, 28, 28)
    for i, (img, label) in enumerate(zip(pixels, y[:n])):
        Image.fromarray(img, mode="L").save(Path(folder) / f"{i:05d}_{label}.png")


def load_all(paths, jobs):
    """Per path: the (784,) input array, or an ImageError; a crash of the pipeline itself
    (anything else) is caught per file, so that one bug does not stop the benchmark."""
    from digitnet.batch import load_input, load_inputs

    results = []
    try:
        results.extend(load_inputs(paths, jobs=jobs))
    except Exception as exc:  # noqa: BLE001 - a pipeline bug: carry on file by file
        print(f"load_inputs crashed after {len(results)} files ({type(exc).__name__}: "
              f"{exc}); going on one file at a time", file=sys.stderr)
        from digitnet.errors import ImageError

        for p in paths[len(results):]:
            try:
                results.append(load_input(p))
            except ImageError as e:
                results.append(e)
            except Exception as e:  # noqa: BLE001
                results.append(RuntimeError(f"crash: {type(e).__name__}: {e}"))
    return results


def add_make_jobs(parser) -> None:
    """``make``'s ``-j/--jobs``: worker processes that draw the images."""
    import os
    parser.add_argument("-j", "--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="worker processes (default 2; the images do not depend on it)")


def add_score_parser(sub, help):
    """The ``score`` command with its shared options: OUTDIR, repeatable ``--weights``
    (default: the default model) and ``-j/--jobs`` for decoding. Returns the parser."""
    p = sub.add_parser("score", help=help)
    p.add_argument("outdir")
    p.add_argument("--weights", action="append", default=[], metavar="PATH|NAME",
                   help="a model to score (repeatable; default: default)")
    p.add_argument("-j", "--jobs", type=int, default=1,
                   help="decoding worker processes for digitnet.batch.load_inputs")
    return p


def md_table(head, rows) -> str:
    """A markdown table: ``head`` the column names, ``rows`` lists of cells."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


class Busy:
    """A CPU-bound process pinned to core 0 while the block runs (a user's busy laptop)."""

    def __enter__(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import os; os.sched_setaffinity(0, {0})\nwhile True: pass"])
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()
