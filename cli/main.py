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

try:
    # The C module behind `signal`: the same functions and constants, without building
    # signal's enum classes (a millisecond of every start-up, and start-up is measured).
    import _signal as signal
except ImportError:  # not CPython
    import signal

# Started as the `digitnet` executable: a Ctrl-C while the modules below still load (nothing
# has been done yet) ends like any later one -- one line, exit 130 -- not with a traceback
# through click's import. main() puts Python's handler back before any work begins. (An
# ignored SIGINT, as in `digitnet train &` from a script, stays ignored.)
_STARTUP_SIGINT = None
if (os.path.basename(sys.argv[0] if sys.argv else "") == "digitnet"
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
    def _interrupted_while_starting(signum, frame):
        os.write(2, b"digitnet: interrupted\n")
        os._exit(130)
    _STARTUP_SIGINT = signal.signal(signal.SIGINT, _interrupted_while_starting)

import click  # noqa: E402 - after the handler above: importing click takes a while

from digitnet import __version__

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
# The reader of our stdout went away (`| head -1`): 128 + SIGPIPE, as for other Unix tools.
EXIT_BROKEN_PIPE = 141


class Failure(click.ClickException):
    """A clean, one-line failure: ``digitnet: message`` on stderr, exit code 1."""

    exit_code = EXIT_FAILED

    def show(self, file=None):
        click.echo(f"digitnet: {self.format_message()}", err=True)


def fail(message):
    raise Failure(message)


_IN_MAIN = False   # set by main(): the real executable, not an in-process CliRunner


def no_more_interrupts():
    """Ignore Ctrl-C from now on: the way out is decided after a first press, and a
    second one must not turn the exit into a traceback from the interpreter's shutdown.

    Only in the real executable (main()): an in-process caller keeps its Ctrl-C.
    """
    if _IN_MAIN:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


class Interrupted(click.ClickException):
    """Ctrl-C: ``digitnet: interrupted`` on stderr, exit code 130."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self):
        super().__init__("interrupted")

    def show(self, file=None):
        no_more_interrupts()
        # A terminal echoes ^C without a newline: end that line first (click would print
        # a blank line unconditionally, an empty extra line in a log or a pipe).
        try:
            if sys.stderr.isatty():
                click.echo(err=True)
        except (AttributeError, ValueError):
            pass
        click.echo("digitnet: interrupted", err=True)


class PipeClosed(Exception):
    """stdout's reader went away. Not an OSError, so that click does not turn it into exit 1."""


class Group(click.Group):
    """The command group; turns Ctrl-C inside a command into :class:`Interrupted`, and a
    closed stdout pipe into :class:`PipeClosed`."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted() from None
        except BrokenPipeError:
            raise PipeClosed() from None


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
             "~/.cache/digitnet/mnist (for the test set, if neither has it: the copy "
             "shipped with digitnet).")(f)


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


def terminal_width(default=80):
    """Columns of the terminal: $COLUMNS, else the terminal's size, else ``default``.

    What ``shutil.get_terminal_size`` does, without importing shutil (and the compression
    modules it pulls in) into every ``digitnet classify``.
    """
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or default
    except (AttributeError, ValueError, OSError):
        return default


def use_color(stream=None):
    """Colour only on a terminal, never with NO_COLOR set (https://no-color.org) or TERM=dumb."""
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
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
# classify

# Output flags of `classify`: parameter name -> (option, format name).
FORMATS = {"quiet": ("--quiet", "digit"), "csv": ("--csv", "csv"), "as_json": ("--json", "json")}


# Images go through the network in chunks of this many: one matrix product per layer per
# chunk, while output keeps flowing and memory stays bounded for any number of files.
CHUNK = 2048
# The first chunk is small so that results start flowing at once; each next one is twice
# as large, up to CHUNK. (Every matrix product wakes BLAS's threads, which then spin for a
# moment on the cores the decoding workers need: a few large products beat many small.)
FIRST_CHUNK = 64


def output_options(f):
    """The output formats shared by the commands that print per-image results.

    Three separate flags rather than flag_values on one destination: with one destination
    ``--json --csv`` would silently mean the last one, and a script should be told instead.
    :func:`output_format` turns them into one format name (or a usage error).
    """
    f = click.option("--quiet", "-q", is_flag=True,
                     help="Just the digit per image (FILE<TAB>digit when several).")(f)
    f = click.option("--csv", "csv", is_flag=True,
                     help="CSV with a header: file, digit, activation, margin, out0..out9.")(f)
    f = click.option("--json", "as_json", is_flag=True,
                     help="JSON Lines: one object per image with file, digit, activation, "
                          "margin, outputs and every layer's activations.")(f)
    return f


def output_format(**flags):
    """'digit', 'csv', 'json' or 'text' from the flags of :func:`output_options`."""
    chosen = [FORMATS[name] for name, on in flags.items() if on]
    if len(chosen) > 1:
        raise click.UsageError(f"{' and '.join(opt for opt, _ in chosen)} cannot be used "
                               "together: choose one output format",
                               ctx=click.get_current_context())
    return chosen[0][1] if chosen else "text"


def read_stdin():
    """One image's bytes from stdin (at most the file size limit), or ImageError."""
    from digitnet.images import ImageError, MAX_FILE_BYTES
    if sys.stdin is None:  # started with stdin closed (e.g. `digitnet classify - <&-`)
        raise ImageError("no standard input")
    if sys.stdin.isatty():  # nobody is going to type a PNG: say so instead of waiting
        raise ImageError("standard input is a terminal: pipe an image into -")
    data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"more than {MAX_FILE_BYTES:,} bytes on stdin")
    return data


def iter_inputs(files):
    """Expand FILE arguments into ``(name, source)`` pairs, or ``(name, ImageError)``.

    A directory stands for the image files in it (sorted); ``-`` reads stdin once.
    """
    from digitnet.images import ImageError, list_image_files
    stdin_read = False
    for arg in files:
        if arg == "-":
            try:
                if stdin_read:  # a second read would only find the end of the first image
                    raise ImageError("standard input was already read (use - once)")
                stdin_read = True
                yield arg, read_stdin()
            except ImageError as e:
                yield arg, e
        elif os.path.isdir(arg):
            try:
                found = list_image_files(arg)
            except ImageError as e:
                yield arg, e
                continue
            if not found:
                yield arg, ImageError("no image files in this directory")
            for path in found:
                yield os.path.join(arg, path.name), path
        else:
            yield arg, arg


def prediction(out):
    """(digit, activation, margin, runner-up) from one image's 10 outputs.

    Ties go to the lower digit, as with argmax (which --quiet and the text report use):
    saturated sigmoids can make two outputs exactly 1.0.
    """
    import numpy as np
    order = np.argsort(-out, kind="stable")
    return int(order[0]), float(out[order[0]]), float(out[order[0]] - out[order[1]]), int(order[1])


@cli.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@weights_option
@click.option("--raw", is_flag=True,
              help="The images already are 28x28 MNIST-style (light ink on dark): use their "
                   "pixels as they are, with no inversion, cropping or centring.")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None, metavar="N",
              help="Worker processes for decoding many files (default: one per CPU core; "
                   "used from 200 files on).")
