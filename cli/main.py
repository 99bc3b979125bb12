"""The ``digitnet`` command: one click group, thin commands that parse, call the library, print.

Conventions shared by every command:

- stdout carries data (reports, JSON, digits); stderr carries talk (progress, errors).
- Errors are one line, ``digitnet: WHAT: reason``, never a traceback. Exit codes: 0 success,
  1 failure (bad file, failed input, diverged training), 2 usage error, 130 interrupted.
- Library modules are imported inside the commands, so ``digitnet classify`` never pays
  for the training code (start-up time matters for scripts that call us per file).
"""

from __future__ import annotations

import os
import sys

import click

from digitnet import __version__

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


class Failure(click.ClickException):
    """A clean, one-line failure: ``digitnet: message`` on stderr, exit code 1."""

    exit_code = EXIT_FAILED

    def show(self, file=None):
        click.echo(f"digitnet: {self.format_message()}", err=True)


def fail(message):
    raise Failure(message)


# ---------------------------------------------------------------------------------------
# Options shared by several commands, declared once.

def weights_option(f):
    return click.option(
        "--weights", "-w", default="default", show_default=True, metavar="PATH|NAME",
        help="Weight file (.npz, with its .json model card beside it) or the name of a "
             "shipped model: 'default' (784-16-16-10) or 'wide'.")(f)


def data_option(f):
    return click.option(
        "--data", type=click.Path(file_okay=False), default=None, metavar="DIR",
        help="Folder with the MNIST files. Default: $DIGITNET_DATA, else "
             "~/.cache/digitnet/mnist.")(f)


def json_option(f):
    return click.option("--json", "as_json", is_flag=True,
                        help="Machine-readable JSON on stdout instead of the text report.")(f)


def load_network(spec):
    """Load a weight file for a command, turning any fault into a one-line failure."""
    from digitnet.weightfile import WeightFileError, load
    try:
        return load(spec)
    except WeightFileError as e:
        fail(str(e))


def use_color(stream=None):
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="digitnet")
def cli():
    """digitnet: a handwritten-digit classifier you can see inside.

    A 28x28 image becomes 784 input activations; each layer takes weighted sums plus biases
    and squashes them with the sigmoid; the brightest of the 10 outputs is the answer.

    \b
    Examples:
      digitnet classify digit.png
      digitnet inspect-layer 1 --png layer1.png
      digitnet evaluate --weights wide
    """


# ---------------------------------------------------------------------------------------
# evaluate

@cli.command()
@data_option
@weights_option
@json_option
def evaluate(data, weights, as_json):
    """Accuracy of a model on the 10,000 MNIST test images.

    Prints the accuracy, the 10x10 confusion matrix (rows: true digit, columns: answer),
    per-digit precision and recall, and the most confused pairs. The MNIST test set ships
    with digitnet, so this works without a download; --data DIR uses another copy.

    \b
    Examples:
      digitnet evaluate
      digitnet evaluate --weights wide --json | jq .accuracy
    """
    from digitnet import mnist
    from digitnet.evaluation import evaluate as run

    net, _card = load_network(weights)
    try:
        x, y, folder = mnist.find_split(data, "test")
    except mnist.DataError as e:
        fail(str(e))
    report = run(net, x, y)
    report["weights"] = str(weights)
    report["data"] = str(folder)
    if as_json:
        import json
        click.echo(json.dumps(report))
        return
    click.echo(format_report(report, net.sizes))


def format_report(r, sizes):
    """The evaluation report as text for a person."""
    lines = [f"model     {r['weights']}  ({'-'.join(map(str, sizes))}, sigmoid)",
             f"data      {r['data']}  (MNIST test set, {r['n']:,} images)",
             f"accuracy  {100 * r['accuracy']:.2f}%  ({r['correct']:,} of {r['n']:,})", "",
             "confusion matrix (rows: true digit, columns: answer)",
             "      " + "".join(f"{d:>6}" for d in range(10)) + "   recall"]
    for t, row in enumerate(r["confusion"]):
        lines.append(f"{t:>6}" + "".join(f"{c:>6}" for c in row)
                     + f"   {100 * r['recall'][t]:6.2f}%")
    lines.append("  prec" + "".join(f"{100 * p:>6.1f}" for p in r["precision"]))
    if r["most_confused"]:
        lines += ["", "most confused (true -> answer: count)"]
        lines += [f"  {p['true']} -> {p['predicted']}: {p['count']}"
                  for p in r["most_confused"][:5]]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# train

