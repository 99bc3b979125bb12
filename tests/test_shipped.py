"""The shipped models: installed with the package, valid, and as accurate as promised."""

import json
import subprocess
from pathlib import Path

import pytest

from digitnet import weightfile
from digitnet.evaluation import evaluate
from helpers import DIGITNET


# name -> (layer sizes, accuracy bar on the 10,000 MNIST test images)
PROMISES = {"default": ([784, 16, 16, 10], 0.960), "wide": (None, 0.985)}


@pytest.mark.parametrize("name", sorted(PROMISES))
def test_shipped_model_meets_its_bar(name, mnist_test):
    sizes, bar = PROMISES[name]
    net, card = weightfile.load(name)
    assert card is not None, "shipped models come with a model card"
    if sizes:
        assert net.sizes == sizes
    report = evaluate(net, *mnist_test)
    assert report["n"] == 10000
    assert report["accuracy"] >= bar
    # The card's figure is the one `digitnet evaluate` measures, to the image.
    assert card["evaluation"]["correct"] == report["correct"]
    t = card["training"]
    assert "digitnet train " in t["command"] and "--seed" in t["command"]
    for key in ("epochs", "loss", "optimizer", "lr", "batch_size", "seed", "seconds",
                "digitnet_version", "data"):
        assert key in t, key


def test_evaluate_command_from_any_folder(tmp_path):
    r = subprocess.run([DIGITNET, "evaluate", "--json"], capture_output=True, text=True,
                       cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["n"] == 10000 and report["accuracy"] >= PROMISES["default"][1]


def test_bundled_example_is_classified(tmp_path):
    example = Path(weightfile.__file__).parent / "examples" / "photo-7.jpg"
    r = subprocess.run([DIGITNET, "classify", str(example), "-q"], capture_output=True,
                       text=True, cwd=tmp_path, timeout=60)
    assert r.returncode == 0 and r.stdout == "7\n", (r.stdout, r.stderr)