@output_options
def classify(files, weights, raw, jobs, quiet, csv, as_json):
    """Classify digit images: every layer's activations and the answer.

    FILE is any image Pillow reads (PNG, JPEG, GIF, BMP, TIFF, WebP, ...), a directory
    (its image files, sorted), or - for one image on stdin. Each image is normalised the
    way MNIST was made: dark ink on light paper is inverted, the background removed, the
    digit cropped, scaled to 20 px and centred by its centre of mass in 28x28.

    Exit code 0 if every image was classified, 1 if any failed (the others are still
    classified; each failure is one line on stderr), 2 for usage errors.

    \b
    Examples:
      digitnet classify digit.png
      digitnet classify scans/ -q
      digitnet classify *.png --json | jq .digit
      convert photo.heic png:- | digitnet classify - --csv
    """
    import numpy as np

    from digitnet.images import ImageError, load_inputs

    fmt = output_format(quiet=quiet, csv=csv, as_json=as_json)
    net, _card = load_network(weights)
    if jobs is None:
        jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    several = len(files) > 1 or any(f != "-" and os.path.isdir(f) for f in files)
    failed = done = 0
    write = sys.stdout.write
    if fmt == "csv":
        write("file,digit,activation,margin," + ",".join(f"out{d}" for d in range(10)) + "\n")
    names, rows = [], []
    limit = FIRST_CHUNK

    def flush():
        # The whole chunk goes through the network as one batch: one matrix product per
        # layer, never a Python loop over images.
        nonlocal done
        if rows:
            emit(names, net.feedforward(np.stack(rows)), fmt, several, write, first=not done)
            done += len(rows)
            names.clear()
            rows.clear()

    items = list(iter_inputs(files))
    loadable = [source for _, source in items if not isinstance(source, ImageError)]
    results = load_inputs(loadable, raw=raw, jobs=jobs)
    try:
        for name, source in items:
            result = source if isinstance(source, ImageError) else next(results)
            if isinstance(result, ImageError):
                failed += 1
                flush()               # keep results and errors in input order
                sys.stdout.flush()
                click.echo(f"digitnet: {_safe(name)}: {result}", err=True)
                continue
            rows.append(result)
            names.append(name)
            if len(rows) >= limit:
                flush()
                sys.stdout.flush()    # results flow on as they are ready
                limit = min(2 * limit, CHUNK)
    except KeyboardInterrupt:
        flush()                       # what is finished is printed, then exit 130
        sys.stdout.flush()
        raise
    flush()
    sys.stdout.flush()
    if failed:
        raise click.exceptions.Exit(EXIT_FAILED)