def parse_layers(ctx, param, value):
    try:
        hidden = [int(v) for v in value.split(",") if v.strip()] if value.strip() else []
    except ValueError:
        raise click.BadParameter("give hidden layer sizes like 16,16") from None
    if any(h < 1 or h > 100000 for h in hidden):
        raise click.BadParameter("each hidden layer needs 1..100000 neurons")
    return [784] + hidden + [10]


@cli.command()
@data_option
@click.option("--layers", default="16,16", show_default=True, callback=parse_layers,
              help="Hidden layer sizes, comma-separated (input 784 and output 10 are fixed). "
                   "Empty string: no hidden layer.")
@click.option("--epochs", default=30, show_default=True, type=click.IntRange(1, 100000))
@click.option("--batch-size", default=128, show_default=True, type=click.IntRange(1, 60000))
@click.option("--lr", default=0.01, show_default=True, type=click.FloatRange(0, min_open=True),
              help="Learning rate (the schedule's starting value).")
@click.option("--optimizer", type=click.Choice(["adam", "sgd"]), default="adam",
              show_default=True, help="Adam, or SGD with momentum.")
@click.option("--momentum", default=0.9, show_default=True, type=click.FloatRange(0, 1),
              help="Momentum for --optimizer sgd.")
@click.option("--loss", type=click.Choice(["cross-entropy", "quadratic"]),
              default="cross-entropy", show_default=True)
@click.option("--schedule", type=click.Choice(["cosine", "step", "constant"]),
              default="cosine", show_default=True, help="Learning-rate schedule.")
@click.option("--weight-decay", default=0.0, show_default=True, type=click.FloatRange(0),
              help="L2 weight decay (weights only, not biases).")
@click.option("--augment/--no-augment", default=False, show_default=True,
              help="Train on randomly distorted copies (rotation, scale, shear, shift, "
                   "elastic warp, stroke thickness), new ones every epoch.")
@click.option("--teacher", default=None, metavar="PATH|NAME",
              help="Distil: mix a trained model's outputs into the targets.")
@click.option("--teacher-weight", default=0.5, show_default=True, type=click.FloatRange(0, 1),
              help="Share of the teacher's outputs in the targets (with --teacher).")
@click.option("--validation", default=5000, show_default=True, type=click.IntRange(0),
              help="Training images held out to choose the best epoch.")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Same seed + same data = identical weights on the same machine.")
