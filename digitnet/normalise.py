"""MNIST-style normalisation: a grayscale picture of one digit -> the network's 784 inputs.

The network was trained on MNIST, so it only understands pictures that look like MNIST:
a 28x28 field, *light ink on a black background*, brightness 0..1, the digit scaled so
that its longer side is 20 pixels, and placed so that its centre of mass (the
brightness-weighted average pixel position) sits at the centre of the field.

People hand us something else: phone photos and scans of dark ink on light paper,
paint-program canvases, screenshots, transparent PNGs. :func:`normalise` repeats MNIST's
own preprocessing on any of them: decide which side is ink, remove the paper (including
uneven lighting and noise), crop to the ink, scale the longer side to 20 px, centre the
mass in 28x28. :func:`raw_input` is the ``--raw`` escape hatch that takes an already
MNIST-style 28x28 image as it is.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from .decode import resize, shrink
from .blobs import SeveralDigits, find_digit
from .errors import ImageError
from .morphology import border_runs, max_filter, median, min_filter, pool_max, stroke_width
from .rulings import remove_rulings
from .surface import find_surface

__all__ = ["FIELD", "BOX", "WORK_SIDE", "SMALL_SIDE", "normalise", "normalise_many",
           "raw_input"]

#: Images are reduced to this longer side before normalising. The digit ends up 20 px
#: tall, so detail beyond this only costs time.
WORK_SIDE = 1280

# --- MNIST geometry ------------------------------------------------------------------------
FIELD = 28  # the network sees FIELD x FIELD pixels
BOX = 20  # MNIST scaled every digit so that its longer side is BOX pixels
# Row/column index (pixel-centre coordinates, 0..27) where MNIST put each digit's centre
# of mass. Measured on the 10,000 test digits: mean 13.99 / 14.01, and placing each digit
# at floor(14.0 - com + 0.5) reproduces MNIST's own placement for 100% of them.
COM_TARGET = 14.0


# --- normalising ----------------------------------------------------------------------------

#: Pictures whose longer side is under this are *small* (an MNIST digit, an icon, a
#: thumbnail): they have a single paper level, no rulings, one digit or nothing, and
#: :func:`normalise_many` works many of one size at once. Bigger ones get a paper *map*
#: that follows uneven lighting (phone photos, shadows) and the analysis of their marks.
SMALL_SIDE = 48
# Background map resolution: about this many cells along the longer side. Lighting
# varies smoothly, and cells must be larger than a pen stroke.
_MAP_CELLS = 6
# Noise is estimated as a standard deviation (sigma); pixels are trusted as ink only this
# many sigmas above the paper.
_NOISE_SIGMAS = 4.0
# The faintest ink contrast (0..1) we still call a digit, and the smallest ratio of ink
# contrast to noise.
_MIN_CONTRAST = 0.04
_MIN_SNR = 6.0
# Pixels this bright (relative to the ink) count for finding the digit's extent; fainter
# ones (antialiased edges, blur) are then added back only next to it.
_STRONG = 0.3
# ... and pixels at least this bright count as part of the digit next to strong ink. On
# MNIST, the bounding box of pixels > 0.05 has the same longest side as that of all
# nonzero pixels for 100% of the test digits; above 0 would let faint noise in.
# (Augmentation measures a digit's extent with the same level.)
FRINGE = 0.05
# Separated blobs at the edges holding less than this share of the ink are specks.
_SPECK_SHARE = 0.03
# ... and blobs with less than this share count as specks too if the empty gap separating
# them from the rest is wider than _FAR_GAP times the rest's extent.
_FAR_SPECK_SHARE = 0.25
_FAR_GAP = 0.4


def normalise(gray: np.ndarray, steps: dict | None = None,
              chroma: np.ndarray | None = None) -> np.ndarray:
    """Turn a grayscale picture of one digit into the network's 784 inputs, MNIST-style.

    ``gray``: array (H, W), brightness 0.0 = black .. 1.0 = white, as from
    :func:`read_image`. Either polarity: dark ink on light paper or light ink on dark.
    ``chroma``: the picture's colour (:attr:`~digitnet.decode.Picture.chroma`), or None,
    or a function of no arguments returning either (``lambda: picture.chroma``), called
    only if the search for the writing surface -- the one step that looks at colour --
    needs it.

    Returns a float32 array of shape (784,): the 28x28 field in row-major order, light
    ink (1.0) on black (0.0). First the writing surface is found
    (:func:`~digitnet.surface.find_surface`: no desk, frame or toolbar); after step 2 the
    rulings are removed (:func:`~digitnet.rulings.remove_rulings`) and the digit told from
    specks, scratches and other digits (:func:`~digitnet.blobs.find_digit`). The steps
    repeat how MNIST itself was made:

    1. *Polarity.* The paper level is the median of the image border (a band 4% of
       the shorter side deep, past a scan's thin dark edge); the ink is what departs
       strongly from it. Whichever side (lighter or darker) carries more of the strong
       departures is ink -- unless, in a large picture, the light ones are a broad
       region along a side (sunlight across a shaded sheet, a note lighter than the
       wall) and the dark ones are strokes, mostly clear of the border band (see
       :func:`_polarity`); dark ink is inverted so that ink is light,
       as in MNIST.
    2. *Paper removal.* The paper level is subtracted -- on large images as a smooth map
       that follows uneven lighting and shadows (in photos of 400 px and more and
       beside a lit patch, at least the darkest level within five strokes' width,
       which follows a shadow's edge) -- then noise up to
       four sigmas of the paper's own grain is cut away and the ink stretched so that
       its core is 1.0.
       Antialiased stroke edges keep their grey levels.
    3. *Crop* to the ink's bounding box, ignoring small specks separated from the digit.
       Hairline strokes (a ballpoint on a large page) are thickened towards MNIST's pen
       width; MNIST's own digits are never thin enough for this to happen.
    4. *Scale* the longer side to 20 pixels, aspect ratio kept, antialiased.
    5. *Centre*: place the 20-pixel box in 28x28 so that the centre of mass lands on
       pixel (14, 14) (row, column), clamped so the box stays inside the field.

    An MNIST digit comes back (nearly) unchanged: on the 10,000 test digits the mean
    absolute difference is 0.0009 per pixel. Images larger than WORK_SIDE are first
    reduced to it. No ink -> ``ImageError("no digit found")``.

    ``steps``: if a dict, it is filled in as the work goes on (so it shows how far it got
    when an error is raised): ``work`` the (H, W) image worked on; ``surface`` the
    :class:`~digitnet.surface.Surface`; ``ink`` the ink map inside it before and
    ``lines_removed`` after rulings were removed; ``digit_mark`` and ``other_marks``
    (:class:`~digitnet.blobs.Mark`); ``crop`` the box (r0, r1, c0, c1) in the surface
    image; ``field`` the (28, 28) result. :mod:`digitnet.steps` draws them.
    """
    record = steps if steps is not None else {}
    g = shrink(_validated(gray), WORK_SIDE)
    record["work"] = g
    work_shape = g.shape
    surface = find_surface(g, chroma)  # the sheet, page or canvas: no desk, frame or toolbar
    record["surface"] = surface
    g = surface.image
    if max(g.shape) < SMALL_SIDE:
        [field] = _small_fields(g[None], [record])
        if isinstance(field, ImageError):
            raise field
        return field

    ink, contrast, raw, lighting = _ink_map(g, surface.scene)  # (h, w), 0 = paper .. 1 = ink core
    record["ink"] = ink
    ink = remove_rulings(ink)
    record["lines_removed"] = ink
    # A surface cut out of a scene: the desk, frame or toolbar around it gone.
    cut_out = surface.scene is not None or surface.image.shape != work_shape
    try:
        ink, mark, others = find_digit(ink, contrast, cut_out)  # no specks; one digit only
    except SeveralDigits as e:
        record["digit_mark"], record["other_marks"] = e.marks[0], e.marks[1:]
        raise
    record["digit_mark"], record["other_marks"] = mark, others
    # Only a sheet or note found in a scene (a desk or wall around it), and lit
    # unevenly by it, keeps the scene's light; a scan inside its frame or beside its
    # lid edge is evenly lit, and a canvas below a toolbar is no scene.
    lit_scene = surface.scene is not None and lighting >= _SCENE_LIGHTING
    floor = _MIN_SCENE_INK_STRENGTH if lit_scene else _MIN_INK_STRENGTH
    if _mark_strength(raw, ink, mark.box) < floor:
        # A shadow's rim, a sheet's shading or JPEG blotches on a blank page: faint
        # ink once stretched, but hardly darker than the paper. A written digit is.
        raise ImageError("no digit found")
    return _field(_within(ink, mark.box), record)


def normalise_many(grays, chromas=None) -> list:
    """:func:`normalise` for many pictures: per picture, in order, its (784,) inputs or
    the :class:`ImageError` that :func:`normalise` would raise for it.

    ``grays``: a sequence of (H, W) arrays, ``chromas`` one of colours (or None) beside
    them. The results are exactly :func:`normalise`'s. Small pictures (longer side under
    SMALL_SIDE: MNIST digits, icons, thumbnails) of one size are worked as one stack: for
    a 28x28 digit a numpy call costs far more than the arithmetic it does, and a stack of
    64 digits costs the same number of calls as one. An exception other than ImageError
    (an array of strings, a bug) is raised, as :func:`normalise` raises it.
    """
    out = [None] * len(grays)
    stacks: dict[tuple[int, int], list] = {}  # size -> [(index, picture)]
    for i, gray in enumerate(grays):
        chroma = chromas[i] if chromas is not None else None
        try:
            g = shrink(_validated(gray), WORK_SIDE)
            if max(g.shape) < SMALL_SIDE:
                image = find_surface(g, chroma).image  # (the picture itself, so small)
                stacks.setdefault(image.shape, []).append((i, image))
            else:
                out[i] = normalise(g, chroma=chroma)
        except ImageError as exc:
            out[i] = exc
    for members in stacks.values():
        fields = _small_fields(np.stack([image for _, image in members]), [{} for _ in members])
        for (i, _), field in zip(members, fields):
            out[i] = field
    return out


def _small_fields(stack: np.ndarray, records: list[dict]) -> list:
    """:func:`normalise` of small pictures of one size, (N, H, W): per picture its
    (784,) inputs or its :class:`ImageError`; ``records``: a steps dict for each. The
    ink maps, the crops and the fields are found for the whole stack at once."""
    inks, found = _small_ink_maps(stack)
    strong = inks > _STRONG
    enough = np.count_nonzero(strong, axis=(1, 2)) >= _MIN_INK_PIXELS
    # One picture's crop is found quicker its own way.
    crops = _stack_bounds(inks, strong) if len(stack) > 1 else [None]
    out = [None] * len(records)
    digits = []     # the pictures that hold a digit
    for i, record in enumerate(records):
        try:
            if not found[i]:
                raise ImageError("no digit found")
            record["ink"] = record["lines_removed"] = inks[i]
            if not enough[i]:
                # A small picture (an MNIST digit, an icon) holds one digit or nothing:
                # only a dot is ruled out here, the full analysis of marks would cost
                # more than the rest.
                raise ImageError("no digit found")
            record["digit_ink"] = inks[i]
            record["crop"] = crops[i] if crops[i] is not None else _ink_bounds(inks[i])
            digits.append(i)
        except ImageError as exc:
            out[i] = exc
    if digits:
        boxes = np.array([records[i]["crop"] for i in digits])
        fields = _fields(inks[digits], boxes, [records[i] for i in digits])
        for i, field in zip(digits, fields):
            out[i] = field
    return out


def _field(ink: np.ndarray, record: dict) -> np.ndarray:
    """Steps 3 to 5 of :func:`normalise` for one picture: the digit's ink map (H, W),
    0..1, nothing else on it -> the (784,) inputs (see :func:`_fields`)."""
    record["digit_ink"] = ink
    r0, r1, c0, c1 = record["crop"] = _ink_bounds(ink)
    digit = ink[r0:r1, c0:c1]
    field = _fields(digit[None], np.array([[0, r1 - r0, 0, c1 - c0]]), [record])[0]
    if isinstance(field, ImageError):
        raise field
    return field


def _fields(inks: np.ndarray, boxes: np.ndarray, records: list[dict]) -> list:
    """Steps 3 to 5 of :func:`normalise`: ink maps (N, H, W), 0..1, and each one's
    digit's box (N, 4: r0, r1, c0, c1) -> per digit its (784,) inputs, or the
    :class:`ImageError` if nothing is left of it: cropped to the box, thickened if a
    hairline, the longer side scaled to BOX, centred by mass in FIELD x FIELD.

    A digit whose box's longer side already is BOX (nearly every MNIST digit) and whose
    strokes are not hairlines goes to its field as it is, with the others of the stack
    at once; the others are thickened and scaled one by one, then placed the same way.
    """
    r0, r1, c0, c1 = boxes.T
    longer = np.maximum(r1 - r0, c1 - c0)
    widths = _crop_stroke_widths(inks, boxes) * BOX / longer   # in pixels of the box
    ready = (widths >= _THIN_WIDTH) & (longer == BOX)
    out: list = [None] * len(inks)
    if ready.any():
        which = np.flatnonzero(ready)
        for i, field in zip(which, _place_centred(inks[which], boxes[which])):
            out[i] = field
    for i in np.flatnonzero(~ready):
        try:
            digit = inks[i, r0[i]:r1[i], c0[i]:c1[i]]
            digit = _scaled(_thicken_thin_strokes(digit, widths[i]))
            h, w = digit.shape
            out[i] = _place_centred(digit[None], np.array([[0, h, 0, w]]))[0]
        except ImageError as exc:
            out[i] = exc
    for record, field in zip(records, out):
        if not isinstance(field, ImageError):
            record["field"] = field.reshape(FIELD, FIELD)
    return out


def _scaled(digit: np.ndarray) -> np.ndarray:
    """A cropped digit (h, w) with its longer side scaled to BOX, keeping the aspect
    ratio (the shorter side >= 1 px)."""
    h, w = digit.shape
    scale = BOX / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    if (new_h, new_w) == (h, w):
        return digit
    # BOX averages the covered area when shrinking -- exactly the antialiasing of a
    # pen stroke drawn at lower resolution; LANCZOS keeps enlarged strokes crisp.
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.LANCZOS
    digit = resize(digit, new_w, new_h, resample)
    np.clip(digit, 0.0, 1.0, out=digit)
    peak = float(digit.max())
    if peak <= 0.0:
        raise ImageError("no digit found")
    # Shrinking averages thin strokes into grey; MNIST strokes have saturated cores.
    digit /= np.float32(peak)
    return digit


def _box_masks(inks: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(N, H, W) bool: True inside each map's box (N, 4: r0, r1, c0, c1)."""
    _, h, w = inks.shape
    rows, cols = np.arange(h), np.arange(w)
    in_rows = (rows >= boxes[:, 0:1]) & (rows < boxes[:, 1:2])
    in_cols = (cols >= boxes[:, 2:3]) & (cols < boxes[:, 3:4])
    return in_rows[:, :, None] & in_cols[:, None, :]


def _crop_stroke_widths(inks: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """:func:`~digitnet.morphology.stroke_width` of each ink map (N, H, W) inside its
    box (N, 4), for all at once: (N,) float64, in the maps' pixels (inf for a box with
    no edges). Summed in float64, where the sum of float32 values hardly depends on
    the order they come in."""
    inside = _box_masks(inks, boxes)
    area = np.where(inside, inks, 0).sum(axis=(1, 2), dtype=np.float64)
    # Neighbours' differences, both of them inside the box.
    down = np.where(inside[:, 1:] & inside[:, :-1], np.abs(inks[:, 1:] - inks[:, :-1]), 0)
    across = np.where(inside[:, :, 1:] & inside[:, :, :-1],
                      np.abs(inks[:, :, 1:] - inks[:, :, :-1]), 0)
    variation = down.sum(axis=(1, 2), dtype=np.float64) + across.sum(axis=(1, 2),
                                                                    dtype=np.float64)
    widths = np.full(len(inks), np.inf)
    edged = variation > 0
    widths[edged] = 2.0 * area[edged] / (variation[edged] * (math.pi / 4))
    return widths


# Stroke width, measured in pixels of the 20-pixel box. MNIST's pens: median 2.8, 5th
# percentile 1.9 (0.2% of its test digits are thinner than 1.5). Thinner strokes -- a
# ballpoint on a big page, a 1-px pencil tool -- are thickened to _TARGET_WIDTH (the
# 25th percentile): on synthetic thin-pen digits that won 2.6 points of accuracy.
_THIN_WIDTH = 1.5
_TARGET_WIDTH = 2.4
# Thickening works at this many pixels per box pixel, for quarter-pixel precision.
_THICKEN_SCALE = 4


# A small picture needs at least this many strong ink pixels to hold a digit.
_MIN_INK_PIXELS = 6
# Around the digit's mark, this share of its size (at least 2 px) still belongs to it:
# the antialiased and blurred edges of its strokes.
_MARK_MARGIN = 0.15


def _within(ink: np.ndarray, box) -> np.ndarray:
    """``ink`` with everything farther than a margin outside ``box`` (r0, r1, c0, c1)
    cleared: leftovers of rulings, shadows and dirt elsewhere on the page are no digit."""
    r0, r1, c0, c1 = box
    m = max(2, math.ceil(_MARK_MARGIN * max(r1 - r0, c1 - c0)))
    r0, r1 = max(0, r0 - m), min(ink.shape[0], r1 + m)
    c0, c1 = max(0, c0 - m), min(ink.shape[1], c1 + m)
    if (r0, r1, c0, c1) == (0, ink.shape[0], 0, ink.shape[1]):
        return ink
    out = np.zeros_like(ink)
    out[r0:r1, c0:c1] = ink[r0:r1, c0:c1]
    return out


def _thicken_thin_strokes(digit: np.ndarray, width: float) -> np.ndarray:
    """Dilate a cropped digit (h, w) whose strokes are hairlines compared with MNIST's:
    ``width`` is their mean width in pixels of the 20-pixel box."""
    if width >= _THIN_WIDTH:
        return digit
    # Work at a fixed scale so that the cost and precision do not depend on the photo.
    h, w = digit.shape
    side = _THICKEN_SCALE * BOX
    scale = side / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    work = np.clip(resize(digit, new_w, new_h, resample), 0.0, 1.0)
    peak = float(work.max())
    if peak <= 0.0:
        return digit
    work /= np.float32(peak)  # shrinking fades a hairline; restore its core first
    radius = round((_TARGET_WIDTH - width) / 2 * _THICKEN_SCALE)
    if radius < 1:
        return work
    # Grey-level dilation with a disc: each pixel takes the brightest value within radius.
    padded = np.pad(work, radius)
    out = padded.copy()
    ph, pw = padded.shape
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if 0 < dy * dy + dx * dx <= radius * radius + radius:  # + radius: rounder disc
                src = padded[max(0, dy) : ph + min(0, dy), max(0, dx) : pw + min(0, dx)]
                dst = out[max(0, -dy) : ph + min(0, -dy), max(0, -dx) : pw + min(0, -dx)]
                np.maximum(dst, src, out=dst)
    return out


def _validated(gray: np.ndarray) -> np.ndarray:
    g = np.asarray(gray)
    if g.ndim != 2 or g.size == 0:
        raise ImageError(f"expected a 2-D grayscale image, got an array of shape {g.shape}")
    if g.dtype != np.float32:
        g = g.astype(np.float32)
    if not np.isfinite(g).all():
        raise ImageError("image contains non-finite values")
    return g


# The border band whose median is the paper level: this share of the shorter side (at
# least a pixel: the outermost ring of an MNIST digit).
_BORDER_BAND = 0.04


def _ink_map(g: np.ndarray, scene: np.ndarray | None = None
             ) -> tuple[np.ndarray, float, np.ndarray, float]:
    """(H, W) brightness, longer side at least SMALL_SIDE -> ((H, W) ink strength 0..1
    with paper, lighting and noise removed; the ink core's contrast against the paper in
    brightness units, 0..1; the (H, W) ink before it was stretched: how far each pixel
    stands from the paper, in brightness units; how much the paper's lighting varies
    across the picture, the range of the coarse lighting map in brightness units).
    ``scene``: (H, W) bool, what is not paper (painted in the paper's shade;
    :attr:`~digitnet.surface.Surface.scene`), or None. Small pictures: see
    :func:`_small_ink_maps`, the same steps without the lighting map."""
    h, w = g.shape
    # 1. Polarity. The paper level is the median of the border: the digit rarely touches
    # the border, and a median ignores the few places where it does (this holds even for
    # a digit that fills its canvas, where local estimates would see mostly ink). The
    # border is a band _BORDER_BAND of the shorter side deep: the outermost pixels of a
    # large picture may be all a scan's dark edge or a frame's line, a few px wide.
    k = _band_depth(h, w)
    paper = median(_border_band(g, k))
    residual = g - paper
    sigma = _pixel_noise(g)
    dark_ink, contrast, stroke = _polarity(residual, sigma, float(paper) >= 0.5, scene)

    # 2. Uneven lighting: a paper level per region of a coarse grid instead of one
    # number (small pictures, screenshots or MNIST-like and flat, have just the one: see
    # _small_ink_maps).
    x = 1.0 - g if dark_ink else g  # light ink on dark, as in MNIST
    grid = _background_grid(x)
    lighting = float(grid.max() - grid.min())
    # Where the digit swamps whole regions (a bold digit filling its canvas), the grid
    # would mistake ink for paper. Shadows are real, but paper never gets within half
    # the ink contrast of the ink: cap the map there.
    paper_x = (1.0 - paper) if dark_ink else paper
    np.minimum(grid, np.float32(paper_x + 0.5 * contrast), out=grid)
    background = _upsample(grid, h, w)
    if stroke is not None:
        # A shadow's edge, or a lit patch's: a cell of the coarse grid that holds both
        # lit and shaded paper takes the lit paper's level, and the shaded part of it
        # would be ink. The paper under a stroke is the darkest within a few strokes'
        # width of it (a grey-level opening), which follows the edge.
        size = max(3, math.ceil(_OPENING * stroke * min(h, w)))
        np.maximum(background, _opening(x, size), out=background)
    ink = x - background

    # 3. Contrast: how bright is the ink core above the paper, and how much does the
    # paper itself vary? Pixel noise is not all of it: JPEG flattens noise into blocks,
    # and texture and leftover shading vary slowly.
    sigma = max(sigma, _paper_spread(ink))
    # The ink core is measured inside the border band, too: a scan's dark edge left at
    # the border is darker than any pen and would make the digit look faint. (If all the
    # ink lies in the band -- a thin 1 at the side of a wide picture -- it is that ink.)
    # A noiseless picture -- a phone's denoised photo, decoded at a quarter of its size --
    # leaves its paper a little above 0 all over where the lighting map ran under it: a
    # thin digit is then under 1% of the pixels clear of the noise, and their 99th
    # percentile is paper. Then the core is looked for again among the pixels standing
    # at least _MIN_INK_STRENGTH clear of the paper, the least a digit's strokes do (see
    # there). (Not _MIN_CONTRAST: a stain or a faint dot on blank paper, 12-17 grey
    # levels deep, was then a digit. Nor in small pictures: no draft averages their
    # grain away.)
    for floor in (_HALF_LEVEL, _MIN_INK_STRENGTH):
        level = (_ink_level(ink[k:h - k, k:w - k], sigma, floor) if min(h, w) > 4 * k
                 else None)
        if level is None:
            level = _ink_level(ink, sigma, floor)
        if level is not None:
            break
    else:
        raise ImageError("no digit found")
    # Soft threshold: noise up to a few sigmas goes to 0 and the ink core to 1; what lies
    # between keeps its grey level (for clean images sigma = 0 and nothing is cut).
    floor = np.float32(min(_NOISE_SIGMAS * sigma, 0.5 * level))
    raw = ink
    ink = (ink - floor) * np.float32(1.0 / (level - floor))
    np.clip(ink, 0.0, 1.0, out=ink)
    return ink, level, raw, lighting


def _small_ink_maps(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ink maps of small pictures of one size: (N, H, W) brightness, longer side
    under SMALL_SIDE -> ((N, H, W) ink strength 0..1: light ink on black, paper and
    noise removed; (N,) bool, False where no ink stands out and the map means nothing).

    The steps of :func:`_ink_map`, with one paper level per picture (a small picture is
    a crop, an icon or an MNIST digit: evenly lit), each worked on the whole stack at
    once: the same numbers as picture by picture, with a fraction of the numpy calls.
    """
    n, h, w = stack.shape
    # 1. Polarity: the paper level is the median of the border band (see _ink_map).
    k = _band_depth(h, w)
    border = _border_band(stack, k)
    mid = border.shape[1] // 2
    paper = np.partition(border, mid, axis=1)[:, mid]  # as median(): the upper one
    residual = stack - paper[:, None, None]
    sigma = _small_pixel_noise(stack)
    dark_ink = _votes(residual, sigma, paper.astype(np.float64) >= 0.5)[0]  # see _polarity
    ink = np.where(dark_ink[:, None, None], -residual, residual)  # light ink on dark

    # 3. Contrast (there is no step 2, uneven lighting, in a small picture): the ink
    # core's level, measured inside the border band unless the band is all there is.
    sigma = _max(sigma, _paper_spreads(ink.reshape(n, h * w)))
    if min(h, w) > 4 * k:
        level = _ink_levels(ink[:, k:h - k, k:w - k], sigma)
    else:
        level = np.full(n, np.nan)
    retry = np.isnan(level)
    if retry.any():
        level[retry] = _ink_levels(ink[retry], sigma[retry])
    # The soft threshold of _ink_map, in the same float32 arithmetic.
    found = ~np.isnan(level)
    level[~found] = 1.0
    floor = _min(_NOISE_SIGMAS * sigma, 0.5 * level).astype(np.float32)
    scale = np.float32(1.0) / (level.astype(np.float32) - floor)
    ink = (ink - floor[:, None, None]) * scale[:, None, None]
    np.clip(ink, 0.0, 1.0, out=ink)
    return ink, found


def _small_pixel_noise(stack: np.ndarray) -> np.ndarray:
    """The pixel noise of each small picture of an (N, H, W) stack, as a standard
    deviation: (N,) float64.

    As :func:`_pixel_noise` measures it in a large picture, from differences between
    horizontal neighbours -- but in a small picture (a 9x12 scan of a digit) stroke
    edges are no longer "a few pixels": most neighbours straddle one. Only pairs on the
    same side of the midway level (both paper, or both ink) measure the noise there,
    unless there are none.
    """
    n, h, w = stack.shape
    if w < 2:
        return np.zeros(n)
    diffs = np.abs(stack[:, :, 1:] - stack[:, :, :-1]).reshape(n, -1)
    mid = ((stack.max(axis=(1, 2)).astype(np.float64) + stack.min(axis=(1, 2))) / 2
           ).astype(np.float32)
    above = stack > mid[:, None, None]
    same = (above[:, :, 1:] == above[:, :, :-1]).reshape(n, -1)
    same |= ~same.any(axis=1, keepdims=True)  # no such pair: all pairs
    return _NOISE_PER_DIFF * _kth_of_chosen(diffs, same, lambda count: count // 2)


def _paper_spreads(ink: np.ndarray) -> np.ndarray:
    """:func:`_paper_spread` of each row of an (N, M) stack of ink maps' pixels: (N,)."""
    last = ink.shape[1] - 1
    lo, hi = int(0.1 * last), int(0.3 * last)
    part = np.partition(ink, (lo, hi), axis=1)
    return (part[:, hi] - part[:, lo]).astype(np.float64) / 0.757


# Half a grey level of 8-bit data: the least a pixel stands clear of the paper by, to count.
_HALF_LEVEL = 0.5 / 255


def _ink_levels(ink: np.ndarray, sigma: np.ndarray, floor: float = _HALF_LEVEL) -> np.ndarray:
    """:func:`_ink_level` of each ink map of an (N, H, W) stack, with their (N,) noise
    levels and one ``floor``: (N,) float64, NaN where there is no ink to speak of."""
    # Compared in float32, as a Python float against a float32 array is.
    clear = ink > _max(_NOISE_SIGMAS * sigma, floor).astype(np.float32)[:, None, None]
    level = _kth_of_chosen(ink, clear, lambda count: (0.99 * (count - 1)).astype(np.int64))
    level[~clear.reshape(len(ink), -1).any(axis=1)] = np.nan
    level[level < _max(_MIN_CONTRAST, _MIN_SNR * sigma)] = np.nan
    return level


def _max(a, b) -> np.ndarray:
    """Python's max(a, b) element by element: b only where it is larger (a NaN never is,
    which is where np.maximum would differ). Arrays (N,) or numbers."""
    return np.where(b > a, b, a)


def _min(a, b) -> np.ndarray:
    """Python's min(a, b) element by element (see _max)."""
    return np.where(b < a, b, a)


def _kth_of_chosen(values: np.ndarray, chosen: np.ndarray, kth) -> np.ndarray:
    """Per item of ``values`` (N, ...), the kth(count)-th smallest (from 0) of its values
    where ``chosen`` (bool, the same shape) holds, ``count`` being how many are chosen:
    (N,) float64 (meaningless for an item with none chosen). What np.partition does for
    one item, for items whose k differ: sorted, with the others pushed to the end."""
    if values.shape[0] == 1:  # one item (a photo's millions of pixels): np.partition
        row = values[0][chosen[0]]
        if row.size == 0:
            return np.zeros(1)
        k = int(kth(np.array([row.size]))[0])
        return np.partition(row, k)[k:k + 1].astype(np.float64)
    values, chosen = values.reshape(len(values), -1), chosen.reshape(len(values), -1)
    count = np.count_nonzero(chosen, axis=1)
    ordered = np.sort(np.where(chosen, values, np.inf), axis=1)
    k = np.clip(kth(count), 0, values.shape[1] - 1)
    return ordered[np.arange(values.shape[0]), k].astype(np.float64)


# A digit's strokes stand at least this far from the paper (brightness units, 0..1; 0.08
# is 20 of 255 grey levels): the faintest pencil in our photos stands 0.18 off, while the
# shading of a blank sheet or a shadow's soft rim mostly stays below 0.08. (0.1 refused
# more blank photos, but also pencil drawn 0.1 darker than the paper: grain and JPEG
# make it measure 0.09.)
_MIN_INK_STRENGTH = 0.08
# ... and _MIN_SCENE_INK_STRENGTH on a sheet or note found in a scene (a desk or a wall
# around it) and lit unevenly, its coarse lighting map spanning _SCENE_LIGHTING or more
# (5 grey levels; a flat scan beside a dark lid edge, which the surface search also
# takes for a desk: 0.001). The scene's light leaves more behind there: the rim of a lit
# patch, a strip of desk inside the sheet's outline and a note's shaded edge stand
# 0.08-0.13 off on the scene set's blank photos, its digits 0.19 and more (99%: 0.26).
_MIN_SCENE_INK_STRENGTH = 0.14
_SCENE_LIGHTING = 0.02


def _mark_strength(raw: np.ndarray, ink: np.ndarray, box) -> float:
    """How far the digit's strong pixels (ink > _STRONG inside ``box``, r0, r1, c0, c1)
    stand from the paper in brightness units: the 90th percentile of ``raw`` over them.

    The ink map is stretched so that its core reaches 1, which makes the faint smudges of
    a blank page as strong as pen strokes; ``raw`` is the map before the stretch."""
    r0, r1, c0, c1 = box
    values = raw[r0:r1, c0:c1][ink[r0:r1, c0:c1] > _STRONG]
    if values.size == 0:
        return 0.0
    k = int(0.9 * (values.size - 1))
    return float(np.partition(values, k)[k])


def _opening(x: np.ndarray, size: int) -> np.ndarray:
    """A grey-level opening of x (H, W) over size x size squares: the darkest level
    within reach of every pixel, where light strokes narrower than ``size`` vanish.

    Worked on a copy min-pooled by blocks of about size / _OPENING_STEPS pixels (the
    opening's own first step takes the minimum anyway) and interpolated back: the
    opening of a photo is smooth but for a shadow's edge, which it places to a block.
    Returns (H, W), read-only when interpolated (it is only read).
    """
    h, w = x.shape
    f = max(1, size // _OPENING_STEPS)
    # Min-pooling as a max-pool of 1 - x (0..1): the zeros it pads with stand for the
    # brightest level, which changes no block's minimum.
    small = 1.0 - pool_max(1.0 - x, f) if f > 1 else x
    k = max(1, round(size / f))
    opened = max_filter(min_filter(small, k), k)
    if f == 1:
        return opened
    gh, gw = opened.shape
    # Read-only: the caller only reads it (np.maximum into the lighting map).
    return resize(opened, gw * f, gh * f, Image.Resampling.BILINEAR, writable=False)[:h, :w]


def _polarity(residual: np.ndarray, sigma: float, light_paper: bool,
              scene: np.ndarray | None = None) -> tuple[bool, float, float | None]:
    """Is the ink darker than the paper? ``residual`` = image - paper level, (H, W).

    Ink is whichever side holds more of the *strong* departures: pixels at least half as
    far from the paper as the most extreme departure on either side, and beyond the
    noise. Counting only strong departures keeps uneven lighting -- a gentle slope to
    both sides of the paper level -- out of the vote. Light paper (level >= 0.5) almost
    always carries dark ink, so there the light side must win by a factor of two, and
    the other way round on dark paper; a tie (nothing stands out) goes to dark ink.

    In a large picture a win of light ink is checked: if its strong departures form a
    broad region along a side (a lit patch on a shaded sheet, a note lighter than the
    wall around it) and the dark ones are strokes, less than half of them in the border
    band (a vignette's dark corners lie there), those are the ink. The paper's sides
    are the picture's and, where ``scene`` (H, W, bool: what is no paper) is given, its
    edge against the scene.

    Returns (dark_ink, contrast, stroke): contrast is the most extreme departure on the
    ink side, averaged over 2x2 pixels so that a single hot pixel does not count;
    stroke is the dark ink's width as a share of the shorter side (see :func:`_width`)
    in a photo or beside a lit patch, else None.
    """
    [vote], [up], [down], [lighter], [darker] = _votes(residual[None], np.array([sigma]),
                                                        np.array([light_paper]))
    dark_ink, up, down = bool(vote), float(up), float(down)
    if not dark_ink and max(residual.shape) >= _BROAD_MIN_SIDE:
        # Light ink won -- perhaps with a lit patch on a shaded sheet, or a note lighter
        # than the wall the border shows. Ink is strokes: when the light departures form
        # a broad region running along a side and the dark ones are strokes, the region
        # is light falling on paper, or paper, and the dark strokes are the ink -- unless
        # half of them lie in the border band: a vignette's dark corners around its
        # bright middle.
        f = _pooling(residual.shape)
        light_mask, dark_mask = pool_max(lighter > 0, f), pool_max(darker > 0, f)
        light_width, dark_width = _width(light_mask), _width(dark_mask)
        if (light_width > _BROAD and dark_width < _BROADER * light_width
                and _along_border(light_mask, scene, f) >= _LIT_RUN
                and _in_border_band(darker) < _BAND_SHARE):
            return True, max(0.0, down), dark_width
    stroke = None
    if dark_ink and max(residual.shape) >= _OPENING_MIN_SIDE:
        stroke = _width(pool_max(darker > 0, _pooling(residual.shape)))
    if stroke == math.inf:
        stroke = None  # no strong dark departure: nothing to measure a stroke by
    return dark_ink, max(0.0, down if dark_ink else up), stroke


def _border_band(a: np.ndarray, k: int) -> np.ndarray:
    """The pixels of the border band ``k`` deep of each picture of ``a`` (..., H, W):
    (..., M), the rows along the top and bottom first."""
    lead = a.shape[:-2]
    return np.concatenate((a[..., :k, :].reshape(*lead, -1), a[..., -k:, :].reshape(*lead, -1),
                           a[..., k:-k, :k].reshape(*lead, -1),
                           a[..., k:-k, -k:].reshape(*lead, -1)), axis=-1)


def _votes(residual: np.ndarray, sigma: np.ndarray, light_paper: np.ndarray):
    """The polarity vote of :func:`_polarity` for each picture of a stack: ``residual``
    (N, H, W) image - paper level, ``sigma`` (N,) its noise, ``light_paper`` (N,) bool.

    Returns (dark ink wins (N,) bool, the most extreme departure up and down (N,) over
    2x2 averages, and the strong departures to the light and to the dark side, (N, H,
    W) each, 0 where not strong): see :func:`_polarity`.
    """
    n, h, w = residual.shape
    if min(h, w) >= 2:
        # Summed in place, in the same order: a photo's full-size temporaries are 3 MB.
        smooth = residual[:, :-1, :-1] + residual[:, 1:, :-1]
        smooth += residual[:, :-1, 1:]
        smooth += residual[:, 1:, 1:]
        smooth *= np.float32(0.25)
    else:
        smooth = residual
    up = smooth.max(axis=(1, 2)).astype(np.float64)
    down = -smooth.min(axis=(1, 2)).astype(np.float64)
    cut = _max(3.0 * sigma, 0.5 * _max(up, down)).astype(np.float32)[:, None, None]
    lighter = residual - cut
    np.maximum(lighter, np.float32(0.0), out=lighter)
    darker = np.negative(residual)
    darker -= cut
    np.maximum(darker, np.float32(0.0), out=darker)
    light = lighter.sum(axis=(1, 2)).astype(np.float64)
    dark = darker.sum(axis=(1, 2)).astype(np.float64)
    wins = np.where(light_paper, dark * _POLARITY_PRIOR >= light, dark >= light * _POLARITY_PRIOR)
    return wins, up, down, lighter, darker


def _pooling(shape) -> int:
    """The pooling factor that brings a picture of ``shape`` to at most
    _POLARITY_POOLED a side, for the masks of the polarity check."""
    return max(1, math.ceil(max(shape) / _POLARITY_POOLED))


def _band_depth(h: int, w: int) -> int:
    """Depth of the border band of an (h, w) picture: _BORDER_BAND of its shorter side,
    at least a pixel."""
    return max(1, round(_BORDER_BAND * min(h, w)))


def _along_border(pooled: np.ndarray, scene: np.ndarray | None, f: int) -> float:
    """How far the strong departures (``pooled``: bool mask, max-pooled by ``f``) run
    along the paper's sides, as a share of the picture's longer side: the longest run
    along one side of the picture, or how much of the paper's edge against ``scene``
    ((H, W) bool at full size, or None) they lie on, counted in pooled pixels of its
    8-connected rim (a slanted edge counts up to 1.4 times its length)."""
    run = border_runs(pooled)
    if scene is not None:
        outside = pool_max(scene.astype(bool, copy=False), f).view(np.uint8)
        edge = (max_filter(outside, 3) > outside)  # paper pixels next to the scene
        run = max(run, np.count_nonzero(edge & pooled) / max(pooled.shape))
    return run


def _in_border_band(departure: np.ndarray) -> float:
    """The share of the strong departures (H, W, > 0 where strong) lying in the border
    band (_BORDER_BAND of the shorter side deep)."""
    h, w = departure.shape
    k = _band_depth(h, w)
    strong = departure > 0
    total = np.count_nonzero(strong)
    if total == 0 or min(h, w) <= 2 * k:
        return 0.0
    return 1.0 - np.count_nonzero(strong[k:h - k, k:w - k]) / total


def _width(pooled: np.ndarray) -> float:
    """The mean width of the strong departures (``pooled``: bool mask, max-pooled to at
    most _POLARITY_POOLED a side), as a share of the shorter side (inf if there are
    none): see :func:`~digitnet.morphology.stroke_width`. Measured after a closing over
    3x3 pooled pixels, so that the paper's grain does not riddle a lit patch with
    holes."""
    if not pooled.any():
        return math.inf
    mask = pooled.astype(np.float32)
    closed = np.pad(min_filter(max_filter(mask, 3), 3), 1)
    return stroke_width(closed) / min(pooled.shape)


# How much more evidence the unusual polarity (light ink on light paper, dark on dark)
# needs to win; see _polarity.
_POLARITY_PRIOR = 2.0
# When light ink wins in a picture at least _BROAD_MIN_SIDE big (longer side), with
# departures wider than _BROAD of the shorter side (a bold digit filling its canvas:
# about 0.1) while the dark ones are less than _BROADER as wide, the dark ones are the
# ink -- if the light ones run along a side of the picture, or the paper's edge against
# the scene, for _LIT_RUN of its longer side, as light falling across a sheet does (a
# bold light digit on grey card is as broad). Measured on a copy pooled to at most
# _POLARITY_POOLED a side.
_BROAD_MIN_SIDE = 96
_BROAD = 0.1
_BROADER = 0.5
_LIT_RUN = 0.3
_POLARITY_POOLED = 200
# ... and if less than this share of the dark ones lies in the border band.
_BAND_SHARE = 0.5
# The paper under a dark stroke, in a photo at least _OPENING_MIN_SIDE big (longer side;
# smaller pictures are crops and canvases) or beside a lit patch, is the darkest within
# this many times the stroke's mean width: wider than a bold digit's widest part.
_OPENING = 5.0
_OPENING_MIN_SIDE = 400
# The opening is worked at about this many blocks across its window (see _opening).
_OPENING_STEPS = 8


# Which share of a grid cell's pixels, darkest first, is taken as its paper level (ink is
# bright by then). Low enough that a cell mostly covered by a thick stroke still finds
# its paper, high enough to sit inside the paper's noise rather than below it.
_PAPER_QUANTILE = 0.25


def _background_grid(x: np.ndarray) -> np.ndarray:
    """Paper level of each cell of a coarse grid over x (light ink on dark): (gh, gw).

    Each cell reports a low quantile of its pixels, which is paper as long as ink covers
    less than three quarters of it; a cell that a stroke still swamps stands out above
    its neighbours and is replaced by their median.
    """
    h, w = x.shape
    cell = max(8, math.ceil(max(h, w) / _MAP_CELLS))
    gh, gw = math.ceil(h / cell), math.ceil(w / cell)
    padded = np.pad(x, ((0, gh * cell - h), (0, gw * cell - w)), mode="edge")
    # A quantile needs no more than ~1000 pixels per cell: sample large cells sparsely.
    step = max(1, cell // 32)
    blocks = padded.reshape(gh, cell, gw, cell)[:, ::step, :, ::step]
    blocks = blocks.transpose(0, 2, 1, 3).reshape(gh, gw, -1)
    k = int(_PAPER_QUANTILE * (blocks.shape[2] - 1))
    grid = np.partition(blocks, k, axis=2)[:, :, k]
    return np.minimum(grid, _median3x3(grid))


def _upsample(grid: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear interpolation of a cell grid back to the (h, w) image it came from."""
    cell = max(8, math.ceil(max(h, w) / _MAP_CELLS))
    gh, gw = grid.shape
    full = resize(grid, gw * cell, gh * cell, Image.Resampling.BILINEAR)
    return full[:h, :w]


def _median3x3(grid: np.ndarray) -> np.ndarray:
    """Median over each cell's 3x3 neighbourhood (edges repeated); keeps linear gradients."""
    gh, gw = grid.shape
    p = np.pad(grid, 1, mode="edge")
    stack = np.stack([p[i : i + gh, j : j + gw] for i in range(3) for j in range(3)])
    return np.partition(stack, 4, axis=0)[4]


# Image statistics (noise, paper spread) are estimated from about this many pixels.
_SAMPLE = 40_000


def _pixel_noise(g: np.ndarray) -> float:
    """Pixel noise of an image, as a standard deviation (brightness units).

    Estimated from differences between horizontal neighbours: on paper and inside
    strokes they are pure noise (std sigma * sqrt 2), only the few pixels on stroke
    edges differ for real, and a median ignores those. Unlike the spread of the pixel
    values themselves, this does not care how much of the image is ink or how uneven
    the lighting is. Large images are subsampled (every step-th row).
    """
    if g.shape[1] < 2:
        return 0.0
    step = max(1, round(g.size / _SAMPLE))
    rows = g[::step]
    diffs = np.abs(rows[:, 1:] - rows[:, :-1])
    return _NOISE_PER_DIFF * float(median(diffs.ravel()))


# A normal distribution's sigma per median absolute difference of two of its samples.
_NOISE_PER_DIFF = 1.4826 / math.sqrt(2.0)


def _paper_spread(ink: np.ndarray) -> float:
    """How much the paper varies (noise, texture, leftover shading), as a std deviation.

    ``ink``: (H, W) with paper near 0 and ink positive. Ink only adds bright pixels, so
    the dark end of the distribution is pure paper: for a normal distribution the 10th
    and 30th percentiles are 0.757 standard deviations apart. With ink on up to half
    of the pixels the estimate grows by at most 45%, where a plain standard deviation or
    median absolute deviation would measure the ink instead.
    """
    step = max(1, round(math.sqrt(ink.size / _SAMPLE)))
    return float(_paper_spreads(ink[::step, ::step].reshape(1, -1))[0])


def _ink_level(ink: np.ndarray, sigma: float, floor: float = _HALF_LEVEL) -> float | None:
    """Contrast of the ink core above the paper, or None if there is no ink to speak of.

    The 99th percentile of the pixels that stand clear of the noise and of ``floor``
    (brightness units): robust to a few hot pixels, yet the full stroke brightness for
    antialiased or blurred strokes.
    """
    level = float(_ink_levels(ink[None], np.array([sigma]), floor)[0])
    return None if math.isnan(level) else level


def _ink_bounds(ink: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box (r0, r1, c0, c1), end-exclusive, of the digit in an ink map.

    Found from the strong ink only, with separated small specks at the edges dropped,
    then widened by a margin to take in the faint antialiased edge pixels next to it.
    """
    strong = ink * (ink > _STRONG)
    # Rows, then columns within those rows, then (if that dropped a speck) rows again
    # within those columns: a speck beside the digit is a separate run in one projection.
    r0, r1, _ = _trim_specks(strong.sum(axis=1))
    c0, c1, trimmed = _trim_specks(strong[r0:r1].sum(axis=0))
    if trimmed:
        r0, r1, _ = _trim_specks(strong[:, c0:c1].sum(axis=1))

    margin = max(1, math.ceil(0.1 * max(r1 - r0, c1 - c0)))
    r0m, r1m = max(0, r0 - margin), min(ink.shape[0], r1 + margin)
    c0m, c1m = max(0, c0 - margin), min(ink.shape[1], c1 + margin)
    window = ink[r0m:r1m, c0m:c1m] > FRINGE
    rows = np.flatnonzero(window.any(axis=1))
    cols = np.flatnonzero(window.any(axis=0))
    return r0m + rows[0], r0m + rows[-1] + 1, c0m + cols[0], c0m + cols[-1] + 1


def _stack_bounds(ink: np.ndarray, strong: np.ndarray) -> list[tuple | None]:
    """:func:`_ink_bounds` of each ink map of an (N, H, W) stack (``strong``: ink >
    _STRONG), found for all at once where it is simplest and most common: the strong
    ink's rows and columns each one solid run, no speck to trim. The others get None
    (:func:`_ink_bounds` does them one by one)."""
    n, h, w = ink.shape
    mass = ink * strong
    # As in _ink_bounds; the columns' sums over all rows are those over the digit's
    # rows, the others being empty.
    r0, r1, rows_solid = _solid_runs(mass.sum(axis=2) != 0)
    c0, c1, cols_solid = _solid_runs(mass.sum(axis=1) != 0)
    margin = np.maximum(1, np.ceil(0.1 * np.maximum(r1 - r0, c1 - c0)).astype(np.int64))
    r0m, r1m = np.maximum(0, r0 - margin), np.minimum(h, r1 + margin)
    c0m, c1m = np.maximum(0, c0 - margin), np.minimum(w, c1 + margin)
    at_row, at_col = np.arange(h), np.arange(w)
    in_rows = (at_row >= r0m[:, None]) & (at_row < r1m[:, None])  # (N, H)
    in_cols = (at_col >= c0m[:, None]) & (at_col < c1m[:, None])  # (N, W)
    fringe = ink > FRINGE
    fr0, fr1, _ = _solid_runs((fringe & in_cols[:, None, :]).any(axis=2) & in_rows)
    fc0, fc1, _ = _solid_runs((fringe & in_rows[:, :, None]).any(axis=1) & in_cols)
    simple = rows_solid & cols_solid
    return [(int(fr0[i]), int(fr1[i]), int(fc0[i]), int(fc1[i])) if simple[i] else None
            for i in range(n)]


def _solid_runs(marked: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of ``marked`` (N, M, bool): the span [start, end) from its first to its
    last True, and whether all between are True (False for a row with none)."""
    m = marked.shape[1]
    start = np.argmax(marked, axis=1)
    end = m - np.argmax(marked[:, ::-1], axis=1)
    solid = marked.any(axis=1) & (np.count_nonzero(marked, axis=1) == end - start)
    return start, end, solid


def _trim_specks(mass: np.ndarray) -> tuple[int, int, bool]:
    """Span [start, end) of a 1-D ink projection, minus small separated runs at its ends.

    Returns (start, end, trimmed) where trimmed says whether any run was dropped.
    """
    idx = np.flatnonzero(mass)
    if idx.size == 0:  # cannot happen for a real ink map, but never index an empty array
        raise ImageError("no digit found")
    if idx[-1] - idx[0] + 1 == idx.size:  # one solid run, the usual case
        return int(idx[0]), int(idx[-1]) + 1, False
    # Runs of consecutive non-empty positions; there are few, so a Python loop is fine.
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts = np.concatenate(([idx[0]], idx[breaks + 1]))
    ends = np.concatenate((idx[breaks] + 1, [idx[-1] + 1]))
    csum = np.concatenate(([0.0], np.cumsum(mass, dtype=np.float64)))
    run_mass = csum[ends] - csum[starts]
    total = run_mass.sum()

    def is_speck(run: int, gap: int, rest: int) -> bool:
        # Tiny, or smallish and far from the rest: the parts of a digit (the bar of a 5,
        # the hook of a 4) lie close together, dust and stray marks need not.
        share = run_mass[run] / total
        return share < _SPECK_SHARE or (share < _FAR_SPECK_SHARE and gap > _FAR_GAP * rest)

    lo, hi = 0, len(starts) - 1
    while lo < hi and is_speck(lo, starts[lo + 1] - ends[lo], ends[hi] - starts[lo + 1]):
        lo += 1
    while hi > lo and is_speck(hi, starts[hi] - ends[hi - 1], ends[hi - 1] - starts[lo]):
        hi -= 1
    return int(starts[lo]), int(ends[hi]), (lo, hi) != (0, len(starts) - 1)


def _place_centred(digits: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Paste each digit -- the box (N, 4: r0, r1, c0, c1) of its map in ``digits`` (N,
    H, W), at most BOX x BOX -- into a FIELD x FIELD field with its centre of mass at
    COM_TARGET: (N, 784) float32, a row per digit."""
    n, h, w = digits.shape
    r0, r1, c0, c1 = (boxes[:, j:j + 1] for j in range(4))     # each (N, 1)
    mass = np.where(_box_masks(digits, boxes), digits, 0)
    rows = mass.sum(axis=2, dtype=np.float64)                  # (N, H)
    total = rows.sum(axis=1, keepdims=True)
    total[total == 0] = 1.0                                   # (no digit is empty)
    com_r = ((np.arange(h) - r0) * rows).sum(axis=1, keepdims=True) / total
    com_c = ((np.arange(w) - c0) * mass.sum(axis=1, dtype=np.float64)).sum(
        axis=1, keepdims=True) / total
    # Round half up, as MNIST did; clamp so that no ink is pushed off the field.
    top = np.clip(np.floor(COM_TARGET - com_r + 0.5).astype(np.int64), 0, FIELD - (r1 - r0))
    left = np.clip(np.floor(COM_TARGET - com_c + 0.5).astype(np.int64), 0, FIELD - (c1 - c0))
    # Where each field pixel comes from in its map, and whether that lies in the box.
    at = np.arange(FIELD)
    src_r, src_c = at - top + r0, at - left + c0               # (N, FIELD) each
    in_r, in_c = (src_r >= r0) & (src_r < r1), (src_c >= c0) & (src_c < c1)
    picked = digits[np.arange(n)[:, None, None], np.where(in_r, src_r, 0)[:, :, None],
                    np.where(in_c, src_c, 0)[:, None, :]]
    field = np.where(in_r[:, :, None] & in_c[:, None, :], picked, np.float32(0))
    return field.reshape(n, FIELD * FIELD)


def raw_input(gray: np.ndarray) -> np.ndarray:
    """``--raw``: an image that is already MNIST-style goes in as it is.

    ``gray`` must be (28, 28), brightness 0..1, light ink on black. No inversion, no
    cropping, no centring (but a uniform image is still "no digit found"). Returns the
    (784,) float32 row-major flattening.
    """
    g = np.asarray(gray)
    if g.shape != (FIELD, FIELD):
        if g.ndim == 2:
            size = f"{g.shape[1]}x{g.shape[0]}"
        else:
            size = f"an array of shape {g.shape}"
        raise ImageError(f"--raw needs a 28x28 image, this one is {size}")
    if g.size and g.min() == g.max():
        # One flat colour is no digit, raw or not: an answer for it would be a guess.
        raise ImageError("no digit found")
    return np.ascontiguousarray(g, dtype=np.float32).reshape(FIELD * FIELD)

