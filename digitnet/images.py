"""Any image file -> the network's 784 inputs, the way MNIST was made.

The network was trained on MNIST, so it only understands pictures that look like MNIST:
a 28x28 field, *light ink on a black background*, brightness 0..1, the digit scaled so
that its longer side is 20 pixels, and placed so that its centre of mass (the
brightness-weighted average pixel position) sits at the centre of the field.

People hand us something else: phone photos and scans of dark ink on light paper,
paint-program canvases, screenshots, transparent PNGs. This module bridges the gap in
two steps:

``read_image(source)``
    decode any file Pillow can read (recognised by its content, never its extension)
    into a float32 grayscale array of shape (H, W), 0.0 = black .. 1.0 = white, with
    EXIF orientation applied and transparency composited onto paper.

``normalise(gray)``
    repeat MNIST's own preprocessing on that array: decide which side is ink, remove
    the paper (including uneven lighting and noise), crop to the ink, scale the longer
    side to 20 px, centre the mass in 28x28. Returns the (784,) float32 input vector.

``load_input(source)`` does both; ``raw_input`` is the ``--raw`` escape hatch that feeds
an already MNIST-style 28x28 image through untouched.

Every way an input can be bad -- unreadable, corrupt, truncated, not an image, too big,
blank -- raises :class:`ImageError` with a one-line message meant for a human. Nothing
else escapes, because Pillow's decoders raise a zoo of exception types on hostile input.
"""

from __future__ import annotations

import io
import math
import os
import re
import warnings
from typing import Union

import numpy as np
from PIL import Image

__all__ = [
    "ImageError",
    "MAX_FILE_BYTES",
    "MAX_PIXELS",
    "MAX_SIDE",
    "WORK_SIDE",
    "IMAGE_EXTENSIONS",
    "read_image",
    "normalise",
    "raw_input",
    "load_input",
    "list_image_files",
]

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]

# --- limits -----------------------------------------------------------------------------
# A hostile or accidental input must fail fast and cheaply, not exhaust memory. The
# dimensions are checked from the header, *before* any pixel is decoded: a few hundred
# bytes of PNG can claim 100000x100000 pixels (40 GB once decoded).

#: Largest file we read at all (bytes). Real photos are a few MB.
MAX_FILE_BYTES = 64 * 1024 * 1024
#: Largest decoded image (width * height). 50 MP covers every phone camera.
MAX_PIXELS = 50_000_000
#: Largest width or height (pixels); also stops absurd strips such as 1,000,000x1.
MAX_SIDE = 30_000
#: ``load_input`` shrinks larger images to this longer side before normalising. The digit
#: ends up 20 px tall, so detail beyond this only costs time: a 12 MP phone photo is
#: decoded at reduced scale (JPEG "draft" mode) and processed ~10x faster.
WORK_SIDE = 1280


class ImageError(ValueError):
    """An input image could not be turned into network inputs.

    The message is one line, for a human, and does not contain the file name (the
    command line prefixes ``digitnet: FILE: ``).
    """


# --- MNIST geometry ------------------------------------------------------------------------
FIELD = 28  # the network sees FIELD x FIELD pixels
BOX = 20  # MNIST scaled every digit so that its longer side is BOX pixels
# Row/column index (pixel-centre coordinates, 0..27) where MNIST put each digit's centre
# of mass. Measured on the 10,000 test digits: mean 13.99 / 14.01, and placing each digit
# at floor(14.0 - com + 0.5) reproduces MNIST's own placement for 100% of them.
COM_TARGET = 14.0


# --- reading ------------------------------------------------------------------------------


