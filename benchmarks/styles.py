"""Style shift: handwriting as people outside MNIST write it, drawn by code, for digitnet.

MNIST's digits were written by American census staff and students, then centred by mass
and scaled to keep their aspect ratio. People elsewhere write differently (a continental
1 has a long up-stroke and a foot, a 7 a bar through the stem), forms software stretches
every digit to fill its box, pens run from a hairline to a marker, scans are tiny. This
script draws such digits from pen strokes of its own design -- no MNIST image and no
training generator is used, so the score measures how far ``digitnet`` generalises --
and scores them through ``digitnet``'s real image pipeline:

    python benchmarks/styles.py make   OUTDIR [--per-style 100] [--seed 0] [-j 2]
    python benchmarks/styles.py score  OUTDIR [--weights default --weights wide] [-j 2]
                                              [--by-glyph] [--card]
    python benchmarks/styles.py sheet  OUTDIR OUT.png [--per-style 16]
    python benchmarks/styles.py glyphs OUT.png [--draws 6] [--seed 0]

``make`` writes ``OUTDIR/NNNN_STYLE_labelD.png`` and ``OUTDIR/labels.csv`` (file, label,
style, notes -- the notes name the glyph variant and list the drawing's parameters).
Image ``j`` of a style is rebuilt identically from (seed, style, j): ``--per-style``
only adds or drops images, and ``-j`` only changes the speed. Labels go round-robin
(``j % 10``), except in ``european``, whose cycle of 40 holds eight 1s and eight 7s.
``sheet`` draws a contact sheet of a made set, ``glyphs`` one of every glyph variant
(each drawn a few times with fresh jitter) -- look at them after changing a glyph.

A digit is a few pen strokes: polylines, quadratic and cubic Bezier curves and elliptic
arcs in a glyph box about 0.6 wide and 1 tall, some of their parameters (flag length,
loop size, bowl shape) random. The strokes are jittered by a smooth random warp (which
moves every point of the glyph, so loops stay closed and joins stay joined), stretched
to a random aspect, slanted (a shear) and turned a little, then drawn with a round pen
(round caps and joins) at 4x and box-filtered down: antialiased. The ink (near-black or
blue-black) goes on white or off-white (cream) paper, sometimes with faint noise; PNG,
grey or RGB. "Ordinary" below means: slant N(0, 4 deg) within +-8, aspect 0.8..1.2,
turn N(0, 2 deg), pen 5..11% of the digit's height, the image 60..200 px tall, its
margins tight (0..2 px, 30% of images) or 4..28% of the height on each side.

==========  ===========================================================================
european    continental forms, ordinary drawing. 1: a long up-stroke flag (38..60 deg),
            half of them with a foot (base bar); 7: a bar through the stem, with or
            without a tick down from the top bar's left end, straight or curved stem;
            4 open (the arm not meeting the stem) and closed (a triangle); 9 with a
            straight and with a curved tail; 2 with and without a loop at the foot;
            0, 3, 5, 6, 8 as in ``common`` below. 1 and 7 are 20% of the images each
boxfill     the form-processing convention: the ink's bounding box stretched,
            non-uniformly, to fill a square box (but widened at most 3x, so that a
            plain 1 becomes a fat bar, not a black square; a 1 with flag and foot
            becomes nearly square). Glyphs: ``common`` and ``european`` except the
            1s that a stretch turns into a 7 (a flag without a foot). 60%: a box of
            40..160 px on paper, margins 0..2 px or 4..25% of the box; 40%: a
            low-resolution scan, 16..32 px in all (0..2 px margins), box-filtered
            down from 8x, 30% of them then blurred or JPEG'd as in ``lowres``
slant       ``common`` glyphs slanted by a shear of 5..20 degrees, either way
pens        ``common`` glyphs, pen width log-uniform from a hairline (1 px) to a fat
            marker (20% of the digit's height)
lowres      small scans: ``common`` glyphs drawn at 8x, box-filtered down to an image
            12..24 px tall (margins 0..12% of it), pen 8..16% of the digit's height;
            a quarter then slightly Gaussian-blurred (0.3..0.7 px), a quarter JPEG
            compressed at quality 30..75 (its blur and blocks) -- saved as PNG
mixed       a random combination: drawn plainly (45%), box-filled (25%, 40% of them
            low-resolution) or as a small scan (30%); ``european`` or ``common``
            glyphs (``boxfill`` ones when box-filled); slant -20..20 deg (european
            glyphs -8..20: leaning far left, a long-flagged 1 turns into a 7;
            box-filled ordinary, as the stretch multiplies it), aspect 0.7..1.35,
            pen 1 px..20% of the height, log-uniform (box-filled 4..20%, a small
            scan's 8..20%)
==========  ===========================================================================

Glyph variants (``common``): 0 narrow oval, round oval (either direction, overshooting
the start); 1 plain stick, stick with a short flag; 2 plain (hook, diagonal, base) and
with a loop at the foot; 3 round top, flat top (bar and diagonal); 4 closed, open; 5 with
a flat bowl, with a round bowl; 6 curved stem, straight stem; 7 plain, with a tick,
with a curved stem; 8 in one stroke (crossing in the middle), as two stacked loops;
9 straight tail, curved tail. ``european`` replaces the 1s and 7s (see above).

``score`` decodes every file with ``digitnet.batch.load_inputs`` -- exactly what
``digitnet classify`` does; an image it refuses (``ImageError``) counts as wrong --
classifies the inputs with each ``--weights`` model (``digitnet.load(spec).results``) and
prints markdown tables: accuracy per style, per digit (with the commonest wrong answers)
and overall, optionally per glyph variant (``--by-glyph``); then example failures.
``--card`` also writes each model's figures into its model card (``figures.style_shift``).

Only numpy and Pillow are needed to *make* the set.
"""

