"""Decoding: any image (a file, its bytes, a PIL image, a numpy array) -> grayscale brightness.

:func:`read_image` is the one way in (:func:`read_picture` gives a small copy of the
image's colour beside it, for the search of the writing surface). For files it is also the security boundary: every
input is untrusted, so before a single pixel is decoded it checks the file's size, the
dimensions in its header, what decoding would cost in memory, how slow its decoder is
(Pillow decodes some formats in Python), into how many pieces a TIFF is cut, and -- for
JPEG -- how many scans it holds (a progressive JPEG can repeat scans thousands of times,
each one a full decoding pass). PostScript is never handed to Ghostscript. Whatever goes wrong, the caller
gets an :class:`~digitnet.errors.ImageError` with one line for a human; Pillow's own zoo of
exception types never escapes.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import stat
import struct
import warnings
from typing import Union

import numpy as np
from PIL import Image

from .errors import ImageError, one_line
from .morphology import exact_median

__all__ = ["ImageError", "MAX_FILE_BYTES", "MAX_PIXELS", "MAX_SIDE", "MAX_DECODED_BYTES",
           "MAX_JPEG_SCANS", "MAX_JPEG_PIXELS", "REFUSED_FORMATS", "CHROMA_SIDE",
           "SCENE_MIN_SIDE", "Picture", "read_image", "read_picture", "read_bytes", "shrink",
           "resize", "os_error"]

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, "Image.Image",
               np.ndarray]

# --- limits -----------------------------------------------------------------------------
# A hostile or accidental input must fail fast and cheaply, not exhaust memory. The
# dimensions are checked from the header, *before* any pixel is decoded: a few hundred
# bytes of PNG can claim 100000x100000 pixels (40 GB once decoded).

#: Largest file we read at all (bytes). Real photos are a few MB.
MAX_FILE_BYTES = 64 * 1024 * 1024
#: Largest decoded image (width * height): 50 MP.
MAX_PIXELS = 50_000_000
#: Largest baseline JPEG (width * height) when read at reduced size (libjpeg's draft mode
#: decodes 1/2, 1/4 or 1/8 of each side almost for free): 200 MP, the biggest phone
#: cameras. Classifying reads at most WORK_SIDE pixels a side, so a 200 MP photo is
#: decoded as about 3 MP.
MAX_JPEG_PIXELS = 200_000_000
#: Largest width or height (pixels); also stops absurd strips such as 1,000,000x1.
MAX_SIDE = 30_000
#: Most memory Pillow may need for the decoded pixels (width x height x bytes per pixel
#: of the mode it decodes to): 50 MP of RGB. A 49 MP float TIFF (4 bytes a pixel, from a
#: file of a few hundred KB) is refused rather than decoded into gigabytes.
MAX_DECODED_BYTES = 200 * 1024 * 1024
#: Most start-of-scan markers a JPEG may hold. A progressive photo has about 10; each
#: scan is a full pass over the image, so thousands of them are a decoding bomb.
MAX_JPEG_SCANS = 100
#: ... and at most this many pixel-scans (pixels x scans) in all: 50 MP x 20 scans.
MAX_JPEG_WORK = 1_000_000_000

#: Decodes needing more memory than this take turns across worker processes
#: (:func:`digitnet.batch.load_inputs` sets :data:`big_decode_lock` in each worker), so
#: that ``-j N`` multiplies only what ordinary images cost.
BIG_DECODE_BYTES = 32 * 1024 * 1024
big_decode_lock = None

_DRAFT_SLACK = 0.75

# Bytes per pixel of Pillow's decoded image, by mode (RGB is stored as 4 bytes).
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "LA": 2, "La": 2, "PA": 2, "I;16": 2, "I;16L": 2,
               "I;16B": 2, "I;16N": 2, "RGB": 4, "RGBA": 4, "RGBa": 4, "RGBX": 4, "CMYK": 4,
               "YCbCr": 4, "LAB": 4, "HSV": 4, "I": 4, "F": 4}


# --- reading ------------------------------------------------------------------------------


class Picture:
    """A decoded image: ``gray`` its brightness, float32 (H, W), 0.0 = black .. 1.0 =
    white; ``chroma`` a small copy of its colour, float32 (h, w, 2) -- the Cb and Cr
    planes of ITU-R 601 YCbCr, 0 = grey, about -0.5..0.5, at most CHROMA_SIDE pixels a
    side and the shape of ``gray`` -- or None for a grayscale image. Only the search for
    the writing surface uses colour: a yellow note on a brown desk can be as bright as
    the desk, never the same colour.

    ``chroma`` may be given as a function of no arguments that makes it: it is then
    made when first read, once (or once per thread, if several threads first read it at
    the same moment). A sheet on a desk is found by its brightness alone, and
    its photo never needs its colour (making it costs ~2 ms of the ~40 ms a 12 MP
    JPEG takes to decode and normalise); pass ``lambda: picture.chroma`` on to
    :func:`~digitnet.normalise.normalise` to keep it unmade until then.
    """

    __slots__ = ("gray", "_chroma")

    def __init__(self, gray: np.ndarray, chroma=None):
        self.gray = gray
        self._chroma = chroma

    @property
    def chroma(self) -> np.ndarray | None:
        chroma = self._chroma  # read once: another thread may be making it too
        if callable(chroma):
            chroma = self._chroma = chroma()
        return chroma

    def __reduce__(self):
        # Pickled (sent to another process) with its colour made: a function is no data.
        return (Picture, (self.gray, self.chroma))

    def __repr__(self) -> str:
        chroma = "unmade" if callable(self._chroma) else self._chroma is not None
        return f"Picture(gray={self.gray.shape}, chroma={chroma})"


#: Longer side of :attr:`Picture.chroma` (the surface finder works at 160 px).
CHROMA_SIDE = 320
#: Pictures smaller than this (longer side; a third of it for the shorter side) are all
#: paper to the surface finder (:mod:`digitnet.surface`): no colour copy is made.
SCENE_MIN_SIDE = 96


def read_image(source: Source, *, max_side: int | None = None,
               require_size: tuple[int, int] | None = None) -> np.ndarray:
    """Grayscale brightness of an image, before any polarity decision.

    ``source`` is a path (``str`` or ``os.PathLike``), the file's content as ``bytes``, a
    PIL image, or a numpy array: (H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA, as uint8
    (0..255), uint16 (0..65535), bool, or float in 0..1. Files are recognised by their
    content (PNG, JPEG, GIF, BMP, TIFF, WebP, and everything else Pillow reads), never
    their extension; multi-frame files (animated GIF/WebP/PNG, multi-page TIFF) give their
    first frame.

    Returns a float32 array of shape (H, W) -- rows first, as the image appears on screen
    after its EXIF orientation is applied -- with brightness 0.0 = black .. 1.0 = white.
    Colour is reduced to luma (ITU-R 601: 0.299 R + 0.587 G + 0.114 B). Transparent
    pixels are composited onto paper: white paper normally; black paper when the only
    opaque pixels are light ink (a white digit on a transparent canvas would otherwise
    vanish); and, when most pixels are opaque, paper of the opaque pixels' own median
    shade (a photo with transparent rounded corners keeps its paper colour).

    ``max_side``: if given, images whose longer side exceeds it are reduced (area
    averaging) to at most that longer side -- JPEGs already while decoding (libjpeg's
    "draft" mode, which may stop at 3/4 of it), others right after, before any numpy copy
    is made; a baseline JPEG may then have up to MAX_JPEG_PIXELS. ``None`` (default)
    keeps full resolution. ``require_size``: (width, height) the image must have (checked
    from the header, before decoding), e.g. (28, 28) for ``--raw``.

    Raises :class:`ImageError` for anything that is not a readable image of sane size.
    """
    return read_picture(source, max_side=max_side, require_size=require_size).gray


def read_picture(source: Source, *, max_side: int | None = None,
                 require_size: tuple[int, int] | None = None) -> Picture:
    """:func:`read_image`, with a small copy of the image's colour beside it
    (:class:`Picture`). The same checks, limits and errors."""
    if isinstance(source, np.ndarray):
        values = _array_values(source)
        gray = _values_to_gray(values, max_side)
        _check_required(gray.shape[::-1], require_size)
        return Picture(gray, _array_chroma(values, gray.shape))
    if isinstance(source, Image.Image):
        _check_required(source.size, require_size)
        try:   # a lazily opened image is decoded here: the same checks and translation
            _check_dimensions(source.size)
            _check_memory(source)
            source.load()
            return _decoded_to_picture(source, max_side, callers=True)
        except ImageError:
            raise
        except MemoryError:
            raise ImageError("image too large to decode (out of memory)") from None
        except Exception as exc:  # noqa: BLE001 - truncated, closed, a broken decoder...
            raise ImageError(f"cannot decode image: {one_line(exc)}") from None
    data = read_bytes(source)
    _check_tiff_pieces(data)
    try:
        # Pillow reports suspicious sizes as a *warning*; a local filter turns it into an
        # error without touching global state (Image.MAX_IMAGE_PIXELS stays as it is).
        # Pillow's other warnings (odd EXIF, palette transparency...) mean nothing to a
        # user of a digit classifier, so they are silenced here rather than printed.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with _open(data) as im:  # lazy: reads the header only
                if im.format in REFUSED_FORMATS:
                    raise ImageError(REFUSED_FORMATS[im.format])
                # Draft mode shrinks what libjpeg *outputs*; a progressive JPEG still
                # holds every coefficient at full size while it decodes, so only baseline
                # JPEGs get the larger limit.
                progressive = bool(im.info.get("progressive") or im.info.get("progression"))
                drafted = im.format == "JPEG" and bool(max_side) and not progressive
                _check_dimensions(im.size, MAX_JPEG_PIXELS if drafted else MAX_PIXELS)
                _check_required(im.size, require_size)
                if im.format == "JPEG":
                    _check_jpeg_scans(data, im.size)
                    if max_side and max(im.size) > max_side:
                        # libjpeg decodes at 1/2, 1/4 or 1/8 scale almost for free; draft
                        # picks the smallest scale still at least the requested size. Down
                        # to 3/4 of max_side is accepted: a 4000 px photo then decodes at
                        # 1/4 (1000 px) rather than 1/2, four times less work.
                        scale = _DRAFT_SLACK * max_side / max(im.size)
                        im.draft(None, (math.ceil(im.width * scale),
                                        math.ceil(im.height * scale)))
                need = _check_memory(im)
                _check_slow_decoder(im)
                _check_tiles(im)
                with _big_decode_turn(need):
                    im.load()  # the actual decoding
                    return _decoded_to_picture(im, max_side)
    except ImageError:
        raise
    except Image.UnidentifiedImageError:
        raise ImageError(_unidentified_message(data)) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(_bomb_message(exc, data)) from None
    except MemoryError:
        raise ImageError("image too large to decode (out of memory)") from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises OSError, SyntaxError, struct.error, ...
        raise ImageError(f"cannot decode image: {one_line(exc)}") from None


def _decoded_to_picture(im: Image.Image, max_side: int | None, *,
                        callers: bool = False) -> Picture:
    """A loaded PIL image -> its :class:`Picture`: turned upright, reduced to about
    ``max_side`` in Pillow (cheap, before numpy copies it), reduced to luma, with its
    colour beside it (see :class:`Picture`: made when first read). ``callers``: ``im``
    is the caller's own, which may change after this returns."""
    decoded = im
    im = _apply_orientation(im)
    if max_side and max(im.size) > max_side:
        factor = max(im.size) // max_side
        if factor >= 2:
            # Integer box reduction in C: a 50 MP scan becomes a few MP before any float
            # copy of it exists. The exact resize to max_side follows on the small image.
            if im.mode in ("P", "PA", "1"):
                # Palette and 1-bit images cannot be reduced as they are: expand them
                # first (to what _to_gray would make of them), not to floats at full size.
                transparent = im.mode == "PA" or "transparency" in im.info
                im = im.convert("RGBA" if transparent else "L")
            im = im.reduce(factor) if im.mode in _REDUCIBLE else im
    gray = shrink(_to_gray(im), max_side)
    if (im.mode not in _COLOUR_MODES or _too_small(gray.shape)
            or im.width * im.height > _LAZY_CHROMA_PIXELS):
        return Picture(gray, _chroma(im, gray.shape))  # None at once, or too big to hold
    # Colour is made when first asked for, from the decoded image. An image decoded here
    # is ours and is kept as it is (a file's image keeps its pixels once its file is
    # closed); one the caller handed in may change after this returns, so it is copied.
    held = im.copy() if callers and im is decoded else im
    return Picture(gray, lambda: _chroma(held, gray.shape))


# Decoded images up to this many pixels (a phone photo drafted to ~1000 px: 0.75 MP)
# keep their colour unmade until asked for; larger ones (a big PNG, a scan) make it at
# once rather than be held, whole, until then.
_LAZY_CHROMA_PIXELS = 2_000_000


# Modes whose colour is read; images with transparency are left grey (what lies under a
# transparent pixel has no colour of its own).
_COLOUR_MODES = frozenset({"RGB", "RGBX", "YCbCr", "CMYK", "P", "RGBA"})
# Below this spread of chroma (the largest |Cb| or |Cr|, 0..0.5) an image is grey: a
# grayscale picture saved as RGB, or a photo of white paper under neutral light.
_MIN_CHROMA = 0.02


def _chroma(im: Image.Image, shape: tuple[int, int]) -> np.ndarray | None:
    """The (h, w, 2) Cb, Cr planes of a decoded image at most CHROMA_SIDE a side, in the
    aspect of ``shape`` (the gray image's), or None when it has no colour to speak of.
    Reduced in Pillow first: a few hundred pixels a side cost next to nothing."""
    if im.mode not in _COLOUR_MODES or "transparency" in im.info or _too_small(shape):
        return None
    if im.mode == "RGBA":
        if im.getchannel("A").getextrema()[0] < 255:
            return None
        im = im.convert("RGB")
    elif im.mode == "P":
        im = im.convert("RGB")
    h, w = shape
    scale = min(1.0, CHROMA_SIDE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if im.size != size:
        im = im.resize(size, Image.Resampling.BOX)
    if im.mode != "YCbCr":
        im = im.convert("RGB").convert("YCbCr")
    # Contiguous before any arithmetic: on the (h, w, 2) view of the three bands numpy
    # would work two values at a time, fifty times slower.
    planes = np.ascontiguousarray(np.asarray(im)[..., 1:], dtype=np.float32)
    planes -= np.float32(128.0)
    planes *= np.float32(1 / 255)
    return _coloured(planes)


def _array_chroma(v: np.ndarray, shape: tuple[int, int]) -> np.ndarray | None:
    """:func:`_chroma` of a numpy image's values (:func:`_array_values`), for RGB and
    opaque RGBA."""
    if v.ndim != 3 or v.shape[2] not in (3, 4) or _too_small(shape):
        return None
    if v.shape[2] == 4 and float(v[..., 3].min()) < 1.0:
        return None
    step = max(1, math.ceil(max(v.shape[:2]) / CHROMA_SIDE))
    rgb = v[::step, ::step, :3]
    y = rgb @ _LUMA
    cb = (rgb[..., 2] - y) * np.float32(0.564)
    cr = (rgb[..., 0] - y) * np.float32(0.713)
    h, w = shape
    scale = min(1.0, CHROMA_SIDE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    planes = np.stack([resize(cb, *size, Image.Resampling.BILINEAR),
                       resize(cr, *size, Image.Resampling.BILINEAR)], axis=-1)
    return _coloured(planes)


def _too_small(shape: tuple[int, int]) -> bool:
    """Too small for the surface finder to look at (SCENE_MIN_SIDE): a 28x28 digit or
    an icon is all paper, and its colour is not worth decoding."""
    return max(shape) < SCENE_MIN_SIDE or min(shape) < SCENE_MIN_SIDE // 3


def _coloured(planes: np.ndarray) -> np.ndarray | None:
    """``planes`` if they hold colour (beyond _MIN_CHROMA), else None."""
    if float(np.abs(planes).max()) < _MIN_CHROMA:
        return None
    return np.ascontiguousarray(planes)


# Modes Image.reduce() works on (palette and 1-bit images are expanded just before it).
_REDUCIBLE = frozenset({"L", "LA", "RGB", "RGBA", "RGBX", "CMYK", "I", "F"})


def _array_values(a: np.ndarray) -> np.ndarray:
    """A numpy image (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), checked, as float32
    values 0..1 of the same shape."""
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)) or 0 in a.shape:
        raise ImageError(f"expected an image array of shape (H, W), (H, W, 3) or (H, W, 4), "
                         f"got {a.shape}")
    if a.dtype == np.bool_:
        v = a.astype(np.float32)
    elif a.dtype.kind in "ui":
        top = float(a.max())
        if a.min() < 0 or top > 65535:
            raise ImageError("integer image arrays hold 0..255 (uint8) or 0..65535 (uint16)")
        # uint8 is 0..255 and uint16 0..65535; wider integers say nothing, so their values do.
        sixteen = a.dtype == np.uint16 or (a.dtype.itemsize > 1 and top > 255)
        v = a.astype(np.float32) / np.float32(65535.0 if sixteen else 255.0)
    elif a.dtype.kind == "f":
        v = a.astype(np.float32)
        if not np.isfinite(v).all():
            raise ImageError("image contains non-finite values")
        if v.min() < 0 or v.max() > 1:
            raise ImageError("float image arrays hold brightness 0..1")
    else:
        raise ImageError(f"image arrays must be numbers, not {a.dtype}")
    return v


# ITU-R 601 luma, as Pillow's convert("L") computes it.
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _values_to_gray(v: np.ndarray, max_side: int | None) -> np.ndarray:
    """:func:`_array_values` -> float32 (H, W) brightness 0..1, reduced to ``max_side``."""
    if v.ndim == 3:
        if v.shape[2] == 1:
            v = v[..., 0]
        else:
            lum = v[..., :3] @ _LUMA
            v = _composite(lum, v[..., 3]) if v.shape[2] == 4 else lum
    return shrink(np.ascontiguousarray(v, dtype=np.float32), max_side)


def read_bytes(source) -> bytes:
    """A file's content (a path, or bytes as they are), at most MAX_FILE_BYTES.

    Only regular files are read: a FIFO or a device would block or never end. OS errors
    become :class:`ImageError`.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if len(data) > MAX_FILE_BYTES:
            raise ImageError(_too_big_file_message(len(data)))
    elif isinstance(source, (str, os.PathLike)):
        try:
            st = os.stat(source)
            if stat.S_ISDIR(st.st_mode):
                raise ImageError("is a directory, not an image file")
            if not stat.S_ISREG(st.st_mode):
                raise ImageError("not a regular file (a pipe or a device); use - to read "
                                 "standard input")
            if st.st_size > MAX_FILE_BYTES:   # known too big: refuse without reading
                raise ImageError(_too_big_file_message(st.st_size))
            # os.open and os.read, not open(): for the small files of a batch (a 28x28
            # PNG is 300 bytes) a buffered file object costs more than reading it.
            # O_NONBLOCK: a file swapped for a FIFO after the stat above cannot block.
            fd = os.open(source, os.O_RDONLY | _O_NONBLOCK | _O_BINARY)
            try:
                # The size sizes the read (asking for 64 MiB at once would make Python
                # allocate that for every small PNG); one byte more tells if it grew.
                data = _read_fd(fd, st.st_size + 1)
                if len(data) > st.st_size:
                    data += _read_fd(fd, MAX_FILE_BYTES + 1 - len(data))
            finally:
                os.close(fd)
        except ImageError:  # our own (a ValueError): not "cannot read file" below
            raise
        except (OSError, ValueError) as exc:  # ValueError: e.g. a path with a NUL byte
            raise os_error(exc, "file", "cannot read file") from None
        if len(data) > MAX_FILE_BYTES:
            raise ImageError(_too_big_file_message(None))
    else:
        raise TypeError("an image is a path, bytes, a PIL image or a numpy array, not "
                        f"{type(source).__name__}")
    if not data:
        raise ImageError("empty file")
    return data


_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)   # POSIX only
_O_BINARY = getattr(os, "O_BINARY", 0)       # Windows only


def _read_fd(fd: int, size: int) -> bytes:
    """Up to ``size`` bytes from the file descriptor ``fd`` (fewer at its end)."""
    chunks = []
    while size > 0:
        chunk = os.read(fd, size)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _open(data: bytes) -> Image.Image:
    """Open an image lazily (header only) from its bytes.

    PNG and JPEG -- nearly every input -- are recognised by their first bytes and opened
    by their own plugin's image class: there is nothing to search for, so Pillow need not
    first import its other common plugins and ask each whether it knows the file. Anything
    else goes through ``Image.open``, which recognises every format Pillow reads.
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        from PIL import PngImagePlugin
        return PngImagePlugin.PngImageFile(io.BytesIO(data))
    if data.startswith(b"\xff\xd8\xff"):
        from PIL import JpegImagePlugin
        return JpegImagePlugin.JpegImageFile(io.BytesIO(data))
    return Image.open(io.BytesIO(data))


def _check_jpeg_scans(data: bytes, size: tuple[int, int]) -> None:
    """Refuse a JPEG whose scans would cost minutes to decode, before decoding it.

    Each start-of-scan marker (FF DA) begins one pass over the image. Inside compressed
    data every FF byte is followed by 00 (byte stuffing), so counting FF DA counts scans
    (plus at most one of an embedded thumbnail): a cheap, safe upper bound.
    """
    scans = data.count(b"\xff\xda")
    if scans > MAX_JPEG_SCANS:
        raise ImageError(f"JPEG with {scans:,} scans (limit {MAX_JPEG_SCANS}): far more "
                         "than any camera writes, refused as a decoding bomb")
    work = scans * size[0] * size[1]
    if work > MAX_JPEG_WORK:
        raise ImageError(f"JPEG of {size[0]}x{size[1]} pixels with {scans} scans is too "
                         f"costly to decode (limit {MAX_JPEG_WORK:,} pixel-scans); "
                         "save it as a baseline (non-progressive) JPEG or PNG")


#: Most pixels of an image whose decoder Pillow implements in Python (RLE bitmaps, BLP,
#: QOI, plain-text PPM...: Pillow's ``Image.DECODERS``), which decodes a pixel or a byte at
#: a time: a few MB of such a file would take minutes.
MAX_PY_DECODER_PIXELS = 4_000_000


def _check_slow_decoder(im: Image.Image) -> None:
    tiles = getattr(im, "tile", None) or ()
    slow = [tile[0] for tile in tiles if tile[0] in Image.DECODERS]
    if slow and im.width * im.height > MAX_PY_DECODER_PIXELS:
        what = "RLE-compressed BMP" if slow[0] == "bmp_rle" else f"{im.format} ({slow[0]})"
        raise ImageError(f"{what} of {im.width}x{im.height} pixels is too slow to decode "
                         f"(limit {MAX_PY_DECODER_PIXELS:,} pixels); save it as PNG")


@contextlib.contextmanager
def _big_decode_turn(need):
    """Wait for this worker's turn at a big decode (see BIG_DECODE_BYTES). A worker that
    died holding the turn cannot release it: after a minute the others go on anyway."""
    lock = big_decode_lock if need > BIG_DECODE_BYTES else None
    got = lock.acquire(timeout=60) if lock is not None else False
    try:
        yield
    finally:
        if got:
            lock.release()


#: Most strips or tiles a TIFF's first image may be cut into. Pillow makes an object for
#: each while *opening* the file, before any check could run: 8 million of them (a 63 MB
#: file claiming 28x28 pixels) take 25 s and 2 GB. 100,000 is a strip per row of any
#: image this tool reads.
MAX_TIFF_PIECES = 100_000
_TIFF_PIECE_TAGS = {273, 279, 324, 325}      # StripOffsets/ByteCounts, TileOffsets/ByteCounts


def _check_tiff_pieces(data: bytes) -> None:
    """Count a TIFF's strips or tiles from its first directory, before Pillow opens it."""
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        e, big = ("<" if data[:2] == b"II" else ">"), False
    elif data[:4] in (b"II+\x00", b"MM\x00+"):
        e, big = ("<" if data[:2] == b"II" else ">"), True
    else:
        return
    try:
        if big:
            offset = struct.unpack_from(e + "Q", data, 8)[0]
            n = struct.unpack_from(e + "Q", data, offset)[0]
            entry, first, fmt = 20, offset + 8, e + "HHQ"
        else:
            offset = struct.unpack_from(e + "I", data, 4)[0]
            n = struct.unpack_from(e + "H", data, offset)[0]
            entry, first, fmt = 12, offset + 2, e + "HHI"
        for i in range(min(n, 4096)):
            tag, _type, count = struct.unpack_from(fmt, data, first + i * entry)
            if tag in _TIFF_PIECE_TAGS and count > MAX_TIFF_PIECES:
                raise ImageError(f"TIFF cut into {count:,} strips or tiles (limit "
                                 f"{MAX_TIFF_PIECES:,}): refused as a decoding bomb")
    except struct.error:
        return                    # a broken header: Pillow's own error will say so


def _check_tiles(im: Image.Image) -> None:
    """Refuse an image cut into more pieces than it has rows (or 4096), whatever its
    format: each piece costs a decoder call. (TIFF's own count is checked earlier, from
    its header, because Pillow's cost for it lies in opening the file.)"""
    tiles = len(getattr(im, "tile", None) or ())
    if tiles > max(4096, im.height):
        raise ImageError(f"image of {im.width}x{im.height} pixels stored in {tiles:,} pieces "
                         "(strips or tiles): refused as a decoding bomb")


def _check_required(size, require_size) -> None:
    if require_size is not None and tuple(size) != tuple(require_size):
        raise ImageError(f"--raw needs a {require_size[0]}x{require_size[1]} image, this one "
                         f"is {size[0]}x{size[1]}")


# Decoders that need several times the decoded image while they work (OpenJPEG keeps
# every component as 32-bit integers, and more): their images count that much more.
_FORMAT_FACTOR = {"JPEG2000": 4}


def _check_memory(im: Image.Image) -> None:
    """Refuse an image whose decoded pixels would need more than MAX_DECODED_BYTES."""
    need = im.width * im.height * _MODE_BYTES.get(im.mode, 8) * _FORMAT_FACTOR.get(im.format, 1)
    if need > MAX_DECODED_BYTES:
        raise ImageError(f"image too large: {im.width}x{im.height} pixels of mode {im.mode} "
                         f"need {need / 2**20:,.0f} MiB decoded (limit "
                         f"{MAX_DECODED_BYTES // 2**20} MiB); save it smaller or as 8-bit")
    return need


# Formats Pillow recognises but must never decode here. EPS is PostScript, a programming
# language: Pillow decodes it by running Ghostscript on the file, so a "digit.png" that
# holds PostScript would hand untrusted code to an interpreter with a long record of
# sandbox escapes. Refused on the content (checked before load(), which runs gs).
REFUSED_FORMATS = {
    # Game textures: a BLP file can wrap a JPEG (with any number of scans) or palette data
    # that Pillow decodes in Python, whatever size its header claims.
    "BLP": "BLP textures are not supported; export it as PNG first",
    "EPS": "PostScript/EPS files are not supported (decoding them would run Ghostscript); "
           "export it as PNG first",
}


def os_error(exc: Exception, kind: str, doing: str) -> ImageError:
    """One-line ImageError for an OS error on a file or directory (``kind``)."""
    if isinstance(exc, FileNotFoundError):
        return ImageError(f"no such {kind}")
    if isinstance(exc, IsADirectoryError):
        return ImageError("is a directory, not an image file")
    if isinstance(exc, NotADirectoryError) and kind == "directory":
        return ImageError("not a directory")
    if isinstance(exc, PermissionError):
        return ImageError("permission denied")
    return ImageError(f"{doing}: {getattr(exc, 'strerror', None) or one_line(exc)}")


def _too_big_file_message(size: int | None) -> str:
    limit = f"limit {MAX_FILE_BYTES // (1024 * 1024)} MiB"
    if size is None:
        return f"file too large ({limit})"
    return f"file too large: {size / (1024 * 1024):.1f} MiB ({limit})"


def _check_dimensions(size: tuple[int, int], max_pixels: int = MAX_PIXELS) -> None:
    """Refuse absurd dimensions from the header alone, before decoding."""
    width, height = size
    if width < 1 or height < 1:
        raise ImageError(f"image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        hint = ("scale it down" if width * height > MAX_JPEG_PIXELS else
                f"scale it down, or save it as JPEG (read at reduced size up to "
                f"{MAX_JPEG_PIXELS // 1_000_000} MP)")
        raise ImageError(f"image too large: {width}x{height} pixels = "
                         f"{width * height / 1e6:.1f} MP (limit {max_pixels // 1_000_000} MP); "
                         f"{hint}")
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
    if mode == "L":
        return _l_to_float(im)
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
    return _l_to_float(gray)


def _l_to_float(im: Image.Image) -> np.ndarray:
    """An 8-bit gray ('L') Pillow image -> float32 (H, W) brightness 0..1.

    Its bytes, row by row, taken as they are: for a small image numpy's generic
    ``np.asarray(im)`` (through Pillow's array interface) costs twice as much, and the
    float division straight from uint8 saves a float copy. The values are the same.
    """
    pixels = np.frombuffer(im.tobytes(), np.uint8).reshape(im.height, im.width)
    return pixels / np.float32(255)     # float32, as uint8 / float32 is


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
        paper = exact_median(lum[opaque])
    else:
        # Mostly transparent: the opaque pixels are the ink. Lay it on the paper that
        # contrasts with it -- white under dark ink (the usual case), black under light.
        paper = 0.0 if exact_median(lum[opaque]) > 0.5 else 1.0
    return (lum * alpha + np.float32(paper) * (1.0 - alpha)).astype(np.float32)


def _scale_unknown_range(values: np.ndarray, *, integer: bool) -> np.ndarray:
    """32-bit int ('I') or float ('F') pixels: guess what their full scale is.

    Worked in one float32 copy, in place: a big float TIFF must not cost several
    float64 copies of itself.
    """
    a = np.array(values, dtype=np.float32)
    bad = ~np.isfinite(a)
    if bad.any():
        a[bad] = 0.0
    del bad
    lo, hi = float(a.min()), float(a.max())
    if lo >= 0.0:
        # The usual conventions, checked smallest first: floats in 0..1, 8-bit, 16-bit.
        for full in ((1.0,) if not integer else ()) + (255.0, 65535.0):
            if hi <= full:
                a *= np.float32(1.0 / full)
                return a
    # Anything else (negative values, 32-bit ranges): stretch what is there to 0..1.
    if hi <= lo:
        return np.zeros(a.shape, np.float32)
    a -= np.float32(lo)
    a *= np.float32(1.0 / (hi - lo))
    return a


def shrink(gray: np.ndarray, max_side: int | None) -> np.ndarray:
    """Reduce (H, W) by area averaging so that its longer side is at most ``max_side``."""
    if not max_side or max(gray.shape) <= max_side:
        return gray
    h, w = gray.shape
    scale = max_side / max(h, w)
    return resize(gray, max(1, round(w * scale)), max(1, round(h * scale)),
                  Image.Resampling.BOX)


def resize(a: np.ndarray, width: int, height: int, resample: int, *,
           writable: bool = True) -> np.ndarray:
    """Resize a float32 (H, W) array to (height, width) with a Pillow filter.

    ``writable=False`` returns a read-only array over the bytes Pillow hands out, for a
    result only read (an interpolated map): it saves a copy, which for a full-size map
    of a photo (3 MB of fresh memory) costs more than the resize itself."""
    im = Image.fromarray(np.ascontiguousarray(a, dtype=np.float32))  # mode 'F'
    out = im.resize((width, height), resample)
    if not writable:
        return np.frombuffer(out.tobytes(), np.float32).reshape(height, width)
    # np.array, not asarray: the result must be writable, not a view of Pillow's buffer.
    return np.array(out, dtype=np.float32)
