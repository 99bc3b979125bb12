"""The ``digitnet`` command: one click group, thin commands that parse, call the library, print.

Conventions shared by every command:

- stdout carries data (reports, JSON, digits); stderr carries talk (progress, errors).
- Errors are one line, ``digitnet: WHAT: reason``, never a traceback. Exit codes: 0 success,
  1 failure (bad file, failed input, diverged training, unwritable output), 2 usage error,
  130 interrupted (Ctrl-C, SIGTERM, SIGHUP), 141 stdout's reader went away.
- Library modules are imported inside the commands, so ``digitnet classify`` never pays
  for the training code (start-up time matters for scripts that call us per file).
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import time

# Started as the `digitnet` executable (or `python -m digitnet`): a Ctrl-C while the modules below still load (nothing
# has been done yet) ends like any later one -- one line, exit 130 -- not with a traceback
# through click's import. main() puts Python's handler back before any work begins. (An
# ignored SIGINT, as in `digitnet train &` from a script, stays ignored.)
_STARTUP_SIGINT = None
_ARGV0 = sys.argv[0] if sys.argv else ""
# (`python -m digitnet` runs digitnet/__main__.py; any other package's __main__.py -- as in
# `python -m pytest` importing this module -- is someone else's program, whose Ctrl-C is
# none of our business.)
_COMMAND = (os.path.basename(_ARGV0) == "digitnet"
            or (os.path.basename(_ARGV0) == "__main__.py"
                and os.path.basename(os.path.dirname(_ARGV0)) == "digitnet"))
if _COMMAND and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    def _interrupted_while_starting(signum, frame):
        os.write(2, b"digitnet: interrupted\n")
        os._exit(130)
    _STARTUP_SIGINT = signal.signal(signal.SIGINT, _interrupted_while_starting)
if _COMMAND:
    # Before numpy loads (the commands import it): one BLAS thread from the start, the
    # thread count digitnet's work runs with, unless the user chose one (digitnet.threads).
    from digitnet.threads import one_thread_from_the_start
    one_thread_from_the_start()

import click  # noqa: E402 - after the handler above: importing click takes a while

from digitnet import __version__  # noqa: E402
from digitnet.errors import one_line, printable  # noqa: E402

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


def json_name(name) -> dict:
    """``{"file": name}`` for a JSON line (see :func:`json_safe`)."""
    return json_safe({"file": os.fspath(name)})


def json_safe(doc):
    """``doc`` (dicts and lists of JSON values) ready for ``json.dumps``: a string that
    is not valid UTF-8 -- a file name whose bytes reach us as surrogate escapes --
    cannot be JSON text as it is (strict parsers reject a lone surrogate escape), so it
    shows its undecodable bytes as U+FFFD, and the key ``KEY_bytes`` beside it carries
    the exact bytes, base64."""
    if isinstance(doc, list):
        return [json_safe(v) for v in doc]
    if not isinstance(doc, dict):
        return doc
    out = {}
    for key, value in doc.items():
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                import base64
                raw = os.fsencode(value)
                out[key] = raw.decode("utf-8", "replace")
                out[f"{key}_bytes"] = base64.b64encode(raw).decode("ascii")
                continue
        out[key] = json_safe(value)
    return out


class OutputFailed(Exception):
    """Writing to stdout failed (a full disk, a closed descriptor): not an OSError, so that
    no command mistakes it for a problem with one of its own files."""

    def __init__(self, error):
        super().__init__(error.strerror if isinstance(error, OSError) and error.strerror
                         else one_line(error))


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

    def __init__(self, message="interrupted"):
        super().__init__(message)

    def show(self, file=None):
        no_more_interrupts()
        # A terminal echoes ^C without a newline: end that line first (click would print
        # a blank line unconditionally, an empty extra line in a log or a pipe).
        try:
            if sys.stderr.isatty():
                click.echo(err=True)
        except (AttributeError, ValueError):
            pass
        click.echo(f"digitnet: {self.message}", err=True)


class PipeClosed(Exception):
    """stdout's reader went away. Not an OSError, so that click does not turn it into exit 1."""


class Group(click.Group):
    """The command group; turns Ctrl-C inside a command, or while its arguments are
    parsed, into :class:`Interrupted` (click's own Abort would print a blank line first),
    and a closed stdout pipe into :class:`PipeClosed`."""

    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt:
            raise Interrupted() from None

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
             "shipped model: 'default' (784-16-16-10) or 'wide'. A bare name always means "
             "the shipped model; write ./default.npz for a file of that name.")(f)


def data_option(f):
    return click.option(
        "--data", type=click.Path(file_okay=False), default=None, metavar="DIR",
        help="Folder with the MNIST files. Default: $DIGITNET_DATA, else "
             "~/.cache/digitnet/mnist (for the test set, if neither has it: the copy "
             "shipped with digitnet).")(f)


def json_option(f):
    return click.option("--json", "as_json", is_flag=True,
                        help="Machine-readable JSON on stdout instead of the text report.")(f)