from __future__ import annotations

import argparse
import io
import itertools
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

import imageset
from imageset import chance as _chance, make_all, pct as _pct, to_u8 as _u8
from imageset import add_make_jobs, add_score_parser, md_table, pick as _pick, uniform as _u
from imageset import write_labels

STYLES = ("european", "boxfill", "slant", "pens", "lowres", "mixed")

F32 = np.float32
SUPER = 4  # strokes are drawn at this many times the image's resolution, then box-filtered
SMALL = 8  # small images (lowres, low-resolution boxfill) are drawn this much bigger first
BOX_DRAW = 160  # boxfill: the digit's height as drawn, before it is stretched into its box
BOX_CAP = 3.0  # boxfill: a side is stretched at most this much more than the other


# --- small tools -------------------------------------------------------------------------


def _log_u(rng, lo, hi) -> float:
    """A log-uniform random number in lo..hi."""
    return math.exp(_u(rng, math.log(lo), math.log(hi)))


# --- stroke geometry (glyph units: x right, y down, the glyph about 0.6 x 1) -------------


def _line(*pts) -> np.ndarray:
    """A polyline through ``pts``, each segment sampled at 8 points (so that the warp can
    bend it a little, as a hand does)."""
    p = np.asarray(pts, float)
    parts = [np.linspace(a, b, 8, endpoint=False) for a, b in itertools.pairwise(p)]
    return np.concatenate(parts + [p[-1:]])


def _bezier(*pts, n: int = 24) -> np.ndarray:
    """A Bezier curve (quadratic with 3 control points, cubic with 4), ``n`` points."""
    p = np.asarray(pts, float)
    k = len(p) - 1
    t = np.linspace(0, 1, n)[:, None]
    return sum(math.comb(k, i) * t**i * (1 - t) ** (k - i) * p[i] for i in range(k + 1))


def _arc(cx, cy, rx, ry, a0, a1) -> np.ndarray:
    """An elliptic arc from angle ``a0`` to ``a1`` (degrees; 0 = right, 90 = top: growing
    angles run counter-clockwise on the page, falling ones clockwise)."""
    a = np.radians(np.linspace(a0, a1, max(8, int(abs(a1 - a0) / 5))))
    return np.stack([cx + rx * np.cos(a), cy - ry * np.sin(a)], axis=1)


def _path(*pieces) -> np.ndarray:
    """One pen stroke: pieces joined end to start."""
    return np.concatenate(pieces)


def _at(curve: np.ndarray, y: float) -> float:
    """The x of ``curve`` (a stroke running downwards) where it crosses height ``y``."""
    i = int(np.argmin(np.abs(curve[:, 1] - y)))
    return float(curve[i, 0])


# --- glyphs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Glyph:
    """One way of writing a digit: ``draw(rng)`` returns its strokes, (k, 2) arrays in
    glyph units, with this draw's random proportions."""

    digit: int
    name: str
    draw: Callable[[np.random.Generator], list]
    sets: tuple


GLYPHS: list[Glyph] = []
COMMON, EUROPEAN, BOXFILL = "common", "european", "boxfill"
ALL_SETS = (COMMON, EUROPEAN, BOXFILL)


def _glyph(digit: int, name: str, sets=ALL_SETS):
    """Register the decorated drawing function as glyph ``{digit}-{name}`` of ``sets``."""
    def register(draw):
        """Add ``draw`` to ``GLYPHS``."""
        GLYPHS.append(Glyph(digit, f"{digit}-{name}", draw, tuple(sets)))
        return draw
    return register


def _oval(r, half_width: float) -> list:
    """A 0: one loop from the top, either way round, overshooting its start a little."""
    a0 = _u(r, 60, 120)
    sweep = (360 + _u(r, 5, 30)) * (1 if _chance(r, 0.5) else -1)
    return [_arc(0.3, 0.5, half_width, 0.5, a0, a0 + sweep)]


@_glyph(0, "oval")
def _zero_oval(r):
    """A narrow 0."""
    return _oval(r, _u(r, 0.2, 0.28))


@_glyph(0, "round")
def _zero_round(r):
    """A round 0."""
    return _oval(r, _u(r, 0.32, 0.42))


@_glyph(1, "stick", (COMMON, BOXFILL))
def _one_stick(r):
    """A 1 as a plain vertical stroke."""
    return [_line((0.3, 0.0), (0.3 + _u(r, -0.02, 0.02), 1.0))]


@_glyph(1, "flag", (COMMON,))
def _one_flag(r):
    """A 1 with a short flag: clearly shorter and steeper than a 7's bar."""
    return [_line((0.3 - _u(r, 0.08, 0.16), _u(r, 0.1, 0.2)), (0.3, 0.0), (0.3, 1.0))]


def _long_flag(r) -> np.ndarray:
    """A continental 1's stem with its long up-stroke (38..60 degrees from the level)."""
    dx = _u(r, 0.2, 0.3)
    dy = dx * math.tan(math.radians(_u(r, 38, 60)))
    return _line((0.3 - dx, dy), (0.3, 0.0), (0.3, 1.0))


@_glyph(1, "longflag", (EUROPEAN,))
def _one_longflag(r):
    """A continental 1: the long up-stroke, no foot."""
    return [_long_flag(r)]


@_glyph(1, "flag-foot", (EUROPEAN, BOXFILL))
def _one_flag_foot(r):
    """A continental 1 with a foot: long up-stroke, stem, base bar."""
    half = _u(r, 0.15, 0.24)
    return [_long_flag(r), _line((0.3 - half, 1.0), (0.3 + half, 1.0))]


def _two_hook(r) -> np.ndarray:
    """A 2's top: up from the left, over, and down the right."""
    y0 = _u(r, 0.18, 0.3)
    return _bezier((0.04, y0), (0.06, -0.02), (0.58, -0.06), (0.56, 0.28))


