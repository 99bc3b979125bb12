"""Pictures of the network: activations and weights, in the terminal and as PNG files.

Two kinds of numbers get drawn:

- **activations** live in 0..1 (a pixel's brightness, a sigmoid neuron's output) and are
  drawn as shades of grey or as bars;
- **weights** are signed and unbounded. A neuron's incoming weights are drawn as a grid
  (784 inputs -> a 28x28 picture): **green where a weight is positive, red where it is
  negative, black where it is zero**, brighter the larger ``|w|`` is compared with a
  *scale* (see :func:`signed_rgb`).

Everything here is a pure function: it returns a string, or writes one PNG file. Nothing
prints, nothing reads the environment. Whether to use colour is the caller's decision
(the command line passes ``color=True`` only for a terminal without ``NO_COLOR``):

- ``color=True``: 24-bit ("truecolour") ANSI escapes, ``ESC[38;2;R;G;Bm`` for the text
  colour and ``ESC[48;2;R;G;Bm`` for the background, ``ESC[0m`` to reset. Grids and
  images use the upper half block ``▀`` whose top half shows the text colour and bottom
  half the background colour, so each character cell shows *two* square-ish pixels.
- ``color=False``: no escape characters at all, and pure ASCII (as long as the labels you
  pass are ASCII), so the output survives pipes, files, logs and legacy terminals.

Terminal output never exceeds the ``width`` it is given, counted in visible columns
(escapes take no room on screen; :func:`visible_len` measures that way).

Pillow is imported only inside the PNG functions: ``import digitnet.render`` costs numpy
and nothing more.
"""

from __future__ import annotations

import math
import operator
import os
import re
from typing import Iterable, Sequence

import numpy as np

from .network import CONFIDENT_MARGIN, top_two

__all__ = [
    "GAMMA",
    "MAX_ASPECT",
    "RESET",
    "activations_text",
    "answer_line",
    "png_font",
    "text_height",
    "bar",
    "grid_shape",
    "grids_image",
    "grids_png",
    "grids_to_text",
    "hidden_layer_text",
    "image_to_text",
    "input_summary",
    "legend_text",
    "outputs_text",
    "robust_scale",
    "save_png_atomic",
    "signed_rgb",
    "truncate_visible",
    "visible_len",
]

# --------------------------------------------------------------------------------------
# ANSI basics
# --------------------------------------------------------------------------------------

RESET = "\x1b[0m"
BOLD = "\x1b[1m"
_DEFAULT_FG = "\x1b[39m"
_DEFAULT_BG = "\x1b[49m"

# CSI sequences (colours, bold, reset...). The only escapes this module writes.
_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _fg(rgb: Sequence[int]) -> str:
    return f"\x1b[38;2;{rgb[0]};{rgb[1]};{rgb[2]}m"


def _bg(rgb: Sequence[int]) -> str:
    return f"\x1b[48;2;{rgb[0]};{rgb[1]};{rgb[2]}m"


def visible_len(s: str) -> int:
    """Number of terminal columns ``s`` occupies: its length without ANSI escapes.

    Every character this module draws (ASCII, ``▀ ▄ █ ▏``...) is one column wide.
    For a multi-line string, measure each line separately.
    """
    return len(_ANSI_RE.sub("", s))


def truncate_visible(s: str, width: int) -> str:
    """Cut one line to at most ``width`` visible columns, keeping its escapes intact.

    Escapes are never split, and if the line used any, a reset is appended so a cut
    colour cannot bleed into the next line.
    """
    if visible_len(s) <= width:
        return s
    out: list[str] = []
    used = 0
    pos = 0
    saw_escape = False
    for m in _ANSI_RE.finditer(s):
        text = s[pos:m.start()]
        take = text[: max(0, width - used)]
        out.append(take)
        used += len(take)
        if used >= width:
            break
        out.append(m.group())
        saw_escape = True
        pos = m.end()
    else:
        out.append(s[pos:][: max(0, width - used)])
    result = "".join(out)
    return result + RESET if saw_escape else result


# --------------------------------------------------------------------------------------
# Grid shapes
# --------------------------------------------------------------------------------------

#: A factor pair ``rows x cols`` is used as-is only if ``cols / rows`` is at most this.
MAX_ASPECT = 2.5


