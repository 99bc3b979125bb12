"""Real-photo scenes: the digit on the paper -- not the desk, the frame, the rulings or a speck.

Each scene is built here from a bundled MNIST test digit turned into pen ink (a generator
of its own, unlike benchmarks/scenes.py), classified through the public API with the
shipped default model, and checked for the right digit; the same surfaces without a
digit, specks and scratches must be refused; two digits side by side named as such.
"""

import io
from pathlib import Path

import numpy as np
import pytest
from helpers import run
from PIL import Image, ImageDraw, ImageFilter

import digitnet
from digitnet.blobs import SeveralDigits
from digitnet.errors import ImageError


@pytest.fixture(scope="module")
def net():
    return digitnet.load("default")


@pytest.fixture(scope="module")
def digits(mnist_test, net):
    """A test digit 0..9 each that the default model reads with a wide margin as plain
    MNIST: a failure below is the scene's doing, not the digit's."""
    x, y = mnist_test
    chosen = {}
    for i in range(200):
        d = int(y[i])
        if d not in chosen and net.results(x[i:i + 1])[0].margin > 0.9:
            chosen[d] = x[i].reshape(28, 28)
    assert len(chosen) == 10
    return chosen


def ink(x28, height, rng):
    """An MNIST digit as a pen stroke mask ``height`` px tall: float (h, h) 0..1."""
    im = Image.fromarray((x28 * 255).astype(np.uint8)).resize((height, height),
                                                             Image.Resampling.BICUBIC)
    a = np.asarray(im, np.float32) / 255
    return np.clip((a - 0.25) * rng.uniform(1.6, 2.4), 0, 1)


def lay(canvas, mask, top, left, pen):
    """Composite ``mask`` in colour ``pen`` (RGB 0..1) onto an (H, W, 3) float canvas."""
    h, w = mask.shape
    region = canvas[top:top + h, left:left + w]
    region[:] = region * (1 - mask[..., None]) + np.asarray(pen, np.float32) * mask[..., None]


def rgb(canvas):
    return Image.fromarray((np.clip(canvas, 0, 1) * 255 + 0.5).astype(np.uint8))


def noise(shape, rng, amount):
    return rng.normal(0, amount, shape).astype(np.float32)


def polygon(h, w, corners, blur):
    """A polygon's mask, its edge softened by a Gaussian of ``blur`` px: (h, w, 1) 0..1."""
    m = Image.new("L", (w, h), 0)
    ImageDraw.Draw(m).polygon(corners, fill=255)
    return np.asarray(m.filter(ImageFilter.GaussianBlur(blur)), np.float32)[..., None] / 255


def lay_note(canvas, corners, colour, shadow=None):
    """``canvas`` (h, w, 3) with a note of ``colour`` (a shade, RGB or an (h, w, 3) map)
    laid on it; ``shadow`` = (dx, dy, blur, depth): first its shadow, shifted."""
    h, w = canvas.shape[:2]
    if shadow is not None:
        dx, dy, blur, depth = shadow
        canvas = canvas * (1 - depth * polygon(h, w, [(x + dx, y + dy) for x, y in corners], blur))
    m = polygon(h, w, corners, 1)
    return canvas * (1 - m) + np.asarray(colour, np.float32) * m


def desk(rng, digit=None):
    """A sheet turned 10-20 degrees, filling most of a dark wooden desk photo, JPEG."""
    h, w = 480, 640
    grain = np.sin(np.linspace(0, 40, w))[None, :] * 0.03 + noise((h, w), rng, 0.02)
    canvas = np.stack([0.35 + grain, 0.22 + grain, 0.12 + grain], axis=2).astype(np.float32)
    angle = np.deg2rad(rng.uniform(10, 20) * rng.choice([-1, 1]))
    cx, cy, hw, hh = w / 2, h / 2, 230, 190
    corners = [(cx + x * np.cos(angle) - y * np.sin(angle), cy + x * np.sin(angle) + y * np.cos(angle))
               for x, y in ((-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh))]
    m = polygon(h, w, corners, 1.5)
    canvas = canvas * (1 - m) + np.float32(0.92) * m
    canvas *= np.linspace(1.0, 0.8, w, dtype=np.float32)[None, :, None]  # light from the left
    if digit is not None:
        lay(canvas, ink(digit, 150, rng), 150, 230, (0.1, 0.1, 0.35))
    return rgb(canvas + noise(canvas.shape, rng, 0.01)), "JPEG"


def framed(rng, digit=None, border=(3, 0.0)):
    """A white 400x400 page inside a frame: ``border`` = (width px, grey level)."""
    canvas = np.ones((400, 400, 3), np.float32)
    b, level = border
    canvas[:b] = canvas[-b:] = canvas[:, :b] = canvas[:, -b:] = level
    if digit is not None:
        lay(canvas, ink(digit, 170, rng), 110, 120, (0, 0, 0))
    return rgb(canvas), "PNG"


def scanner_edge(rng, digit=None):
    """A scan with a black lid edge along two sides, one of them slightly tilted."""
    canvas = np.full((700, 520, 3), 0.97, np.float32)
    canvas[:, :40] = 0.05
    ys = np.arange(700)[:, None]
    xs = np.arange(520)[None, :]
    canvas[(ys > 650 - xs * 0.05)] = 0.08
    if digit is not None:
        lay(canvas, ink(digit, 200, rng), 220, 170, (0.15, 0.15, 0.15))
    return rgb(canvas + noise(canvas.shape, rng, 0.01)), "PNG"


def screenshot(rng, digit=None):
    """A paint program: dark title bar with buttons, grey toolbar with icons, white canvas."""
    canvas = np.ones((520, 760, 3), np.float32)
    canvas[:28] = (0.17, 0.18, 0.22)
    for i in range(3):
        canvas[8:20, 700 + i * 18:712 + i * 18] = (0.8, 0.3, 0.3)
    canvas[28:68] = 0.88
    canvas[67] = 0.6
    for i in range(12):
        canvas[36:60, 12 + i * 36:36 + i * 36] = 0.25 + 0.05 * (i % 3)
    if digit is not None:
        mask = ink(digit, 230, rng) > 0.5  # a paint brush: crisp
        lay(canvas, mask.astype(np.float32), 160, 280, (0, 0, 0))
    return rgb(canvas), "PNG"


def sticky(rng, digit=None):
    """A yellow sticky note on a dark grey desk."""
    canvas = np.full((600, 800, 3), 0.25, np.float32) + noise((600, 800, 1), rng, 0.02)
    canvas[150:450, 250:550] = (0.98, 0.92, 0.45)
    if digit is not None:
        lay(canvas, ink(digit, 170, rng), 215, 315, (0.05, 0.05, 0.25))
    return rgb(canvas), "JPEG"


def ruled(rng, digit=None):
    """Lined paper: light-blue rulings every 32 px and a red margin line."""
    canvas = np.ones((640, 520, 3), np.float32)
    for y in range(60, 640, 32):
        canvas[y:y + 2] = (0.65, 0.78, 0.95)
    canvas[:, 64:66] = (0.95, 0.55, 0.55)
    if digit is not None:
        lay(canvas, ink(digit, 110, rng), 250, 230, (0.05, 0.05, 0.2))
    return rgb(canvas), "PNG"


def squared(rng, digit=None):
    """Squared paper: a grey-blue grid every 20 px."""
    canvas = np.ones((500, 500, 3), np.float32)
    for v in range(10, 500, 20):
        canvas[v] = (0.7, 0.78, 0.88)
        canvas[:, v] = (0.7, 0.78, 0.88)
    if digit is not None:
        lay(canvas, ink(digit, 130, rng), 180, 180, (0.05, 0.05, 0.05))
    return rgb(canvas), "PNG"