@_glyph(2, "plain")
def _two_plain(r):
    """A 2: hook, diagonal, base line, in one stroke."""
    foot = (_u(r, 0.0, 0.06), 0.98)
    diag = _bezier((0.56, 0.28), (0.56, 0.5), (_u(r, 0.15, 0.3), _u(r, 0.68, 0.8)), foot)
    return [_path(_two_hook(r), diag, _line(foot, (_u(r, 0.55, 0.68), _u(r, 0.96, 1.0))))]


@_glyph(2, "loop")
def _two_loop(r):
    """A 2 whose diagonal runs into a small loop at the foot (turned clockwise,
    crossing the diagonal), then out along the base."""
    rx, ry = _u(r, 0.08, 0.11), _u(r, 0.07, 0.1)
    cx, cy = 0.05 + rx, 0.98 - 2 * ry
    bottom = (cx, cy + ry)
    diag = _bezier((0.56, 0.28), (0.56, 0.5), (0.3, 0.75), bottom)
    loop = _arc(cx, cy, rx, ry, -90, -90 - 340)
    end = loop[-1]
    base = _bezier(end, (end[0] + 0.05, 1.0), (0.35, 0.98), (_u(r, 0.58, 0.68), 0.97))
    return [_path(_two_hook(r), diag, loop, base)]


@_glyph(3, "round")
def _three_round(r):
    """A 3 of two round bowls meeting at a cusp."""
    mid = _u(r, 0.42, 0.5)  # where the bowls meet
    up = _arc(0.28, mid / 2, 0.25, mid / 2, _u(r, 140, 170), -100)
    low_r = (1 - mid) / 2
    low = _arc(0.28, mid + low_r, _u(r, 0.27, 0.32), low_r, 100, _u(r, -170, -140))
    return [_path(up, low)]


@_glyph(3, "flat")
def _three_flat(r):
    """A 3 with a flat top: bar, diagonal down to the knee, bowl."""
    knee = (_u(r, 0.18, 0.28), _u(r, 0.36, 0.44))
    bowl = _bezier(knee, (0.72, 0.32), (0.82, 1.04), (0.02, _u(r, 0.84, 0.92)))
    return [_path(_line((0.04, 0.02), (0.56, 0.0), knee), bowl)]


@_glyph(4, "closed")
def _four_closed(r):
    """A closed 4: the arm runs from the stem's top (a triangle)."""
    bar = _u(r, 0.6, 0.7)
    return [_line((0.46, 0.0), (0.0, bar), (_u(r, 0.6, 0.7), bar)),
            _line((0.46, _u(r, 0.0, 0.04)), (0.46, 1.0))]


@_glyph(4, "open")
def _four_open(r):
    """An open 4: the arm stands apart from the stem, not meeting it at the top."""
    bar = _u(r, 0.56, 0.66)
    return [_line((_u(r, 0.04, 0.2), 0.0), (0.02, bar), (_u(r, 0.62, 0.72), bar)),
            _line((0.46, _u(r, 0.02, 0.12)), (0.46, 1.0))]


def _five(r, bowl) -> list:
    """A 5: a stem down from the top bar's left end into ``bowl``, then the bar."""
    top = (_u(r, 0.08, 0.14), 0.02)
    return [_path(_line(top, (bowl[0, 0], bowl[0, 1])), bowl),
            _line(top, (_u(r, 0.56, 0.66), _u(r, -0.02, 0.02)))]


@_glyph(5, "flat-bowl")
def _five_flat(r):
    """A 5 with a flattish bowl (a Bezier curve)."""
    start = (0.07, _u(r, 0.42, 0.48))
    return _five(r, _bezier(start, (0.56, 0.26), (0.82, 0.94), (0.03, _u(r, 0.86, 0.94))))


@_glyph(5, "round-bowl")
def _five_round(r):
    """A 5 with a round bowl (an arc)."""
    rad = _u(r, 0.25, 0.29)
    return _five(r, _arc(0.3, 1 - rad, _u(r, 0.26, 0.31), rad, 150, _u(r, -165, -140)))


def _six_loop(r) -> tuple:
    """A 6's loop, entered at its left point going down: (entry point, arc)."""
    ry = _u(r, 0.22, 0.28)
    rx = _u(r, 0.24, 0.3)
    cx, cy = 0.04 + rx, 1 - ry
    return (cx - rx, cy), _arc(cx, cy, rx, ry, 180, 180 + _u(r, 330, 360))


@_glyph(6, "curved")
def _six_curved(r):
    """A 6: a curved stem sweeping down into the loop."""
    entry, loop = _six_loop(r)
    stem = _bezier((_u(r, 0.45, 0.56), 0.0), (0.15, 0.04), (0.02, 0.4), entry)
    return [_path(stem, loop)]


@_glyph(6, "straight")
def _six_straight(r):
    """A 6: a straight stem down into the loop."""
    entry, loop = _six_loop(r)
    return [_path(_line((_u(r, 0.42, 0.54), 0.0), entry), loop)]


def _seven(r, curved: bool, tick: bool, crossed: bool) -> list:
    """A 7: a long top bar and a stem down to the left -- straight or ``curved``; with a
    ``tick`` down from the bar's left end; ``crossed`` by a bar at half height."""
    right = (_u(r, 0.58, 0.66), 0.02)
    foot = (_u(r, 0.18, 0.3), 1.0)
    if curved:
        stem = _bezier(right, (0.42, 0.32), (foot[0] + 0.04, 0.62), foot)
    else:
        stem = _line(right, foot)
    bar = _line((0.0, _u(r, 0.0, 0.05)), right)
    if tick:
        bar = _path(_line((0.02, _u(r, 0.1, 0.16)), (0.0, 0.02)), bar)
    strokes = [_path(bar, stem)]
    if crossed:
        y = _u(r, 0.46, 0.56)
        x = _at(stem, y)
        strokes.append(_line((x - _u(r, 0.15, 0.22), y + 0.02), (x + _u(r, 0.12, 0.18), y)))
    return strokes


