"""Tests for digitnet.decode, .normalise and .batch: any image file -> the network's 784 inputs.

Every image is built here with Pillow, in memory or in tmp_path. The one outside input
is the MNIST test set bundled inside the package, used to check that normalising an
MNIST digit gives (nearly) the same digit back.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import warnings
from importlib import resources

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFile

from digitnet import decode, normalise as normalise_module, surface
from digitnet.batch import IMAGE_EXTENSIONS, list_image_files, load_input
from digitnet.decode import MAX_PIXELS, read_image
from digitnet.errors import ImageError
from digitnet.normalise import normalise, raw_input
from helpers import draw_seven, encode, mutated, png_header

# --- helpers --------------------------------------------------------------------------------


def field(x: np.ndarray) -> np.ndarray:
    assert x.shape == (784,) and x.dtype == np.float32
    return x.reshape(28, 28)


def ink_box_side(x: np.ndarray) -> int:
    a = field(x)
    rows = np.flatnonzero(a.any(axis=1))
    cols = np.flatnonzero(a.any(axis=0))
    return max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)


def centre_of_mass(x: np.ndarray) -> tuple[float, float]:
    a = field(x).astype(np.float64)
    total = a.sum()
    return (a.sum(axis=1) @ np.arange(28)) / total, (a.sum(axis=0) @ np.arange(28)) / total


@pytest.fixture(scope="module")
def seven() -> Image.Image:
    return draw_seven()


@pytest.fixture(scope="module")
def seven_input(seven) -> np.ndarray:
    return load_input(encode(seven, "PNG"))


# --- formats, recognised by content --------------------------------------------------------

LOSSLESS = ["PNG", "GIF", "BMP", "TIFF"]
LOSSY = ["JPEG", "WEBP"]


@pytest.mark.parametrize("fmt", LOSSLESS + LOSSY)
def test_format_recognised_by_content_despite_wrong_extension(tmp_path, seven, seven_input, fmt):
    path = tmp_path / "digit.txt"  # the extension lies; the content decides
    path.write_bytes(encode(seven, fmt))
    x = load_input(path)
    tolerance = 0.02 if fmt in LOSSLESS else 0.06
    assert np.abs(x - seven_input).mean() < tolerance


def test_path_str_path_and_bytes_agree(tmp_path, seven):
    data = encode(seven, "PNG")
    path = tmp_path / "seven.png"
    path.write_bytes(data)
    a, b, c = load_input(path), load_input(str(path)), load_input(data)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_animated_gif_gives_first_frame(seven, seven_input):
    blank = Image.new("L", seven.size, 255)
    other = draw_seven(box=(60, 90, 110, 150), width=4)
    data = encode(seven, "GIF", save_all=True, append_images=[blank, other], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    np.testing.assert_allclose(load_input(data), seven_input, atol=0.02)


@pytest.mark.parametrize("orientation, turns", [(6, -1), (8, 1), (3, 2)])
def test_exif_orientation_is_applied(orientation, turns):
    # A dark block in the top-left corner of a landscape image; the EXIF tag says how the
    # camera was held, and the decoded array must show what the viewer would see.
    im = Image.new("L", (96, 64), 255)
    im.paste(0, (0, 0, 32, 24))
    exif = Image.Exif()
    exif[0x0112] = orientation
    gray = read_image(encode(im, "JPEG", quality=95, exif=exif))
    expected = np.rot90(np.asarray(im, dtype=np.float32) / 255, turns)  # rot90: +1 = CCW
    assert gray.shape == expected.shape
    assert np.abs(gray - expected).mean() < 0.02


# --- modes and transparency -----------------------------------------------------------------


def test_rgba_transparent_background_is_white_paper(seven, seven_input):
    # The ink only in alpha: black everywhere, opaque where the stroke is. The colour
    # under transparent pixels (here black) must not show.
    alpha = 255 - np.asarray(seven)
    rgba = np.zeros(alpha.shape + (4,), np.uint8)
    rgba[..., 3] = alpha
    gray = read_image(encode(Image.fromarray(rgba), "PNG"))
    assert gray[0, 0] == pytest.approx(1.0)  # transparent corner -> white paper
    assert gray[alpha == 255].max() == pytest.approx(0.0)  # opaque ink -> black
    np.testing.assert_allclose(load_input(encode(Image.fromarray(rgba), "PNG")), seven_input, atol=0.01)


def test_light_ink_on_transparent_canvas_stays_visible(seven, seven_input):
    # A white digit on a transparent canvas would vanish on white paper.
    alpha = 255 - np.asarray(seven)
    rgba = np.full(alpha.shape + (4,), 255, np.uint8)
    rgba[..., 3] = alpha
    np.testing.assert_allclose(load_input(encode(Image.fromarray(rgba), "PNG")), seven_input, atol=0.01)


@pytest.mark.parametrize(
    "convert",
    [
        pytest.param(lambda im: im.convert("P"), id="P"),
        pytest.param(lambda im: im.convert("1", dither=Image.Dither.NONE), id="1"),
        pytest.param(lambda im: im.convert("RGB"), id="RGB"),
        pytest.param(lambda im: im.convert("CMYK"), id="CMYK"),
        pytest.param(lambda im: im.convert("LA"), id="LA"),
        pytest.param(lambda im: im.convert("RGBA"), id="RGBA-opaque"),
        pytest.param(
            lambda im: Image.fromarray(np.asarray(im).astype(np.uint16) * 257), id="I;16"
        ),
    ],
)
def test_modes_give_the_same_input(seven, seven_input, convert):
    im = convert(seven)
    fmt = "TIFF" if im.mode == "CMYK" else "PNG"
    data = encode(im, fmt)
    assert Image.open(io.BytesIO(data)).mode == im.mode  # really stored in that mode
    np.testing.assert_allclose(load_input(data), seven_input, atol=0.02)


def test_16bit_png_scales_by_65535():
    a = np.array([[0, 32768, 65535]], np.uint16)
    im = Image.fromarray(a)
    data = encode(im, "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I;16")
    np.testing.assert_allclose(read_image(data), [[0.0, 32768 / 65535, 1.0]], rtol=1e-6)


def test_float_and_int32_tiffs():
    f = np.array([[0.0, 0.25, 1.0]], np.float32)
    np.testing.assert_allclose(read_image(encode(Image.fromarray(f), "TIFF")), f)
    i = np.array([[0, 128, 255]], np.int32)
    assert Image.fromarray(i).mode == "I"
    np.testing.assert_allclose(read_image(encode(Image.fromarray(i), "TIFF")), i / 255)


def test_palette_with_transparency_composites_on_white(seven):
    im = seven.convert("P")
    data = encode(im, "GIF", transparency=im.getpixel((0, 0)))
    gray = read_image(data)
    assert gray[0, 0] == pytest.approx(1.0)


# --- normalise: polarity, size, centring ------------------------------------------------------


def test_both_polarities_give_the_same_input(seven):
    g = np.asarray(seven, dtype=np.float32) / 255
    np.testing.assert_allclose(normalise(g), normalise(1.0 - g), atol=1e-6)


@pytest.mark.parametrize(
    "canvas, box",
    [
        ((600, 400), (20, 300, 60, 380)),  # small, in the bottom-left corner
        ((300, 300), (200, 10, 290, 150)),  # top right
        ((80, 120), (0, 0, 80, 120)),  # fills the canvas edge to edge
    ],
)
def test_digit_is_boxed_to_20_and_centred_by_mass(canvas, box):
    im = draw_seven(size=canvas, box=box, width=max(3, (box[3] - box[1]) // 8))
    x = load_input(encode(im, "PNG"))
    assert ink_box_side(x) == 20
    r, c = centre_of_mass(x)
    assert abs(r - 14.0) <= 0.5 and abs(c - 14.0) <= 0.5
    assert x.max() == pytest.approx(1.0)


def test_wide_digit_keeps_its_aspect_ratio():
    # A flat 200x60 loop (a squashed 0). (A straight dash lying down is no digit at all.)
    im = Image.new("L", (300, 100), 255)
    ImageDraw.Draw(im).ellipse((50, 20, 249, 79), outline=0, width=8)
    a = field(load_input(encode(im, "PNG")))
    rows = np.flatnonzero(a.max(axis=1) > 0.5)
    cols = np.flatnonzero(a.max(axis=0) > 0.5)
    assert cols[-1] - cols[0] + 1 == 20
    assert rows[-1] - rows[0] + 1 in (6, 7)  # 60 / 200 * 20, give or take its edge


def test_uneven_lighting_and_noise_like_a_phone_photo(seven, seven_input):
    rng = np.random.default_rng(0)
    g = np.asarray(seven, dtype=np.float32) / 255
    h, w = g.shape
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    light = 0.6 + 0.35 * xx + 0.1 * yy  # dim on the left, bright on the right
    photo = np.clip((0.15 + 0.75 * g) * light + rng.normal(0, 0.02, g.shape), 0, 1)
    x = normalise(photo.astype(np.float32))
    assert np.corrcoef(x, seven_input)[0, 1] > 0.9


def test_stray_specks_are_ignored(seven, seven_input):
    im = seven.copy()
    big = Image.new("L", (400, 300), 255)
    big.paste(im, (150, 100))
    draw = ImageDraw.Draw(big)
    for x, y in [(10, 10), (380, 280), (20, 250)]:
        draw.ellipse((x, y, x + 3, y + 3), fill=0)
    np.testing.assert_allclose(load_input(encode(big, "PNG")), seven_input, atol=0.05)


def test_thin_strokes_are_thickened():
    thin = draw_seven(size=(600, 800), box=(100, 100, 500, 700), width=2)
    x = load_input(encode(thin, "PNG"))
    # A 2-px line in a 600-px digit is 0.07 px at MNIST scale; MNIST strokes carry
    # roughly 100 units of ink in total. Without thickening this would be ~15.
    assert x.sum() > 40


def test_mnist_digits_come_back_nearly_unchanged():
    data_dir = resources.files("digitnet.data")
    with gzip.open(io.BytesIO(data_dir.joinpath("t10k-images-idx3-ubyte.gz").read_bytes())) as f:
        header = f.read(16)
        magic, n, rows, cols = struct.unpack(">IIII", header)
        assert (magic, rows, cols) == (0x803, 28, 28)
        digits = np.frombuffer(f.read(300 * 784), np.uint8).reshape(300, 28, 28)
    diffs = []
    for d in digits:
        x = load_input(encode(Image.fromarray(d), "PNG"))
        inverted = load_input(encode(Image.fromarray(255 - d), "PNG"))
        np.testing.assert_allclose(x, inverted, atol=1e-6)
        diffs.append(np.abs(x - d.reshape(784) / 255).mean())
    diffs = np.array(diffs)
    assert diffs.mean() < 0.003
    assert (diffs < 0.01).mean() > 0.97


# --- blank and broken inputs ------------------------------------------------------------------


@pytest.mark.parametrize("level", [0, 128, 255])
def test_uniform_image_has_no_digit(level):
    with pytest.raises(ImageError, match="no digit found"):
        load_input(encode(Image.new("L", (64, 64), level), "PNG"))


def test_faint_noise_only_has_no_digit():
    rng = np.random.default_rng(1)
    noise = np.clip(0.8 + rng.normal(0, 0.02, (200, 300)), 0, 1).astype(np.float32)
    with pytest.raises(ImageError, match="no digit found"):
        normalise(noise)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"hello, this is not an image\n", "text"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
        (b'<svg width="10" height="10"></svg>', "SVG"),
        (bytes(range(256)) * 4, "not an image"),
        (b"%PDF-1.4\n", "PDF"),
    ],
)
def test_non_images_raise_image_error(data, message):
    with pytest.raises(ImageError, match=message):
        load_input(data)


# Where a truncated file ends: a function of the whole file's length.
CUTS = {"1-byte": lambda n: 1, "8-bytes": lambda n: 8, "20-bytes": lambda n: 20,
        "a-third": lambda n: n // 3, "half": lambda n: n // 2}


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"])
@pytest.mark.parametrize("cut", list(CUTS))
def test_truncated_files_raise_image_error(seven, fmt, cut):
    data = encode(seven, fmt)
    with pytest.raises(ImageError) as info:
        load_input(data[:CUTS[cut](len(data))])
    assert str(info.value) and "\n" not in str(info.value)


def _corrupt(data: bytes) -> bytes:
    """32 bytes in the middle of the file overwritten with 0xff."""
    corrupt = bytearray(data)
    corrupt[len(data) // 2 : len(data) // 2 + 32] = b"\xff" * 32
    return bytes(corrupt)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF"])
def test_corrupt_compressed_data_raises_image_error(seven, fmt):
    # The damage breaks the compressed stream (PNG: also its CRC): no picture to give.
    with pytest.raises(ImageError, match="^cannot decode image: "):
        load_input(_corrupt(encode(seven, fmt)))


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "WEBP"])
def test_corrupt_pixels_without_a_checksum_still_decode(seven, fmt):
    # Uncompressed BMP and TIFF, and lossy WebP, carry no checksum over their pixels:
    # damaged pixels are just other pixels, and the picture decodes to valid inputs.
    x = load_input(_corrupt(encode(seven, fmt)))
    assert x.shape == (784,) and x.dtype == np.float32
    assert np.isfinite(x).all() and 0.0 <= x.min() and x.max() <= 1.0


def test_messages_are_one_line_and_name_no_file(tmp_path):
    path = tmp_path / "secret-name.png"
    path.write_bytes(b"garbage" * 10)
    with pytest.raises(ImageError) as info:
        load_input(path)
    assert "secret-name" not in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_input(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="directory"):
        load_input(tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_permission_denied(tmp_path, seven):
    path = tmp_path / "locked.png"
    path.write_bytes(encode(seven, "PNG"))
    path.chmod(0)
    with pytest.raises(ImageError, match="permission denied"):
        load_input(path)


def test_file_size_limit(monkeypatch, tmp_path, seven):
    data = encode(seven, "PNG")
    monkeypatch.setattr(decode, "MAX_FILE_BYTES", len(data) - 1)
    path = tmp_path / "big.png"
    path.write_bytes(data)
    with pytest.raises(ImageError, match="file too large"):
        load_input(path)
    with pytest.raises(ImageError, match="file too large"):
        load_input(data)


# --- absurd dimensions --------------------------------------------------------------------------


def test_decompression_bomb_header_is_refused_before_decoding(monkeypatch):
    class Decoded(BaseException):
        pass

    def decode_pixels(self, *args, **kwargs):
        raise Decoded("the pixels were decoded")

    filters_before = list(warnings.filters)
    limit_before = Image.MAX_IMAGE_PIXELS
    # Refused from the header: the pixel data is never decoded (how fast the refusal is,
    # is for benchmarks/).
    monkeypatch.setattr(ImageFile.ImageFile, "load", decode_pixels)
    with pytest.raises(ImageError, match=r"image too large: 100000x100000 pixels = 10000.0 MP \(limit 50 MP\); scale it down$"):
        load_input(png_header(100_000, 100_000, data_bytes=64))
    monkeypatch.undo()
    # No global state changed on the way.
    assert warnings.filters == filters_before
    assert Image.MAX_IMAGE_PIXELS == limit_before


@pytest.mark.parametrize(
    "width, height, message",
    [
        (8000, 7000, "8000x7000 pixels"),  # above our limit, below Pillow's own
        (12_000, 12_000, "12000x12000 pixels"),  # Pillow would only warn
        (40_000, 10, "per side"),
    ],
)
def test_dimension_limits(width, height, message):
    assert width * height > MAX_PIXELS or max(width, height) > decode.MAX_SIDE
    with pytest.raises(ImageError, match=message):
        read_image(png_header(width, height, data_bytes=64))


@pytest.mark.parametrize("size", [(1, 1), (20000, 10), (10, 20000), (2, 1)])
@pytest.mark.parametrize("content", ["blank", "ink"])
def test_degenerate_sizes_give_a_result_or_image_error(size, content):
    im = Image.new("L", size, 255)
    if content == "ink":
        ImageDraw.Draw(im).line([(0, 0), (size[0] - 1, size[1] - 1)], fill=0, width=3)
    try:
        x = load_input(encode(im, "PNG"))
    except ImageError:
        return
    assert x.shape == (784,) and np.isfinite(x).all()
    assert 0.0 <= x.min() and x.max() <= 1.0


def test_large_jpeg_is_reduced_while_decoding():
    im = draw_seven(size=(3000, 2000), box=(1000, 400, 1800, 1600), width=80)
    data = encode(im, "JPEG", quality=80)
    gray = read_image(data, max_side=normalise_module.WORK_SIDE)
    assert max(gray.shape) <= normalise_module.WORK_SIDE
    assert read_image(data).shape == (2000, 3000)
    x = load_input(data)
    assert ink_box_side(x) == 20


# --- colour beside the gray ------------------------------------------------------------------


def _note_picture(mode="RGB", size=(400, 300)):
    """A yellow note on a blue desk."""
    im = Image.new("RGB", size, (40, 60, 160))
    ImageDraw.Draw(im).rectangle((100, 80, 300, 240), fill=(250, 230, 90))
    return im.convert(mode) if mode != "RGB" else im


def test_a_colour_picture_brings_a_small_copy_of_its_colour():
    im = _note_picture()
    picture = decode.read_picture(encode(im, "PNG"))
    assert picture.gray.shape == (300, 400)
    np.testing.assert_array_equal(picture.gray, read_image(encode(im, "PNG")))
    cb, cr = picture.chroma[..., 0], picture.chroma[..., 1]
    assert picture.chroma.shape == (240, 320, 2)   # CHROMA_SIDE, the gray's aspect
    # Cb = 0.564 (B - Y), Cr = 0.713 (R - Y): the blue desk is bluish, the note yellow.
    assert cb[5, 5] > 0.15 and cr[5, 5] < -0.05
    assert cb[130, 160] < -0.15 and cr[130, 160] > 0.0
    # The same from a numpy array, a PIL image and a JPEG (within JPEG's losses).
    for source, tol in ((np.asarray(im), 0.01), (im, 0.01), (encode(im, "JPEG", quality=95), 0.03)):
        other = decode.read_picture(source).chroma
        assert other.shape == (240, 320, 2)
        assert abs(float(other[130, 160, 0]) - float(cb[130, 160])) < tol


@pytest.mark.parametrize("what", ["gray", "gray as RGB", "transparent", "small"])
def test_pictures_without_colour_to_speak_of_bring_none(what):
    im = {"gray": _note_picture("L"),
          "gray as RGB": _note_picture("L").convert("RGB"),
          "small": _note_picture(size=(80, 60)),
          "transparent": _note_picture("RGBA")}[what]
    if what == "transparent":
        im.putpixel((0, 0), (0, 0, 0, 0))
    assert decode.read_picture(encode(im, "PNG")).chroma is None


def test_an_opaque_rgba_picture_and_a_cmyk_jpeg_bring_colour():
    assert decode.read_picture(encode(_note_picture("RGBA"), "PNG")).chroma is not None
    assert decode.read_picture(encode(_note_picture("CMYK"), "JPEG")).chroma is not None


def test_a_large_jpeg_brings_its_colour_at_the_small_size():
    im = _note_picture(size=(4000, 3000))
    picture = decode.read_picture(encode(im, "JPEG", quality=85),
                                  max_side=normalise_module.WORK_SIDE)
    assert picture.chroma.shape == (240, 320, 2)



def test_the_colour_is_made_when_first_read_from_what_was_decoded():
    # A PIL image handed in and changed afterwards, or a file's image closed when
    # reading ends: the colour made later is still the picture's as it was read.
    im = _note_picture()
    picture = decode.read_picture(im)
    im.paste((0, 0, 0), (0, 0, 400, 300))
    np.testing.assert_array_equal(picture.chroma, decode.read_picture(_note_picture()).chroma)
    assert picture.chroma is picture.chroma   # made once
    jpeg = decode.read_picture(encode(_note_picture(), "JPEG", quality=95))
    assert jpeg.chroma.shape == (240, 320, 2)


def test_a_picture_whose_colour_is_not_made_yet_pickles_with_it():
    import pickle
    picture = decode.read_picture(_note_picture())
    copy = pickle.loads(pickle.dumps(picture))
    np.testing.assert_array_equal(copy.gray, picture.gray)
    np.testing.assert_array_equal(copy.chroma, decode.read_picture(_note_picture()).chroma)


def _counting(picture):
    calls = []

    def chroma():
        calls.append(1)
        return picture.chroma
    return chroma, calls


def test_a_sheet_on_a_desk_is_found_without_its_colour_and_a_note_by_it():
    # A light sheet on a dark desk is found by brightness: its colour is never made.
    im = Image.new("RGB", (800, 600), (60, 45, 30))
    ImageDraw.Draw(im).polygon([(150, 60), (690, 110), (640, 560), (110, 520)],
                               fill=(235, 232, 222))
    ImageDraw.Draw(im).line([(330, 200), (480, 210), (380, 420)], fill=(20, 25, 60), width=14)
    picture = decode.read_picture(encode(im, "JPEG", quality=90),
                                  max_side=normalise_module.WORK_SIDE)
    chroma, calls = _counting(picture)
    normalise_module.normalise(picture.gray, chroma=chroma)
    assert calls == []
    # A red note as bright as its blue desk can only be told by colour: it is made.
    im = Image.new("RGB", (400, 300), (40, 60, 160))
    ImageDraw.Draw(im).rectangle((100, 80, 300, 240), fill=(130, 40, 20))
    picture = decode.read_picture(encode(im, "PNG"))
    chroma, calls = _counting(picture)
    surface.find_surface(picture.gray, chroma)
    assert calls == [1]

# --- raw input ----------------------------------------------------------------------------------


def test_raw_input_returns_the_pixels_divided_by_255():
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (28, 28), dtype=np.uint8)
    x = load_input(encode(Image.fromarray(pixels), "PNG"), raw=True)
    assert x.dtype == np.float32 and x.shape == (784,)
    np.testing.assert_array_equal(x, pixels.reshape(784).astype(np.float32) / 255)
    np.testing.assert_array_equal(raw_input(pixels.astype(np.float32) / 255), x)


def test_raw_input_refuses_other_sizes():
    with pytest.raises(ImageError, match="28x28.*30x20"):
        load_input(encode(Image.new("L", (30, 20)), "PNG"), raw=True)
    with pytest.raises(ImageError):
        raw_input(np.zeros(784, np.float32))


def test_normalise_rejects_bad_arrays():
    with pytest.raises(ImageError):
        normalise(np.zeros((0, 5), np.float32))
    with pytest.raises(ImageError):
        normalise(np.zeros((3, 3, 3), np.float32))
    with pytest.raises(ImageError):
        normalise(np.full((5, 5), np.nan, np.float32))


# --- folders ------------------------------------------------------------------------------------


def test_image_extensions():
    for ext in (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"):
        assert ext in IMAGE_EXTENSIONS
    for ext in (".pdf", ".svg", ".txt", ".h5", ".npz"):
        assert ext not in IMAGE_EXTENSIONS
    assert all(ext == ext.lower() and ext.startswith(".") for ext in IMAGE_EXTENSIONS)


def test_list_image_files_sorts_and_filters(tmp_path):
    for name in ["b.png", "a.JPG", "c.txt", ".hidden.png", "d.webp", "10.tif", "2.bmp", "noext"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.png").write_bytes(b"x")
    (tmp_path / "link.gif").symlink_to(tmp_path / "b.png")
    (tmp_path / "dangling.png").symlink_to(tmp_path / "missing.png")
    names = [p.name for p in list_image_files(tmp_path)]
    assert names == ["10.tif", "2.bmp", "a.JPG", "b.png", "d.webp", "link.gif"]
    assert all(p.parent == tmp_path for p in list_image_files(str(tmp_path)))


def test_list_image_files_empty_and_missing(tmp_path):
    assert list_image_files(tmp_path) == []
    with pytest.raises(ImageError):
        list_image_files(tmp_path / "missing")
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(ImageError):
        list_image_files(tmp_path / "file.png")


# --- fuzzing ------------------------------------------------------------------------------------


def _seed_images() -> list[bytes]:
    small = draw_seven(size=(24, 32), box=(4, 4, 20, 28), width=3)
    seeds = [encode(small, fmt) for fmt in ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")]
    seeds.append(encode(small.convert("RGBA"), "PNG"))
    seeds.append(encode(small.convert("P"), "PNG"))
    return seeds


SEEDS = _seed_images()


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.one_of(st.binary(max_size=512), mutated(SEEDS, header=40)))
def test_any_bytes_give_784_inputs_or_image_error(data):
    try:
        x = load_input(data)
    except ImageError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert x.shape == (784,) and x.dtype == np.float32
    assert np.isfinite(x).all() and 0.0 <= x.min() and x.max() <= 1.0


def test_other_formats_still_open_after_the_png_fast_path(tmp_path):
    # read_image imports only Pillow's PNG plugin for a PNG; a BMP, GIF or TIFF read later in
    # the same process must still open (Pillow then loads all its plugins). Fresh process,
    # so that no earlier test has loaded the plugins already.
    import subprocess
    import sys
    img = Image.new("L", (40, 40), 255)
    ImageDraw.Draw(img).line([(20, 5), (20, 35)], fill=0, width=4)
    for ext in ("png", "bmp", "gif", "tiff"):
        img.save(tmp_path / f"d.{ext}")
    code = ("import sys; from digitnet.batch import load_input; from PIL import Image\n"
            "for ext in ('png', 'bmp', 'gif', 'tiff'):\n"
            "    assert load_input(sys.argv[1] + '/d.' + ext).shape == (784,), ext\n"
            "print(Image._initialized)")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