def read_image(source: Source, *, max_side: int | None = None) -> np.ndarray:
    """Decode an image file into grayscale brightness, before any polarity decision.

    ``source`` is a path (``str`` or ``os.PathLike``) or the file's content as ``bytes``.
    The format is recognised from the content (PNG, JPEG, GIF, BMP, TIFF, WebP, and
    everything else Pillow reads); the extension is ignored. Multi-frame files (animated
    GIF/WebP/PNG, multi-page TIFF) give their first frame.

    Returns a float32 array of shape (H, W) -- rows first, as the image appears on screen
    after its EXIF orientation is applied -- with brightness 0.0 = black .. 1.0 = white.
    Colour is reduced to luma (ITU-R 601: 0.299 R + 0.587 G + 0.114 B). Transparent
    pixels are composited onto paper: white paper normally; black paper when the only
    opaque pixels are light ink (a white digit on a transparent canvas would otherwise
    vanish); and, when most pixels are opaque, paper of the opaque pixels' own median
    shade (a photo with transparent rounded corners keeps its paper colour).

    ``max_side``: if given, images whose longer side exceeds it are reduced (area
    averaging) to that longer side -- cheaper for huge photos, and enough for a digit
    that ends up 20 pixels tall. ``None`` (default) keeps full resolution.

    Raises :class:`ImageError` for anything that is not a readable image of sane size.
    """
    data = _read_bytes(source)
    formats = _import_plugin_for(data)
    try:
        # Pillow reports suspicious sizes as a *warning*; a local filter turns it into an
        # error without touching global state (Image.MAX_IMAGE_PIXELS stays as it is).
        # Pillow's other warnings (odd EXIF, palette transparency...) mean nothing to a
        # user of a digit classifier, so they are silenced here rather than printed.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=formats) as im:  # lazy: header only
                if im.format in _REFUSED_FORMATS:
                    raise ImageError(_REFUSED_FORMATS[im.format])
                _check_dimensions(im.size)
                if max_side and im.format == "JPEG" and max(im.size) > max_side:
                    # libjpeg can decode at 1/2, 1/4 or 1/8 scale almost for free; draft
                    # picks the smallest scale that is still at least the requested size.
                    scale = max_side / max(im.size)
                    im.draft(None, (math.ceil(im.width * scale), math.ceil(im.height * scale)))
                im.load()  # the actual decoding
                im = _apply_orientation(im)
                gray = _to_gray(im)
    except ImageError:
        raise
    except Image.UnidentifiedImageError:
        raise ImageError(_unidentified_message(data)) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(_bomb_message(exc, data)) from None
    except MemoryError:
        raise ImageError("image too large to decode (out of memory)") from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises OSError, SyntaxError, struct.error, ...
        raise ImageError(f"cannot decode image: {_one_line(exc)}") from None

    if max_side and max(gray.shape) > max_side:
        gray = _shrink(gray, max_side)
    return gray


# PNG and JPEG, recognised by their first bytes, and the Pillow plugin that reads them.
_COMMON_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "PngImagePlugin", ("PNG",)),
                      (b"\xff\xd8\xff", "JpegImagePlugin", ("JPEG",)))


def _import_plugin_for(data: bytes):
    """For a PNG or JPEG file, import only its Pillow plugin; return the formats to try.

    Opening a file object, Pillow first imports its five common plugins (BMP, GIF, JPEG,
    PPM, PNG, with what they import) -- about a tenth of a one-file ``digitnet classify``.
    Importing just the one needed and marking that first step done (Pillow's private
    ``_initialized`` flag) saves that; any other format still opens, because when no
    loaded plugin accepts a file Pillow imports all of its plugins and tries again.
    Naming the format (``Image.open(..., formats=...)``) also spares Pillow asking every
    loaded plugin in turn whether it recognises the file, once all of them are loaded
    (listing a directory loads them): ~70 us per small PNG. Returns None (try every
    format) for anything that is not clearly PNG or JPEG.
    """
    for signature, plugin, formats in _COMMON_SIGNATURES:
        if data.startswith(signature):
            if getattr(Image, "_initialized", 2) < 1:
                import importlib
                importlib.import_module(f"PIL.{plugin}")
                Image._initialized = 1
            return formats
    return None


# Formats Pillow recognises but must never decode here. EPS is PostScript, a programming
# language: Pillow decodes it by running Ghostscript on the file, so a "digit.png" that
# holds PostScript would hand untrusted code to an interpreter with a long record of
# sandbox escapes. Refused on the content (checked before load(), which runs gs).
_REFUSED_FORMATS = {
    "EPS": "PostScript/EPS files are not supported (decoding them would run Ghostscript); "
           "export it as PNG first",
}