@_glyph(7, "plain", (COMMON, BOXFILL))
def _seven_plain(r):
    """A plain 7."""
    return _seven(r, curved=False, tick=False, crossed=False)


@_glyph(7, "tick", (COMMON, BOXFILL))
def _seven_tick(r):
    """A 7 with a short tick down from the bar's left end."""
    return _seven(r, curved=False, tick=True, crossed=False)


@_glyph(7, "curved", (COMMON, BOXFILL))
def _seven_curved(r):
    """A 7 with a curved stem."""
    return _seven(r, curved=True, tick=False, crossed=False)


@_glyph(7, "crossed", (EUROPEAN, BOXFILL))
def _seven_crossed(r):
    """A continental 7, crossed; its stem straight or curved."""
    return _seven(r, curved=_chance(r, 0.4), tick=False, crossed=True)


@_glyph(7, "crossed-tick", (EUROPEAN, BOXFILL))
def _seven_crossed_tick(r):
    """A continental 7, crossed, with a tick."""
    return _seven(r, curved=_chance(r, 0.4), tick=True, crossed=True)


@_glyph(8, "one-stroke")
def _eight_one_stroke(r):
    """An 8 in one stroke: a vertical figure of eight, x ~ sin(2t), y ~ -cos(t),
    round at the top and the bottom, the loops crossing in the middle, the upper one
    the smaller."""
    t0 = _u(r, -0.3, 0.3)
    t = np.linspace(t0, t0 + 2 * math.pi + _u(r, 0.05, 0.3), 160)
    y = (0.5 - 0.5 * np.cos(t)) ** _u(r, 1.05, 1.3)
    half = _u(r, 0.17, 0.24) + (_u(r, 0.24, 0.31) - 0.2) * y
    s = np.sin(2 * t)
    return [np.stack([0.3 + half * np.sign(s) * np.abs(s) ** 0.8, y], axis=1)]


@_glyph(8, "two-loops")
def _eight_two_loops(r):
    """An 8 as two stacked loops (a snowman), the lower the bigger."""
    mid = _u(r, 0.42, 0.48)
    top = _arc(0.3, mid / 2 + 0.01, _u(r, 0.17, 0.23), mid / 2 + 0.01, 90, 90 + 370)
    low_r = (1 - mid) / 2
    low = _arc(0.3, mid + low_r, _u(r, 0.24, 0.3), low_r, 90, 90 - 370)
    return [top, low]


def _nine_loop(r) -> np.ndarray:
    """A 9's loop, from its upper right, round counter-clockwise back past the start."""
    a0 = _u(r, 5, 35)
    return _arc(0.28, 0.26, _u(r, 0.24, 0.28), _u(r, 0.23, 0.27), a0, a0 + 365)


@_glyph(9, "straight")
def _nine_straight(r):
    """A 9 with a straight tail."""
    loop = _nine_loop(r)
    end = loop[-1]
    return [_path(loop, _line(end, (end[0] + _u(r, -0.04, 0.03), 1.0)))]


@_glyph(9, "curved")
def _nine_curved(r):
    """A 9 whose tail curves away to the lower left."""
    loop = _nine_loop(r)
    end = loop[-1]
    tail = _bezier(end, (end[0] + 0.04, 0.62), (0.5, 0.98), (_u(r, 0.08, 0.2), 0.94))
    return [_path(loop, tail)]


def _glyphs_for(glyph_set: str, digit: int) -> list:
    """The variants of ``digit`` in ``glyph_set``."""
    return [g for g in GLYPHS if g.digit == digit and glyph_set in g.sets]


# --- drawing -----------------------------------------------------------------------------


def _warp(strokes: list, rng, amount: float) -> list:
    """A smooth random displacement of every point (three sine waves of about a glyph's
    size, ``amount`` glyph heights in all): the hand's own shape, loops kept closed."""
    k = 3
    angle = rng.uniform(0, 2 * math.pi, k)
    freq = rng.uniform(0.4, 1.0, k)[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1)
    phase = rng.uniform(0, 2 * math.pi, k)
    amp = rng.uniform(-1, 1, (k, 2)) * (amount / math.sqrt(k))
    return [p + np.sin(2 * math.pi * p @ freq.T + phase) @ amp for p in strokes]


def _pose(strokes: list, slant: float, aspect: float, turn: float) -> list:
    """Stretch x by ``aspect``, shear by ``slant`` degrees (positive: leaning right) and
    turn by ``turn`` degrees (positive: clockwise)."""
    sh = math.tan(math.radians(slant))
    c, s = math.cos(math.radians(turn)), math.sin(math.radians(turn))
    out = []
    for p in strokes:
        x = p[:, 0] * aspect + sh * (0.5 - p[:, 1])
        y = p[:, 1] - 0.5
        out.append(np.stack([x * c - y * s, x * s + y * c], axis=1))
    return out


