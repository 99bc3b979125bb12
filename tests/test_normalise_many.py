"""normalise_many and load_many: many pictures at once, exactly what one at a time gives."""

import io

import numpy as np
import pytest
from PIL import Image

from digitnet import batch
from digitnet.errors import ImageError
from digitnet.normalise import SMALL_SIDE, normalise, normalise_many
from helpers import draw_seven


def one_by_one(grays):
    out = []
    for g in grays:
        try:
            out.append(normalise(g))
        except ImageError as exc:
            out.append(exc)
    return out


def assert_same(got, want):
    assert len(got) == len(want)
    for i, (a, b) in enumerate(zip(got, want)):
        if isinstance(b, ImageError):
            assert isinstance(a, ImageError) and str(a) == str(b), i
        else:
            assert isinstance(a, np.ndarray) and a.dtype == b.dtype, i
            assert np.array_equal(a, b), (i, float(np.abs(a - b).max()))


def varied_small(mnist_test, n, seed):
    """Small pictures made from MNIST digits the way small inputs come: any size under
    SMALL_SIDE, dark ink on light paper or light on dark, faint or bold, noisy or
    clean, quantised to 8 bits or not, blank, or a few specks. Most share one size, so
    that they are worked as one stack."""
    x, _ = mnist_test
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        if rng.random() < 0.5:
            h = w = 28
        else:
            h, w = (int(v) for v in rng.integers(2, SMALL_SIDE, 2))
        digit = Image.fromarray(np.round(x[i].reshape(28, 28) * 255).astype(np.uint8))
        shape = np.asarray(digit.resize((w, h), Image.Resampling.BILINEAR), np.float32) / 255
        paper = rng.uniform(0.6, 1.0) if rng.random() < 0.8 else rng.uniform(0.0, 0.4)
        ink = rng.uniform(0.0, 0.35) if paper > 0.5 else rng.uniform(0.6, 1.0)
        g = paper + (ink - paper) * shape
        kind = rng.random()
        if kind < 0.3:
            g = g + rng.normal(0, rng.uniform(0.005, 0.08), g.shape)
        elif kind < 0.4:
            g[:] = paper                                    # blank
        elif kind < 0.5:
            g[:] = paper
            g[rng.integers(0, h, 3), rng.integers(0, w, 3)] = ink   # specks only
        if rng.random() < 0.3:
            g = np.round(g * 255) / 255
        out.append(np.clip(g, 0, 1).astype(np.float32))
    return out


def test_small_pictures_together_give_exactly_what_each_gives_alone(mnist_test):
    grays = varied_small(mnist_test, 400, seed=3)
    want = one_by_one(grays)
    # The set holds both outcomes, in stacks of one size with others mixed in.
    assert 150 < sum(isinstance(r, np.ndarray) for r in want) < 390
    assert any(str(r) == "no digit found" for r in want if isinstance(r, ImageError))
    assert sum(g.shape == (28, 28) for g in grays) > 150
    assert_same(normalise_many(grays), want)


def test_odd_sizes_large_pictures_and_bad_arrays_keep_their_place():
    seven = np.asarray(draw_seven((21, 27)), np.float32) / 255
    large = np.asarray(draw_seven((120, 160)), np.float32) / 255
    line = np.ones((1, 30), np.float32)
    line[0, 10:20] = 0.0
    column = line.T.copy()
    nan = seven.copy()
    nan[3, 3] = np.nan
    grays = [seven, large, line, column, nan, np.zeros((2, 3, 4), np.float32), seven * 0.5,
             1.0 - seven, np.ones((5, 5), np.float32), large[:40, :40], seven]
    got = normalise_many(grays)
    assert_same(got, one_by_one(grays))
    assert isinstance(got[0], np.ndarray) and isinstance(got[1], np.ndarray)
    assert "non-finite" in str(got[4]) and "2-D" in str(got[5])


