"""Find the writing surface: the sheet, note, page or canvas the digit is written on.

People photograph a note lying on a desk, scan a page with the scanner's dark lid around
it, or screenshot a paint program with its title bar and toolbar. MNIST-style
normalisation assumes the whole picture is paper with a digit on it, so the desk, the
frame or the toolbar would be taken for ink. :func:`find_surface` looks for the surface
first and hands back only that part of the image, with whatever lies outside it painted
over in the paper's own shade:

1. *A light surface in a darker scene* (a sheet on a desk, a note on a table, a page in
   a scanner's edge). On a coarse copy of the image, thin dark strokes -- the ink,
   rulings -- are erased (a grey-level closing), then the brightness splits into a
   light and a dark population (Otsu's threshold). The largest light region, with its
   holes filled, is the surface -- if it is broad (a digit's light strokes on dark paper
   are not) and, when small, holds ink: dark strokes covering at most 12% of it, or up
   to 30% in thin, long strokes if it fills 3/4 of its box (a bold digit filling a
   note). If the closing joined two light surfaces lying close into no quadrilateral
   (a note beside a strip of paper), the largest light part before closing that holds
   ink is tried instead. Dark regions outside it count as scene only if
   they run along the image border for a long stretch, as a desk, a frame or a bar
   does (a digit that touches the border touches it with a few stroke ends only), and
   meet the surface in a sharp step (a shadow across the paper is a slope). In small
   pictures (crops, canvases) the surface must also hold ink of its own, or the dark
   part is the digit itself.
   If that finds no scene, a note or sheet whose edge is a step all round
   (a grey or yellow note on a white wall, in grey barely darker than the wall) is
   found between the edges of the closed image, as the region holding the strokes.
   For a colour picture a step in colour is an edge too: an orange note on a brown
   desk or a pink one on a grey wall can be as bright as what lies around it, and the
   desk's grain or the wall's lighting can vary more than the note's edge steps. A
   note's shadowed rim lies on its edge, in no region: a note may hold the strokes
   with its rim.
2. *Frame lines and bars along the border* (a 1-3 px frame, a title bar, a grey toolbar):
   rows and columns at the edges whose pixels nearly all lie beyond the paper's level
   are peeled off, up to a limit, if they end in a sharp step.

What is neither is left alone: most images are paper edge to edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .decode import SCENE_MIN_SIDE, resize, shrink
from .morphology import (border_runs, fill_holes, label, max_filter, median, median_filter,
                         min_filter, stroke_width)

__all__ = ["Surface", "find_surface"]

# Images smaller than this (longer side; a third of it for the shorter side) are taken to
# be all paper: a 28x28 digit, an icon, a small canvas, a strip. Scenes are photos, scans
# and screenshots, far larger.
_MIN_SIDE = SCENE_MIN_SIDE
# Longer side of the coarse copy the scene is analysed on.
_COARSE = 160
# Closing size, as a share of the coarse longer side: strokes and lines narrower than
# this are erased before the light surface is looked for.
_CLOSE_SHARE = 0.035
# Two brightness populations must be at least this far apart (0..1) and the dark one
# cover at least this share of the image to count as "a surface in a scene".
_MIN_SEPARATION = 0.15
_MIN_DARK_SHARE = 0.015
# ... and the surface must cover at least this share.
_MIN_SURFACE_SHARE = 0.04
# The light surface must hold a square with this share of the coarse longer side.
_CORE_SHARE = 0.15
# A light region covering less than this share of the picture could be light ink; it is a
# surface only when dark ink inside it covers at most _INK_SHARE of it.
_BROAD_SHARE = 0.3
_INK_SHARE = 0.12
# ... or at most _BOLD_INK_SHARE, in strokes at most _THIN_INK of the surface's longer
# side wide and _LONG_INK times as long, in a region filling _NOTE_FILL of its box: a
# bold digit filling a note (the loops of a bold light digit on dark paper are as large,
# but round, and a bold light digit fills less of its box).
_BOLD_INK_SHARE = 0.3
_THIN_INK = 0.15
_LONG_INK = 8.0
_NOTE_FILL = 0.75
# A light region fills at least this share of its bounding box to be a sheet (a
# rectangle turned by 30 degrees still fills 0.55 of it, a bold digit less).
_SHEET_FILL = 0.55
# ... and a clean, upright or slightly turned note or sheet fills at least this share.
_CLEAN_FILL = 0.8
# A dark region outside the surface is scene when it runs along one side of the image
# for at least this share of the image's longer side (a stroke touching the short side
# of a strip does not).
_SCENE_RUN = 0.3
# Pictures smaller than this (longer side) are crops and canvases rather than photos of
# a scene: a dark region along their border is only scene if the surface holds ink of its
# own, and only thin bands are peeled off as frame.
_PHOTO_SIDE = 400
_THIN_BAND = 0.03
_DARK_BAND = 0.3
# Other dark regions along the border whose level is within this share of the
# separation of the desk's are desk too.
_SAME_DESK = 0.25
# The step from scene to surface across their boundary: at least this (brightness) and
# this share of the two populations' separation.
_MIN_STEP = 0.08
_STEP_SHARE = 0.4
# The surface's rim (the sheet's edge, its shadow, the frame's antialiasing) is dropped:
# this many coarse pixels.
_RIM = 1
# Frame peeling: look at most this share of the side inward; a row is frame-like when
# fewer than half of its pixels lie within the paper's tolerance.
_PEEL_DEPTH = 0.15
_PAPER_TOLERANCE = 0.05
# A frame band may begin this share of the side inward (after a margin of paper).
_LEAD = 0.03


@dataclass
class Surface:
    """Where the writing surface is in an image, and the image restricted to it.

    ``box`` = (r0, r1, c0, c1), end-exclusive, in the pixels of the image given to
    :func:`find_surface`; ``scene`` a bool (r1 - r0, c1 - c0) mask of what inside the box
    is not surface (desk, frame, bar), or None; ``image`` the box's pixels with the scene
    painted in the paper's shade.
    """

    box: tuple[int, int, int, int]
    scene: np.ndarray | None
    image: np.ndarray


def find_surface(g: np.ndarray, chroma: np.ndarray | None = None) -> Surface:
    """The writing surface of a grayscale image ``g`` (H, W), brightness 0..1.

    ``chroma``: the image's colour, (h, w, 2) Cb and Cr at any size of the same aspect
    (:attr:`digitnet.decode.Picture.chroma`), or None: a note's edge may be a step in
    colour only. It may be a function of no arguments returning either, called only if
    the colour is looked at (a sheet lighter than its desk is found without it).
    Returns the whole image unchanged (``box`` covering it, ``scene`` None) when it is
    paper edge to edge, which is the usual case.
    """
    h, w = g.shape
    box, scene, image = (0, h, 0, w), None, g
    if max(h, w) >= _MIN_SIDE and min(h, w) >= _MIN_SIDE // 3:
        found = _light_surface(g, chroma)
        if found is not None:
            box, scene, image = found
        r0, r1, c0, c1 = _peel_frame(image)
        if (r0, r1, c0, c1) != (0, image.shape[0], 0, image.shape[1]):
            image = image[r0:r1, c0:c1]
            if scene is not None:
                scene = scene[r0:r1, c0:c1]
            box = (box[0] + r0, box[0] + r1, box[2] + c0, box[2] + c1)
    return Surface(box, scene, image)


def _light_surface(g, chroma):
    """(box, scene mask, painted image) of the surface in a scene, or None."""
    h, w = g.shape
    c = shrink(g, _COARSE)
    ch, cw = c.shape
    k = max(3, round(_CLOSE_SHARE * max(ch, cw)) | 1)
    b = min_filter(max_filter(c, k), k)  # closing: dark strokes narrower than k vanish
    scene = _light_scene(c, b, k, h, w)
    if scene is None:
        scene = _edged_note(c, b, k, _coarse_chroma(chroma, ch, cw))
    if scene is None:
        return None
    scene = _grow(scene, 2 * _RIM + 1)
    keep = ~scene
    if not keep.any():
        return None
    paper = _extend(b, keep)

    # Back to full resolution: the box around what is kept, the scene painted over.
    sy, sx = h / ch, w / cw
    rows, cols = np.flatnonzero(keep.any(axis=1)), np.flatnonzero(keep.any(axis=0))
    r0, r1 = math.floor(rows[0] * sy), min(h, math.ceil((rows[-1] + 1) * sy))
    c0, c1 = math.floor(cols[0] * sx), min(w, math.ceil((cols[-1] + 1) * sx))
    scene_full = _nearest(scene, h, w)[r0:r1, c0:c1]
    paper_full = resize(paper, w, h, Image.Resampling.BILINEAR, writable=False)[r0:r1, c0:c1]
    image = np.where(scene_full, paper_full, g[r0:r1, c0:c1])
    return (r0, r1, c0, c1), scene_full, image


def _light_scene(c, b, k, h, w):
    """The scene around a light surface in a darker one (coarse bool mask), or None.
    ``c``: the coarse image, ``b`` its closing of size ``k``; (h, w) the full image's
    size."""
    t, dark_level, light_level = _otsu(b)
    light = b > t
    dark_c = c < t   # dark on the coarse copy before closing: strokes included
    if light_level - dark_level < _MIN_SEPARATION or (~light).mean() < _MIN_DARK_SHARE:
        return None
    region = _largest(light)
    if region is None:
        return None
    # A surface is broad; light ink on dark paper (a chalkboard, MNIST itself) is light
    # too, but in strokes.
    if not _broad(region):
        return None
    surface = fill_holes(region)
    box_fill = _box_fill(surface)
    if box_fill < _SHEET_FILL:
        # Two notes or sheets lying close: the closing bridged the dark gap between them.
        # The largest light part of the image before closing may be one of them, if it
        # holds ink (a lit patch on a dark board beside a light digit holds none).
        apart = _largest(light & ~dark_c)
        filled = fill_holes(apart) if apart is not None else None
        if (apart is not None and _broad(apart) and _box_fill(filled) >= _SHEET_FILL
                and (filled & ~apart & dark_c).any()):
            region = _largest(light & _grow(apart, k))  # with its strokes, closed
            surface = fill_holes(region)
            box_fill = _box_fill(surface)
    if surface.mean() < _MIN_SURFACE_SHARE:
        return None
    if box_fill < _SHEET_FILL:
        # Not shaped like a sheet or a note (a quadrilateral, turned or cut by the frame,
        # fills most of its box): a bold light digit on dark paper.
        return None
    if region.mean() < _BROAD_SHARE:
        # Smaller light regions are surfaces only if they hold ink: dark strokes inside,
        # a small part of the region (the inside of a bold light 0 is a large part).
        ink = surface & dark_c
        if not ink.any() or ink.sum() > _INK_SHARE * surface.sum() and not (
                box_fill >= _NOTE_FILL and ink.sum() <= _BOLD_INK_SHARE * surface.sum()
                and _thin(ink, surface)):
            return None

    # Dark regions outside the surface: scene if they line the border, else they are
    # the ink of a digit that reaches the border and stay.
    outside, m = label(~surface & ~light)
    scene = np.zeros_like(surface)
    near_surface = _grow(surface, 5)
    separation = light_level - dark_level
    rest = []
    for i in range(1, m + 1):
        part = outside == i
        runs = border_runs(part)
        if runs >= _SCENE_RUN and _sharp_edge(b, part, surface, near_surface, separation):
            scene |= part
        elif runs > 0:
            rest.append(part)
    if not scene.any():
        return None
    # Once the desk is known, its other corners count too, however little of the border
    # they touch (a sheet running out of the frame leaves small triangles of desk).
    desk = median(b[scene])
    for part in rest:
        if (abs(median(b[part]) - desk) <= _SAME_DESK * separation
                and _sharp_edge(b, part, surface, near_surface, separation)):
            scene |= part
    # The closing erased slivers of desk narrower than k (where the sheet runs out of
    # the frame); on the image before closing they are dark and join the desk.
    dark, nd = label(dark_c)
    touching = np.zeros(nd + 1, bool)
    touching[dark[scene]] = True
    touching[0] = False
    scene |= touching[dark]
    # Where the light part is a clean quadrilateral (a note, a sheet), ink well inside
    # it counts (where a bold digit's thin parts were closed away, they still touch the
    # rest of it); else only its holes do (a bold light digit's loops were closed too).
    held = _inside(surface, k) if box_fill >= _CLEAN_FILL else surface & ~region
    if max(h, w) < _PHOTO_SIDE and not (held & dark_c).any():
        # A small picture whose light part holds no ink: the dark part *is* the digit,
        # drawn to fill its canvas and touching the edges (a photo of a desk is large).
        return None
    return scene


def _largest(mask: np.ndarray) -> np.ndarray | None:
    """The largest connected part of a bool mask, or None if it is empty."""
    labels, n = label(mask)
    if n == 0:
        return None
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0
    return labels == int(sizes.argmax())


def _thin(ink: np.ndarray, surface: np.ndarray) -> bool:
    """Is ``ink`` (coarse bool mask) in strokes: at most _THIN_INK of ``surface``'s
    (coarse bool mask) longer side wide, and in all _LONG_INK times longer than wide
    (a loop's inside is round: 1.3 to 5)?"""
    width = stroke_width(np.pad(ink, 1).astype(np.float32))
    side = max(_box_size(surface))
    return width <= _THIN_INK * side and np.count_nonzero(ink) >= _LONG_INK * width ** 2


def _coarse_chroma(chroma, ch: int, cw: int) -> np.ndarray | None:
    """The (ch, cw, 2) coarse copy of ``chroma`` (any size, or a function that makes
    it: see :func:`find_surface`), or None."""
    if callable(chroma):
        chroma = chroma()
    if chroma is None:
        return None
    if chroma.ndim != 3 or chroma.shape[2] != 2 or 0 in chroma.shape:
        raise ValueError(f"chroma must have shape (h, w, 2), not {chroma.shape}")
    if chroma.shape[:2] == (ch, cw):
        return chroma.astype(np.float32, copy=False)
    filt = Image.Resampling.BOX if chroma.shape[0] > ch else Image.Resampling.BILINEAR
    return np.stack([resize(chroma[..., i], cw, ch, filt) for i in range(2)], axis=-1)


def _edged_note(c, b, k, cc=None):
    """The scene around a note or sheet whose edge is a step all round, as a coarse
    bool mask, or None: a yellow or grey note on a white wall (in grey, barely darker
    than the wall, whose lighting varies more across it), a note lighter than a desk.

    The closing ``b`` keeps the edges of sheets and erases the digit's strokes. Pixels
    next to a step steeper than _EDGE_STEP are edge; the note is the region between the
    edges that holds (nearly) all the strokes -- dark, thin and clear of the closing
    around them. A region that leaks out through a gap in its edge is too large or no
    sheet's shape, and the picture is left whole. ``k``: the closing's size; ``cc``: the
    picture's colour at the coarse size, (h, w, 2) Cb and Cr, or None: steps in colour
    are edges too, and a note may differ from its surroundings in colour only.
    """
    tophat = b - c
    strokes = tophat > max(_MIN_SEPARATION, 0.5 * float(tophat.max()))
    n_strokes = int(np.count_nonzero(strokes))
    if n_strokes < _NOTE_INK * c.size:
        return None
    edge = np.zeros(b.shape, bool)
    dy = np.abs(np.diff(b, axis=0)) > _EDGE_STEP
    dx = np.abs(np.diff(b, axis=1)) > _EDGE_STEP
    flat = None
    if cc is not None:
        # A step in colour is an edge too. The strokes have a colour of their own (a
        # blue pen on a yellow note): the note's colour around them is carried over
        # them, and a median as wide as the closing erases thin coloured lines (blue
        # rulings, a red margin) as the closing erases dark ones.
        flat = np.stack([median_filter(_extend(cc[..., i], ~_grow(strokes, 5)), k)
                         for i in range(2)], -1)
        dy |= np.abs(np.diff(flat, axis=0)).max(axis=2) > _CHROMA_EDGE_STEP
        dx |= np.abs(np.diff(flat, axis=1)).max(axis=2) > _CHROMA_EDGE_STEP
    edge[1:] |= dy
    edge[:-1] |= dy
    edge[:, 1:] |= dx
    edge[:, :-1] |= dx
    labels, n = label(~edge)
    found = _note_holding(labels, n, strokes, n_strokes, edge, b, flat)
    if found is None:
        found = _rimmed_note(labels, n, strokes, n_strokes, edge, b, flat)
    return found


def _note_holding(labels, n, strokes, n_strokes, edge, b, flat):
    """The scene around the region between edges that holds the strokes, or None."""
    held = np.bincount(labels[strokes], minlength=n + 1)
    # Strokes on an edge (where a bold stroke outlasts the closing, or a pen's colour
    # fringe is a step) belong to no region; the rest must lie in one.
    placed = n_strokes - int(held[0])
    held[0] = 0
    i = int(held.argmax())
    if placed < 0.5 * n_strokes or held[i] < _NOTE_HOLDS * placed:
        return None
    region = labels == i
    note = fill_holes(region)
    if not _MIN_SURFACE_SHARE <= note.mean() <= _NOTE_MAX_SHARE:
        return None
    if not _broad(region | (note & edge)) or _box_fill(note) < _SHEET_FILL:
        return None
    return ~note if _steps_out(note, b, flat) and not _crossed(note, strokes) else None


def _crossed(note: np.ndarray, strokes: np.ndarray) -> bool:
    """Does a stroke run from well inside ``note`` out across its edge? Then the digit is
    written across the boundary of two notes or two tints of paper, and is not the
    note's. (A shadowed rim lies along the edge and reaches neither far in nor far out.)"""
    parts, m = label(strokes)
    c = _CROSSING
    deep = _inside(note, c)
    deep[:c] = deep[-c:] = deep[:, :c] = deep[:, -c:] = False  # the frame cuts, no edge
    inner = np.zeros(m + 1, bool)
    inner[parts[strokes & deep]] = True
    inner[0] = False
    outer = np.zeros(m + 1, bool)
    outer[parts[strokes & ~_grow(note, 2 * c + 1)]] = True
    return bool((inner & outer).any())


def _rimmed_note(labels, n, strokes, n_strokes, edge, b, flat):
    """The scene around a note whose strokes lie in it or on its rim, or None.

    A note on a wall casts a shadow along its sides: thin and dark, so it counts among
    the strokes, but it lies on the note's edge or just outside, in no region, and a
    blank note's strokes are that rim alone. A region between edges, clear of the image
    border and shaped like a note, with (nearly) all the strokes in it or within 6
    coarse pixels around it, is such a note -- if, once the thin rim is closed away, what
    lies around it is what lies further out (the loop of a bold digit is ringed by its
    stroke instead) and it steps from its surroundings.
    """
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0
    on_border = np.zeros(n + 1, bool)
    for side in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        on_border[side] = True
    for i in np.argsort(sizes)[::-1]:
        if sizes[i] < _MIN_SURFACE_SHARE * labels.size:
            return None
        if on_border[i]:
            continue
        region = labels == i
        note = fill_holes(region)
        if (note.mean() > _NOTE_MAX_SHARE or not _broad(region | (note & edge))
                or _box_fill(note) < _SHEET_FILL):
            continue
        band = _grow(note, 13)
        held = int(np.count_nonzero(strokes & band))
        if held < _NOTE_HOLDS * n_strokes or band.all():
            continue
        # Around a note, once its thin rim is closed away, lies what lies further out
        # (the wall); around the loop of a bold digit lies its bold stroke.
        if abs(median(b[band & ~note]) - median(b[~band])) >= _MIN_STEP:
            continue
        if _steps_out(note, b, flat) and not _crossed(note, strokes):
            return ~note
    return None


def _steps_out(note, b, flat) -> bool:
    """Does ``note`` differ from what lies around it, three pixels out: a step in
    brightness (either way) or, given the colour ``flat``, in colour? (A note's colour
    is compared with what lies a little further out: its edge and shadow are a band of
    mixed colour.)"""
    around = _grow(note, 7) & ~note
    rim = note & _grow(~note, 7)
    if not around.any() or not rim.any():
        return False
    if abs(median(b[around]) - median(b[rim])) >= _MIN_STEP:
        return True
    return flat is not None and (
        _colour_step(flat, _grow(note, 13) & ~_grow(note, 7), rim) >= _MIN_CHROMA_STEP)


def _colour_step(cc, a, b) -> float:
    """How far apart the median colours (Cb, Cr) of two masks of ``cc`` are."""
    return float(max(abs(median(cc[a][:, i]) - median(cc[b][:, i])) for i in range(2)))


# Strokes inside a note: at least this share of the picture's pixels, and this share of
# all of them inside it. A note fills at most this share of the picture (else it is the
# picture). A step between coarse neighbours steeper than this is an edge.
_NOTE_INK = 0.001
_NOTE_HOLDS = 0.9
_NOTE_MAX_SHARE = 0.8
_EDGE_STEP = 0.035
# The same in colour (Cb or Cr, about -0.5..0.5), and the least colour step between a
# note and what lies around it.
_CHROMA_EDGE_STEP = 0.02
_MIN_CHROMA_STEP = 0.05
# A stroke that reaches this many coarse pixels inside a note and as many outside it
# crosses the note's edge.
_CROSSING = 3


def _inside(mask: np.ndarray, k: int) -> np.ndarray:
    """``mask`` without a rim of k pixels (coarse) along its boundary."""
    return min_filter(mask.astype(np.uint8), 2 * k + 1).astype(bool)


def _grow(mask: np.ndarray, size: int) -> np.ndarray:
    """``mask`` grown by a ``size`` x ``size`` square (size odd: (size - 1) / 2 pixels)."""
    return max_filter(mask.astype(np.uint8), size).astype(bool)


def _broad(region: np.ndarray) -> bool:
    """Does a square of _CORE_SHARE of the (coarse) picture's longer side fit inside
    ``region``? Surfaces are broad; strokes, however bold, are not."""
    core = max(3, round(_CORE_SHARE * max(region.shape)))
    return bool(min_filter(region.astype(np.uint8), core).any())


def _box_size(mask: np.ndarray) -> tuple[int, int]:
    """(height, width) of a non-empty ``mask``'s bounding box."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def _box_fill(mask: np.ndarray) -> float:
    """The share of its bounding box that a non-empty ``mask`` fills: a quadrilateral,
    turned or cut by the frame, fills most of it."""
    bh, bw = _box_size(mask)
    return float(mask.sum()) / (bh * bw)


def _sharp_edge(b, part, surface, near_surface, separation) -> bool:
    """Does the brightness step sharply from ``part`` to the surface next to it?

    A sheet's edge against the desk, a frame or a bar is a step; a shadow or uneven light
    across the paper is a slope, and the threshold merely cuts it somewhere. Compares
    the two sides within two coarse pixels of where they meet.
    """
    inner = part & near_surface
    outer = surface & _grow(part, 5)
    if not inner.any() or not outer.any():
        return True  # nothing to compare: cannot be a slope
    step = median(b[outer]) - median(b[inner])
    return step >= max(_MIN_STEP, _STEP_SHARE * separation)


def _otsu(b: np.ndarray) -> tuple[float, float, float]:
    """Otsu's threshold of values in 0..1: (threshold, dark class mean, light class mean)."""
    hist = np.bincount(np.clip((b.ravel() * 255).astype(np.int64), 0, 255), minlength=256)
    p = hist / hist.sum()
    levels = (np.arange(256) + 0.5) / 256
    w0 = np.cumsum(p)
    m0 = np.cumsum(p * levels)
    total = m0[-1]
    w1 = 1.0 - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total * w0 - m0) ** 2 / (w0 * w1)
    between[~np.isfinite(between)] = 0.0
    i = int(between.argmax())
    dark = m0[i] / w0[i] if w0[i] > 0 else 0.0
    light = (total - m0[i]) / w1[i] if w1[i] > 0 else 1.0
    return (i + 1) / 256, float(dark), float(light)


