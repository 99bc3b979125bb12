"""digitnet: the classic 784-16-16-10 sigmoid network for handwritten digits, made real.

A 28x28 image becomes 784 input activations (brightness 0..1). Every neuron of the next
layer takes a weighted sum of the previous layer's activations, adds its bias and squashes
the result with the sigmoid into 0..1 -- layer after layer, until 10 output neurons; the
brightest one is the answer.

The library in three lines::

    import digitnet
    model = digitnet.load("default")                 # or "wide", or a path to an .npz
    print(model.classify("digit.png").digit)         # a path, bytes, PIL image or array

Modules, each small:

- ``model``      the public API: :func:`load`, :class:`Model`, :class:`Result`
- ``network``    the network math: sigmoid, forward pass, backpropagation
- ``weightfile`` the ``.npz`` + ``.json`` weight file format, validated loading, saving
- ``decode``     any image file (or PIL image, or array) -> grayscale, with its safety limits
- ``normalise``  grayscale -> the network's 784 inputs, the way MNIST was made
- ``surface``    the writing surface in a photo, scan or screenshot (no desk, frame, bars)
- ``rulings``    removing ruled and squared paper's lines
- ``blobs``      the digit among specks and scratches; several digits detected
- ``morphology`` max/min filters and connected components on small arrays
- ``steps``      ``classify --steps``: one picture of what the normalisation did
- ``batch``      many files: worker processes, folder listing
- ``mnist``      reading IDX files, locating the data folder, downloading MNIST
- ``augment``    vectorised random distortions of image batches (training only)
- ``handwriting`` digits drawn by code as pen strokes, other writers' forms (training only)
- ``training``   mini-batch gradient descent: losses, optimisers, schedules
- ``evaluation`` accuracy, confusion matrix, per-digit precision and recall
- ``threads``    one BLAS thread for digitnet's matrix products, unless the user sets one
- ``inspection`` the numbers ``inspect-layer`` shows: layer views, contributions
- ``render``     terminal and PNG pictures of activations and weights
- ``explain``    gradient x input: which pixels pushed the answer up or down
- ``server``     ``digitnet draw``'s local web server and its HTTP API (page in ``page/``)
- ``errors``     the exceptions, and safe one-line messages
- ``files``      atomic file writing
"""

__version__ = "0.1.0"

__all__ = ["load", "Model", "Result", "CONFIDENT_MARGIN", "SeveralDigits", "DigitnetError",
           "ImageError", "WeightFileError", "DataError", "__version__"]

_API = {"load": "model", "Model": "model", "Result": "model", "CONFIDENT_MARGIN": "network",
        "SeveralDigits": "blobs", "DigitnetError": "errors",
        "ImageError": "errors", "WeightFileError": "errors", "DataError": "errors"}


def __getattr__(name):
    # The API is imported on first use (PEP 562): `digitnet --version` and `--help`, which
    # import this package for its version, need neither numpy nor Pillow.
    if name in _API:
        import importlib
        return getattr(importlib.import_module(f"{__name__}.{_API[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