def _read_bytes(source: Source) -> bytes:
    """The file's content, at most MAX_FILE_BYTES; OS errors become ImageError."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if len(data) > MAX_FILE_BYTES:
            raise ImageError(_too_big_file_message(len(data)))
    elif isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as f:
                # Read one byte past the limit rather than trusting stat(): pipes and
                # devices (/dev/zero) have no size, and files can grow while we read.
                # But a regular file's size sizes the first read: asking for 64 MiB at
                # once makes Python allocate 64 MiB for every small PNG.
                size = os.fstat(f.fileno()).st_size
                if size > MAX_FILE_BYTES:   # known too big: refuse without reading 64 MiB
                    raise ImageError(_too_big_file_message(size))
                if 0 < size <= MAX_FILE_BYTES:
                    data = f.read(size + 1)
                    if len(data) > size:          # it grew: read on, up to the limit
                        data += f.read(MAX_FILE_BYTES + 1 - len(data))
                else:
                    data = f.read(MAX_FILE_BYTES + 1)
        except ImageError:  # our own (a ValueError): not "cannot read file" below
            raise
        except (OSError, ValueError) as exc:  # ValueError: e.g. a path with a NUL byte
            raise _os_error(exc, "file", "cannot read file") from None
        if len(data) > MAX_FILE_BYTES:
            raise ImageError(_too_big_file_message(None))
    else:
        raise TypeError(f"source must be a path or bytes, not {type(source).__name__}")
    if not data:
        raise ImageError("empty file")
    return data


def _os_error(exc: Exception, kind: str, doing: str) -> ImageError:
    """One-line ImageError for an OS error on a file or directory (``kind``)."""
    if isinstance(exc, FileNotFoundError):
        return ImageError(f"no such {kind}")
    if isinstance(exc, IsADirectoryError):
        return ImageError("is a directory, not an image file")
    if isinstance(exc, NotADirectoryError) and kind == "directory":
        return ImageError("not a directory")
    if isinstance(exc, PermissionError):
        return ImageError("permission denied")
    return ImageError(f"{doing}: {getattr(exc, 'strerror', None) or _one_line(exc)}")


def _too_big_file_message(size: int | None) -> str:
    limit = f"limit {MAX_FILE_BYTES // (1024 * 1024)} MiB"
    if size is None:
        return f"file too large ({limit})"
    return f"file too large: {size / (1024 * 1024):.1f} MiB ({limit})"


def _check_dimensions(size: tuple[int, int]) -> None:
    """Refuse absurd dimensions from the header alone, before decoding."""
    width, height = size
    if width < 1 or height < 1:
        raise ImageError(f"image has no pixels ({width}x{height})")
    if width * height > MAX_PIXELS:
        raise ImageError(f"image too large: {width}x{height} pixels (limit {MAX_PIXELS:,})")
    if max(width, height) > MAX_SIDE:
        raise ImageError(
            f"image too large: {width}x{height} pixels (limit {MAX_SIDE:,} pixels per side)"
        )


def _bomb_message(exc: BaseException, data: bytes) -> str:
    """Pillow refuses the very largest images inside Image.open, before we see the size."""
    size = _header_size(data)
    if size is not None:
        return f"image too large: {size[0]}x{size[1]} pixels (limit {MAX_PIXELS:,})"
    match = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow's message has the count
    if match:
        return f"image too large: {int(match.group(1)):,} pixels (limit {MAX_PIXELS:,})"
    return f"image too large (limit {MAX_PIXELS:,} pixels)"


def _header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the header alone, the way Image.open identifies a file but
    without its size check; None if that fails. Only used to word an error message."""
    prefix = data[:16]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fmt in Image.ID:
            factory, accept = Image.OPEN[fmt]
            try:
                if accept is not None and not accept(prefix):
                    continue
                return tuple(factory(io.BytesIO(data), None).size)
            except Exception:  # noqa: BLE001 - wrong plugin or broken header: try the next
                continue
    return None


def _unidentified_message(data: bytes) -> str:
    """Say what the file seems to be, since 'cannot identify' helps nobody."""
    head = data[:2048].lstrip()
    low = head.lower()
    if b"<svg" in low:
        return "SVG (vector) images are not supported; export it as PNG first"
    if head.startswith(b"%PDF"):
        return "PDF documents are not supported; export the page as PNG first"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc", b"ftypmsf1"):
        return "HEIC/HEIF images are not supported; convert it to JPEG or PNG first"
    try:
        text = data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character cut at the 4096-byte boundary is still text.
        try:
            text = data[:4092].decode("utf-8")
        except UnicodeDecodeError:
            text = None
    if text is not None and all(c.isprintable() or c in "\t\r\n\f" for c in text):
        return "not an image: this looks like a text file"
    return "not an image, or an image format this installation cannot read"