def load_model(spec):
    """Load a model for a command, turning any fault into a one-line failure."""
    import digitnet
    try:
        return digitnet.load(spec)
    except digitnet.WeightFileError as e:
        fail(str(e))


def writable_or_fail(path):
    """Fail now, before any work, if ``path`` could not be written at the end."""
    from digitnet.files import check_writable
    try:
        check_writable(path)
    except OSError as e:   # "folder X does not exist", "... is not writable", "is a folder"
        fail(f"{printable(path)}: cannot write ({printable(e.strerror)})")


def terminal_width(default=80):
    """Columns of the terminal ($COLUMNS, else the terminal's size, else ``default``)."""
    import shutil
    return shutil.get_terminal_size((default, 24)).columns or default


def report_width(color: bool) -> int:
    """Columns for a picture report: the terminal's when in colour (on a terminal), else
    80 (piped text stays the same everywhere); never under 40."""
    return max(terminal_width() if color else 80, 40)


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
# ... and what is there is printed anyway once this long has passed since the last print
# (checked as each result comes): photos' answers appear as they are found, not 64 at a time.
FLUSH_SECONDS = 0.2


def output_options(f):
    """The output formats shared by the commands that print per-image results.

    Three separate flags rather than flag_values on one destination: with one destination
    ``--json --csv`` would silently mean the last one, and a script should be told instead.
    :func:`output_format` turns them into one format name (or a usage error).
    """
    f = click.option("--quiet", "-q", is_flag=True,
                     help="Just the digit per image (FILE<TAB>digit when several).")(f)
    f = click.option("--csv", "csv", is_flag=True,
                     help="CSV with a header: file, digit, activation, margin, out0..out9, "
                          "confident.")(f)
    f = click.option("--json", "as_json", is_flag=True,
                     help="JSON Lines: one object per image with file, digit, activation, "
                          "margin, confident, runner_up, outputs and every layer's "
                          "activations.")(f)
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
    from digitnet.decode import MAX_FILE_BYTES
    from digitnet.errors import ImageError
    if sys.stdin is None:  # started with stdin closed (e.g. `digitnet classify - <&-`)
        raise ImageError("no standard input")
    if sys.stdin.isatty():  # nobody is going to type a PNG: say so instead of waiting
        raise ImageError("standard input is a terminal: pipe an image into -")
    data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"more than {MAX_FILE_BYTES:,} bytes on stdin")
    return data


def write_steps(name, path):
    """``classify --steps``: trace one image through the normalisation and write the
    picture to ``path`` (atomically). Returns what the trace found: the network's inputs
    for the image, or the ImageError that stopped it."""
    from digitnet import steps
    from digitnet.errors import ImageError
    from digitnet.render import save_png_atomic

    source = name
    if name == "-":
        try:
            source = read_stdin()
        except ImageError as e:
            fail(f"-: {e}")
    t = steps.trace(source)
    try:
        save_png_atomic(steps.picture(t, title=printable(name)), path)
    except OSError as e:
        fail(f"{printable(path)}: cannot write ({one_line(e)})")
    click.echo(f"wrote {printable(path)}", err=True)
    return t.inputs if t.error is None else t.error


def iter_inputs(files):
    """Expand FILE arguments into ``(name, source)`` pairs, or ``(name, ImageError)``.

    A directory stands for the image files in it (sorted); ``-`` reads stdin once.
    """
    from digitnet.batch import list_image_files
    from digitnet.errors import ImageError
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


@cli.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@weights_option
@click.option("--raw", is_flag=True,
              help="The images already are 28x28 MNIST-style (light ink on dark): use their "
                   "pixels as they are, with no inversion, cropping or centring.")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None, metavar="N",
              help="Worker processes for decoding many files (default: one per CPU core; "
                   "used from 200 files, or 3 MB of them, on: two phone photos).")
@click.option("--min-margin", type=click.FloatRange(0.0, 1.0), default=None, metavar="X",
              help="Answers whose margin over the runner-up is below X (0..1) are failures "
                   "instead: one stderr line, exit code 1. Answers below 0.3 "
                   "(digitnet.CONFIDENT_MARGIN) are marked unsure in any case.")
@click.option("--steps", type=click.Path(dir_okay=False), default=None, metavar="FILE.png",
              help="Write one picture of what the pipeline did to the (single) image: the "
                   "surface it found, the ink with rulings removed, the digit's box, the "
                   "crop, the final 28x28. Written even when no digit is found.")