def emit(names, layers, fmt, several, write, first=True):
    """Print results: ``layers`` holds each layer's (N, n) activations for ``names``.

    ``first``: nothing was printed before (the text report separates images by a blank line).
    """
    out = layers[-1]
    if fmt == "digit":
        digits = out.argmax(axis=1).tolist()      # argmax: the lowest digit wins a tie
        if several:
            write("".join(f"{_safe(n)}\t{d}\n" for n, d in zip(names, digits)))
        else:
            write("".join(f"{d}\n" for d in digits))
    elif fmt == "json":
        import json
        for i, name in enumerate(names):
            digit, act, margin, _ = prediction(out[i])
            write(json.dumps({"file": name, "digit": digit, "activation": act, "margin": margin,
                              "outputs": out[i].tolist(),
                              "layers": [a[i].tolist() for a in layers]}) + "\n")
    elif fmt == "csv":
        import csv
        import io
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        for i, name in enumerate(names):
            digit, act, margin, _ = prediction(out[i])
            w.writerow([name, digit, f"{act:.6f}", f"{margin:.6f}"] + [f"{v:.6f}" for v in out[i]])
        write(buf.getvalue())
    else:
        from digitnet import render
        color = use_color()
        width = max(40, min(terminal_width(), 120))
        for i, name in enumerate(names):
            if several:
                if i or not first:
                    write("\n")
                write(f"== {_safe(name)} ==\n")
            write("input, as the network sees it (28x28):\n")
            write(render.image_to_text(layers[0][i].reshape(28, 28), color) + "\n")
            write(render.activations_text([a[i] for a in layers], color, width) + "\n")


def _safe(name):
    """A file name made safe for one line of output (tab-separated, or an error message)."""
    return name.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


# ---------------------------------------------------------------------------------------
# inspect-layer

@cli.command("inspect-layer")
@click.argument("layer", type=int, required=False)
@click.option("--neuron", "-n", type=int, default=None, metavar="K",
              help="Only neuron K of the layer (numbered from 0; in the output layer, "
                   "neuron K is digit K).")
@weights_option
@click.option("--image", "image", default=None, metavar="IMG",
              help="Show each neuron's weighted sum for this image: the contribution map "
                   "(input activation x weight), the sum, the bias and the activation.")
@click.option("--raw", is_flag=True, help="With --image: the image is already 28x28 MNIST-style.")
@click.option("--per-neuron-scale", is_flag=True,
              help="Scale each grid's brightness to its own largest |value| (default: one "
                   "symmetric scale for the whole layer, so neurons compare fairly).")