def _one_line(exc: BaseException) -> str:
    """An exception's message squeezed onto one short line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


_ORIENTATION_TAG = 0x0112  # EXIF "Orientation": how the camera was held


def _apply_orientation(im: Image.Image) -> Image.Image:
    """Turn the pixels the way the EXIF orientation tag says (phones rarely rotate data)."""
    if im.format in _NO_EXIF_UNLESS_TAGGED and not _ORIENTATION_KEYS & im.info.keys():
        # No EXIF or XMP block: nothing to turn. Asking Pillow anyway would import its
        # TIFF machinery (and fractions, decimal...) -- milliseconds of every cold start.
        return im
    try:
        orientation = im.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # noqa: BLE001 - broken EXIF must not make a readable image unreadable
        return im
    if orientation in (None, 1) or not isinstance(orientation, int) or not 2 <= orientation <= 8:
        return im
    from PIL import ImageOps  # only images that need it pay for the import

    try:
        return ImageOps.exif_transpose(im)
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - same reasoning: show the image unrotated
        return im


# Formats that carry an orientation only in an EXIF or XMP block, and the info keys under
# which Pillow keeps those blocks (TIFF and others keep it in their own tags: always asked).
_NO_EXIF_UNLESS_TAGGED = frozenset({"PNG", "JPEG", "GIF", "BMP", "WEBP"})
_ORIENTATION_KEYS = frozenset({"exif", "xmp", "XML:com.adobe.xmp", "Raw profile type exif"})


# Modes whose pixels numpy can take directly as grayscale, and the value that means white.
_GRAY_SCALE = {"L": 255.0, "I;16": 65535.0, "I;16L": 65535.0, "I;16B": 65535.0, "I;16N": 65535.0}


def _to_gray(im: Image.Image) -> np.ndarray:
    """A decoded Pillow image of any mode -> float32 (H, W) brightness 0..1."""
    mode = im.mode
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        "transparency" in im.info and mode in ("P", "L", "RGB", "1")
    )
    if has_alpha:
        if mode == "P" or "transparency" in im.info:
            # Palette transparency is an index (or a table of alphas); RGBA resolves it.
            im = im.convert("RGBA")
        la = np.asarray(im.convert("LA"), dtype=np.float32) * np.float32(1 / 255)
        return _composite(la[..., 0], la[..., 1])
    if mode in _GRAY_SCALE:
        # 16-bit PNG/TIFF store 0..65535 for black..white.
        return np.asarray(im, dtype=np.float32) / np.float32(_GRAY_SCALE[mode])
    if mode == "I":
        return _scale_unknown_range(np.asarray(im), integer=True)
    if mode == "F":
        return _scale_unknown_range(np.asarray(im), integer=False)
    if mode == "LAB":
        # Pillow cannot convert LAB to RGB; its L band is perceptual lightness 0..255.
        return np.asarray(im.getchannel(0), dtype=np.float32) / np.float32(255)
    try:
        # '1', 'RGB', 'CMYK', 'YCbCr', 'P' (opaque), 'HSV', 'RGBX'... all convert to luma.
        gray = im.convert("L")
    except ValueError:
        raise ImageError(f"unsupported image mode {mode!r}") from None
    return np.asarray(gray, dtype=np.float32) / np.float32(255)


def _composite(lum: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Lay a partly transparent image (luma, alpha: (H, W) 0..1) onto paper."""
    if alpha.min() >= 1.0:
        return np.ascontiguousarray(lum)  # fully opaque: nothing to composite
    opaque = alpha > 0.5
    n_opaque = int(np.count_nonzero(opaque))
    if n_opaque == 0:
        paper = 1.0  # nothing visible: white paper (normalise will report no digit)
    elif n_opaque >= alpha.size // 2:
        # Mostly opaque: the opaque part has its own paper, so continue it under the
        # transparent margins instead of inventing a contrasting frame around it.
        paper = float(np.median(lum[opaque]))
    else:
        # Mostly transparent: the opaque pixels are the ink. Lay it on the paper that
        # contrasts with it -- white under dark ink (the usual case), black under light.
        paper = 0.0 if float(np.median(lum[opaque])) > 0.5 else 1.0
    return (lum * alpha + np.float32(paper) * (1.0 - alpha)).astype(np.float32)