@output_options
def classify(files, weights, raw, jobs, min_margin, steps, quiet, csv, as_json):
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

    from digitnet.batch import load_inputs
    from digitnet.errors import ImageError

    fmt = output_format(quiet=quiet, csv=csv, as_json=as_json)
    if min_margin is not None and not 0.0 <= min_margin <= 1.0:  # NaN passes FloatRange
        raise click.BadParameter("must be a number from 0 to 1", param_hint="--min-margin")
    if steps is not None:
        if raw:
            raise click.UsageError("--steps shows the normalisation, which --raw skips")
        if len(files) != 1 or (files[0] != "-" and os.path.isdir(files[0])):
            raise click.UsageError("--steps draws the steps for one image: give one FILE")
        if files[0] != "-" and os.path.exists(steps) and os.path.exists(files[0]) \
                and os.path.samefile(files[0], steps):
            raise click.UsageError("--steps would overwrite the image itself: give another "
                                   "file name")
        png_target(steps, "--steps")
    model = load_model(weights)
    if jobs is None:
        jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    several = len(files) > 1 or any(f != "-" and os.path.isdir(f) for f in files)
    printer = ResultPrinter(fmt, several)
    names, rows = [], []
    limit = FIRST_CHUNK
    failed = 0
    printed = time.monotonic()   # when results were last printed

    def flush():
        # The whole chunk goes through the network as one batch: one matrix product per
        # layer, never a Python loop over images.
        nonlocal failed, printed
        printed = time.monotonic()
        if not rows:
            return
        results = model.results(np.stack(rows))
        if min_margin is None:
            printer.print(names, results)
        else:
            kept_names, kept = [], []
            for name, r in zip(names, results):
                if r.margin >= min_margin:
                    kept_names.append(name)
                    kept.append(r)
                    continue
                printer.print(kept_names, kept)   # in input order
                kept_names, kept = [], []
                failed += 1
                click.echo(f"digitnet: {printable(name)}: unsure: {r.digit} leads {r.runner_up} "
                           f"by {r.margin:.3f}, below --min-margin {min_margin:g}", err=True)
            printer.print(kept_names, kept)
        names.clear()
        rows.clear()

    if steps is not None:  # the trace already holds the image's inputs (or its error)
        items = [(files[0], write_steps(files[0], steps))]
        results = iter([items[0][1]])
    else:
        items = list(iter_inputs(files))
        loadable = [source for _, source in items if not isinstance(source, ImageError)]
        results = load_inputs(loadable, raw=raw, jobs=jobs)
    try:
        for name, source in items:
            result = source if isinstance(source, ImageError) else next(results)
            if isinstance(result, ImageError):
                failed += 1
                flush()               # keep results and errors in input order
                click.echo(f"digitnet: {printable(name)}: {result}", err=True)
                continue
            rows.append(result)
            names.append(name)
            if len(rows) >= limit:
                flush()               # results flow on as they are ready
                limit = min(2 * limit, CHUNK)
            elif time.monotonic() - printed >= FLUSH_SECONDS:
                flush()               # slow images: each answer as soon as it is there
    except KeyboardInterrupt:
        flush()                       # what is finished is printed, then exit 130
        raise
    flush()
    if failed:
        raise click.exceptions.Exit(EXIT_FAILED)


class ResultPrinter:
    """Prints classify results in one format: 'digit', 'json', 'csv' or 'text'.

    ``several``: more than one input (names go in front of -q digits, text reports get a
    heading each). stdout is flushed after every batch, so results flow as they are ready.
    """

    def __init__(self, fmt, several):
        self.fmt, self.several, self.done = fmt, several, 0
        if fmt == "csv":
            sys.stdout.write("file,digit,activation,margin,"
                             + ",".join(f"out{d}" for d in range(10)) + ",confident\n")

    def print(self, names, results):
        sys.stdout.write(self.format(names, results))
        sys.stdout.flush()
        self.done += len(results)

    def format(self, names, results):
        if self.fmt == "digit":
            if self.several:
                return "".join(f"{printable(n)}\t{r.digit}\n" for n, r in zip(names, results))
            return "".join(f"{r.digit}\n" for r in results)
        if self.fmt == "json":
            import json
            return "".join(json.dumps({**json_name(n), **r.to_dict()}) + "\n"
                           for n, r in zip(names, results))
        if self.fmt == "csv":
            import csv
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            for n, r in zip(names, results):
                w.writerow([printable(n), r.digit, f"{r.activation:.6f}", f"{r.margin:.6f}"]
                           + [f"{v:.6f}" for v in r.outputs]
                           + ["yes" if r.confident else "no"])
            return buf.getvalue()
        from digitnet import render
        color = use_color()
        width = max(40, min(terminal_width(), 120))
        parts = []
        for i, (name, r) in enumerate(zip(names, results)):
            if self.several:
                if i or self.done:
                    parts.append("\n")
                parts.append(f"== {printable(name)} ==\n")
            parts.append("input, as the network sees it (28x28):\n")
            parts.append(render.image_to_text(r.layers[0].reshape(28, 28), color) + "\n")
            parts.append(render.activations_text(r.layers, color, width) + "\n")
        return "".join(parts)


# ---------------------------------------------------------------------------------------
# inspect-layer