def specks(rng, digit=None):
    """Paper with dust specks and one hairline scratch, away from the digit."""
    canvas = np.full((500, 500, 3), 0.96, np.float32) + noise((500, 500, 1), rng, 0.01)
    for _ in range(12):
        y, x = int(rng.integers(5, 495)), int(rng.choice([rng.integers(5, 120), rng.integers(390, 495)]))
        r = int(rng.integers(1, 3))
        canvas[y - r:y + r + 1, x - r:x + r + 1] = 0.2
    ys = np.arange(40, 460)
    canvas[ys, (30 + ys * 0.05).astype(int)] = 0.7  # a faint straight scratch
    if digit is not None:
        lay(canvas, ink(digit, 160, rng), 170, 170, (0.1, 0.1, 0.1))
    return rgb(canvas), "PNG"


def grey_note(rng, digit=None):
    """A grey note on a white wall lit from one side, with a soft shadow below it: in
    grey, the note is only a little darker than the wall, which varies more across."""
    h, w = 600, 800
    light = np.linspace(0.99, 0.8, w, dtype=np.float32)[None, :, None]
    canvas = np.ones((h, w, 3), np.float32) * light + noise((h, w, 1), rng, 0.01)
    canvas[322:462, 270:558] *= 0.88                          # the shadow under the note
    canvas[140:450, 250:540] = (0.72, 0.72, 0.7)
    if digit is not None:
        lay(canvas, ink(digit, 170, rng), 200, 310, (0.1, 0.1, 0.15))
    return rgb(canvas).filter(ImageFilter.GaussianBlur(1)), "JPEG"


def small_note(rng, digit=None):
    """A small picture (under 400 px): a white note on a dark table, a thin pen digit."""
    canvas = np.full((300, 360, 3), 0.3, np.float32) + noise((300, 360, 1), rng, 0.02)
    canvas[60:250, 90:270] = 0.95
    if digit is not None:
        lay(canvas, ink(digit, 110, rng), 100, 125, (0.1, 0.1, 0.1))
    return rgb(canvas), "JPEG"


def graph_paper(rng, digit=None):
    """Graph paper photographed: faint lines every 12 px, every fifth one bold, the
    page bent a little so that the lines waver by a pixel or two."""
    h, w = 720, 600
    canvas = np.ones((h, w, 3), np.float32)
    wave = np.round(1.5 * np.sin(np.arange(w) / 90.0)).astype(int)
    for i, v in enumerate(range(8, h - 4, 12)):
        colour = (0.45, 0.6, 0.75) if i % 5 == 0 else (0.82, 0.88, 0.94)
        canvas[np.clip(v + wave, 0, h - 1), np.arange(w)] = colour
    for i, v in enumerate(range(8, w - 4, 12)):
        colour = (0.45, 0.6, 0.75) if i % 5 == 0 else (0.82, 0.88, 0.94)
        canvas[:, v] = np.minimum(canvas[:, v], colour)
    if digit is not None:
        lay(canvas, ink(digit, 150, rng), 260, 220, (0.05, 0.05, 0.1))
    return rgb(canvas).filter(ImageFilter.GaussianBlur(0.6)), "JPEG"


def landscape_edge(rng, digit=None):
    """A landscape scan whose page edge left a dark line down one side, a little in from
    the border: it runs the page's height, which is not most of its width."""
    h, w = 520, 780
    canvas = np.full((h, w, 3), 0.95, np.float32) + noise((h, w, 1), rng, 0.01)
    canvas[:, 40:43] = 0.15
    if digit is not None:
        lay(canvas, ink(digit, 150, rng), 190, 160, (0.1, 0.1, 0.1))
    return rgb(canvas), "PNG"


SCENES = {"desk": desk, "framed-1px-grey": lambda rng, d=None: framed(rng, d, (1, 0.5)),
          "framed-3px-black": lambda rng, d=None: framed(rng, d, (3, 0.0)),
          "framed-10px-grey": lambda rng, d=None: framed(rng, d, (10, 0.6)),
          "scanner-edge": scanner_edge, "screenshot": screenshot, "sticky": sticky,
          "ruled": ruled, "squared": squared, "specks": specks, "grey-note": grey_note,
          "small-note": small_note, "graph-paper": graph_paper,
          "landscape-edge": landscape_edge}