def _render(strokes: list, pen: float, height: int) -> np.ndarray:
    """The strokes drawn with a round pen ``pen`` px wide, scaled so that the ink is
    ``height`` px tall: a tight ink coverage map (h, w), 0..1, antialiased (drawn at
    ``SUPER`` x and box-filtered)."""
    pen = min(pen, 0.45 * height)
    pts = np.concatenate(strokes)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    scale = (height - pen) / max(hi[1] - lo[1], 1e-6)
    ink_w = (hi[0] - lo[0]) * scale + pen
    w = max(1, math.ceil(ink_w))
    offset = np.array([(w - ink_w) / 2 + pen / 2, pen / 2])
    img = Image.new("L", (w * SUPER, height * SUPER), 0)
    draw = ImageDraw.Draw(img)
    rad = pen * SUPER / 2
    for p in strokes:
        xy = [tuple(q) for q in ((p - lo) * scale + offset) * SUPER]
        draw.line(xy, fill=255, width=max(1, round(2 * rad)), joint="curve")
        for x, y in (xy[0], xy[-1]):
            draw.ellipse((x - rad, y - rad, x + rad, y + rad), fill=255)
    return np.asarray(img.reduce(SUPER), F32) / 255


def _stretch(alpha: np.ndarray, side: int) -> np.ndarray:
    """Boxfill: the ink's bounding box stretched to ``side`` x ``side`` -- or, where that
    would widen one side more than ``BOX_CAP`` times the other, to less in that direction."""
    rows = np.flatnonzero(alpha.max(axis=1) > 0.05)
    cols = np.flatnonzero(alpha.max(axis=0) > 0.05)
    alpha = alpha[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = alpha.shape
    tw = max(1, round(min(side, w * side / h * BOX_CAP)))
    th = max(1, round(min(side, h * side / w * BOX_CAP)))
    im = Image.fromarray(alpha).resize((tw, th), Image.Resampling.LANCZOS)
    return np.clip(np.asarray(im, F32), 0, 1)


def _page(rng, alpha: np.ndarray, margins) -> tuple[Image.Image, list]:
    """The ink on paper with ``margins`` (top, right, bottom, left) px around it: white or
    off-white paper, near-black or blue-black ink; grey or RGB. Returns (image, notes)."""
    t, r, b, l = margins
    a = np.pad(alpha, ((t, b), (l, r)))[..., None]
    notes = []
    if _chance(rng, 0.45):
        paper = np.ones(3)
    else:
        g = _u(rng, 0.86, 0.97)
        paper = np.array([min(1.0, g + _u(rng, 0, 0.03)), g, g - _u(rng, 0, 0.06)])
        notes.append(f"paper={g:.2f}")
    k = _u(rng, 0.0, 0.22)
    if _chance(rng, 0.3):  # blue-black
        ink = np.array([k, k + 0.03, k + _u(rng, 0.1, 0.3)])
    else:
        ink = np.full(3, k)
    out = Image.fromarray(_u8(paper * (1 - a) + ink * a))
    if _chance(rng, 0.5):
        out = out.convert("L")
    return out, notes


def _grain(rng, img: Image.Image) -> tuple[Image.Image, list]:
    """Faint sensor noise (30% of images). Returns (image, notes)."""
    if not _chance(rng, 0.3):
        return img, []
    sigma = _u(rng, 0.004, 0.02)
    a = np.asarray(img, F32) / 255
    return Image.fromarray(_u8(a + rng.normal(0, sigma, a.shape))), [f"noise={sigma:.3f}"]


def _soften(rng, img: Image.Image) -> tuple[Image.Image, list]:
    """A small scan's softness, either way with even odds: a slight Gaussian blur, or a
    JPEG round trip (its blur and blocks). Returns (image, notes)."""
    if _chance(rng, 0.5):
        radius = _u(rng, 0.3, 0.7)
        return img.filter(ImageFilter.GaussianBlur(radius)), [f"blur={radius:.2f}"]
    quality = int(rng.integers(30, 76))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert(img.mode), [f"jpeg={quality}"]


def _margins(rng, size: float, hi: float = 0.28):
    """(top, right, bottom, left) in px: tight (0..2 px) for 30% of images, else each side
    4%..``hi`` of ``size``."""
    if _chance(rng, 0.3):
        return tuple(int(m) for m in rng.integers(0, 3, 4))
    return tuple(round(_u(rng, 0.04, hi) * size) for _ in range(4))


def _small_margins(rng, size: int):
    """Margins of a small image: 0..12% of its ``size`` on each side, in px."""
    return tuple(int(m) for m in rng.integers(0, round(0.12 * size) + 1, 4))


def draw_digit(rng, label: int, glyph_set: str, *, slant: float, aspect: float, pen: float,
               height: int, margins, box: bool = False, small: bool = False,
               soften_p: float = 0.5) -> tuple[Image.Image, list]:
    """One digit ``label`` on paper, in a random variant from ``glyph_set``.

    ``slant``/``aspect``: the pose (degrees; width factor); ``pen``: its width as a share
    of the digit's height; ``height``: the digit's ink height in the finished image, px
    (``box``: the side of the square its bounding box is stretched to fill); ``margins``:
    (top, right, bottom, left) px of paper around it. ``small``: drawn ``SMALL`` x bigger
    and box-filtered down (a small scan), then softened with probability ``soften_p``.
    Returns (image, notes).
    """
    glyph = _pick(rng, _glyphs_for(glyph_set, label))
    turn = float(np.clip(rng.normal(0, 2), -5, 5))
    warp = _u(rng, 0.015, 0.04)
    strokes = _pose(_warp(glyph.draw(rng), rng, warp), slant, aspect, turn)
    f = SMALL if small else 1
    drawn = BOX_DRAW if box else height * f
    pen_px = max(1.0, pen * drawn)
    alpha = _render(strokes, pen_px, drawn)
    notes = [f"glyph={glyph.name}", f"slant={slant:+.1f}", f"aspect={aspect:.2f}",
             f"turn={turn:+.1f}", f"warp={warp:.3f}",
             f"pen={pen_px / drawn:.3f}:{pen_px * height / drawn:.1f}px"]
    if box:
        alpha = _stretch(alpha, height * f)
        notes.append(f"box={height}")
    img, more = _page(rng, alpha, [m * f for m in margins])
    notes += more
    if small:
        size = (max(1, round(img.width / f)), max(1, round(img.height / f)))
        img = img.resize(size, Image.Resampling.BOX)
    img, more = _grain(rng, img)
    notes += more
    if small and _chance(rng, soften_p):
        img, more = _soften(rng, img)
        notes += more
    notes.append(f"size={img.width}x{img.height}")
    return img, notes


def _ordinary_slant(rng) -> float:
    """An ordinary slant: N(0, 4) degrees, within +-8."""
    return float(np.clip(rng.normal(0, 4), -8, 8))


def _ordinary(rng) -> dict:
    """Ordinary pose and pen (see the module docstring)."""
    return {"slant": _ordinary_slant(rng), "aspect": _u(rng, 0.8, 1.2),
            "pen": _u(rng, 0.05, 0.11)}


def _canvas(rng) -> tuple[int, tuple]:
    """An ordinary image: (the digit's height, margins) for an image 60..200 px tall."""
    total = int(rng.integers(60, 201))
    margins = _margins(rng, total)
    return total - margins[0] - margins[2], margins


def _boxfill(rng, label, glyph_set, pose) -> tuple[Image.Image, list]:
    """A box-filled digit: 40% a 16..32 px low-resolution scan, else a 40..160 px box."""
    if _chance(rng, 0.4):
        total = int(rng.integers(16, 33))
        margins = tuple(int(m) for m in rng.integers(0, 3, 4))
        side = total - max(margins[0] + margins[2], margins[1] + margins[3])
        return draw_digit(rng, label, glyph_set, height=side, margins=margins, box=True,
                          small=True, soften_p=0.3, **pose)
    side = int(rng.integers(40, 161))
    return draw_digit(rng, label, glyph_set, height=side, margins=_margins(rng, side, hi=0.25),
                      box=True, **pose)


def _lowres(rng, label, glyph_set, pose) -> tuple[Image.Image, list]:
    """A small scan: an image 12..24 px tall."""
    total = int(rng.integers(12, 25))
    margins = _small_margins(rng, total)
    return draw_digit(rng, label, glyph_set, height=total - margins[0] - margins[2],
                      margins=margins, small=True, **pose)


def style_european(rng, label):
    """Continental glyphs, ordinary drawing."""
    height, margins = _canvas(rng)
    return draw_digit(rng, label, EUROPEAN, height=height, margins=margins, **_ordinary(rng))


def style_boxfill(rng, label):
    """Box-filled digits (see ``_boxfill``), ordinary pose."""
    return _boxfill(rng, label, BOXFILL, _ordinary(rng))


def style_slant(rng, label):
    """Common glyphs sheared 5..20 degrees either way."""
    height, margins = _canvas(rng)
    pose = _ordinary(rng)
    pose["slant"] = _u(rng, 5, 20) * (1 if _chance(rng, 0.5) else -1)
    return draw_digit(rng, label, COMMON, height=height, margins=margins, **pose)


def style_pens(rng, label):
    """Common glyphs, pen from 1 px to 20% of the digit's height (log-uniform)."""
    height, margins = _canvas(rng)
    pose = _ordinary(rng)
    pose["pen"] = _log_u(rng, 1, 0.2 * height) / height
    return draw_digit(rng, label, COMMON, height=height, margins=margins, **pose)


def style_lowres(rng, label):
    """Common glyphs as small scans, 12..24 px tall."""
    pose = _ordinary(rng)
    pose["pen"] = _u(rng, 0.08, 0.16)
    return _lowres(rng, label, COMMON, pose)


def style_mixed(rng, label):
    """A random combination of the other styles' variations."""
    finish = _pick(rng, ("plain",) * 9 + ("box",) * 5 + ("small",) * 6)
    aspect = _u(rng, 0.7, 1.35)
    if finish == "box":  # stretching the box multiplies a slant: keep it ordinary
        pose = {"slant": _ordinary_slant(rng), "aspect": aspect, "pen": _log_u(rng, 0.04, 0.2)}
        return _boxfill(rng, label, BOXFILL, pose)
    glyph_set = EUROPEAN if _chance(rng, 0.5) else COMMON
    # Leaning far left, a continental 1's long flag droops into a 7's bar.
    pose = {"slant": _u(rng, -8 if glyph_set == EUROPEAN else -20, 20), "aspect": aspect}
    if finish == "small":
        pose["pen"] = _u(rng, 0.08, 0.2)
        return _lowres(rng, label, glyph_set, pose)
    height, margins = _canvas(rng)
    pose["pen"] = _log_u(rng, 1, 0.2 * height) / height
    return draw_digit(rng, label, glyph_set, height=height, margins=margins, **pose)


STYLE_FUNCTIONS = {"european": style_european, "boxfill": style_boxfill, "slant": style_slant,
                   "pens": style_pens, "lowres": style_lowres, "mixed": style_mixed}

# european: a cycle of 40 labels, eight 1s, eight 7s and three of every other digit, in
# eight runs of five: 1, another, 7, two others.
_OTHERS = (0, 2, 3, 4, 5, 6, 8, 9) * 3
EUROPEAN_CYCLE = tuple(d for b in range(8)
                       for d in (1, _OTHERS[3 * b], 7, _OTHERS[3 * b + 1], _OTHERS[3 * b + 2]))


def label_of(style: str, j: int) -> int:
    """The digit of image ``j`` of ``style``."""
    if style == "european":
        return EUROPEAN_CYCLE[j % len(EUROPEAN_CYCLE)]
    return j % 10


def make_image(style: str, j: int, seed: int) -> tuple[Image.Image, int, list]:
    """Image ``j`` of ``style``: (image, label, notes). Depends only on (seed, style, j)."""
    rng = np.random.default_rng([seed, STYLES.index(style), j])
    label = label_of(style, j)
    img, notes = STYLE_FUNCTIONS[style](rng, label)
    return img, label, notes


# --- making the set ----------------------------------------------------------------------


def _make_one(task) -> dict:
    """Make and write one image (a worker's task); returns its labels.csv record."""
    n, style, j, seed, outdir = task
    img, label, notes = make_image(style, j, seed)
    name = f"{n:04d}_{style}_label{label}.png"
    img.save(Path(outdir) / name, "PNG")
    return {"file": name, "label": label, "style": style, "notes": " ".join(notes)}


def make(outdir, per_style=100, seed=0, jobs=1) -> list:
    """Write the images and ``labels.csv`` into ``outdir``; returns the records (dicts of
    file, label, style, notes)."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    tasks = [(style, j) for style in STYLES for j in range(per_style)]
    tasks = [(n, style, j, seed, str(out)) for n, (style, j) in enumerate(tasks)]
    records = make_all(_make_one, tasks, jobs, chunksize=8)
    write_labels(out, ["file", "label", "style", "notes"], records)
    return records


def read_labels(outdir) -> list:
    """The records of ``OUTDIR/labels.csv``, labels as ints."""
    return [dict(r, label=int(r["label"])) for r in imageset.read_labels(outdir)]


# --- scoring -----------------------------------------------------------------------------


def _right(rec, spec) -> bool:
    """Whether model ``spec`` read the scored record ``rec`` right."""
    return spec in rec["pred"] and rec["pred"][spec][0] == rec["label"]


def _glyph_of(notes: str) -> str:
    """The glyph variant named in a record's notes."""
    return next((w[6:] for w in notes.split() if w.startswith("glyph=")), "?")


def score(outdir, weights=("default",), jobs=1, by_glyph=False, out=None) -> list:
    """Classify every image of a ``make`` folder with each model; print the tables to
    ``out`` (default stdout); return the records (file, label, style, notes, glyph, input,
    error, refused, pred: {spec: (digit, margin)})."""
    import digitnet

    out = out or sys.stdout
    t_start = time.perf_counter()
    rows = read_labels(outdir)
    paths = [str(Path(outdir) / r["file"]) for r in rows]
    t0 = time.perf_counter()
    loaded = imageset.load_all(paths, jobs)
    t_load = time.perf_counter() - t0
    records = []
    for r, x in zip(rows, loaded):
        ok = isinstance(x, np.ndarray)
        records.append(dict(r, glyph=_glyph_of(r["notes"]), input=x if ok else None,
                            error="" if ok else f"{type(x).__name__}: {x}",
                            pred={}))
    good = [rec for rec in records if rec["input"] is not None]
    for spec in weights:
        model = digitnet.load(spec)
        results = model.results(np.stack([g["input"] for g in good])) if good else []
        for rec, res in zip(good, results):
            rec["pred"][spec] = (int(res.digit), float(res.margin))

    def accs(group):
        """Per model, its accuracy on ``group``."""
        return [_pct(sum(_right(r, s) for r in group), len(group)) for s in weights]

    def refused(group):
        """The share of ``group`` the pipeline refused."""
        return _pct(sum(r["input"] is None for r in group), len(group))

    present = [s for s in STYLES if any(r["style"] == s for r in records)]
    print(f"\n{len(records)} images from {outdir}\n", file=out)
    print("Per style:\n", file=out)
    groups = [(s, [r for r in records if r["style"] == s]) for s in present]
    print(md_table(["style", "n", "refused"] + [f"acc {s}" for s in weights],
                   [[s, len(g), refused(g), *accs(g)] for s, g in groups]), file=out)

    def confusions(group, spec):
        """Model ``spec``'s commonest wrong answers on ``group``."""
        wrong = Counter(r["pred"][spec][0] if spec in r["pred"] else "refused"
                        for r in group if not _right(r, spec))
        return ", ".join(f"{d} ({n})" for d, n in wrong.most_common(3)) or "-"

    print("\nPer digit (all styles; the commonest wrong answers):\n", file=out)
    digit_rows = []
    for d in range(10):
        g = [r for r in records if r["label"] == d]
        digit_rows.append([d, len(g), *accs(g), *(confusions(g, s) for s in weights)])
    print(md_table(["digit", "n"] + [f"acc {s}" for s in weights] +
                   [f"wrong {s}" for s in weights], digit_rows), file=out)

    print("\nOverall:\n", file=out)
    print(md_table(["model", "n", "refused", "accuracy"],
                   [[s, len(records), refused(records), accs(records)[i]]
                    for i, s in enumerate(weights)]), file=out)

    if by_glyph:
        print("\nPer glyph variant (all styles):\n", file=out)
        names = sorted({r["glyph"] for r in records})
        glyph_rows = [[n, len(g), *accs(g)]
                      for n in names for g in [[r for r in records if r["glyph"] == n]]]
        print(md_table(["glyph", "n"] + [f"acc {s}" for s in weights], glyph_rows), file=out)

    for spec in weights:
        fails = [r for r in records if not _right(r, spec)]
        by_style = {s: [r for r in fails if r["style"] == s] for s in present}
        shown = []
        while len(shown) < 12 and any(by_style.values()):  # round robin over the styles
            for s in present:
                if by_style[s] and len(shown) < 12:
                    shown.append(by_style[s].pop(0))
        print(f"\nexample failures, {spec} ({len(fails)} in all):", file=out)
        for r in shown:
            got = (f"got {r['pred'][spec][0]} (margin {r['pred'][spec][1]:.2f})"
                   if spec in r["pred"] else f"refused: {r['error']}")
            print(f"- {r['file']} ({r['glyph']}): {got}", file=out)
    wall = time.perf_counter() - t_start
    print(f"\nwall time {wall:.1f} s (decoding {t_load:.1f} s, "
          f"{1000 * t_load / max(1, len(records)):.1f} ms/image with -j {jobs})", file=out)
    return records


# --- looking at it -----------------------------------------------------------------------


def _cell(img: Image.Image, side: int) -> Image.Image:
    """``img`` fitted into a grey ``side`` x ``side`` square (small images enlarged with
    visible pixels)."""
    img = img.convert("L")
    f = (side - 4) / max(img.size)
    size = (max(1, round(img.width * f)), max(1, round(img.height * f)))
    small = max(img.size) <= 40
    img = img.resize(size, Image.Resampling.NEAREST if small else Image.Resampling.LANCZOS)
    cell = Image.new("L", (side, side), 200)
    cell.paste(img, ((side - img.width) // 2, (side - img.height) // 2))
    return cell


def _grid(cells: list, columns: int, captions: list) -> Image.Image:
    """Cells in rows of ``columns``, each with its caption underneath."""
    side = cells[0].width
    rows = math.ceil(len(cells) / columns)
    sheet = Image.new("L", (columns * (side + 4), rows * (side + 16)), 255)
    draw = ImageDraw.Draw(sheet)
    for i, (cell, caption) in enumerate(zip(cells, captions)):
        x, y = (i % columns) * (side + 4), (i // columns) * (side + 16)
        sheet.paste(cell, (x, y))
        draw.text((x + 1, y + side + 2), caption, fill=0)
    return sheet


def sheet(outdir, out_png, per_style=16, side=96) -> None:
    """A contact sheet of a made set: the first ``per_style`` images of each style, one
    style per row, captioned with their glyph variant."""
    records = read_labels(outdir)
    chosen = [r for s in STYLES for r in [r for r in records if r["style"] == s][:per_style]]
    cells = [_cell(Image.open(Path(outdir) / r["file"]), side) for r in chosen]
    captions = [f"{r['style'][:4]} {_glyph_of(r['notes'])}" for r in chosen]
    _grid(cells, per_style, captions).save(out_png)


def glyph_sheet(out_png, draws=6, seed=0, side=72) -> None:
    """Every glyph variant drawn ``draws`` times (ordinary pose, fresh jitter), one variant
    per row."""
    cells, captions = [], []
    for g in GLYPHS:
        for k in range(draws):
            rng = np.random.default_rng([seed, g.digit, k, len(g.name)])
            pose = _ordinary(rng)
            strokes = _pose(_warp(g.draw(rng), rng, _u(rng, 0.015, 0.04)), pose["slant"],
                            pose["aspect"], 0.0)
            alpha = _render(strokes, pose["pen"] * (side - 12), side - 12)
            cells.append(_cell(Image.fromarray(_u8(1 - alpha)), side))
            captions.append(g.name)
    _grid(cells, draws, captions).save(out_png)


def write_card(spec, records, command) -> None:
    """Put model ``spec``'s figures on ``records`` into its model card (atomically), under
    ``figures.style_shift``: overall, per style and per digit accuracy, and the command."""
    import json

    from digitnet import weightfile
    from digitnet.files import atomic_files

    def acc(group):
        return round(sum(_right(r, spec) for r in group) / len(group), 4) if group else None

    card_file = weightfile.card_path(weightfile.resolve(spec))
    with open(card_file, encoding="utf-8") as f:
        card = json.load(f)
    card.setdefault("figures", {})["style_shift"] = {
        "data": f"benchmarks/styles.py: {len(records)} digits drawn by code in other "
                "writers' styles (the set of `python benchmarks/styles.py make DIR --seed 0`), "
                "through the classify pipeline",
        "command": command,
        "accuracy": acc(records),
        "per_style": {s: acc([r for r in records if r["style"] == s]) for s in STYLES},
        "per_digit": [acc([r for r in records if r["label"] == d]) for d in range(10)],
    }
    with atomic_files(card_file) as f:
        f.write((json.dumps(card, indent=2) + "\n").encode())
    print(f"wrote the figures into {card_file}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_make = sub.add_parser("make", help="draw the set")
    p_make.add_argument("outdir")
    p_make.add_argument("--per-style", type=int, default=100, help="images per style (100)")
    p_make.add_argument("--seed", type=int, default=0)
    add_make_jobs(p_make)
    p_score = add_score_parser(sub, "run the set through digitnet")
    p_score.add_argument("--by-glyph", action="store_true",
                         help="also print accuracy per glyph variant")
    p_score.add_argument("--card", action="store_true",
                         help="write the figures (overall, per style, per digit) into the "
                              "model card of each --weights model, under "
                              "figures.style_shift, with this command")
    p_sheet = sub.add_parser("sheet", help="a contact sheet of a made set")
    p_sheet.add_argument("outdir")
    p_sheet.add_argument("out_png")
    p_sheet.add_argument("--per-style", type=int, default=16)
    p_glyphs = sub.add_parser("glyphs", help="a sheet of every glyph variant")
    p_glyphs.add_argument("out_png")
    p_glyphs.add_argument("--draws", type=int, default=6)
    p_glyphs.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "make":
        t0 = time.perf_counter()
        records = make(args.outdir, args.per_style, args.seed, args.jobs)
        print(f"wrote {len(records)} images to {args.outdir} in "
              f"{time.perf_counter() - t0:.1f} s")
    elif args.command == "score":
        weights = args.weights or ["default"]
        records = score(args.outdir, weights, args.jobs, args.by_glyph)
        if args.card:
            command = "python benchmarks/styles.py " + " ".join(argv or sys.argv[1:])
            for spec in weights:
                write_card(spec, records, command)
    elif args.command == "sheet":
        sheet(args.outdir, args.out_png, args.per_style)
    else:
        glyph_sheet(args.out_png, args.draws, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