def palette_option(f):
    return click.option(
        "--palette", type=click.Choice(["green-red", "blue-orange"]), default="green-red",
        show_default=True,
        help="Colours of positive and negative values; blue-orange is safe for red-green "
             "colour blindness.")(f)


def png_target(png, option="--png"):
    """Check a --png (or ``option``) file name before any work: a failure must not follow
    a report."""
    if not png.lower().endswith(".png"):
        raise click.BadParameter("the picture is a PNG: give a file name ending in .png",
                                 param_hint=option)
    writable_or_fail(png)


def read_image_inputs(model, image, raw):
    """The network inputs of IMG (``-``: stdin), or a one-line failure."""
    from digitnet.errors import ImageError
    try:
        return model.inputs(read_stdin() if image == "-" else image, raw=raw)
    except ImageError as e:
        fail(f"{printable(image)}: {e}")


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
@click.option("--top", type=click.IntRange(1, 50), default=None, metavar="K",  # MAX_TOP
              help="What each neuron detects: the K MNIST test digits (the shipped t10k "
                   "set) that excite it most, and its preferred input -- the mean of its "
                   "100 most exciting test digits minus the mean test digit (more ink "
                   "than usual where it is positive, less where negative).")
@click.option("--per-neuron-scale", is_flag=True,
              help="Scale each grid's brightness to its own 95th percentile of |value| "
                   "(default: the whole layer's 95th percentile, so neurons compare fairly "
                   "and one neuron alone looks as in the full view).")