def _scale_unknown_range(values: np.ndarray, *, integer: bool) -> np.ndarray:
    """32-bit int ('I') or float ('F') pixels: guess what their full scale is."""
    a = values.astype(np.float64)
    if not np.isfinite(a).all():
        a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(a.min()), float(a.max())
    if lo >= 0.0:
        # The usual conventions, checked smallest first: floats in 0..1, 8-bit, 16-bit.
        for full in ((1.0,) if not integer else ()) + (255.0, 65535.0):
            if hi <= full:
                return (a / full).astype(np.float32)
    # Anything else (negative values, 32-bit ranges): stretch what is there to 0..1.
    if hi <= lo:
        return np.zeros(a.shape, np.float32)
    return ((a - lo) / (hi - lo)).astype(np.float32)


def _resize(a: np.ndarray, width: int, height: int, resample: int) -> np.ndarray:
    """Resize a float32 (H, W) array to (height, width) with a Pillow filter."""
    im = Image.fromarray(np.ascontiguousarray(a, dtype=np.float32))  # mode 'F'
    # np.array, not asarray: the result must be writable, not a view of Pillow's buffer.
    return np.array(im.resize((width, height), resample), dtype=np.float32)


def _shrink(a: np.ndarray, max_side: int) -> np.ndarray:
    """Reduce (H, W) by area averaging so that its longer side is max_side."""
    h, w = a.shape
    scale = max_side / max(h, w)
    return _resize(
        a,
        max(1, round(w * scale)),
        max(1, round(h * scale)),
        Image.Resampling.BOX,
    )


# --- normalising ----------------------------------------------------------------------------

# Images smaller than this (longer side) have a single background level; bigger ones get a
# background *map* that follows uneven lighting (phone photos, shadows).
_MAP_MIN_SIDE = 48
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
_FRINGE = 0.05
# Separated blobs at the edges holding less than this share of the ink are specks.
_SPECK_SHARE = 0.03
# ... and blobs with less than this share count as specks too if the empty gap separating
# them from the rest is wider than _FAR_GAP times the rest's extent.
_FAR_SPECK_SHARE = 0.25
_FAR_GAP = 0.4


def normalise(gray: np.ndarray) -> np.ndarray:
    """Turn a grayscale picture of one digit into the network's 784 inputs, MNIST-style.

    ``gray``: array (H, W), brightness 0.0 = black .. 1.0 = white, as from
    :func:`read_image`. Either polarity: dark ink on light paper or light ink on dark.

    Returns a float32 array of shape (784,): the 28x28 field in row-major order, light
    ink (1.0) on black (0.0). The steps repeat how MNIST itself was made:

    1. *Polarity.* The paper level is the median of the image border; the ink is what
       departs strongly from it. Whichever side (lighter or darker) carries more of the
       strong departures is ink; dark ink is inverted so that ink is light, as in MNIST.
    2. *Paper removal.* The paper level is subtracted -- on large images as a smooth map
       that follows uneven lighting and shadows -- then noise up to four sigmas of the
       paper's own grain is cut away and the ink stretched so that its core is 1.0.
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
    """
    g = _validated(gray)
    if max(g.shape) > WORK_SIDE:
        g = _shrink(g, WORK_SIDE)

    ink = _ink_map(g)  # (h, w) float32, 0 = paper .. 1 = ink core
    r0, r1, c0, c1 = _ink_bounds(ink)
    digit = ink[r0:r1, c0:c1]
    digit = _thicken_thin_strokes(digit)

    # Scale the longer side to BOX, keeping the aspect ratio (the shorter side >= 1 px).
    h, w = digit.shape
    scale = BOX / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    if (new_h, new_w) != (h, w):
        # BOX averages the covered area when shrinking -- exactly the antialiasing of a
        # pen stroke drawn at lower resolution; LANCZOS keeps enlarged strokes crisp.
        resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.LANCZOS
        digit = _resize(digit, new_w, new_h, resample)
        np.clip(digit, 0.0, 1.0, out=digit)
        peak = float(digit.max())
        if peak <= 0.0:
            raise ImageError("no digit found")
        # Shrinking averages thin strokes into grey; MNIST strokes have saturated cores.
        digit /= np.float32(peak)

    return _place_centred(digit)


# Stroke width, measured in pixels of the 20-pixel box. MNIST's pens: median 2.8, 5th
# percentile 1.9 (0.2% of its test digits are thinner than 1.5). Thinner strokes -- a
# ballpoint on a big page, a 1-px pencil tool -- are thickened to _TARGET_WIDTH (the
# 25th percentile): on synthetic thin-pen digits that won 2.6 points of accuracy.
_THIN_WIDTH = 1.5
_TARGET_WIDTH = 2.4
# Thickening works at this many pixels per box pixel, for quarter-pixel precision.
_THICKEN_SCALE = 4