def png(im):
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def test_load_many_gives_what_load_input_gives_file_by_file(tmp_path, mnist_test):
    x, _ = mnist_test
    sources = [png(Image.fromarray(np.round(255 - x[i].reshape(28, 28) * 255).astype(np.uint8)))
               for i in range(40)]
    sources[5] = b"not an image at all"
    sources[9] = png(Image.new("L", (28, 28), 255))          # blank: no digit
    sources[12] = png(draw_seven((120, 160)))                # large: normalised at once
    path = tmp_path / "seven.png"
    draw_seven((30, 40)).save(path)
    sources += [path, tmp_path / "missing.png"]

    def alone(source):
        try:
            return batch.load_input(source)
        except ImageError as exc:
            return exc
    want = [alone(s) for s in sources]
    assert [i for i, r in enumerate(want) if isinstance(r, ImageError)] == [5, 9, 41]
    assert_same(batch.load_many(sources), want)
    # ... and load_inputs, in one process and in workers, streams the same.
    assert_same(list(batch.load_inputs(sources, jobs=1)), want)


@pytest.mark.parametrize("raw", [False, True])
def test_load_many_in_workers_matches_one_process(mnist_test, raw):
    x, _ = mnist_test
    pixels = np.round(x[:batch.PARALLEL_MIN_FILES + 30] * 255).astype(np.uint8)
    if not raw:
        pixels = 255 - pixels
    sources = [png(Image.fromarray(p.reshape(28, 28))) for p in pixels]
    sources[7] = b"broken"
    alone = list(batch.load_inputs(sources, raw=raw, jobs=1))
    assert_same(list(batch.load_inputs(sources, raw=raw, jobs=2)), alone)
    assert isinstance(alone[7], ImageError) and isinstance(alone[8], np.ndarray)


def test_a_large_pictures_result_goes_out_before_the_next_source_is_read(mnist_test):
    # One process: a photo's result must not wait for the sources after it (Ctrl-C
    # prints what is finished), small pictures at most CHUNK_FILES at a time.
    x, _ = mnist_test
    large, small = png(draw_seven((120, 160))), png(Image.fromarray(
        np.round(255 - x[0].reshape(28, 28) * 255).astype(np.uint8)))
    taken = []

    def sources(items):
        for s in items:
            taken.append(s)
            yield s
    results = batch.iter_many(sources([small, small, large, large, large]))
    assert [isinstance(next(results), np.ndarray) for _ in range(3)] == [True] * 3
    assert len(taken) == 3
    taken.clear()
    results = batch.iter_many(sources([small] * (batch.CHUNK_FILES + 5)))
    next(results)
    assert len(taken) == batch.CHUNK_FILES


def test_kept_errors_do_not_keep_the_failed_work_alive():
    # An ImageError's traceback holds normalise's frames, with every array of the
    # picture: 26 MB each at 1280 px, for as long as the list of results lives.
    blank = png(Image.new("L", (1280, 960), 200))
    for result in batch.load_many([blank, blank]):
        assert isinstance(result, ImageError) and str(result) == "no digit found"
        assert result.__traceback__ is None and result.__context__ is None


def test_classify_many_names_the_first_bad_image_before_reading_the_rest(tmp_path):
    import digitnet
    blank = tmp_path / "blank.png"
    Image.new("L", (28, 28), 255).save(blank)
    model = digitnet.load("default")
    with pytest.raises(ImageError, match=rf"^{blank}: no digit found$"):
        model.classify_many([blank, 12345])            # the second is never read
    with pytest.raises(TypeError):
        model.classify_many([png(draw_seven((28, 28))), 12345])


def test_the_stacked_max_and_min_are_pythons():
    # Out-of-range values overflow to inf and inf - inf is NaN: Python's max(a, nan) is
    # a, np.maximum's NaN. The stack must give what one picture at a time gave.
    from digitnet.normalise import _max, _min
    a, b = [1.0, np.nan, 2.0, 3.0], [np.nan, 1.0, 5.0, 0.0]
    np.testing.assert_array_equal(_max(np.array(a), np.array(b)), [max(x, y) for x, y in zip(a, b)])
    np.testing.assert_array_equal(_min(np.array(a), np.array(b)), [min(x, y) for x, y in zip(a, b)])
    assert not np.isnan(_max(np.array(a), np.array(b))[0])
