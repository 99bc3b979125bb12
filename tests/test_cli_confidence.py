"""Confidence (the margin threshold, --min-margin) and --steps, the picture of the pipeline."""

import json
import os

import numpy as np
import pytest
from helpers import proc, run, to_image
from PIL import Image

import digitnet
from digitnet.network import CONFIDENT_MARGIN


@pytest.fixture(scope="module")
def cases(tmp_path_factory, mnist_test):
    """Two PNGs: one the default model reads with a wide margin, one it hesitates over."""
    x, y = mnist_test
    net = digitnet.load("default")
    folder = tmp_path_factory.mktemp("confidence")
    paths = {}
    for i in range(3000):
        path = folder / f"{i}.png"
        to_image(x[i]).save(path)
        margin = net.classify(path).margin
        name = "sure" if margin > 0.95 else "unsure" if margin < 0.1 else None
        if name and name not in paths:
            paths[name] = path
        if len(paths) == 2:
            return paths
    raise AssertionError("no unsure digit among 3000")


def margins(path):
    d = json.loads(run("classify", path, "--json").stdout)
    return d["margin"], d["confident"]


def test_every_format_says_whether_an_answer_is_confident(cases):
    for name, expect in (("sure", True), ("unsure", False)):
        r = run("classify", cases[name], "--json")
        d = json.loads(r.stdout)
        assert d["confident"] is expect and (d["margin"] >= CONFIDENT_MARGIN) is expect
        assert d["runner_up"] != d["digit"]
        r = run("classify", cases[name], "--csv")
        assert r.stdout.splitlines()[1].split(",")[-1] == ("yes" if expect else "no")
        text = run("classify", cases[name]).stdout
        answer = [line for line in text.splitlines() if line.startswith("answer:")]
        assert len(answer) == 1 and answer[0].endswith("-- unsure") is (not expect)


def test_the_api_and_the_help_name_the_same_threshold():
    assert digitnet.CONFIDENT_MARGIN == CONFIDENT_MARGIN == 0.3
    assert f"below {CONFIDENT_MARGIN} (digitnet.CONFIDENT_MARGIN)" in " ".join(
        run("classify", "--help").stdout.split())


def test_min_margin_turns_unsure_answers_into_failures(cases):
    margin, _ = margins(cases["unsure"])
    r = run("classify", cases["sure"], cases["unsure"], cases["sure"], "-q",
            "--min-margin", "0.5")
    assert r.exit_code == 1
    assert r.stdout == f"{cases['sure']}\t{json.loads(run('classify', cases['sure'], '--json').stdout)['digit']}\n" * 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"digitnet: {cases['unsure']}: unsure: ")
    assert f"by {margin:.3f}, below --min-margin 0.5" in r.stderr
    # Nothing below the bar: exit 0; and the default (no --min-margin) never fails.
    assert run("classify", cases["sure"], "--min-margin", "0.5", "-q").exit_code == 0
    assert run("classify", cases["unsure"], "-q").exit_code == 0


@pytest.mark.parametrize("value", ["-0.1", "1.5", "nan", "x"])
def test_min_margin_must_be_a_number_from_0_to_1(cases, value):
    r = run("classify", cases["sure"], "--min-margin", value)
    assert r.exit_code == 2 and "--min-margin" in r.stderr and "Traceback" not in r.stderr


def test_steps_writes_one_picture_and_still_classifies(tmp_path, cases):
    out = tmp_path / "steps.png"
    r = run("classify", cases["sure"], "--steps", out, "-q")
    assert r.exit_code == 0 and r.stdout.strip().isdigit()
    assert r.stderr == f"wrote {out}\n"
    with Image.open(out) as im:
        assert im.format == "PNG" and im.width > 6 * 200 and im.height > 200
    assert os.listdir(tmp_path) == ["steps.png"]  # no temporary file left beside it