def _stroke_width(digit: np.ndarray) -> float:
    """Mean stroke width of a cropped ink map (h, w), in pixels of the 20-pixel box.

    Area / half the perimeter, for strokes much longer than wide. The area is the ink
    mass; the perimeter comes from the total variation |dx| + |dy|, which overestimates a
    boundary's length by 4/pi on average over directions.
    """
    area = float(digit.sum())
    variation = float(
        np.abs(digit[1:] - digit[:-1]).sum() + np.abs(digit[:, 1:] - digit[:, :-1]).sum()
    )
    if variation <= 0.0:
        return float("inf")  # a solid block: nothing to thicken
    perimeter = variation * (math.pi / 4)
    return 2.0 * area / perimeter * BOX / max(digit.shape)


def _thicken_thin_strokes(digit: np.ndarray) -> np.ndarray:
    """Dilate a cropped digit (h, w) whose strokes are hairlines compared with MNIST's."""
    width = _stroke_width(digit)
    if width >= _THIN_WIDTH:
        return digit
    # Work at a fixed scale so that the cost and precision do not depend on the photo.
    h, w = digit.shape
    side = _THICKEN_SCALE * BOX
    scale = side / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    work = np.clip(_resize(digit, new_w, new_h, resample), 0.0, 1.0)
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


def _ink_map(g: np.ndarray) -> np.ndarray:
    """(H, W) brightness -> (H, W) ink strength 0..1 with paper, lighting and noise removed."""
    h, w = g.shape
    # 1. Polarity. The paper level is the median of the border: the digit rarely touches
    # the border, and a median ignores the few places where it does (this holds even for
    # a digit that fills its canvas, where local estimates would see mostly ink).
    border = np.concatenate((g[0], g[-1], g[1:-1, 0], g[1:-1, -1]))
    paper = _median(border)
    residual = g - paper
    sigma = _pixel_noise(g)
    dark_ink, contrast = _polarity(residual, sigma, light_paper=float(paper) >= 0.5)

    # 2. Uneven lighting. Large images (photos) get a paper level per region of a coarse
    # grid instead of one number; small ones are screenshots or MNIST-like and flat.
    if max(h, w) >= _MAP_MIN_SIDE:
        x = 1.0 - g if dark_ink else g  # light ink on dark, as in MNIST
        grid = _background_grid(x)
        # Where the digit swamps whole regions (a bold digit filling its canvas), the
        # grid would mistake ink for paper. Shadows are real, but paper never gets
        # within half the ink contrast of the ink: cap the map there.
        paper_x = (1.0 - paper) if dark_ink else paper
        np.minimum(grid, np.float32(paper_x + 0.5 * contrast), out=grid)
        ink = x - _upsample(grid, h, w)
    else:
        ink = -residual if dark_ink else residual

    # 3. Contrast: how bright is the ink core above the paper, and how much does the
    # paper itself vary? Pixel noise is not all of it: JPEG flattens noise into blocks,
    # and texture and leftover shading vary slowly.
    sigma = max(sigma, _paper_spread(ink))
    level = _ink_level(ink, sigma)
    if level is None:
        raise ImageError("no digit found")
    # Soft threshold: noise up to a few sigmas goes to 0 and the ink core to 1; what lies
    # between keeps its grey level (for clean images sigma = 0 and nothing is cut).
    floor = np.float32(min(_NOISE_SIGMAS * sigma, 0.5 * level))
    ink = (ink - floor) * np.float32(1.0 / (level - floor))
    np.clip(ink, 0.0, 1.0, out=ink)
    return ink


def _polarity(residual: np.ndarray, sigma: float, light_paper: bool) -> tuple[bool, float]:
    """Is the ink darker than the paper? ``residual`` = image - paper level, (H, W).

    Ink is whichever side holds more of the *strong* departures: pixels at least half as
    far from the paper as the most extreme departure on either side, and beyond the
    noise. Counting only strong departures keeps uneven lighting -- a gentle slope to
    both sides of the paper level -- out of the vote. Light paper (level >= 0.5) almost
    always carries dark ink, so there the light side must win by a factor of two, and
    the other way round on dark paper; a tie (nothing stands out) goes to dark ink.

    Returns (dark_ink, contrast): contrast is the most extreme departure on the ink
    side, averaged over 2x2 pixels so that a single hot pixel does not count.
    """
    if min(residual.shape) >= 2:
        smooth = (residual[:-1, :-1] + residual[1:, :-1] + residual[:-1, 1:] + residual[1:, 1:]) * 0.25
    else:
        smooth = residual
    up, down = float(smooth.max()), -float(smooth.min())
    cut = np.float32(max(3.0 * sigma, 0.5 * max(up, down)))
    lighter = float(np.maximum(residual - cut, 0.0).sum())
    darker = float(np.maximum(-residual - cut, 0.0).sum())
    dark_ink = darker * _POLARITY_PRIOR >= lighter if light_paper else darker >= lighter * _POLARITY_PRIOR
    return dark_ink, max(0.0, down if dark_ink else up)


