"""Real-photo scenes: MNIST test digits as pen ink where users really photograph them.

A digit reaches ``digitnet`` as a phone photo of a sheet on a desk, a scan with a dark
scanner edge, a screenshot of a paint program, a sticky note, a page of a notebook. This
script turns MNIST *test* digits (so that the true answer is known, and no training digit
leaks in) into pen strokes and puts them into such scenes -- plus scenes with no digit at
all, which the pipeline should refuse -- and measures how well ``digitnet``'s image
pipeline finds the digit:

    python benchmarks/scenes.py make  OUTDIR [--per-kind 100] [--blank-per-kind 10] [--seed 0]
                                             [--mnist ../shared/data/mnist] [--kinds a,b] [-j 2]
    python benchmarks/scenes.py score OUTDIR [--weights default --weights wide] [-j 2]
                                             [--kinds a,b]

``make`` writes ``OUTDIR/NNNN_KIND_labelD.EXT`` (images with no digit: ``labelnone``) and
``OUTDIR/labels.csv`` (file, label, kind, mnist_index, notes -- the notes list the scene's
parameters). Image ``j`` of a kind (digit or blank) is rebuilt identically from
(seed, kind, j, blank): changing ``--per-kind`` or ``--kinds`` adds or drops images but
never changes the others, and ``-j`` only changes the speed. The test digit of image ``j``
of kind ``k`` is ``perm[j * 7 + k]`` of a random permutation of the 10,000 test indices
drawn from the seed (so the 700 digits of the default set are 700 different ones).

The digit is inked one of two ways (the notes say which: ``pen=NAME:wWIDTH`` or
``pen=NAME:thrLEVEL``). *Redrawn*: the MNIST image, enlarged 8x, is thinned to its
skeleton and drawn again with a round pen of even width (2..15% of the digit's height) --
a ballpoint's, a pencil's, a felt-tip's or a paint brush's line. *Own stroke*: it is
enlarged smoothly (bicubic or Lanczos) and soft-thresholded, the threshold setting the
stroke's width -- a felt-tip's or marker's fat line. Either way the threshold is chosen so
that the digit keeps its loops and stays in one piece, and a digit whose loop MNIST shows
written shut (a 6, 8, 9 or 0 with a blot) keeps its own stroke: the label stays true.
(Checked: the wide model reads such inkings on plain white about as well as the MNIST
images themselves, ~98% against ~99%.) The pen: black felt-tip, dark blue, blue ballpoint
(uneven ink), pencil grey (grainy, never fully dark), marker (thick, sometimes red or
green), a solid anti-aliased brush in screenshots. It is composited in RGB as
``out = surface * (1 - a) + pen * a``, before the scene's lighting and camera.

==============  =========================================================================
desk            phone photo of a white/off-white sheet on a desk (wood, dark, grey,
                coloured, fabric), the sheet rotated up to +-25 deg covering 35..95% of
                the frame, sometimes cut off by one or two frame edges; soft drop shadow,
                lighting gradient, vignette, often a shadow across part of the sheet;
                sometimes a pen lying on the desk; white balance, blur, sensor noise,
                JPEG q60..92. Frame 800..2400 px (a few up to 4000); digit 8..35% of the
                frame height, anywhere on the sheet, nearly upright in the frame
desk            (no digit) the same photo of an empty sheet
framed          a scan: white page with a dark scanner edge on 1..4 sides (1..60 px,
                straight, wedge-shaped or wavy, with the page's shade beside it) and/or a
                frame (hairline, 3 px black, 10 px grey, double line, a picture frame
                with bevel and mat), sometimes skewed on the glass; grey or colour,
                PNG or JPEG. 600..1700 px; digit 15..50% of the page height
screenshot      a paint/whiteboard app window: title bar (dark, coloured or light, with
                title text and three window buttons), often a menu bar and a toolbar
                (icons, colour swatches), sometimes a tool palette, a status bar (text,
                coordinates), scroll bars, a mouse cursor; the white canvas fills the
                window or sits in a grey workspace; sometimes the window is on a desktop.
                500..1600 px wide, PNG; the digit a crisp brush stroke, 25..85% of the
                canvas height
sticky          a yellow/pink/green/blue/orange sticky note, slightly rotated, with a
                curled shadow and curl shading, on a desk, monitor, wall, grey or fabric;
                sometimes a second, empty note; JPEG. 300..900 px, the note 30..80% of
                the frame, the digit 35..75% of the note
ruled           lined paper (white or cream): light-blue rulings every 20..40 px, 1..3 px,
                the digit spanning 2..4 of them (often sitting on one); sometimes a red
                margin line, a header line, punched holes; a flat scan (PNG) or a mild
                photo (tilt, light, JPEG). 600..1700 px
squared         graph paper: blue/grey/green lines every 12..30 px, sometimes darker
                every 5th, sometimes the grid inside a printed margin; the digit 3..8
                squares tall; scan or mild photo
specks          plain paper with dust specks (1..4 px, some dark, sometimes clustered),
                faint hairline scratches, sometimes a coffee ring -- all around the
                digit, never over it; scan or mild photo. Digit 12..45% of the height
specks          (no digit) the same dirt alone; or a single black pixel on white; or a
                few specks on clean paper
==============  =========================================================================

Every kind also makes ``--blank-per-kind`` images with no digit (label ``none``) from the
same surface generator: the empty sheet on the desk, the empty framed scan, the empty
canvas, the empty note, the blank ruled and squared pages, and the dirt of ``specks``.

``score`` decodes every file once with ``digitnet.batch.load_inputs`` (the pipeline is
the same for every model, so "refused" is too), classifies the inputs with each
``--weights`` model (``digitnet.load(spec).results``), and prints a markdown table: per
kind the digits' accuracy (a refused or failed image counts as wrong) and refusals, and
the share of no-digit images refused (raised ``ImageError``); then example failures.

MNIST: Y. LeCun, C. Cortes and C. J. C. Burges, https://yann.lecun.com/exdb/mnist/,
CC BY-SA 3.0. Only numpy and Pillow are needed to *make* the set.
"""

from __future__ import annotations

import argparse
import functools
import io
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from imageset import chance as _chance, load_all, make_all, pct as _pct, read_labels
from imageset import SHARED_MNIST, add_make_jobs, add_score_parser, to_u8 as _u8, uniform as _u
from imageset import md_table, pick as _pick, write_labels

KINDS = ("desk", "framed", "screenshot", "sticky", "ruled", "squared", "specks")


F32 = np.float32
BICUBIC = Image.Resampling.BICUBIC
LANCZOS = Image.Resampling.LANCZOS


# --- small tools ---------------------------------------------------------------------------


def _noise(h: int, w: int, rng, cell_y: float, cell_x: float | None = None) -> np.ndarray:
    """Smooth noise (h, w), roughly N(0, 1): random values on a grid of cells of
    ``cell_y`` x ``cell_x`` pixels, bicubically enlarged."""
    cell_x = cell_y if cell_x is None else cell_x
    if cell_y <= 3 and cell_x <= 3:  # grain: per-pixel noise looks the same, and is cheap
        return _uniform_noise(rng, h, w) * F32(0.6)
    gh = max(2, math.ceil(h / max(cell_y, 1.0)) + 1)
    gw = max(2, math.ceil(w / max(cell_x, 1.0)) + 1)
    coarse = rng.standard_normal((gh, gw), dtype=F32)
    return np.array(Image.fromarray(coarse).resize((w, h), BICUBIC))


def _blur_mask(mask: np.ndarray, radius: float) -> np.ndarray:
    """Gaussian blur of a 0..1 mask (through 8 bits: Pillow does not blur float images).
    Wide blurs are done at a reduced scale, which looks the same and is much faster."""
    if radius <= 0.2:
        return mask
    im = Image.fromarray(_u8(mask))
    f = radius / 3
    if f > 1.5:
        small = im.resize((max(2, round(im.width / f)), max(2, round(im.height / f))),
                          Image.Resampling.BOX)
        small = small.filter(ImageFilter.GaussianBlur(float(radius / f)))
        im = small.resize(im.size, Image.Resampling.BILINEAR)
    else:
        im = im.filter(ImageFilter.GaussianBlur(float(radius)))
    return np.asarray(im, dtype=F32) / 255


def _poly_mask(h: int, w: int, pts, soft: float = 0.6) -> np.ndarray:
    """A filled polygon as a float mask (h, w), its edge softened by ``soft`` px."""
    im = Image.new("L", (w, h), 0)
    ImageDraw.Draw(im).polygon([(float(x), float(y)) for x, y in pts], fill=255)
    if soft > 0.2:
        im = im.filter(ImageFilter.BoxBlur(float(soft)))
    return np.asarray(im, dtype=F32) / 255


def _rect_corners(cx, cy, w, h, deg):
    """Corners of a w x h rectangle centred at (cx, cy), turned ``deg`` degrees clockwise
    on screen (y down)."""
    t = math.radians(deg)
    c, s = math.cos(t), math.sin(t)
    return [(cx + u * c - v * s, cy + u * s + v * c)
            for u, v in ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2))]


def _frame_size(rng, lo: int, hi: int, aspects, portrait_p=0.5, big=None) -> tuple[int, int]:
    """(width, height): the long side uniform in lo..hi (sometimes ``big`` = (p, lo, hi)),
    aspect ratio from ``aspects``, portrait with probability ``portrait_p``."""
    long = _u(rng, lo, hi)
    if big and _chance(rng, big[0]):
        long = _u(rng, big[1], big[2])
    aspect = float(_pick(rng, aspects))
    short = long / aspect
    if _chance(rng, portrait_p):
        return round(short), round(long)
    return round(long), round(short)


def _lighting(h, w, rng, grad: float, vignette: float) -> np.ndarray:
    """Multiplicative light (h, w): a linear gradient of +-grad/2 in a random direction and
    a vignette darkening the corners by ``vignette``."""
    y = np.linspace(-1, 1, h, dtype=F32)[:, None]
    x = np.linspace(-1, 1, w, dtype=F32)[None, :]
    ang = _u(rng, 0, 2 * math.pi)
    light = 1 + F32(grad / 2) * (x * F32(math.cos(ang)) + y * F32(math.sin(ang)))
    if vignette > 0:
        cx, cy = _u(rng, -0.3, 0.3), _u(rng, -0.3, 0.3)
        light = light * (1 - F32(vignette / 2.5) * ((x - cx) ** 2 + (y - cy) ** 2))
    return light.astype(F32)


def _cast_shadow(h, w, rng, depth: float) -> tuple[np.ndarray, str]:
    """A shadow across part of the frame (a hand, the phone, a lamp's edge): a soft, wavy
    half-plane or a soft blob; multiplicative (h, w)."""
    long = max(h, w)
    yy = np.arange(h, dtype=F32)[:, None]
    xx = np.arange(w, dtype=F32)[None, :]
    if _chance(rng, 0.65):
        ang = _u(rng, 0, 2 * math.pi)
        px, py = _u(rng, 0.15, 0.85) * w, _u(rng, 0.15, 0.85) * h
        soft = _u(rng, 0.01, 0.15) * long
        d = (xx - F32(px)) * F32(math.cos(ang)) + (yy - F32(py)) * F32(math.sin(ang))
        d = d + _noise(h, w, rng, long / 3) * F32(_u(rng, 0, 0.04) * long)
        m = np.clip(d / F32(soft) + F32(0.5), 0, 1)
        kind = "edge"
    else:
        cx, cy = _u(rng, -0.2, 1.2) * w, _u(rng, -0.2, 1.2) * h
        rx, ry = _u(rng, 0.15, 0.5) * long, _u(rng, 0.15, 0.5) * long
        m = np.exp(-(((xx - F32(cx)) / F32(rx)) ** 2 + ((yy - F32(cy)) / F32(ry)) ** 2))
        kind = "blob"
    m = m * m * (3 - 2 * m)
    return (1 - F32(depth) * m).astype(F32), kind


def _planes(lum: np.ndarray, rgb) -> np.ndarray:
    """A channel-first RGB image (3, h, w): the (h, w) ``lum`` times each channel of ``rgb``.

    Scenes are built channel-first: per-channel work on contiguous planes is several
    times faster than on interleaved (h, w, 3) pixels, which matters at 4000 px.
    """
    out = np.empty((3,) + lum.shape, F32)
    for c in range(3):
        np.multiply(lum, F32(rgb[c]), out=out[c])
    return out


def _to_image(canvas: np.ndarray, gain=(1.0, 1.0, 1.0)) -> Image.Image:
    """(3, h, w) float 0..1 -> RGB image, each channel times ``gain`` (white balance).
    Consumes ``canvas`` (scaled in place)."""
    planes = []
    for c in range(3):
        a = canvas[c]
        a *= F32(255 * gain[c])
        a += F32(0.5)
        np.clip(a, 0, 255, out=a)
        planes.append(Image.fromarray(a.astype(np.uint8)))
    return Image.merge("RGB", planes)