def encoded(image_and_format):
    import io
    image, fmt = image_and_format
    buf = io.BytesIO()
    image.save(buf, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
    return buf.getvalue()


@pytest.mark.parametrize("kind", SCENES)
def test_each_scene_kind_reads_the_digit(kind, digits, net):
    rng = np.random.default_rng(list(SCENES).index(kind))
    wrong = []
    for d in (1, 3, 4, 7, 8):
        result = net.classify(encoded(SCENES[kind](rng, digits[d])))
        if result.digit != d:
            wrong.append((d, result.digit))
    assert not wrong, f"{kind}: (true, read) {wrong}"


@pytest.mark.parametrize("kind", SCENES)
def test_each_blank_surface_is_no_digit(kind, net):
    rng = np.random.default_rng(100 + list(SCENES).index(kind))
    with pytest.raises(ImageError, match="^no digit found$"):
        net.classify(encoded(SCENES[kind](rng)))


@pytest.mark.parametrize("make", [
    pytest.param(lambda: Image.new("L", (400, 400), 255), id="white canvas"),
    pytest.param(lambda: Image.fromarray(np.pad(np.zeros((1, 1), np.uint8), 199,
                                                constant_values=255)), id="one black pixel"),
    pytest.param(lambda: _dots(), id="a few specks"),
    pytest.param(lambda: _scratch(), id="a hairline scratch"),
    pytest.param(lambda: Image.new("RGB", (640, 480), (200, 205, 60)), id="empty yellow note"),
    pytest.param(lambda: _bar(8), id="a leftover edge lying on its side"),
])
def test_specks_and_empty_canvases_are_no_digit(make, net):
    with pytest.raises(ImageError, match="^no digit found$"):
        net.classify(make())


def _dots():
    im = Image.new("L", (500, 400), 250)
    d = ImageDraw.Draw(im)
    for x, y in ((50, 60), (300, 200), (420, 330), (200, 350)):
        d.ellipse((x, y, x + 3, y + 3), fill=40)
    return im


def _bar(tilt):
    """A sheet with a dark straight bar across it, tilted ``tilt`` degrees from level: what
    a sheet's edge, a frame's side or a toolbar's rule leaves behind -- no digit."""
    im = Image.new("L", (600, 450), 240)
    dy = int(round(300 * np.tan(np.deg2rad(tilt))))
    ImageDraw.Draw(im).line((150, 220, 450, 220 - dy), fill=60, width=9)
    return im


def test_a_straight_one_that_stands_is_still_a_digit(net):
    # The one straight digit: a 1, upright or slanted as people write it.
    for slant in (0, 25):
        im = Image.new("L", (400, 400), 240)
        dx = int(round(200 * np.tan(np.deg2rad(slant))))
        ImageDraw.Draw(im).line((200 + dx // 2, 100, 200 - dx // 2, 300), fill=30, width=14)
        assert net.classify(im).digit == 1, slant


def _scratch():
    im = Image.new("L", (500, 500), 245)
    ImageDraw.Draw(im).line((60, 40, 90, 460), fill=170, width=1)
    return im


def test_two_digits_side_by_side_are_named(digits, net):
    rng = np.random.default_rng(7)
    canvas = np.ones((300, 520, 3), np.float32)
    lay(canvas, ink(digits[4], 200, rng), 50, 40, (0, 0, 0))
    lay(canvas, ink(digits[2], 200, rng), 50, 280, (0, 0, 0))
    with pytest.raises(SeveralDigits, match="^2 digits found side by side") as e:
        net.classify(rgb(canvas))
    assert e.value.count == 2


def test_a_digit_with_a_loose_piece_is_still_one_digit(digits, net):
    """Separated parts of one digit (the flag of a 5 lifted off) are not two digits."""
    rng = np.random.default_rng(3)
    canvas = np.ones((300, 300, 3), np.float32)
    mask = ink(digits[5], 200, rng)
    mask[:, 95:105] = 0  # cut the 5 in two with a small gap
    lay(canvas, mask, 50, 50, (0, 0, 0))
    net.classify(rgb(canvas))  # must not raise SeveralDigits


def test_the_cli_reports_several_digits_on_one_line(tmp_path, digits):
    rng = np.random.default_rng(8)
    canvas = np.ones((300, 760, 3), np.float32)
    for i, d in enumerate((1, 9, 3)):
        lay(canvas, ink(digits[d], 200, rng), 50, 30 + i * 240, (0, 0, 0))
    rgb(canvas).save(tmp_path / "193.png")
    r = run("classify", tmp_path / "193.png")
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr == (f"digitnet: {tmp_path / '193.png'}: 3 digits found side by side; "
                        "digitnet reads one digit per image (crop it to the one you want)\n")


def test_a_tiny_low_resolution_scan_is_still_read(digits, net):
    # A form scanned at low resolution: the digit 9..14 px in all. In so small a picture
    # most neighbouring pixels straddle a stroke edge, which once passed for noise and
    # turned every such scan into "no digit found".
    read = 0
    for d, x28 in digits.items():
        crop = x28[4:24, 4:24]  # the 20x20 box MNIST put the digit in
        small = Image.fromarray(255 - (crop * 255).astype(np.uint8)).resize(
            (9, 12) if d == 1 else (11, 14), Image.Resampling.BOX)
        read += net.classify(small).digit == d   # must not raise "no digit found"
    assert read >= 8, read


@pytest.mark.parametrize("shape,at", [((140, 140), 0.1), ((480, 640), 0.1), ((600, 800), 0.14)])
def test_a_ruler_straight_one_near_a_side_is_still_a_digit(net, shape, at):
    # Only a line close to the border and running the picture's side is a frame's edge.
    h, w = shape
    g = np.ones(shape, np.float32)
    x = int(at * w)
    g[int(0.09 * h):int(0.91 * h), x:x + max(4, w // 35)] = 0.05
    assert net.classify(Image.fromarray((g * 255).astype(np.uint8))).digit == 1


def test_three_bars_on_lined_paper_are_not_a_grid():
    # Three bars lying on rulings, two rulings apart, are evenly spaced -- but they are a
    # digit's strokes, not a grid's major lines.
    from digitnet.rulings import remove_rulings
    ink = np.zeros((400, 400), np.float32)
    ink[20::40] = ink[21::40] = 0.3
    for r in (100, 180, 260):
        ink[r - 2:r + 4, 100:300] = 1
    ink[100:266, 294:300] = 1
    assert (remove_rulings(ink)[[100, 180, 260], 150] == 1).all()


def test_a_bold_light_digit_on_black_keeps_its_loops(mnist_test, net):
    # Light ink on black at 112 px: the closing fills a bold 6's loop; that is no
    # surface holding ink, and the digit must not be painted over as a desk.
    x, y = mnist_test
    for i in (130, 131, 353, 632, 761):      # each was misread when the loop was lost
        dark = Image.fromarray(np.rint(255 - 255 * x[i].reshape(28, 28)).astype(np.uint8))
        big = 255 - np.asarray(dark.resize((112, 112), Image.Resampling.BILINEAR))
        assert net.classify(Image.fromarray(big)).digit == y[i], i


def _shadowed_blank(rng):
    """A blank sheet photographed with soft shadows across it (a hand's, a phone's), at
    most 0.06 darker than the paper: stretched to full strength they pass for ink."""
    h, w = 720, 960
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    shade = np.zeros((h, w), np.float32)
    for _ in range(3):
        cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w
        ry, rx = rng.uniform(0.08, 0.2) * h, rng.uniform(0.08, 0.2) * w
        shade += np.exp(-(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2) ** 2)
    g = 0.9 - 0.06 * shade / shade.max() + noise((h, w), rng, 0.008)
    return Image.fromarray((np.clip(g, 0, 1) * 255).astype(np.uint8)), "JPEG"


def test_a_blank_sheet_with_soft_shadows_is_no_digit(net):
    for seed in (0, 2, 3):      # each once read as an 8 or a 4
        with pytest.raises(ImageError, match="^no digit found$"):
            net.classify(encoded(_shadowed_blank(np.random.default_rng(seed))))


def test_a_faint_pencil_digit_is_still_read(digits, net):
    # Strokes drawn only 0.09 darker than the paper (a hard pencil, badly lit) are still
    # ink: they measure 0.098, above the 0.08 limit (a limit of 0.1 refused them).
    rng = np.random.default_rng(7)
    for d in (2, 5, 7):
        g = np.full((600, 800), 0.85, np.float32) + noise((600, 800), rng, 0.008)
        g[200:380, 300:480] -= 0.09 * ink(digits[d], 180, rng)
        image = Image.fromarray((np.clip(g, 0, 1) * 255).astype(np.uint8))
        assert net.classify(encoded((image, "JPEG"))).digit == d


@pytest.mark.parametrize("edge", ["frame", "lid"])
def test_a_faint_pencil_digit_in_a_framed_scan_is_still_read(digits, net, edge):
    # The floor for a sheet found in a scene (0.14) is not a scan's: a frame peeled off
    # the border is no scene, and a scanner's dark lid edge along one side, though taken
    # for a desk, leaves the page evenly lit.
    rng = np.random.default_rng(8)
    for d in (2, 5):
        g = np.full((600, 800), 0.85, np.float32) + noise((600, 800), rng, 0.008)
        g[200:380, 300:480] -= 0.11 * ink(digits[d], 180, rng)
        if edge == "frame":
            g[:6], g[-6:], g[:, :6], g[:, -6:] = 0.0, 0.0, 0.0, 0.0
        else:
            g[:, :40] = 0.05
        image = Image.fromarray((np.clip(g, 0, 1) * 255).astype(np.uint8))
        assert net.classify(encoded((image, "JPEG"))).digit == d


def test_a_grainy_blank_note_on_a_dark_desk_is_no_digit(net):
    # Paper grain and JPEG blocks give a blank note many grey edges inside, which once
    # made it pass for a thick stroke: a light "digit" filling its box.
    rng = np.random.default_rng(3)
    h, w = 270, 360
    canvas = np.full((h, w), 0.3, np.float32) + np.sin(np.linspace(0, 30, h))[:, None] * 0.04
    note = Image.new("L", (w, h), 0)
    ImageDraw.Draw(note).polygon([(110, 100), (225, 85), (240, 205), (125, 220)], fill=255)
    m = np.asarray(note, np.float32) / 255
    canvas = canvas * (1 - m) + (0.85 + noise((h, w), rng, 0.06)) * m
    image = Image.fromarray((np.clip(canvas, 0, 1) * 255).astype(np.uint8))
    with pytest.raises(ImageError, match="^no digit found$"):
        net.classify(encoded((image, "JPEG")))


def wall_note(rng, digit=None):
    """A note on a light wall, barely darker than the wall in grey, its shadow falling
    along two of its sides: a faint L close to the digit."""
    h, w = 420, 560
    shade = np.linspace(1.0, 0.94, w, dtype=np.float32)[None, :, None]
    canvas = np.full((h, w, 3), 0.9, np.float32) * shade
    canvas = lay_note(canvas, [(190, 110), (390, 100), (400, 300), (200, 310)], 0.87,
                      shadow=(6, 6, 3, 0.35))
    if digit is not None:
        lay(canvas, ink(digit, 130, rng), 140, 235, (0.1, 0.1, 0.3))
    return rgb(canvas + noise(canvas.shape, rng, 0.01)), "JPEG"


def test_a_notes_shadowed_rim_beside_the_digit_is_no_stroke(digits, net):
    # The rim is close enough to join the digit's mark, but far fainter than its strokes
    # (it was read as part of the digit: 3 for 0, 1, 4, 7 and 8).
    rng = np.random.default_rng(11)
    read = [(d, net.classify(encoded(wall_note(rng, digits[d]))).digit)
            for d in (0, 1, 3, 4, 7, 8)]
    assert all(d == got for d, got in read), read


def test_a_pencil_digit_beside_black_binder_holes_is_read(digits, net):
    # Only the digit's own pieces are compared: binder holes far darker than a pencil
    # digit are no reason to drop the digit.
    rng = np.random.default_rng(4)
    g = np.full((950, 700), 0.93, np.float32) + noise((950, 700), rng, 0.01)
    yy, xx = np.mgrid[0:950, 0:700]
    for cy in (200, 475, 750):
        g[(yy - cy) ** 2 + (xx - 45) ** 2 < 14 ** 2] = 0.05
    for d in (2, 5, 6):
        page = g.copy()
        page[380:580, 250:450] -= 0.35 * ink(digits[d], 200, rng)
        image = Image.fromarray((np.clip(page, 0, 1) * 255).astype(np.uint8))
        assert net.classify(encoded((image, "JPEG"))).digit == d


def test_a_faint_piece_joined_by_faint_ink_stays_with_the_digit():
    # Where a pen runs dry, a weak bit of stroke splits off at the strong-ink level, but
    # faint ink still joins it to the rest: it stays. A weak piece with paper between
    # (a note's shadowed rim) is dropped from the digit's mark.
    from digitnet.blobs import find_digit
    for bridge, kept in ((0.15, True), (0.0, False)):
        ink = np.zeros((400, 400), np.float32)
        ink[100:300, 150:160] = 1.0          # the digit's strong stroke
        ink[100:110, 160:230] = 1.0
        ink[110:300, 130:150] = bridge       # faint ink (or paper) beside it
        ink[150:290, 120:130] = 0.4          # a weak piece, 20 px from the stroke
        _, mark, _ = find_digit(ink)
        assert (mark.box[2] <= 120) == kept, (bridge, mark.box)


def pink_note_on_wall(rng, digit=None):
    """A pink note on a grey wall under a lamp, its shadow below and to the right: in
    grey the note is as light as the wall around it, only its colour sets it apart. The
    pen is a thin ballpoint."""
    h, w = 300, 450
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = (1.0 - 0.25 * ((xx - 120) ** 2 + (yy - 60) ** 2) / (w * w))[..., None]
    canvas = np.float32(0.86) * light * np.ones(3, np.float32)
    pink = np.array([0.96, 0.65, 0.76], np.float32) * light
    canvas = lay_note(canvas, [(275, 160), (395, 150), (405, 270), (285, 280)], pink,
                      shadow=(5, 6, 4, 0.3))
    if digit is not None:
        thin = np.clip(ink(digit, 70, rng) * 2 - 1.4, 0, 1)
        lay(canvas, thin, 180, 310, (0.1, 0.1, 0.35))
    return rgb(canvas + noise(canvas.shape, rng, 0.012)), "JPEG"


def test_a_note_that_only_its_colour_sets_apart_is_found(digits, net):
    # In grey the wall's lighting varies more than the note's edge steps; the colour
    # steps all round it. Read in grey only, 2 of these 10 came out right.
    rng = np.random.default_rng(5)
    read = [(d, net.classify(encoded(pink_note_on_wall(rng, digits[d]))).digit)
            for d in range(10)]
    assert all(d == got for d, got in read), read
    # The colour is what finds it: in grey alone there is no note, only the wall. (Read
    # in grey, 5 or more of these were wrong until the paper under a stroke followed the
    # shadow's edge; 4 still are.)
    rng = np.random.default_rng(5)
    for d in range(10):
        picture = digitnet.decode.read_picture(encoded(pink_note_on_wall(rng, digits[d])))
        in_colour = digitnet.surface.find_surface(picture.gray, picture.chroma)
        in_grey = digitnet.surface.find_surface(picture.gray, None)
        r0, r1, c0, c1 = in_colour.box
        assert 140 <= r0 and r1 <= 290 and 265 <= c0 and c1 <= 415, in_colour.box
        assert in_grey.scene is None, in_grey.box


# Pictures in tests/data/scenes: from the scene set (`python benchmarks/scenes.py make
# scenes --seed 0`) and from adversarial sets built while testing this code; their digits
# are MNIST test digits by LeCun, Cortes and Burges (CC BY-SA 3.0), drawn as pen ink. Each
# was refused or read wrong before the rule its test names. First, sticky notes: before
# the note's colour was looked at, or its rim.
SCENE_SET = Path(__file__).parent / "data" / "scenes"


@pytest.mark.parametrize("name", [
    "0359_sticky_label4.jpg",  # an orange note on fabric: its texture cuts into the note
    "0370_sticky_label1.jpg",  # a pink note on a grey wall: a thin 1, a few strokes
    "0381_sticky_label2.jpg",  # a marker: its strokes outlast the closing as edges
    "0400_sticky_label6.jpg",  # a marker on a small note on a coloured desk
    "0349_sticky_label9.jpg",  # its shadowed rim lies outside the note, not in it
])
def test_sticky_notes_from_the_scene_set_are_read(name, net):
    assert net.classify(SCENE_SET / name).digit == int(name.split("label")[1][0])


def test_a_blank_note_whose_only_strokes_are_its_rim_is_no_digit(net):
    # Its shadow along two sides, thin and dark, was read as a 4.
    with pytest.raises(ImageError, match=": no digit found$"):
        net.classify(SCENE_SET / "0430_sticky_labelnone.jpg")


# Scans from the scene set with a scanner's dark edge left along the border, reduced to
# 480 px (JPEG 85). The edge, darker than the pen, made the border's median dark: the
# paper was taken for ink, or the pen looked faint beside the edge, or the edge's
# lines, bent round a corner, joined the digit.
@pytest.mark.parametrize("name", sorted(p.name for p in SCENE_SET.glob("*_framed_*_480.jpg")))
def test_scans_with_a_dark_edge_along_the_border_are_read(name, net):
    label = name.split("label")[1].split("_")[0]
    if label == "none":
        with pytest.raises(ImageError, match=": no digit found$"):
            net.classify(SCENE_SET / name)
    else:
        assert net.classify(SCENE_SET / name).digit == int(label)


def test_a_digit_at_the_end_of_a_strip_is_no_border_line(digits, net):
    # As tall as the strip, at its very end: it lies along the border, but runs along
    # far less of the strip than an edge left there does.
    rng = np.random.default_rng(8)
    for d in (1, 7):
        canvas = np.full((64, 640, 3), 0.96, np.float32)
        mask = ink(digits[d], 60, rng)
        cols = np.flatnonzero(mask.max(axis=0) > 0.05)
        mask = mask[:, cols[0]:cols[-1] + 1]  # touching the strip's right end
        lay(canvas, mask, 2, 640 - mask.shape[1], (0.1, 0.1, 0.1))
        assert net.classify(encoded((rgb(canvas), "PNG"))).digit == d


_SEVEN_5X7 = ["11111", "00001", "00010", "00100", "01000", "01000", "01000"]
_FOUR_5X7 = ["00010", "00110", "01010", "10010", "11111", "00010", "00010"]


@pytest.mark.parametrize("digit, rows", [(7, _SEVEN_5X7), (4, _FOUR_5X7)])
@pytest.mark.parametrize("radius, spacing", [(7, 18), (4, 12)])
def test_a_dot_matrix_digit_is_still_a_digit(net, digit, rows, radius, spacing):
    # Eleven pieces, none with much of the ink: they must stay one mark.
    im = Image.new("L", (300, 300), 245)
    draw = ImageDraw.Draw(im)
    for i, row in enumerate(rows):
        for j, on in enumerate(row):
            if on == "1":
                x, y = 100 + j * spacing, 80 + i * spacing
                draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=20)
    assert net.classify(im).digit == digit


def test_a_dashed_digit_to_trace_is_still_a_digit(net):
    im = Image.new("L", (300, 300), 245)
    draw = ImageDraw.Draw(im)
    corners = [(80, 60), (220, 60), (130, 250)]
    for (x0, y0), (x1, y1) in zip(corners, corners[1:]):
        for k in range(8):  # 8 dashes a stroke, a little longer than their gaps
            a, b = k / 8, (k + 0.6) / 8
            draw.line((x0 + a * (x1 - x0), y0 + a * (y1 - y0),
                       x0 + b * (x1 - x0), y0 + b * (y1 - y0)), fill=20, width=8)
    assert net.classify(im).digit == 7


def two_notes(rng, digit=None):
    """A yellow and a lilac note side by side on a grey wall, as light as each other in
    grey, the digit written across the line where they meet."""
    h, w = 360, 480
    canvas = np.full((h, w, 3), 0.8, np.float32) + noise((h, w, 1), rng, 0.01)
    for corners, colour in (([(80, 75), (250, 70), (255, 260), (85, 265)], (0.97, 0.93, 0.4)),
                            ([(240, 72), (400, 66), (405, 256), (245, 262)], (0.78, 0.68, 0.97))):
        canvas = lay_note(canvas, corners, colour)
    if digit is not None:
        lay(canvas, ink(digit, 110, rng), 110, 200, (0.1, 0.1, 0.5))
    return rgb(canvas + noise(canvas.shape, rng, 0.01)), "JPEG"


def test_a_digit_written_across_two_notes_is_not_cut_at_their_edge(digits, net):
    # The colour step between the notes is an edge; the note on one side holds most of
    # the strokes, but a stroke runs from deep inside it out across its edge.
    # (Without that, 4 of these 10 were read right: the part on the yellow note was cut.)
    rng = np.random.default_rng(2)
    read = [(d, net.classify(encoded(two_notes(rng, digits[d]))).digit) for d in range(10)]
    assert sum(d == got for d, got in read) >= 9, read


def boxed_page(rng, digit=None):
    """A scanned form: a page with a thin grey rectangle printed around it, well inside
    the border, and a pencil digit within."""
    h, w = 800, 600
    canvas = np.full((h, w, 3), 0.96, np.float32) + noise((h, w, 1), rng, 0.01)
    t, l = int(rng.integers(50, 90)), int(rng.integers(40, 70))
    b, r = h - int(rng.integers(50, 90)), w - int(rng.integers(40, 70))
    for y0, y1, x0, x1 in ((t, t + 3, l, r), (b - 3, b, l, r), (t, b, l, l + 3), (t, b, r - 3, r)):
        canvas[y0:y1, x0:x1] = 0.45
    if digit is not None:
        lay(canvas, 0.7 * ink(digit, 200, rng), 300, 200, (0.2, 0.2, 0.2))
    return rgb(canvas), "PNG"


def test_a_frame_printed_around_the_page_is_no_digit(digits, net):
    # Its outline hugs its own box, as no digit's strokes do, with the digit inside;
    # the frame was read as 8 or 0.
    rng = np.random.default_rng(4)
    read = [(d, net.classify(encoded(boxed_page(rng, digits[d]))).digit) for d in range(10)]
    assert all(d == got for d, got in read), read


@pytest.mark.parametrize("radius", [0, 40])
def test_a_thin_square_zero_filling_its_canvas_is_still_a_zero(net, radius):
    # Like a frame, it runs along all four sides of its box -- but holds nothing.
    im = Image.new("L", (500, 600), 250)
    ImageDraw.Draw(im).rounded_rectangle((110, 90, 390, 510), radius=radius, outline=15, width=6)
    assert net.classify(im).digit == 0


def test_a_big_seven_along_two_sides_of_its_box_is_still_a_seven(net):
    # Its bar and upright hug two sides of its box; a frame draws all four.
    for width in (4, 14):
        im = Image.new("L", (600, 800), 245)
        ImageDraw.Draw(im).line([(100, 100), (500, 100), (500, 700)], fill=20, width=width)
        assert net.classify(im).digit == 7


def test_a_short_scan_edge_at_the_side_is_no_second_digit(digits, net):
    # What is left of a scan's edge: an upright bar at the picture's very side, shorter
    # than the side and level with the digit. It was counted as a second digit.
    rng = np.random.default_rng(6)
    for d in (0, 3, 6):
        canvas = np.full((500, 700, 3), 0.97, np.float32) + noise((500, 700, 1), rng, 0.01)
        canvas[120:380, 2:6] = 0.1
        lay(canvas, ink(digits[d], 200, rng), 150, 260, (0.1, 0.1, 0.1))
        assert net.classify(encoded((rgb(canvas), "PNG"))).digit == d


def turned_grid(rng, digit=None, degrees=0.6):
    """Squared paper scanned a little turned: a crisp grid of 0.9 px lines every 16 px.
    Such a line runs along one row for a stretch, at full strength, then is split over
    two rows, at half -- and where two lines cross, the ink of both adds up."""
    h, w = 600, 480
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = np.radians(degrees)
    alpha = np.zeros((h, w), np.float32)
    for v in (yy * np.cos(t) + xx * np.sin(t), xx * np.cos(t) - yy * np.sin(t)):
        off = np.abs((v - 3) % 16 - 8)  # distance from the middle between two lines
        alpha = np.maximum(alpha, np.clip(0.95 - (8 - off), 0, 1))
    canvas = 1 - alpha[..., None] * (1 - np.array((0.55, 0.62, 0.78), np.float32))
    if digit is not None:
        lay(canvas, ink(digit, 90, rng), int(rng.integers(60, 420)),
            int(rng.integers(40, 340)), (0.1, 0.1, 0.15))
    return rgb(canvas), "PNG"


@pytest.mark.parametrize("degrees", [0.6, 1.0, 2.0])
def test_a_turned_crisp_grid_leaves_no_lattice_behind(digits, net, degrees):
    # What was left of such a grid -- its lines where at full strength, the dots where
    # two crossed -- joined the digit into one mark the size of the page: a blank page
    # was read as a digit, and so was the 1 (as 8, 5 or 4).
    rng = np.random.default_rng(7)
    read = [(d, net.classify(encoded(turned_grid(rng, digits[d], degrees))).digit)
            for d in range(10)]
    assert all(d == got for d, got in read), read
    with pytest.raises(ImageError, match="^no digit found$"):
        net.classify(encoded(turned_grid(rng, None, degrees)))


def icons_canvas(rng, digit=None):
    """A paint app's canvas with its tool icons drawn on it, a row along the top and a
    column down the left, no toolbar shade to peel off; the digit written close by."""
    canvas = np.ones((480, 640, 3), np.float32)
    if digit is not None:
        lay(canvas, ink(digit, 200, rng), int(rng.integers(20, 60)), int(rng.integers(20, 80)),
            (0.05, 0.05, 0.05))
    image = rgb(canvas)
    draw = ImageDraw.Draw(image)
    for i in range(10):
        x0 = 60 + 28 * i
        (draw.rectangle, draw.ellipse)[i % 2]((x0, 12, x0 + 16, 28), outline=(40, 40, 40), width=2)
    for j in range(8):
        y0 = 60 + 30 * j
        (draw.ellipse, draw.rectangle)[j % 2]((12, y0, 28, y0 + 16), fill=(60, 60, 60))
    return image, "PNG"


def test_a_toolbars_icons_beside_the_digit_are_no_ink(digits, net):
    # Joined to a digit written close to them, they made a 1 read as 9, a 6 as 5.
    rng = np.random.default_rng(9)
    read = [(d, net.classify(encoded(icons_canvas(rng, digits[d]))).digit) for d in range(10)]
    assert all(d == got for d, got in read), read
    with pytest.raises(ImageError, match="^no digit found$"):
        net.classify(encoded(icons_canvas(rng)))


@pytest.mark.parametrize("name", ["side_one_label1_267.jpg", "side_one_label1_813.jpg"])
def test_a_thin_one_standing_at_the_side_is_no_border_line(name, net):
    # From an adversarial set (an MNIST 1, upscaled, a few px from the side of a wider
    # canvas): most of it lies in the border band, like what is left of a scan's edge,
    # but it stands clear of the corners; in the wider picture, all its ink lies in the
    # band. Both were refused as "no digit found".
    assert net.classify(SCENE_SET / name).digit == 1


# Photos from the scene set, reduced to 480 px (JPEG 85), where light ink won the vote
# on which side is ink: sunlight across a shaded sheet, or a note lighter than the wall
# that the border showed, is broader and brighter than the pen's strokes. The old code
# read 1, 6, 9, 8, 8, 4, 4 and refused the 9. The two marked "edge" ran along the
# paper's edge against the desk or wall rather than the picture's side.
@pytest.mark.parametrize("name", [
    "0028_desk_label7_480.jpg",  # a lit strip down the sheet's left side
    "0052_desk_label9_480.jpg",  # the sheet lit along its top, the 9 in the shade
    "0072_desk_label4_480.jpg",  # a lit wedge across the lower half
    "0057_desk_label6_480.jpg",  # edge: a lit wedge from the sheet's upper left side
    "0375_sticky_label7_480.jpg",  # edge: a note taking most of the picture
    "0348_sticky_label3_480.jpg",  # a white note on a grey wall, filling the picture
    "0404_sticky_label3_480.jpg",  # a lit note on a shaded wall
    "0406_sticky_label7_480.jpg",  # a note across the whole height of the picture
])
def test_light_falling_across_the_paper_is_no_ink(name, net):
    assert net.classify(SCENE_SET / name).digit == int(name.split("label")[1][0])


def grey_card(rng, digit):
    """A bold white gel-pen digit filling a grey card (PNG), a few dark specks on it."""
    side = 300
    im = Image.fromarray((digit * 255).astype(np.uint8)).resize((240, 240),
                                                               Image.Resampling.BILINEAR)
    mask = np.asarray(im.filter(ImageFilter.MaxFilter(9)), np.float32) / 255
    g = np.full((side, side), 0.6, np.float32)
    g[30:270, 30:270] += 0.35 * mask
    im = Image.fromarray((np.clip(g + noise(g.shape, rng, 0.01), 0, 1) * 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    for _ in range(6):
        cx, cy = rng.integers(10, side - 10, 2)
        r = int(rng.integers(1, 4))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=80)
    return im, "PNG"


def test_a_bold_light_digit_beside_dark_specks_is_still_the_ink(digits, net):
    # Its strokes are as broad as a lit patch, and the specks are thin and dark: only
    # that light falling on paper runs along a side of the picture tells them apart
    # (without that condition 4 of these 10 were read from the specks).
    for d, x28 in digits.items():
        assert net.classify(encoded(grey_card(np.random.default_rng(d), x28))).digit == d


def test_a_vignetted_blank_photo_is_no_digit(net):
    # A blank photo from an adversarial check, reduced to 480 px: a strong vignette
    # leaves the middle broad and bright and the corners dark. It was read as a 3 once
    # light falling across the paper could make dark "strokes" the ink.
    with pytest.raises(ImageError, match=": no digit found$"):
        net.classify(SCENE_SET / "vignette_01_blank_labelnone_480.jpg")


@pytest.mark.parametrize("light_paper", [True, False])
def test_dark_spots_in_the_border_band_do_not_make_a_bright_middle_lighting(light_paper):
    # The polarity vote on a picture's departures from its paper shade: a broad bright
    # band across the picture with dark spots. Spots in its corners (a vignette's) are
    # no ink, and the bright band is; spots well inside it are the ink.
    from digitnet.normalise import _polarity
    for inside, dark_ink in ((False, False), (True, True)):
        residual = np.zeros((300, 300), np.float32)
        residual[40:260, :] = 0.4
        spots = ((100, 100), (100, 200), (200, 100), (200, 150)) if inside else (
            (2, 2), (2, 290), (290, 2), (290, 290))
        for y, x in spots:
            residual[y:y + 8, x:x + 8] = -0.4
        assert _polarity(residual, 0.01, light_paper)[0] is dark_ink, inside


# Notes from the scene set, reduced to 480 px, holding a bold digit that fills much of
# them: its ink covered more than the 12% of a small light region that light ink on dark
# paper may leave dark, so the note was no surface (0362: the whole picture was, and the
# note was read as light ink). Strokes at most 0.15 of the note wide and 8 times as long,
# in a region filling 3/4 of its box, are a note's ink. The wide model read 8 and 2.
@pytest.mark.parametrize("name", ["0337_sticky_label4_480.jpg", "0362_sticky_label0_480.jpg"])
def test_a_note_filled_by_a_bold_digit_is_still_a_note(name):
    wide = digitnet.load("wide")
    assert wide.classify(SCENE_SET / name).digit == int(name.split("label")[1][0])


# Two light surfaces lying close, from the scene set, reduced to 480 px: a note beside a
# strip of white paper, a paint app's canvas beside its white toolbar. The closing that
# erases strokes bridged the dark gap between them, and the two together are no
# quadrilateral; the largest light part before closing, holding the digit, is the
# surface. The old code read 8 and 8.
@pytest.mark.parametrize("name", ["0392_sticky_label0_480.jpg", "0310_screenshot_label9_480.png"])
def test_a_note_lying_close_to_another_light_patch_is_found(name, net):
    assert net.classify(SCENE_SET / name).digit == int(name.split("label")[1][0])


# Photos from the scene set, reduced to 480 px, with a shadow's or a lit patch's edge
# across the paper: a cell of the coarse lighting map that holds both lit and shaded
# paper took the lit paper's level, and the shaded part of it was ink that joined the
# digit. The paper under a dark stroke in a photo is now the darkest level within five
# strokes' width (a grey-level opening), which follows the edge. The old code read 4, 2
# and refused the 7.
@pytest.mark.parametrize("name", [
    "0068_desk_label2_480.jpg",  # the sheet's left half in shade, the 2 on its edge
    "0085_desk_label5_480.jpg",  # a small 5 beside a shadow's soft edge
    "0376_sticky_label7_480.jpg",  # a lit note, the wall's shade beside it
])
def test_a_shadows_edge_across_the_paper_is_no_ink(name, net):
    assert net.classify(SCENE_SET / name).digit == int(name.split("label")[1][0])


def test_beside_a_lit_patch_a_small_picture_follows_its_edge_too(net):
    # The same lit wedge as above, the photo reduced to 360 px: under 400 px only the
    # lit patch calls for the opening, and without it the wedge's shaded side joined
    # the 4 (read as 2).
    assert net.classify(SCENE_SET / "0072_desk_label4_360.jpg").digit == 4


def pen_on(canvas, rng, centre, length, thick, degrees):
    """``canvas`` (h, w, 3) with a pen lying on it: a dark body with a shine along it and
    a soft shadow beside it, turned ``degrees`` from upright."""
    h, w = canvas.shape[:2]
    a = np.deg2rad(degrees)
    along, across = np.array([np.sin(a), np.cos(a)]), np.array([np.cos(a), -np.sin(a)])

    def bar(c, ln, th):
        c = np.asarray(c, float)
        return [tuple(c + s * ln / 2 * along + t * th / 2 * across)
                for s, t in ((-1, -1), (1, -1), (1, 1), (-1, 1))]

    x, y = centre
    canvas = canvas * (1 - 0.4 * polygon(h, w, bar((x + thick, y + thick), length, thick), thick))
    canvas = canvas * (1 - (m := polygon(h, w, bar(centre, length, thick), 0.8))) + \
        np.float32(0.08) * m + noise((h, w, 1), rng, 0.01) * m
    shine = polygon(h, w, bar((x - 0.2 * thick * across[0], y - 0.2 * thick * across[1]),
                              0.95 * length, 0.25 * thick), 1.0)
    return canvas * (1 - 0.35 * shine) + 0.35 * shine


def desk_with_pen(rng, digit=None, degrees=30):
    """:func:`desk`'s sheet with a pen lying on it, away from the digit."""
    image, fmt = desk(rng, digit)
    canvas = np.asarray(image, np.float32) / 255
    return rgb(pen_on(canvas, rng, (420, 330), 220, 12, degrees)), fmt


@pytest.mark.parametrize("degrees", [0, 30, -40])
def test_a_pen_lying_on_a_blank_sheet_is_no_digit(net, degrees):
    # Ruler-straight, as no hand draws: its centreline wavers by a tenth of a pixel,
    # a written 1's by half a pixel or more. The old code read each of these as a 1.
    rng = np.random.default_rng(7)
    with pytest.raises(ImageError, match="^no digit found$"):
        net.classify(encoded(desk_with_pen(rng, degrees=degrees)))


def test_a_digit_beside_a_pen_on_the_sheet_is_read(digits, net):
    rng = np.random.default_rng(8)
    read = [net.classify(encoded(desk_with_pen(rng, digits[d]))).digit for d in (0, 4, 8)]
    assert read == [0, 4, 8]


def _margin_page(digit=None, rng=None, size=(760, 1000), x=110, width=3):
    """A blank landscape page with a thin red margin line from its top to its bottom
    edge, 110 px in from its side (no other rulings, so nothing removes it): it runs the
    shorter side, so it is no line across most of the picture."""
    h, w = size
    canvas = np.full((h, w, 3), 0.95, np.float32)
    canvas[:, x:x + width] = (0.85, 0.35, 0.35)
    if digit is not None:
        lay(canvas, ink(digit, 220, rng), 380, 330, (0.05, 0.05, 0.2))
    return rgb(canvas + noise((h, w, 1), rng or np.random.default_rng(0), 0.01)), "JPEG"


def test_a_margin_line_running_into_the_border_is_no_digit(net):
    # Thin, ruler-straight and cut by the picture's border: a line of the page, not a
    # stroke. The old code read this blank page as a 1.
    with pytest.raises(ImageError, match="^no digit found$"):
        net.classify(encoded(_margin_page()))


def test_a_margin_line_stopping_just_short_of_the_pages_edges_is_no_digit(net):
    # A ruling printed to within a pixel of the page's edges still runs across it.
    image, fmt = _margin_page()
    g = np.asarray(image, np.float32)
    g[:1], g[-1:] = g[1:2].mean(axis=1, keepdims=True) * 0 + 242, 242
    with pytest.raises(ImageError, match="^no digit found$"):
        net.classify(encoded((Image.fromarray(g.astype(np.uint8)), fmt)))


def test_a_digit_beside_a_margin_line_is_read(digits, net):
    rng = np.random.default_rng(9)
    assert [net.classify(encoded(_margin_page(digits[d], rng))).digit for d in (1, 5, 8)] == [1, 5, 8]


def test_a_grid_line_cut_short_at_the_pages_side_is_no_digit(net):
    # What rulings removal leaves of a squared page's last line where the page is turned:
    # a short stretch running into the border (from the scene set, 0650).
    g = np.full((1100, 800), 0.96, np.float32)
    g[920:, 786:788] = 0.55
    with pytest.raises(ImageError, match="^no digit found$"):
        net.classify(Image.fromarray((g * 255).astype(np.uint8)))


@pytest.mark.parametrize("box", [(0, 176, 3, 17), (110, 460, 40, 70)])
def test_a_line_drawn_one_cut_by_a_tight_crop_is_still_a_one(net, box):
    # A 1 drawn with a line tool is ruler-straight too, and a tight crop cuts it at the
    # border; but it is as wide as a pen draws it, no thin line of the page.
    top, bottom, left, right = box
    im = Image.new("L", (right + 20 if left else 20, bottom), 250)
    ImageDraw.Draw(im).line((right, top + 4, left, bottom + 30), fill=15,
                            width=max(5, (bottom - top) // 18))
    assert net.classify(im).digit == 1


@pytest.mark.parametrize("size,top", [((1000, 700), True), ((600, 450), False)])
def test_a_thin_straight_one_cut_by_one_side_of_a_crop_is_still_a_one(net, size, top):
    # As thin as a margin line and cut by the picture's top (or bottom) side, but it
    # reaches that one side only, well inside the picture: a line of the page runs
    # across it, stands at its very side, or lies on a surface cut out of a scene.
    h, w = size
    im = Image.new("L", (w, h), 250)
    y0, y1 = (0, int(0.7 * h)) if top else (int(0.3 * h), h - 1)
    ImageDraw.Draw(im).line((w // 2 - 20, y0, w // 2, y1), fill=20, width=max(3, h // 150))
    assert net.classify(im).digit == 1


def test_a_straight_one_across_a_crop_from_side_to_side_is_read_by_its_width(net):
    # Cut at both ends, top and bottom, like a margin line -- but 3% of the picture wide,
    # as a pen draws a 1: only the thin are lines of the page.
    im = Image.new("L", (700, 500), 250)
    ImageDraw.Draw(im).line((360, -5, 330, 505), fill=20, width=21)
    assert net.classify(im).digit == 1


def test_a_thin_written_one_across_a_crop_from_side_to_side_is_read_by_its_wavering(net):
    # As thin as a margin line and cut at both ends, but drawn by hand: its centreline
    # wavers by about 2 px, a ruling's by a tenth of one.
    im = Image.new("L", (900, 700), 250)  # landscape: no line across most of the picture
    ys = np.arange(-5, 706, 5)
    xs = 340 + 4 * np.sin(ys / 70.0) + 2.5 * np.sin(ys / 23.0) + 0.08 * ys
    ImageDraw.Draw(im).line(list(zip(xs.tolist(), ys.tolist())), fill=20, width=6, joint="curve")
    assert net.classify(im).digit == 1


@pytest.mark.parametrize("width,slant", [(6, 0), (12, 30), (20, 0)])
def test_a_one_drawn_with_a_line_tool_on_a_screenshot_is_still_a_one(net, width, slant):
    # Ruler-straight on a canvas cut out of a screenshot, like a pen lying on a sheet
    # cut out of a desk photo; but evenly dark across, with no pen's shine along it.
    im, _ = screenshot(np.random.default_rng(width))
    ImageDraw.Draw(im).line((350 + slant, 150, 350, 400), fill=(0, 0, 0), width=width)
    assert net.classify(encoded((im, "PNG"))).digit == 1


@pytest.mark.parametrize("name", ["0102_desk_labelnone_480.jpg",     # a strip of desk inside
                                  "0438_sticky_labelnone_480.jpg"])  # a note's shaded edge
def test_the_scenes_light_left_on_a_cut_out_blank_surface_is_no_digit(name, net):
    # From the scene set, reduced to 480 px: what the surface search left of the scene
    # stands 0.08-0.13 from the paper, under the 0.14 a stroke on a surface cut out of a
    # scene must stand off. The old code read these as 3 and 4.
    with pytest.raises(ImageError, match="no digit found$"):
        net.classify(SCENE_SET / name)


def test_a_light_pencil_digit_on_a_sheet_on_a_desk_is_still_read(digits, net):
    # Pencil of grey 0.66 on a sheet of 0.92, under light falling off by a fifth across
    # the desk (the sheet is about 0.85 where the digit lies) and softened at the strokes'
    # edges: it measures 0.17-0.19, above the floor for a surface cut out of a scene. (Of
    # grey 0.72, 0.13 darker than the lit sheet, it measures 0.10-0.12 and is no digit on
    # a desk -- the price of the floor -- while on a page alone it is read.)
    rng = np.random.default_rng(11)
    for d in (2, 5, 7):
        image, fmt = desk(rng)
        canvas = np.asarray(image, np.float32) / 255
        lay(canvas, ink(digits[d], 150, rng), 150, 230, (0.66, 0.66, 0.66))
        assert net.classify(encoded((rgb(canvas), fmt))).digit == d


def test_a_grid_whose_major_lines_are_not_all_equally_bold_loses_them_all():
    # Squared paper: faint lines every 16 rows, every fifth one bold -- but one bold line
    # printed (or lit) a little fainter than the others falls among the faint ones, and
    # the bold ones left no longer came evenly spaced: all of them stayed, and a digit
    # written on one was dropped with it as a line across the page.
    from digitnet.rulings import remove_rulings
    ink = np.zeros((600, 480), np.float32)
    for i, r in enumerate(range(10, 600, 16)):
        ink[r:r + 2] = 0.28 if i % 5 else (0.78 if i == 15 else 0.86)
    out = remove_rulings(ink)
    assert float(out.max()) < 0.1


def test_a_digit_on_a_major_line_of_such_a_grid_is_read(digits, net):
    # graph_paper's page with its 46th line a little fainter than the other bold ones.
    rng = np.random.default_rng(11)
    h, w = 720, 600
    wave = np.round(1.5 * np.sin(np.arange(w) / 90.0)).astype(int)
    read = 0
    for d, x28 in digits.items():
        canvas = np.ones((h, w, 3), np.float32)
        for i, v in enumerate(range(8, h - 4, 12)):
            colour = (0.82, 0.88, 0.94) if i % 5 else (0.65, 0.74, 0.85) if i == 45 else (0.45, 0.6, 0.75)
            canvas[np.clip(v + wave, 0, h - 1), np.arange(w)] = colour
        for i, v in enumerate(range(8, w - 4, 12)):
            colour = (0.45, 0.6, 0.75) if i % 5 == 0 else (0.82, 0.88, 0.94)
            canvas[:, v] = np.minimum(canvas[:, v], colour)
        lay(canvas, ink(x28, 150, rng), 250, 220, (0.05, 0.05, 0.1))  # on bold rows 308, 368
        read += net.classify(rgb(canvas).filter(ImageFilter.GaussianBlur(0.6))).digit == d
    assert read == 10, read


@pytest.mark.parametrize("gaps", [(3, 6), (6, 3), (4, 8)])
def test_a_digits_bars_on_rulings_two_and_three_steps_apart_are_no_grid(net, gaps):
    # An E-like 3 on a tight crop of lined paper, its bars on rulings 3 and 6 apart: three
    # bold lines at gaps of one and two steps, but only ordinary rulings between them --
    # no fainter major line where the gap skips one. Taken for a grid's major lines, the
    # bars were erased and the 3 read as 1.
    s, off, a, b = 24, 10, *gaps
    h, w = off + s * (a + b + 3), 260
    canvas = np.ones((h, w, 3), np.float32)
    for y in range(off, h - 1, s):
        canvas[y:y + 2] = (0.62, 0.76, 0.93)
    im = Image.fromarray((canvas * 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    ys = [off + s, off + s * (1 + a), off + s * (1 + a + b)]
    for y in ys:
        draw.line([(40 if y != ys[1] else 80, y), (220, y)], fill=(13, 13, 38), width=9)
    draw.line([(220, ys[0]), (220, ys[2])], fill=(13, 13, 38), width=9)
    assert net.classify(im).digit == 3


def _extend_by_hand(values, known):
    """surface._extend spelled out pixel by pixel: ring after ring, each unknown pixel
    next to a known one takes the float32 mean of its known 4-neighbours, summed in the
    order below, above, right, left."""
    v = np.where(known, values, 0.0).astype(np.float32)
    k = known.copy()
    h, w = k.shape
    while True:
        ring = [(r, c) for r in range(h) for c in range(w) if not k[r, c] and any(
            0 <= r + dr < h and 0 <= c + dc < w and k[r + dr, c + dc]
            for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)))]
        if not ring:
            return v
        new = {}
        for r, c in ring:
            total, count = np.float32(0.0), 0
            for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                if 0 <= r + dr < h and 0 <= c + dc < w and k[r + dr, c + dc]:
                    total = np.float32(total + v[r + dr, c + dc])
                    count += 1
            new[r, c] = np.float32(total / np.float32(count))
        for (r, c), x in new.items():
            v[r, c], k[r, c] = x, True


@pytest.mark.parametrize("seed", range(40))
def test_the_paper_is_extended_into_the_scene_ring_by_ring_exactly(seed):
    from digitnet.surface import _extend
    rng = np.random.default_rng(seed)
    h, w = rng.integers(1, 14, size=2)
    values = rng.random((h, w)).astype(np.float32)
    if seed % 4 == 0:
        values[rng.random((h, w)) < 0.5] = -0.0  # sums of -0.0s: +0.0, as from the start
    known = rng.random((h, w)) < rng.choice([0.02, 0.2, 0.6, 0.95])
    got = _extend(values, known)
    assert got.shape == (h, w) and got.dtype == np.float32 and got.flags.writeable
    want = _extend_by_hand(values, known)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


def test_a_pixel_among_four_negative_zeros_is_filled_with_a_plain_zero():
    from digitnet.surface import _extend
    values = np.full((3, 3), -0.0, np.float32)
    known = np.ones((3, 3), bool)
    known[1, 1] = False
    got = _extend(values, known)
    assert got[1, 1] == 0.0 and not np.signbit(got[1, 1])
    assert np.signbit(got[known]).all()   # the known values as they were


def _quiet_phone_photo(pen, digit, seed):
    """A 12 MP JPEG of a sheet on a desk as a phone's denoising leaves it -- grain of two
    grey levels, which decoding at a quarter of the size averages away -- with a 7, a 0
    or nothing drawn in a ``pen`` px pen."""
    rng = np.random.default_rng(seed)
    w, h = 3000, 4000
    desk = np.float32([90, 70, 55]) + 6 * rng.standard_normal((h, w, 1), dtype=np.float32)
    photo = Image.fromarray(np.clip(desk, 0, 255).astype(np.uint8))
    sheet = Image.new("RGB", (2100, 2970), (238, 236, 230))
    draw = ImageDraw.Draw(sheet)
    if digit == 7:
        draw.line([(800, 1100), (1300, 1100), (950, 1800)], fill=(25, 25, 60), width=pen,
                  joint="curve")
    elif digit == 0:
        draw.ellipse([(830, 1050), (1270, 1850)], outline=(25, 25, 60), width=pen)
    turned = sheet.rotate(8, expand=True, resample=Image.Resampling.BICUBIC)
    mask = Image.new("L", sheet.size, 255).rotate(8, expand=True,
                                                  resample=Image.Resampling.BICUBIC)
    photo.paste(turned, ((w - turned.width) // 2, (h - turned.height) // 2), mask)
    a = np.asarray(photo, np.float32) + 2 * rng.standard_normal((h, w, 1), dtype=np.float32)
    out = io.BytesIO()
    Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=88)
    return out.getvalue()


@pytest.mark.parametrize("pen", [6, 12])
def test_a_ballpoint_digit_on_a_quiet_phone_photo_is_read(net, pen):
    # Decoded at 1000 px, the paper is noiseless but for the lighting map's leftovers, a
    # grey level or two all over: once far more pixels than the digit's (8 of 9 of
    # these photos were "no digit found"; saved as PNG, the same pixels were read).
    for digit in (7, 0):
        assert net.classify(_quiet_phone_photo(pen, digit, seed=pen)).digit == digit
    with pytest.raises(ImageError, match="no digit found"):
        net.classify(_quiet_phone_photo(pen, None, seed=pen))


def test_faint_stains_on_blank_paper_are_no_digit(net):
    # A blank 12 MP page with two faint stains (194-211 of 255; from an adversarial set,
    # reduced to 750x1000): looked for among the pixels 0.04 clear of the paper rather
    # than the 0.08 a digit's strokes stand, they were "2 digits found side by side".
    with pytest.raises(ImageError, match="no digit found"):
        net.classify(SCENE_SET / "blank_stains_750.png")