@palette_option
@click.option("--png", "png", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Write the picture into a PNG instead of printing the report (a one-line "
                   "summary goes to stderr).")
@json_option
def inspect_layer(layer, neuron, weights, image, raw, top, per_neuron_scale, palette, png,
                  as_json):
    """A layer's weights and biases: each neuron's incoming weights as a coloured grid.

    LAYER counts layers of weights from 1: layer 1 connects the 784 inputs to the first
    hidden layer, the last layer feeds the 10 outputs (its neuron K is digit K). Without
    LAYER: a summary of every layer. A neuron's weights are drawn as a grid (784 inputs
    -> 28x28, like the image it reads; 16 inputs -> 4x4, row by row): green where a
    weight is positive, red where it is negative (--palette blue-orange: blue and
    orange), brighter for larger |w|, full brightness from the layer's 95th percentile
    of |w|. Its bias is the threshold the weighted sum must pass: the neuron's
    activation is sigmoid(weighted sum + bias).

    \b
    Examples:
      digitnet inspect-layer
      digitnet inspect-layer 1 --png layer1.png
      digitnet inspect-layer 3 --neuron 7 --image digit.png
      digitnet inspect-layer 2 --top 8 --png layer2-top.png
      digitnet inspect-layer 2 --json > layer2.json
    """
    from digitnet import inspection, render

    model = load_model(weights)
    if layer is None:
        if image or png or top or neuron is not None:
            raise click.UsageError("--neuron, --image, --top and --png need a LAYER")
        return print_summary(model, weights, as_json)
    # The layer first, then the neuron in it: each error names its own parameter.
    checks = [("LAYER", [])] + ([] if neuron is None else [("--neuron", [neuron])])
    for hint, neurons in checks:
        try:
            inspection.checked_neurons(model.network, layer, neurons)
        except IndexError as e:
            raise click.BadParameter(str(e), param_hint=hint) from None
    if top is not None and (image or raw or per_neuron_scale):
        raise click.UsageError("--top looks at the test digits (each preferred input on its "
                               "own scale); it takes neither --image, --raw nor "
                               "--per-neuron-scale")
    if png:
        png_target(png)
    if top is not None:
        return show_top(model, weights, layer, neuron, top, palette, png, as_json)
    inputs = read_image_inputs(model, image, raw) if image else None
    view = inspection.layer_view(model.network, layer,
                                 None if neuron is None else [neuron], inputs)
    if as_json:
        import json
        click.echo(json.dumps(json_safe(view.to_dict(image))))
    elif not png:
        color = use_color()
        width = report_width(color)
        click.echo(render.layer_text(view, color, width, per_neuron_scale,
                                     printable(image) if image else None, palette))
    if png:
        try:
            _, scale = render.layer_png(view, png, weights, per_neuron_scale,
                                        os.path.basename(image) if image else None, palette)
        except OSError as e:
            fail(f"{printable(png)}: cannot write ({one_line(e)})")
        what = "contributions" if image else "weights"
        click.echo(f"wrote {printable(png)}: layer {layer}, {len(view.rows)} neuron(s) x "
                   f"{view.shape[1]} {what}; "
                   f"{render.scale_line(scale, per_neuron=per_neuron_scale)}", err=True)


def show_top(model, weights, layer, neuron, top, palette, png, as_json):
    """``inspect-layer L --top K``: what each neuron detects, on the shipped test set."""
    from digitnet import inspection, mnist, render
    x, y = mnist.load_split(mnist.bundled_dir(), "test")
    td = inspection.top_digits(model.network, layer, top, x, y,
                               None if neuron is None else [neuron])
    if as_json:
        import json
        click.echo(json.dumps(json_safe(td.to_dict())))
    elif not png:
        color = use_color()
        click.echo(render.top_text(td, color, report_width(color),
                                   palette))
    if png:
        try:
            render.top_png(td, png, f"layer {layer} of {weights}: the MNIST test digits that "
                                    f"excite each neuron most", palette)
        except OSError as e:
            fail(f"{printable(png)}: cannot write ({one_line(e)})")
        click.echo(f"wrote {printable(png)}: layer {layer}, top {top} test digits of "
                   f"{len(td.neurons)} neuron(s)", err=True)


@cli.command()
@click.argument("image", metavar="IMG")
@weights_option
@click.option("--raw", is_flag=True, help="The image is already 28x28 MNIST-style.")
@palette_option
@click.option("--png", "png", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Write the two maps into a PNG instead of printing them.")
@json_option
def explain(image, weights, raw, palette, png, as_json):
    """Which pixels pushed the answer up, and which pushed it down.

    For the answer and for the runner-up: gradient x input of the output neuron's
    weighted input z (its evidence, before the sigmoid; the sigmoid itself would hide
    everything in a confident answer). A pixel is green (--palette blue-orange: blue)
    where its ink raised z, red (orange) where it lowered z; blank pixels never count.
    The pixels' shares add up to z, apart from what the biases and the sigmoids'
    curvature add (printed as well; in --json, each digit's bias_share).

    \b
    Examples:
      digitnet explain digit.png
      digitnet explain digit.png --png why.png
      digitnet explain digit.png --json | jq '.explained[0].pushed_up'
    """
    from digitnet import explain as explaining, render

    model = load_model(weights)
    if png:
        png_target(png)
    inputs = read_image_inputs(model, image, raw)
    result = model.results(inputs[None], sums=True)[0]
    ex = explaining.explain(model.network, inputs, result)
    if as_json:
        import json
        click.echo(json.dumps({**json_name(image), "digit": result.digit, "margin": result.margin,
                               "runner_up": result.runner_up, **ex.to_dict()}))
    elif not png:
        color = use_color()
        click.echo(render.answer_line(result.outputs))
        click.echo(render.explain_text(ex, color, report_width(color),
                                       palette))
    if png:
        try:
            render.explain_png(ex, png, os.path.basename(image), palette)
        except OSError as e:
            fail(f"{printable(png)}: cannot write ({one_line(e)})")
        click.echo(f"wrote {printable(png)}: why {ex.digits[0]} and not {ex.digits[1]}",
                   err=True)


def print_summary(model, weights, as_json):
    """The model's layers: number, shape, parameters, activation, weight and bias ranges."""
    from digitnet import inspection
    info = inspection.summary(model.network)
    if as_json:
        import json
        click.echo(json.dumps(json_safe({"model": str(weights), "sizes": model.sizes,
                                          "layers": info})))
        return
    total = sum(i["parameters"] for i in info)
    lines = [f"model {printable(weights)}: {'-'.join(map(str, model.sizes))}, {total:,} "
             f"parameters, {model.network.dtype}",
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
    from digitnet.errors import DataError
    from digitnet.evaluation import evaluate as run

    model = load_model(weights)
    try:
        x, y, folder = mnist.find_split(data, "test")
    except DataError as e:
        fail(str(e))
    report = run(model.network, x, y)
    report["weights"] = str(weights)
    report["data"] = str(folder)
    if as_json:
        import json
        click.echo(json.dumps(json_safe(report)))
        return
    click.echo(format_report(report, model.sizes))


def format_report(r, sizes):
    """The evaluation report as text for a person."""
    lines = [f"model     {printable(r['weights'])}  ({'-'.join(map(str, sizes))}, sigmoid)",
             f"data      {printable(r['data'])}  (MNIST test set, {r['n']:,} images)",
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
    from digitnet import weightfile
    sizes = [784] + hidden + [10]
    try:
        weightfile.check_sizes(sizes)
    except weightfile.WeightFileError as e:
        raise click.BadParameter(str(e)) from None
    return sizes


def parse_out(ctx, param, value):
    from digitnet import weightfile
    try:
        return weightfile.npz_path(value)
    except weightfile.WeightFileError as e:
        raise click.BadParameter(str(e)) from None


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
              help="Train on randomly distorted copies (rotation, shear, shift, "
                   "elastic warp, stroke thickness, other writers' styles); --renew says "
                   "which share is drawn anew each epoch.")
@click.option("--augment-strength", default=0.5, show_default=True,
              type=click.FloatRange(0, 3),
              help="Scale every distortion of --augment (0.5 = half as strong).")
@click.option("--renew", "augment_renew", default=0.0625, show_default=True,
              type=click.FloatRange(0, 1, min_open=True),
              help="Share of the distorted copies drawn anew each epoch (1: all of them; "
                   "less is faster, as every copy is then shown for several epochs).")
@click.option("--styles", default=1.0, show_default=True, type=click.FloatRange(0, 2),
              help="Among the distortions, other writers' styles: strong slant (25% of "
                   "the images at 1.0), digits stretched to fill a box (15%), "
                   "low-resolution scans (10%), marker strokes (10%). 0.5: half as often; "
                   "0: none.")
@click.option("--synthetic", default=0.2, show_default=True, type=click.FloatRange(0, 5),
              help="Add this many digits drawn by code as pen strokes (European 1s, crossed "
                   "7s, open 4s ...; see digitnet.handwriting) per training image: 0.2 adds "
                   "11,000 to MNIST's 55,000. 0: none.")
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
              type=click.Path(dir_okay=False), callback=parse_out,
              help="Where to write the weights (NAME.npz, or NAME to which .npz is added); "
                   "the model card goes beside it as NAME.json.")
@click.option("--quiet", "-q", is_flag=True,
              help="No progress: only the final one-line summary (on stderr).")
def train(data, layers, epochs, batch_size, lr, optimizer, momentum, loss, schedule,
          weight_decay, augment, augment_strength, augment_renew, styles, synthetic, teacher,
          teacher_weight, teacher_temperature, validation, seed, out, quiet):
    """Train a network on the MNIST training set and save it with its model card.

    Holds --validation images out of the 60,000 to pick the best epoch, then reports the
    chosen network's accuracy on the 10,000 test images (stored in the model card). The
    weights and card are written atomically: --out is replaced only by a complete file.
    Ctrl-C stops training: the best network so far (if an epoch has finished) is saved
    to --out, marked as interrupted in its card, and the exit code is 130.

    The default recipe: Adam with a cosine schedule; mildly distorted images (--augment)
    with other writers' styles among them (--styles), a sixteenth of the distortions drawn
    anew each epoch (--renew); 11,000 digits drawn by code added (--synthetic); and the
    shipped 'wide' model as teacher (knowledge distillation). Every choice is recorded in
    the model card (the shipped models' cards hold their exact commands). Matrix products
    use one BLAS thread (fastest for these sizes, and on a busy machine) unless you set
    OPENBLAS_NUM_THREADS, OMP_NUM_THREADS or another BLAS thread variable.

    \b
    Examples:
      digitnet download --data ~/mnist
      digitnet train --data ~/mnist --epochs 3 --out m.npz
      digitnet train --data ~/mnist --teacher none --no-augment --synthetic 0 --epochs 30 --out plain.npz
      digitnet train --data ~/mnist --styles 0 --synthetic 0 --out mnist-only.npz
      digitnet train --data ~/mnist --layers 32,16 --optimizer sgd --lr 0.5 --teacher none
    """
    import shlex

    from digitnet import mnist, training, weightfile
    from digitnet.errors import DataError, WeightFileError
    from digitnet.threads import chosen_threads, user_setting

    if teacher and teacher.lower() == "none":
        teacher = None
    cfg = training.TrainConfig(layers=layers, epochs=epochs, batch_size=batch_size, lr=lr,
                               optimizer=optimizer, momentum=momentum, loss=loss,
                               schedule=schedule, weight_decay=weight_decay, augment=augment,
                               augment_strength=augment_strength,
                               augment_renew=augment_renew, styles=styles, synthetic=synthetic,
                               teacher_weight=teacher_weight if teacher else 0.0,
                               teacher_temperature=teacher_temperature,
                               seed=seed, validation=validation)
    for target in (out, weightfile.card_path(out)):   # now: never train, then fail to save
        writable_or_fail(target)
    folder = mnist.data_dir(data)
    try:
        x, y = mnist.load_split(folder, "train")
        x_test, y_test, _ = mnist.find_split(data, "test")
    except DataError as e:
        fail(str(e))
    teacher_net = load_model(teacher).network if teacher else None
    if not 0 <= validation < len(x):
        raise click.BadParameter(f"cannot hold out {validation} of {len(x)} images for "
                                 "validation", param_hint="--validation")
    # Same seed + same data give identical weights on the same machine *with the same
    # number of BLAS threads* (a threaded matrix product may sum in another order):
    # digitnet uses one, and a thread count the user set is part of the recorded command.
    threads = user_setting()
    command = " ".join([*(f"{k}={shlex.quote(v)}" for k, v in threads.items()),
                        shlex.join(["digitnet"] + sys.argv[1:])])
    progress = TrainProgress(epochs, quiet)

    def started(n_train, n_val):
        extra = cfg.n_synthetic(n_train)
        progress.say(f"training {'-'.join(map(str, layers))} on {n_train:,} images "
                     + (f"and {extra:,} synthetic digits " if extra else "")
                     + f"({n_val:,} held out for validation), {epochs} "
                     f"epoch{'s' if epochs != 1 else ''}"
                     + ("" if n_val else "; no validation set: the last epoch is kept"))

    try:
        with progress:
            done = training.train_and_save(
                cfg, out, x, y, x_test, y_test, command=command,
                environment={"cpu_count": os.cpu_count(), "blas_threads": chosen_threads(),
                             **threads},
                teacher=teacher_net, teacher_name=str(teacher) if teacher else None,
                on_start=started, on_epoch=progress.epoch, on_batch=progress.batch)
    except (training.TrainingDiverged, WeightFileError) as e:
        fail(str(e))
    except OSError as e:
        fail(f"{printable(out)}: cannot write ({one_line(e)})")
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted before the first epoch finished; nothing written "
                          f"to {printable(out)}") from None
    r = done.result
    chosen = (f"best epoch {r.best_epoch} (validation {100 * r.best_val_accuracy:.2f}%)"
              if validation else f"last epoch {r.best_epoch} (no validation set)")
    summary = (f"{chosen}, test accuracy {100 * done.report['accuracy']:.2f}% on "
               f"{done.report['n']:,} images; {r.seconds:.1f}s; wrote "
               f"{printable(done.npz)} and {printable(done.card)}")
    if done.interrupted:
        raise Interrupted(f"interrupted; {summary}")
    # The model is written: a Ctrl-C from here on comes too late to stop anything, and
    # must not turn the finished run's one summary line into a second, "interrupted".
    no_more_interrupts()
    progress.summary(summary)


class TrainProgress:
    """What ``train`` tells the user on stderr, as a context manager that closes its bar.

    One line per finished epoch; on a terminal also one overall bar below them, across
    all epochs, with the current epoch's batch and an ETA for the whole run (a log file
    gets only the lines). ``quiet``: only the final summary (:meth:`summary`).
    """

    _EVERY = 0.1  # seconds between redraws of the bar

    def __init__(self, epochs, quiet):
        self.epochs, self.quiet = epochs, quiet
        self.live = not quiet and sys.stderr.isatty()
        self.seen, self.start, self.drawn, self.shown = 0, None, 0.0, False
        self.first = None  # (time, share done) when the first batch was reported

    def __enter__(self):
        import time
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self._clear()
        return False

    def say(self, message):
        if not self.quiet:
            self._clear()
            click.echo(message, err=True)

    def summary(self, message):
        """The run's last line: printed even with ``--quiet``."""
        self._clear()
        click.echo(message, err=True)

    def batch(self, done, total):
        import time
        now = time.perf_counter()
        if not self.live or (now - self.drawn < self._EVERY and done < total):
            return
        self.drawn = now
        share = (self.seen + done / total) / self.epochs
        elapsed = now - self.start
        # The rate comes from the batches done so far (not the preparation before them).
        if self.first is None:
            self.first = (now, share)
        t0, s0 = self.first
        eta = _clock((now - t0) / (share - s0) * (1 - share)) if share > s0 else "?"
        width = 30
        full = int(width * share)
        click.echo(f"\repoch {self.seen + 1}/{self.epochs} [{'#' * full}{'-' * (width - full)}] "
                   f"{100 * share:3.0f}%  batch {done}/{total}  elapsed {_clock(elapsed)}  "
                   f"ETA {eta}\033[K", err=True, nl=False)
        self.shown = True

    def epoch(self, rec):
        import time
        self.seen += 1
        val = (f"validation {100 * rec['val_accuracy']:.2f}%  "
               if rec["val_accuracy"] == rec["val_accuracy"] else "")      # NaN: none
        self.say(f"epoch {rec['epoch']:>3}/{self.epochs}  loss {rec['loss']:.4f}  {val}"
                 f"elapsed {_clock(time.perf_counter() - self.start)}")

    def _clear(self):
        if self.shown:
            click.echo("\r\033[K", err=True, nl=False)
            self.shown = False
            self.drawn = 0.0


def _clock(seconds):
    """Seconds as m:ss (or h:mm:ss)."""
    s = int(round(seconds))
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


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
    from digitnet.errors import DataError
    folder = mnist.data_dir(data)
    mirrors = os.environ.get("DIGITNET_MIRRORS")
    try:
        mnist.download(folder, mirrors=mirrors.split() if mirrors else None,
                       progress=lambda name, status: click.echo(f"{name}: {status}", err=True))
    except DataError as e:
        fail(str(e))
    click.echo(printable(folder))


# ---------------------------------------------------------------------------------------
# draw

@cli.command()
@weights_option
@click.option("--port", "-p", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port on 127.0.0.1 (0: any free port).")
@click.option("--no-browser", is_flag=True, help="Only print the URL; do not open a browser.")
def draw(weights, port, no_browser):
    """Draw a digit in your browser and watch the network think, live.

    Serves a page on http://127.0.0.1:PORT (this computer only; everything it needs ships
    with digitnet, nothing is fetched from the internet). As you draw, the drawing goes
    through the same normalisation and network as `classify`: the page shows the 28x28
    input, every neuron lit by its activation, the strongest connections, the ten
    outputs, why the answer won (gradient x input), and, for a neuron you point at, its
    weights, bias, weighted sum, z, sigmoid(z) and the test digits that excite it most.
    "Break it" switches zero the biases or a layer, or add weight noise.

    The page's HTTP API (POST /api/classify with an image file's bytes) answers with the
    fields of `classify --json`; see the README. Ctrl-C stops the server.

    \b
    Examples:
      digitnet draw
      digitnet draw --weights wide --port 9000 --no-browser
    """
    from digitnet.server import DrawApp, make_server
    from digitnet.errors import WeightFileError

    try:
        app = DrawApp(weights)
    except WeightFileError as e:
        fail(str(e))
    try:
        server = make_server(app, port)
    except OSError as e:
        fail(f"cannot listen on 127.0.0.1:{port} ({one_line(e)}); try another --port, "
             "or --port 0 for any free one")
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        click.echo(url)                       # stdout: the URL, for scripts
        click.echo("digitnet draw: serving the page; press Ctrl-C to stop", err=True)
        if not no_browser:
            import webbrowser
            try:
                webbrowser.open(url)
            except Exception:                  # no browser here: the URL is printed above
                pass
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        raise Interrupted("stopped the draw server") from None
    finally:
        server.server_close()


# ---------------------------------------------------------------------------------------
# the executable

class _GuardedStdout(io.RawIOBase):
    """File descriptor 1 for the real executable: a failed write raises
    :class:`OutputFailed` (one clean line) instead of an OSError that could be anyone's;
    a reader that went away still raises BrokenPipeError. With ``closed_reason`` (stdout
    was closed when we started), every write fails with that reason."""

    def __init__(self, closed_reason=None):
        super().__init__()
        self.closed_reason = closed_reason

    def writable(self):
        return True

    def fileno(self):
        return 1

    def isatty(self):
        return self.closed_reason is None and os.isatty(1)

    def write(self, data):
        if self.closed_reason:
            raise OutputFailed(self.closed_reason)
        try:
            return os.write(1, data)
        except BrokenPipeError:
            raise
        except OSError as e:
            raise OutputFailed(e) from None


def _guard_stdout():
    """Route sys.stdout through :class:`_GuardedStdout` (and reserve descriptors 0-2, so
    that no file we open later becomes "stdout" by taking a closed descriptor's number)."""
    closed = None
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR if fd else os.O_RDONLY)   # takes the lowest: fd
            if fd == 1:
                closed = "standard output is closed"
    old = sys.stdout
    encoding = getattr(old, "encoding", None) or "utf-8"
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(_GuardedStdout(closed)), encoding=encoding,
                                  errors="surrogateescape",
                                  line_buffering=bool(old and old.line_buffering))


