"""A reproducible synthetic set of "real-world" digit images, and a scorer for it.

MNIST digits are white on black, 20 pixels tall, centred by mass in 28x28. What users
hand to ``digitnet`` looks nothing like that: a photo of a digit written on paper, a
paint-program canvas, a screenshot, a transparent PNG. This script makes such images --
from known digits, so that the right answer is known -- to measure how well
``digitnet.batch.load_input`` copes:

    python benchmarks/realworld.py make  OUTDIR [--n 1000] [--seed 0]
    python benchmarks/realworld.py score OUTDIR [--weights default --weights wide]

``make`` writes ``OUTDIR/NNNN_labelD.EXT`` (the true digit is in the name) and
``OUTDIR/labels.csv`` (file, label, category, source, width, height, notes). Every image
is rebuilt identically from (seed, index); the fonts come from the system (DejaVu, as
``fc-list`` shows; without them only hand-drawn digits are made).

Each digit is either *typeset* in one of several fonts or *hand-drawn*: stroke
polylines with jittered control points, smoothed and drawn with a random pen width.
Each image belongs to one headline category (round-robin, so the counts are balanced),
on top of mild shared variation (size, position, small tilt):

==============  =========================================================================
clean           dark ink on white, as from a paint program (PNG)
inverted        light ink on a dark background, MNIST / chalkboard style (PNG)
small           a small digit somewhere in a large canvas
filling         the digit fills the canvas edge to edge
rotated         tilted by up to +-15 degrees
blurred         Gaussian blur (out of focus)
jpeg            JPEG at quality 30..90, with sensor noise
transparent     RGBA PNG, the ink only in the alpha channel (dark or, sometimes, light ink)
photo           phone photo: tinted paper, uneven lighting, shadow, noise, blue/black pen,
                slight blur, saved as JPEG
grey_paper      low-contrast ink on grey paper
specks          dust and dirt specks around the digit
thin            a thin pen line (or the ExtraLight typeface) in a large canvas
formats         GIF, BMP, TIFF, WebP, 16-bit PNG -- some with a misleading extension
==============  =========================================================================

``score`` runs every image through ``digitnet.batch.load_input`` and prints, per
category, how many went through, how long it took, and how MNIST-like the result is
(longest side of the ink box, centre-of-mass distance from (14, 14)). Network accuracy
plugs in through the ``predict`` argument of :func:`score`.

Only numpy and Pillow are needed to *make* the set.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from imageset import read_labels, to_u8, write_labels

CATEGORIES = (
    "clean",
    "inverted",
    "small",
    "filling",
    "rotated",
    "blurred",
    "jpeg",
    "transparent",
    "photo",
    "grey_paper",
    "specks",
    "thin",
    "formats",
)

FONT_DIR = "/usr/share/fonts/truetype/dejavu"
# Styles used for typeset digits: regular, bold, oblique, condensed, mono, serif, light.
FONT_NAMES = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf",
    "DejaVuSans-ExtraLight.ttf",
    "DejaVuSansCondensed.ttf",
    "DejaVuSansCondensed-Bold.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSerifCondensed.ttf",
)

# Glyphs are drawn this tall (pixels) and then scaled to their place in the canvas.
GLYPH_SIZE = 256


def available_fonts() -> list[str]:
    """Paths of the DejaVu fonts present on this system, in a fixed order."""
    found = [os.path.join(FONT_DIR, name) for name in FONT_NAMES]
    return [path for path in found if os.path.isfile(path)]


# --- hand-drawn digits ------------------------------------------------------------------------
# Each digit has one or more *styles*; a style is a list of strokes; a stroke is a list of
# control points (x, y) in a box 0.6 wide and 1.0 tall, y downwards. Strokes are smoothed
# through their control points (Catmull-Rom), so a few points describe a curve.


def _ellipse(cx: float, cy: float, rx: float, ry: float, start: float = -90, n: int = 12):
    """Control points of a closed ellipse, starting at angle `start` (degrees)."""
    angles = np.radians(start + np.arange(n + 1) * 360.0 / n)
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


HAND_STROKES: dict[int, list[list[list[tuple[float, float]]]]] = {
    0: [
        [_ellipse(0.3, 0.5, 0.27, 0.48)],
        [_ellipse(0.3, 0.5, 0.22, 0.47, start=-110)],
    ],
    1: [
        [[(0.3, 0.0), (0.3, 1.0)]],
        [[(0.12, 0.22), (0.34, 0.0), (0.34, 1.0)]],
        [[(0.12, 0.22), (0.34, 0.0), (0.34, 1.0)], [(0.12, 1.0), (0.54, 1.0)]],
    ],
    2: [
        [[(0.05, 0.22), (0.3, 0.0), (0.55, 0.18), (0.48, 0.45), (0.05, 1.0), (0.6, 1.0)]],
        [[(0.08, 0.15), (0.35, 0.0), (0.55, 0.25), (0.3, 0.65), (0.05, 0.98), (0.55, 0.95)]],
    ],
    3: [
        [
            [(0.05, 0.1), (0.3, 0.0), (0.55, 0.15), (0.5, 0.36), (0.25, 0.48)],
            [(0.25, 0.48), (0.55, 0.62), (0.56, 0.85), (0.3, 1.0), (0.03, 0.9)],
        ],
        [[(0.05, 0.05), (0.55, 0.05), (0.25, 0.42), (0.55, 0.62), (0.5, 0.9), (0.25, 1.0), (0.02, 0.88)]],
    ],
    4: [
        [[(0.45, 1.0), (0.45, 0.0), (0.0, 0.66), (0.6, 0.66)]],
        [[(0.1, 0.0), (0.05, 0.6), (0.6, 0.6)], [(0.45, 0.2), (0.45, 1.0)]],
    ],
    5: [
        [[(0.55, 0.0), (0.1, 0.0), (0.07, 0.45), (0.35, 0.38), (0.56, 0.58), (0.52, 0.88), (0.28, 1.0), (0.03, 0.9)]],
        [
            [(0.1, 0.02), (0.07, 0.45), (0.35, 0.38), (0.56, 0.58), (0.52, 0.88), (0.28, 1.0), (0.03, 0.9)],
            [(0.1, 0.02), (0.58, 0.0)],
        ],
    ],
    6: [
        [[(0.5, 0.02), (0.25, 0.2), (0.08, 0.55), (0.1, 0.86), (0.3, 1.0), (0.52, 0.85), (0.5, 0.62), (0.3, 0.52), (0.1, 0.66)]],
    ],
    7: [
        [[(0.0, 0.02), (0.6, 0.0), (0.22, 1.0)]],
        [[(0.0, 0.02), (0.6, 0.0), (0.22, 1.0)], [(0.12, 0.5), (0.52, 0.5)]],
    ],
    8: [
        [_ellipse(0.3, 0.25, 0.22, 0.24, start=90), _ellipse(0.3, 0.73, 0.27, 0.26, start=-90)],
        [[(0.52, 0.1), (0.3, 0.0), (0.08, 0.15), (0.15, 0.38), (0.45, 0.6), (0.55, 0.85), (0.3, 1.0), (0.05, 0.85), (0.15, 0.6), (0.45, 0.38), (0.52, 0.15), (0.52, 0.1)]],
    ],
    9: [
        [_ellipse(0.3, 0.28, 0.26, 0.27, start=0), [(0.56, 0.3), (0.54, 0.65), (0.48, 1.0)]],
        [_ellipse(0.3, 0.28, 0.24, 0.26, start=0), [(0.54, 0.3), (0.3, 1.0)]],
    ],
}


def _catmull_rom(points: np.ndarray, per_segment: int = 8) -> np.ndarray:
    """A smooth curve through the control points (n, 2) -> (m, 2)."""
    if len(points) < 3:
        return points
    p = np.vstack([points[0], points, points[-1]])
    t = np.linspace(0, 1, per_segment, endpoint=False)[:, None]
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(
            0.5
            * (
                2 * p1
                + (-p0 + p2) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3
            )
        )
    out.append(p[-2][None])
    return np.vstack(out)


def hand_glyph(digit: int, rng: np.random.Generator, pen: float) -> np.ndarray:
    """A hand-drawn-looking digit as an ink mask: float32 (H, W), 1 = ink, about 256 tall.

    ``pen`` is the stroke width as a fraction of the digit height (MNIST: ~0.12).
    """
    style = HAND_STROKES[digit][rng.integers(len(HAND_STROKES[digit]))]
    # A random affine "handwriting" distortion: slant, aspect ratio.
    shear = rng.uniform(-0.25, 0.15)
    aspect = rng.uniform(0.8, 1.25)
    size = GLYPH_SIZE
    margin = 0.25 * size
    canvas = Image.new("L", (int(size * 1.2 + 2 * margin), int(size + 2 * margin)), 0)
    draw = ImageDraw.Draw(canvas)
    width = max(1, round(pen * size))
    for stroke in style:
        pts = np.asarray(stroke, dtype=np.float64)
        pts = pts + rng.normal(0, 0.025, pts.shape)  # a hand never repeats itself
        if np.allclose(stroke[0], stroke[-1]):
            pts[-1] = pts[0]  # closed loops stay closed
        curve = _catmull_rom(pts)
        x = (curve[:, 0] * aspect + shear * (1 - curve[:, 1])) * size + margin
        y = curve[:, 1] * size + margin
        xy = list(zip(x.tolist(), y.tolist()))
        draw.line(xy, fill=255, width=width, joint="curve")
        r = width / 2  # round pen caps
        for cx, cy in (xy[0], xy[-1]):
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
    return _crop_mask(np.asarray(canvas, dtype=np.float32) / 255)


def font_glyph(digit: int, font_path: str) -> np.ndarray:
    """A typeset digit as an ink mask: float32 (H, W), 1 = ink, about 256 tall."""
    font = ImageFont.truetype(font_path, GLYPH_SIZE)
    canvas = Image.new("L", (2 * GLYPH_SIZE, 2 * GLYPH_SIZE), 0)
    ImageDraw.Draw(canvas).text((GLYPH_SIZE // 4, GLYPH_SIZE // 4), str(digit), font=font, fill=255)
    return _crop_mask(np.asarray(canvas, dtype=np.float32) / 255)


def _crop_mask(mask: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(mask.max(axis=1) > 0)
    cols = np.flatnonzero(mask.max(axis=0) > 0)
    return mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


# --- scene composition -------------------------------------------------------------------------


@dataclass
class Sample:
    """One generated image and what is known about it."""

    label: int
    category: str
    source: str  # "hand" or the font file name
    image: Image.Image
    fmt: str  # Pillow format name to save with
    ext: str  # file extension (may deliberately not match fmt in "formats")
    save_args: dict = field(default_factory=dict)
    notes: str = ""


def _resize_mask(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    im = Image.fromarray(mask.astype(np.float32))
    return np.array(im.resize((max(1, width), max(1, height)), Image.Resampling.LANCZOS)).clip(0, 1)


def _rotate_mask(mask: np.ndarray, degrees: float) -> np.ndarray:
    im = Image.fromarray((mask * 255).astype(np.uint8))
    rotated = im.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=0)
    return _crop_mask(np.asarray(rotated, dtype=np.float32) / 255)


def _place(mask: np.ndarray, width: int, height: int, frac: float, rng) -> np.ndarray:
    """Scale the glyph so its height is frac * canvas height (fitting the width too) and
    put it at a random position; returns the canvas-sized ink mask (H, W)."""
    gh, gw = mask.shape
    scale = frac * height / gh
    scale = min(scale, 0.98 * width / gw, 0.98 * height / gh)
    h, w = max(2, round(gh * scale)), max(1, round(gw * scale))
    glyph = _resize_mask(mask, w, h)
    canvas = np.zeros((height, width), np.float32)
    top = rng.integers(0, height - h + 1)
    left = rng.integers(0, width - w + 1)
    canvas[top : top + h, left : left + w] = glyph
    return canvas


def _lighting(height: int, width: int, rng, strength: float) -> np.ndarray:
    """Multiplicative uneven lighting: a linear gradient plus a soft off-centre shadow."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    yy /= max(1, height - 1)
    xx /= max(1, width - 1)
    angle = rng.uniform(0, 2 * math.pi)
    ramp = (xx - 0.5) * math.cos(angle) + (yy - 0.5) * math.sin(angle)
    light = 1.0 + strength * ramp
    cy, cx = rng.uniform(-0.3, 1.3, 2)
    blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * rng.uniform(0.1, 0.4) ** 2))
    light *= 1.0 - rng.uniform(0.0, strength) * blob  # a shadow (hand, phone)
    return light