def test_steps_from_stdin_reads_it_once(tmp_path, cases):
    out = tmp_path / "steps.png"
    p = proc("classify", "-", "--steps", str(out), "--json", input=cases["sure"].read_bytes())
    assert p.returncode == 0 and json.loads(p.stdout)["file"] == "-"
    assert out.exists()


def test_steps_of_an_image_without_a_digit_shows_where_it_stopped(tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("L", (300, 200), 255).save(blank)
    out = tmp_path / "why.png"
    r = run("classify", blank, "--steps", out)
    assert r.exit_code == 1 and r.stderr == f"wrote {out}\ndigitnet: {blank}: no digit found\n"
    with Image.open(out) as im:
        # The image panel only: the pipeline stopped before there was ink to show.
        assert im.width < 2 * 260


def test_steps_keeps_an_old_picture_when_it_cannot_write(tmp_path, cases):
    out = tmp_path / "old.png"
    out.write_bytes(b"old picture")
    os.chmod(tmp_path, 0o500)
    try:
        r = run("classify", cases["sure"], "--steps", out)
    finally:
        os.chmod(tmp_path, 0o700)
    if os.geteuid() == 0:
        pytest.skip("root can write anywhere")
    assert r.exit_code == 1 and out.read_bytes() == b"old picture"
    assert r.stderr.count("\n") == 1 and "cannot write" in r.stderr


def test_steps_never_overwrites_the_image(tmp_path, cases):
    image = tmp_path / "digit.png"
    image.write_bytes(cases["sure"].read_bytes())
    r = run("classify", image, "--steps", image)
    assert r.exit_code == 2 and "would overwrite the image itself" in r.stderr
    assert image.read_bytes() == cases["sure"].read_bytes()


def test_steps_of_an_extreme_strip(tmp_path):
    strip = tmp_path / "strip.png"
    Image.new("L", (3000, 10), 255).save(strip)
    r = run("classify", strip, "--steps", tmp_path / "s.png")
    assert r.exit_code == 1 and "Traceback" not in r.stderr and "internal error" not in r.stderr


@pytest.mark.parametrize("args, message", [
    (["--raw"], "--steps shows the normalisation, which --raw skips"),
    (["EXTRA"], "--steps draws the steps for one image: give one FILE"),
    (["--steps-name", "steps.txt"], "give a file name ending in .png"),
])
def test_steps_usage_errors(tmp_path, cases, args, message):
    steps = tmp_path / "s.png"
    argv = ["classify", cases["sure"], "--steps", steps]
    if args == ["EXTRA"]:
        argv.insert(2, cases["unsure"])
    elif args[0] == "--steps-name":
        argv[-1] = tmp_path / args[1]
    else:
        argv += args
    r = run(*argv)
    assert r.exit_code == 2 and message in r.stderr
    assert not steps.exists()


def test_steps_picture_shows_the_surface_and_rulings(tmp_path):
    """A sheet on a desk, ruled: the picture has all six panels and the API's trace
    found a surface smaller than the photo and removed the rulings."""
    from digitnet import steps
    rng = np.random.default_rng(0)
    canvas = np.full((480, 640), 0.3, np.float32) + rng.normal(0, 0.02, (480, 640)).astype(np.float32)
    canvas[40:440, 120:520] = 0.95
    for y in range(70, 440, 30):
        canvas[y:y + 2, 120:520] = 0.75
    canvas[180:300, 300:312] = 0.05  # a 1
    t = steps.trace((np.clip(canvas, 0, 1) * 255).astype(np.uint8))
    assert t.error is None
    r0, r1, c0, c1 = t.steps["surface"].box
    assert 30 <= r0 <= 60 and 420 <= r1 <= 450 and 110 <= c0 <= 140 and 500 <= c1 <= 530
    assert t.steps["lines_removed"] is not t.steps["ink"]
    picture = steps.picture(t, "title")
    assert picture.width >= 6 * 240