@click.option("--out", "-o", default="model.npz", show_default=True,
              type=click.Path(dir_okay=False),
              help="Where to write the weights; the model card goes beside it as .json.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def train(data, layers, epochs, batch_size, lr, optimizer, momentum, loss, schedule,
          weight_decay, augment, teacher, teacher_weight, validation, seed, out, quiet):
    """Train a network on the MNIST training set and save it with its model card.

    Holds --validation images out of the 60,000 to pick the best epoch, then reports the
    chosen network's accuracy on the 10,000 test images (stored in the model card). The
    weights and card are written atomically: --out is replaced only by a complete file.
    Ctrl-C stops training: the best network so far (if an epoch has finished) is saved
    to --out, marked as interrupted in its card, and the exit code is 130.

    \b
    Examples:
      digitnet train --data ../shared/data/mnist --epochs 3 --out m.npz
      digitnet train --layers 32,16 --optimizer sgd --lr 0.5 --out mine.npz
    """
    import shlex
    import time

    import numpy as np

    from digitnet import mnist, training, weightfile
    from digitnet.evaluation import evaluate as run_eval

    cfg = training.TrainConfig(layers=layers, epochs=epochs, batch_size=batch_size, lr=lr,
                               optimizer=optimizer, momentum=momentum, loss=loss,
                               schedule=schedule, weight_decay=weight_decay, augment=augment,
                               teacher_weight=teacher_weight if teacher else 0.0,
                               seed=seed, validation=validation)
    out_dir = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(out_dir):
        fail(f"{out}: folder {out_dir} does not exist")
    if not os.access(out_dir, os.W_OK):
        fail(f"{out}: folder {out_dir} is not writable")
    folder = mnist.data_dir(data)
    try:
        x, y = mnist.load_split(folder, "train")
        x_test, y_test, test_folder = mnist.find_split(data, "test")
    except mnist.DataError as e:
        fail(str(e))
    teacher_net = load_network(teacher)[0] if teacher else None
    try:
        x_tr, y_tr, x_val, y_val = training.split_validation(x, y, validation, seed)
    except ValueError as e:
        fail(str(e))
    talk = (lambda msg: None) if quiet else (lambda msg: click.echo(msg, err=True))
    talk(f"training {'-'.join(map(str, layers))} on {len(x_tr):,} images "
         f"({len(x_val):,} held out for validation), {epochs} epochs")
    bar = {}
    start = time.perf_counter()

    def on_batch(done, total):
        if quiet:
            return
        if "bar" not in bar:
            bar["bar"] = click.progressbar(length=total, file=sys.stderr, width=30,
                                           label=f"epoch {len(bar.get('seen', [])) + 1}/{epochs}")
            bar["bar"].__enter__()
        bar["bar"].update(1)

    def on_epoch(rec):
        if "bar" in bar:
            bar.pop("bar").__exit__(None, None, None)
        bar.setdefault("seen", []).append(rec)
        talk(f"epoch {rec['epoch']:>3}/{epochs}  loss {rec['loss']:.4f}  "
             f"validation {100 * rec['val_accuracy']:.2f}%  "
             f"elapsed {time.perf_counter() - start:.1f}s")

    try:
        result = training.train(cfg, x_tr, y_tr, x_val, y_val, teacher=teacher_net,
                                on_epoch=on_epoch, on_batch=on_batch)
    except training.TrainingDiverged as e:
        fail(str(e))
    except KeyboardInterrupt:
        if "bar" in bar:
            bar.pop("bar").__exit__(None, None, None)
        click.echo(f"digitnet: interrupted before the first epoch finished; nothing "
                   f"written to {out}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        if "bar" in bar:
            bar.pop("bar").__exit__(None, None, None)
    report = run_eval(result.net, x_test, y_test)
    argv = ["digitnet"] + sys.argv[1:]
    card = {
        "name": os.path.splitext(os.path.basename(out))[0],
        "training": {
            "data": f"MNIST training set (Y. LeCun, C. Cortes, C. J. C. Burges; CC BY-SA 3.0), "
                    f"{len(x):,} images: {len(x_tr):,} trained on, {len(x_val):,} held out "
                    "for validation (chosen by the seed)",
            "command": shlex.join(argv),
            **cfg.as_card(),
            "initialisation": "normal(0, 1/sqrt(n_in)) weights, zero biases",
            "teacher": str(teacher) if teacher else None,
            "best_epoch": result.best_epoch,
            "validation_accuracy": result.best_val_accuracy,
            "seconds": round(result.seconds, 2),
            "interrupted": result.interrupted,
            "history": [{k: (round(v, 6) if isinstance(v, float) else v)
                         for k, v in r.items()} for r in result.history],
            "numpy": np.__version__,
            "digitnet_version": __version__,
        },
        "evaluation": {
            "data": "MNIST test set (t10k), 10,000 images",
            "command": "digitnet evaluate --weights " + shlex.quote(out),
            "accuracy": report["accuracy"],
            "correct": report["correct"],
            "n": report["n"],
        },
    }
    try:
        weightfile.save(out, result.net, card)
    except OSError as e:
        fail(f"{out}: cannot write ({e.strerror or e})")
    summary = (f"best epoch {result.best_epoch} (validation {100 * result.best_val_accuracy:.2f}%), "
               f"test accuracy {100 * report['accuracy']:.2f}% on {report['n']:,} images; "
               f"{result.seconds:.1f}s; wrote {out} and {weightfile.card_path(out)}")
    if result.interrupted:
        click.echo(f"digitnet: interrupted; {summary}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    talk(summary)


# ---------------------------------------------------------------------------------------
# download

@cli.command()
@data_option
def download(data):
    """Fetch the four MNIST files and verify their SHA-256 checksums.

    Files already present and intact are kept. A download goes to a temporary file and
    only a complete, verified file is renamed into place.

    \b
    Example:
      digitnet download --data ~/mnist
    """
    from digitnet import mnist
    folder = mnist.data_dir(data)
    mirrors = os.environ.get("DIGITNET_MIRRORS")
    try:
        mnist.download(folder, mirrors=mirrors.split() if mirrors else None,
                       progress=lambda name, status: click.echo(f"{name}: {status}", err=True))
    except mnist.DataError as e:
        fail(str(e))
    click.echo(str(folder))


def main():
    """Entry point: run the group; no traceback ever reaches the user."""
    try:
        rv = cli(standalone_mode=False)
        sys.exit(rv if isinstance(rv, int) else 0)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.Abort:
        click.echo("digitnet: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("digitnet: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, and keep Python from
        # complaining again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(EXIT_FAILED)
    except Exception as e:  # a bug of ours: still one line, but say how to see more
        if os.environ.get("DIGITNET_DEBUG"):
            raise
        click.echo(f"digitnet: internal error: {type(e).__name__}: {e} "
                   "(set DIGITNET_DEBUG=1 for the traceback)", err=True)
        sys.exit(EXIT_FAILED)