def _from_image(img: Image.Image) -> np.ndarray:
    """RGB image -> (3, h, w) float32 0..1."""
    return np.stack([np.asarray(b, F32) for b in img.convert("RGB").split()]) / F32(255)


def _uniform_noise(rng, h, w) -> np.ndarray:
    """Zero-mean noise (h, w) of standard deviation 1, from random bytes (fast)."""
    b = np.frombuffer(rng.bytes(h * w), np.uint8).reshape(h, w).astype(F32)
    b -= F32(127.5)
    b *= F32(1 / 73.9)
    return b


def _finish(canvas: np.ndarray, rng, *, blur: float, noise: float, chroma: float = 0.4,
            gray: bool = False, gain=(1.0, 1.0, 1.0)) -> Image.Image:
    """Float (3, h, w) scene -> 8-bit image: sensor noise (per-pixel luma, blotchy chroma),
    white balance ``gain``, then a defocus blur of ``blur`` px (a box: a lens's disc)."""
    h, w = canvas.shape[1:]
    if noise > 0:
        canvas += _uniform_noise(rng, h, w) * F32(noise)
        if chroma > 0 and not gray:  # blotchy blue-yellow chroma noise
            small = Image.fromarray(_uniform_noise(rng, max(2, h // 3), max(2, w // 3))
                                    * F32(noise * chroma * 1.5))
            blotch = np.asarray(small.resize((w, h), Image.Resampling.BILINEAR))
            canvas[0] += blotch
            canvas[2] -= blotch
    img = _to_image(canvas, gain)
    if gray:
        img = img.convert("L")
    if blur > 0.3:
        img = img.filter(ImageFilter.BoxBlur(float(blur)))
    return img


def _paint(canvas: np.ndarray, alpha: np.ndarray, top: int, left: int, rgb) -> None:
    """Composite ink ``alpha`` (h, w) of colour ``rgb`` into ``canvas`` (3, H, W) at
    (top, left), in place, clipped to the canvas: out = canvas * (1 - a) + rgb * a."""
    h, w = alpha.shape
    H, W = canvas.shape[1:]
    t0, l0, t1, l1 = max(top, 0), max(left, 0), min(top + h, H), min(left + w, W)
    if t1 <= t0 or l1 <= l0:
        return
    a = alpha[t0 - top:t1 - top, l0 - left:l1 - left]
    region = canvas[:, t0:t1, l0:l1]
    region *= 1 - a
    for c in range(3):
        region[c] += a * F32(rgb[c])


def _fill_rect(canvas, t, l, b, r, rgb) -> None:
    """Axis-aligned rectangle [t, b) x [l, r), clipped."""
    H, W = canvas.shape[1:]
    t, l, b, r = max(0, int(t)), max(0, int(l)), min(H, int(b)), min(W, int(r))
    if b > t and r > l:
        canvas[:, t:b, l:r] = np.asarray(rgb, F32)[:, None, None]


def _place_in_rect(rng, rect, h, w, margin=0):
    """A random (top, left) for an h x w box inside rect = (t, l, b, r), or None."""
    t, l, b, r = rect
    t, l, b, r = t + margin, l + margin, b - margin, r - margin
    if b - t < h or r - l < w:
        return None
    return int(rng.integers(t, b - h + 1)), int(rng.integers(l, r - w + 1))


def _place_in_mask(rng, ok: np.ndarray, h, w, margin=0, tries=60):
    """A random (top, left) for an h x w box (plus margin) lying where ``ok`` is ~1."""
    rows = np.flatnonzero(ok.max(axis=1) > 0.99)
    cols = np.flatnonzero(ok.max(axis=0) > 0.99)
    if not len(rows) or not len(cols):
        return None
    for _ in range(tries):
        pos = _place_in_rect(rng, (rows[0], cols[0], rows[-1] + 1, cols[-1] + 1), h, w, margin)
        if pos is None:
            return None
        t, l = pos
        if ok[t - margin:t + h + margin, l - margin:l + w + margin].min() > 0.99:
            return pos
    return None


# --- the pen ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Digit:
    """An MNIST test digit: its (28, 28) image, brightness 0..1 (light ink on dark), and
    its label."""

    image: np.ndarray
    label: int


@dataclass
class Pen:
    """How a digit is inked: colour, stroke, texture.

    ``stroke`` > 0: the digit is thinned to its skeleton and redrawn with a round pen that
    wide (a fraction of the digit's height) -- a ballpoint's or pencil's even line.
    ``stroke`` == 0: MNIST's own stroke, enlarged and soft-thresholded between ``lo`` and
    ``lo + width`` -- the fat line of a felt-tip or marker.
    """

    name: str
    rgb: np.ndarray
    lo: float = 0.35  # soft threshold start (higher: thinner stroke)
    width: float = 0.2  # soft threshold width (smaller: crisper edge)
    gamma: float = 1.0
    blur: float = 0.0  # pre-threshold blur in MNIST pixels (marker: a fatter stroke)
    density: float = 1.0  # the darkest the ink gets (pencil < 1)
    texture: float = 0.0  # uneven ink / pencil grain
    grain: bool = False
    stroke: float = 0.0  # pen width / digit height; 0: MNIST's stroke, thresholded
    edge: float = 1.0  # anti-aliased edge width in px of a redrawn stroke
    redrawn: bool = False  # set by digit_ink: whether the last digit was redrawn

    def describe(self) -> str:
        how = f"w{self.stroke:.3f}" if self.redrawn else f"thr{self.lo:.2f}"
        return f"{self.name}:{how}"


PEN_NAMES = ("black", "dark-blue", "ballpoint", "pencil", "marker")


def _pen(rng, p=(0.25, 0.18, 0.25, 0.14, 0.18)) -> Pen:
    name = _pick(rng, PEN_NAMES, p=np.asarray(p) / sum(p))
    if name == "black":  # felt-tip or gel pen
        g = _u(rng, 0.03, 0.16)
        stroke = _u(rng, 0.035, 0.08) if _chance(rng, 0.55) else 0.0
        return Pen(name, np.array([g, g, g * _u(rng, 0.95, 1.25)], F32), _u(rng, 0.25, 0.5),
                   _u(rng, 0.08, 0.3), _u(rng, 0.7, 1.4), texture=_u(rng, 0, 0.08),
                   stroke=stroke)
    if name == "dark-blue":
        rgb = [_u(rng, 0.05, 0.14), _u(rng, 0.07, 0.17), _u(rng, 0.22, 0.4)]
        stroke = _u(rng, 0.03, 0.07) if _chance(rng, 0.7) else 0.0
        return Pen(name, np.array(rgb, F32), _u(rng, 0.3, 0.55), _u(rng, 0.1, 0.3),
                   _u(rng, 0.7, 1.4), texture=_u(rng, 0.03, 0.12), stroke=stroke)
    if name == "ballpoint":
        rgb = [_u(rng, 0.06, 0.2), _u(rng, 0.12, 0.3), _u(rng, 0.45, 0.75)]
        stroke = _u(rng, 0.022, 0.05) if _chance(rng, 0.85) else 0.0
        return Pen(name, np.array(rgb, F32), _u(rng, 0.4, 0.62), _u(rng, 0.1, 0.3),
                   _u(rng, 0.8, 1.6), density=_u(rng, 0.85, 1.0), texture=_u(rng, 0.04, 0.18),
                   stroke=stroke)
    if name == "pencil":
        g = _u(rng, 0.18, 0.4)
        stroke = _u(rng, 0.025, 0.055) if _chance(rng, 0.85) else 0.0
        return Pen(name, np.array([g, g, g * _u(rng, 1.0, 1.1)], F32), _u(rng, 0.35, 0.55),
                   _u(rng, 0.15, 0.35), _u(rng, 0.8, 1.5), density=_u(rng, 0.55, 0.9),
                   texture=_u(rng, 0.15, 0.4), grain=True, stroke=stroke, edge=1.5)
    colour = _pick(rng, ((0.05, 0.05, 0.07), (0.08, 0.15, 0.55), (0.75, 0.1, 0.12),
                         (0.08, 0.42, 0.18), (0.3, 0.1, 0.45)), p=(0.5, 0.2, 0.12, 0.1, 0.08))
    rgb = np.clip(np.asarray(colour, F32) + rng.normal(0, 0.03, 3).astype(F32), 0, 1)
    stroke = _u(rng, 0.08, 0.15) if _chance(rng, 0.5) else 0.0
    return Pen(name, rgb, _u(rng, 0.2, 0.35), _u(rng, 0.05, 0.18), blur=_u(rng, 0.15, 0.45),
               texture=_u(rng, 0, 0.08), stroke=stroke)


def _brush(rng) -> Pen:
    """A paint program's brush: one solid colour, an even round brush (or MNIST's own
    stroke, thresholded hard), crisp anti-aliased edges."""
    colour = _pick(rng, ((0, 0, 0), (0.2, 0.2, 0.2), (0.1, 0.2, 0.8), (0.85, 0.1, 0.1),
                         (0.1, 0.55, 0.2), (0.45, 0.15, 0.6), (0.05, 0.1, 0.35)),
                   p=(0.5, 0.08, 0.14, 0.1, 0.08, 0.05, 0.05))
    stroke = _u(rng, 0.035, 0.13) if _chance(rng, 0.75) else 0.0
    return Pen("brush", np.asarray(colour, F32), _u(rng, 0.25, 0.55), _u(rng, 0.02, 0.08),
               stroke=stroke, edge=_u(rng, 0.6, 1.2))


def _thin(b: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a boolean image: its one-pixel-wide skeleton."""
    img = np.pad(b.astype(np.uint8), 1)
    while True:
        changed = False
        for step in range(2):
            c = img[1:-1, 1:-1]
            nb = [img[:-2, 1:-1], img[:-2, 2:], img[1:-1, 2:], img[2:, 2:],  # P2..P5
                  img[2:, 1:-1], img[2:, :-2], img[1:-1, :-2], img[:-2, :-2]]  # P6..P9
            count = sum(n.astype(np.int8) for n in nb)
            trans = sum(((nb[i] == 0) & (nb[(i + 1) % 8] == 1)).astype(np.int8)
                        for i in range(8))
            p2, p4, p6, p8 = nb[0], nb[2], nb[4], nb[6]
            if step == 0:
                cond = ((p2 & p4 & p6) == 0) & ((p4 & p6 & p8) == 0)
            else:
                cond = ((p2 & p4 & p8) == 0) & ((p2 & p6 & p8) == 0)
            kill = (c == 1) & (count >= 2) & (count <= 6) & (trans == 1) & cond
            if kill.any():
                c[kill] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1].astype(bool)


def _neighbours(m: np.ndarray) -> np.ndarray:
    """How many of each pixel's 8 neighbours are set in the boolean image ``m``."""
    p = np.pad(m.astype(np.int8), 1)
    h, w = m.shape
    return sum(p[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
               for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx)


def _erode(m: np.ndarray, r: int) -> np.ndarray:
    """Boolean erosion by an octagon of radius ``r`` (alternating square and cross steps)."""
    for i in range(r):
        p = np.pad(m, 1)
        out = m & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
        if i % 2 == 0:
            out &= p[:-2, :-2] & p[:-2, 2:] & p[2:, :-2] & p[2:, 2:]
        m = out
    return m


def _prune(skel: np.ndarray, k: int) -> np.ndarray:
    """The skeleton without its spurs (side branches up to ``k`` px): strip every end ``k``
    times, then grow the surviving ends back along the original skeleton."""
    cur = skel.copy()
    for _ in range(k):
        cur &= ~((_neighbours(cur) <= 1) & cur)
    if not cur.any():
        return skel
    for _ in range(k):
        ends = cur & (_neighbours(cur) == 1)
        grow = skel & ~cur & (_neighbours(ends) > 0)
        if not grow.any():
            break
        cur |= grow
    return cur


SKELETON_SCALE = 8  # the digit is thinned at 8x MNIST resolution


def _crop28(img28):
    a = np.asarray(img28, F32).reshape(28, 28)
    rows = np.flatnonzero(a.max(axis=1) > 0.2)
    cols = np.flatnonzero(a.max(axis=0) > 0.2)
    pad = 2
    crop = np.pad(a, pad)[rows[0]:rows[-1] + 1 + 2 * pad, cols[0]:cols[-1] + 1 + 2 * pad]
    return np.ascontiguousarray(crop), rows[-1] - rows[0] + 1


def _components(mask: np.ndarray, eight: bool) -> np.ndarray:
    """The sizes of the connected regions of ``mask``."""
    h, w = mask.shape
    lab = np.where(mask, np.arange(1, h * w + 1).reshape(h, w), 0)
    offsets = [(-1, 0), (1, 0), (0, -1), (0, 1)]
    if eight:
        offsets += [(-1, -1), (-1, 1), (1, -1), (1, 1)]
    while True:  # every pixel takes the largest label around it, until nothing changes
        p = np.pad(lab, 1)
        new = lab
        for dy, dx in offsets:
            new = np.maximum(new, p[1 + dy:1 + dy + h, 1 + dx:1 + dx + w])
        new = np.where(mask, new, 0)
        if np.array_equal(new, lab):
            break
        lab = new
    return np.unique(lab[mask], return_counts=True)[1]


def _euler(m: np.ndarray) -> int:
    """Euler number (pieces minus holes) of a boolean image, 8-connected, by counting
    2x2 patterns (Gray's bit quads)."""
    p = np.pad(m, 1).astype(np.int8)
    a, b, c, d = p[:-1, :-1], p[:-1, 1:], p[1:, :-1], p[1:, 1:]
    n = a + b + c + d
    diagonal = (n == 2) & (a == d)
    return int(((n == 1).sum() - (n == 3).sum() - 2 * diagonal.sum()) // 4)


def _safe_level(crop: np.ndarray, blur: float, level: float) -> tuple[float, int]:
    """An ink threshold at which the digit keeps its loops and its strokes connected.

    MNIST strokes are thick: a small loop (of a 6, 8, 9) is often only a slightly
    lighter pixel, and at a low threshold it fills in -- a pen redrawing that would write
    another digit; at a high one a faint stroke breaks. So the digit is binarised
    (blurred by ``blur`` MNIST px) at ``level`` and at other levels, and the level with the
    most loops minus broken-off pieces wins; among equals the one nearest ``level``.
    Returns (level, loops and pieces at that level).
    """
    v = _blur_mask(np.clip(crop, 0, 1), blur)
    v = v / max(float(v.max()), 1e-6)
    best = None
    for t in sorted({level, 0.25, 0.35, 0.5, 0.6, 0.7, 0.8}):
        ink = v > t
        holes = len(_components(~ink, eight=False)) - 1
        sizes = _components(ink, eight=True)
        key = (holes - int((sizes >= 2).sum()), -abs(t - level))
        if best is None or key > best[0]:
            best = (key, t, holes, len(sizes))
    return float(best[1]), best[2], best[3]


# Loops every writer gives these digits: fewer in the binarised MNIST image means a loop
# written shut, which a skeleton would turn into a line.
LOOPS = {0: 1, 6: 1, 8: 2, 9: 1}


def _redrawn(digit: Digit, height, rng, pen: Pen, tilt) -> np.ndarray | None:
    """The digit's skeleton drawn with a round pen ``pen.stroke * height`` px wide; None
    for a digit with a loop written shut or a blot (which a skeleton cannot draw)."""
    crop, _ = _crop28(digit.image)
    k = SKELETON_SCALE
    up = Image.fromarray(crop).resize((crop.shape[1] * k, crop.shape[0] * k), BICUBIC)
    v = _blur_mask(np.clip(np.asarray(up), 0, 1), 0.5 * k)
    level, loops, pieces = _safe_level(crop, 0.5, _u(rng, 0.3, 0.5))
    if loops < LOOPS.get(digit.label, 0):
        return None
    ink = v > level
    if pieces - _euler(ink) != loops:  # enlarged, a loop closed or opened: not this way
        return None
    thin = _thin(ink)
    skel = _prune(thin, int(1.25 * k))
    # Blots: where MNIST's ink is much thicker than its stroke (a loop written shut), a
    # skeleton would lose the shape: such a digit keeps its own stroke (None).
    radius = round(0.8 * ink.sum() / max(1, thin.sum()))
    if radius >= 2 and _erode(ink, radius).sum() > 0.5 * radius * radius:
        return None
    ys, xs = np.nonzero(skel)
    if len(ys) < 2:
        return np.zeros((1, 1), F32)
    w = max(1.3, pen.stroke * height)
    extent = ys.max() - ys.min() + 1
    f = max(0.05, (height - w) / extent)
    aspect = _u(rng, 0.88, 1.12)
    t = math.radians(tilt)  # counter-clockwise on screen, as Image.rotate
    c, s = math.cos(t), math.sin(t)

    def place(yy, xx):
        x, y = (xx + 0.5) * f * aspect, (yy + 0.5) * f
        return x * c + y * s, -x * s + y * c

    px, py = place(ys, xs)
    margin = w + 4
    ox, oy = px.min() - margin, py.min() - margin
    cw = math.ceil(px.max() - ox + margin)
    ch = math.ceil(py.max() - oy + margin)
    im = Image.new("L", (cw, ch), 0)
    draw = ImageDraw.Draw(im)
    r = w / 2
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        y0, x0 = np.nonzero(_pairs(skel, dy, dx))
        if not len(y0):
            continue
        ax, ay = place(y0, x0)
        bx, by = place(y0 + dy, x0 + dx)
        for p in zip(ax - ox, ay - oy, bx - ox, by - oy):
            draw.line(p, fill=255, width=max(1, round(w)))
    for x, y in zip(px - ox, py - oy):
        draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    # Smooth the polyline's corners, then an anti-aliased edge about pen.edge px wide.
    sigma = max(0.6, 0.22 * w)
    v = _blur_mask(np.asarray(im, F32) / 255, sigma)
    alpha = np.clip((v - F32(0.5)) * F32(sigma * 2.5 / pen.edge) + F32(0.5), 0, 1)
    return alpha


def _pairs(skel, dy, dx):
    """Skeleton pixels whose neighbour at (+dy, +dx) is on the skeleton too."""
    h, w = skel.shape
    out = np.zeros_like(skel)
    if dx >= 0:
        out[:h - dy, :w - dx] = skel[:h - dy, :w - dx] & skel[dy:, dx:]
    else:
        out[:h - dy, -dx:] = skel[:h - dy, -dx:] & skel[dy:, :w + dx]
    return out


def _thresholded(digit: Digit, height, rng, pen: Pen, tilt) -> np.ndarray:
    """MNIST's own stroke: enlarged smoothly, soft-thresholded."""
    crop, box_h = _crop28(digit.image)
    scale = max(height, 4.0) / box_h
    aspect = _u(rng, 0.88, 1.12)
    size = (max(3, round(crop.shape[1] * scale * aspect)), max(3, round(crop.shape[0] * scale)))
    im = Image.fromarray(crop).resize(size, _pick(rng, (BICUBIC, LANCZOS)))
    # A little blur irons out the 28-pixel grid's lumps; more fattens the stroke, as a
    # marker's tip does.
    v = np.clip(np.asarray(im), 0, 1)
    v = _blur_mask(v, (0.45 + pen.blur) * scale)
    im = Image.fromarray(v / max(float(v.max()), 1e-6))
    if tilt:
        im = im.rotate(tilt, resample=BICUBIC, expand=True, fillcolor=0)
    v = np.asarray(im, dtype=F32)
    # The ink's edge (alpha 0.5) at a level that keeps the digit's loops open.
    lo = _safe_level(crop, 0.45 + pen.blur, pen.lo + pen.width / 2)[0] - pen.width / 2
    alpha = np.clip((v - F32(lo)) / F32(pen.width), 0, 1)
    if pen.gamma != 1.0:
        alpha = alpha ** F32(pen.gamma)
    return alpha


def digit_ink(digit: Digit, height: float, rng, pen: Pen, tilt: float = 0.0) -> np.ndarray:
    """The MNIST digit as pen ink: alpha (h, w) float32, the ink's box about ``height`` px
    tall, turned ``tilt`` degrees counter-clockwise, cropped to the ink."""
    alpha = _redrawn(digit, height, rng, pen, tilt) if pen.stroke > 0 else None
    pen.redrawn = alpha is not None
    if alpha is None:
        alpha = _thresholded(digit, height, rng, pen, tilt)
    h, w = alpha.shape
    if pen.texture > 0:  # uneven ink along the stroke
        width = pen.stroke * height if pen.stroke else height / 10
        uneven = np.clip(0.5 + 0.5 * _noise(h, w, rng, max(2.0, 1.5 * width)), 0, 1)
        alpha *= 1 - F32(pen.texture) * uneven
        if pen.grain:  # graphite on paper grain
            alpha *= 1 - F32(pen.texture) * rng.random((h, w), dtype=F32)
    alpha *= F32(pen.density)
    rows = np.flatnonzero(alpha.max(axis=1) > 0.02)
    cols = np.flatnonzero(alpha.max(axis=0) > 0.02)
    if not len(rows):
        return np.zeros((1, 1), F32)
    return np.ascontiguousarray(alpha[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])


def _fit_digit(kind, digit, dh, rng, pen, tilt, place, tries, shrink, cap=None):
    """Ink ``digit`` ``dh`` px tall (at most ``cap``) and find it a place with
    ``place(h, w)`` (top-left or None), shrinking it by ``shrink`` up to ``tries`` times.
    Returns (ink, (top, left), the height tried last)."""
    for _shrink in range(tries):
        ink = digit_ink(digit, dh if cap is None else min(dh, cap), rng, pen, tilt)
        pos = place(*ink.shape)
        if pos is not None:
            return ink, pos, dh
        dh *= shrink
    raise RuntimeError(f"{kind}: no place for the digit")  # pragma: no cover


def _pen_notes(pen: Pen, height: float, frame_h: int, tilt: float) -> str:
    return f"pen={pen.describe()} digit_h={height / frame_h:.2f} tilt={tilt:.0f}"


# --- surfaces ------------------------------------------------------------------------------


WOODS = ((0.72, 0.53, 0.33), (0.45, 0.29, 0.17), (0.83, 0.68, 0.47), (0.6, 0.55, 0.48),
         (0.33, 0.2, 0.12), (0.78, 0.6, 0.42))
MATS = ((0.2, 0.42, 0.33), (0.16, 0.24, 0.42), (0.55, 0.2, 0.2), (0.74, 0.67, 0.55),
        (0.82, 0.82, 0.8), (0.35, 0.33, 0.3), (0.62, 0.52, 0.4), (0.25, 0.3, 0.28))


def _jitter(rng, rgb, amount=0.04) -> np.ndarray:
    return np.clip(np.asarray(rgb, F32) * (1 + rng.normal(0, amount, 3).astype(F32)), 0, 1)


def _surface(h: int, w: int, rng, name: str) -> np.ndarray:
    """A background (h, w, 3) float32: wood, dark, grey, coloured, fabric, wall, monitor."""
    long = max(h, w)
    k = long / 1500
    if name == "wood":
        vertical = _chance(rng, 0.5)
        hh, ww = (w, h) if vertical else (h, w)
        y = np.arange(hh, dtype=F32)[:, None]
        period = _u(rng, 6, 30) * k
        warp = _noise(hh, ww, rng, _u(rng, 0.15, 0.5) * long, _u(rng, 0.3, 1.0) * long)
        rings = np.sin(F32(2 * math.pi) * (y / F32(period) + warp * F32(_u(rng, 1, 5))))
        streak = _noise(hh, ww, rng, max(1.5, _u(rng, 1, 4) * k), _u(rng, 60, 300) * k)
        lum = (1 + F32(_u(rng, 0.02, 0.08)) * rings + F32(_u(rng, 0.03, 0.1)) * streak
               + F32(0.05) * _noise(hh, ww, rng, long / 4))
        if _chance(rng, 0.5):  # planks
            pw = _u(rng, 0.15, 0.45) * long
            dist = np.abs(((y + F32(_u(rng, 0, pw))) % F32(pw)) - F32(pw / 2)) - F32(pw / 2)
            lum *= 1 - F32(_u(rng, 0.2, 0.5)) * np.exp(-((dist / F32(max(1.0, 1.5 * k))) ** 2))
        if vertical:
            lum = lum.T
        return _planes(lum, _jitter(rng, _pick(rng, WOODS)))
    if name == "fabric":
        p = _u(rng, 2.5, 7) * k
        y = np.arange(h, dtype=F32)[:, None]
        x = np.arange(w, dtype=F32)[None, :]
        weave = np.sin(F32(2 * math.pi / p) * x) * np.sin(F32(2 * math.pi / p) * y)
        lum = (1 + F32(_u(rng, 0.05, 0.15)) * weave + F32(0.08) * _noise(h, w, rng, 3 * p)
               + F32(0.06) * _noise(h, w, rng, long / 5))
        colour = _jitter(rng, _pick(rng, MATS + ((0.3, 0.3, 0.5), (0.5, 0.15, 0.25))), 0.1)
        return _planes(lum, colour)
    if name == "wall":
        g = _u(rng, 0.75, 0.95)
        colour = np.array([g, g * _u(rng, 0.97, 1.01), g * _u(rng, 0.9, 1.03)], F32)
        lum = 1 + F32(0.03) * _noise(h, w, rng, long / 4) + F32(0.012) * _noise(h, w, rng, 2)
        return _planes(lum, colour)
    if name == "monitor":
        bezel = _u(rng, 0.03, 0.14)
        out = _planes(1 + F32(0.08) * _noise(h, w, rng, long / 3), (bezel,) * 3)
        if _chance(rng, 0.8):  # part of the lit screen
            side = _pick(rng, ("top", "left", "right", "bottom"))
            frac = _u(rng, 0.2, 0.7)
            t, l, b, r = 0, 0, h, w
            if side == "top":
                b = int(frac * h)
            elif side == "bottom":
                t = int((1 - frac) * h)
            elif side == "left":
                r = int(frac * w)
            else:
                l = int((1 - frac) * w)
            screen = _jitter(rng, _pick(rng, ((0.85, 0.87, 0.9), (0.2, 0.25, 0.35),
                                              (0.35, 0.5, 0.7))), 0.1)
            _fill_rect(out, t, l, b, r, screen)
            for _ in range(int(rng.integers(0, 5))):  # windows on the screen
                bt, bl = int(rng.integers(t, max(t + 1, b - 10))), int(rng.integers(l, max(l + 1, r - 10)))
                _fill_rect(out, bt, bl, bt + _u(rng, 0.05, 0.4) * h, bl + _u(rng, 0.1, 0.5) * w,
                           _jitter(rng, rng.uniform(0.3, 1.0, 3), 0.05))
            # The lit screen is seen through its glare, and blurred (out of focus).
            out = _from_image(_to_image(out).filter(
                ImageFilter.GaussianBlur(float(_u(rng, 1, 6) * k))))
        return out
    if name == "dark":
        g = _u(rng, 0.04, 0.2)
        colour = _jitter(rng, (g, g, g), 0.1)
    elif name == "grey":
        g = _u(rng, 0.35, 0.72)
        colour = _jitter(rng, (g, g, g), 0.04)
    else:  # coloured
        colour = _jitter(rng, _pick(rng, MATS), 0.08)
    lum = (1 + F32(_u(rng, 0.03, 0.12)) * _noise(h, w, rng, long / _u(rng, 3, 10))
           + F32(_u(rng, 0.01, 0.05)) * _noise(h, w, rng, max(1.5, 2 * k)))
    return _planes(lum, colour)


def _paper(rng, cream_p=0.3) -> np.ndarray:
    """Paper colour: white, off-white, a little warm or cool, sometimes cream."""
    g = _u(rng, 0.88, 1.0)
    if _chance(rng, cream_p):
        return np.array([g, g * _u(rng, 0.95, 0.99), g * _u(rng, 0.82, 0.92)], F32)
    return np.array([g, g * _u(rng, 0.97, 1.01), g * _u(rng, 0.93, 1.03)], F32)


def _paper_texture(h, w, rng, amount) -> np.ndarray:
    return (1 + F32(amount) * _noise(h, w, rng, _u(rng, 20, 80))
            + F32(amount / 2) * _noise(h, w, rng, 2)).astype(F32)


# --- scenes ----------------------------------------------------------------------------------


@dataclass
class Scene:
    image: Image.Image
    fmt: str  # Pillow format: PNG or JPEG
    notes: list = field(default_factory=list)
    save_args: dict = field(default_factory=dict)


def _jpeg_or_png(rng, img, notes, jpeg_p, fmt_q=(60, 92)) -> Scene:
    if _chance(rng, jpeg_p):
        q = int(rng.integers(fmt_q[0], fmt_q[1] + 1))
        notes.append(f"jpeg={q}")
        return Scene(img, "JPEG", notes, {"quality": q})
    return Scene(img, "PNG", notes, {"compress_level": 1})


def _pen_on_desk(canvas, rng, avoid):
    """A pen or pencil lying on the desk (not within ``avoid`` = (t, l, b, r))."""
    H, W = canvas.shape[1:]
    long = max(H, W)
    length, thick = _u(rng, 0.12, 0.3) * long, _u(rng, 0.008, 0.02) * long
    for _ in range(20):
        cx, cy = _u(rng, 0, W), _u(rng, 0, H)
        ang = _u(rng, 0, 180)
        pts = _rect_corners(cx, cy, length, thick, ang)
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        t, l, b, r = avoid
        if max(xs) < l or min(xs) > r or max(ys) < t or min(ys) > b:
            break
    else:
        return None
    shadow = _blur_mask(_poly_mask(H, W, _rect_corners(cx + thick, cy + thick, length, thick,
                                                       ang)), thick)
    canvas *= 1 - F32(0.45) * shadow
    body = _poly_mask(H, W, pts, soft=0.8)
    colour = _jitter(rng, _pick(rng, ((0.1, 0.12, 0.5), (0.05, 0.05, 0.05), (0.7, 0.1, 0.1),
                                      (0.9, 0.9, 0.88), (0.85, 0.65, 0.1))), 0.05)
    _paint(canvas, body, 0, 0, colour)
    shine = _poly_mask(H, W, _rect_corners(cx - thick * 0.15, cy - thick * 0.15, length * 0.95,
                                           thick * 0.25, ang), soft=1.0)
    _paint(canvas, shine * F32(0.35), 0, 0, (1, 1, 1))
    return "pen-on-desk"


def scene_desk(rng, digit: Digit | None) -> Scene:
    """A phone photo of a sheet of paper on a desk."""
    W, H = _frame_size(rng, 800, 2400, (4 / 3, 3 / 2, 16 / 9, 1.0, 4 / 3), portrait_p=0.55,
                       big=(0.05, 2400, 4000))
    long = max(W, H)
    surface = _pick(rng, ("wood", "dark", "grey", "coloured", "fabric"),
                    p=(0.35, 0.15, 0.15, 0.2, 0.15))
    notes = [f"size={W}x{H}", f"surface={surface}"]
    # The sheet: rejection-sample its size, angle and place until the visible part covers
    # 35..95% of the frame and it is cut by as many frame edges as wanted -- and, with a
    # digit, until the digit fits on it.
    want_cut = _pick(rng, (0, 1, 2), p=(0.5, 0.3, 0.2))
    sf = 200 / long
    sh_, sw_ = max(2, round(H * sf)), max(2, round(W * sf))
    pen = _pen(rng) if digit is not None else None
    for attempt in range(200):
        ratio = _pick(rng, (1.414, 1.294, _u(rng, 1.0, 1.3)), p=(0.5, 0.3, 0.2))
        cover = _u(rng, 0.35, 0.95)
        theta = _u(rng, -25, 25)
        sw = math.sqrt(cover * W * H / ratio)
        sh = sw * ratio
        if _chance(rng, 0.25):
            sw, sh = sh, sw
        t = math.radians(theta)
        bw = sw * abs(math.cos(t)) + sh * abs(math.sin(t))
        bh = sw * abs(math.sin(t)) + sh * abs(math.cos(t))
        cut_axes = set()
        if want_cut:
            cut_axes = {_pick(rng, "xy")} if want_cut == 1 else {"x", "y"}
        centre = []
        for axis, extent, frame in (("x", bw, W), ("y", bh, H)):
            if axis in cut_axes:
                over = _u(rng, 0.05, 0.35) * extent
                lowside = _chance(rng, 0.5)
                c = extent / 2 - over if lowside else frame - extent / 2 + over
            elif extent < frame:
                c = _u(rng, extent / 2, frame - extent / 2)
            else:
                c = frame / 2 + _u(rng, -0.1, 0.1) * frame
            centre.append(c)
        pts = _rect_corners(centre[0], centre[1], sw, sh, theta)
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        cuts = (min(xs) < 0) + (max(xs) > W) + (min(ys) < 0) + (max(ys) > H)
        if cuts != want_cut and attempt < 150:
            continue
        small = _poly_mask(sh_, sw_, [(x * sf, y * sf) for x, y in pts], soft=0)
        visible = float(small.mean())
        if not 0.35 <= visible <= 0.95 and attempt < 150:
            continue
        sheet = _poly_mask(H, W, pts, soft=_u(rng, 0.5, 1.2) * max(1.0, long / 1500))
        if digit is None:
            break
        dh = _u(rng, 0.08, 0.35) * H
        # The photographer lines up with the writing, not with the sheet: the digit is
        # nearly upright in the frame, turned a little towards the sheet's angle.
        tilt = -theta * _u(rng, 0, 0.35) + float(rng.normal(0, 4))
        pos = None
        for _shrink in range(4):
            ink = digit_ink(digit, dh, rng, pen, tilt)
            pos = _place_in_mask(rng, sheet, *ink.shape, margin=int(0.02 * long) + 2)
            if pos is not None or dh < 0.1 * H:
                break
            dh *= 0.8
        if pos is not None:
            break
    else:  # pragma: no cover - 200 attempts always find a place in practice
        raise RuntimeError("desk: no place for the digit")
    notes += [f"sheet_rot={theta:.0f}", f"cover={visible:.2f}", f"cut={cuts}"]

    canvas = _surface(H, W, rng, surface)
    # Drop shadow of the sheet on the desk, offset away from the light.
    off = _u(rng, 0.003, 0.02) * long
    ang = _u(rng, 0, 2 * math.pi)
    spts = [(x + off * math.cos(ang), y + off * math.sin(ang)) for x, y in pts]
    shadow = _blur_mask(_poly_mask(H, W, spts, soft=0), _u(rng, 0.004, 0.025) * long)
    shadow *= F32(-_u(rng, 0.2, 0.6))
    shadow += 1
    shadow *= 1 - sheet
    canvas *= shadow
    paper = _paper(rng, cream_p=0.15)
    tex = _paper_texture(H, W, rng, _u(rng, 0.002, 0.01))
    tex *= sheet
    for c in range(3):
        canvas[c] += tex * paper[c]
    del tex, shadow
    avoid = (0, 0, 0, 0)
    if digit is not None:
        top, left = pos
        _paint(canvas, ink, top, left, pen.rgb)
        avoid = (top - 0.05 * long, left - 0.05 * long, top + ink.shape[0] + 0.05 * long,
                 left + ink.shape[1] + 0.05 * long)
        notes.append(_pen_notes(pen, ink.shape[0], H, tilt))
    if _chance(rng, 0.15) and _pen_on_desk(canvas, rng, avoid):
        notes.append("pen-on-desk")
    light = _lighting(H, W, rng, _u(rng, 0.05, 0.4), _u(rng, 0, 0.35))
    if _chance(rng, 0.55):
        depth = _u(rng, 0.1, 0.45)
        cast, kind = _cast_shadow(H, W, rng, depth)
        light *= cast
        notes.append(f"shadow={kind}:{depth:.2f}")
    light *= F32(_u(rng, 0.85, 1.12))  # exposure
    canvas *= light
    blur = _u(rng, 0.3, 1.3) * long / 1500 if _chance(rng, 0.5) else 0.0
    img = _finish(canvas, rng, blur=blur, noise=_u(rng, 0.004, 0.03),
                  gain=_jitter(rng, (1, 1, 1), 0.035))
    q = int(rng.integers(60, 93))
    notes.append(f"jpeg={q}")
    return Scene(img, "JPEG", notes, {"quality": q})


def scene_framed(rng, digit: Digit | None) -> Scene:
    """A scan: white page, a dark scanner edge along some sides and/or a frame around."""
    W, H = _frame_size(rng, 600, 1700, (1.414, 1.414, 1.294, _u(rng, 1.0, 1.6)),
                       portrait_p=0.75)
    long = max(W, H)
    gray = _chance(rng, 0.4)
    paper = _paper(rng, cream_p=0.1)
    canvas = _planes(_paper_texture(H, W, rng, _u(rng, 0.001, 0.006)), paper)
    mode = _pick(rng, ("edge", "frame", "both"), p=(0.5, 0.4, 0.1))
    notes = [f"size={W}x{H}", f"mode={mode}", "gray" if gray else "colour"]
    inner = [0, 0, H, W]  # t, l, b, r: the page inside the edges and frames

    if mode in ("edge", "both"):
        n_sides = int(rng.integers(1, 5))
        sides = list(rng.permutation(["top", "bottom", "left", "right"])[:n_sides])
        dark = _u(rng, 0.0, 0.3)
        descr = []
        for side in sides:
            along = W if side in ("top", "bottom") else H
            w0 = math.exp(_u(rng, 0, math.log(60)))  # 1..60 px, mostly thin
            shape = _pick(rng, ("straight", "wedge", "wavy"), p=(0.45, 0.35, 0.2))
            prof = np.full(along, w0, F32)
            if shape == "wedge":  # the page lay tilted on the glass
                w1 = math.exp(_u(rng, 0, math.log(60)))
                prof = np.linspace(w0, w1, along, dtype=F32)
            elif shape == "wavy":
                prof = prof + _noise(1, along, rng, 1, along / _u(rng, 2, 6))[0] * F32(w0 * 0.4)
            prof = np.clip(prof, 0.5, None)
            depth = int(prof.max()) + 2
            shade_d, shade_s = _u(rng, 2, 25), _u(rng, 0, 0.3)
            reach = min(depth + int(5 * shade_d), (H if side in ("top", "bottom") else W))
            x = np.arange(reach, dtype=F32)[None, :]
            strip = np.clip(prof[:, None] - x + 0.5, 0, 1)  # (along, reach) 1 = edge
            page_shade = 1 - F32(shade_s) * np.exp(-np.clip(x - prof[:, None], 0, None)
                                                  / F32(shade_d))
            edge_col = dark * (1 + 0.3 * _noise(along, reach, rng, 8))
            if side == "left":
                view = canvas[:, :, :reach]
            elif side == "right":
                view = canvas[:, :, W - reach:][:, :, ::-1]
            elif side == "top":
                view = canvas[:, :reach, :].transpose(0, 2, 1)
            else:
                view = canvas[:, H - reach:, :][:, ::-1].transpose(0, 2, 1)
            view *= page_shade
            view *= 1 - strip
            view += strip * edge_col
            cover = int(prof.max() + 2 * shade_d * (shade_s > 0.1)) + 3
            if side == "left":
                inner[1] = max(inner[1], cover)
            elif side == "right":
                inner[3] = min(inner[3], W - cover)
            elif side == "top":
                inner[0] = max(inner[0], cover)
            else:
                inner[2] = min(inner[2], H - cover)
            descr.append(f"{side}:{shape}:{w0:.0f}")
        notes.append("edges=" + ",".join(descr))

    if mode in ("frame", "both"):
        style = _pick(rng, ("hairline", "black3", "grey10", "double", "picture", "random"),
                      p=(0.2, 0.2, 0.15, 0.1, 0.2, 0.15))
        inset = int(rng.integers(0, 41)) if _chance(rng, 0.6) else 0
        inset = max(inset, inner[0], inner[1], H - inner[2], W - inner[3])
        bands = []  # (thickness, colour) from the outside in
        if style == "hairline":
            bands = [(1, _u(rng, 0.3, 0.7))]
        elif style == "black3":
            bands = [(3, _u(rng, 0, 0.15))]
        elif style == "grey10":
            bands = [(10, _u(rng, 0.4, 0.7))]
        elif style == "double":
            t1 = int(rng.integers(1, 4))
            bands = [(t1, 0.1), (int(rng.integers(2, 8)), None), (int(rng.integers(1, 3)), 0.1)]
        elif style == "random":
            bands = [(int(rng.integers(1, 15)), _u(rng, 0, 0.7))]
        else:  # a picture frame: moulding with a bevel, maybe a mat, an inner shadow line
            fw = int(_u(rng, 0.04, 0.12) * min(W, H))
            wood = _pick(rng, ((0.25, 0.15, 0.08), (0.05, 0.05, 0.05), (0.7, 0.55, 0.25),
                               (0.9, 0.88, 0.84), (0.45, 0.3, 0.18)))
            prof = 0.7 + 0.5 * np.sin(np.linspace(0.2, 2.9, fw))
            for p in prof:
                bands.append((1, tuple(np.clip(np.asarray(wood) * p, 0, 1))))
            bands.append((max(1, fw // 30), tuple(np.asarray(wood) * 0.5)))
            if _chance(rng, 0.5):
                mw = int(_u(rng, 0.03, 0.08) * min(W, H))
                bands.append((mw, tuple(_paper(rng, 0.5) * 0.97)))
                bands.append((max(1, mw // 25), 0.55))
        d = inset
        for thick, colour in bands:
            if colour is not None:
                rgb = colour if isinstance(colour, tuple) else (colour,) * 3
                _fill_rect(canvas, d, d, d + thick, W - d, rgb)
                _fill_rect(canvas, H - d - thick, d, H - d, W - d, rgb)
                _fill_rect(canvas, d, d, H - d, d + thick, rgb)
                _fill_rect(canvas, d, W - d - thick, H - d, W - d, rgb)
            d += thick
        inner = [max(inner[0], d), max(inner[1], d), min(inner[2], H - d), min(inner[3], W - d)]
        notes.append(f"frame={style}:inset={inset}:width={d - inset}")

    skew = _u(rng, -2, 2) if _chance(rng, 0.25) else 0.0
    if digit is not None:
        pen = _pen(rng, p=(0.3, 0.2, 0.25, 0.15, 0.1))
        ph = inner[2] - inner[0]
        dh = _u(rng, 0.15, 0.5) * H
        tilt = float(rng.normal(0, 4))
        margin = int(0.02 * long) + 2
        ink, pos, dh = _fit_digit("framed", digit, dh, rng, pen, tilt,
                                  lambda h, w: _place_in_rect(rng, inner, h, w, margin=margin),
                                  12, 0.85, cap=0.9 * ph)
        _paint(canvas, ink, pos[0], pos[1], pen.rgb)
        notes.append(_pen_notes(pen, ink.shape[0], H, tilt))
    img = _to_image(canvas)
    if skew:  # the page lay skewed on the glass: the corners show the dark lid
        lid = int(_u(rng, 0, 0.25) * 255)
        img = img.rotate(skew, resample=BICUBIC, expand=False, fillcolor=(lid, lid, lid))
        notes.append(f"skew={skew:.1f}")
    canvas = _from_image(img)
    img = _finish(canvas, rng, blur=_u(rng, 0, 0.7), noise=_u(rng, 0.0, 0.012), chroma=0.2,
                  gray=gray)
    return _jpeg_or_png(rng, img, notes, 0.45)


# Title-bar and status-bar texts (the menu's words too): letters; the status bar may add
# numbers, as real ones do (coordinates, zoom).
TITLES = ("Untitled - Paint", "untitled.png - Paint", "Whiteboard", "Sketchpad",
          "drawing - Krita", "Canvas", "New Image", "Doodle", "Notes - Draw", "Paint",
          "Scribble", "Board - Shared", "Image Editor", "sketch")
MENUS = ("File", "Edit", "View", "Image", "Colors", "Layers", "Tools", "Help", "Insert",
         "Format", "Window")


@functools.lru_cache(maxsize=64)
def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, AttributeError, OSError):  # Pillow without FreeType
        return ImageFont.load_default()


def _text(draw, rng, xy, text, size, fill, blobs=False):
    """Text (or text-like blobs) at xy; returns its width."""
    x, y = xy
    if not blobs:
        draw.text((x, y), text, font=_font(max(6, int(size))), fill=fill)
        return draw.textlength(text, font=_font(max(6, int(size))))
    w0 = x
    for word in text.split():
        ww = len(word) * size * _u(rng, 0.45, 0.6)
        draw.rounded_rectangle((x, y + size * 0.2, x + ww, y + size * 0.9), radius=size * 0.2,
                               fill=fill)
        x += ww + size * 0.4
    return x - w0


def _icon(draw, rng, box, fg, bg):
    """A random toolbar glyph inside box = (l, t, r, b)."""
    l, t, r, b = box
    s = r - l
    kind = _pick(rng, ("square", "outline", "circle", "line", "triangle", "letter", "pencil",
                       "bucket", "dots"))
    p = s * 0.2
    if kind == "square":
        draw.rectangle((l + p, t + p, r - p, b - p), fill=fg)
    elif kind == "outline":
        draw.rectangle((l + p, t + p, r - p, b - p), outline=fg, width=max(1, int(s / 12)))
    elif kind == "circle":
        draw.ellipse((l + p, t + p, r - p, b - p), outline=fg, width=max(1, int(s / 10)))
    elif kind == "line":
        draw.line((l + p, b - p, r - p, t + p), fill=fg, width=max(1, int(s / 10)))
    elif kind == "triangle":
        draw.polygon([(l + s / 2, t + p), (r - p, b - p), (l + p, b - p)], fill=fg)
    elif kind == "letter":
        draw.text((l + p, t + p * 0.5), _pick(rng, ("A", "T", "a")), font=_font(max(6, int(s * 0.7))),
                  fill=fg)
    elif kind == "pencil":
        draw.line((l + p, b - p, r - p, t + p), fill=fg, width=max(2, int(s / 6)))
        draw.polygon([(l + p, b - p), (l + p * 1.8, b - p), (l + p, b - p * 1.8)], fill=bg)
    elif kind == "bucket":
        draw.polygon([(l + p, t + s * 0.45), (l + s * 0.5, t + p), (r - p, t + s * 0.45),
                      (l + s * 0.5, b - p)], outline=fg, width=max(1, int(s / 12)))
    else:
        for i in range(3):
            cx = l + p + i * (s - 2 * p) / 2
            draw.ellipse((cx - s / 14, t + s / 2 - s / 14, cx + s / 14, t + s / 2 + s / 14),
                         fill=fg)


def _rgb255(c):
    return tuple(round(255 * float(v)) for v in c)


def scene_screenshot(rng, digit: Digit | None) -> Scene:
    """A screenshot of a paint or whiteboard app with the digit drawn on its canvas."""
    full_w = int(rng.integers(500, 1601))
    full_h = int(full_w * (_u(rng, 0.55, 1.0) if _chance(rng, 0.85) else _u(rng, 1.0, 1.4)))
    # Sometimes the screenshot is a region of the screen: the window on the desktop.
    m = int(_u(rng, 20, 120)) if _chance(rng, 0.15) else 0
    W, H = full_w - 2 * m, full_h - 2 * m
    ui = _u(rng, 0.9, 1.6) * (1 if W > 700 else 0.9)
    notes = [f"size={full_w}x{full_h}", f"ui={ui:.2f}"]
    # The window: drawn with ImageDraw, then the digit painted onto its canvas.
    workspace = _jitter(rng, _pick(rng, ((0.75, 0.75, 0.75), (0.6, 0.63, 0.7), (0.5, 0.5, 0.52),
                                         (0.85, 0.87, 0.9), (0.2, 0.2, 0.22))), 0.04)
    img = Image.new("RGB", (W, H), _rgb255(workspace))
    draw = ImageDraw.Draw(img)
    blobs = _chance(rng, 0.35)
    theme = _pick(rng, ("dark", "coloured", "light"), p=(0.35, 0.3, 0.35))
    th = round(_u(rng, 22, 36) * ui)
    if theme == "dark":
        bar = _jitter(rng, (0.17, 0.17, 0.19), 0.2)
        bar_fg = (0.92, 0.92, 0.92)
    elif theme == "coloured":
        bar = _jitter(rng, _pick(rng, ((0.1, 0.35, 0.7), (0.0, 0.47, 0.5), (0.35, 0.2, 0.55),
                                       (0.15, 0.45, 0.25), (0.6, 0.15, 0.2))), 0.1)
        bar_fg = (1, 1, 1)
    else:
        bar = _jitter(rng, (0.88, 0.88, 0.9), 0.03)
        bar_fg = (0.15, 0.15, 0.15)
    draw.rectangle((0, 0, W, th), fill=_rgb255(bar))
    title = _pick(rng, TITLES)
    mac = _chance(rng, 0.45)
    fs = th * _u(rng, 0.42, 0.55)
    tx = W / 2 - len(title) * fs * 0.27 if _chance(rng, 0.5) else (th * 3.5 if mac else th * 1.2)
    if not mac and _chance(rng, 0.7):  # an app icon before the title
        draw.rounded_rectangle((th * 0.25, th * 0.25, th * 0.75, th * 0.75), radius=th * 0.1,
                               fill=_rgb255(_jitter(rng, rng.uniform(0.2, 0.9, 3), 0)))
    _text(draw, rng, (tx, (th - fs) / 2 - fs * 0.1), title, fs, _rgb255(bar_fg), blobs)
    r = th * 0.22
    if mac:
        grey = _chance(rng, 0.2)
        for i, c in enumerate(((0.99, 0.37, 0.34), (1.0, 0.74, 0.18), (0.16, 0.79, 0.25))):
            cx = th * 0.6 + i * th * 0.75
            col = (0.75, 0.75, 0.75) if grey else c
            draw.ellipse((cx - r, th / 2 - r, cx + r, th / 2 + r), fill=_rgb255(col))
    else:
        bw = th * 1.5
        for i in range(3):
            x0 = W - (3 - i) * bw
            cx, cy, g = x0 + bw / 2, th / 2, th * 0.18
            fg = _rgb255(bar_fg)
            if i == 2 and _chance(rng, 0.3):
                draw.rectangle((x0, 0, x0 + bw, th), fill=(232, 17, 35))
                fg = (255, 255, 255)
            if i == 0:
                draw.line((cx - g, cy, cx + g, cy), fill=fg, width=max(1, int(ui)))
            elif i == 1:
                draw.rectangle((cx - g, cy - g, cx + g, cy + g), outline=fg, width=max(1, int(ui)))
            else:
                draw.line((cx - g, cy - g, cx + g, cy + g), fill=fg, width=max(1, int(ui)))
                draw.line((cx - g, cy + g, cx + g, cy - g), fill=fg, width=max(1, int(ui)))
    y = th
    panel = _jitter(rng, _pick(rng, ((0.94, 0.94, 0.94), (0.9, 0.91, 0.93), (0.97, 0.97, 0.97),
                                     (0.24, 0.24, 0.26))), 0.02)
    panel_fg = (0.15, 0.15, 0.17) if panel.mean() > 0.5 else (0.85, 0.85, 0.87)
    parts = []
    if _chance(rng, 0.5):  # menu bar
        mh = round(_u(rng, 18, 26) * ui)
        draw.rectangle((0, y, W, y + mh), fill=_rgb255(panel))
        x = mh * 0.5
        for word in rng.permutation(MENUS)[:int(rng.integers(3, 8))]:
            x += _text(draw, rng, (x, y + mh * 0.2), str(word), mh * 0.55, _rgb255(panel_fg),
                       blobs) + mh * 0.8
        y += mh
        parts.append("menu")
    if _chance(rng, 0.75):  # toolbar
        tb = round(_u(rng, 28, 56) * ui)
        draw.rectangle((0, y, W, y + tb), fill=_rgb255(panel * 0.97))
        draw.line((0, y + tb - 1, W, y + tb - 1), fill=_rgb255(panel * 0.8))
        x = tb * 0.3
        s = tb * _u(rng, 0.55, 0.75)
        swatches = _chance(rng, 0.45)
        limit = W * (0.6 if swatches else 0.95)
        while x + s < limit:
            if _chance(rng, 0.12):  # a separator
                draw.line((x + s * 0.2, y + tb * 0.2, x + s * 0.2, y + tb * 0.8),
                          fill=_rgb255(panel * 0.75))
                x += s * 0.5
                continue
            _icon(draw, rng, (x, y + (tb - s) / 2, x + s, y + (tb + s) / 2), _rgb255(panel_fg),
                  _rgb255(panel))
            x += s * _u(rng, 1.15, 1.5)
        if swatches:  # the colour palette, black among the colours
            ss = tb * 0.36
            cols = int(rng.integers(6, 15))
            x0 = W - cols * ss * 1.15 - tb * 0.4
            palette = [(0, 0, 0), (1, 1, 1)] + [tuple(rng.uniform(0, 1, 3)) for _ in range(2 * cols)]
            for i in range(2 * cols):
                cx = x0 + (i % cols) * ss * 1.15
                cy = y + tb * 0.1 + (i // cols) * ss * 1.2
                draw.rectangle((cx, cy, cx + ss, cy + ss), fill=_rgb255(palette[i]),
                               outline=_rgb255(panel * 0.6))
        y += tb
        parts.append("toolbar" + ("+swatches" if swatches else ""))
    bottom = H
    if _chance(rng, 0.5):  # status bar
        sb = round(_u(rng, 18, 28) * ui)
        bottom = H - sb
        draw.rectangle((0, bottom, W, H), fill=_rgb255(panel))
        draw.line((0, bottom, W, bottom), fill=_rgb255(panel * 0.8))
        texts = ["Ready", "Zoom", "Brush", "Layer"]
        if _chance(rng, 0.5):
            texts += [f"{rng.integers(0, W)}, {rng.integers(0, H)}px", f"{rng.integers(25, 400)}%",
                      f"{W} x {H}"]
        x = sb * 0.5
        for word in rng.permutation(texts)[:int(rng.integers(1, 4))]:
            x += _text(draw, rng, (x, bottom + sb * 0.2), str(word), sb * 0.55,
                       _rgb255(panel_fg), blobs) + sb * 2
        parts.append("status")
    left = 0
    if _chance(rng, 0.4):  # tool palette
        lp = round(_u(rng, 36, 80) * ui)
        draw.rectangle((0, y, lp, bottom), fill=_rgb255(panel * 0.98))
        draw.line((lp - 1, y, lp - 1, bottom), fill=_rgb255(panel * 0.8))
        ncol = 2 if lp > 56 * ui else 1
        s = lp / ncol * 0.7
        yy = y + s * 0.3
        while yy + s < bottom - s and yy < y + (bottom - y) * _u(rng, 0.4, 1.0):
            for c in range(ncol):
                xx = (c + 0.15) * lp / ncol
                _icon(draw, rng, (xx, yy, xx + s, yy + s), _rgb255(panel_fg), _rgb255(panel))
            yy += s * 1.3
        left = lp
        parts.append("palette")
    right = W
    if _chance(rng, 0.3):  # scroll bars
        sw = round(_u(rng, 10, 17) * ui)
        draw.rectangle((W - sw, y, W, bottom), fill=_rgb255(panel * 0.95))
        t0 = y + _u(rng, 0, 0.5) * (bottom - y)
        draw.rounded_rectangle((W - sw + 2, t0, W - 2, t0 + _u(rng, 0.1, 0.5) * (bottom - y)),
                               radius=sw / 3, fill=_rgb255(panel * 0.7))
        right = W - sw
        parts.append("scroll")
    # The canvas: the whole work area, or a white page in the grey workspace.
    area = (y, left, bottom, right)
    if _chance(rng, 0.55):
        canvas_rect = area
        parts.append("canvas=full")
    else:
        ah, aw = bottom - y, right - left
        ch, cw = int(ah * _u(rng, 0.55, 0.95)), int(aw * _u(rng, 0.4, 0.95))
        ct = y + int(rng.integers(2, max(3, ah - ch - 1)))
        cl = left + (int(rng.integers(2, max(3, aw - cw - 1))) if _chance(rng, 0.5)
                     else (aw - cw) // 2)
        if _chance(rng, 0.6):
            draw.rectangle((cl + 3, ct + 3, cl + cw + 3, ct + ch + 3),
                           fill=_rgb255(workspace * 0.8))
        canvas_rect = (ct, cl, ct + ch, cl + cw)
        parts.append("canvas=page")
    white = 1.0 if _chance(rng, 0.8) else _u(rng, 0.95, 1.0)
    ct, cl, cb, cr = canvas_rect
    draw.rectangle((cl, ct, cr - 1, cb - 1), fill=_rgb255((white,) * 3))
    notes.append("ui=" + "+".join(parts))
    notes.append(f"titlebar={theme}{'-mac' if mac else ''}")
    arr = _from_image(img)
    avoid = None
    if digit is not None:
        brush = _brush(rng)
        chh, cww = cb - ct, cr - cl
        dh = _u(rng, 0.25, 0.85) * chh
        tilt = float(rng.normal(0, 3))
        margin = int(0.02 * min(chh, cww)) + 1
        ink, pos, dh = _fit_digit("screenshot", digit, dh, rng, brush, tilt,
                                  lambda h, w: _place_in_rect(rng, canvas_rect, h, w, margin),
                                  15, 0.85)
        _paint(arr, ink, pos[0], pos[1], brush.rgb)
        avoid = (pos[0], pos[1], pos[0] + ink.shape[0], pos[1] + ink.shape[1])
        notes.append(f"brush={brush.describe()}:{_rgb255(brush.rgb)} "
                     f"digit_h={ink.shape[0] / chh:.2f} "
                     f"tilt={tilt:.0f}")
    img = _to_image(arr)
    if _chance(rng, 0.2):  # the mouse cursor, off the digit
        s = _u(rng, 14, 24) * ui
        for _ in range(20):
            x, y0 = _u(rng, cl, cr - s), _u(rng, ct, cb - s)
            if avoid is None or not (avoid[0] - s < y0 < avoid[2] and avoid[1] - s < x < avoid[3]):
                d2 = ImageDraw.Draw(img)
                arrow = [(x, y0), (x, y0 + s), (x + s * 0.28, y0 + s * 0.75), (x + s * 0.45, y0 + s * 1.05),
                         (x + s * 0.58, y0 + s), (x + s * 0.42, y0 + s * 0.7), (x + s * 0.72, y0 + s * 0.7)]
                d2.polygon(arrow, fill=(0, 0, 0), outline=(255, 255, 255))
                notes.append("cursor")
                break
    if m:  # the window on the desktop, with its shadow
        c0, c1 = rng.uniform(0.1, 0.8, 3).astype(F32), rng.uniform(0.1, 0.8, 3).astype(F32)
        g = np.linspace(0, 1, H + 2 * m, dtype=F32)[None, :, None]
        desk = np.repeat(c0[:, None, None] * (1 - g) + c1[:, None, None] * g, W + 2 * m, axis=2)
        shadow = np.zeros((H + 2 * m, W + 2 * m), F32)
        shadow[m + 4:m + H + 4, m:m + W] = 1
        desk *= 1 - F32(0.5) * _blur_mask(shadow, 8)
        desk[:, m:m + H, m:m + W] = _from_image(img)
        img = _to_image(desk)
        notes.append(f"desktop={m}")
    return Scene(img, "PNG", notes, {"compress_level": 3})


NOTE_COLOURS = ((1.0, 0.93, 0.45), (1.0, 0.62, 0.76), (0.7, 0.95, 0.55), (0.55, 0.8, 1.0),
                (1.0, 0.75, 0.4), (0.98, 0.98, 0.7))


def scene_sticky(rng, digit: Digit | None) -> Scene:
    """A sticky note, slightly curled, on a desk, monitor, wall or grey surface."""
    W, H = _frame_size(rng, 300, 900, (4 / 3, 1.0, 3 / 2, 16 / 9), portrait_p=0.4)
    long, short = max(W, H), min(W, H)
    bg = _pick(rng, ("wood", "monitor", "wall", "grey", "dark", "fabric", "coloured"),
               p=(0.25, 0.2, 0.2, 0.12, 0.08, 0.07, 0.08))
    canvas = _surface(H, W, rng, bg)
    notes = [f"size={W}x{H}", f"background={bg}"]

    def note(side, theta, cx, cy, colour):
        pts = _rect_corners(cx, cy, side, side, theta)
        t = math.radians(theta)
        down = (-math.sin(t), math.cos(t))  # the note's "down" on screen
        curl = _u(rng, 0.01, 0.06) * side
        # The bottom edge lifts: its shadow reaches further down and out.
        spts = [pts[0], pts[1],
                (pts[2][0] + down[0] * curl * 2 + curl * 0.6, pts[2][1] + down[1] * curl * 2),
                (pts[3][0] + down[0] * curl * 2 - curl * 0.6, pts[3][1] + down[1] * curl * 2)]
        off = _u(rng, 0.005, 0.02) * side
        spts = [(x + off, y + off) for x, y in spts]
        shadow = _blur_mask(_poly_mask(H, W, spts, soft=0), _u(rng, 0.015, 0.05) * side)
        canvas[:] *= 1 - F32(_u(rng, 0.25, 0.55)) * shadow
        mask = _poly_mask(H, W, pts, soft=0.7)
        yy = np.arange(H, dtype=F32)[:, None]
        xx = np.arange(W, dtype=F32)[None, :]
        v = ((xx - F32(cx)) * F32(-math.sin(t)) + (yy - F32(cy)) * F32(math.cos(t))) / F32(side)
        v = np.clip(v + F32(0.5), 0, 1)  # 0 at the top edge, 1 at the bottom
        ramp = np.clip((v - F32(0.6)) / F32(0.4), 0, 1)
        shade = 1 - F32(_u(rng, -0.05, 0.18)) * ramp * ramp  # the curl: darker (or shinier)
        strip = _u(rng, 0.12, 0.25)
        shade = shade * np.where(v < strip, F32(_u(rng, 0.98, 1.04)), F32(1))
        shade = shade * (1 + F32(0.015) * _noise(H, W, rng, 30))
        canvas[:] *= 1 - mask
        shade *= mask
        for c in range(3):
            canvas[c] += shade * F32(colour[c])
        return mask

    if _chance(rng, 0.15):  # a second, empty note, partly out of the frame
        side2 = _u(rng, 0.3, 0.7) * short
        note(side2, _u(rng, -15, 15), _u(rng, -0.1, 1.1) * W, _pick(rng, (-0.1, 1.1)) * H,
             _jitter(rng, _pick(rng, NOTE_COLOURS), 0.05))
        notes.append("second-note")
    side = _u(rng, 0.3, 0.8) * short
    theta = _u(rng, -12, 12)
    ext = side * (abs(math.cos(math.radians(theta))) + abs(math.sin(math.radians(theta))))
    cx = _u(rng, ext / 2, W - ext / 2) if ext < W else W / 2
    cy = _u(rng, ext / 2, H - ext / 2) if ext < H else H / 2
    colour = _jitter(rng, _pick(rng, NOTE_COLOURS), 0.04)
    mask = note(side, theta, cx, cy, colour)
    notes.append(f"note={side / short:.2f} rot={theta:.0f}")
    if digit is not None:
        pen = _pen(rng, p=(0.25, 0.12, 0.18, 0.08, 0.37))
        dh = _u(rng, 0.35, 0.75) * side
        tilt = -theta + float(rng.normal(0, 5))
        margin = int(0.03 * side) + 1
        ink, pos, dh = _fit_digit("sticky", digit, dh, rng, pen, tilt,
                                  lambda h, w: _place_in_mask(rng, mask, h, w, margin=margin),
                                  12, 0.88)
        _paint(canvas, ink, pos[0], pos[1], pen.rgb)
        notes.append(_pen_notes(pen, ink.shape[0], H, tilt) + f" of_note={dh / side:.2f}")
    light = _lighting(H, W, rng, _u(rng, 0.05, 0.35), _u(rng, 0, 0.3))
    if _chance(rng, 0.3):
        cast, kind = _cast_shadow(H, W, rng, _u(rng, 0.1, 0.35))
        light *= cast
        notes.append(f"shadow={kind}")
    canvas *= light * F32(_u(rng, 0.85, 1.1))
    img = _finish(canvas, rng, blur=_u(rng, 0, 1.0) * long / 700, noise=_u(rng, 0.004, 0.03),
                  gain=_jitter(rng, (1, 1, 1), 0.03))
    q = int(rng.integers(60, 93))
    notes.append(f"jpeg={q}")
    return Scene(img, "JPEG", notes, {"quality": q})


def _lines_1d(coord: np.ndarray, period: float, offset: float, thick: float) -> np.ndarray:
    """Anti-aliased lines ``thick`` px wide every ``period`` px along ``coord``: 0..1."""
    t = (coord - F32(offset)) * F32(1 / period)
    t -= np.rint(t)
    np.abs(t, out=t)
    t *= F32(-period)
    t += F32(thick / 2 + 0.5)  # (thick / 2 + 0.5) - distance to the nearest line
    return np.clip(t, 0, 1, out=t)


def _page_coords(H, W, angle):
    """Page coordinates (y', x') of every pixel, for a page turned ``angle`` degrees."""
    t = math.radians(angle)
    yy = np.arange(H, dtype=F32)[:, None] - F32(H / 2)
    xx = np.arange(W, dtype=F32)[None, :] - F32(W / 2)
    yr = yy * F32(math.cos(t)) - xx * F32(math.sin(t)) + F32(H / 2)
    xr = xx * F32(math.cos(t)) + yy * F32(math.sin(t)) + F32(W / 2)
    return yr, xr


def _line_paper(rng, digit, kind) -> Scene:
    """Ruled or squared paper, a flat scan or a mild photo."""
    photo = _chance(rng, 0.5)
    if kind == "ruled":
        s = _u(rng, 20, 40)
        dh = _u(rng, 2, 4) * s
    else:
        s = _u(rng, 12, 30)
        dh = _u(rng, 3, 8) * s
    lo, hi = max(600.0, dh / 0.5), min(1700.0, dh / 0.07)
    long = _u(rng, lo, max(lo, hi))
    aspect = _pick(rng, (1.414, 1.294, 4 / 3, _u(rng, 1.0, 1.6)))
    if _chance(rng, 0.65):
        W, H = int(long / aspect), int(long)
    else:
        W, H = int(long), int(long / aspect)
    dh = min(dh, 0.8 * H)
    angle = _u(rng, -2.5, 2.5) if photo else _u(rng, -0.6, 0.6)
    notes = [f"size={W}x{H}", "photo" if photo else "scan", f"spacing={s:.1f}",
             f"angle={angle:.1f}"]
    paper = _paper(rng, cream_p=0.35)
    canvas = _planes(_paper_texture(H, W, rng, _u(rng, 0.003, 0.012)), paper)
    yr, xr = _page_coords(H, W, angle)
    colour = _jitter(rng, _pick(rng, ((0.55, 0.72, 0.92), (0.65, 0.8, 0.95), (0.6, 0.65, 0.72),
                                      (0.55, 0.78, 0.6), (0.45, 0.62, 0.88))), 0.05)
    strength = _u(rng, 0.45, 1.0)
    area = [0, 0, H, W]  # where the digit may go
    if kind == "ruled":
        thick = _u(rng, 1, 3)
        header = _chance(rng, 0.4)
        top = _u(rng, 0.06, 0.16) * H if header else 0.0
        lines = _lines_1d(yr, s, _u(rng, 0, s), thick) * (yr > F32(top + s * 0.5))
        notes.append(f"ruling={thick:.1f}px")
        if header:
            hl = np.clip(F32(_u(rng, 1.5, 4) / 2 + 0.5) - np.abs(yr - F32(top)), 0, 1)
            lines = np.maximum(lines, hl)
            notes.append("header")
        alpha = lines * F32(strength)
        _paint(canvas, alpha, 0, 0, colour)
        if _chance(rng, 0.55):  # the margin line
            xm = _u(rng, 0.08, 0.2) * W
            red = _jitter(rng, _pick(rng, ((0.9, 0.4, 0.45), (0.95, 0.6, 0.7), (0.8, 0.2, 0.25))), 0.05)
            mw = _u(rng, 1, 2.2)
            ml = np.clip(F32(mw / 2 + 0.5) - np.abs(xr - F32(xm)), 0, 1)
            if _chance(rng, 0.3):
                ml = np.maximum(ml, np.clip(F32(mw / 2 + 0.5) - np.abs(xr - F32(xm + _u(rng, 3, 6))), 0, 1))
            ml *= F32(_u(rng, 0.5, 1.0))
            _paint(canvas, ml, 0, 0, red)
            area[1] = int(xm) + 4 if _chance(rng, 0.7) else 0
            notes.append("margin")
        if _chance(rng, 0.15):  # punched holes: the desk shows through
            hx, r = _u(rng, 0.025, 0.05) * W, _u(rng, 0.012, 0.02) * long
            behind = _jitter(rng, rng.uniform(0.1, 0.6, 1).repeat(3), 0.05)
            for hy in np.linspace(0.2, 0.8, int(rng.integers(2, 4))) * H:
                t0, b0, l0, r0 = int(hy - r - 2), int(hy + r + 3), int(hx - r - 2), int(hx + r + 3)
                yy = np.arange(t0, b0, dtype=F32)[:, None]
                xx = np.arange(l0, r0, dtype=F32)[None, :]
                hole = np.clip(F32(r) - np.sqrt((yy - F32(hy)) ** 2 + (xx - F32(hx)) ** 2) + 0.5, 0, 1)
                _paint(canvas, hole, t0, l0, behind)
            area[1] = max(area[1], int(hx + r + 4))
            notes.append("holes")
    else:
        thick = _u(rng, 0.8, 2.0)
        off_y, off_x = _u(rng, 0, s), _u(rng, 0, s)
        lines = np.maximum(_lines_1d(yr, s, off_y, thick), _lines_1d(xr, s, off_x, thick))
        lines *= F32(strength)
        notes.append(f"grid={thick:.1f}px")
        if _chance(rng, 0.35):  # darker, thicker every fifth line
            major = np.maximum(_lines_1d(yr, 5 * s, off_y, thick * 1.6),
                               _lines_1d(xr, 5 * s, off_x, thick * 1.6))
            lines = np.maximum(lines, major * F32(min(1.0, strength * 1.5)))
            notes.append("major5")
        if _chance(rng, 0.3):  # the grid printed inside a margin
            mt, mb = _u(rng, 0.03, 0.1) * H, _u(rng, 0.03, 0.08) * H
            ml, mr = _u(rng, 0.03, 0.1) * W, _u(rng, 0.03, 0.08) * W
            inside = ((yr > F32(mt)) & (yr < F32(H - mb)) & (xr > F32(ml))
                      & (xr < F32(W - mr))).astype(F32)
            lines *= inside
            notes.append("grid-margin")
        _paint(canvas, lines, 0, 0, colour)
    del yr, xr
    if digit is not None:
        pen = _pen(rng)
        tilt = float(rng.normal(0, 4)) - angle
        margin = int(0.02 * long) + 2
        ink, pos, dh = _fit_digit(kind, digit, dh, rng, pen, tilt,
                                  lambda h, w: _place_in_rect(rng, area, h, w, margin=margin),
                                  10, 0.88)
        top, left = pos
        if kind == "ruled" and _chance(rng, 0.6):
            # Written on a line: the digit's foot on a ruling (near enough).
            foot = top + ink.shape[0]
            foot = round((foot - s / 2) / s) * s + s / 2
            top = int(min(max(foot - ink.shape[0], 0), H - ink.shape[0]))
        _paint(canvas, ink, top, left, pen.rgb)
        notes.append(_pen_notes(pen, ink.shape[0], H, tilt) + f" cells={ink.shape[0] / s:.1f}")
    if photo:
        light = _lighting(H, W, rng, _u(rng, 0.02, 0.15), _u(rng, 0, 0.15))
        canvas *= light * F32(_u(rng, 0.9, 1.08))
        img = _finish(canvas, rng, blur=_u(rng, 0, 1.0), noise=_u(rng, 0.004, 0.02),
                      gain=_jitter(rng, (1, 1, 1), 0.02))
        return _jpeg_or_png(rng, img, notes, 0.85)
    img = _finish(canvas, rng, blur=_u(rng, 0, 0.5), noise=_u(rng, 0, 0.008), chroma=0.2)
    return _jpeg_or_png(rng, img, notes, 0.3)


def scene_ruled(rng, digit):
    """Lined paper: a digit across two to four rulings."""
    return _line_paper(rng, digit, "ruled")


def scene_squared(rng, digit):
    """Squared (graph) paper: a digit several squares tall."""
    return _line_paper(rng, digit, "squared")


def _overlaps(box, t, l, b, r) -> bool:
    return box is not None and not (b < box[0] or t > box[2] or r < box[1] or l > box[3])


def _dirt(canvas, rng, avoid, n_specks, scratches=True, ring=True) -> list:
    """Dust specks, hairline scratches and a coffee ring, none within ``avoid``."""
    H, W = canvas.shape[1:]
    long = max(H, W)
    notes = []
    placed = 0
    clusters = [(rng.uniform(0, H), rng.uniform(0, W)) for _ in range(int(rng.integers(1, 4)))]
    clustered = _chance(rng, 0.3)
    dust = _jitter(rng, _pick(rng, ((0.2, 0.2, 0.2), (0.3, 0.25, 0.2), (0.1, 0.1, 0.12))), 0.1)
    for _ in range(n_specks * 4):
        if placed >= n_specks:
            break
        if clustered and _chance(rng, 0.7):
            cy, cx = clusters[int(rng.integers(len(clusters)))]
            y, x = rng.normal(cy, 0.08 * long), rng.normal(cx, 0.08 * long)
        else:
            y, x = rng.uniform(0, H), rng.uniform(0, W)
        r = _u(rng, 0.5, 2.0)  # 1..4 px across
        if not (0 <= y < H and 0 <= x < W) or _overlaps(avoid, y - r - 2, x - r - 2, y + r + 2,
                                                        x + r + 2):
            continue
        t0, l0 = int(y - r - 1), int(x - r - 1)
        yy = np.arange(t0, int(y + r + 2), dtype=F32)[:, None]
        xx = np.arange(l0, int(x + r + 2), dtype=F32)[None, :]
        elong = _u(rng, 1, 2.5) if _chance(rng, 0.2) else 1.0
        d = np.sqrt(((yy - F32(y)) * F32(elong)) ** 2 + (xx - F32(x)) ** 2)
        dark = _u(rng, 0.7, 1.0) if _chance(rng, 0.25) else _u(rng, 0.15, 0.6)
        _paint(canvas, np.clip(F32(r + 0.5) - d, 0, 1) * F32(dark), t0, l0, dust)
        placed += 1
    notes.append(f"specks={placed}" + ("-clustered" if clustered else ""))
    if scratches:
        n = int(rng.integers(0, 6))
        drawn = 0
        mask = Image.new("L", (W, H), 0)
        draw = ImageDraw.Draw(mask)
        for _ in range(n * 10):
            if drawn >= n:
                break
            length = _u(rng, 0.25, 1.0) * math.hypot(W, H)
            x0, y0 = _u(rng, 0, W), _u(rng, 0, H)
            ang = _u(rng, 0, 2 * math.pi)
            bend = _u(rng, -0.1, 0.1) * length
            tt = np.linspace(0, 1, 60)
            xs = x0 + tt * length * math.cos(ang) - bend * 4 * tt * (1 - tt) * math.sin(ang)
            ys = y0 + tt * length * math.sin(ang) + bend * 4 * tt * (1 - tt) * math.cos(ang)
            if avoid is not None and np.any((ys > avoid[0] - 4) & (ys < avoid[2] + 4)
                                            & (xs > avoid[1] - 4) & (xs < avoid[3] + 4)):
                continue
            level = _u(rng, 0.04, 0.22)
            fade = np.clip(np.sin(np.pi * tt) * _u(rng, 1, 3), 0, 1)
            for i in range(len(tt) - 1):
                draw.line((xs[i], ys[i], xs[i + 1], ys[i + 1]),
                          fill=int(255 * level * fade[i]), width=1)
            drawn += 1
        if drawn:
            a = np.asarray(mask, F32) / 255
            _paint(canvas, a, 0, 0, (0.25, 0.25, 0.27))
            notes.append(f"scratches={drawn}")
    if ring and _chance(rng, 0.3):
        for _ in range(20):
            R = _u(rng, 0.06, 0.22) * min(H, W)
            cy, cx = _u(rng, 0, H), _u(rng, 0, W)
            t0, l0, b0, r0 = int(cy - R - 12), int(cx - R - 12), int(cy + R + 12), int(cx + R + 12)
            if _overlaps(avoid, t0, l0, b0, r0):
                continue
            yy = np.arange(t0, b0, dtype=F32)[:, None]
            xx = np.arange(l0, r0, dtype=F32)[None, :]
            dist = np.sqrt((yy - F32(cy)) ** 2 + (xx - F32(cx)) ** 2)
            width = _u(rng, 1.5, 6)
            ang = np.arctan2(yy - F32(cy), xx - F32(cx))
            uneven = 0.5 + 0.5 * np.sin(ang * F32(rng.integers(1, 4)) + F32(_u(rng, 0, 6)))
            a = np.exp(-(((dist - F32(R)) / F32(width)) ** 2)) * uneven
            a += F32(_u(rng, 0, 0.3)) * (dist < R)  # the faint stain inside
            a *= F32(_u(rng, 0.04, 0.14))
            _paint(canvas, a.astype(F32), t0, l0, (0.55, 0.35, 0.15))
            notes.append(f"coffee-ring={R:.0f}")
            break
    return notes


def scene_specks(rng, digit: Digit | None, variant: str = "dirt") -> Scene:
    """Plain paper with dust, scratches and maybe a coffee ring around the digit; blank
    variants: ``dirt`` (the same, no digit), ``pixel`` (one black pixel on white), ``few``
    (a few specks on clean paper)."""
    W, H = _frame_size(rng, 600, 1700, (1.414, 4 / 3, 1.294, _u(rng, 1.0, 1.6)),
                       portrait_p=0.6)
    long = max(W, H)
    if variant == "pixel":
        a = np.full((H, W), 255, np.uint8)
        a[int(rng.integers(H)), int(rng.integers(W))] = 0
        return Scene(Image.fromarray(a), "PNG", [f"size={W}x{H}", "single-black-pixel"],
                     {"compress_level": 6})
    photo = _chance(rng, 0.35)
    paper = _paper(rng, cream_p=0.2)
    if variant == "few":
        paper = np.ones(3, F32) * _u(rng, 0.95, 1.0)
    canvas = _planes(_paper_texture(H, W, rng, _u(rng, 0.0, 0.01)), paper)
    notes = [f"size={W}x{H}", "photo" if photo else "scan"]
    avoid = None
    if digit is not None:
        pen = _pen(rng)
        dh = _u(rng, 0.12, 0.45) * H
        tilt = float(rng.normal(0, 4))
        margin = int(0.03 * long) + 2
        ink, pos, dh = _fit_digit("specks", digit, dh, rng, pen, tilt,
                                  lambda h, w: _place_in_rect(rng, (0, 0, H, W), h, w, margin),
                                  12, 0.88)
        top, left = pos
        _paint(canvas, ink, top, left, pen.rgb)
        m = int(_u(rng, 0.02, 0.06) * long) + 4
        avoid = (top - m, left - m, top + ink.shape[0] + m, left + ink.shape[1] + m)
        notes.append(_pen_notes(pen, ink.shape[0], H, tilt))
    if variant == "few":
        notes += _dirt(canvas, rng, None, int(rng.integers(1, 6)), scratches=False, ring=False)
        notes.append("few-specks")
    else:
        n = int(math.exp(_u(rng, math.log(5), math.log(250))))
        notes += _dirt(canvas, rng, avoid, n)
    if photo:
        light = _lighting(H, W, rng, _u(rng, 0.02, 0.15), _u(rng, 0, 0.15))
        canvas *= light
        img = _finish(canvas, rng, blur=_u(rng, 0, 0.8), noise=_u(rng, 0.003, 0.015))
        return _jpeg_or_png(rng, img, notes, 0.85)
    img = _finish(canvas, rng, blur=_u(rng, 0, 0.4), noise=_u(rng, 0, 0.006), chroma=0.2)
    return _jpeg_or_png(rng, img, notes, 0.3)


SCENES = {"desk": scene_desk, "framed": scene_framed, "screenshot": scene_screenshot,
          "sticky": scene_sticky, "ruled": scene_ruled, "squared": scene_squared,
          "specks": scene_specks}


# --- making the set ---------------------------------------------------------------------------


def mnist_permutation(seed: int, n: int) -> np.ndarray:
    """The order in which test digits are used: a random permutation drawn from the seed."""
    return np.random.default_rng([seed, 0x5CE9E5]).permutation(n)


def make_scene(kind: str, j: int, blank: bool, seed: int, images, labels, perm):
    """Image ``j`` of ``kind`` (a blank one if ``blank``): (Scene, label, mnist_index).

    Depends only on (seed, kind, j, blank) and the MNIST test set.
    """
    k = KINDS.index(kind)
    rng = np.random.default_rng([seed, k, j, int(blank)])
    if blank:
        if kind == "specks":
            variant = ("pixel", "few", "dirt", "dirt", "dirt")[j % 5]
            scene = scene_specks(rng, None, variant)
        else:
            scene = SCENES[kind](rng, None)
        return scene, "none", ""
    index = int(perm[(j * len(KINDS) + k) % len(perm)])
    scene = SCENES[kind](rng, Digit(images[index].reshape(28, 28), int(labels[index])))
    return scene, str(int(labels[index])), str(index)


_WORKER: dict = {}


def _make_one(task):
    n, kind, j, blank = task
    w = _WORKER
    scene, label, index = make_scene(kind, j, blank, w["seed"], w["images"], w["labels"],
                                     w["perm"])
    ext = "jpg" if scene.fmt == "JPEG" else "png"
    name = f"{n:04d}_{kind}_label{label}.{ext}"
    buf = io.BytesIO()
    scene.image.save(buf, scene.fmt, **scene.save_args)
    (Path(w["outdir"]) / name).write_bytes(buf.getvalue())
    return [name, label, kind, index, " ".join(scene.notes)]


def make(outdir, per_kind=100, blank_per_kind=10, seed=0, mnist_dir=SHARED_MNIST,
         kinds: Sequence[str] = KINDS, jobs=1) -> list:
    """Write the images and ``labels.csv`` into ``outdir``; returns the csv rows."""
    from digitnet.mnist import load_split

    images, labels = load_split(mnist_dir, "test")
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    tasks = []
    for kind in kinds:
        tasks += [(kind, j, False) for j in range(per_kind)]
        tasks += [(kind, j, True) for j in range(blank_per_kind)]
    tasks = [(n, *t) for n, t in enumerate(tasks)]
    _WORKER.update(seed=seed, images=images, labels=labels, outdir=str(out),
                   perm=mnist_permutation(seed, len(images)))
    rows = make_all(_make_one, tasks, jobs, chunksize=4)
    write_labels(out, ["file", "label", "kind", "mnist_index", "notes"], rows)
    return rows


# --- scoring ----------------------------------------------------------------------------------


def score(outdir, weights=("default",), jobs=1, kinds=None, out=sys.stdout) -> list:
    """Classify every image of a ``make`` folder; print the table; return the records."""
    import digitnet
    from digitnet.errors import ImageError

    t_start = time.perf_counter()
    rows = read_labels(outdir)
    if kinds:
        rows = [r for r in rows if r["kind"] in kinds]
    present = [k for k in KINDS if any(r["kind"] == k for r in rows)]
    present += sorted({r["kind"] for r in rows} - set(present))
    paths = [str(Path(outdir) / r["file"]) for r in rows]
    t0 = time.perf_counter()
    loaded = load_all(paths, jobs)
    t_load = time.perf_counter() - t0
    records = []
    for r, x in zip(rows, loaded):
        ok = isinstance(x, np.ndarray)
        records.append({"file": r["file"], "kind": r["kind"], "label": r["label"],
                        "input": x if ok else None, "error": "" if ok else str(x),
                        "refused": isinstance(x, ImageError), "pred": {}})
    good = [rec for rec in records if rec["input"] is not None]
    for spec in weights:
        model = digitnet.load(spec)
        if good:
            for rec, res in zip(good, model.results(np.stack([g["input"] for g in good]))):
                rec["pred"][spec] = (res.digit, res.margin)

    def correct(rec, spec):
        return rec["input"] is not None and str(rec["pred"][spec][0]) == rec["label"]

    head = ["kind", "digits", "refused"] + [f"acc {s}" for s in weights] + \
        ["no-digit", "no-digit refused"]

    def row(name, digits, blanks):
        cells = [name, str(len(digits)), _pct(sum(d["refused"] or d["input"] is None
                                                  for d in digits), len(digits))]
        cells += [_pct(sum(correct(d, s) for d in digits), len(digits)) for s in weights]
        if blanks is None:
            cells += ["", ""]
        else:
            cells += [str(len(blanks)), _pct(sum(b["refused"] for b in blanks), len(blanks))]
        return cells

    digits_all = [r for r in records if r["label"] != "none"]
    blanks_all = [r for r in records if r["label"] == "none"]
    rows = [row(kind, [r for r in digits_all if r["kind"] == kind],
                [r for r in blanks_all if r["kind"] == kind]) for kind in present]
    rows.append(row("**all digits**", digits_all, None))
    rows.append(["**no-digit images refused**", "", ""] + [""] * len(weights) +
                [str(len(blanks_all)), _pct(sum(b["refused"] for b in blanks_all), len(blanks_all))])
    print(f"\n{len(records)} images from {outdir}: {len(digits_all)} digits, "
          f"{len(blanks_all)} with no digit\n", file=out)
    print(md_table(head, rows), file=out)

    for spec in weights:
        fails = []
        for rec in records:
            if rec["label"] == "none":
                if not rec["refused"]:
                    got = (f"got {rec['pred'][spec][0]} (margin {rec['pred'][spec][1]:.2f})"
                           if rec["input"] is not None else f"error: {rec['error']}")
                    fails.append((rec, got))
            elif not correct(rec, spec):
                got = (f"got {rec['pred'][spec][0]} (margin {rec['pred'][spec][1]:.2f})"
                       if rec["input"] is not None else f"error: {rec['error']}")
                fails.append((rec, got))
        # Spread the examples over the kinds (round robin), in file order within a kind.
        by_kind = {k: [f for f in fails if f[0]["kind"] == k] for k in present}
        shown = []
        while len(shown) < 15 and any(by_kind.values()):
            for k in present:
                if by_kind[k] and len(shown) < 15:
                    shown.append(by_kind[k].pop(0))
        print(f"\nexample failures, {spec} ({len(fails)} in all):", file=out)
        for rec, got in shown:
            print(f"- {rec['file']} ({rec['kind']}, label {rec['label']}): {got}", file=out)
    wall = time.perf_counter() - t_start
    print(f"\nwall time {wall:.1f} s (decoding {t_load:.1f} s, "
          f"{1000 * t_load / max(1, len(records)):.0f} ms/image with -j {jobs})", file=out)
    return records


def _kinds_arg(text):
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown kind(s) {', '.join(bad)}; "
                                         f"choose from {', '.join(KINDS)}")
    return kinds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_make = sub.add_parser("make", help="generate the scenes")
    p_make.add_argument("outdir")
    p_make.add_argument("--per-kind", type=int, default=100, help="digits per kind (100)")
    p_make.add_argument("--blank-per-kind", type=int, default=10,
                        help="images with no digit per kind (10)")
    p_make.add_argument("--seed", type=int, default=0)
    p_make.add_argument("--mnist", default=str(SHARED_MNIST),
                        help="folder with the MNIST test files (default ../shared/data/mnist "
                             "beside the repository)")
    p_make.add_argument("--kinds", type=_kinds_arg, default=list(KINDS),
                        help="comma-separated kinds to make (default all)")
    add_make_jobs(p_make)
    p_score = add_score_parser(sub, "run the scenes through digitnet")
    p_score.add_argument("--kinds", type=_kinds_arg, default=None,
                         help="comma-separated kinds to score (default all)")
    args = parser.parse_args(argv)
    if args.command == "make":
        t0 = time.perf_counter()
        rows = make(args.outdir, args.per_kind, args.blank_per_kind, args.seed, args.mnist,
                    args.kinds, args.jobs)
        blanks = sum(r[1] == "none" for r in rows)
        print(f"wrote {len(rows) - blanks} digit and {blanks} no-digit images to "
              f"{args.outdir} in {time.perf_counter() - t0:.1f} s")
    else:
        score(args.outdir, args.weights or ["default"], args.jobs, args.kinds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