# How much more evidence the unusual polarity (light ink on light paper, dark on dark)
# needs to win; see _polarity.
_POLARITY_PRIOR = 2.0


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
    full = _resize(grid, gw * cell, gh * cell, Image.Resampling.BILINEAR)
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
    diffs = np.abs(rows[:, 1:] - rows[:, :-1]).ravel()
    return 1.4826 / math.sqrt(2.0) * float(_median(diffs))


def _paper_spread(ink: np.ndarray) -> float:
    """How much the paper varies (noise, texture, leftover shading), as a std deviation.

    ``ink``: (H, W) with paper near 0 and ink positive. Ink only adds bright pixels, so
    the dark end of the distribution is pure paper: for a normal distribution the 10th
    and 30th percentiles are 0.757 standard deviations apart. With ink on up to half
    of the pixels the estimate grows by at most 45%, where a plain standard deviation or
    median absolute deviation would measure the ink instead.
    """
    step = max(1, round(math.sqrt(ink.size / _SAMPLE)))
    sample = ink[::step, ::step].ravel()
    n = sample.size - 1
    lo, hi = int(0.1 * n), int(0.3 * n)
    part = np.partition(sample, (lo, hi))
    return float(part[hi] - part[lo]) / 0.757


def _median(values: np.ndarray) -> np.float32:
    """Median of a 1-D array (the upper one for even sizes) -- np.median is 5x slower."""
    k = values.size // 2
    return np.float32(np.partition(values, k)[k])


def _ink_level(ink: np.ndarray, sigma: float) -> float | None:
    """Contrast of the ink core above the paper, or None if there is no ink to speak of.

    The 99th percentile of the pixels that stand clear of the noise: robust to a few
    hot pixels, yet the full stroke brightness for antialiased or blurred strokes.
    """
    candidates = ink[ink > max(_NOISE_SIGMAS * sigma, 0.5 / 255)]
    if candidates.size == 0:
        return None
    k = int(0.99 * (candidates.size - 1))
    level = float(np.partition(candidates, k)[k])
    if level < max(_MIN_CONTRAST, _MIN_SNR * sigma):
        return None
    return level


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
    window = ink[r0m:r1m, c0m:c1m] > _FRINGE
    rows = np.flatnonzero(window.any(axis=1))
    cols = np.flatnonzero(window.any(axis=0))
    return r0m + rows[0], r0m + rows[-1] + 1, c0m + cols[0], c0m + cols[-1] + 1


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


def _place_centred(digit: np.ndarray) -> np.ndarray:
    """Paste a <=20x20 digit into 28x28 with its centre of mass at COM_TARGET."""
    h, w = digit.shape
    total = float(digit.sum())
    com_r = float(digit.sum(axis=1) @ np.arange(h)) / total
    com_c = float(digit.sum(axis=0) @ np.arange(w)) / total
    # Round half up, as MNIST did; clamp so that no ink is pushed off the field.
    top = min(max(math.floor(COM_TARGET - com_r + 0.5), 0), FIELD - h)
    left = min(max(math.floor(COM_TARGET - com_c + 0.5), 0), FIELD - w)
    field = np.zeros((FIELD, FIELD), np.float32)
    field[top : top + h, left : left + w] = digit
    return field.reshape(FIELD * FIELD)


# --- the two ways in ------------------------------------------------------------------------


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


def load_input(source: Source, raw: bool = False) -> np.ndarray:
    """Read an image file (path or bytes) and return the network's (784,) float32 inputs.

    ``raw=False``: full MNIST-style normalisation (:func:`normalise`).
    ``raw=True``: the file must already be a 28x28 MNIST-style image (:func:`raw_input`).
    Raises :class:`ImageError` on any bad input.
    """
    if raw:
        return raw_input(read_image(source))
    return normalise(read_image(source, max_side=WORK_SIDE))


