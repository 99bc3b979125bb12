"""One picture of what the normalisation did to an image: ``classify --steps FILE.png``.

When an answer looks wrong, the question is nearly always "what did the network see?".
:func:`trace` runs the MNIST-style normalisation (:func:`digitnet.normalise.normalise`)
on one image and keeps every intermediate result; :func:`picture` lays them out left to
right:

1. **image**: the picture worked on, with the writing surface found in it framed in
   green and what was taken for scene (desk, frame, toolbar) tinted red;
2. **ink**: the ink map inside the surface (paper, lighting and noise removed;
   white = ink);
3. **rulings removed**: the same without ruled or squared-paper lines;
4. **marks**: the digit's mark boxed in green, specks and other marks in orange, the
   crop in blue;
5. **crop** and 6. **28x28**: the crop and the network's input, enlarged.

A step that was never reached (the image had no digit, say) is left out, and the error
is written under the panels, so the picture also says *why* an image failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from .errors import ImageError

__all__ = ["Trace", "trace", "picture"]

_PANEL = 240  # px: each panel fits in a square this big
_PAD = 8
_BG = (24, 24, 24)
_TEXT = (225, 225, 225)
_GREEN, _RED, _ORANGE, _BLUE = (60, 220, 90), (230, 60, 50), (255, 160, 40), (70, 150, 255)


@dataclass
class Trace:
    """The steps recorded for one image (see :func:`digitnet.normalise.normalise`),
    the (784,) inputs if it got through, and the error if it did not."""

    steps: dict = field(default_factory=dict)
    inputs: np.ndarray | None = None
    error: ImageError | None = None


def trace(source) -> Trace:
    """Decode ``source`` (path, bytes, PIL image or array) and normalise it as
    ``classify`` does, keeping each step. Never raises :class:`ImageError`: a failure is
    stored in the trace."""
    from .batch import load_input

    t = Trace()
    try:
        t.inputs = load_input(source, steps=t.steps)
    except ImageError as e:
        t.error = e
    return t


def picture(t: Trace, title: str | None = None) -> Image.Image:
    """The steps of a :class:`Trace` side by side, as one RGB image."""
    from .render import png_font, text_height

    s = t.steps
    panels = []
    if "work" in s:
        panels.append(("image", _surface_panel(s["work"], s.get("surface"))))
    if "ink" in s:
        panels.append(("ink", _gray(s["ink"])))
    if "lines_removed" in s:
        same = s["lines_removed"] is s["ink"]
        panels.append(("no rulings found" if same else "rulings removed",
                       _gray(s["lines_removed"])))
    if "digit_mark" in s:
        panels.append(("marks: digit, specks, crop", _marks_panel(s)))
    elif "digit_ink" in s:
        panels.append(("small picture: no marks", _gray(s["digit_ink"])))
    if "crop" in s and "digit_ink" in s:
        r0, r1, c0, c1 = s["crop"]
        panels.append(("crop", _gray(s["digit_ink"][r0:r1, c0:c1])))
    if "field" in s:
        panels.append(("28x28 input", _gray(s["field"], nearest=True)))

    font = png_font(13)
    th = text_height(font)
    width = max(1, len(panels)) * (_PANEL + _PAD) + _PAD
    lines = [title] if title else []
    if t.error is not None:
        lines.append(f"stopped: {t.error}")
    elif t.inputs is not None:
        lines.append("the 28x28 input is what the network reads")
    height = _PAD + th + _PANEL + _PAD + len(lines) * th + _PAD
    out = Image.new("RGB", (max(width, 420), height), _BG)
    draw = ImageDraw.Draw(out)
    for i, (name, im) in enumerate(panels):
        x = _PAD + i * (_PANEL + _PAD)
        draw.text((x, _PAD), name, fill=_TEXT, font=font)
        out.paste(im, (x + (_PANEL - im.width) // 2, _PAD + th + (_PANEL - im.height) // 2))
    y = _PAD + th + _PANEL + _PAD
    for line in lines:
        draw.text((_PAD, y), line, fill=_TEXT if t.error is None else (255, 140, 120), font=font)
        y += th
    return out


def _fit(im: Image.Image, nearest: bool = False) -> Image.Image:
    """Scale ``im`` so that its longer side is the panel's (small images enlarged)."""
    scale = _PANEL / max(im.size)
    size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    resample = Image.Resampling.NEAREST if nearest or scale >= 2 else Image.Resampling.BOX
    return im.resize(size, resample)


def _gray(a: np.ndarray, nearest: bool = False) -> Image.Image:
    """An array in 0..1 as an RGB panel."""
    u8 = (np.clip(a, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    return _fit(Image.fromarray(u8).convert("RGB"), nearest)


def _surface_panel(work: np.ndarray, surface) -> Image.Image:
    rgb = np.repeat((np.clip(work, 0, 1) * 255 + 0.5).astype(np.uint8)[..., None], 3, axis=2)
    box = None
    if surface is not None:
        r0, r1, c0, c1 = box = surface.box
        outside = np.ones(work.shape, bool)
        outside[r0:r1, c0:c1] = False
        if surface.scene is not None:
            outside[r0:r1, c0:c1] |= surface.scene
        tint = rgb[outside].astype(np.float32) * 0.5 + np.array(_RED, np.float32) * 0.5
        rgb[outside] = tint.astype(np.uint8)
    im = _fit(Image.fromarray(rgb))
    if box is not None:
        k = im.width / work.shape[1]
        r0, r1, c0, c1 = box
        ImageDraw.Draw(im).rectangle([c0 * k, r0 * k, max(c0 * k, c1 * k - 1),
                                      max(r0 * k, r1 * k - 1)], outline=_GREEN, width=2)
    return im


def _marks_panel(s: dict) -> Image.Image:
    ink = s.get("digit_ink", s["lines_removed"])
    im = _gray(ink)
    k = im.width / ink.shape[1]
    draw = ImageDraw.Draw(im)

    def rect(box, colour):
        r0, r1, c0, c1 = box
        draw.rectangle([c0 * k, r0 * k, max(c0 * k, c1 * k - 1), max(r0 * k, r1 * k - 1)],
                       outline=colour, width=2)

    for m in s.get("other_marks", []):
        rect(m.box, _ORANGE)
    rect(s["digit_mark"].box, _GREEN)
    if "crop" in s:
        rect(s["crop"], _BLUE)
    return im