def _stop_quietly_on_stdout():
    """After stdout failed: point it at /dev/null so the interpreter's final flush is quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = open(os.devnull, "w")


@contextlib.contextmanager
def _stop_signals_interrupt():
    """SIGTERM and SIGHUP (a batch scheduler, a closed terminal) stop a command as Ctrl-C
    does: what is finished is kept, one line, exit 130. The old handlers come back after."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    old = {}
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) == signal.SIG_DFL:
            old[sig] = signal.signal(sig, interrupt)
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def main():
    """Entry point: run the group; no traceback ever reaches the user."""
    # File names that are not valid UTF-8 reach us as surrogate escapes: write them back
    # as the same bytes on stdout, and never crash on them in messages.
    _guard_stdout()
    if hasattr(sys.stderr, "reconfigure"):
        sys.stderr.reconfigure(errors="backslashreplace")
    global _IN_MAIN
    _IN_MAIN = True
    if _STARTUP_SIGINT is not None:
        signal.signal(signal.SIGINT, _STARTUP_SIGINT)
    try:
        with _stop_signals_interrupt():
            try:
                rv = cli(standalone_mode=False)
            finally:
                sys.stdout.flush()     # here, where a failure still gets its one line
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
    except OutputFailed as e:
        _stop_quietly_on_stdout()
        click.echo(f"digitnet: cannot write output: {e}", err=True)
        sys.exit(EXIT_FAILED)
    except MemoryError:
        click.echo("digitnet: out of memory (the data or the network is too large for this "
                   "machine)", err=True)
        sys.exit(EXIT_FAILED)
    except (BrokenPipeError, PipeClosed):
        # The reader went away (e.g. `| head`): stop quietly, and keep Python from
        # complaining again when it flushes stdout at exit.
        _stop_quietly_on_stdout()
        sys.exit(EXIT_BROKEN_PIPE)
    except Exception as e:  # a bug of ours: still one line, but say how to see more
        if os.environ.get("DIGITNET_DEBUG"):
            raise
        click.echo(f"digitnet: internal error: {type(e).__name__}: {one_line(e, 500)} "
                   "(set DIGITNET_DEBUG=1 for the traceback)", err=True)
        sys.exit(EXIT_FAILED)
    finally:
        no_more_interrupts()