def _load_or_error(args):
    """``load_input`` for a worker process: returns the array, or the error's message."""
    source, raw = args
    try:
        return load_input(source, raw)
    except ImageError as exc:
        return str(exc)


def _worker_init():
    """Workers leave Ctrl-C to the parent, which stops the pool (no traceback per worker)."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# Below this many files a process pool costs more (start-up, shipping results) than it saves.
PARALLEL_MIN_FILES = 200


def load_inputs(sources, raw=False, jobs=1):
    """``load_input`` for many sources; yields, in order, an array (784,) or an ImageError.

    Decoding and normalising are pure per-file work, so with ``jobs > 1`` and at least
    ``PARALLEL_MIN_FILES`` sources they are spread over ``jobs`` worker processes (each
    returns its (784,) float32 array, 3 KiB, to this process); results still come back in
    the order of ``sources`` and as they are ready. ``sources`` is a list of paths/bytes.
    """
    if jobs <= 1 or len(sources) < PARALLEL_MIN_FILES:
        for source in sources:
            try:
                yield load_input(source, raw)
            except ImageError as exc:
                yield exc
        return
    import multiprocessing
    # fork: the workers start instantly with digitnet and Pillow already imported.
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(jobs, initializer=_worker_init) as pool:
        chunk = max(1, min(256, len(sources) // (4 * jobs)))
        for result in pool.imap(_load_or_error, ((s, raw) for s in sources), chunk):
            yield ImageError(result) if isinstance(result, str) else result


# --- folders --------------------------------------------------------------------------------

# Pillow formats whose files it can name but not decode.
_UNREADABLE_FORMATS = {"MPEG"} | set(_REFUSED_FORMATS)  # identify-only plugin; refused


def _image_extensions() -> frozenset[str]:
    from PIL import ImageFile

    registered = Image.registered_extensions()  # imports every plugin: do this first
    readable = set(Image.OPEN) | {"MPO"}  # MPO (multi-picture JPEG) opens via the JPEG plugin
    exts = set()
    for ext, fmt in registered.items():
        if fmt not in readable or fmt in _UNREADABLE_FORMATS:
            continue  # save-only formats such as PDF and PALM
        factory = Image.OPEN.get(fmt, (None,))[0]
        if isinstance(factory, type) and issubclass(factory, ImageFile.StubImageFile):
            continue  # stubs (HDF5, GRIB, BUFR, WMF) need handlers nobody installs
        exts.add(ext.lower())
    return frozenset(exts)


_extensions_cache: frozenset[str] | None = None


def __getattr__(name: str):
    # IMAGE_EXTENSIONS needs every Pillow plugin imported (~80 ms), so it is computed on
    # first use rather than at import time: classifying one file should not pay for it.
    global _extensions_cache
    if name == "IMAGE_EXTENSIONS":
        if _extensions_cache is None:
            _extensions_cache = _image_extensions()
        return _extensions_cache
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Extensions every Pillow build reads; checked before IMAGE_EXTENSIONS, so that listing a
# folder of PNGs or JPEGs never has to import all of Pillow's plugins (~30-80 ms).
_COMMON_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"})


def list_image_files(directory: str | os.PathLike[str]) -> list["Path"]:
    """The image files directly inside ``directory``, sorted by name.

    An image file is a regular file (or a link to one) whose extension Pillow registers
    as readable (:data:`IMAGE_EXTENSIONS`, compared case-insensitively: ``.PNG`` counts).
    Hidden files (name starting with '.') and subdirectories are skipped; the search is
    not recursive. May return an empty list -- the caller decides whether that is an error.
    Raises :class:`ImageError` if the directory cannot be listed.
    """
    from pathlib import Path  # here, not at the top: a one-file classify never needs it

    folder = Path(directory)
    try:
        entries = list(os.scandir(folder))
    except OSError as exc:
        raise _os_error(exc, "directory", "cannot list directory") from None
    found = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        ext = os.path.splitext(entry.name)[1].lower()
        # The common extensions first: the full list costs importing every Pillow plugin.
        if ext not in _COMMON_EXTENSIONS and ext not in __getattr__("IMAGE_EXTENSIONS"):
            continue
        try:
            if not entry.is_file():  # follows symlinks; a dangling link is not a file
                continue
        except OSError:
            continue
        found.append(folder / entry.name)
    found.sort(key=lambda p: p.name)
    return found