def _extend(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``values`` (h, w) where ``known``, extended outward: each unknown pixel takes the
    mean of its known 4-neighbours, ring by ring (so the paper's own shading, not a flat
    average, continues into the painted scene).

    Each ring is the unknown pixels next to the last one, found from it: the work
    follows the pixels filled in, not the rings times the image. The map is worked with
    a one-pixel margin that is never known, so that every pixel has four neighbours and
    a ring's are one (n, 4) table."""
    h, w = known.shape
    wp = w + 2
    v = np.zeros((h + 2) * wp, np.float32)
    k = np.zeros((h + 2, wp), bool)
    k[1:-1, 1:-1] = known
    v.reshape(h + 2, wp)[1:-1, 1:-1] = np.where(known, values, 0.0)
    todo = ~k  # pixels still to fill: none in the margin
    todo[0], todo[-1], todo[:, 0], todo[:, -1] = False, False, False, False
    k, todo = k.ravel(), todo.ravel()
    # The 4 neighbours in a fixed order (below, above, right, left), which fixes the
    # order of the float sums; the margin adds nothing.
    steps = np.array([wp, -wp, 1, -1])
    ring = np.flatnonzero(todo & _next_to(k.reshape(h + 2, wp)).ravel())
    while ring.size:
        nb = ring[:, None] + steps          # (n, 4)
        vals = v[nb]  # 0 where not known yet: unknown pixels hold 0 until filled
        # Summed from +0.0, neighbour after neighbour (so four -0.0s give +0.0).
        total = np.float32(0.0) + vals[:, 0]
        total += vals[:, 1]
        total += vals[:, 2]
        total += vals[:, 3]
        v[ring] = total / np.count_nonzero(k[nb], axis=1).astype(np.float32)
        k[ring] = True
        todo[ring] = False
        # The next ring: this one's neighbours still to fill, each once.
        nbs = nb.ravel()
        nbs = np.sort(nbs[todo[nbs]])
        ring = nbs[np.concatenate(([True], nbs[1:] != nbs[:-1]))] if nbs.size else nbs
    return v.reshape(h + 2, wp)[1:-1, 1:-1].copy()


def _next_to(mask: np.ndarray) -> np.ndarray:
    """Pixels with a 4-neighbour in ``mask`` (H, W) bool."""
    out = np.zeros_like(mask)
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    return out


def _nearest(mask: np.ndarray, h: int, w: int) -> np.ndarray:
    """A coarse mask scaled to (h, w) by nearest neighbour."""
    ch, cw = mask.shape
    rows = np.minimum((np.arange(h) * ch) // h, ch - 1)
    cols = np.minimum((np.arange(w) * cw) // w, cw - 1)
    # The maps are non-decreasing: each coarse row (column) is repeated a whole number
    # of times, which np.repeat copies in blocks, where indexing would gather each pixel.
    rows = np.bincount(rows, minlength=ch)
    return mask.repeat(rows, axis=0).repeat(np.bincount(cols, minlength=cw), axis=1)


def _peel_frame(g: np.ndarray) -> tuple[int, int, int, int]:
    """(r0, r1, c0, c1): ``g`` without the frame lines and bars along its edges.

    Going inward from an edge, rows (columns) that lie, all but a tenth of their pixels,
    beyond a tolerance of the paper's level (the median over all rows) are frame, as
    long as they end in a sharp step to the paper: a frame line, a bar or a scanner's
    edge does, a lighting gradient does not. At most _PEEL_DEPTH of the side is peeled.
    """
    h, w = g.shape
    small = max(h, w) < _PHOTO_SIDE
    rows = _line_levels(g, small)
    cols = _line_levels(g.T, small)
    r0, r1 = _depth(rows, small), h - _depth(rows[::-1], small)
    c0, c1 = _depth(cols, small), w - _depth(cols[::-1], small)
    return r0, r1, c0, c1


def _line_levels(g: np.ndarray, strict: bool) -> np.ndarray:
    """Each row of ``g`` (sampled along it) -> (its low, 50th, high percentile): (H, 3),
    low/high the 10th/90th, or the 2nd/98th for a crop or a canvas (``strict``), where a
    frame must run along all of the side to tell it from a digit touching it."""
    sample = g[:, :: max(1, g.shape[1] // 256)]
    n = sample.shape[1] - 1
    q = 0.02 if strict else 0.1
    ks = (int(q * n), n // 2, int((1 - q) * n))
    return np.partition(sample, ks, axis=1)[:, ks]


def _depth(levels: np.ndarray, small: bool) -> int:
    """How many leading entries of ``levels`` (rows from one edge inward) are frame.
    ``small``: the picture is a crop or a canvas, where a thick band along an edge is
    more likely a stroke of a digit that fills it (the bar of a 7, a blurred edge)."""
    n = levels.shape[0]
    limit = int(_PEEL_DEPTH * n)
    if limit < 1:
        return 0
    paper = median(levels[:, 1])  # most rows are paper, whatever a digit covers
    # Frame all along: all but a few % of the row lie beyond the paper on one side. A
    # digit's stroke covers a stretch of an edge row, a frame line or a bar all of it.
    low, high = levels[: limit + 1, 0], levels[: limit + 1, 2]
    off = (high < paper - _PAPER_TOLERANCE) | (low > paper + _PAPER_TOLERANCE)
    mid = levels[: limit + 1, 1]
    # The band may start a little way in (a scanner's white margin, then its dark edge).
    lead = max(1, round(_LEAD * n))
    starts = np.flatnonzero(off[:lead])
    if starts.size == 0:
        return 0
    start = int(starts[0])
    ends = np.flatnonzero(~off[start:])
    if ends.size == 0:
        return 0  # frame-like all the way to the limit: not a frame
    depth = start + int(ends[0])
    # It must end in a step, not a slope: within a few rows of its inner end, the band
    # still lies well beyond the paper (twice the tolerance).
    near = mid[max(start, depth - max(2, round(0.01 * n))):depth]
    if not (np.abs(near - paper) >= 2 * _PAPER_TOLERANCE).any():
        return 0
    # A thick band may be the digit itself (a bold 8 filling its canvas): only a light
    # one (a grey toolbar, a scanner's white margin) is peeled, and not in a small
    # picture. Thick dark bars and edges are the surface finder's (they run along the
    # border).
    thick = depth - start > _THIN_BAND * n
    if thick and (small or abs(median(mid[start:depth]) - paper) >= _DARK_BAND):
        return 0
    return depth