@click.option("--png", "png", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Also write every neuron's grid into one PNG picture.")
@json_option
def inspect_layer(layer, neuron, weights, image, raw, per_neuron_scale, png, as_json):
    """A layer's weights and biases: each neuron's incoming weights as a green/red grid.

    LAYER counts layers of weights from 1: layer 1 connects the 784 inputs to the first
    hidden layer, the last layer feeds the 10 outputs. Without LAYER: a summary of every
    layer. A neuron's weights are drawn as a grid (784 inputs -> 28x28, like the image it
    reads): green where a weight is positive, red where it is negative, brighter for
    larger |w|. Its bias is the threshold the weighted sum must pass: the neuron's
    activation is sigmoid(weighted sum + bias).

    \b
    Examples:
      digitnet inspect-layer
      digitnet inspect-layer 1 --png layer1.png
      digitnet inspect-layer 3 --neuron 7 --image digit.png
      digitnet inspect-layer 2 --json > layer2.json
    """
    import numpy as np

    from digitnet.render import robust_scale

    net, _card = load_network(weights)
    if layer is None:
        if image or png or neuron is not None:
            raise click.UsageError("--neuron, --image and --png need a LAYER")
        return layers_summary(net, weights, as_json)
    n_layers = len(net.weights)
    if not 1 <= layer <= n_layers:
        raise click.BadParameter(f"this model has layers 1..{n_layers}", param_hint="LAYER")
    W, b = net.weights[layer - 1], net.biases[layer - 1]
    n_out, n_in = W.shape
    rows = list(range(n_out))
    if neuron is not None:
        if not 0 <= neuron < n_out:
            raise click.BadParameter(f"layer {layer} has neurons 0..{n_out - 1}",
                                     param_hint="--neuron")
        rows = [neuron]
    if png:
        if not png.lower().endswith(".png"):
            raise click.BadParameter("the picture is a PNG: give a file name ending in .png",
                                     param_hint="--png")
        # Checked before anything is printed: a failure must not follow a full report.
        png_dir = os.path.dirname(os.path.abspath(png))
        if not os.path.isdir(png_dir):
            fail(f"{_safe(png)}: cannot write (folder {_safe(png_dir)} does not exist)")
    sums = None
    if image:
        from digitnet.images import ImageError, load_input
        try:
            x = load_input(read_stdin() if image == "-" else image, raw=raw)
        except ImageError as e:
            fail(f"{_safe(image)}: {e}")
        # A batch of one, exactly as classify runs each image: same numbers to the last bit.
        acts, zs = ([a[0] for a in arrays] for arrays in net.forward(x[None]))
        a_prev = acts[layer - 1]
        contributions = W[rows] * a_prev             # (k, n_in): activation x weight
        sums = contributions.sum(axis=1)             # the weighted sums, before the bias
        z = zs[layer - 1][rows]                      # exactly what classify computes
        activation = acts[layer][rows]
    stats = weight_stats(W[rows], b[rows], rows)
    # What the pictures show, and the |value| drawn at full brightness. Weights share the
    # whole layer's scale even for one --neuron, so its picture matches the full view.
    grids = contributions if image else W[rows]
    if per_neuron_scale:
        scale = [float(np.abs(g).max()) or 1.0 for g in grids]
    else:
        scale = robust_scale(contributions if image else W)
    if as_json:
        import json
        doc = {"layer": layer, "shape": [n_out, n_in], "neurons": rows,
               "weights": W[rows].tolist(), "biases": b[rows].tolist(),
               "stats": {"weights": layer_range(W), "biases": layer_range(b),
                         "neurons": stats}}
        if image:
            doc["image"] = {"file": image, "inputs": a_prev.tolist(),
                            "contributions": contributions.tolist(),
                            "weighted_sums": sums.tolist(), "biases": b[rows].tolist(),
                            "z": z.tolist(), "activations": activation.tolist()}
        click.echo(json.dumps(doc))
    else:
        from digitnet import render
        color = use_color()
        width = terminal_width() if color else 80
        width = max(width, 40)
        if image:
            labels = [f"n{k} a={activation[i]:.2f}" for i, k in enumerate(rows)]
            # The file name on a line of its own: with it, the heading would outgrow 80 columns.
            what = (f"layer {layer}: contributions (input activation x weight) to "
                    f"{len(rows)} neuron(s)\nimage: {_safe(image)}")
        else:
            labels = [f"n{k} b={b[k]:+.2f}" for k in rows]
            what = f"layer {layer}: {n_out} neurons x {n_in} weights"
            if n_in == 784:
                what += " (each drawn as the 28x28 image it reads)"
        lines = [what, render.legend_text(color, None if per_neuron_scale else scale,
                                          "contributions" if image else "weights"), ""]
        if render.grid_shape(n_in)[1] <= width:
            lines.append(render.grids_to_text(grids, labels, scale, width=width, color=color))
        else:  # e.g. 5000 inputs from a huge hidden layer: a grid row would not fit a line
            lines.append(f"({n_in} inputs per neuron: grids too wide for {width} columns; "
                         "see --png or --json)")
        lines.append("")
        if image:
            lines.append(f"{'neuron':>6} {'weighted sum':>13} {'+ bias':>9} {'= z':>9} "
                         f"{'sigmoid(z)':>11}")
            for i, k in enumerate(rows):
                lines.append(f"{k:>6} {sums[i]:>13.4f} {b[k]:>+9.4f} {z[i]:>9.4f} "
                             f"{activation[i]:>11.4f}")
        else:
            lines.append(f"{'neuron':>6} {'bias':>8} {'w min':>8} {'w max':>8} "
                         f"{'mean |w|':>9} {'positive':>9}")
            for st in stats:
                lines.append(f"{st['neuron']:>6} {st['bias']:>+8.3f} {st['min']:>+8.3f} "
                             f"{st['max']:>+8.3f} {st['mean_abs']:>9.4f} "
                             f"{100 * st['positive']:>8.1f}%")
        if len(rows) == 1 and n_in <= 64:
            # One neuron of a small layer: its inputs are hidden neurons, and an unlabelled
            # 4x4 grid cannot say which is which -- list them.
            k, i = rows[0], 0
            lines += ["", f"neuron {k}'s inputs (neurons of layer {layer - 1 or 'input'}):"]
            if image:
                lines.append(f"{'input':>6} {'activation':>11} {'x weight':>10} {'= product':>11}")
                for j in range(n_in):
                    lines.append(f"{j:>6} {a_prev[j]:>11.4f} {W[k, j]:>+10.4f} "
                                 f"{contributions[i, j]:>+11.4f}")
            else:
                lines.append(f"{'input':>6} {'weight':>10}")
                lines += [f"{j:>6} {W[k, j]:>+10.4f}" for j in range(n_in)]
        click.echo("\n".join(lines))
    if png:
        from digitnet import render
        if image:
            labels = [f"neuron {k}  z={z[i]:+.2f}  a={activation[i]:.2f}"
                      for i, k in enumerate(rows)]
            title = f"layer {layer}: input activation x weight for {os.path.basename(image)}"
        else:
            labels = [f"neuron {k}  b={b[k]:+.2f}" for k in rows]
            title = (f"layer {layer} of {weights}: incoming weights "
                     f"(green +, red -), {n_out}x{n_in}")
        try:
            render.grids_png(grids, labels, png, scale=scale, title=title)
        except OSError as e:
            fail(f"{png}: cannot write ({e.strerror or e})")
        click.echo(f"wrote {png}", err=True)


def layer_range(a):
    return {"min": float(a.min()), "max": float(a.max())}


def weight_stats(W, b, rows):
    """Per-neuron statistics of incoming weights (rows of W) and biases."""
    return [{"neuron": k, "bias": float(b[i]), "min": float(W[i].min()),
             "max": float(W[i].max()), "mean_abs": float(abs(W[i]).mean()),
             "positive": float((W[i] > 0).mean())} for i, k in enumerate(rows)]


def layers_summary(net, weights, as_json):
    """The model's layers: number, shape, parameters, activation, weight and bias ranges."""
    info = []
    for l, (W, b) in enumerate(zip(net.weights, net.biases), start=1):
        info.append({"layer": l, "shape": list(W.shape), "parameters": int(W.size + b.size),
                     "activation": "sigmoid", "weights": layer_range(W),
                     "biases": layer_range(b)})
    if as_json:
        import json
        click.echo(json.dumps({"model": str(weights), "sizes": net.sizes, "layers": info}))
        return
    total = sum(i["parameters"] for i in info)
    lines = [f"model {weights}: {'-'.join(map(str, net.sizes))}, {total:,} parameters, "
             f"{net.dtype}",
             f"{'layer':>5}  {'shape':>9}  {'params':>8}  {'activation':<10} "
             f"{'weights min..max':>18}  {'biases min..max':>17}"]
    for i in info:
        shape = f"{i['shape'][0]}x{i['shape'][1]}"
        lines.append(f"{i['layer']:>5}  {shape:>9}  {i['parameters']:>8,}  {'sigmoid':<10} "
                     f"{i['weights']['min']:>+8.3f}..{i['weights']['max']:<+8.3f}  "
                     f"{i['biases']['min']:>+7.3f}..{i['biases']['max']:<+7.3f}".rstrip())
    lines.append("layer 1 takes the 784 input pixels; the last layer gives the 10 outputs.")
    click.echo("\n".join(lines))


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
@click.option("--epochs", default=150, show_default=True, type=click.IntRange(1, 100000))
@click.option("--batch-size", default=128, show_default=True, type=click.IntRange(1, 60000))
@click.option("--lr", default=0.06, show_default=True, type=click.FloatRange(0, min_open=True),
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
@click.option("--augment/--no-augment", default=True, show_default=True,
              help="Train on randomly distorted copies (rotation, scale, shear, shift, "
                   "elastic warp, stroke thickness), new ones every epoch.")
@click.option("--augment-strength", default=0.5, show_default=True,
              type=click.FloatRange(0, 3),
              help="Scale every distortion of --augment (0.5 = half as strong).")
@click.option("--teacher", default="wide", show_default=True, metavar="PATH|NAME|none",
              help="Distil from a trained model: its (softened) outputs on the same distorted "
                   "images become the targets. 'none' trains on the labels alone.")
@click.option("--teacher-weight", default=1.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of the teacher's outputs in the targets (the rest: the label).")
@click.option("--teacher-temperature", default=3.0, show_default=True,
              type=click.FloatRange(0, min_open=True),
              help="Soften the teacher's outputs to sigmoid(z / T): T > 1 passes on how "
                   "close the other digits came.")
@click.option("--validation", default=5000, show_default=True, type=click.IntRange(0),
              help="Training images held out to choose the best epoch.")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Same seed + same data = identical weights on the same machine.")
@click.option("--out", "-o", default="model.npz", show_default=True,
              type=click.Path(dir_okay=False),
              help="Where to write the weights; the model card goes beside it as .json.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def train(data, layers, epochs, batch_size, lr, optimizer, momentum, loss, schedule,
          weight_decay, augment, augment_strength, teacher, teacher_weight,
          teacher_temperature, validation, seed, out, quiet):
    """Train a network on the MNIST training set and save it with its model card.

    Holds --validation images out of the 60,000 to pick the best epoch, then reports the
    chosen network's accuracy on the 10,000 test images (stored in the model card). The
    weights and card are written atomically: --out is replaced only by a complete file.
    Ctrl-C stops training: the best network so far (if an epoch has finished) is saved
    to --out, marked as interrupted in its card, and the exit code is 130.

    The default recipe: Adam with a cosine schedule, mildly distorted images (--augment),
    and the shipped 'wide' model as teacher (knowledge distillation). Every default is
    recorded in the model card; the shipped default model is this recipe with more epochs.

    \b
    Examples:
      digitnet download --data ~/mnist
      digitnet train --data ~/mnist --epochs 3 --out m.npz
      digitnet train --data ~/mnist --teacher none --no-augment --epochs 30 --out plain.npz
      digitnet train --data ~/mnist --layers 32,16 --optimizer sgd --lr 0.5 --teacher none
    """
    import shlex
    import time

    import numpy as np

    from digitnet import mnist, training, weightfile
    from digitnet.evaluation import evaluate as run_eval

    if teacher and teacher.lower() == "none":
        teacher = None
    cfg = training.TrainConfig(layers=layers, epochs=epochs, batch_size=batch_size, lr=lr,
                               optimizer=optimizer, momentum=momentum, loss=loss,
                               schedule=schedule, weight_decay=weight_decay, augment=augment,
                               augment_strength=augment_strength,
                               teacher_weight=teacher_weight if teacher else 0.0,
                               teacher_temperature=teacher_temperature,
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
        raise click.BadParameter(str(e), param_hint="--validation") from None
    talk = (lambda msg: None) if quiet else (lambda msg: click.echo(msg, err=True))
    talk(f"training {'-'.join(map(str, layers))} on {len(x_tr):,} images "
         f"({len(x_val):,} held out for validation), {epochs} epoch{'s' if epochs != 1 else ''}"
         + ("" if len(x_val) else "; no validation set: the last epoch is kept"))
    bar = {}
    start = time.perf_counter()

    def on_batch(done, total):
        if quiet or not sys.stderr.isatty():   # a log file gets the epoch lines only
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
        val = (f"validation {100 * rec['val_accuracy']:.2f}%  "
               if rec["val_accuracy"] == rec["val_accuracy"] else "")      # NaN: none
        talk(f"epoch {rec['epoch']:>3}/{epochs}  loss {rec['loss']:.4f}  {val}"
             f"elapsed {time.perf_counter() - start:.1f}s")

    def _terminate(signum, frame):
        raise KeyboardInterrupt       # a batch scheduler's SIGTERM: stop as for Ctrl-C
    signal.signal(signal.SIGTERM, _terminate)
    try:
        # Overflow on the way to divergence is reported once, as one line (below), not
        # as a screenful of numpy RuntimeWarnings.
        with np.errstate(over="ignore", invalid="ignore"):
            result = training.train(cfg, x_tr, y_tr, x_val, y_val, teacher=teacher_net,
                                    on_epoch=on_epoch, on_batch=on_batch)
    except training.TrainingDiverged as e:
        fail(str(e))
    except KeyboardInterrupt:
        no_more_interrupts()
        if "bar" in bar:
            bar.pop("bar").__exit__(None, None, None)
        click.echo(f"digitnet: interrupted before the first epoch finished; nothing "
                   f"written to {out}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        if "bar" in bar:
            bar.pop("bar").__exit__(None, None, None)
    try:
        # A run can also end with finite weights too large to use (their weighted sums
        # overflow): never write a weight file that `load` would then refuse.
        weightfile.check(result.net, "the trained network")
    except weightfile.WeightFileError as e:
        fail(f"training diverged: {e}; try a lower learning rate than --lr {lr}")
    report = run_eval(result.net, x_test, y_test)
    argv = ["digitnet"] + sys.argv[1:]
    # Same seed + same data give identical weights on the same machine *with the same
    # number of BLAS threads* (a threaded matrix product may sum in another order), so
    # the thread settings are part of the command.
    threads = {k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
               if os.environ.get(k)}
    card = training.model_card(
        cfg, result, name=os.path.splitext(os.path.basename(out))[0],
        n_images=len(x), n_train=len(x_tr), n_val=len(x_val),
        command=" ".join(f"{k}={v}" for k, v in threads.items()) + (" " if threads else "")
        + shlex.join(argv),
        environment={"cpu_count": os.cpu_count(), **threads},
        teacher=str(teacher) if teacher else None, test_report=report,
        eval_command="digitnet evaluate --weights " + shlex.quote(out))
    try:
        weightfile.save(out, result.net, card)
    except OSError as e:
        fail(f"{out}: cannot write ({e.strerror or e})")
    chosen = (f"best epoch {result.best_epoch} (validation {100 * result.best_val_accuracy:.2f}%)"
              if len(x_val) else f"last epoch {result.best_epoch} (no validation set)")
    summary = (f"{chosen}, "
               f"test accuracy {100 * report['accuracy']:.2f}% on {report['n']:,} images; "
               f"{result.seconds:.1f}s; wrote {out} and {weightfile.card_path(out)}")
    if result.interrupted:
        no_more_interrupts()
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
    only a complete, verified file is renamed into place. Mirrors are tried in turn; set
    DIGITNET_MIRRORS to a space-separated list of base URLs to use others.

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
    # File names that are not valid UTF-8 reach us as surrogate escapes: write them back
    # as the same bytes on stdout, and never crash on them in messages.
    for stream, errors in ((sys.stdout, "surrogateescape"), (sys.stderr, "backslashreplace")):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors=errors)
    global _IN_MAIN
    _IN_MAIN = True
    if _STARTUP_SIGINT is not None:
        signal.signal(signal.SIGINT, _STARTUP_SIGINT)
    try:
        rv = cli(standalone_mode=False)
        no_more_interrupts()      # done: Ctrl-C during the interpreter's shutdown is moot
        sys.exit(rv if isinstance(rv, int) else 0)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.Abort:
        no_more_interrupts()
        click.echo("digitnet: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        no_more_interrupts()
        click.echo("digitnet: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except (BrokenPipeError, PipeClosed):
        # The reader went away (e.g. `| head`): stop quietly, and keep Python from
        # complaining again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(EXIT_BROKEN_PIPE)
    except Exception as e:  # a bug of ours: still one line, but say how to see more
        if os.environ.get("DIGITNET_DEBUG"):
            raise
        # Squeezed onto one line: messages can carry newlines (e.g. a server's reply).
        click.echo(f"digitnet: internal error: {type(e).__name__}: {' '.join(str(e).split())} "
                   "(set DIGITNET_DEBUG=1 for the traceback)", err=True)
        sys.exit(EXIT_FAILED)
    finally:
        no_more_interrupts()