def _texture(height: int, width: int, rng, amount: float) -> np.ndarray:
    """Low-frequency paper texture: coarse noise, smoothly enlarged."""
    coarse = rng.normal(0, amount, (max(2, height // 16), max(2, width // 16))).astype(np.float32)
    return np.array(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC))


def _gray_scene(ink: np.ndarray, paper: float, ink_level: float) -> np.ndarray:
    return paper * (1 - ink) + ink_level * ink


def _blur(img: Image.Image, radius: float) -> Image.Image:
    return img.filter(ImageFilter.GaussianBlur(radius)) if radius > 0 else img


def make_sample(index: int, seed: int, fonts: Sequence[str]) -> Sample:
    """Build image number ``index`` of the set; the same (index, seed) gives the same image."""
    rng = np.random.default_rng([seed, index])
    category = CATEGORIES[index % len(CATEGORIES)]
    label = int(rng.integers(10))

    # The digit: typeset or hand-drawn, with a pen width around MNIST's (~12% of height).
    if fonts and rng.random() < 0.5:
        font = fonts[rng.integers(len(fonts))]
        if category == "thin":  # the one hairline typeface
            font = next((f for f in fonts if "ExtraLight" in f), font)
        glyph = font_glyph(label, font)
        source = os.path.basename(font)
    else:
        pen = rng.uniform(0.02, 0.04) if category == "thin" else rng.uniform(0.07, 0.16)
        glyph = hand_glyph(label, rng, pen)
        source = "hand"

    # Shared mild variation: a small tilt; canvas size and digit size vary per category.
    tilt = rng.uniform(-15, 15) if category == "rotated" else rng.uniform(-4, 4)
    glyph = _rotate_mask(glyph, tilt)
    width, height = int(rng.integers(40, 801)), int(rng.integers(40, 601))
    frac = rng.uniform(0.3, 0.8)
    if category == "small":
        width, height = int(rng.integers(400, 801)), int(rng.integers(300, 601))
        frac = rng.uniform(0.08, 0.2)
    elif category == "filling":
        width = height = int(rng.integers(28, 300))
        width = int(width * rng.uniform(0.6, 1.0))
        frac = rng.uniform(0.9, 1.0)
    elif category == "thin":
        width, height = int(rng.integers(300, 801)), int(rng.integers(300, 601))
        frac = rng.uniform(0.4, 0.9)
    ink = _place(glyph, width, height, frac, rng)
    digit_px = frac * height
    notes = f"tilt={tilt:.1f}"

    paper, ink_level = rng.uniform(0.85, 1.0), rng.uniform(0.0, 0.2)  # dark ink on white
    fmt, ext, save_args = "PNG", "png", {}

    if category == "inverted":
        paper, ink_level = rng.uniform(0.0, 0.15), rng.uniform(0.8, 1.0)
    elif category == "grey_paper":
        paper = rng.uniform(0.45, 0.7)
        ink_level = paper - rng.uniform(0.15, 0.35)
        if rng.random() < 0.3:  # pencil on grey: lighter than the paper is rare; keep dark
            ink_level = max(0.0, ink_level - 0.1)

    if category == "transparent":
        light = rng.random() < 0.2
        colour = (255, 255, 255) if light else tuple(int(c) for c in rng.integers(0, 80, 3))
        alpha = to_u8(ink)
        rgba = np.empty((height, width, 4), np.uint8)
        rgba[..., :3] = colour
        rgba[..., 3] = alpha
        return Sample(label, category, source, Image.fromarray(rgba), "PNG", "png", {},
                      notes + (" light-ink" if light else ""))

    if category == "photo":
        # Tinted paper, coloured pen, uneven light, texture, noise, slight blur, JPEG.
        tint = np.array([1.0, rng.uniform(0.93, 1.0), rng.uniform(0.8, 0.97)], np.float32)
        pen_rgb = (
            np.array([0.1, 0.15, rng.uniform(0.45, 0.7)], np.float32)  # blue ballpoint
            if rng.random() < 0.5
            else np.full(3, rng.uniform(0.05, 0.2), np.float32)  # black marker
        )
        paper_level = rng.uniform(0.7, 0.95)
        light = _lighting(height, width, rng, strength=rng.uniform(0.2, 0.5))
        texture = _texture(height, width, rng, 0.02)
        rgb = np.empty((height, width, 3), np.float32)
        for c in range(3):
            rgb[..., c] = ((paper_level * tint[c] + texture) * (1 - ink) + pen_rgb[c] * ink) * light
        rgb += rng.normal(0, rng.uniform(0.01, 0.04), rgb.shape).astype(np.float32)
        img = _blur(Image.fromarray(to_u8(rgb)), rng.uniform(0, 1.5) * max(1, digit_px / 100))
        q = int(rng.integers(40, 91))
        return Sample(label, category, source, img, "JPEG", "jpg", {"quality": q},
                      notes + f" quality={q}")

    gray = _gray_scene(ink, paper, ink_level)

    if category == "specks":
        # Dust: small dark dots scattered over the paper, away from the digit's bounding box.
        rows = np.flatnonzero(ink.max(axis=1) > 0.05)
        cols = np.flatnonzero(ink.max(axis=0) > 0.05)
        n_specks = int(rng.integers(1, 6))
        placed = 0
        for _ in range(50):
            if placed == n_specks:
                break
            r = max(1, round(rng.uniform(0.005, 0.02) * min(width, height)))
            y, x = int(rng.integers(0, height)), int(rng.integers(0, width))
            gap = 2 * r + 2
            if rows[0] - gap <= y <= rows[-1] + gap and cols[0] - gap <= x <= cols[-1] + gap:
                continue
            yy, xx = np.ogrid[:height, :width]
            gray[(yy - y) ** 2 + (xx - x) ** 2 <= r * r] = ink_level
            placed += 1
        notes += f" specks={placed}"

    if category in ("jpeg", "grey_paper", "specks"):
        gray = gray + rng.normal(0, rng.uniform(0.005, 0.03), gray.shape)

    img = Image.fromarray(to_u8(gray))

    if category == "blurred":
        radius = rng.uniform(0.02, 0.06) * digit_px
        img = _blur(img, radius)
        notes += f" blur={radius:.1f}px"
    elif category == "jpeg":
        q = int(rng.integers(30, 91))
        fmt, ext, save_args = "JPEG", "jpg", {"quality": q}
        notes += f" quality={q}"
    elif category == "formats":
        choice = ["GIF", "BMP", "TIFF", "WEBP", "PNG16"][int(rng.integers(5))]
        if choice == "PNG16":
            img = Image.fromarray((np.clip(gray, 0, 1) * 65535).astype(np.uint16))
            fmt, ext = "PNG", "png"
        else:
            fmt = choice
            ext = {"GIF": "gif", "BMP": "bmp", "TIFF": "tif", "WEBP": "webp"}[choice]
            if choice == "GIF":
                img = img.convert("P")
        if rng.random() < 0.3:
            ext = "png" if ext != "png" else "jpg"  # the extension lies; content decides
            notes += " wrong-extension"
        notes += f" format={choice}"
    return Sample(label, category, source, img, fmt, ext, save_args, notes)


def make(outdir: str | Path, n: int = 1000, seed: int = 0) -> Path:
    """Write ``n`` images and ``labels.csv`` into ``outdir`` (created if missing)."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    fonts = available_fonts()
    rows = []
    for i in range(n):
        s = make_sample(i, seed, fonts)
        name = f"{i:04d}_label{s.label}.{s.ext}"
        buf = io.BytesIO()
        s.image.save(buf, s.fmt, **s.save_args)
        (out / name).write_bytes(buf.getvalue())
        rows.append([name, s.label, s.category, s.source, s.image.width, s.image.height, s.notes])
    write_labels(out, ["file", "label", "category", "source", "width", "height", "notes"], rows)
    return out


# --- scoring -------------------------------------------------------------------------------------


def _shape_stats(x: np.ndarray) -> tuple[int, float]:
    """Longest side of the ink box and centre-of-mass distance from (14, 14) of a (784,)."""
    a = x.reshape(28, 28)
    rows = np.flatnonzero(a.any(axis=1))
    cols = np.flatnonzero(a.any(axis=0))
    side = max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
    total = a.sum()
    com_r = (a.sum(axis=1) @ np.arange(28)) / total
    com_c = (a.sum(axis=0) @ np.arange(28)) / total
    return int(side), float(math.hypot(com_r - 14.0, com_c - 14.0))


def score(
    outdir: str | Path,
    predict: Callable[[np.ndarray], np.ndarray] | None = None,
    out=sys.stdout,
    records: list[dict] | None = None,
) -> list[dict]:
    """Run every image of a ``make`` folder through ``digitnet.batch.load_input``.

    ``predict``, if given, maps an (N, 784) float32 batch to N predicted digits; the table
    then gains an accuracy column. Prints a per-category table and returns one record per
    image (file, label, category, ok, error, seconds, side, com_dist, input, pred).
    ``records``: those of an earlier call on the same folder, so that scoring another
    model does not decode every image again.
    """
    if records is None:
        records = _load(outdir)
    if predict is not None:
        good = [r for r in records if r["ok"]]
        if good:
            preds = predict(np.stack([r["input"] for r in good]))
            for r, p in zip(good, preds):
                r["pred"] = int(p)

    _report(records, predict, out)
    return records


def _load(outdir) -> list[dict]:
    """One record per image of the folder, decoded and normalised, timed (see score)."""
    from digitnet.batch import load_input
    from digitnet.errors import ImageError

    records = []
    for row in read_labels(outdir):
        rec = {"file": row["file"], "label": int(row["label"]), "category": row["category"]}
        t0 = time.perf_counter()
        try:
            x = load_input(Path(outdir) / row["file"])
            rec.update(ok=True, error="", input=x)
        except ImageError as exc:
            rec.update(ok=False, error=str(exc), input=None)
        rec["seconds"] = time.perf_counter() - t0
        if rec["ok"]:
            rec["side"], rec["com_dist"] = _shape_stats(rec["input"])
        records.append(rec)
    return records


def _report(records: list[dict], predict, out) -> None:
    """Print the per-category table (see :func:`score`)."""
    header = f"{'category':<12} {'n':>5} {'ok':>5} {'ms/img':>7} {'side20':>7} {'com<1px':>8}"
    if predict is not None:
        header += f" {'accuracy':>9}"
    print(header, file=out)
    for cat in list(CATEGORIES) + ["ALL"]:
        rs = [r for r in records if cat == "ALL" or r["category"] == cat]
        if not rs:
            continue
        ok = [r for r in rs if r["ok"]]
        ms = 1000 * float(np.mean([r["seconds"] for r in rs]))
        side = np.mean([r["side"] == 20 for r in ok]) if ok else float("nan")
        com = np.mean([r["com_dist"] < 1.0 for r in ok]) if ok else float("nan")
        line = f"{cat:<12} {len(rs):>5} {len(ok):>5} {ms:>7.2f} {side:>7.1%} {com:>8.1%}"
        if predict is not None:
            # Failures to load count as wrong answers.
            acc = np.mean([r.get("pred") == r["label"] for r in rs])
            line += f" {acc:>9.1%}"
        print(line, file=out)
    failures = [r for r in records if not r["ok"]]
    for r in failures[:20]:
        print(f"  failed: {r['file']} ({r['category']}): {r['error']}", file=out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_make = sub.add_parser("make", help="generate the image set")
    p_make.add_argument("outdir")
    p_make.add_argument("--n", type=int, default=1000, help="number of images (default 1000)")
    p_make.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p_score = sub.add_parser("score", help="run the set through digitnet.batch.load_input")
    p_score.add_argument("outdir")
    p_score.add_argument("--weights", action="append", default=[], metavar="PATH|NAME",
                         help="also report the accuracy of this model (repeatable), e.g. "
                              "--weights default --weights wide")
    args = parser.parse_args(argv)
    if args.command == "make":
        t0 = time.perf_counter()
        out = make(args.outdir, n=args.n, seed=args.seed)
        print(f"wrote {args.n} images to {out} in {time.perf_counter() - t0:.1f} s")
    elif not args.weights:
        score(args.outdir)
    else:
        from digitnet.weightfile import load
        records = None  # decoded once, for every model
        for spec in args.weights:
            net = load(spec)[0]
            print(f"\nmodel {spec} ({'-'.join(map(str, net.sizes))}) on {args.outdir}:")
            records = score(args.outdir, predict=net.predict, records=records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
