"""MNIST: reading IDX files, finding the data folder, and downloading the four files.

MNIST is by Y. LeCun, C. Cortes and C. J. C. Burges, licensed CC BY-SA 3.0. Its 70,000
28x28 greyscale digits are stored in the IDX format: a big-endian header -- two zero bytes,
a type code (0x08 = unsigned byte), the number of dimensions, then one uint32 per
dimension -- followed by the raw values. Files may be gzipped (as distributed) or not.

The data folder is, in order: ``--data DIR``; else ``$DIGITNET_DATA``; else a per-user
cache folder (``$XDG_CACHE_HOME/digitnet/mnist``, normally ``~/.cache/digitnet/mnist``).
The test set (t10k) also ships inside the package, so evaluation works with no download.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["DataError", "FILES", "SHA256", "read_idx", "load_split", "data_dir",
           "bundled_dir", "find_split", "download"]


class DataError(Exception):
    """A data file or folder that cannot be used; the message names the file and the fault."""


# The four files, under the names they have always had.
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
# Public mirrors, tried in order.
MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]

# An IDX header cannot describe more than this many bytes of data and still be MNIST-like;
# refusing early stops a hostile header from asking for terabytes.
MAX_IDX_BYTES = 1 << 31


def read_idx(path, expect_ndim=None):
    """Read one IDX file (gzipped or not) into a uint8 numpy array.

    Returns an array of shape (n,) for a label file (``expect_ndim=1``) or (n, rows, cols)
    for an image file (``expect_ndim=3``). Raises :class:`DataError` naming the file for a
    missing or unreadable file, a bad magic number, an unsupported type, or a size that
    disagrees with the header.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            f.seek(0)
            if head == b"\x1f\x8b":
                with gzip.open(f) as g:
                    raw = g.read(MAX_IDX_BYTES + 1024)
            else:
                raw = f.read(MAX_IDX_BYTES + 1024)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"{path}: cannot read ({_reason(e)})") from None
    if len(raw) < 4:
        raise DataError(f"{path}: not an IDX file (only {len(raw)} bytes)")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number 0x{raw[:4].hex()})")
    if dtype_code != 0x08:
        raise DataError(f"{path}: unsupported IDX value type 0x{dtype_code:02x} "
                        "(MNIST uses 0x08, unsigned bytes)")
    if expect_ndim is not None and ndim != expect_ndim:
        kind = "label" if expect_ndim == 1 else "image"
        raise DataError(f"{path}: expected an IDX {kind} file with {expect_ndim} "
                        f"dimension(s), header says {ndim} (magic 0x{raw[:4].hex()})")
    if ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    count = int(np.prod(dims, dtype=np.int64))
    body = len(raw) - 4 - 4 * ndim
    if count > MAX_IDX_BYTES:
        raise DataError(f"{path}: header claims {count} bytes of data, too large")
    if body < count:
        raise DataError(f"{path}: truncated: header says {'x'.join(map(str, dims))} "
                        f"({count} bytes), file holds {body}")
    if body > count:
        raise DataError(f"{path}: {body - count} unexpected bytes after the data")
    return np.frombuffer(raw, dtype=np.uint8, count=count, offset=4 + 4 * ndim).reshape(dims)


def load_split(folder, split="train"):
    """Images and labels of one MNIST split from a folder.

    Returns ``(images, labels)``: images float32 (n, 784) with brightness 0..1 (row-major
    28x28, light ink on dark), labels uint8 (n,) in 0..9. Accepts the files gzipped or
    not (``train-images-idx3-ubyte[.gz]``). Raises :class:`DataError` if anything is off.
    """
    img_name, lbl_name = FILES[split]
    img_path = _existing(Path(folder), img_name)
    lbl_path = _existing(Path(folder), lbl_name)
    images = read_idx(img_path, expect_ndim=3)
    labels = read_idx(lbl_path, expect_ndim=1)
    if images.shape[1:] != (28, 28):
        raise DataError(f"{img_path}: images are {images.shape[1]}x{images.shape[2]}, "
                        "expected 28x28")
    if len(images) != len(labels):
        raise DataError(f"{lbl_path}: {len(labels)} labels for {len(images)} images in "
                        f"{img_path.name}")
    if len(labels) and labels.max() > 9:
        raise DataError(f"{lbl_path}: label {int(labels.max())} is not a digit 0..9")
    x = images.reshape(len(images), 784).astype(np.float32)
    x /= np.float32(255)        # exactly as an image file's pixels are scaled (k / 255)
    return x, labels.copy()