def grid_shape(n: int) -> tuple[int, int]:
    """The grid (rows, cols) used to draw ``n`` values, e.g. a neuron's ``n`` weights.

    The rule, in order:

    1. ``n`` is a perfect square -> ``(s, s)``: 784 -> (28, 28), 16 -> (4, 4), 64 -> (8, 8).
    2. Otherwise take the factor pair ``rows * cols == n`` with ``rows <= cols`` closest to
       square; use it if ``cols / rows <= MAX_ASPECT`` (2.5): 10 -> (2, 5), 32 -> (4, 8),
       12 -> (3, 4), 2 -> (1, 2), 128 -> (8, 16).
    3. Otherwise (primes and other long thin factorings) a near-square grid with
       ``cols = ceil(sqrt(n))`` and ``rows = ceil(n / cols)``, filled row by row and the
       last ``rows * cols - n`` cells left empty (drawn blank): 7 -> (3, 3) with 2 blank,
       3 -> (2, 2) with 1 blank, 22 -> (5, 5) with 3 blank.

    Always ``rows <= cols`` and ``rows * cols >= n``. A 784-weight neuron therefore looks
    exactly like the 28x28 image it reads.
    """
    n = operator.index(n)
    if n <= 0:
        raise ValueError(f"grid_shape needs a positive count, got {n}")
    s = math.isqrt(n)
    if s * s == n:
        return s, s
    rows = max(d for d in range(1, s + 1) if n % d == 0)
    cols = n // rows
    if cols <= MAX_ASPECT * rows:
        return rows, cols
    cols = s + 1  # ceil(sqrt(n)) for a non-square n
    return -(-n // cols), cols


def _as_grid(values: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Lay 1-D ``values`` row by row into ``shape``; return (grid, blank mask).

    Cells past the end of ``values`` hold 0 and are flagged in the mask (drawn blank).
    """
    rows, cols = shape
    flat = np.zeros(rows * cols, dtype=np.float64)
    flat[: values.size] = values
    blank = np.zeros(rows * cols, dtype=bool)
    blank[values.size:] = True
    return flat.reshape(rows, cols), blank.reshape(rows, cols)


# --------------------------------------------------------------------------------------
# Colours of weights
# --------------------------------------------------------------------------------------

#: Brightness is ``(|w| / scale) ** GAMMA``. 0.5 (a square root) lifts small weights:
#: a weight at 10 % of the scale still shows at ~32 % brightness instead of 10 %, so the
#: shape of a neuron's pattern stays visible, while 0 stays exactly black.
GAMMA = 0.5


def _clean_scale(scale: float) -> float:
    """A usable scale: positive and finite, else 1.0."""
    try:
        scale = float(scale)
    except (TypeError, ValueError):
        return 1.0
    return scale if math.isfinite(scale) and scale > 0 else 1.0


def _brightness(values: np.ndarray, scale: float) -> np.ndarray:
    """``clip(|v| / scale, 0, 1) ** GAMMA`` as float64 in 0..1; NaN counts as 0."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=np.inf, neginf=-np.inf)
    m = np.clip(np.abs(v) / _clean_scale(scale), 0.0, 1.0)
    return m**GAMMA


def robust_scale(values: np.ndarray | Iterable[np.ndarray], q: float = 99.0) -> float:
    """A scale for drawing weights: the ``q``-th percentile of ``|w|`` over all values.

    Using a high percentile rather than the maximum keeps one outlier weight from
    turning every other weight dark; the few weights above it are drawn at full
    brightness. Non-finite values are ignored; returns 1.0 if nothing usable is left.
    """
    if isinstance(values, np.ndarray):
        flat = np.abs(values.astype(np.float64, copy=False).ravel())
    else:
        parts = [np.abs(np.asarray(v, dtype=np.float64).ravel()) for v in values]
        flat = np.concatenate(parts) if parts else np.zeros(0)
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return 1.0
    return _clean_scale(np.percentile(flat, q))


#: Colours of positive and negative values at full brightness. Blue/orange (Okabe & Ito's
#: palette) reads the same for the red-green colour-blind, about 1 man in 12.
PALETTES = {"green-red": ((0, 255, 0), (255, 0, 0)),
            "blue-orange": ((86, 180, 233), (230, 159, 0))}
PALETTE_WORDS = {"green-red": ("green", "red"), "blue-orange": ("blue", "orange")}


def sign_words(color: bool, palette: str = "green-red") -> tuple[str, str]:
    """How a picture shows (positive, negative): the palette's colours, or in plain text
    the characters of :func:`_plain_weight_chars`."""
    return PALETTE_WORDS[palette] if color else ("#+.", "%=-")


def signed_rgb(values: np.ndarray, scale: float, palette: str = "green-red") -> np.ndarray:
    """Colour signed values: shape ``(...)`` -> ``uint8`` array of shape ``(..., 3)``.

    - with the default ``palette`` "green-red": positive ``v`` -> ``(0, g, 0)`` (green),
      negative -> ``(r, 0, 0)`` (red), 0 -> black; "blue-orange": positive blue,
      negative orange (:data:`PALETTES`);
    - the brightness is ``clip(|v| / scale, 0, 1) ** GAMMA``, so ``|v| >= scale`` is full
      brightness and the square root (``GAMMA = 0.5``) keeps small values visible.

    ``scale`` is in the same units as ``values`` (e.g. the weights' typical magnitude, see
    :func:`robust_scale`); a scale that is ``<= 0``, NaN or infinite counts as 1.
    NaN values are drawn black, +-inf at full brightness.
    """
    v = np.asarray(values, dtype=np.float64)
    level = _brightness(v, scale)
    pos, neg = (np.array(c, dtype=np.float64) for c in PALETTES[palette])
    colour = np.where((v < 0)[..., None], neg, np.where((v > 0)[..., None], pos, 0.0))
    return np.rint(colour * level[..., None]).astype(np.uint8)


# Plain-text weights: sign picks the family, brightness (same formula as the colours)
# picks one of 4 levels: [0, .25) blank, [.25, .5), [.5, .75), [.75, 1].
_PLAIN_POS = np.array(list(" .+#"))
_PLAIN_NEG = np.array(list(" -=%"))


def _plain_weight_chars(grid: np.ndarray, blank: np.ndarray, scale: float) -> np.ndarray:
    level = np.minimum(3, (_brightness(grid, scale) * 4.0).astype(np.int64))
    chars = np.where(grid > 0, _PLAIN_POS[level], _PLAIN_NEG[level])
    chars[blank] = " "
    return chars


def legend_text(color: bool, what: str = "weights", palette: str = "green-red") -> str:
    """One line (at most 80 columns) explaining how :func:`grids_to_text` draws weights.

    Plain: ``weights: #+. positive, %=- negative (strong..weak), blank ~0``. Each
    character covers a quarter of the brightness ``b = (|w| / scale) ** 0.5`` used for the
    colours: blank for ``b < .25``, ``.``/``-`` up to .5, ``+``/``=`` up to .75, ``#``/``%``
    above. Colour: a negative-black-positive swatch in ``palette``. ``what`` names the
    values drawn; :func:`scale_line` says where full brightness starts.
    """
    if color:
        steps = np.array([-1.0, -0.5, -0.2, -0.05, 0.0, 0.05, 0.2, 0.5, 1.0])
        swatch = "".join(_bg(c) + " " for c in signed_rgb(steps, 1.0, palette).tolist()) + RESET
        pos, neg = PALETTE_WORDS[palette]
        return f"{what}: {swatch} {neg} -, black 0, {pos} +"
    return f"{what}: #+. positive, %=- negative (strong..weak), blank ~0"


# --------------------------------------------------------------------------------------
# Half-block rendering (colour mode)
# --------------------------------------------------------------------------------------


def _halfblock_lines(rgb: np.ndarray, blank: np.ndarray | None = None) -> list[str]:
    """Draw an ``(h, w, 3)`` uint8 picture as ``ceil(h / 2)`` lines of ``w`` columns.

    Each character is ``▀``: text colour = upper pixel, background = lower pixel. Cells
    flagged in ``blank`` (grid padding, and the missing row under an odd last row) keep
    the terminal's own background. Escapes are written only when a colour changes, which
    keeps black regions (most of a digit picture) to plain spaces; each line ends with a
    reset so nothing leaks into the gap or the next line.
    """
    h, w = rgb.shape[:2]
    if blank is None:
        blank = np.zeros((h, w), dtype=bool)
    if h % 2:
        rgb = np.concatenate([rgb, np.zeros((1, w, 3), dtype=rgb.dtype)])
        blank = np.concatenate([blank, np.ones((1, w), dtype=bool)])
    tops, bots = rgb[0::2].tolist(), rgb[1::2].tolist()
    tblank, bblank = blank[0::2].tolist(), blank[1::2].tolist()
    lines = []
    for top, bot, tb, bb in zip(tops, bots, tblank, bblank):
        parts: list[str] = []
        fg = bg = None  # None: terminal default
        for c in range(w):
            want_fg, want_bg = None, None
            if tb[c] and bb[c]:
                ch, want_fg = " ", fg  # fg irrelevant for a space
            elif bb[c]:
                ch, want_fg = "▀", top[c]
            elif tb[c]:
                ch, want_fg = "▄", bot[c]
            elif top[c] == bot[c]:
                # A uniform cell needs only one colour: reuse whichever is already set.
                col = top[c]
                if bg == col:
                    ch, want_fg, want_bg = " ", fg, col
                elif fg == col:
                    ch, want_fg, want_bg = "█", col, bg
                else:
                    ch, want_fg, want_bg = " ", fg, col
            else:
                ch, want_fg, want_bg = "▀", top[c], bot[c]
            if want_fg != fg:
                parts.append(_DEFAULT_FG if want_fg is None else _fg(want_fg))
                fg = want_fg
            if want_bg != bg:
                parts.append(_DEFAULT_BG if want_bg is None else _bg(want_bg))
                bg = want_bg
            parts.append(ch)
        if fg is not None or bg is not None:
            parts.append(RESET)
        lines.append("".join(parts))
    return lines


# --------------------------------------------------------------------------------------
# The input image
# --------------------------------------------------------------------------------------

# Plain-text greys, dark to bright (ink is bright in MNIST: 0 = background, 1 = ink).
_PLAIN_RAMP = np.array(list(" .:-=+*#%@"))


def image_to_text(img: np.ndarray, color: bool) -> str:
    """Draw an image "as the network sees it": its input activations, 0 black .. 1 white.

    ``img`` is ``(28, 28)`` floats in 0..1 (any 2-D shape works; a flat ``(784,)`` vector
    is reshaped to 28x28). Values outside 0..1 are clipped, NaN shows as 0.

    - colour: ``▀`` half blocks, grey text colour = upper pixel, grey background = lower
      pixel -> 14 lines x 28 columns for 28x28, pixels look square;
    - plain: one line per pixel row, each pixel *two* characters wide (so the picture is
      not squashed: a character cell is about twice as tall as wide) from the ramp
      ``" .:-=+*#%@"`` (10 levels, round(9 * v)) -> 28 lines x 56 columns, pure ASCII.
    """
    a = np.asarray(img, dtype=np.float64)
    if a.ndim == 1:
        s = math.isqrt(a.size)
        if s * s != a.size:
            raise ValueError(f"a flat image must have a square number of pixels, got {a.size}")
        a = a.reshape(s, s)
    if a.ndim != 2:
        raise ValueError(f"image must be 2-D (rows, cols), got shape {a.shape}")
    a = np.clip(np.nan_to_num(a, nan=0.0), 0.0, 1.0)
    if color:
        grey = np.rint(a * 255.0).astype(np.uint8)
        return "\n".join(_halfblock_lines(np.repeat(grey[..., None], 3, axis=2)))
    chars = _PLAIN_RAMP[np.rint(a * 9.0).astype(np.int64)]
    return "\n".join("".join(np.repeat(row, 2)) for row in chars)


# --------------------------------------------------------------------------------------
# Bars
# --------------------------------------------------------------------------------------

_EIGHTHS = " ▏▎▍▌▋▊▉"
_BAR_FG = (225, 225, 225)
_BAR_TRACK = (55, 55, 55)


def bar(value: float, width: int, color: bool, rgb: Sequence[int] | None = None) -> str:
    """A horizontal bar for an activation in 0..1, exactly ``width`` columns wide.

    - colour: ``█`` blocks plus one eighth block (``▏▎▍▌▋▊▉``) -> 8 * width steps, drawn
      in ``rgb`` (default light grey) over a dark grey track so the full length shows;
    - plain: ``round(value * width)`` ``#`` characters, padded with spaces (ASCII only).

    ``value`` is clipped to 0..1; NaN draws an empty bar.
    """
    width = max(0, operator.index(width))
    v = float(value)
    v = 0.0 if math.isnan(v) else min(1.0, max(0.0, v))
    if not color:
        n = int(round(v * width))
        return "#" * n + " " * (width - n)
    eighths = int(round(v * width * 8))
    full, part = divmod(eighths, 8)
    body = "█" * full + (_EIGHTHS[part] if part else "")
    body += " " * (width - len(body))
    return _fg(rgb or _BAR_FG) + _bg(_BAR_TRACK) + body + RESET


# --------------------------------------------------------------------------------------
# Weight grids in the terminal
# --------------------------------------------------------------------------------------

#: Grids of at most this many values are drawn with cells twice as large.
SMALL_GRID = 64

#: Labels may widen a terminal tile beyond its grid, up to this many columns, so that
#: tiny grids (4x4, 2x5) can still carry a readable label like "n12 b=-1.3".
LABEL_MAX = 12


def _as_grid_list(grids) -> list[np.ndarray]:
    if isinstance(grids, np.ndarray) and grids.ndim == 2:
        out = [np.asarray(g, dtype=np.float64) for g in grids]
    else:
        out = [np.asarray(g, dtype=np.float64).ravel() for g in grids]
    sizes = {g.size for g in out}
    if len(sizes) > 1:
        raise ValueError(f"all grids must have the same number of values, got sizes {sorted(sizes)}")
    if 0 in sizes:
        raise ValueError("grids must not be empty")
    return out


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _labels(labels, n: int, default: str) -> list[str]:
    if labels is None:
        return [default.format(i) for i in range(n)]
    labels = [str(x) for x in labels]
    if len(labels) != n:
        raise ValueError(f"got {len(labels)} labels for {n} grids")
    # One line each: newlines, tabs or stray escapes would break the layout.
    return [_CONTROL_RE.sub(" ", x) for x in labels]


def _scales(scale, grids: list[np.ndarray]) -> list[float]:
    if scale is None:
        return [robust_scale(grids)] * len(grids)
    if np.ndim(scale) == 0:
        return [_clean_scale(scale)] * len(grids)
    scales = [_clean_scale(s) for s in scale]
    if len(scales) != len(grids):
        raise ValueError(f"got {len(scales)} scales for {len(grids)} grids")
    return scales


def grids_to_text(
    grids: Sequence[np.ndarray] | np.ndarray,
    labels: Sequence[str] | None = None,
    scale: float | Sequence[float] | None = None,
    width: int = 80,
    color: bool = False,
    palette: str = "green-red",
) -> str:
    """Draw several neurons' incoming weights as grids side by side, within ``width``.

    ``grids``: one 1-D array of ``n_in`` weights per neuron (all the same ``n_in``), or a
    weight matrix ``W`` of shape ``(n_out, n_in)`` -- one grid per row. Each grid has the
    shape :func:`grid_shape` gives (784 -> 28x28, 16 -> 4x4, 10 -> 2x5), filled row by row.

    ``labels``: one string per grid, drawn above it (default ``"0"``, ``"1"``...). A tile
    is as wide as its grid, or as wide as the longest label up to ``LABEL_MAX`` (12)
    columns if that is wider; longer labels are cut to the tile width.

    ``scale``: the ``|w|`` drawn at full brightness -- one number shared by all grids (so
    neurons compare fairly), one per grid, or ``None`` for :func:`robust_scale` of all of
    them.

    - colour: ``▀`` half blocks, two grid rows per line, colours from :func:`signed_rgb`
      -> a 28x28 grid is 14 lines x 28 columns;
    - plain: one character per weight, one grid row per line (28 lines x 28 columns), see
      :func:`legend_text`: ``. + #`` positive and ``- = %`` negative, weakest to
      strongest, blank near 0. ASCII only if the labels are.

    Grids of at most :data:`SMALL_GRID` (64) values are drawn twice as large -- each value
    two columns wide and one line tall -- so a 4x4 grid is 8 columns x 4 lines, readable
    next to its label. ``palette``: see :func:`signed_rgb`.

    Tiles are separated by 2 spaces and wrap onto more rows of tiles (separated by a blank
    line) as needed: two 28-wide grids per row at width 80, several 4x4 grids. No line is
    longer than ``width`` visible columns; a single grid wider than ``width`` raises
    ``ValueError``.
    """
    gl = _as_grid_list(grids)
    if not gl:
        return ""
    width = operator.index(width)
    names = _labels(labels, len(gl), "{}")
    scales = _scales(scale, gl)
    shape = grid_shape(gl[0].size)
    k = 2 if gl[0].size <= SMALL_GRID else 1       # cell size, in columns
    gw = shape[1] * k
    if gw > width:
        raise ValueError(f"grids of {gl[0].size} values are {gw} columns wide; width {width} is too narrow")
    gap = 2
    longest = max(len(x) for x in names)
    tile_w = min(width, max(gw, min(longest, LABEL_MAX)))
    per_row = max(1, (width + gap) // (tile_w + gap))

    blocks: list[list[str]] = []  # each grid's lines, each exactly gw visible columns
    for g, s in zip(gl, scales):
        grid, blank = _as_grid(g, shape)
        if color:
            rgb = signed_rgb(grid, s, palette)
            if k > 1:   # each value 2 columns wide and, as two half-block rows, 1 line tall
                rgb = np.repeat(np.repeat(rgb, 2, axis=0), 2, axis=1)
                blank = np.repeat(np.repeat(blank, 2, axis=0), 2, axis=1)
            blocks.append(_halfblock_lines(rgb, blank))
        else:
            chars = _plain_weight_chars(grid, blank, s)
            blocks.append(["".join(np.repeat(r, k)) for r in chars])
    if not color:
        names = [x.encode("ascii", "replace").decode("ascii") for x in names]

    pad = " " * (tile_w - gw)
    out_lines: list[str] = []
    for start in range(0, len(gl), per_row):
        idx = range(start, min(start + per_row, len(gl)))
        if start:
            out_lines.append("")
        out_lines.append((" " * gap).join(names[i][:tile_w].ljust(tile_w) for i in idx).rstrip())
        for r in range(len(blocks[start])):
            out_lines.append((" " * gap).join(blocks[i][r] + pad for i in idx).rstrip(" "))
    return "\n".join(out_lines)


# --------------------------------------------------------------------------------------
# PNG pictures of weight grids
# --------------------------------------------------------------------------------------

_PNG_BG = (24, 24, 24)  # canvas: dark grey, so a grid's black (w = 0) area shows its edge
_PNG_SEP = (70, 70, 70)  # 1-px lines between tiles
_PNG_TEXT = (225, 225, 225)
_PNG_PAD = 6
_PNG_MIN_TILE = 128  # px: a tile's grid area is at least this wide, so labels fit


def png_font(size: int):
    """Pillow's built-in font at ``size`` px (a fixed-size bitmap without FreeType)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1, needs FreeType
    except (TypeError, OSError, ImportError, AttributeError):
        return ImageFont.load_default()


def _fit_text(draw, text: str, font, max_px: float) -> str:
    """``text``, cut and ended with ``...`` if needed to fit ``max_px`` pixels."""
    if draw.textlength(text, font=font) <= max_px:
        return text
    while text and draw.textlength(text + "...", font=font) > max_px:
        text = text[:-1]
    return text + "..." if text else ""


def text_height(font) -> int:
    """Pixels a line of text in ``font`` takes, descenders included."""
    box = font.getbbox("Ag|y")
    return int(box[3]) + 2


def grids_image(
    grids: Sequence[np.ndarray] | np.ndarray,
    labels: Sequence[str] | None = None,
    scale: float | Sequence[float] | None = None,
    px: int | None = None,
    title: str | None = None,
    palette: str = "green-red",
    legend: str | None = None,
):
    """Draw weight grids as one Pillow RGB image; return ``(image, boxes)``.

    Arguments as for :func:`grids_png` (which saves this picture). ``boxes[i]`` is
    ``(left, top, right, bottom)`` in pixels (right/bottom exclusive) of grid ``i``'s
    weights; cell ``(r, c)`` of the grid covers ``px x px`` pixels from
    ``(left + c * px, top + r * px)``.
    """
    from PIL import Image, ImageDraw

    gl = _as_grid_list(grids)
    if not gl:
        raise ValueError("no grids to draw")
    names = _labels(labels, len(gl), "neuron {}")
    scales = _scales(scale, gl)
    rows, cols = grid_shape(gl[0].size)
    if px is None:
        # >= 8 px per weight (28x28 -> 224 px), more for small grids so a tile is >= 128 px.
        px = max(8, -(-_PNG_MIN_TILE // max(rows, cols)))
    px = operator.index(px)
    if px < 1:
        raise ValueError(f"px must be >= 1, got {px}")

    label_font, title_font = png_font(13), png_font(18)
    label_h = text_height(label_font)
    gw_px, gh_px = cols * px, rows * px
    tile_w = max(gw_px, _PNG_MIN_TILE) + 2 * _PNG_PAD
    tile_h = _PNG_PAD + label_h + gh_px + _PNG_PAD

    # Tiles per row: the count that makes the whole picture closest to square,
    # preferring fewer empty tiles on a tie.
    n = len(gl)
    def badness(tc: int) -> tuple[float, int]:
        tr = -(-n // tc)
        return abs(math.log((tc * tile_w) / (tr * tile_h))), tr * tc - n
    tcols = min(range(1, n + 1), key=badness)
    trows = -(-n // tcols)

    same = len(set(scales)) == 1
    pos, neg = PALETTE_WORDS[palette]
    legend = (legend or f"{pos} = positive weight, {neg} = negative, black = 0") + (
        ";  brightness = sqrt(|value| / scale), "
        + (f"scale {scales[0]:.3g}" if same else "scale per tile"))
    title_h = text_height(title_font) + _PNG_PAD if title else 0
    legend_h = text_height(label_font) + _PNG_PAD
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    grid_w = tcols * tile_w + (tcols - 1)
    text_w = max(
        probe.textlength(legend, font=label_font),
        probe.textlength(title, font=title_font) if title else 0,
    ) + 2 * _PNG_PAD
    W = max(grid_w, int(math.ceil(text_w)))
    top0 = _PNG_PAD + title_h
    H = top0 + trows * tile_h + (trows - 1) + legend_h + _PNG_PAD

    # Paint the weights with numpy (fast), then add lines and text with ImageDraw.
    canvas = np.empty((H, W, 3), dtype=np.uint8)
    canvas[:] = _PNG_BG
    boxes = []
    for i, (g, s) in enumerate(zip(gl, scales)):
        tr, tc = divmod(i, tcols)
        x0 = tc * (tile_w + 1) + (tile_w - gw_px) // 2
        y0 = top0 + tr * (tile_h + 1) + _PNG_PAD + label_h
        grid, blank = _as_grid(g, (rows, cols))
        rgb = signed_rgb(grid, s, palette)
        rgb[blank] = _PNG_BG
        canvas[y0:y0 + gh_px, x0:x0 + gw_px] = np.repeat(np.repeat(rgb, px, axis=0), px, axis=1)
        boxes.append((x0, y0, x0 + gw_px, y0 + gh_px))

    image = Image.fromarray(canvas, "RGB")
    draw = ImageDraw.Draw(image)
    if title:
        draw.text((_PNG_PAD, _PNG_PAD), title, fill=(255, 255, 255), font=title_font)
    for tc in range(1, tcols):
        x = tc * (tile_w + 1) - 1
        draw.line([(x, top0), (x, top0 + trows * (tile_h + 1) - 2)], fill=_PNG_SEP)
    for tr in range(trows + 1):
        y = top0 + tr * (tile_h + 1) - 1
        draw.line([(0, y), (grid_w - 1, y)], fill=_PNG_SEP)
    for i, name in enumerate(names):
        tr, tc = divmod(i, tcols)
        x = tc * (tile_w + 1) + _PNG_PAD
        y = top0 + tr * (tile_h + 1) + _PNG_PAD
        draw.text((x, y), _fit_text(draw, name, label_font, tile_w - 2 * _PNG_PAD), fill=_PNG_TEXT, font=label_font)
    draw.text((_PNG_PAD, H - legend_h), legend, fill=(170, 170, 170), font=label_font)
    return image, boxes


def save_png_atomic(image, path: str | os.PathLike) -> None:
    """Save a Pillow image as PNG at ``path`` atomically: all of it or nothing.

    Encoded into a temporary file beside ``path`` and renamed over it
    (:func:`digitnet.files.atomic_files`): a reader sees the old file or the complete new
    one, never half a PNG, and on any failure an existing ``path`` is left untouched.
    """
    from .files import atomic_files

    with atomic_files(path) as f:
        image.save(f, format="PNG")


def grids_png(
    grids: Sequence[np.ndarray] | np.ndarray,
    labels: Sequence[str] | None,
    path: str | os.PathLike,
    scale: float | Sequence[float] | None = None,
    px: int | None = None,
    title: str | None = None,
    palette: str = "green-red",
    legend: str | None = None,
) -> list[tuple[int, int, int, int]]:
    """Write every neuron's weight grid into one PNG at ``path`` (atomically).

    ``grids``, ``labels`` (default ``"neuron 0"``...; e.g. ``"neuron 3  b=-1.27"``) and
    ``scale`` are as for :func:`grids_to_text`. ``px`` is the size of one weight in
    pixels: default ``max(8, ceil(128 / max(rows, cols)))`` -- 8 px for 28x28 grids
    (224 px tiles), 32 px for 4x4, 26 px for 2x5. Tiles (label above grid) are arranged in
    the near-square layout of columns x rows, separated by thin grey lines on a dark
    background; an optional ``title`` on top and a one-line colour legend at the bottom.
    Saved with :func:`save_png_atomic`.

    Returns each grid's pixel box ``(left, top, right, bottom)``, see :func:`grids_image`.
    """
    image, boxes = grids_image(grids, labels, scale=scale, px=px, title=title,
                               palette=palette, legend=legend)
    save_png_atomic(image, path)
    return boxes


# --------------------------------------------------------------------------------------
# Activations for `classify`
# --------------------------------------------------------------------------------------

#: Hidden layers up to this size list every neuron with its value and a bar; larger
#: ones become a heat strip (one character per neuron) plus the most active neurons.
DETAIL_LIMIT = 64
_WIN_RGB = (80, 230, 80)


def _vec(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).ravel()


def _above(a: np.ndarray, t: float = 0.5) -> int:
    return int(np.count_nonzero(a > t))


def _wrap(line: str, width: int) -> list[str]:
    """Fold a plain-text line at spaces to fit ``width`` (rather than cutting numbers off).

    A line ``head  (details)`` is first split before the parenthesis.
    """
    if len(line) <= width:
        return [line]
    import textwrap

    parts = line.split("  (", 1)
    if len(parts) == 2:
        parts[1] = "(" + parts[1]
    out: list[str] = []
    for part in parts:
        out += textwrap.wrap(part, max(1, width), break_on_hyphens=False) or [""]
    return out


def input_summary(x: np.ndarray) -> str:
    """One line about the input layer, e.g. ``input: 784 activations, mean 0.13, 141 above 0.5``."""
    x = _vec(x)
    mean = float(np.nanmean(x)) if x.size else float("nan")
    return f"input: {x.size} activations, mean {mean:.2f}, {_above(x)} above 0.5"


def hidden_layer_text(acts: np.ndarray, number: int, color: bool, width: int = 80) -> str:
    """A hidden layer's activations (0..1), ``number`` counting hidden layers from 1.

    A header line (size, mean, how many above 0.5), then

    - up to ``DETAIL_LIMIT`` (64) neurons: every neuron as ``index value bar``, e.g.
      `` 7 0.912 ███████`` in as many columns as fit ``width``, read down each column;
    - larger layers: a heat strip, one character per neuron (plain: ``" .:-=+*#%@"``
      dark to bright; colour: a grey cell), 64 or fewer per line, each line starting with
      its first neuron's index, then the 8 most active neurons with their values.
    """
    a = _vec(acts)
    n = a.size
    mean = float(np.nanmean(a)) if n else float("nan")
    lines = [f"hidden layer {number}: {n} neurons, mean {mean:.3f}, {_above(a)} above 0.5"]
    iw = len(str(max(n - 1, 0)))
    gap = 2
    if n <= DETAIL_LIMIT:
        fixed = iw + 1 + 5 + 1
        bw = max(1, min(8, width - fixed))
        entry_w = fixed + bw
        ncols = max(1, (width + gap) // (entry_w + gap))
        nrows = -(-n // ncols) if n else 0
        for r in range(nrows):
            cells = [
                f"{i:>{iw}} {a[i]:5.3f} {bar(a[i], bw, color)}"
                for i in range(r, n, nrows)
            ]
            line = (" " * gap).join(cells)
            lines.append(line if color else line.rstrip())
    else:
        per = max(8, min(64, (width - iw - 3) // 8 * 8))
        clipped = np.clip(np.nan_to_num(a, nan=0.0), 0.0, 1.0)
        for start in range(0, n, per):
            chunk = clipped[start:start + per]
            if color:
                grey = np.rint(chunk * 255).astype(np.uint8)
                rgb = np.repeat(grey[None, :, None], 3, axis=2)
                # One pixel row per character: an upper-half block over an empty lower half
                # would look thin, so give both halves the same grey.
                strip = _halfblock_lines(np.concatenate([rgb, rgb]))[0]
            else:
                strip = "".join(_PLAIN_RAMP[np.rint(chunk * 9).astype(np.int64)])
            lines.append(f"{start:>{iw}} |{strip}|")
        order = np.argsort(-np.nan_to_num(a, nan=-np.inf), kind="stable")[:8]
        line = "most active:"
        for j, i in enumerate(order):
            item = f"{',' if j else ''} {i} {a[i]:.3f}"
            if len(line) + len(item) > width:
                break  # whole entries only: a cut-off number would mislead
            line += item
        lines.append(line)
    return "\n".join([*_wrap(lines[0], width), *(truncate_visible(s, width) for s in lines[1:])])


def outputs_text(out: np.ndarray, color: bool, width: int = 80) -> str:
    """The output layer, one neuron per line: ``digit 7  0.982 ████████████``.

    The winner (largest activation) ends with `` <``; in colour it is also bold with a
    green bar. With other than 10 outputs the lines say ``output i``.
    """
    out = _vec(out)
    if out.size == 0:
        raise ValueError("no outputs")
    word = "digit" if out.size == 10 else "output"
    iw = len(str(out.size - 1))
    prefix_w = len(word) + 1 + iw + 2 + 5 + 1
    bw = max(1, min(30, width - prefix_w - 2))
    win = int(top_two(out)[0])
    lines = []
    for i, v in enumerate(out):
        head = f"{word} {i:>{iw}}  {v:5.3f} "
        if i == win and color:
            # bar() ends with a reset, which also ends bold: switch bold on again after it.
            line = BOLD + head + bar(v, bw, color, _WIN_RGB) + BOLD + " <" + RESET
        elif i == win:
            line = head + bar(v, bw, color) + " <"
        else:
            line = head + bar(v, bw, color)
            line = line if color else line.rstrip()
        lines.append(truncate_visible(line, width))
    return "\n".join(lines)


def answer_line(out: np.ndarray) -> str:
    """``answer: 7  (activation 0.982, margin 0.941 over 1)``: winner, its value, and how
    far ahead it is of the runner-up (named after ``over``). An answer whose margin is
    below ``CONFIDENT_MARGIN`` ends in ``-- unsure``."""
    out = _vec(out)
    if out.size == 0:
        raise ValueError("no outputs")
    win, second = (int(i) for i in top_two(out))
    if out.size == 1:
        return f"answer: {win}  (activation {out[win]:.3f})"
    margin = out[win] - out[second]
    unsure = "  -- unsure" if not margin >= CONFIDENT_MARGIN else ""
    return f"answer: {win}  (activation {out[win]:.3f}, margin {margin:.3f} over {second}){unsure}"


def activations_text(layers: Sequence[np.ndarray], color: bool, width: int = 80) -> str:
    """Everything the network computed for one image, as text within ``width`` columns.

    ``layers``: every layer's activations in order -- ``layers[0]`` the 784 inputs (0..1),
    then each hidden layer, last the 10 outputs. Sections, separated by blank lines:

    1. :func:`input_summary` (draw the picture itself with :func:`image_to_text`);
    2. each hidden layer: :func:`hidden_layer_text`;
    3. ``output layer: 10 neurons`` and :func:`outputs_text`;
    4. :func:`answer_line`.
    """
    if len(layers) < 2:
        raise ValueError("need at least the input and the output layer")
    width = operator.index(width)
    sections = ["\n".join(_wrap(input_summary(layers[0]), width))]
    for k, acts in enumerate(layers[1:-1], start=1):
        sections.append(hidden_layer_text(acts, k, color, width))
    out = _vec(layers[-1])
    header = _wrap(f"output layer: {out.size} neurons", width)
    sections.append("\n".join([*header, outputs_text(out, color, width)]))
    sections.append("\n".join(_wrap(answer_line(out), width)))
    return "\n\n".join(sections)


# --------------------------------------------------------------------------------------
# A layer's weights (or an image's contributions) for `inspect-layer`
# --------------------------------------------------------------------------------------


#: Weight and contribution pictures reach full brightness at this percentile of |value|:
#: a few outliers (the default model's layer 2 has weights up to 87 where most are below
#: 9) would otherwise leave every other cell dark. The 5% above it are drawn at full
#: brightness.
SCALE_PERCENTILE = 95.0


def scale_rule(per_neuron: bool = False) -> str:
    """The words that name :func:`layer_scales`' rule, for PNG legends (which add the
    number themselves)."""
    return (f"{SCALE_PERCENTILE:.0f}th percentile of each tile" if per_neuron
            else f"{SCALE_PERCENTILE:.0f}th percentile of the layer")


def scale_line(scale, whose: str = "the layer's", per_neuron: bool = False) -> str:
    """The line under a legend that says where full brightness starts, and by which rule
    (``whose``: which values the percentile is taken over; ``per_neuron``: each tile's
    own, so no one value)."""
    if per_neuron:
        return (f"full brightness on each tile's own scale: the {SCALE_PERCENTILE:.0f}th "
                "percentile of its |values|")
    return (f"full brightness at |value| >= {scale:.3g}: {SCALE_PERCENTILE:.0f}th "
            f"percentile of {whose} |values|")


def layer_scales(view, per_neuron: bool = False):
    """The |value| drawn at full brightness for a :class:`~digitnet.inspection.LayerView`.

    One rule everywhere (text and PNG, one neuron or all): the
    :data:`SCALE_PERCENTILE` (95th) percentile of |value| over the *whole layer* -- its
    weights, or with an image its contributions -- so that one neuron's picture matches
    the full view. ``per_neuron``: each grid's own 95th percentile instead.
    """
    with_image = view.contributions is not None
    if per_neuron:
        grids = view.contributions if with_image else view.weights
        return [robust_scale(g, SCALE_PERCENTILE) for g in grids]
    return robust_scale(view.all_weights * view.inputs if with_image else view.all_weights,
                        SCALE_PERCENTILE)


def neuron_name(view, k: int, short: bool = False) -> str:
    """``"digit 7"`` in the output layer (neuron K there *is* digit K), else ``"neuron 7"``
    (``short``: ``"d7"`` / ``"n7"``)."""
    if view.is_output:
        return f"d{k}" if short else f"digit {k}"
    return f"n{k}" if short else f"neuron {k}"


def _inputs_key(view) -> str | None:
    """For small grids: which cell is which input, e.g. ``cells: inputs 0-3, 4-7, ...``."""
    n_in = view.shape[1]
    if n_in > SMALL_GRID:
        return None
    rows, cols = grid_shape(n_in)
    parts = [f"{r * cols}-{min(n_in, (r + 1) * cols) - 1}" for r in range(rows)]
    prev = f"layer {view.layer - 1}'s neurons" if view.layer > 1 else "inputs"
    return f"each tile: {prev} row by row, rows {', '.join(parts)}"


def layer_text(view, color: bool, width: int = 80, per_neuron_scale: bool = False,
               image_name: str | None = None, palette: str = "green-red") -> str:
    """The ``inspect-layer L`` report: grids, then a table per neuron.

    Without an image: each neuron's incoming weights as a grid, and bias and weight
    statistics. With one (``view.contributions`` set): the contribution grids and each
    neuron's weighted sum, bias, z and sigmoid(z). One neuron of a small layer also
    lists its inputs one by one. In the output layer neurons are named by their digit.
    """
    with_image = view.contributions is not None
    n_out, n_in = view.shape
    rows = view.rows
    grids = view.contributions if with_image else view.weights
    scale = layer_scales(view, per_neuron_scale)
    if with_image:
        labels = [f"{neuron_name(view, k, True)} a={view.activations[i]:.2f}"
                  for i, k in enumerate(rows)]
        # The file name on a line of its own: with it, the heading would outgrow 80 columns.
        what = (f"layer {view.layer}: contributions (input activation x weight) to "
                f"{len(rows)} neuron(s)\nimage: {image_name}")
    else:
        labels = [f"{neuron_name(view, k, True)} b={view.biases[i]:+.2f}"
                  for i, k in enumerate(rows)]
        what = f"layer {view.layer}: {n_out} neurons x {n_in} weights"
        if n_in == 784:
            what += " (each drawn as the 28x28 image it reads)"
        if view.is_output:
            what += "; neuron K is digit K"
    lines = [what, legend_text(color, "contributions" if with_image else "weights",
                               palette),
             scale_line(scale, per_neuron=per_neuron_scale)]
    key = _inputs_key(view)
    if key:
        lines.append(key)
    lines.append("")
    if grid_shape(n_in)[1] * (2 if n_in <= SMALL_GRID else 1) <= width:
        lines.append(grids_to_text(grids, labels, scale, width=width, color=color,
                                   palette=palette))
    else:  # e.g. 5000 inputs from a huge hidden layer: a grid row would not fit a line
        lines.append(f"({n_in} inputs per neuron: grids too wide for {width} columns; "
                     "see --png or --json)")
    lines.append("")
    name = "digit" if view.is_output else "neuron"
    if with_image:
        lines.append(f"{name:>6} {'weighted sum':>13} {'+ bias':>9} {'= z':>9} "
                     f"{'sigmoid(z)':>11}")
        for i, k in enumerate(rows):
            lines.append(f"{k:>6} {view.sums[i]:>13.4f} {view.biases[i]:>+9.4f} "
                         f"{view.z[i]:>9.4f} {view.activations[i]:>11.4f}")
    else:
        lines.append(f"{name:>6} {'bias':>8} {'w min':>8} {'w max':>8} "
                     f"{'mean |w|':>9} {'positive':>9}")
        for st in view.stats:
            lines.append(f"{st['neuron']:>6} {st['bias']:>+8.3f} {st['min']:>+8.3f} "
                         f"{st['max']:>+8.3f} {st['mean_abs']:>9.4f} "
                         f"{100 * st['positive']:>8.1f}%")
    if len(rows) == 1 and n_in <= SMALL_GRID:   # a small layer's inputs, one by one
        k = rows[0]
        lines += ["", f"{neuron_name(view, k)}'s inputs (neurons of layer "
                      f"{view.layer - 1 or 'input'}):"]
        if with_image:
            lines.append(f"{'input':>6} {'activation':>11} {'x weight':>10} {'= product':>11}")
            lines += [f"{j:>6} {view.inputs[j]:>11.4f} {view.weights[0, j]:>+10.4f} "
                      f"{view.contributions[0, j]:>+11.4f}" for j in range(n_in)]
        else:
            lines.append(f"{'input':>6} {'weight':>10}")
            lines += [f"{j:>6} {view.weights[0, j]:>+10.4f}" for j in range(n_in)]
    return "\n".join(lines)


def layer_png(view, path, model_name: str, per_neuron_scale: bool = False,
              image_name: str | None = None, palette: str = "green-red"):
    """Write the grids of :func:`layer_text` into one PNG at ``path`` (atomically), on the
    same scale rule; returns ``(boxes, scale)``."""
    with_image = view.contributions is not None
    n_out, n_in = view.shape
    pos, neg = PALETTE_WORDS[palette]
    if with_image:
        labels = [f"{neuron_name(view, k, True)} z={view.z[i]:+.2f} a={view.activations[i]:.2f}"
                  for i, k in enumerate(view.rows)]
        title = f"layer {view.layer}: input activation x weight for {image_name}"
        legend = (f"{pos} = input pushed the weighted sum up (activation x weight > 0), "
                  f"{neg} = pushed it down, black = no effect")
    else:
        labels = [f"{neuron_name(view, k)}  b={view.biases[i]:+.2f}"
                  for i, k in enumerate(view.rows)]
        title = (f"layer {view.layer} of {model_name}: incoming weights "
                 f"({pos} +, {neg} -), {n_out}x{n_in}")
        legend = f"{pos} = positive weight, {neg} = negative, black = 0"
    scale = layer_scales(view, per_neuron_scale)
    legend += f";  full brightness at the {scale_rule(per_neuron_scale)}"
    grids = view.contributions if with_image else view.weights
    return grids_png(grids, labels, path, scale=scale, title=title, palette=palette,
                     legend=legend), scale


# --------------------------------------------------------------------------------------
# What neurons detect (`inspect-layer --top`) and why an answer won (`explain`)
# --------------------------------------------------------------------------------------

def _shrink(rgb: np.ndarray, fy: int, fx: int) -> np.ndarray:
    """Mean over ``fy x fx`` blocks of an ``(h, w, 3)`` picture (h, w divisible)."""
    h, w = rgb.shape[:2]
    return rgb.reshape(h // fy, fy, w // fx, fx, 3).mean(axis=(1, 3))


def pictures_text(pictures: Sequence[np.ndarray], labels: Sequence[str], color: bool,
                  width: int = 80) -> str:
    """Small 28x28 RGB pictures (uint8, (28, 28, 3) each) side by side, labelled, wrapped.

    Each is drawn at half size, 14 columns x 7 lines (colour half blocks at 14x14; plain:
    14x7 blocks of the grey ramp ``" .:-=+*#%@"`` by brightness). A picture may also be
    a tile drawn already: a list of its lines (see :func:`_signed_plain_tile`).
    """
    tiles = []
    for p in pictures:
        if isinstance(p, list):                          # a tile drawn already
            tiles.append(p)
        elif color:
            tiles.append(_halfblock_lines(np.rint(_shrink(p.astype(np.float64), 2, 2))
                                          .astype(np.uint8)))
        else:
            grey = _shrink(p.astype(np.float64), 4, 2).max(axis=2) / 255.0
            tiles.append(["".join(r) for r in _PLAIN_RAMP[np.rint(grey * 9).astype(np.int64)]])
    names = [_CONTROL_RE.sub(" ", str(x))[:14].ljust(14) for x in labels]
    if not color:
        names = [x.encode("ascii", "replace").decode("ascii") for x in names]
    per_row = max(1, (width + 1) // 15)
    out = []
    for start in range(0, len(tiles), per_row):
        idx = range(start, min(start + per_row, len(tiles)))
        out.append(" ".join(names[i] for i in idx).rstrip())
        for r in range(len(tiles[start])):
            out.append(" ".join(tiles[i][r] for i in idx).rstrip(" "))
    return "\n".join(out)


def _grey_rgb(x: np.ndarray) -> np.ndarray:
    g = np.rint(np.clip(np.asarray(x, dtype=np.float64).reshape(28, 28), 0, 1) * 255)
    return np.repeat(g.astype(np.uint8)[..., None], 3, axis=2)


def _signed_plain_tile(values: np.ndarray, scale: float) -> list:
    """Signed (28, 28) values as a plain-text tile of :func:`pictures_text`'s size (7
    lines of 14): each 4x2 block shows its value of largest magnitude, sign kept."""
    blocks = values.reshape(7, 4, 14, 2).transpose(0, 2, 1, 3).reshape(7, 14, 8)
    pick = np.take_along_axis(blocks, np.abs(blocks).argmax(axis=2)[..., None], axis=2)[..., 0]
    chars = _plain_weight_chars(pick, np.zeros(pick.shape, bool), scale)
    return ["".join(r) for r in chars]


def _top_pictures(td, i: int, palette: str, color: bool = True) -> list:
    """Neuron ``i`` of a :class:`~digitnet.inspection.TopDigits` as (28, 28, 3) pictures:
    its preferred input (signed, on its own 95th-percentile scale; colours, or with
    ``color`` False a plain-text tile, since grey would lose the sign), then its top
    digits in grey."""
    pref = td.preferred[i].reshape(28, 28)
    scale = robust_scale(pref, SCALE_PERCENTILE)
    first = signed_rgb(pref, scale, palette) if color else _signed_plain_tile(pref, scale)
    return [first] + [_grey_rgb(img) for img in td.images[i]]


def top_text(td, color: bool, width: int = 80, palette: str = "green-red") -> str:
    """``inspect-layer L --top K``: per neuron, its preferred input and its top digits."""
    from .inspection import PREFERRED_FROM
    pos, neg = sign_words(color, palette)
    lines = [f"layer {td.layer}: the MNIST test digits (t10k) that excite each neuron most",
             f"first picture: preferred input = mean of its {PREFERRED_FROM} top digits minus "
             "the mean digit",
             f"({pos}: more ink than usual, {neg}: less); then its top digits,",
             "each with its test-set index and the neuron's activation", ""]
    for i, k in enumerate(td.neurons):
        name = neuron_name(td, k)
        pics = _top_pictures(td, i, palette, color)
        labels = ["preferred"] + [f"#{j} {a:.2f}" for j, a in
                                  zip(td.indices[i], td.activations[i])]
        digits = " ".join(str(d) for d in td.labels[i])
        lines += [f"{name}: top {td.indices.shape[1]} are the digits {digits}",
                  pictures_text(pics, labels, color, width), ""]
    return "\n".join(lines).rstrip("\n")


def top_png(td, path, title: str, palette: str = "green-red"):
    """``inspect-layer L --top K --png``: one row per neuron (preferred input, top digits)."""
    from PIL import Image, ImageDraw

    from .inspection import PREFERRED_METHOD
    k = td.indices.shape[1]
    cell, pad = 84, 6                                    # 3 px per pixel
    font, title_font = png_font(12), png_font(16)
    lh = text_height(font)
    name_w = 90
    row_h = lh + cell + pad
    W = name_w + (k + 1) * (cell + pad) + pad
    top = 2 * pad + text_height(title_font)
    H = top + len(td.neurons) * row_h + 2 * lh + 2 * pad
    canvas = np.empty((H, W, 3), np.uint8)
    canvas[:] = _PNG_BG
    for i in range(len(td.neurons)):
        y = top + i * row_h + lh
        for j, p in enumerate(_top_pictures(td, i, palette)):
            x = name_w + j * (cell + pad)
            canvas[y:y + cell, x:x + cell] = np.repeat(np.repeat(p, 3, axis=0), 3, axis=1)
    image = Image.fromarray(canvas, "RGB")
    draw = ImageDraw.Draw(image)
    draw.text((pad, pad), title, fill=(255, 255, 255), font=title_font)
    for i, n in enumerate(td.neurons):
        y = top + i * row_h
        draw.text((pad, y + lh + cell // 2 - lh // 2), neuron_name(td, n), fill=_PNG_TEXT,
                  font=font)
        draw.text((name_w, y), "preferred", fill=(170, 170, 170), font=font)
        for j in range(k):
            draw.text((name_w + (j + 1) * (cell + pad), y),
                      f"#{td.indices[i, j]} {td.activations[i, j]:.2f}", fill=(170, 170, 170),
                      font=font)
    pos, neg = PALETTE_WORDS[palette]
    draw.text((pad, H - 2 * lh - pad), f"preferred input: {PREFERRED_METHOD} "
              f"({pos} more ink, {neg} less)", fill=(170, 170, 170), font=font)
    draw.text((pad, H - lh - pad), "then its top digits, with their test-set index and the "
              "neuron's activation. MNIST: Y. LeCun, C. Cortes, C. Burges (CC BY-SA 3.0)",
              fill=(170, 170, 170), font=font)
    save_png_atomic(image, path)


def explain_text(ex, color: bool, width: int = 80, palette: str = "green-red") -> str:
    """``digitnet explain``: the gradient x input maps of answer and runner-up, side by side."""
    scale = robust_scale(ex.maps, SCALE_PERCENTILE)
    pos, neg = sign_words(color, palette)
    labels = [f"{'answer' if i == 0 else 'runner-up'} {d}" for i, d in enumerate(ex.digits)]
    lines = ["why this answer: gradient x input of each output's weighted input z",
             legend_text(color, "push on z", palette),
             scale_line(scale, "both maps'"),
             "", grids_to_text(ex.maps, labels, scale, width=width, color=color,
                               palette=palette), ""]
    for i, d in enumerate(ex.digits):
        lines.append(f"{labels[i]:<12} z = {ex.z[i]:+8.3f}: pixels pushed it up "
                     f"{ex.pushed_up[i]:+.3f} ({pos}) and down {ex.pushed_down[i]:+.3f} ({neg}); "
                     f"biases and curvature {ex.bias_share[i]:+.3f}")
    return "\n".join(lines)


def explain_png(ex, path, image_name: str, palette: str = "green-red"):
    """``digitnet explain --png``: the two maps over the digit, as one PNG."""
    scale = robust_scale(ex.maps, SCALE_PERCENTILE)
    pos, neg = PALETTE_WORDS[palette]
    labels = [f"{'answer' if i == 0 else 'runner-up'} {d}: z = {ex.z[i]:+.2f}"
              for i, d in enumerate(ex.digits)]
    return grids_png(ex.maps, labels, path, scale=scale, palette=palette,
                     title=f"why {ex.digits[0]}, not {ex.digits[1]}: {image_name}",
                     legend=f"{pos} = pixel pushed z up, {neg} = pushed it down "
                            f"(gradient x input)")