def _existing(folder, gz_name):
    """The file ``gz_name`` in ``folder``, or its un-gzipped twin; DataError if neither."""
    for name in (gz_name, gz_name[:-3]):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"{folder / gz_name}: file not found (run `digitnet download` or "
                    "pass --data DIR)")


def data_dir(option=None):
    """The data folder: ``option`` if given, else $DIGITNET_DATA, else the user cache."""
    if option:
        return Path(option).expanduser()
    if os.environ.get("DIGITNET_DATA"):
        return Path(os.environ["DIGITNET_DATA"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "digitnet" / "mnist"


def bundled_dir():
    """The folder inside the installed package that holds the MNIST test set."""
    return Path(__file__).parent / "data"


def find_split(option=None, split="test"):
    """Load a split from the data folder; for the test split, fall back to the bundled copy.

    Returns ``(images, labels, folder_used)``. An explicitly named folder (``--data`` or
    $DIGITNET_DATA) is never silently replaced: if it lacks the files, that is an error.
    """
    folder = data_dir(option)
    explicit = bool(option) or bool(os.environ.get("DIGITNET_DATA"))
    if split == "test" and not explicit and not (folder / FILES["test"][0]).exists() \
            and not (folder / FILES["test"][0][:-3]).exists():
        folder = bundled_dir()
    if not folder.is_dir():
        raise DataError(f"{folder}: data folder not found (run `digitnet download` or pass "
                        "--data DIR)")
    x, y = load_split(folder, split)
    return x, y, folder


def sha256_file(path):
    """Hex SHA-256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(folder, mirrors=None, progress=None, timeout=30):
    """Fetch the four MNIST files into ``folder``, verifying each SHA-256.

    Files already present with the right hash are kept. Each download goes to a temporary
    file in the same folder and is renamed into place only once complete and verified, so
    an interrupted or corrupted transfer never leaves a partial file under the final name.
    Mirrors are tried in order. ``progress(name, status)`` is called with messages for the
    user. Returns the list of file paths. Raises :class:`DataError` if a file cannot be got.
    """
    import urllib.error
    import urllib.request

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"{folder}: cannot create data folder ({_reason(e)})") from None
    mirrors = list(mirrors or MIRRORS)
    say = progress or (lambda name, status: None)
    paths = []
    for name, digest in SHA256.items():
        target = folder / name
        if target.is_file() and sha256_file(target) == digest:
            say(name, "already present, checksum ok")
            paths.append(target)
            continue
        errors = []
        for base in mirrors:
            url = base.rstrip("/") + "/" + name
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
            try:
                mask = os.umask(0o022)
                os.umask(mask)
                os.fchmod(fd, 0o666 & ~mask)
                h = hashlib.sha256()
                with os.fdopen(fd, "wb") as out, \
                        urllib.request.urlopen(url, timeout=timeout) as response:
                    for chunk in iter(lambda: response.read(1 << 16), b""):
                        h.update(chunk)
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                if h.hexdigest() != digest:
                    errors.append(f"{url}: checksum mismatch")
                    continue
                os.replace(tmp, target)
                say(name, f"downloaded from {base}")
                paths.append(target)
                break
            except (urllib.error.URLError, OSError, ValueError) as e:
                errors.append(f"{url}: {_reason(e)}")
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        else:
            raise DataError(f"{target}: could not download ({'; '.join(errors)})")
    return paths


def _reason(e):
    """A short one-line reason from an exception."""
    if hasattr(e, "reason") and e.reason:
        return str(e.reason)
    return getattr(e, "strerror", None) or str(e) or type(e).__name__
